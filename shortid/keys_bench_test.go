package shortid_test

import (
	"context"
	"testing"

	"github.com/blueprint-go/blueprint/shortid"
)

// BenchmarkSequenceKey measures AppendKey: one atomic add, the 8-round
// permutation and the digits, with a lease per 1024 codes.
func BenchmarkSequenceKey(b *testing.B) {
	s := newSequence(b, new(shortid.MemCounter), shortid.SequenceOptions{Keys: []shortid.Key{testKey(1, 0, "bench")}})
	ctx := context.Background()
	buf := make([]byte, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = s.AppendKey(ctx, buf[:0])
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSequenceKeyParallel is AppendKey from GOMAXPROCS goroutines on one
// Sequence.
func BenchmarkSequenceKeyParallel(b *testing.B) {
	s := newSequence(b, new(shortid.MemCounter), shortid.SequenceOptions{Keys: []shortid.Key{testKey(1, 0, "bench")}})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		buf := make([]byte, 0, 16)
		for pb.Next() {
			var err error
			buf, err = s.AppendKey(ctx, buf[:0])
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSequenceReverse measures Reverse of a 7-character code.
func BenchmarkSequenceReverse(b *testing.B) {
	s := newSequence(b, new(shortid.MemCounter), shortid.SequenceOptions{Keys: []shortid.Key{testKey(1, 0, "bench")}})
	code, err := s.AppendCode(nil, 123456789)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Reverse(string(code)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRandomKey measures Random.AppendKey on crypto/rand, with a read
// of 512 bytes per about 70 codes.
func BenchmarkRandomKey(b *testing.B) {
	r, err := shortid.NewRandom(shortid.RandomOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	buf := make([]byte, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		buf, err = r.AppendKey(ctx, buf[:0])
		if err != nil {
			b.Fatal(err)
		}
	}
}
