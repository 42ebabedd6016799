package shortid_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/shortid"
)

// countingStore counts Gets and can hold one Get after it read, so a test
// can run a write in the middle of a cache fill.
type countingStore struct {
	shortid.Store
	gets    atomic.Int64
	holdGet chan chan struct{} // when set, Get sends a release channel and waits on it
}

func (c *countingStore) Get(ctx context.Context, key string) (shortid.Record, error) {
	c.gets.Add(1)
	rec, err := c.Store.Get(ctx, key)
	if c.holdGet != nil {
		release := make(chan struct{})
		c.holdGet <- release
		<-release
	}
	return rec, err
}

func TestCachedStoreHitsAndBound(t *testing.T) {
	back := &countingStore{Store: shortid.NewMemStore()}
	c := shortid.NewCachedStore(back, 100)
	for i := range 300 {
		c.Create(ctx, shortid.Link{Key: fmt.Sprintf("k%d", i), URL: "https://example.com/"}, false)
	}
	for range 3 {
		if _, err := c.Get(ctx, "k1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := back.gets.Load(); n != 1 {
		t.Fatalf("3 Gets of one key reached the backend %d times, want 1", n)
	}
	for i := range 300 {
		c.Get(ctx, fmt.Sprintf("k%d", i))
	}
	if n := c.Len(); n > 100 || n < 90 {
		t.Fatalf("cache holds %d records, want about 100 and at most 100", n)
	}
	// The most recent keys are cached, the oldest are not.
	before := back.gets.Load()
	c.Get(ctx, "k299")
	if back.gets.Load() != before {
		t.Fatal("the most recently used key was not cached")
	}
	c.Get(ctx, "k0")
	if back.gets.Load() != before+1 {
		t.Fatal("the least recently used key was still cached")
	}
}

func TestCachedStoreInvalidates(t *testing.T) {
	back := &countingStore{Store: shortid.NewMemStore()}
	c := shortid.NewCachedStore(back, 10)
	c.Create(ctx, shortid.Link{Key: "abc", URL: "https://example.com/", MaxVisits: 2}, false)
	c.Get(ctx, "abc")
	c.AddClicks(ctx, map[shortid.ClickKey]int64{{Key: "abc"}: 4})
	if r, _ := c.Get(ctx, "abc"); r.Clicks != 4 {
		t.Fatalf("Clicks after AddClicks = %d, want 4", r.Clicks)
	}
	c.Visit(ctx, "abc", base)
	if r, _ := c.Get(ctx, "abc"); r.Visits != 1 {
		t.Fatalf("Visits after Visit = %d, want 1", r.Visits)
	}
	if err := c.Delete(ctx, "abc"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "abc"); !errors.Is(err, shortid.ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}
}

// addHookStore runs hook inside AddClicks, after the backend applied the
// counts and before the wrapper sees the call return.
type addHookStore struct {
	shortid.Store
	hook func()
}

func (a *addHookStore) AddClicks(ctx context.Context, clicks map[shortid.ClickKey]int64) error {
	err := a.Store.AddClicks(ctx, clicks)
	if a.hook != nil {
		a.hook()
	}
	return err
}

// TestCachedStoreAddClicksFillRace fills the cache between the backend's
// add and the wrapper's own bookkeeping: the clicks must be counted once.
func TestCachedStoreAddClicksFillRace(t *testing.T) {
	back := &addHookStore{Store: shortid.NewMemStore()}
	c := shortid.NewCachedStore(back, 10)
	c.Create(ctx, shortid.Link{Key: "abc", URL: "https://example.com/"}, false)
	back.hook = func() {
		if r, err := c.Get(ctx, "abc"); err != nil || r.Clicks != 5 {
			t.Errorf("Get inside AddClicks = %+v, %v; want 5 clicks", r, err)
		}
	}
	if err := c.AddClicks(ctx, map[shortid.ClickKey]int64{{Key: "abc"}: 5}); err != nil {
		t.Fatal(err)
	}
	back.hook = nil
	if r, err := c.Get(ctx, "abc"); err != nil || r.Clicks != 5 {
		t.Fatalf("Get after AddClicks = %+v, %v; want 5 clicks, counted once", r, err)
	}
}

// TestCachedStoreFillRace holds a cache miss between its backend read and
// its fill, writes the key meanwhile, and checks that the older record is
// not cached.
func TestCachedStoreFillRace(t *testing.T) {
	for _, w := range []struct {
		name  string
		write func(s shortid.Store) error
		check func(r shortid.Record, err error) bool
	}{
		{"Delete",
			func(s shortid.Store) error { return s.Delete(ctx, "abc") },
			func(_ shortid.Record, err error) bool { return errors.Is(err, shortid.ErrNotFound) }},
		{"AddClicks",
			func(s shortid.Store) error { return s.AddClicks(ctx, map[shortid.ClickKey]int64{{Key: "abc"}: 3}) },
			func(r shortid.Record, err error) bool { return err == nil && r.Clicks == 3 }},
	} {
		t.Run(w.name, func(t *testing.T) {
			back := &countingStore{Store: shortid.NewMemStore()}
			c := shortid.NewCachedStore(back, 10)
			c.Create(ctx, shortid.Link{Key: "abc", URL: "https://example.com/"}, false)
			back.holdGet = make(chan chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				if _, err := c.Get(ctx, "abc"); err != nil {
					t.Errorf("racing Get: %v", err)
				}
			})
			release := <-back.holdGet // the Get has read the record
			back.holdGet = nil
			if err := w.write(c); err != nil {
				t.Fatal(err)
			}
			close(release)
			wg.Wait()
			if r, err := c.Get(ctx, "abc"); !w.check(r, err) {
				t.Fatalf("Get after a %s that raced with a fill = %+v, %v", w.name, r, err)
			}
		})
	}
}

