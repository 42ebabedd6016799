package geo

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// TestUpsertPanicReleasesMutex checks that a write that panics (here on a
// mirror tree corrupted on purpose, which mirrorFind reports by panicking)
// lets go of the writers' mutex: Upsert used to unlock without defer.
func TestUpsertPanicReleasesMutex(t *testing.T) {
	x := NewIndex(Options{StaleAfter: -1})
	d := Driver{ID: 7, Pos: LatLng{Lat: 40.7, Lng: -74}, Status: Available, Seen: time.UnixMilli(1)}
	if err := x.Upsert(d); err != nil {
		t.Fatal(err)
	}
	// Drop the mirror copy behind the index's back.
	ml, _ := x.st.findLeaf(mirrorRoot, fix(d.Pos.Lng), fix(d.Pos.Lat))
	x.st.node(ml).leaf.Load().setCount(0)
	x.st.up(ml).cnt = 0
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("Upsert on a corrupted mirror tree did not panic")
			}
		}()
		d.Pos.Lat += 0.001
		_ = x.Upsert(d)
	}()
	if !x.mu.TryLock() {
		t.Fatal("the writers' mutex is still held after Upsert panicked")
	}
	x.mu.Unlock()
}

// TestRemoveStalePanicReleasesMutex is TestUpsertPanicReleasesMutex for
// RemoveStale, whose sweep takes the mutex once a batch: a removal that
// panics must let it go (a deferred unregistering of the sweep, which
// takes the mutex, hung instead).
func TestRemoveStalePanicReleasesMutex(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	x := NewIndex(Options{StaleAfter: time.Minute, Now: func() time.Time { return now }})
	d := Driver{ID: 7, Pos: LatLng{Lat: 40.7, Lng: -74}, Status: Available, Seen: now.Add(-time.Hour)}
	if err := x.Upsert(d); err != nil {
		t.Fatal(err)
	}
	ml, _ := x.st.findLeaf(mirrorRoot, fix(d.Pos.Lng), fix(d.Pos.Lat))
	x.st.node(ml).leaf.Load().setCount(0)
	x.st.up(ml).cnt = 0
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		x.RemoveStale()
	}()
	select {
	case v := <-done:
		if v == nil {
			t.Fatal("RemoveStale on a corrupted mirror tree did not panic")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RemoveStale neither returned nor panicked")
	}
	if !x.mu.TryLock() {
		t.Fatal("the writers' mutex is still held after RemoveStale panicked")
	}
	x.mu.Unlock()
	if len(x.st.sweeps) != 0 {
		t.Fatalf("%d sweeps still registered", len(x.st.sweeps))
	}
}

// TestNearbyNeverOlderThanCutoff has a writer flip the last-seen time of
// the drivers of one leaf between fresh and stale, in place, while a
// reader checks that no result of Nearby is older than the cutoff. The
// leaf scan used to test freshness on one read of an entry's meta and
// return a second read, which could be the stale one.
func TestNearbyNeverOlderThanCutoff(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000).UTC()
	x := NewIndex(Options{StaleAfter: time.Minute, Now: func() time.Time { return now }})
	cut := now.Add(-time.Minute)
	const n = 24 // one leaf
	at := func(i int) LatLng { return LatLng{Lat: 40.7 + float64(i)*1e-5, Lng: -74} }
	for i := range n {
		if err := x.Upsert(Driver{ID: DriverID(i), Pos: at(i), Seen: now}); err != nil {
			t.Fatal(err)
		}
	}
	flip := false
	stop := writeUntilStopped(t, func() error {
		seen := now
		if flip {
			seen = now.Add(-2 * time.Minute)
		}
		flip = !flip
		for i := range n {
			if err := x.Upsert(Driver{ID: DriverID(i), Pos: at(i), Seen: seen}); err != nil {
				return err
			}
		}
		return nil
	})
	rounds := 20_000
	if raceEnabled || testing.Short() {
		rounds = 5_000
	}
	ctx := t.Context()
	var dst []Match
	bad := 0
	for range rounds {
		var err error
		if dst, err = x.AppendNearby(ctx, dst[:0], at(n/2), 1000, 0, nil); err != nil {
			t.Fatal(err)
		}
		for _, m := range dst {
			if m.Seen.Before(cut) {
				bad++
			}
		}
	}
	stop()
	if bad > 0 {
		t.Fatalf("Nearby returned %d results last seen before the cutoff", bad)
	}
}

