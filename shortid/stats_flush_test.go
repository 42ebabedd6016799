package shortid_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/shortid"
)

// heldKey marks the contexts whose Get calls a gateStore holds, so that
// Resolve goes on while a Stats is held.
type heldKey struct{}

func held(ctx context.Context) context.Context { return context.WithValue(ctx, heldKey{}, true) }

// gateStore holds its Get calls (those whose context is marked by held) and
// its AddClicks calls while their gate is armed, each until the test
// releases it. A held call ignores its context, as a Store stuck in I/O
// may.
type gateStore struct {
	shortid.Store
	get, add gate
	// afterHeldGet, if set before the Shortener runs, is called after each
	// Get of a held context, with the number of such Gets so far.
	afterHeldGet func(n int)
	heldGets     atomic.Int64
}

type gate struct {
	armed   atomic.Bool
	entered chan struct{} // one value per held call, when it is held
	release chan struct{} // one value lets one held call go on
}

func (g *gate) init() {
	g.entered = make(chan struct{}, 8)
	g.release = make(chan struct{})
}

func (g *gate) pass() {
	if g.armed.Load() {
		g.entered <- struct{}{}
		<-g.release
	}
}

// open lets every held call and every later one through.
func (g *gate) open() {
	g.armed.Store(false)
	close(g.release)
}

func (g *gateStore) Get(ctx context.Context, key string) (shortid.Record, error) {
	if ctx.Value(heldKey{}) == nil {
		return g.Store.Get(ctx, key)
	}
	g.get.pass()
	r, err := g.Store.Get(ctx, key)
	if n := g.heldGets.Add(1); g.afterHeldGet != nil {
		g.afterHeldGet(int(n))
	}
	return r, err
}

func (g *gateStore) AddClicks(ctx context.Context, clicks map[shortid.ClickKey]int64) error {
	g.add.pass()
	return g.Store.AddClicks(ctx, clicks)
}

// newGatedShortener returns a Shortener without background goroutines over
// a gateStore holding the links "hot" and "cold". The gates open when the
// test ends, so that a failed test leaves nothing blocked.
func newGatedShortener(t *testing.T) (*shortid.Shortener, *gateStore) {
	t.Helper()
	store := &gateStore{Store: shortid.NewMemStore()}
	store.get.init()
	store.add.init()
	s, err := shortid.New(store, shortid.Options{Clock: newFakeClock(), FlushInterval: -1, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"hot", "cold"} {
		shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/" + a, Alias: a})
	}
	t.Cleanup(func() {
		store.get.open()
		store.add.open()
	})
	return s, store
}

// statsTries is how many times Stats reads a link without guarding it from
// flushes: the tests below make that many reads lose their race.
const statsTries = 3

// promptly returns what c delivers, or fails the test if that takes more
// than five seconds: the calls it waits for block on nothing but their
// context, so they return at once.
func promptly[T any](t *testing.T, c <-chan T, call string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not return within 5s", call)
		panic("unreachable")
	}
}

type statsResult struct {
	st  shortid.Stats
	err error
}

// startStats calls s.Stats(ctx, key) in a goroutine and returns the channel
// of its result.
func startStats(s *shortid.Shortener, ctx context.Context, key string) <-chan statsResult {
	c := make(chan statsResult, 1)
	go func() {
		st, err := s.Stats(ctx, key)
		c <- statsResult{st, err}
	}()
	return c
}