func TestShardedStoreSpreadsAndIsConsistent(t *testing.T) {
	mk := func(n int) (*shortid.ShardedStore, []*shortid.MemStore) {
		mems := make([]*shortid.MemStore, n)
		shards := make([]shortid.Store, n)
		for i := range shards {
			mems[i] = shortid.NewMemStore()
			shards[i] = mems[i]
		}
		return shortid.NewShardedStore(shards), mems
	}
	s4, mems := mk(4)
	s5, _ := mk(5)
	const n = 4000
	perShard := make([]int, 4)
	moved := 0
	for i := range n {
		key := fmt.Sprintf("key%d", i)
		s4.Create(ctx, shortid.Link{Key: key, URL: "https://example.com/"}, false)
		a, b := s4.ShardOf(key), s5.ShardOf(key)
		perShard[a]++
		if a != b {
			moved++
			if b != 4 {
				t.Fatalf("key %q moved from shard %d to %d, not to the new shard", key, a, b)
			}
		}
	}
	for i, c := range perShard {
		if c < n/4-n/20 || c > n/4+n/20 {
			t.Errorf("shard %d holds %d of %d keys, want about %d", i, c, n, n/4)
		}
		if _, err := mems[i].Get(ctx, fmt.Sprintf("key%d", 0)); (err == nil) != (s4.ShardOf("key0") == i) {
			t.Errorf("key0 is on the wrong shard")
		}
	}
	if moved < n/5-n/25 || moved > n/5+n/25 {
		t.Errorf("growing to 5 shards moved %d of %d keys, want about %d", moved, n, n/5)
	}
}

