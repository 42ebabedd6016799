package geo

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestRemoveStaleYieldsMutex checks that RemoveStale lets go of the
// writers' mutex between batches: an Upsert issued from another goroutine
// after the sweep's first batch completes while the sweep is still under
// way (it used to wait for the whole sweep, and a search falling back to
// the mutex with it), and the sweep still deletes exactly the stale
// drivers. The test hook runs between batches, so no timing is involved.
func TestRemoveStaleYieldsMutex(t *testing.T) {
	n := 200_000
	if raceEnabled || testing.Short() {
		n = 40_000
	}
	isFresh := func(i int) bool { return i%100 == 0 }
	now := time.Unix(1_800_000_000, 0)
	clk := func() time.Time { return now }
	r := rand.New(rand.NewPCG(seed(t), 11))
	x := NewIndex(Options{StaleAfter: time.Minute, Now: clk})
	for i := range n {
		seen := now.Add(-time.Hour)
		if isFresh(i) {
			seen = now
		}
		d := Driver{ID: DriverID(i), Pos: LatLng{40.5 + r.Float64()*0.4, -74.25 + r.Float64()*0.55}, Seen: seen}
		if err := x.Upsert(d); err != nil {
			t.Fatal(err)
		}
	}
	want, total := n/100, x.Len()
	extra := Driver{ID: -1, Pos: LatLng{40.7, -74}, Seen: now}
	batches, mid := 0, -1
	gone := x.removeStale(func(int) {
		if batches++; batches != 1 {
			return
		}
		// Between the first and second batch: another writer gets the
		// mutex. Were it still held, the Upsert would never return and
		// the test would time out.
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := x.Upsert(extra); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		mid = x.Len()
	})
	if batches < 2 {
		t.Fatalf("RemoveStale ran in %d batch(es); want several for %d stale drivers", batches, total-want)
	}
	if mid <= want+1 {
		t.Fatalf("after the first batch %d drivers were left; the sweep had already finished", mid)
	}
	if gone != total-want || x.Len() != want+1 {
		t.Fatalf("RemoveStale deleted %d of %d, leaving %d; want %d deleted, %d left", gone, total, x.Len(), total-want, want+1)
	}
	for i := range n {
		if _, ok := x.Get(DriverID(i)); ok != isFresh(i) {
			t.Fatalf("after RemoveStale Get(%d) = %v", i, ok)
		}
	}
	if _, ok := x.Get(extra.ID); !ok {
		t.Fatal("the Upsert made during the sweep was lost")
	}
	t.Logf("%d batches; %d drivers left after the first", batches, mid)
}

// TestUpsertRejectsSeenOutOfRange checks that a last-seen time the meta
// cannot hold is rejected rather than clamped to 1970 (stale at once) or
// wrapped past year 10889, and that the index is left unchanged.
func TestUpsertRejectsSeenOutOfRange(t *testing.T) {
	x := NewIndex(Options{StaleAfter: -1})
	pos := LatLng{40.7, -74}
	if err := x.Upsert(Driver{ID: 1, Pos: pos, Seen: time.UnixMilli(7)}); err != nil {
		t.Fatal(err)
	}
	for _, seen := range []time.Time{
		time.UnixMilli(-1),
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
		time.UnixMilli(maxSeenMilli + 1),
		time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC),
		// Far enough away that UnixMilli wraps around into the range.
		time.Unix(18446744073709552, 0),
		time.Unix(-18446744073709551, 0),
	} {
		for _, id := range []DriverID{1, 2} {
			if err := x.Upsert(Driver{ID: id, Pos: pos, Seen: seen}); !errors.Is(err, ErrInvalidSeen) {
				t.Errorf("Upsert(Seen %v) = %v, want ErrInvalidSeen", seen, err)
			}
		}
	}
	if x.Len() != 1 {
		t.Fatalf("Len = %d after rejected upserts, want 1", x.Len())
	}
	if d, ok := x.Get(1); !ok || !d.Seen.Equal(time.UnixMilli(7)) {
		t.Fatalf("Get(1) = %v, %v; want Seen 7 ms after 1970", d, ok)
	}
	// Both ends of the range round-trip, the last millisecond's last
	// nanosecond included.
	for _, seen := range []time.Time{time.Unix(0, 0), time.UnixMilli(maxSeenMilli).Add(time.Millisecond - 1)} {
		if err := x.Upsert(Driver{ID: 3, Pos: pos, Seen: seen}); err != nil {
			t.Fatal(err)
		}
		if d, ok := x.Get(3); !ok || d.Seen.UnixMilli() != seen.UnixMilli() {
			t.Fatalf("Get(3) = %v, %v; want Seen %d ms", d, ok, seen.UnixMilli())
		}
	}
}

