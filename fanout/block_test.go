package fanout_test

import (
	"context"
	"errors"
	"testing"

	"github.com/blueprint-go/blueprint/fanout"
)

// hookGraph runs beforeFollow inside Follow, before the edge is added: a
// deterministic interleaving of whatever it does with the Service's Follow.
type hookGraph struct {
	*fanout.MemGraph
	beforeFollow func()
}

func (g *hookGraph) Follow(ctx context.Context, e fanout.Edge) (bool, error) {
	if f := g.beforeFollow; f != nil {
		g.beforeFollow = nil
		f()
	}
	return g.MemGraph.Follow(ctx, e)
}

// TestFollowRacingBlock checks that a Block landing between Follow's check
// of the block and its graph write leaves no edge across the block, in
// either direction of the block.
func TestFollowRacingBlock(t *testing.T) {
	for _, blockerIsFollower := range []bool{false, true} {
		ctx := context.Background()
		g := &hookGraph{MemGraph: fanout.NewMemGraph()}
		svc := fanout.New(g, fanout.NewMemPosts(), fanout.NewMemTimelines(fanout.MemTimelinesOptions{}), fanout.Options{})
		const follower, followee = 1, 2
		if _, err := svc.Publish(ctx, followee, "hidden"); err != nil {
			t.Fatal(err)
		}
		g.beforeFollow = func() {
			blocker, target := fanout.UserID(followee), fanout.UserID(follower)
			if blockerIsFollower {
				blocker, target = target, blocker
			}
			if err := svc.Block(ctx, blocker, target); err != nil {
				t.Error(err)
			}
		}
		if err := svc.Follow(ctx, follower, followee); !errors.Is(err, fanout.ErrBlocked) {
			t.Errorf("blocker is follower %v: Follow = %v, want ErrBlocked", blockerIsFollower, err)
		}
		if es, _ := g.Followees(ctx, follower, nil); len(es) != 0 {
			t.Errorf("blocker is follower %v: edges %v across the block", blockerIsFollower, es)
		}
		if fr, fe, _ := g.Counts(ctx, followee); fr != 0 || fe != 0 {
			t.Errorf("blocker is follower %v: followee counts %d, %d", blockerIsFollower, fr, fe)
		}
		// The follower's cached counts agree with the graph: a new follow
		// after Unblock counts once.
		svc.Unblock(ctx, follower, followee)
		svc.Unblock(ctx, followee, follower)
		if err := svc.Follow(ctx, follower, followee); err != nil {
			t.Fatal(err)
		}
		if pg, err := svc.Timeline(ctx, follower, "", 5); err != nil || len(pg.Posts) != 1 {
			t.Errorf("after unblock and follow: %d posts, %v", len(pg.Posts), err)
		}
		svc.Close()
	}
}