func TestShardedStoreRepairsStalePointer(t *testing.T) {
	mems := []*shortid.MemStore{shortid.NewMemStore(), shortid.NewMemStore(), shortid.NewMemStore()}
	s := shortid.NewShardedStore([]shortid.Store{mems[0], mems[1], mems[2]})
	const u = "https://example.com/x"
	first, err := s.Create(ctx, shortid.Link{Key: "first", URL: u}, true)
	if err != nil {
		t.Fatal(err)
	}
	// A crash after deleting the link but before deleting its pointer.
	if err := mems[s.ShardOf(first.Key)].Delete(ctx, first.Key); err != nil {
		t.Fatal(err)
	}
	got, err := s.Create(ctx, shortid.Link{Key: "second", URL: u}, true)
	if err != nil || got.Key != "second" {
		t.Fatalf("dedup Create over a stale pointer = %+v, %v; want second", got, err)
	}
	if again, _ := s.Create(ctx, shortid.Link{Key: "third", URL: u}, true); again.Key != "second" {
		t.Fatalf("dedup Create after repair = %q, want second", again.Key)
	}
	// Pointer keys are not reachable through the sharded store.
	for _, key := range []string{"\x00dedup:second", "\x00"} {
		if _, err := s.Get(ctx, key); !errors.Is(err, shortid.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", key, err)
		}
		if _, err := s.Create(ctx, shortid.Link{Key: key, URL: u}, false); !errors.Is(err, shortid.ErrExists) {
			t.Errorf("Create(%q) = %v, want ErrExists", key, err)
		}
	}
}

