package fanout_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/blueprint-go/blueprint/fanout"
	"github.com/blueprint-go/blueprint/snowflake"
)

// The tests below race a Follow of author a by reader r against an
// Unfollow or a Block of the same pair, and check that whenever the edge
// ends up gone, so are a's posts from r's feed.
const goneReader, goneAuthor fanout.UserID = 1, 10

// pausedGraph pauses one Follow after its graph write until release is
// closed, so that a test can land another call inside the Follow.
type pausedGraph struct {
	fanout.Graph
	mu      sync.Mutex
	armed   bool
	written chan struct{}
	release chan struct{}
}

func (g *pausedGraph) Follow(ctx context.Context, e fanout.Edge) (bool, error) {
	added, err := g.Graph.Follow(ctx, e)
	g.mu.Lock()
	armed := g.armed
	g.armed = false
	g.mu.Unlock()
	if armed {
		close(g.written)
		<-g.release
	}
	return added, err
}

// goneWorld is a Service on a pausedGraph with an active reader r.
type goneWorld struct {
	svc  *fanout.Service
	g    *pausedGraph
	tl   *fanout.MemTimelines
	clk  *clock
	done chan struct{} // a fan-out finished
}

func newGoneWorld(t *testing.T) *goneWorld {
	t.Helper()
	clk := newClock()
	gen, _ := snowflake.NewGenerator(1, snowflake.Options{Clock: clk})
	w := &goneWorld{
		g:    &pausedGraph{Graph: fanout.NewMemGraph(), written: make(chan struct{}), release: make(chan struct{})},
		tl:   fanout.NewMemTimelines(fanout.MemTimelinesOptions{}),
		clk:  clk,
		done: make(chan struct{}, 1),
	}
	w.svc = fanout.New(w.g, fanout.NewMemPosts(), w.tl, fanout.Options{IDs: gen, Now: clk.Now,
		OnFanout: func(snowflake.ID, int, time.Duration) {
			select {
			case w.done <- struct{}{}:
			default:
			}
		}})
	t.Cleanup(func() { w.svc.Close() })
	if _, err := w.svc.Timeline(context.Background(), goneReader, "", 10); err != nil { // r active
		t.Fatal(err)
	}
	return w
}

// pushedThenUnfollowed has a post "secret" reach r's pushed timeline and
// r unfollow a.
func (w *goneWorld) pushedThenUnfollowed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if err := w.svc.Follow(ctx, goneReader, goneAuthor); err != nil {
		t.Fatal(err)
	}
	w.clk.Add(time.Millisecond)
	if _, err := w.svc.Publish(ctx, goneAuthor, "secret"); err != nil {
		t.Fatal(err)
	}
	<-w.done
	if err := w.svc.Unfollow(ctx, goneReader, goneAuthor); err != nil {
		t.Fatal(err)
	}
}

// followWith runs a Follow of a by r and, after its graph write, during;
// either outcome of the Follow is fine.
func (w *goneWorld) followWith(t *testing.T, during func() error) {
	t.Helper()
	w.g.mu.Lock()
	w.g.armed = true
	w.g.mu.Unlock()
	ferr := make(chan error)
	go func() { ferr <- w.svc.Follow(context.Background(), goneReader, goneAuthor) }()
	<-w.g.written
	err := during()
	close(w.g.release)
	<-ferr
	if err != nil {
		t.Fatal(err)
	}
}

