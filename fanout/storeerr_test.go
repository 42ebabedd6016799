package fanout_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/blueprint-go/blueprint/fanout"
	"github.com/blueprint-go/blueprint/snowflake"
)

var errTransient = errors.New("transient store error")

// failing counts down the calls of one store method that fail: the next
// n calls after skip more have succeeded.
type failing struct {
	mu      sync.Mutex
	skip, n int
}

func (f *failing) arm(skip, n int) {
	f.mu.Lock()
	f.skip, f.n = skip, n
	f.mu.Unlock()
}

// fail reports whether this call fails.
func (f *failing) fail() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.skip > 0 {
		f.skip--
		return false
	}
	if f.n > 0 {
		f.n--
		return true
	}
	return false
}

type failingTimelines struct {
	*fanout.MemTimelines
	deliver failing
}

func (t *failingTimelines) Deliver(ctx context.Context, e fanout.Entry, users []fanout.UserID) error {
	if t.deliver.fail() {
		return errTransient
	}
	return t.MemTimelines.Deliver(ctx, e, users)
}

type failingGraph struct {
	*fanout.MemGraph
	followers, setSince failing
}

func (g *failingGraph) Followers(ctx context.Context, user, after fanout.UserID, limit int, dst []fanout.Edge) ([]fanout.Edge, error) {
	if g.followers.fail() {
		return dst, errTransient
	}
	return g.MemGraph.Followers(ctx, user, after, limit, dst)
}

func (g *failingGraph) SetSince(ctx context.Context, follower, followee fanout.UserID, since snowflake.ID) error {
	if since == 0 && g.setSince.fail() {
		return errTransient
	}
	return g.MemGraph.SetSince(ctx, follower, followee, since)
}

// storeErrWorld is a Service on stores that fail when armed, whose
// followers 2..n+1 of author 1 are active and rebuilt.
type storeErrWorld struct {
	t      *testing.T
	ctx    context.Context
	svc    *fanout.Service
	g      *failingGraph
	tl     *failingTimelines
	clk    *clock
	fanned chan snowflake.ID
	errMu  sync.Mutex
	errs   []error // what Options.OnError was told
}

func newStoreErrWorld(t *testing.T, followers int, opts fanout.Options) *storeErrWorld {
	w := &storeErrWorld{t: t, ctx: context.Background(), clk: newClock(), fanned: make(chan snowflake.ID, 16),
		g:  &failingGraph{MemGraph: fanout.NewMemGraph()},
		tl: &failingTimelines{MemTimelines: fanout.NewMemTimelines(fanout.MemTimelinesOptions{})}}
	gen, err := snowflake.NewGenerator(1, snowflake.Options{Clock: w.clk})
	if err != nil {
		t.Fatal(err)
	}
	opts.IDs, opts.Now = gen, w.clk.Now
	opts.OnFanout = func(id snowflake.ID, _ int, _ time.Duration) { w.fanned <- id }
	opts.OnError = func(err error) {
		w.errMu.Lock()
		w.errs = append(w.errs, err)
		w.errMu.Unlock()
	}
	w.svc = fanout.New(w.g, fanout.NewMemPosts(), w.tl, opts)
	t.Cleanup(func() { w.svc.Close() })
	for f := fanout.UserID(2); f <= fanout.UserID(followers+1); f++ {
		if err := w.svc.Follow(w.ctx, f, 1); err != nil {
			t.Fatal(err)
		}
		w.waitComplete(f)
	}
	return w
}

// waitComplete waits until u's page is not Partial (its rebuild is done;
// see settleReader).
func (w *storeErrWorld) waitComplete(u fanout.UserID) {
	w.t.Helper()
	settleReader(w.t, w.ctx, w.svc, u)
}

// publish posts text as author 1 and waits for its fan-out.
func (w *storeErrWorld) publish(text string) {
	w.t.Helper()
	w.clk.Add(time.Millisecond)
	p, err := w.svc.Publish(w.ctx, 1, text)
	if err != nil {
		w.t.Fatal(err)
	}
	if id := <-w.fanned; id != p.ID {
		w.t.Fatalf("fan-out of %d, want %d", id, p.ID)
	}
}

// mustReport checks that Options.OnError was told of n failures, each a
// failure of the armed store.
func (w *storeErrWorld) mustReport(n int) {
	w.t.Helper()
	w.errMu.Lock()
	defer w.errMu.Unlock()
	if len(w.errs) != n {
		w.t.Fatalf("OnError told of %d failures (%v), want %d", len(w.errs), w.errs, n)
	}
	for _, err := range w.errs {
		if !errors.Is(err, errTransient) {
			w.t.Fatalf("OnError told %v, which does not wrap the store's error", err)
		}
	}
}

