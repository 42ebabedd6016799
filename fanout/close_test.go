package fanout_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/blueprint-go/blueprint/fanout"
	"github.com/blueprint-go/blueprint/snowflake"
)

// hungTimelines is a Timelines whose Deliver hangs once armed: until the
// gate is closed, or, if honour, until its context is done (then it
// returns the context's error). It counts the Deliver calls made after
// arming and signals the first on entered.
type hungTimelines struct {
	*fanout.MemTimelines
	honour  bool
	armed   atomic.Bool
	calls   atomic.Int64
	entered chan struct{} // closed by the first call after arming
	once    sync.Once
	gate    chan struct{}
}

func (t *hungTimelines) Deliver(ctx context.Context, e fanout.Entry, users []fanout.UserID) error {
	if t.armed.Load() {
		t.calls.Add(1)
		t.once.Do(func() { close(t.entered) })
		select {
		case <-t.gate:
		case <-ctx.Done():
			if t.honour {
				return ctx.Err()
			}
			<-t.gate
		}
	}
	return t.MemTimelines.Deliver(ctx, e, users)
}

// settleGoroutines waits with synctest.Wait until every other goroutine
// of the test's synctest bubble has ended or is blocked, and fails the
// test if more than n goroutines are left.
func settleGoroutines(t *testing.T, n int) {
	t.Helper()
	synctest.Wait()
	if runtime.NumGoroutine() > n {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines left, want at most %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
	}
}

// TestCloseContextGivesUpOnAHungStore closes a Service whose worker hangs
// in Deliver, for stores that ignore the cancellation of the call's
// context (they return when released) and stores that honour it, with one
// post or two in the queue. The fan-out of the first post to 130
// followers (two Deliver chunks, in one batch of followers or, with
// BatchSize 129, two) hangs in its first chunk; the second post waits in
// the queue. CloseContext must return DeadlineExceeded at its deadline;
// the worker must make no store call after the hung one, and end; each
// post it did not finish is reported to Options.OnError once, and every
// follower reads both posts (by pulling). Before CloseContext, Close
// waited for the hung store for good; and a post was reported once for
// the followers listed but not delivered to, once more for those not
// listed, and once more for the hung call if it failed.
func TestCloseContextGivesUpOnAHungStore(t *testing.T) {
	for _, tc := range []struct {
		name   string
		honour bool
		posts  int
		batch  int
	}{
		{"ignored/one post", false, 1, 0},
		{"ignored/two posts", false, 2, 0},
		{"honoured/one post", true, 1, 0},
		{"honoured/two posts", true, 2, 0},
		{"ignored/one post/two batches", false, 1, 129},
		{"honoured/two posts/two batches", true, 2, 129},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Guard against the hang this test is about, with a failure
			// rather than the global test timeout.
			done := make(chan struct{})
			timer := time.AfterFunc(20*time.Second, func() {
				select {
				case <-done:
				default:
					buf := make([]byte, 1<<20)
					panic("TestCloseContextGivesUpOnAHungStore hangs:\n" + string(buf[:runtime.Stack(buf, true)]))
				}
			})
			defer func() { close(done); timer.Stop() }()
			synctest.Test(t, func(t *testing.T) { closeGivesUp(t, tc.honour, tc.posts, tc.batch) })
		})
	}
}