// feedMatchesGraph fails if r follows nobody and its feed shows a post.
func (w *goneWorld) feedMatchesGraph(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if edges, _ := w.g.Followees(ctx, goneReader, nil); len(edges) != 0 {
		return
	}
	pg, err := w.svc.Timeline(ctx, goneReader, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pg.Posts {
		t.Fatalf("r follows nobody, feed shows %q", p.Text)
	}
}

// An Unfollow landing between a Follow's graph write and the Follow's
// update of the reader's state must leave the author's entries hidden:
// the Follow must not take the author off the unfollowed list.
func TestFollowRacingUnfollow(t *testing.T) {
	w := newGoneWorld(t)
	w.pushedThenUnfollowed(t)
	w.followWith(t, func() error { return w.svc.Unfollow(context.Background(), goneReader, goneAuthor) })
	w.feedMatchesGraph(t)
}

// A Block landing inside a follow again (which it undoes) must leave the
// unfollowed author's old entries hidden after Unblock.
func TestFollowAgainRacingBlock(t *testing.T) {
	w := newGoneWorld(t)
	w.pushedThenUnfollowed(t)
	w.followWith(t, func() error { return w.svc.Block(context.Background(), goneReader, goneAuthor) })
	if err := w.svc.Unblock(context.Background(), goneReader, goneAuthor); err != nil {
		t.Fatal(err)
	}
	w.feedMatchesGraph(t)
}

// A Follow whose backfill runs after an Unfollow that landed inside it may
// copy posts issued after that Unfollow; they must stay hidden too.
func TestFollowBackfillRacingUnfollow(t *testing.T) {
	ctx := context.Background()
	w := newGoneWorld(t)
	// a posts once, so that the Service knows it as a pushed author and
	// the follow backfills.
	if _, err := w.svc.Publish(ctx, goneAuthor, "before"); err != nil {
		t.Fatal(err)
	}
	w.followWith(t, func() error {
		if err := w.svc.Unfollow(ctx, goneReader, goneAuthor); err != nil {
			return err
		}
		w.clk.Add(time.Millisecond)
		_, err := w.svc.Publish(ctx, goneAuthor, "after the unfollow")
		return err
	})
	if st, _ := w.tl.Stat(ctx, goneReader); st.Len == 0 {
		t.Fatal("the follow copied nothing: the test does not reach the race")
	}
	if edges, _ := w.g.Followees(ctx, goneReader, nil); len(edges) != 0 {
		t.Fatalf("r still follows %v", edges)
	}
	w.feedMatchesGraph(t)
}

// Follow and Unfollow of one pair from two goroutines, many times: when
// the edge ends up gone, so are the author's entries.
func TestFollowUnfollowConcurrent(t *testing.T) {
	ctx := context.Background()
	w := newGoneWorld(t)
	w.pushedThenUnfollowed(t)
	for range 3000 {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); w.svc.Follow(ctx, goneReader, goneAuthor) }()
		go func() { defer wg.Done(); w.svc.Unfollow(ctx, goneReader, goneAuthor) }()
		wg.Wait()
		w.feedMatchesGraph(t)
	}
}

// removeCounter counts Remove calls.
type removeCounter struct {
	*fanout.MemTimelines
	removes atomic.Int64
}

func (t *removeCounter) Remove(ctx context.Context, user fanout.UserID, ids ...snowflake.ID) error {
	t.removes.Add(1)
	return t.MemTimelines.Remove(ctx, user, ids...)
}

// TestReadDropsEntriesInOneRemove checks that a read that finds in the
// reader's pushed timeline both an entry of a deleted post and one of an
// author the reader unfollowed drops both with one Timelines.Remove: it
// made one call for each.
func TestReadDropsEntriesInOneRemove(t *testing.T) {
	synctest.Test(t, testReadDropsEntriesInOneRemove)
}

func testReadDropsEntriesInOneRemove(t *testing.T) {
	const reader, kept, unfollowed = 1, 2, 3
	ctx := context.Background()
	clk := newClock()
	gen, err := snowflake.NewGenerator(1, snowflake.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	tl := &removeCounter{MemTimelines: fanout.NewMemTimelines(fanout.MemTimelinesOptions{})}
	svc := fanout.New(fanout.NewMemGraph(), fanout.NewMemPosts(), tl, fanout.Options{IDs: gen, Now: clk.Now})
	defer svc.Close()
	for _, a := range []fanout.UserID{kept, unfollowed} {
		if err := svc.Follow(ctx, reader, a); err != nil {
			t.Fatal(err)
		}
	}
	settleReader(t, ctx, svc, reader)
	var deleted fanout.Post
	for _, a := range []fanout.UserID{kept, unfollowed} {
		clk.Add(time.Millisecond)
		p, err := svc.Publish(ctx, a, "")
		if err != nil {
			t.Fatal(err)
		}
		if a == kept {
			deleted = p
		}
	}
	synctest.Wait() // fanned out
	if st, err := tl.Stat(ctx, reader); err != nil || st.Len != 2 {
		t.Fatalf("timeline before = %+v, %v, want 2 entries", st, err)
	}
	if err := svc.Delete(ctx, kept, deleted.ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.Unfollow(ctx, reader, unfollowed); err != nil {
		t.Fatal(err)
	}
	synctest.Wait() // the plan rebuild Unfollow queued is done
	if pg, err := svc.Timeline(ctx, reader, "", 10); err != nil || len(pg.Posts) != 0 {
		t.Fatalf("Timeline = %v, %v, want no post", pg.Posts, err)
	}
	if st, err := tl.Stat(ctx, reader); err != nil || st.Len != 0 {
		t.Fatalf("timeline after the read = %+v, %v, want empty", st, err)
	}
	if n := tl.removes.Load(); n != 1 {
		t.Fatalf("the read made %d Remove calls, want 1", n)
	}
}
