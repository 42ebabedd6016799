package fanout

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// plans counts the readers among users that hold a cached read plan.
func (s *Service) plans(users []UserID) int {
	n := 0
	for _, u := range users {
		us := &s.users[stripeOf(int64(u))]
		us.mu.Lock()
		if st := us.m[u]; st != nil && st.plan != nil {
			n++
		}
		us.mu.Unlock()
	}
	return n
}

// TestInactivePlansFreed checks that the plans of readers who stopped
// reading are freed by other readers' reads, also for readers who follow
// only pulled authors (no fan-out ever looks at them), and with inactivity
// off.
func TestInactivePlansFreed(t *testing.T) {
	for _, inactive := range []time.Duration{time.Hour, -1} {
		var ns atomic.Int64
		ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
		now := func() time.Time { return time.Unix(0, ns.Load()) }
		ctx := context.Background()
		s := New(NewMemGraph(), NewMemPosts(), NewMemTimelines(MemTimelinesOptions{}),
			Options{Now: now, InactiveAfter: inactive, Policy: Threshold{Followers: 1}})
		const author = 1
		var old, active []UserID
		for u := UserID(1000); u < 1300; u++ {
			if err := s.Follow(ctx, u, author); err != nil {
				t.Fatal(err)
			}
			old = append(old, u)
		}
		// Far fewer active readers than stripes, so that most idle
		// readers share no stripe with an active one: a read sweeps
		// every stripe in turn, not only its own.
		// They follow someone: a read of a user with nothing to read
		// leaves no state, and no plan.
		for u := UserID(5000); u < 5200; u++ {
			if err := s.Follow(ctx, u, 2); err != nil {
				t.Fatal(err)
			}
			active = append(active, u)
		}
		if _, err := s.Publish(ctx, author, "x"); err != nil {
			t.Fatal(err)
		}
		for _, u := range old {
			if _, err := s.Timeline(ctx, u, "", 5); err != nil {
				t.Fatal(err)
			}
		}
		if n := s.plans(old); n != len(old) {
			t.Fatalf("InactiveAfter %v: %d plans after one read each, want %d", inactive, n, len(old))
		}
		ns.Add(int64(15 * 24 * time.Hour))
		rounds := 0
		for ; rounds < 200 && s.plans(old) > 0; rounds++ {
			for _, u := range active {
				if _, err := s.Timeline(ctx, u, "", 5); err != nil {
					t.Fatal(err)
				}
			}
		}
		if n := s.plans(old); n != 0 {
			t.Fatalf("InactiveAfter %v: %d inactive readers keep their plans after %d rounds of reads", inactive, n, rounds)
		}
		if n := s.plans(active); n != len(active) {
			t.Fatalf("InactiveAfter %v: %d of %d active readers hold a plan", inactive, n, len(active))
		}
		t.Logf("InactiveAfter %v: plans freed after %d rounds", inactive, rounds)
		// A swept reader reads as before.
		if pg, err := s.Timeline(ctx, old[0], "", 5); err != nil || len(pg.Posts) != 1 {
			t.Fatalf("InactiveAfter %v: swept reader reads %d posts, %v; want 1", inactive, len(pg.Posts), err)
		}
		s.Close()
	}
}

// TestNoPlanForDormant checks that a read whose reader went dormant
// meanwhile does not cache its plan.
func TestNoPlanForDormant(t *testing.T) {
	ctx := context.Background()
	s := New(NewMemGraph(), NewMemPosts(), NewMemTimelines(MemTimelinesOptions{}), Options{})
	defer s.Close()
	s.user(ctx, 5, func(*userState) {}) // a reader with state (see Service.state)
	rs, err := s.touch(ctx, 5, true)
	if err != nil {
		t.Fatal(err)
	}
	s.user(ctx, 5, func(st *userState) { st.dormant = true })
	s.storePlan(ctx, 5, &rs, &readPlan{})
	if n := s.plans([]UserID{5}); n != 0 {
		t.Fatal("a dormant reader got a plan cached")
	}
}