// TestStatsGivesUpWhileAFlushIsStuck makes a Stats of "hot" lose its
// unguarded reads to flushes, the last to one that is stuck in AddClicks
// with clicks of "hot", and cancels it: it must return context.Canceled at
// once rather than wait for the stuck flush. A CloseContext meanwhile
// returns at its deadline.
func TestStatsGivesUpWhileAFlushIsStuck(t *testing.T) {
	s, store := newGatedShortener(t)
	statsCtx, cancel := context.WithCancel(held(ctx))
	defer cancel()
	store.get.armed.Store(true)
	res := startStats(s, statsCtx, "hot")

	for range statsTries - 1 {
		<-store.get.entered // a flush begins and ends during the read
		s.Resolve(ctx, "cold")
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		store.get.release <- struct{}{}
	}

	<-store.get.entered // the last unguarded read: a flush of "hot" begins and sticks
	s.Resolve(ctx, "hot")
	s.Resolve(ctx, "hot")
	store.add.armed.Store(true)
	flushed := make(chan error, 1)
	go func() { flushed <- s.Flush(ctx) }()
	<-store.add.entered
	store.get.armed.Store(false)
	store.get.release <- struct{}{}
	cancel()

	if r := promptly(t, res, "Stats with a canceled context, during a stuck flush"); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Stats(hot) = %+v, %v; want context.Canceled", r.st, r.err)
	}

	short, cancelClose := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancelClose()
	closed := make(chan error, 1)
	go func() { closed <- s.CloseContext(short) }()
	if err := promptly(t, closed, "CloseContext during a stuck flush"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CloseContext during a stuck flush = %v, want DeadlineExceeded", err)
	}

	store.add.armed.Store(false)
	store.add.release <- struct{}{}
	if err := <-flushed; err != nil {
		t.Fatalf("the stuck Flush: %v", err)
	}
	if r, _ := store.Get(ctx, "hot"); r.Clicks != 2 {
		t.Fatalf("stored clicks of hot = %d, want 2", r.Clicks)
	}
}

// TestSlowStatsHoldsUpNoFlush makes a Stats of "hot" lose its unguarded
// reads to flushes and holds its guarded read in Store.Get: Flush, another
// Stats and CloseContext must all go on meanwhile, and the counts stay
// exact.
func TestSlowStatsHoldsUpNoFlush(t *testing.T) {
	s, store := newGatedShortener(t)
	store.get.armed.Store(true)
	res := startStats(s, held(ctx), "hot")
	for range statsTries {
		<-store.get.entered // a flush with clicks of both links begins and ends during the read
		s.Resolve(ctx, "hot")
		s.Resolve(ctx, "cold")
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		store.get.release <- struct{}{}
	}
	<-store.get.entered // the guarded read, held

	s.Resolve(ctx, "hot")
	s.Resolve(ctx, "cold")
	flushed := make(chan error, 1)
	go func() { flushed <- s.Flush(ctx) }()
	if err := promptly(t, flushed, "Flush during a slow Stats"); err != nil {
		t.Fatalf("Flush during a slow Stats: %v", err)
	}
	if r, _ := store.Get(ctx, "cold"); r.Clicks != statsTries+1 {
		t.Fatalf("stored clicks of cold after the Flush = %d, want %d", r.Clicks, statsTries+1)
	}
	if st, err := s.Stats(ctx, "hot"); err != nil || st.Clicks != statsTries+1 {
		t.Fatalf("another Stats(hot) during a slow one = %+v, %v; want %d clicks", st, err, statsTries+1)
	}

	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- s.CloseContext(short) }()
	if err := promptly(t, closed, "CloseContext during a slow Stats"); err != nil {
		t.Fatalf("CloseContext during a slow Stats: %v", err)
	}
	if r, _ := store.Get(ctx, "hot"); r.Clicks != statsTries+1 {
		t.Fatalf("stored clicks of hot after Close = %d, want %d", r.Clicks, statsTries+1)
	}

	store.get.armed.Store(false)
	store.get.release <- struct{}{}
	if r := promptly(t, res, "the slow Stats"); !errors.Is(r.err, shortid.ErrClosed) && r.st.Clicks != statsTries+1 {
		t.Fatalf("the slow Stats(hot), racing Close = %+v, %v; want %d clicks or ErrClosed", r.st, r.err, statsTries+1)
	}
}

