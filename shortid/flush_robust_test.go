package shortid_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/shortid"
)

// panicStore panics in the calls its fields arm: in the guarded Get of a
// Stats (a context marked by held, once more than statsTries reads were
// made) or in the next AddClicks.
type panicStore struct {
	*gateStore
	panicGet, panicAdd bool
	gets               int
	unapplied          map[shortid.ClickKey]int64 // AddClicks fails naming these
	unappliedTyped     bool                       // ... or with a typed nil *ClicksError
}

func (p *panicStore) Get(c context.Context, key string) (shortid.Record, error) {
	if c.Value(heldKey{}) != nil && p.panicGet {
		if p.gets++; p.gets == statsTries+1 {
			panic("store bug in Get")
		}
	}
	return p.gateStore.Get(c, key)
}

func (p *panicStore) AddClicks(c context.Context, clicks map[shortid.ClickKey]int64) error {
	switch {
	case p.panicAdd:
		p.panicAdd = false
		panic("store bug in AddClicks")
	case p.unapplied != nil:
		u := p.unapplied
		p.unapplied = nil
		return &shortid.ClicksError{Unapplied: u, Err: errors.New("partly down")}
	case p.unappliedTyped:
		p.unappliedTyped = false
		var ce *shortid.ClicksError
		return ce
	}
	return p.gateStore.AddClicks(c, clicks)
}

func newPanicShortener(t *testing.T) (*shortid.Shortener, *panicStore) {
	t.Helper()
	gs := &gateStore{Store: shortid.NewMemStore()}
	gs.get.init()
	gs.add.init()
	p := &panicStore{gateStore: gs}
	s, err := shortid.New(p, shortid.Options{Clock: newFakeClock(), FlushInterval: -1, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"hot", "cold"} {
		shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/" + a, Alias: a})
	}
	t.Cleanup(func() {
		if gs.get.armed.Load() {
			gs.get.open()
		}
		s.Close()
	})
	return s, p
}

// TestPanicInGuardedStatsReleasesItsHold makes the guarded read of a Stats
// panic in Store.Get (the HTTP server recovers such panics and goes on):
// the link must not stay held, which kept its clicks out of every later
// flush until Close.
func TestPanicInGuardedStatsReleasesItsHold(t *testing.T) {
	s, store := newPanicShortener(t)
	store.panicGet = true
	store.get.armed.Store(true)
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		s.Stats(held(ctx), "hot")
	}()
	for range statsTries {
		<-store.get.entered // a flush begins and ends during each unguarded read
		s.Resolve(ctx, "cold")
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		store.get.release <- struct{}{}
	}
	if r := promptly(t, recovered, "the panicking Stats"); r == nil {
		t.Fatal("the guarded read did not panic")
	}
	store.get.armed.Store(false)
	for range 2 {
		s.Resolve(ctx, "hot")
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := store.Get(ctx, "hot"); r.Clicks != 2 {
		t.Fatalf("stored clicks of hot after a flush = %d, want 2 (the panicked Stats left it held)", r.Clicks)
	}
}

// TestPanicInAddClicksEndsTheFlush makes AddClicks panic once: the flush
// must end with its clicks kept, or every later Flush, Stats and Close
// waited for it for ever. A typed nil *ClicksError is an error like any.
func TestPanicInAddClicksEndsTheFlush(t *testing.T) {
	s, store := newPanicShortener(t)
	s.Resolve(ctx, "hot")
	store.panicAdd = true
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("AddClicks did not panic")
			}
		}()
		s.Flush(ctx)
	}()
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.Flush(short); err != nil {
		t.Fatalf("Flush after a panicked one = %v", err)
	}
	if r, _ := store.Get(ctx, "hot"); r.Clicks != 1 {
		t.Fatalf("stored clicks of hot = %d, want 1", r.Clicks)
	}

	s.Resolve(ctx, "hot")
	store.unappliedTyped = true
	if err := s.Flush(ctx); err == nil {
		t.Fatal("Flush with a typed nil *ClicksError returned nil")
	} else {
		_ = err.Error() // a nil *ClicksError's Error panicked in callers' logs
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := store.Get(ctx, "hot"); r.Clicks != 2 {
		t.Fatalf("stored clicks of hot = %d, want 2", r.Clicks)
	}
}

// TestClicksErrorNamesOnlyWhatWasSent gives Flush a ClicksError naming a
// link it did not send and more clicks than it sent: only what was sent
// comes back to the buffer; a Store's error must not make clicks up.
func TestClicksErrorNamesOnlyWhatWasSent(t *testing.T) {
	s, store := newPanicShortener(t)
	s.Resolve(ctx, "hot")
	hot, _ := store.Get(ctx, "hot")
	cold, _ := store.Get(ctx, "cold")
	store.unapplied = map[shortid.ClickKey]int64{hot.Link.ClickKey(): 7, cold.Link.ClickKey(): 5}
	if err := s.Flush(ctx); err == nil {
		t.Fatal("Flush with a ClicksError returned nil")
	}
	for key, want := range map[string]int64{"hot": 1, "cold": 0} {
		if st, err := s.Stats(ctx, key); err != nil || st.Clicks != want {
			t.Fatalf("Stats(%s) = %d clicks, %v; want %d", key, st.Clicks, err, want)
		}
	}
}

// TestCloseContextBoundsAStuckBackgroundFlush closes a Shortener whose
// background flush is stuck in a Store call that ignores its context:
// CloseContext must return at its deadline, not wait for the flush.
func TestCloseContextBoundsAStuckBackgroundFlush(t *testing.T) {
	store := &gateStore{Store: shortid.NewMemStore()}
	store.get.init()
	store.add.init()
	s, err := shortid.New(store, shortid.Options{Clock: newFakeClock(), FlushInterval: 5 * time.Millisecond, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	key := shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/x"}).Key
	store.add.armed.Store(true)
	s.Resolve(ctx, key)
	<-store.add.entered // the background flush is stuck
	defer store.add.open()
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- s.CloseContext(short) }()
	if err := promptly(t, closed, "CloseContext during a stuck background flush"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CloseContext = %v, want DeadlineExceeded", err)
	}
}

// TestCloseContextWithDoneContextFlushes closes with a context that has
// already ended and no background goroutine in a Store call: the final
// flush must still run over a Store that does not look at its context
// (the wait for the background goroutines had given up at once, skipping
// it, whenever the select picked the ended context first).
func TestCloseContextWithDoneContextFlushes(t *testing.T) {
	for i := range 50 {
		store := shortid.NewMemStore()
		s, err := shortid.New(store, shortid.Options{FlushInterval: -1, SweepInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		key := shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/x"}).Key
		s.Resolve(ctx, key)
		done, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.CloseContext(done); err != nil {
			t.Fatalf("run %d: CloseContext with an ended context = %v, want nil", i, err)
		}
		if r, _ := store.Get(ctx, key); r.Clicks != 1 {
			t.Fatalf("run %d: stored clicks = %d, want 1", i, r.Clicks)
		}
	}
}