// TestRemoveStaleGoesBack checks that a driver stale since before
// RemoveStale began is deleted even when another writer, between two of
// the sweep's batches, splits its leaf into nodes the sweep has passed (a
// group a collapse released). The sweep used to go back only when it had
// deleted something itself, and missed it.
func TestRemoveStaleGoesBack(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	x := NewIndex(Options{StaleAfter: time.Minute, Now: func() time.Time { return now }})
	r := rand.New(rand.NewPCG(seed(t), 2))
	up := func(id int, p LatLng, seen time.Time) {
		t.Helper()
		if err := x.Upsert(Driver{ID: DriverID(id), Pos: p, Seen: seen}); err != nil {
			t.Fatal(err)
		}
	}
	// A tight cluster first, so that its cells take low node indexes,
	// then a city, then a crowd in Sydney with one stale driver.
	for i := range 100 {
		up(i, LatLng{40 + float64(i)*1e-6, -75}, now)
	}
	for i := range 5000 {
		up(1000+i, LatLng{40.6 + r.Float64()*0.2, -74.1 + r.Float64()*0.2}, now)
	}
	const stale = 9000
	up(stale, LatLng{-33.9, 151.2}, now.Add(-2*time.Minute))
	for i := range 300 {
		up(stale+1+i, LatLng{-33.9 + r.Float64()*0.01, 151.2 + r.Float64()*0.01}, now)
	}
	leaf := func() int32 {
		x.mu.Lock()
		defer x.mu.Unlock()
		w, ok := x.st.lookup(stale)
		if !ok {
			return -1
		}
		return w.leaf
	}
	from, to, batches := leaf(), int32(-1), 0
	got := x.removeStale(func(int) {
		if batches++; batches != 1 {
			return
		}
		// The cluster leaves (its cells collapse, releasing low node
		// groups) and drivers arrive in the stale driver's leaf until it
		// splits.
		for i := range 100 {
			x.Remove(DriverID(i))
		}
		x.mu.Lock()
		b := *x.st.box(from)
		x.mu.Unlock()
		for i := 0; x.st.node(from).child.Load() < 0; i++ {
			up(20000+i, LatLng{unfix(b.y0) + r.Float64()*unfix(b.y1-b.y0), unfix(b.x0) + r.Float64()*unfix(b.x1-b.x0)}, now)
		}
		to = leaf()
	})
	if batches < 2 || to < 0 || to >= from {
		t.Fatalf("the test did not move the driver behind the sweep: %d batches, leaf %d to %d", batches, from, to)
	}
	if got != 1 || leaf() >= 0 {
		t.Fatalf("RemoveStale deleted %d; the driver stale since before it began is still stored: %v", got, leaf() >= 0)
	}
	checkTree(t, x)
}

// TestCutoffClampsClock checks a clock far outside the times a driver's
// last-seen time can hold. time.Time.UnixMilli wraps around some 292
// million years away, so the cutoff computed from it used to be any
// number: a clock in the far past made RemoveStale delete every driver,
// one in the far future kept them all. Drivers are fresh when the clock is
// before 1970 (they were seen after it) and stale when it is past the year
// 10889.
func TestCutoffClampsClock(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	x := NewIndex(Options{StaleAfter: time.Minute, Now: func() time.Time { return now }})
	for i := range 100 {
		if err := x.Upsert(Driver{ID: DriverID(i), Pos: LatLng{40.7, -74 + float64(i)*1e-3}, Status: Available}); err != nil {
			t.Fatal(err)
		}
	}
	// UnixMilli of this second is below math.MinInt64 and wraps to a
	// positive number in the year 292 million.
	now = time.Unix(-9_223_372_036_854_776, 0)
	if d, ok := x.Get(5); !ok {
		t.Fatalf("clock in the far past: Get(5) = %v, false; want the driver", d)
	}
	if n := x.RemoveStale(); n != 0 {
		t.Fatalf("clock in the far past: RemoveStale deleted %d drivers; want 0", n)
	}
	// UnixMilli of this second wraps to 0 (plus the milliseconds).
	now = time.Unix(1<<62, 0)
	if d, ok := x.Get(5); ok {
		t.Fatalf("clock past the year 10889: Get(5) = %v; want it stale", d)
	}
	if got, err := x.Nearby(context.Background(), LatLng{40.7, -74}, 1e6, 10, nil); err != nil || len(got) != 0 {
		t.Fatalf("clock past the year 10889: Nearby = %v, %v; want nothing", got, err)
	}
	if n := x.RemoveStale(); n != 100 {
		t.Fatalf("clock past the year 10889: RemoveStale deleted %d drivers; want 100", n)
	}
}

