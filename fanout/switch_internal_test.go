package fanout

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/blueprint-go/blueprint/snowflake"
)

// heldGraph holds the first SetSince that fixes a watermark (not 0, not
// Pulling) once armed, until release is closed.
type heldGraph struct {
	Graph
	armed   atomic.Bool
	held    chan struct{}
	release chan struct{}
}

func (g *heldGraph) SetSince(ctx context.Context, follower, followee UserID, since snowflake.ID) error {
	if since != 0 && since != Pulling && g.armed.CompareAndSwap(true, false) {
		close(g.held)
		<-g.release
	}
	return g.Graph.SetSince(ctx, follower, followee, since)
}

// switchWorld is a Service whose reader follows a pushed author on a
// pulled edge, which the policy wants pushed, on a heldGraph.
type switchWorld struct {
	t      *testing.T
	ctx    context.Context
	s      *Service
	g      *heldGraph
	ns     *atomic.Int64
	fanned chan snowflake.ID
	// release closes g.release once; a cleanup calls it too, so that a
	// failed test's held call ends before the Service is closed.
	release func()
}

const swReader, swAuthor, swOther UserID = 1, 2, 3

// nsClock is a manual clock at ns Unix nanoseconds, for the ID generator
// of a test in a synctest bubble (whose time starts in 2000, before the
// generator's epoch).
type nsClock struct{ ns *atomic.Int64 }

func (c nsClock) Now() time.Time        { return time.Unix(0, c.ns.Load()) }
func (c nsClock) Sleep(d time.Duration) { c.ns.Add(int64(max(d, time.Millisecond))) }

// nsIDs returns a generator on nsClock{ns}.
func nsIDs(t *testing.T, ns *atomic.Int64) *snowflake.Generator {
	t.Helper()
	gen, err := snowflake.NewGenerator(1, snowflake.Options{Clock: nsClock{ns}})
	if err != nil {
		t.Fatal(err)
	}
	return gen
}

func newSwitchWorld(t *testing.T) *switchWorld {
	w := &switchWorld{t: t, ctx: context.Background(), ns: new(atomic.Int64), fanned: make(chan snowflake.ID, 16),
		g: &heldGraph{Graph: NewMemGraph(), held: make(chan struct{}), release: make(chan struct{})}}
	w.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	if _, err := w.g.Follow(w.ctx, Edge{Follower: swReader, Followee: swAuthor, Since: 0}); err != nil {
		t.Fatal(err)
	}
	w.s = New(w.g, NewMemPosts(), NewMemTimelines(MemTimelinesOptions{}), Options{
		IDs: nsIDs(t, w.ns), Now: nsClock{w.ns}.Now, InactiveAfter: time.Minute, Backfill: 2, Workers: 2,
		Policy:   Threshold{Followers: 10},
		OnFanout: func(id snowflake.ID, _ int, _ time.Duration) { w.fanned <- id },
	})
	t.Cleanup(func() { w.s.Close() })
	w.release = sync.OnceFunc(func() { close(w.g.release) })
	t.Cleanup(w.release) // runs first
	w.publish(swAuthor)
	w.publish(swOther)
	w.read()
	return w
}

// publish posts as u and waits for the fan-out.
func (w *switchWorld) publish(u UserID) snowflake.ID {
	w.t.Helper()
	p, err := w.s.Publish(w.ctx, u, "")
	if err != nil {
		w.t.Fatal(err)
	}
	if id := <-w.fanned; id != p.ID {
		w.t.Fatalf("fan-out of %d, want %d", id, p.ID)
	}
	return p.ID
}

func (w *switchWorld) read() []Post {
	w.t.Helper()
	pg, err := w.s.Timeline(w.ctx, swReader, "", 5)
	if err != nil {
		w.t.Fatal(err)
	}
	return pg.Posts
}

// holdAdjust starts a policy pass over the reader's edges and returns
// when it holds between the edge's two writes (at Pulling, the watermark
// chosen); closing w.g.release lets it go, and the returned channel is
// closed when it is done.
func (w *switchWorld) holdAdjust() chan struct{} {
	w.g.armed.Store(true)
	done := make(chan struct{})
	go func() {
		w.s.adjustEdges(w.ctx, swReader)
		close(done)
	}()
	<-w.g.held
	return done
}

func (w *switchWorld) mustSee(id snowflake.ID) {
	w.t.Helper()
	if posts := w.read(); !slices.ContainsFunc(posts, func(p Post) bool { return p.ID == id }) {
		w.t.Fatalf("post %d of a followee missing: %v", id, posts)
	}
}

// waitRebuilt waits until u's timeline rebuild has ended: the test runs
// in a synctest bubble, and synctest.Wait returns once every other
// goroutine of the bubble (the workers, the held calls) is durably
// blocked, so a worker that took the rebuild has finished it.
func waitRebuilt(t *testing.T, s *Service, u UserID) {
	t.Helper()
	synctest.Wait()
	var rebuilding bool
	s.user(context.Background(), u, func(st *userState) { rebuilding = st.rebuilding })
	if rebuilding {
		t.Fatalf("user %d still rebuilding with the workers idle", u)
	}
}

