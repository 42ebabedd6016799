package fanout

import (
	"maps"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestAuthorLog checks the change log behind plan validation: a plan is
// current when none of its followees changed, stale when one did or when
// the log has overwritten the changes since the plan was built.
func TestAuthorLog(t *testing.T) {
	var l authorLog
	ids := []UserID{3, 5, 9}
	if seq, ok := l.unchanged(0, ids); !ok || seq != 0 {
		t.Fatalf("empty log: unchanged = %d, %v; want 0, true", seq, ok)
	}
	l.note(4)
	l.note(10)
	if seq, ok := l.unchanged(0, ids); !ok || seq != 2 {
		t.Fatalf("changes of others: unchanged = %d, %v; want 2, true", seq, ok)
	}
	l.note(5)
	if _, ok := l.unchanged(2, ids); ok {
		t.Fatal("a followee changed, but the plan is current")
	}
	if seq, ok := l.unchanged(3, ids); !ok || seq != 3 {
		t.Fatalf("after the change: unchanged = %d, %v; want 3, true", seq, ok)
	}
	for range authorLogSize + 1 {
		l.note(1)
	}
	if _, ok := l.unchanged(3, ids); ok {
		t.Fatal("a plan older than the log is current")
	}
	if _, ok := l.unchanged(l.seq.Load()-authorLogSize, ids); !ok {
		t.Fatal("a plan as old as the log, with no followee changed, is stale")
	}
}

// TestPlanPulling checks the patch of a plan for an edge switched to pull:
// the patched plan pulls the followee and no longer lists it as marked,
// and every earlier plan, which reads may still hold, is unchanged,
// although the patches append to the pulled list in place.
func TestPlanPulling(t *testing.T) {
	ids := make([]UserID, 100)
	for i := range ids {
		ids[i] = UserID(10 * (i + 1))
	}
	var tab slotTable
	st := func(UserID) *userState { return &userState{slot: tab.take()} }
	p := &readPlan{ids: ids, listed: make([]uint64, 2)}
	p.pulled = append(make([]planRef, 0, 64), refTo(10, st(10), 0))
	p.listed[0] |= 1
	p.marked = []planRef{refTo(500, st(500), 7), refTo(700, st(700), 3)}
	p.listed[0] |= 1 << 49
	p.listed[69/64] |= 1 << (69 % 64)
	type view struct {
		pulled, marked []UserID
		listed         []uint64
	}
	look := func(q *readPlan) view {
		var v view
		for _, r := range q.pulled {
			v.pulled = append(v.pulled, r.id)
		}
		for _, r := range q.marked {
			v.marked = append(v.marked, r.id)
		}
		v.listed = slices.Clone(q.listed)
		return v
	}
	plans := []*readPlan{p}
	views := []view{look(p)}
	for _, a := range []UserID{20, 500, 30, 10, 700, 990} {
		q := plans[len(plans)-1].pulling(a, st(a))
		if q == nil {
			t.Fatalf("pulling(%d) = nil for a followee", a)
		}
		v := look(q)
		if n := len(slices.DeleteFunc(slices.Clone(v.pulled), func(u UserID) bool { return u != a })); n != 1 {
			t.Fatalf("after pulling(%d), pulled = %v", a, v.pulled)
		}
		if slices.Contains(v.marked, a) {
			t.Fatalf("after pulling(%d), marked = %v", a, v.marked)
		}
		i, _ := slices.BinarySearch(ids, a)
		if v.listed[i/64]&(1<<(i%64)) == 0 {
			t.Fatalf("after pulling(%d), not listed", a)
		}
		plans, views = append(plans, q), append(views, v)
		for j, old := range plans {
			if got := look(old); !slices.Equal(got.pulled, views[j].pulled) || !slices.Equal(got.marked, views[j].marked) || !slices.Equal(got.listed, views[j].listed) {
				t.Fatalf("plan %d changed by a later patch: %v, was %v", j, got, views[j])
			}
		}
	}
	if p.pulling(15, st(15)) != nil {
		t.Fatal("pulling a non-followee returned a plan")
	}
	if want := []UserID{10, 20, 500, 30, 700, 990}; !slices.Equal(views[len(views)-1].pulled, want) {
		t.Fatalf("pulled = %v, want %v", views[len(views)-1].pulled, want)
	}
}

// TestPlanFilter checks the followee filter behind readPlan.follows: follows
// is exact (the filter never rejects a followee), and the filter alone
// rejects most non-followees, so that the fan-out queue's filter rarely
// needs the binary search.
func TestPlanFilter(t *testing.T) {
	r := rand.New(rand.NewPCG(testSeed(t), 3))
	for _, n := range []int{0, 1, 7, 64, 165, 1000, 5000} {
		set := map[UserID]bool{}
		for len(set) < n {
			set[UserID(1+r.IntN(1_000_000))] = true
		}
		ids := slices.Sorted(maps.Keys(set))
		p := &readPlan{ids: ids, filter: newFilter(ids)}
		if len(p.filter)*64 < 8*n {
			t.Fatalf("%d followees: %d filter bits, want at least 8 per followee", n, len(p.filter)*64)
		}
		const user = 1_000_001
		if !p.follows(user, user) {
			t.Fatal("a reader does not follow itself")
		}
		for _, a := range ids {
			if !p.follows(user, a) {
				t.Fatalf("%d followees: follows(%d) = false for a followee", n, a)
			}
		}
		passed, others := 0, 0
		for range 20000 {
			a := UserID(1 + r.IntN(2_000_000))
			if set[a] || a == user {
				continue
			}
			others++
			if p.follows(user, a) {
				t.Fatalf("%d followees: follows(%d) = true for a non-followee", n, a)
			}
			if w, b := filterBit(a, len(p.filter)); p.filter[w]&b != 0 {
				passed++
			}
		}
		if float64(passed) > 0.2*float64(others) {
			t.Errorf("%d followees: the filter passed %d of %d non-followees", n, passed, others)
		}
	}
}

// TestReplanOnChange checks that after a reader's own follows, unfollows,
// mutes and blocks a worker rebuilds its plan, so that its next read
// builds none, and that the plan is the one a read would build: the same
// followees, pulled and marked. A dormant reader (plan freed) gets none.
//
// It runs in a synctest bubble: synctest.Wait returns once the workers are
// idle, so a replan queued by then has been run.
func TestReplanOnChange(t *testing.T) {
	synctest.Test(t, testReplanOnChange)
}

func testReplanOnChange(t *testing.T) {
	ctx := t.Context()
	var ns atomic.Int64
	ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	s := New(NewMemGraph(), NewMemPosts(), NewMemTimelines(MemTimelinesOptions{}),
		Options{Policy: Threshold{Followers: 3, Hysteresis: -1}, IDs: nsIDs(t, &ns), Now: nsClock{&ns}.Now})
	defer s.Close()
	// 9 is pushed (one follower), 8 pulled (five).
	const r, pushed, pulled = UserID(1), UserID(9), UserID(8)
	for _, f := range []UserID{2, 3, 4, 5, 6} {
		if err := s.Follow(ctx, f, pulled); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Follow(ctx, 2, pushed); err != nil {
		t.Fatal(err)
	}
	// r posts too: a read of a user with nothing to read would leave no
	// state, and no plan for the worker to rebuild.
	for _, a := range []UserID{pushed, pulled, 2, r} {
		if _, err := s.Publish(ctx, a, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Timeline(ctx, r, "", 5); err != nil {
		t.Fatal(err)
	}
	// current waits for the workers to go idle and returns the current
	// plan (the worker's).
	current := func(what string) *readPlan {
		t.Helper()
		synctest.Wait()
		var p *readPlan
		s.user(ctx, r, func(st *userState) {
			if st.plan != nil && st.planBuilt == st.planVer {
				p = st.plan
			}
		})
		if p == nil {
			t.Fatalf("after %s: no current plan", what)
		}
		return p
	}
	view := func(p *readPlan) [3][]UserID {
		var v [3][]UserID
		v[0] = slices.Clone(p.ids)
		for _, x := range p.pulled {
			v[1] = append(v[1], x.id)
		}
		for _, x := range p.marked {
			v[2] = append(v[2], x.id)
		}
		slices.Sort(v[1])
		slices.Sort(v[2])
		return v
	}
	steps := []struct {
		what string
		do   func() error
	}{
		{"Follow of an author with no posts", func() error { return s.Follow(ctx, r, 3) }},
		{"Follow of a pushed author (backfill)", func() error { return s.Follow(ctx, r, pushed) }},
		{"Follow of a pulled author", func() error { return s.Follow(ctx, r, pulled) }},
		{"Follow again", func() error { return s.Follow(ctx, r, pushed) }},
		{"Unfollow", func() error { return s.Unfollow(ctx, r, 3) }},
		{"Mute", func() error { return s.Mute(ctx, r, pushed) }},
		{"Unmute of a pushed edge", func() error { return s.Unmute(ctx, r, pushed) }},
		{"Block", func() error { return s.Block(ctx, r, pulled) }},
		{"Unblock", func() error { return s.Unblock(ctx, r, pulled) }},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		got := view(current(st.what))
		// What a read would build now.
		s.changed(ctx, r)
		if _, err := s.Timeline(ctx, r, "", 5); err != nil {
			t.Fatal(err)
		}
		if want := view(current(st.what + " and a read")); !slices.EqualFunc(got[:], want[:], slices.Equal) {
			t.Fatalf("after %s: plan (ids, pulled, marked) %v, a read builds %v", st.what, got, want)
		}
	}
	// Dormant: its plan was freed, and a change asks for none.
	s.user(ctx, r, func(st *userState) { st.dormant, st.plan = true, nil })
	if err := s.Follow(ctx, r, 4); err != nil {
		t.Fatal(err)
	}
	s.user(ctx, r, func(st *userState) {
		if st.plan != nil || st.replanQ {
			t.Fatal("a dormant reader's Follow asked for a plan")
		}
	})
}