// TestStaleWrites checks what the writes that name a driver by ID do to a
// stale driver. CompareAndSwapStatus refuses it with ErrNotFound and
// changes nothing: a claim must not go to a driver that stopped
// reporting. SetStatus sets its status, and it stays invisible until it
// reports again; a Move then brings it back with that status (a driver
// whose trip outlasted its reports is free again once it reports, if the
// trip's end freed it). Remove deletes it and reports true, as RemoveStale
// would count it: Len, which counts stale drivers, drops by one. Putting
// the clock back shows what each left.
func TestStaleWrites(t *testing.T) {
	ctx := context.Background()
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	x := NewIndex(Options{StaleAfter: 10 * time.Second, Now: clk.Now})
	p := LatLng{1, 1}
	for id := range DriverID(3) {
		if err := x.Upsert(Driver{ID: id, Pos: p, Status: Unavailable}); err != nil {
			t.Fatal(err)
		}
	}
	// At exactly StaleAfter a driver is still fresh, for Get and SetStatus.
	clk.Add(10 * time.Second)
	if _, ok := x.Get(0); !ok {
		t.Fatal("Get(0) at exactly StaleAfter = false")
	}
	if err := x.SetStatus(0, Unavailable); err != nil {
		t.Fatalf("SetStatus(0) at exactly StaleAfter = %v", err)
	}
	clk.Add(time.Millisecond)
	if _, ok := x.Get(1); ok {
		t.Fatal("Get(1) of a stale driver = true")
	}
	if ok, err := x.CompareAndSwapStatus(1, Unavailable, Available); ok || !errors.Is(err, ErrNotFound) {
		t.Fatalf("CompareAndSwapStatus(1) of a stale driver = %v, %v; want ErrNotFound", ok, err)
	}
	if !x.Remove(2) || x.Len() != 2 {
		t.Fatalf("Remove(2) of a stale driver: Len %d, want 2 and true", x.Len())
	}
	if x.Remove(2) {
		t.Fatal("second Remove(2) = true")
	}
	if got, _ := x.NearbyAvailable(ctx, p, 1000, 0, nil); len(got) != 0 {
		t.Fatalf("NearbyAvailable = %+v, want none", got)
	}
	clk.Add(-time.Minute)
	if d, ok := x.Get(1); !ok || d.Status != Unavailable {
		t.Fatalf("with the clock put back Get(1) = %+v, %v; want it Unavailable as it was", d, ok)
	}
	if got, _ := x.NearbyAvailable(ctx, p, 1000, 0, nil); len(got) != 0 {
		t.Fatalf("with the clock put back NearbyAvailable = %+v, want none", got)
	}
	clk.Add(time.Minute)

	// A stale driver freed by SetStatus stays invisible, and is available
	// once it reports with Move, which keeps the status.
	if err := x.SetStatus(1, Available); err != nil {
		t.Fatalf("SetStatus(1) of a stale driver = %v", err)
	}
	if _, ok := x.Get(1); ok {
		t.Fatal("SetStatus made a stale driver visible")
	}
	if got, _ := x.NearbyAvailable(ctx, p, 1000, 0, nil); len(got) != 0 {
		t.Fatalf("after SetStatus of a stale driver NearbyAvailable = %+v, want none", got)
	}
	if err := x.Move(1, p, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := x.NearbyAvailable(ctx, p, 1000, 0, nil); len(got) != 1 || got[0].ID != 1 {
		t.Fatalf("after the stale driver's Move NearbyAvailable = %+v, want driver 1", got)
	}
	if _, ok := x.Get(2); ok {
		t.Fatal("Remove(2) of a stale driver left it in the index")
	}
	checkTree(t, x)

	never := NewIndex(Options{StaleAfter: -1, Now: clk.Now})
	if err := never.Upsert(Driver{ID: 1, Pos: p, Seen: time.UnixMilli(1)}); err != nil {
		t.Fatal(err)
	}
	if err := never.SetStatus(1, Available); err != nil {
		t.Fatalf("SetStatus with StaleAfter < 0 = %v", err)
	}
}