// TestSwitchToPushAcrossDormancy holds a policy pass's switch of a pulled
// edge to push between its two graph writes while the reader goes
// dormant, misses a post of the author, comes back and has its timeline
// rebuilt. The rebuild must copy the author's posts although the edge was
// at Pulling: the watermark it is then given lies below the post, which
// the fan-out skipped. (Found by TestPlanProperty under load, about 1 run
// in 200.)
func TestSwitchToPushAcrossDormancy(t *testing.T) {
	synctest.Test(t, testSwitchToPushAcrossDormancy)
}

func testSwitchToPushAcrossDormancy(t *testing.T) {
	w := newSwitchWorld(t)
	adjusted := w.holdAdjust()
	w.ns.Add(int64(2 * time.Minute)) // the reader goes dormant
	p := w.publish(swAuthor)         // its fan-out skips the reader
	w.read()                         // from a floor above p; a rebuild
	waitRebuilt(t, w.s, swReader)
	w.release()
	<-adjusted
	w.mustSee(p)
}

// TestSwitchesSerialized lands a fan-out's switch of the same edge to
// pull inside a policy pass's switch to push: it must wait for the pass.
// Else its 0 lands between the pass's two writes, the fan-out of a post
// skips the reader, and the pass then pushes the edge from below the post.
// (A fan-out switches an edge it read as pushed: one that read it before
// an earlier switch to pull, which the pass then took back to push. The
// test calls the switch's two steps itself.)
func TestSwitchesSerialized(t *testing.T) {
	w := newSwitchWorld(t)
	adjusted := w.holdAdjust()
	flipped := make(chan struct{})
	go func() {
		var ast, rst *userState
		w.s.user(w.ctx, swAuthor, func(st *userState) { ast = st })
		w.s.user(w.ctx, swReader, func(st *userState) { markPull(st, swAuthor, ast); rst = st })
		w.s.pulledEdge(w.ctx, swReader, rst, swAuthor, new(cutShort))
		close(flipped)
	}()
	time.Sleep(20 * time.Millisecond) // room for the flip to land, if it can
	p := w.publish(swAuthor)
	w.release()
	<-adjusted
	<-flipped
	w.mustSee(p)
}

// heldPosts holds the first Put once armed, until release is closed.
type heldPosts struct {
	Posts
	armed   atomic.Bool
	held    chan struct{}
	release chan struct{}
}

func (p *heldPosts) Put(ctx context.Context, x Post) error {
	if p.armed.CompareAndSwap(true, false) {
		close(p.held)
		<-p.release
	}
	return p.Posts.Put(ctx, x)
}

// TestAuthorSwitchAcrossDormancy holds the post with which an author
// switches from pull to push (its watermark still Pulling) while another
// post of the author is fanned out past a dormant reader, who then comes
// back and has its timeline rebuilt. The author's watermark becomes the
// held post's ID, below the other post, which the rebuild must have
// copied although the author was at Pulling when it looked.
func TestAuthorSwitchAcrossDormancy(t *testing.T) {
	synctest.Test(t, testAuthorSwitchAcrossDormancy)
}

func testAuthorSwitchAcrossDormancy(t *testing.T) {
	var ns atomic.Int64
	ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	ctx := context.Background()
	posts := &heldPosts{Posts: NewMemPosts(), held: make(chan struct{}), release: make(chan struct{})}
	fanned := make(chan snowflake.ID, 16)
	s := New(NewMemGraph(), posts, NewMemTimelines(MemTimelinesOptions{}), Options{
		IDs: nsIDs(t, &ns), Now: nsClock{&ns}.Now, InactiveAfter: time.Minute, Workers: 2,
		Policy:   Threshold{Followers: 1, Hysteresis: -1},
		OnFanout: func(id snowflake.ID, _ int, _ time.Duration) { fanned <- id },
	})
	t.Cleanup(func() { s.Close() })
	release := sync.OnceFunc(func() { close(posts.release) })
	t.Cleanup(release) // runs first: Close waits for the held Publish
	const reader, author, other = 1, 2, 3
	for _, f := range []UserID{reader, other} {
		if err := s.Follow(ctx, f, author); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Publish(ctx, author, ""); err != nil { // pulled: 2 followers
		t.Fatal(err)
	}
	<-fanned
	if _, err := s.Timeline(ctx, reader, "", 5); err != nil {
		t.Fatal(err)
	}
	if err := s.Unfollow(ctx, other, author); err != nil { // 1 follower: the next post switches
		t.Fatal(err)
	}
	posts.armed.Store(true)
	switched := make(chan Post, 1)
	go func() {
		p, err := s.Publish(ctx, author, "switch")
		if err != nil {
			t.Error(err)
		}
		switched <- p
	}()
	<-posts.held
	ns.Add(int64(2 * time.Minute)) // the reader goes dormant
	p, err := s.Publish(ctx, author, "past the dormant reader")
	if err != nil {
		t.Fatal(err)
	}
	<-fanned
	if _, err := s.Timeline(ctx, reader, "", 5); err != nil { // a floor above p, a rebuild
		t.Fatal(err)
	}
	waitRebuilt(t, s, reader)
	release()
	sp := <-switched
	<-fanned
	pg, err := s.Timeline(ctx, reader, "", 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []snowflake.ID{sp.ID, p.ID} {
		if !slices.ContainsFunc(pg.Posts, func(q Post) bool { return q.ID == id }) {
			t.Fatalf("post %d of a followee missing: %v", id, pg.Posts)
		}
	}
}
