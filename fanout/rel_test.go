package fanout_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/fanout"
	"github.com/blueprint-go/blueprint/snowflake"
)

// callBounded runs f on a goroutine and returns its error, or a failure if
// it panics or does not return within a few seconds: a panic under a lock
// of the Service would otherwise hang the test on a deferred call.
func callBounded(f func() error) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic: %v", r)
			}
		}()
		done <- f()
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		return fmt.Errorf("did not return")
	}
}

// TestUndoWithoutRelation checks that Unmute and Unblock of a user who
// was never muted or blocked, by a user who has muted or blocked no one,
// change nothing and return nil: they used to panic on the user's nil
// relation map, under its stripe lock.
func TestUndoWithoutRelation(t *testing.T) {
	ctx := context.Background()
	svc := fanout.New(fanout.NewMemGraph(), fanout.NewMemPosts(), fanout.NewMemTimelines(fanout.MemTimelinesOptions{}), fanout.Options{})
	defer svc.Close()
	if err := svc.Follow(ctx, 3, 4); err != nil {
		t.Fatal(err)
	}
	p, err := svc.Publish(ctx, 4, "hello")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name         string
		user, target fanout.UserID
		undo         func(ctx context.Context, user, target fanout.UserID) error
	}{
		{"Unmute", 1, 2, svc.Unmute},
		{"Unblock", 1, 2, svc.Unblock},
		{"Unmute a followee", 3, 4, svc.Unmute},
		{"Unblock a followee", 3, 4, svc.Unblock},
	} {
		if err := callBounded(func() error { return c.undo(ctx, c.user, c.target) }); err != nil {
			t.Fatalf("%s(%d, %d) = %v, want nil", c.name, c.user, c.target, err)
		}
	}
	pg, err := svc.Timeline(ctx, 3, "", 5)
	if err != nil || len(pg.Posts) != 1 || pg.Posts[0].ID != p.ID {
		t.Fatalf("Timeline(3) after the undos = %v, %v, want the followee's post", pg.Posts, err)
	}
}

// wrapGraph returns SetSince's ErrNotFollowing wrapped, as a store that
// adds context to its errors may (callers test with errors.Is), and runs
// afterFollowees once after a Followees call.
type wrapGraph struct {
	*fanout.MemGraph
	afterFollowees func()
}

func (g *wrapGraph) SetSince(ctx context.Context, follower, followee fanout.UserID, since snowflake.ID) error {
	if err := g.MemGraph.SetSince(ctx, follower, followee, since); err != nil {
		return fmt.Errorf("wrapGraph: set since: %w", err)
	}
	return nil
}

func (g *wrapGraph) Followees(ctx context.Context, user fanout.UserID, dst []fanout.Edge) ([]fanout.Edge, error) {
	dst, err := g.MemGraph.Followees(ctx, user, dst)
	if f := g.afterFollowees; f != nil {
		g.afterFollowees = nil
		f()
	}
	return dst, err
}

// TestUnmuteRacingUnfollow checks that an Unmute of a followee that the
// user unfollows while Unmute runs (between its read of the user's
// followees and its edge writes) ends the mute, also on a store that
// wraps ErrNotFollowing: Unmute compared the error with ==, so it failed
// with the store's error and left the mute on.
func TestUnmuteRacingUnfollow(t *testing.T) {
	ctx := context.Background()
	g := &wrapGraph{MemGraph: fanout.NewMemGraph()}
	svc := fanout.New(g, fanout.NewMemPosts(), fanout.NewMemTimelines(fanout.MemTimelinesOptions{}), fanout.Options{})
	defer svc.Close()
	const user, target = 1, 2
	if err := svc.Follow(ctx, user, target); err != nil {
		t.Fatal(err)
	}
	if err := svc.Mute(ctx, user, target); err != nil {
		t.Fatal(err)
	}
	p, err := svc.Publish(ctx, target, "while muted")
	if err != nil {
		t.Fatal(err)
	}
	g.afterFollowees = func() {
		if err := svc.Unfollow(ctx, user, target); err != nil {
			t.Error(err)
		}
	}
	if err := svc.Unmute(ctx, user, target); err != nil {
		t.Fatalf("Unmute racing an Unfollow = %v, want nil", err)
	}
	if err := svc.Follow(ctx, user, target); err != nil {
		t.Fatal(err)
	}
	pg, err := svc.Timeline(ctx, user, "", 5)
	if err != nil || len(pg.Posts) != 1 || pg.Posts[0].ID != p.ID {
		t.Fatalf("Timeline after Unmute and a new Follow = %v, %v, want the post of %d", pg.Posts, err, target)
	}
}
