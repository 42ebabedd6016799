package fanout

import (
	"context"
	"testing"
	"time"
)

// gateTimelines holds every Deliver until gate is closed.
type gateTimelines struct {
	*MemTimelines
	gate chan struct{}
}

func (g gateTimelines) Deliver(ctx context.Context, e Entry, users []UserID) error {
	<-g.gate
	return g.MemTimelines.Deliver(ctx, e, users)
}

// TestPublishNotBlockedByMaintenance checks that rebuilds queued by reads
// never take the room of a post that holds a queue slot: with the only
// worker stuck in a fan-out, reads of many dormant readers (and many reads
// of one) must neither block Publish nor queue more than one rebuild per
// reader.
func TestPublishNotBlockedByMaintenance(t *testing.T) {
	ctx := context.Background()
	gate := make(chan struct{})
	tl := gateTimelines{NewMemTimelines(MemTimelinesOptions{}), gate}
	s := New(NewMemGraph(), NewMemPosts(), tl, Options{Workers: 1, Queue: 2})
	defer s.Close()
	defer close(gate)
	// The worker gets stuck delivering the first post to reader 10.
	if err := s.Follow(ctx, 10, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(ctx, 1, "stuck"); err != nil {
		t.Fatal(err)
	}
	for len(s.jobs) > 0 {
		time.Sleep(time.Millisecond) // until the worker took the post
	}
	// Dormant readers wake up and ask for rebuilds, again and again.
	for u := UserID(100); u < 110; u++ {
		for range 5 {
			if _, err := s.Timeline(ctx, u, "", 5); err != nil {
				t.Fatal(err)
			}
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Publish(ctx, 2, "second")
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Publish with a free slot blocked behind queued rebuilds")
	}
	// Readers 100..109 may have a rebuild queued (if the maintenance queue
	// had room); reader 100 read five times, but has one at most.
	n := 0
	for range len(s.maint) {
		if j := <-s.maint; j.rebuild == 100 {
			n++
		}
	}
	if n > 1 {
		t.Fatalf("reader 100 has %d rebuilds queued, want at most 1", n)
	}
}
