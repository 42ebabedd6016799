package fanout_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/fanout"
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
