package fanout

import (
	"context"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/snowflake"
)

// gateTimelines holds every Deliver until gate is closed, and signals
// entered (without blocking) as each one starts.
type gateTimelines struct {
	*MemTimelines
	gate    chan struct{}
	entered chan struct{}
}

func (g gateTimelines) Deliver(ctx context.Context, e Entry, users []UserID) error {
	select {
	case g.entered <- struct{}{}:
	default:
	}
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
	tl := gateTimelines{NewMemTimelines(MemTimelinesOptions{}), gate, make(chan struct{}, 1)}
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
	select {
	case <-tl.entered: // the worker took the post, and is stuck
	case <-time.After(5 * time.Second):
		t.Fatal("the fan-out of the first post did not reach Deliver")
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

// TestQueuedSnapshot checks the pending list's snapshots: a read while the
// list is unchanged takes no lock (it returns while pendMu is held) and
// copies nothing, and a snapshot keeps what it held when writers change
// the list.
func TestQueuedSnapshot(t *testing.T) {
	s := New(NewMemGraph(), NewMemPosts(), NewMemTimelines(MemTimelinesOptions{}), Options{})
	defer s.Close()
	for id := range 4096 {
		s.addPending(Entry{ID: 10 + 2*snowflake.ID(id), Author: 1})
	}
	first := s.queued(Pulling, 0)
	if len(first) != 4096 {
		t.Fatalf("queued %d, want 4096", len(first))
	}
	s.pendMu.Lock()
	done := make(chan []Entry)
	go func() { done <- s.queued(20, 11) }()
	select {
	case got := <-done:
		s.pendMu.Unlock()
		if len(got) != 4 || got[0].ID != 12 || got[3].ID != 18 {
			t.Fatalf("queued(20, 11) = %v, want IDs 12..18", got)
		}
	case <-time.After(5 * time.Second):
		s.pendMu.Unlock()
		t.Fatal("a read of an unchanged pending list waited for its lock")
	}
	if n := testing.AllocsPerRun(100, func() { s.queued(Pulling, 0) }); n != 0 {
		t.Fatalf("a read of an unchanged pending list allocates %v times", n)
	}
	s.removePending(10)
	s.addPending(Entry{ID: 11, Author: 2})
	if first[0].ID != 10 || first[1].ID != 12 {
		t.Fatalf("an earlier snapshot changed: %v", first[:2])
	}
	if got := s.queued(13, 0); len(got) != 2 || got[0].ID != 11 || got[1].ID != 12 {
		t.Fatalf("after the changes queued(13, 0) = %v, want IDs 11, 12", got)
	}
}