// TestShardedStoreStalePointerToReusedKey checks that a dedup pointer
// left by a crash is stale once its key holds another link for the same
// URL (here a custom alias with a TTL, created in the same instant): a
// plain request used to be handed that link, and after its TTL a link
// that no longer resolved.
func TestShardedStoreStalePointerToReusedKey(t *testing.T) {
	mems := []*shortid.MemStore{shortid.NewMemStore(), shortid.NewMemStore(), shortid.NewMemStore()}
	st := shortid.NewShardedStore([]shortid.Store{mems[0], mems[1], mems[2]})
	clock := newFakeClock()
	s, err := shortid.New(st, shortid.Options{Clock: clock, FlushInterval: -1, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const u = "https://example.com/x"
	plain, err := s.Shorten(ctx, shortid.ShortenRequest{URL: u})
	if err != nil {
		t.Fatal(err)
	}
	// A crash after deleting the link but before deleting its pointer;
	// then the freed key is taken as an alias for the same URL.
	if err := mems[st.ShardOf(plain.Key)].Delete(ctx, plain.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Shorten(ctx, shortid.ShortenRequest{URL: u, Alias: plain.Key, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	got, created, err := s.ShortenCreated(ctx, shortid.ShortenRequest{URL: u})
	if err != nil || !created || got.Alias || !got.ExpiresAt.IsZero() || got.Key == plain.Key {
		t.Fatalf("plain Shorten = %+v, created %v, %v; want a new plain link", got, created, err)
	}
	clock.Advance(2 * time.Hour)
	again, err := s.Shorten(ctx, shortid.ShortenRequest{URL: u})
	if err != nil || again.Key != got.Key {
		t.Fatalf("plain Shorten after the alias expired = %+v, %v; want %q", again, err, got.Key)
	}
	if _, err := s.Resolve(ctx, again.Key); err != nil {
		t.Fatalf("Resolve(%q) = %v", again.Key, err)
	}
}

// TestShortenerOnWrappers runs the Shortener's dedup and alias races on a
// sharded store of cached shards.
func TestShortenerOnWrappers(t *testing.T) {
	shards := make([]shortid.Store, 4)
	for i := range shards {
		shards[i] = shortid.NewCachedStore(shortid.NewMemStore(), 64)
	}
	s, err := shortid.New(shortid.NewShardedStore(shards), shortid.Options{FlushInterval: -1, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	const g = 8
	keys := make([]string, g)
	var aliasWins atomic.Int32
	var wg sync.WaitGroup
	for i := range g {
		wg.Go(func() {
			l, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/same"})
			if err != nil {
				t.Errorf("Shorten: %v", err)
			}
			keys[i] = l.Key
			if _, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/", Alias: "race"}); err == nil {
				aliasWins.Add(1)
			}
			for range 10 {
				if _, err := s.Resolve(ctx, l.Key); err != nil {
					t.Errorf("Resolve: %v", err)
				}
			}
		})
	}
	wg.Wait()
	for _, k := range keys {
		if k != keys[0] {
			t.Fatalf("keys %v, want one", keys)
		}
	}
	if aliasWins.Load() != 1 {
		t.Fatalf("%d alias winners, want 1", aliasWins.Load())
	}
	if st, err := s.Stats(ctx, keys[0]); err != nil || st.Clicks != g*10 {
		t.Fatalf("Stats = %+v, %v; want %d clicks", st, err, g*10)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// churnStore is a shard on which every deduplicated Create first finds a
// new dedup entry for its URL, left by a link that is already gone: the
// entry a ShardedStore is trying to claim keeps changing under it.
type churnStore struct {
	shortid.Store
	n atomic.Int64
}

func (c *churnStore) Create(ctx context.Context, l shortid.Link, dedup bool) (shortid.Link, error) {
	if dedup {
		ghost := l
		ghost.Key = fmt.Sprintf("\x00dedup:ghost%d", c.n.Add(1))
		if _, err := c.Store.Create(ctx, ghost, true); err != nil {
			return shortid.Link{}, err
		}
	}
	return c.Store.Create(ctx, l, dedup)
}

// TestShardedStoreContended checks that a ShardedStore that cannot claim
// a URL's dedup entry returns ErrContended, naming the URL, and leaves no
// link behind; and that Shorten passes it on.
func TestShardedStoreContended(t *testing.T) {
	st := shortid.NewShardedStore([]shortid.Store{
		&churnStore{Store: shortid.NewMemStore()}, &churnStore{Store: shortid.NewMemStore()},
	})
	const u = "https://example.com/churn"
	_, err := st.Create(ctx, shortid.Link{Key: "abc", URL: u}, true)
	if !errors.Is(err, shortid.ErrContended) || !strings.Contains(err.Error(), u) {
		t.Fatalf("Create under churn = %v, want ErrContended naming %q", err, u)
	}
	if _, err := st.Get(ctx, "abc"); !errors.Is(err, shortid.ErrNotFound) {
		t.Fatalf("Get after a contended Create = %v, want ErrNotFound", err)
	}
	s, err := shortid.New(st, shortid.Options{FlushInterval: -1, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Shorten(ctx, shortid.ShortenRequest{URL: u}); !errors.Is(err, shortid.ErrContended) {
		t.Fatalf("Shorten under churn = %v, want ErrContended", err)
	}
}

// TestShardedStorePartialFlushCountsOnce checks that a flush that one
// shard of a ShardedStore refuses counts the clicks of the other shards
// once: the Shortener used to put the whole batch back, and the next
// flush added the clicks the good shard had taken a second time.
func TestShardedStorePartialFlushCountsOnce(t *testing.T) {
	bad := &flakyStore{Store: shortid.NewMemStore()}
	st := shortid.NewShardedStore([]shortid.Store{shortid.NewMemStore(), bad})
	s, err := shortid.New(st, shortid.Options{FlushInterval: -1, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Keys come from a random secret: shorten until both shards hold some
	// (eight links all landed on one shard once in 128 runs).
	var links []shortid.Link
	shards := map[int]int{}
	for i := 0; len(links) < 8 || shards[0] == 0 || shards[1] == 0; i++ {
		l := shorten(t, s, shortid.ShortenRequest{URL: fmt.Sprintf("https://example.com/%d", i)})
		links = append(links, l)
		shards[st.ShardOf(l.Key)]++
	}
	for _, l := range links {
		for range 3 {
			if _, err := s.Resolve(ctx, l.Key); err != nil {
				t.Fatal(err)
			}
		}
	}
	bad.fail.Store(true)
	if err := s.Flush(ctx); err == nil {
		t.Fatal("Flush with a failing shard succeeded")
	}
	bad.fail.Store(false)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if r, err := st.Get(ctx, l.Key); err != nil || r.Clicks != 3 {
			t.Errorf("stored clicks of %q (shard %d) = %d, %v; want 3", l.Key, st.ShardOf(l.Key), r.Clicks, err)
		}
		if stats, err := s.Stats(ctx, l.Key); err != nil || stats.Clicks != 3 {
			t.Errorf("Stats(%q).Clicks = %d, %v; want 3", l.Key, stats.Clicks, err)
		}
	}
}
