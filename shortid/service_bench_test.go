package shortid_test

import (
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/blueprint-go/blueprint/shortid"
)

// benchShortener returns a Shortener with its background flusher on (as in
// production) and n plain links, and their keys.
func benchShortener(b *testing.B, store shortid.Store, n int) (*shortid.Shortener, []string) {
	b.Helper()
	s, err := shortid.New(store, shortid.Options{BaseURL: "https://sho.rt"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	keys := make([]string, n)
	for i := range keys {
		l, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/articles/" + strconv.Itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = l.Key
	}
	return s, keys
}

func shardedMem(n int) shortid.Store {
	shards := make([]shortid.Store, n)
	for i := range shards {
		shards[i] = shortid.NewMemStore()
	}
	return shortid.NewShardedStore(shards)
}

// BenchmarkResolve resolves existing links from all cores (RunParallel),
// click counting included. Target: <= 200 ns/op on 2 cores.
func BenchmarkResolve(b *testing.B) {
	for _, bc := range []struct {
		name  string
		store func() shortid.Store
	}{
		{"MemStore", func() shortid.Store { return shortid.NewMemStore() }},
		{"Cached", func() shortid.Store { return shortid.NewCachedStore(shortid.NewMemStore(), 1<<17) }},
		{"Sharded4", func() shortid.Store { return shardedMem(4) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s, keys := benchShortener(b, bc.store(), benchLinks)
			var seed atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := seed.Add(7919) // each goroutine walks the keys from elsewhere
				for pb.Next() {
					i++
					if _, err := s.Resolve(ctx, keys[i%uint64(len(keys))]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkResolveHotKey resolves one link from all cores, as when a link
// goes viral: the click counter must not serialize them. Target: <= 200
// ns/op on 2 cores, no allocation.
func BenchmarkResolveHotKey(b *testing.B) {
	s, keys := benchShortener(b, shortid.NewMemStore(), 1)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Resolve(ctx, keys[0]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkResolveSerial is Resolve on one goroutine.
func BenchmarkResolveSerial(b *testing.B) {
	s, keys := benchShortener(b, shortid.NewMemStore(), benchLinks)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := s.Resolve(ctx, keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkShorten creates links to distinct URLs: validation, a key from
// the default Sequence and a MemStore create with its dedup entry. Building
// the URL string is part of the loop. Target: <= 1 µs/op.
func BenchmarkShorten(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		s, _ := benchShortener(b, shortid.NewMemStore(), 0)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/articles/" + strconv.Itoa(i)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("presized", func(b *testing.B) {
		s, _ := benchShortener(b, shortid.NewMemStoreSize(1<<21), 0)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/articles/" + strconv.Itoa(i)}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		s, _ := benchShortener(b, shortid.NewMemStore(), 0)
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				u := "https://example.com/articles/" + strconv.FormatInt(next.Add(1), 10)
				if _, err := s.Shorten(ctx, shortid.ShortenRequest{URL: u}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("dedup", func(b *testing.B) {
		s, _ := benchShortener(b, shortid.NewMemStore(), 1)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/articles/0"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMemStoreMemory stores 1M plain links (100k with -short) through a
// Shortener and reports the heap they take beyond the URL bytes, per link
// (B/link): key, record, map slots, dedup entry.
func BenchmarkMemStoreMemory(b *testing.B) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	for b.Loop() {
		b.StopTimer()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		store := shortid.NewMemStore()
		s, err := shortid.New(store, shortid.Options{FlushInterval: -1, SweepInterval: -1})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		urlBytes := 0
		for i := range n {
			l, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/articles/" + strconv.Itoa(i)})
			if err != nil {
				b.Fatal(err)
			}
			urlBytes += len(l.URL)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)-int64(urlBytes))/float64(n), "B/link")
		b.ReportMetric(float64(urlBytes)/float64(n), "URL-B/link")
		runtime.KeepAlive(store)
		s.Close()
		b.StartTimer()
	}
}

// benchLinks is the number of links the Resolve benchmarks spread their
// lookups over: a hot set that fits in the L2/L3 caches, as the popular
// links of a real shortener do (link popularity is heavy-tailed).
const benchLinks = 1 << 12
