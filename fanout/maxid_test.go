package fanout_test

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/fanout"
	"github.com/blueprint-go/blueprint/snowflake"
)

// wrappingGraph is a Graph whose Followers computes after+1 without
// checking, as a store might: after math.MaxInt64 it wraps around and
// lists the first followers again.
type wrappingGraph struct{ *fanout.MemGraph }

func (g wrappingGraph) Followers(ctx context.Context, user, after fanout.UserID, limit int, dst []fanout.Edge) ([]fanout.Edge, error) {
	if after == math.MaxInt64 {
		after = math.MinInt64 // after+1 wrapped
	}
	return g.MemGraph.Followers(ctx, user, after, limit, dst)
}

// TestFanoutToMaxUserID checks that a post reaches a follower whose ID is
// math.MaxInt64 and that its fan-out ends, in batches that end at that
// follower (BatchSize 1 and 2 with followers 5 and MaxInt64), both on the
// in-memory graph and on one whose Followers wraps around after MaxInt64:
// the fan-out paged on from after = MaxInt64, the store's after+1 wrapped
// to the first follower, and the fan-out (and Close, which waits for it)
// never ended.
func TestFanoutToMaxUserID(t *testing.T) {
	for _, wrap := range []bool{false, true} {
		for _, batch := range []int{1, 2} {
			ctx := context.Background()
			clk := newClock()
			var g fanout.Graph = fanout.NewMemGraph()
			if wrap {
				g = wrappingGraph{fanout.NewMemGraph()}
			}
			fanned := make(chan int, 4)
			svc := fanout.New(g, fanout.NewMemPosts(), fanout.NewMemTimelines(fanout.MemTimelinesOptions{}), fanout.Options{
				Now: clk.Now, BatchSize: batch,
				OnFanout: func(_ snowflake.ID, writes int, _ time.Duration) { fanned <- writes },
			})
			for _, f := range []fanout.UserID{5, math.MaxInt64} {
				if err := svc.Follow(ctx, f, 1); err != nil {
					t.Fatal(err)
				}
			}
			p, err := svc.Publish(ctx, 1, "to the last ID")
			if err != nil {
				t.Fatal(err)
			}
			select {
			case n := <-fanned:
				if n != 2 {
					t.Fatalf("wrap %v, batch %d: fan-out wrote %d timelines, want 2", wrap, batch, n)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("wrap %v, batch %d: the fan-out to follower MaxInt64 has not ended after 5 s", wrap, batch)
			}
			pg, err := svc.Timeline(ctx, math.MaxInt64, "", 5)
			if err != nil || !slices.ContainsFunc(pg.Posts, func(q fanout.Post) bool { return q.ID == p.ID }) {
				t.Fatalf("wrap %v, batch %d: follower MaxInt64 reads %v, %v, want the post", wrap, batch, pg.Posts, err)
			}
			closed := make(chan error, 1)
			go func() { closed <- svc.Close() }()
			select {
			case err := <-closed:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("wrap %v, batch %d: Close has not returned after 5 s", wrap, batch)
			}
		}
	}
}