func closeGivesUp(t *testing.T, honour bool, posts, batch int) {
	const author, followers = 1, 130
	before := runtime.NumGoroutine()
	ctx := context.Background()
	clk := newClock()
	gen, err := snowflake.NewGenerator(1, snowflake.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	tl := &hungTimelines{MemTimelines: fanout.NewMemTimelines(fanout.MemTimelinesOptions{}),
		honour: honour, entered: make(chan struct{}), gate: make(chan struct{})}
	var errMu sync.Mutex
	var errs []error
	svc := fanout.New(fanout.NewMemGraph(), fanout.NewMemPosts(), tl, fanout.Options{
		IDs: gen, Now: clk.Now, Workers: 1, BatchSize: batch, // the default policy pushes
		OnError: func(err error) {
			errMu.Lock()
			errs = append(errs, err)
			errMu.Unlock()
		},
	})
	released := false
	release := func() {
		if !released {
			close(tl.gate)
			released = true
		}
	}
	defer release()
	// After a failure before CloseContext, end the workers before the
	// bubble does (later, Close waits for them and returns ErrClosed).
	t.Cleanup(func() { release(); svc.Close() })
	for f := fanout.UserID(author + 1); f <= author+followers; f++ {
		if err := svc.Follow(ctx, f, author); err != nil {
			t.Fatal(err)
		}
		settleReader(t, ctx, svc, f) // active and rebuilt
	}
	tl.armed.Store(true)
	var want []string // newest first
	for i := range posts {
		clk.Add(time.Millisecond)
		p, err := svc.Publish(ctx, author, string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		want = append([]string{p.Text}, want...)
	}
	select {
	case <-tl.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the fan-out did not reach Deliver")
	}

	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = svc.CloseContext(cctx)
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CloseContext over a hung Deliver = %v, want DeadlineExceeded", err)
	}
	if took > 2*time.Second {
		t.Fatalf("CloseContext with a 50 ms deadline took %v", took)
	}
	if _, err := svc.Publish(ctx, author, "late"); !errors.Is(err, fanout.ErrClosed) {
		t.Fatalf("Publish after CloseContext = %v, want ErrClosed", err)
	}
	if !honour {
		// The worker is still in the hung call: a second close waits
		// for it, and gives up with its context.
		dctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := svc.CloseContext(dctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("CloseContext with a done context while the worker is in a store call = %v, want Canceled", err)
		}
		release() // a store that ignores the cancellation returns now
	}
	if err := svc.Close(); !errors.Is(err, fanout.ErrClosed) {
		t.Fatalf("Close after CloseContext = %v, want ErrClosed", err)
	}
	settleGoroutines(t, before)
	if n := tl.calls.Load(); n != 1 {
		t.Fatalf("%d Deliver calls, want only the hung one: the worker went on after CloseContext gave up", n)
	}

	// What was not delivered was reported, once per post, with the
	// deadline.
	errMu.Lock()
	got := errs
	errMu.Unlock()
	wantErrs := posts
	if batch > 0 {
		// The first post's second batch of followers was not listed:
		// the author turned to pull, so the second post is pulled, not
		// dropped.
		wantErrs = 1
	}
	if len(got) != wantErrs {
		t.Fatalf("OnError told of %d failures %v, want one per dropped post, %d", len(got), got, wantErrs)
	}
	for _, err := range got {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			t.Fatalf("OnError told %v, which wraps neither the deadline nor the cancellation", err)
		}
	}

	// Every follower reads every post, delivered or not: the first
	// chunk's followers (unless the hung call failed) have the first post
	// in their timelines, the others pull it.
	for f := fanout.UserID(author + 1); f <= author+followers; f++ {
		if got := feedTexts(t, svc, f, 5); !slices.Equal(got, want) {
			t.Fatalf("reader %d's feed after CloseContext = %q, want %q", f, got, want)
		}
	}
	stored := 0
	for f := fanout.UserID(author + 1); f <= author+followers; f++ {
		st, err := tl.Stat(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		stored += st.Len
	}
	wantStored := 128 // the hung call's chunk, written once released
	if honour {
		wantStored = 0 // the hung call failed
	}
	if stored != wantStored {
		t.Fatalf("%d timeline entries stored, want %d: only the hung call may write", stored, wantStored)
	}
}

// TestSecondCloseWaitsForDrain closes a Service whose worker hangs in
// Deliver twice over, concurrently: the second Close, and a second
// CloseContext, must not return before the first has drained (a caller
// may take their ErrClosed to mean the Service is stopped); the
// CloseContext returns its context's error when that ends first. They
// returned ErrClosed at once, while the fan-out was still running.
func TestSecondCloseWaitsForDrain(t *testing.T) {
	synctest.Test(t, testSecondCloseWaitsForDrain)
}

func testSecondCloseWaitsForDrain(t *testing.T) {
	const author, followers = 1, 3
	ctx := context.Background()
	clk := newClock()
	gen, err := snowflake.NewGenerator(1, snowflake.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	tl := &hungTimelines{MemTimelines: fanout.NewMemTimelines(fanout.MemTimelinesOptions{}),
		entered: make(chan struct{}), gate: make(chan struct{})}
	svc := fanout.New(fanout.NewMemGraph(), fanout.NewMemPosts(), tl, fanout.Options{IDs: gen, Now: clk.Now, Workers: 1})
	release := sync.OnceFunc(func() { close(tl.gate) })
	t.Cleanup(func() { release(); svc.Close() })
	for f := fanout.UserID(author + 1); f <= author+followers; f++ {
		if err := svc.Follow(ctx, f, author); err != nil {
			t.Fatal(err)
		}
		settleReader(t, ctx, svc, f)
	}
	tl.armed.Store(true)
	clk.Add(time.Millisecond)
	if _, err := svc.Publish(ctx, author, "hung"); err != nil {
		t.Fatal(err)
	}
	<-tl.entered

	first, second := make(chan error, 1), make(chan error, 1)
	go func() { first <- svc.Close() }()
	synctest.Wait() // the first Close is draining
	go func() { second <- svc.Close() }()
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := svc.CloseContext(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CloseContext during the first Close's drain = %v, want DeadlineExceeded", err)
	}
	synctest.Wait()
	select {
	case err := <-second:
		t.Fatalf("second Close returned %v during the first Close's drain", err)
	default:
	}
	release()
	if err := <-first; err != nil {
		t.Fatalf("first Close = %v, want nil", err)
	}
	if err := <-second; !errors.Is(err, fanout.ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
	if err := svc.CloseContext(ctx); !errors.Is(err, fanout.ErrClosed) {
		t.Fatalf("CloseContext after the drain = %v, want ErrClosed", err)
	}
}