// TestNearbyKeepsDriverMovingBetweenLeaves moves a driver between two
// leaves that both lie in the circle while Nearby runs, so that the
// search reads the new leaf before the move and the old one after: it
// used to miss the driver (found in review), and now sees the new leaf's
// seq changed and starts over.
func TestNearbyKeepsDriverMovingBetweenLeaves(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := NewIndex(Options{StaleAfter: -1})
	var ds []Driver
	for i := range 3000 {
		d := Driver{ID: DriverID(i), Pos: LatLng{40.6 + r.Float64()*0.1, -74.1 + r.Float64()*0.1}, Seen: time.UnixMilli(1).UTC()}
		if err := x.Upsert(d); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	leafOf := func(id DriverID) int32 {
		x.mu.Lock()
		defer x.mu.Unlock()
		w, ok := x.st.lookup(id)
		if !ok {
			t.Fatalf("%d not found", id)
		}
		return w.leaf
	}
	e := ds[0]
	center := stored(e.Pos)
	tl := leafOf(e.ID)
	if x.st.cnt(tl) >= leafMax-1 {
		t.Fatal("pick another seed: E's leaf is nearly full")
	}
	// D: a driver 2-4 km away in another leaf whose parent holds many.
	var dd Driver
	found := false
	for _, d := range ds[1:] {
		dist := Distance(center, d.Pos)
		if dist < 2000 || dist > 4000 {
			continue
		}
		li := leafOf(d.ID)
		if li == tl || x.st.cnt(li) < mergeBelow+2 || subtreeCount(&x.st, x.st.up(li).parent) < 4*mergeBelow {
			continue
		}
		dd, found = d, true
		break
	}
	if !found {
		t.Fatal("no D")
	}
	moved := dd
	moved.Pos = LatLng{center.Lat + 1e-6, center.Lng + 1e-6}
	if !x.st.box(tl).holds(fix(moved.Pos.Lng), fix(moved.Pos.Lat)) {
		t.Fatal("new position outside E's leaf")
	}
	g0 := x.gen.Load()
	done := false
	res, err := x.Nearby(context.Background(), center, 10_000, 0, func(d Driver) bool {
		if !done && d.ID == e.ID {
			done = true
			// A writer moves D into E's leaf, already read, out of its own leaf, not yet read.
			if err := x.Upsert(moved); err != nil {
				t.Error(err)
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if x.gen.Load() != g0 {
		t.Fatalf("the move changed the tree's shape (gen %d -> %d); pick another D", g0, x.gen.Load())
	}
	got := false
	for _, m := range res {
		got = got || m.ID == dd.ID
	}
	t.Logf("%d results; D (%d) was %.0f m away, moved to %.1f m away, both within 10 km throughout", len(res), dd.ID, Distance(center, dd.Pos), Distance(center, moved.Pos))
	if !got {
		t.Errorf("Nearby missed driver %d, within the radius at both positions throughout the search", dd.ID)
	}
}

// TestSearchesKeepMovers has a writer move drivers at random between the
// leaves of a box while readers run every kind of search over a circle
// that holds the whole box: each must return every driver exactly once,
// since each lies within the circle throughout. Before searches re-checked
// the leaves they read when a driver changed leaf meanwhile, they missed
// drivers caught reading the new leaf before the move and the old after.
func TestSearchesKeepMovers(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 3))
	x := NewIndex(Options{StaleAfter: -1})
	const n = 2000
	somewhere := func(r *rand.Rand) LatLng { return LatLng{Lat: 40.7 + 0.05*r.Float64(), Lng: -74 + 0.05*r.Float64()} }
	for i := range n {
		if err := x.Upsert(Driver{ID: DriverID(i), Pos: somewhere(r), Status: Available, Seen: time.UnixMilli(1)}); err != nil {
			t.Fatal(err)
		}
	}
	wr := rand.New(rand.NewPCG(r.Uint64(), 4))
	stop := writeUntilStopped(t, func() error {
		return x.Upsert(Driver{ID: DriverID(wr.IntN(n)), Pos: somewhere(wr), Status: Available, Seen: time.UnixMilli(1)})
	})
	rounds := 200
	if raceEnabled || testing.Short() {
		rounds = 30
	}
	ctx := context.Background()
	center, radius := LatLng{Lat: 40.725, Lng: -73.975}, 10_000.0
	check := func(kind string, ids []DriverID) {
		t.Helper()
		seen := make([]bool, n)
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("%s returned driver %d twice", kind, id)
			}
			seen[id] = true
		}
		if len(ids) != n {
			t.Fatalf("%s returned %d drivers of %d, all within the radius throughout", kind, len(ids), n)
		}
	}
	matchIDs := func(ms []Match) []DriverID {
		ids := make([]DriverID, len(ms))
		for i, m := range ms {
			ids[i] = m.ID
		}
		return ids
	}
	for range rounds {
		ms, err := x.Nearby(ctx, center, radius, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		check("Nearby", matchIDs(ms))
		if ms, err = x.NearbyAvailable(ctx, center, radius, 0, nil); err != nil {
			t.Fatal(err)
		}
		check("NearbyAvailable", matchIDs(ms))
		if ms, err = x.AppendWithin(ctx, nil, center, radius, nil); err != nil {
			t.Fatal(err)
		}
		check("AppendWithin", matchIDs(ms))
		ids, err := x.AppendWithinIDs(ctx, nil, center, radius)
		if err != nil {
			t.Fatal(err)
		}
		check("AppendWithinIDs", ids)
	}
	stop()
}

// TestRemoveStaleBoundsPile checks that RemoveStale reads at most
// staleScan entries per hold of the mutex even when one leaf holds a pile
// of thousands of mostly fresh drivers at one point (phones reporting
// 0,0): it used to check its budget only between leaves and read the
// whole pile in one hold. It must still delete exactly the stale drivers.
func TestRemoveStaleBoundsPile(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000).UTC()
	x := NewIndex(Options{StaleAfter: time.Minute, Now: func() time.Time { return now }})
	const pile = 20_000 // well beyond staleScan + leafMax
	for i := range pile {
		seen := now
		if i%1000 == 0 {
			seen = now.Add(-time.Hour)
		}
		if err := x.Upsert(Driver{ID: DriverID(i), Pos: LatLng{}, Status: Status(i % 2), Seen: seen}); err != nil {
			t.Fatal(err)
		}
	}
	most := 0
	gone := x.removeStale(func(read int) { most = max(most, read) })
	if gone != pile/1000 || x.Len() != pile-pile/1000 {
		t.Fatalf("RemoveStale deleted %d, left %d; want %d, %d", gone, x.Len(), pile/1000, pile-pile/1000)
	}
	checkTree(t, x) // the pile map too
	if most > staleScan+leafMax {
		t.Fatalf("RemoveStale read %d entries in one hold of the mutex, want at most %d", most, staleScan+leafMax)
	}
	for i := range pile {
		if _, ok := x.Get(DriverID(i)); ok != (i%1000 != 0) {
			t.Fatalf("after RemoveStale Get(%d) = %v", i, ok)
		}
	}
}

// writeUntilStopped calls write on a goroutine of its own, over and over,
// until the returned stop is called (stop waits for it to return) or
// write fails (reported through t).
func writeUntilStopped(t *testing.T, write func() error) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			default:
			}
			if err := write(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// subtreeCount returns the number of drivers below node i (the writer
// counts leaves only).
func subtreeCount(s *treeStore, i int32) int32 {
	c := s.kid(i)
	if c < 0 {
		return s.cnt(i)
	}
	var n int32
	for q := range int32(4) {
		n += subtreeCount(s, c+q)
	}
	return n
}
