package fanout_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

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

// TestRepostsAcrossBlocks checks that a block hides content through
// reposts: a reader who blocked (or is blocked by) a post's author sees no
// repost of it, nor the posts of a reposter it blocked; a repost whose
// reposter and original author are blocked either way shows to no one,
// also when it was made before the block, and comes back with the
// Unblock; and Repost refuses, with ErrBlocked, to repost across a block.
// Reposts ignored blocks between reposter and author: a blocked user
// could repost the blocker's posts to its own followers, and reposts made
// before a block kept showing.
func TestRepostsAcrossBlocks(t *testing.T) {
	const reader, reposter, author = 1, 2, 3
	for _, c := range []struct {
		name           string
		blocker, other fanout.UserID
	}{
		{"reader blocks author", reader, author},
		{"author blocks reader", author, reader},
		{"reader blocks reposter", reader, reposter},
		{"reposter blocks reader", reposter, reader},
		{"author blocks reposter", author, reposter},
		{"reposter blocks author", reposter, author},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, 100, fanout.Options{})
			e.follow(reader, reposter)
			orig := e.post(author, "orig")
			if _, err := e.svc.Repost(e.ctx, reposter, orig.ID); err != nil {
				t.Fatal(err)
			}
			if got := e.feed(reader, 5); !slices.Equal(got, []string{""}) {
				t.Fatalf("feed before the block = %q, want the repost", got)
			}
			if err := e.svc.Block(e.ctx, c.blocker, c.other); err != nil {
				t.Fatal(err)
			}
			if got := e.feed(reader, 5); len(got) != 0 {
				t.Fatalf("feed after the block = %q, want nothing", got)
			}
			// Reposting across the block is refused, reposting around it
			// is not (and still hidden from a reader across it).
			crosses := (c.blocker == author) != (c.other == author) && (c.blocker == reposter) != (c.other == reposter)
			e.clk.Add(time.Millisecond)
			_, err := e.svc.Repost(e.ctx, reposter, orig.ID)
			if crosses && !errors.Is(err, fanout.ErrBlocked) {
				t.Fatalf("Repost across the block = %v, want ErrBlocked", err)
			}
			if !crosses && err != nil {
				t.Fatalf("Repost = %v", err)
			}
			if got := e.feed(reader, 5); len(got) != 0 {
				t.Fatalf("feed after a second repost = %q, want nothing", got)
			}
			if err := e.svc.Unblock(e.ctx, c.blocker, c.other); err != nil {
				t.Fatal(err)
			}
			if (c.blocker == reader || c.other == reader) != (c.blocker == reposter || c.other == reposter) {
				// The block did not remove the follow of the reposter.
				want := []string{""}
				if !crosses {
					want = append(want, "") // the second repost
				}
				if got := e.feed(reader, 5); !slices.Equal(got, want) {
					t.Fatalf("feed after the unblock = %q, want %q", got, want)
				}
			}
		})
	}
}