// mustSeeOnce checks that follower u's feed is want, each post once.
func (w *storeErrWorld) mustSeeOnce(u fanout.UserID, want ...string) {
	w.t.Helper()
	got := feedTexts(w.t, w.svc, u, 2)
	if len(got) != len(want) {
		w.t.Fatalf("reader %d's feed = %q, want %q", u, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			w.t.Fatalf("reader %d's feed = %q, want %q", u, got, want)
		}
	}
}

// TestDeliverFailureKeepsPost checks that a post whose Deliver to a
// follower fails reaches the follower anyway, once: a failed call is
// retried, and if the retry fails too, the follower's next read pulls it
// (and rebuilds the timeline). The fan-out ignored the error, and the
// post was lost to the follower for good.
func TestDeliverFailureKeepsPost(t *testing.T) {
	synctest.Test(t, testDeliverFailureKeepsPost)
}

func testDeliverFailureKeepsPost(t *testing.T) {
	for _, failures := range []int{1, 2, 3} {
		w := newStoreErrWorld(t, 1, fanout.Options{})
		w.tl.deliver.arm(0, failures)
		w.publish("failed")
		if pg, err := w.svc.Timeline(w.ctx, 2, "", 5); err != nil || pg.Partial != (failures > 1) {
			// One failure is retried: no rebuild.
			t.Fatalf("%d failures: read = %+v, %v, want Partial %v", failures, pg, err, failures > 1)
		}
		w.mustSeeOnce(2, "failed")
		w.publish("next")
		w.mustSeeOnce(2, "next", "failed")
		w.waitComplete(2)
		w.mustSeeOnce(2, "next", "failed")
		if failures > 1 {
			w.mustReport(1) // the third failure hit the next post, whose retry worked
		} else {
			w.mustReport(0)
		}
	}
}

// TestFollowersFailureKeepsPost checks that a post whose fan-out cannot
// list the author's followers past the first batch (the call and its
// retry fail) reaches every follower anyway, once, and that the author's
// later posts do too: the fan-out stopped at the error, and the followers
// not reached yet lost the post for good.
func TestFollowersFailureKeepsPost(t *testing.T) {
	synctest.Test(t, testFollowersFailureKeepsPost)
}

func testFollowersFailureKeepsPost(t *testing.T) {
	const followers = 5
	w := newStoreErrWorld(t, followers, fanout.Options{BatchSize: 2})
	w.publish("before")
	w.g.followers.arm(1, 2) // the first batch is listed, the second fails twice
	w.publish("failed")
	w.publish("after")
	for u := fanout.UserID(2); u <= followers+1; u++ {
		w.mustSeeOnce(u, "after", "failed", "before")
	}
	w.mustReport(1)
}

// flipPolicy pushes every author, and every edge until pull is set.
type flipPolicy struct{ pull *atomic.Bool }

func (flipPolicy) PushAuthor(fanout.AuthorStats) bool { return true }

func (p flipPolicy) PushEdge(fanout.AuthorStats, fanout.ReaderStats) bool { return !p.pull.Load() }

// TestEdgeSwitchFailureKeepsPost checks that a post whose fan-out skips a
// follower because the policy switches their edge to pull reaches the
// follower even when writing the switch to the graph fails: the edge
// stayed pushed in the graph, no fan-out had delivered the post, and the
// post was lost to the follower for good once its plan was built from
// the graph again.
func TestEdgeSwitchFailureKeepsPost(t *testing.T) {
	synctest.Test(t, testEdgeSwitchFailureKeepsPost)
}

func testEdgeSwitchFailureKeepsPost(t *testing.T) {
	var pull atomic.Bool
	w := newStoreErrWorld(t, 1, fanout.Options{Policy: flipPolicy{&pull}})
	w.publish("pushed")
	pull.Store(true)
	w.g.setSince.arm(0, 1)
	w.publish("switched")
	// The reader's next plan is built from the graph, where the edge is
	// still pushed (a mute of someone else changes what plans are built
	// from).
	if err := w.svc.Mute(w.ctx, 2, 99); err != nil {
		t.Fatal(err)
	}
	w.mustSeeOnce(2, "switched", "pushed")
	w.publish("next")
	w.mustSeeOnce(2, "next", "switched", "pushed")
	w.mustReport(1)
}
