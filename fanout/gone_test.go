package fanout_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/fanout"
	"github.com/blueprint-go/blueprint/snowflake"
)

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

// An Unfollow landing between a Follow's graph write and the Follow's
// update of the reader's state must leave the author's entries hidden:
// the Follow must not take the author off the unfollowed list.
func TestFollowRacingUnfollow(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	gen, _ := snowflake.NewGenerator(1, snowflake.Options{Clock: clk})
	g := &pausedGraph{Graph: fanout.NewMemGraph(), written: make(chan struct{}), release: make(chan struct{})}
	done := make(chan struct{}, 1)
	svc := fanout.New(g, fanout.NewMemPosts(), fanout.NewMemTimelines(fanout.MemTimelinesOptions{}),
		fanout.Options{IDs: gen, Now: clk.Now, OnFanout: func(snowflake.ID, int, time.Duration) { done <- struct{}{} }})
	defer svc.Close()
	const r, a = 1, 10
	if _, err := svc.Timeline(ctx, r, "", 10); err != nil { // r active
		t.Fatal(err)
	}
	if err := svc.Follow(ctx, r, a); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Millisecond)
	if _, err := svc.Publish(ctx, a, "secret"); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := svc.Unfollow(ctx, r, a); err != nil { // gone = [a]
		t.Fatal(err)
	}
	g.mu.Lock()
	g.armed = true
	g.mu.Unlock()
	ferr := make(chan error)
	go func() { ferr <- svc.Follow(ctx, r, a) }()
	<-g.written
	if err := svc.Unfollow(ctx, r, a); err != nil {
		t.Fatal(err)
	}
	close(g.release)
	<-ferr // either outcome is fine: the feed must match the graph
	edges, _ := g.Followees(ctx, r, nil)
	pg, err := svc.Timeline(ctx, r, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pg.Posts {
		got = append(got, p.Text)
	}
	if len(edges) == 0 && slices.Contains(got, "secret") {
		t.Fatalf("r follows nobody, feed = %v", got)
	}
}

// A Block landing inside a follow again (which it undoes) must leave the
// unfollowed author's old entries hidden after Unblock.
func TestFollowAgainRacingBlock(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	gen, _ := snowflake.NewGenerator(1, snowflake.Options{Clock: clk})
	g := &pausedGraph{Graph: fanout.NewMemGraph(), written: make(chan struct{}), release: make(chan struct{})}
	done := make(chan struct{}, 1)
	svc := fanout.New(g, fanout.NewMemPosts(), fanout.NewMemTimelines(fanout.MemTimelinesOptions{}),
		fanout.Options{IDs: gen, Now: clk.Now, OnFanout: func(snowflake.ID, int, time.Duration) { done <- struct{}{} }})
	defer svc.Close()
	const r, a = 1, 10
	svc.Timeline(ctx, r, "", 10)
	if err := svc.Follow(ctx, r, a); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Millisecond)
	svc.Publish(ctx, a, "secret")
	<-done
	if err := svc.Unfollow(ctx, r, a); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	g.armed = true
	g.mu.Unlock()
	ferr := make(chan error)
	go func() { ferr <- svc.Follow(ctx, r, a) }()
	<-g.written
	if err := svc.Block(ctx, r, a); err != nil {
		t.Fatal(err)
	}
	close(g.release)
	<-ferr
	if err := svc.Unblock(ctx, r, a); err != nil {
		t.Fatal(err)
	}
	edges, _ := g.Followees(ctx, r, nil)
	pg, _ := svc.Timeline(ctx, r, "", 10)
	for _, p := range pg.Posts {
		if len(edges) == 0 && p.Text == "secret" {
			t.Fatalf("r follows nobody after block+unblock, feed shows %q", p.Text)
		}
	}
}

// Follow and Unfollow of one pair from two goroutines, many times: when
// the edge ends up gone, so are the author's entries.
func TestFollowUnfollowConcurrent(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	gen, _ := snowflake.NewGenerator(1, snowflake.Options{Clock: clk})
	g := fanout.NewMemGraph()
	done := make(chan struct{}, 1)
	svc := fanout.New(g, fanout.NewMemPosts(), fanout.NewMemTimelines(fanout.MemTimelinesOptions{}),
		fanout.Options{IDs: gen, Now: clk.Now, OnFanout: func(snowflake.ID, int, time.Duration) { done <- struct{}{} }})
	defer svc.Close()
	const r, a = 1, 10
	svc.Timeline(ctx, r, "", 10)
	svc.Follow(ctx, r, a)
	clk.Add(time.Millisecond)
	svc.Publish(ctx, a, "secret")
	<-done
	for i := range 3000 {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); svc.Follow(ctx, r, a) }()
		go func() { defer wg.Done(); svc.Unfollow(ctx, r, a) }()
		wg.Wait()
		edges, _ := g.Followees(ctx, r, nil)
		if len(edges) != 0 {
			continue
		}
		pg, _ := svc.Timeline(ctx, r, "", 10)
		if len(pg.Posts) > 0 {
			t.Fatalf("iteration %d: r follows nobody, feed shows %q", i, pg.Posts[0].Text)
		}
	}
}

// A Follow whose backfill runs after an Unfollow that landed inside it may
// copy posts issued after that Unfollow; they must stay hidden too.
func TestFollowBackfillRacingUnfollow(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	gen, _ := snowflake.NewGenerator(1, snowflake.Options{Clock: clk})
	g := &pausedGraph{Graph: fanout.NewMemGraph(), written: make(chan struct{}), release: make(chan struct{})}
	tl := fanout.NewMemTimelines(fanout.MemTimelinesOptions{})
	svc := fanout.New(g, fanout.NewMemPosts(), tl, fanout.Options{IDs: gen, Now: clk.Now})
	defer svc.Close()
	const r, a = 1, 10
	if _, err := svc.Timeline(ctx, r, "", 10); err != nil { // r active
		t.Fatal(err)
	}
	// a posts once, so that the Service knows it as a pushed author and
	// the follow backfills.
	if _, err := svc.Publish(ctx, a, "before"); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	g.armed = true
	g.mu.Unlock()
	ferr := make(chan error)
	go func() { ferr <- svc.Follow(ctx, r, a) }()
	<-g.written
	if err := svc.Unfollow(ctx, r, a); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Millisecond)
	if _, err := svc.Publish(ctx, a, "after the unfollow"); err != nil {
		t.Fatal(err)
	}
	close(g.release)
	<-ferr
	if st, _ := tl.Stat(ctx, r); st.Len == 0 {
		t.Fatal("the follow copied nothing: the test does not reach the race")
	}
	if edges, _ := g.Followees(ctx, r, nil); len(edges) != 0 {
		t.Fatalf("r still follows %v", edges)
	}
	pg, err := svc.Timeline(ctx, r, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pg.Posts {
		t.Fatalf("r follows nobody, feed shows %q", p.Text)
	}
}
