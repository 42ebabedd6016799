package geo

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestRemoveStaleYieldsMutex checks that RemoveStale lets go of the
// writers' mutex between batches: an Upsert issued once the sweep has
// begun completes before it ends (it used to wait for the whole sweep, and
// a search falling back to the mutex with it), and the sweep still deletes
// exactly the stale drivers.
func TestRemoveStaleYieldsMutex(t *testing.T) {
	n := 200_000
	if raceEnabled || testing.Short() {
		n = 40_000
	}
	isFresh := func(i int) bool { return i%100 == 0 }
	now := time.Unix(1_800_000_000, 0)
	clk := func() time.Time { return now }
	r := rand.New(rand.NewPCG(seed(t), 11))
	interleaved := false
	for trial := 0; trial < 3 && !interleaved; trial++ {
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
		var wg sync.WaitGroup
		var gone int
		wg.Go(func() { gone = x.RemoveStale() })
		for x.Len() == total {
			// wait for the sweep to begin
		}
		extra := Driver{ID: -1, Pos: LatLng{40.7, -74}, Seen: now}
		if err := x.Upsert(extra); err != nil {
			t.Fatal(err)
		}
		// The sweep deletes one driver at a time: had the Upsert waited
		// for all of it, Len would now be down to the survivors.
		mid := x.Len()
		wg.Wait()
		if gone != total-want || x.Len() != want+1 {
			t.Fatalf("RemoveStale deleted %d of %d, leaving %d; want %d deleted, %d left", gone, total, x.Len(), total-want, want+1)
		}
		for i := range n {
			if _, ok := x.Get(DriverID(i)); ok != isFresh(i) {
				t.Fatalf("after RemoveStale Get(%d) = %v", i, ok)
			}
		}
		interleaved = mid > want+1
		t.Logf("trial %d: %d drivers left when the Upsert returned, %d after the sweep", trial, mid, x.Len())
	}
	if !interleaved {
		t.Fatal("every Upsert waited for the whole RemoveStale sweep")
	}
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
	// Both ends of the range round-trip.
	for _, ms := range []int64{0, maxSeenMilli} {
		if err := x.Upsert(Driver{ID: 3, Pos: pos, Seen: time.UnixMilli(ms)}); err != nil {
			t.Fatal(err)
		}
		if d, ok := x.Get(3); !ok || d.Seen.UnixMilli() != ms {
			t.Fatalf("Get(3) = %v, %v; want Seen %d ms", d, ok, ms)
		}
	}
}