// TestGuardedStatsOfARecreatedLink deletes "hot" and creates it anew
// while a Stats of it is on its guarded read, and resolves the new link
// twice, with or without a flush after: the Stats must find the new link
// and count its two clicks once, whether they were flushed or buffered.
func TestGuardedStatsOfARecreatedLink(t *testing.T) {
	for _, flush := range []bool{false, true} {
		t.Run(map[bool]string{false: "buffered", true: "flushed"}[flush], func(t *testing.T) {
			store := &gateStore{Store: shortid.NewMemStore()}
			store.get.init()
			store.add.init()
			clock := newFakeClock()
			s, err := shortid.New(store, shortid.Options{Clock: clock, FlushInterval: -1, SweepInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if store.get.armed.Load() {
					store.get.open()
				}
				s.Close()
			})
			req := shortid.ShortenRequest{URL: "https://example.com/hot", Alias: "hot"}
			shorten(t, s, req)
			shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/cold", Alias: "cold"})
			store.get.armed.Store(true)
			res := startStats(s, held(ctx), "hot")
			for range statsTries {
				<-store.get.entered // a flush begins and ends during the read
				s.Resolve(ctx, "cold")
				if err := s.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				store.get.release <- struct{}{}
			}
			<-store.get.entered // the guarded read, held

			if err := s.Delete(ctx, "hot"); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Second)
			renewed := shorten(t, s, req)
			for range 2 {
				if _, err := s.Resolve(ctx, "hot"); err != nil {
					t.Fatal(err)
				}
			}
			if flush {
				flushed := make(chan error, 1)
				go func() { flushed <- s.Flush(ctx) }()
				if err := promptly(t, flushed, "Flush during a guarded Stats"); err != nil {
					t.Fatal(err)
				}
			}
			store.get.armed.Store(false)
			store.get.release <- struct{}{}
			r := promptly(t, res, "the guarded Stats")
			if r.err != nil || r.st.Clicks != 2 || !r.st.Link.CreatedAt.Equal(renewed.CreatedAt) {
				t.Fatalf("guarded Stats(hot) of the renewed link = %+v, %v; want it with 2 clicks", r.st, r.err)
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if rec, _ := store.Get(ctx, "hot"); rec.Clicks != 2 {
				t.Fatalf("stored clicks of the renewed hot = %d, want 2", rec.Clicks)
			}
		})
	}
}

// TestGuardedStatsDuringAFlushOfItsLink makes a Stats of "hot" begin its
// guarded read while a flush that drained hot's clicks before the hold is
// stuck in AddClicks, and lets the flush go on only once the guarded Get
// has read the Store without them: the Stats must wait for that flush and
// read again rather than miss them.
func TestGuardedStatsDuringAFlushOfItsLink(t *testing.T) {
	s, store := newGatedShortener(t)
	guarded := make(chan struct{}, 1)
	store.afterHeldGet = func(n int) {
		if n == statsTries+1 {
			guarded <- struct{}{}
		}
	}
	store.get.armed.Store(true)
	res := startStats(s, held(ctx), "hot")
	for range statsTries - 1 {
		<-store.get.entered // a flush begins and ends during the read
		s.Resolve(ctx, "cold")
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		store.get.release <- struct{}{}
	}
	<-store.get.entered // the last unguarded read: a flush of hot begins and sticks
	s.Resolve(ctx, "hot")
	s.Resolve(ctx, "hot")
	store.add.armed.Store(true)
	flushed := make(chan error, 1)
	go func() { flushed <- s.Flush(ctx) }()
	<-store.add.entered
	store.get.armed.Store(false)
	store.get.release <- struct{}{}

	promptly(t, guarded, "the guarded Get during a stuck flush")
	store.add.armed.Store(false)
	store.add.release <- struct{}{}
	if err := promptly(t, flushed, "the stuck Flush"); err != nil {
		t.Fatal(err)
	}
	if r := promptly(t, res, "the guarded Stats"); r.err != nil || r.st.Clicks != 2 {
		t.Fatalf("guarded Stats(hot) during a flush of its clicks = %+v, %v; want 2 clicks", r.st, r.err)
	}
}

// slowStore makes every Get of a held context yield a few times, so that
// flushes begin and end during it, and fails some AddClicks, so that flushes
// put their clicks back.
type slowStore struct {
	shortid.Store
	fail atomic.Bool
}

func (s *slowStore) Get(ctx context.Context, key string) (shortid.Record, error) {
	if ctx.Value(heldKey{}) != nil {
		for range 1 + rand.IntN(8) {
			runtime.Gosched() // the flusher's turn
		}
	}
	return s.Store.Get(ctx, key)
}

func (s *slowStore) AddClicks(ctx context.Context, clicks map[shortid.ClickKey]int64) error {
	if s.fail.Load() && rand.IntN(4) == 0 {
		return errors.New("store down")
	}
	return s.Store.AddClicks(ctx, clicks)
}

// TestStatsExactUnderFlushes resolves one hot link from several
// goroutines while another flushes without pause, and checks that every
// Stats, with several running at once, lies between the Resolves finished
// before it and those started after it and never goes down: a flush in
// flight is counted neither twice nor not at all. It runs over a plain
// MemStore, and over one whose reads for Stats are slow enough to lose
// every race with the flushes (so Stats ends on its guarded read) and
// whose AddClicks fails now and then.
func TestStatsExactUnderFlushes(t *testing.T) {
	for _, slow := range []bool{false, true} {
		t.Run(map[bool]string{false: "fast", true: "slow-failing"}[slow], func(t *testing.T) {
			store := &slowStore{Store: shortid.NewMemStore()}
			s, err := shortid.New(store, shortid.Options{Clock: newFakeClock(), FlushInterval: -1, SweepInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			key := shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/hot"}).Key
			statsCtx := ctx
			if slow {
				store.fail.Store(true)
				statsCtx = held(ctx)
			}
			var started, done atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						started.Add(1)
						if _, err := s.Resolve(ctx, key); err != nil {
							t.Errorf("Resolve: %v", err)
							return
						}
						done.Add(1)
						runtime.Gosched() // leave the observers a core
					}
				})
			}
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := s.Flush(ctx); err != nil && !slow {
						t.Errorf("Flush: %v", err)
						return
					} // the failing store's clicks stay buffered
					runtime.Gosched()
				}
			})
			var observers sync.WaitGroup
			for range 3 {
				observers.Go(func() {
					var last int64
					for range 200 {
						lo := done.Load()
						st, err := s.Stats(statsCtx, key)
						hi := started.Load()
						if err != nil || st.Clicks < lo || st.Clicks > hi || st.Clicks < last {
							t.Errorf("Stats = %d clicks, %v; want between %d and %d, and not below the %d before", st.Clicks, err, lo, hi, last)
							return
						}
						last = st.Clicks
					}
				})
			}
			observers.Wait()
			close(stop)
			wg.Wait()
			store.fail.Store(false)
			if st, err := s.Stats(statsCtx, key); err != nil || st.Clicks != done.Load() {
				t.Fatalf("final Stats = %d clicks, %v; want %d", st.Clicks, err, done.Load())
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if r, _ := store.Get(ctx, key); r.Clicks != done.Load() {
				t.Fatalf("stored clicks = %d, want %d", r.Clicks, done.Load())
			}
		})
	}
}

// TestStatsRacingDelete deletes "hot", with 5 buffered clicks, right after
// a Stats of it read the Store, on its first (unguarded) read or on its
// guarded one: the Stats must report the 5 clicks or ErrNotFound. It
// reported the deleted link with 0 clicks, since Delete dropped the
// buffered clicks before Stats looked at them.
func TestStatsRacingDelete(t *testing.T) {
	for _, guarded := range []bool{false, true} {
		t.Run(map[bool]string{false: "unguarded", true: "guarded"}[guarded], func(t *testing.T) {
			s, store := newGatedShortener(t)
			t.Cleanup(func() { s.Close() })
			resolveHot := func() {
				for range 5 {
					if _, err := s.Resolve(ctx, "hot"); err != nil {
						t.Error(err)
					}
				}
			}
			deleteAt := 1
			if guarded {
				deleteAt = statsTries + 1
			} else {
				resolveHot()
			}
			store.afterHeldGet = func(n int) {
				switch {
				case n < deleteAt: // a flush begins and ends during the read
					s.Resolve(ctx, "cold")
					if err := s.Flush(ctx); err != nil {
						t.Error(err)
					}
					if n == statsTries {
						resolveHot() // buffered for the guarded read
					}
				case n == deleteAt:
					if err := s.Delete(ctx, "hot"); err != nil {
						t.Error(err)
					}
				}
			}
			st, err := s.Stats(held(ctx), "hot")
			if !errors.Is(err, shortid.ErrNotFound) && (err != nil || st.Clicks != 5) {
				t.Fatalf("Stats(hot) racing its Delete = %+v, %v; want 5 clicks or ErrNotFound", st, err)
			}
		})
	}
}
