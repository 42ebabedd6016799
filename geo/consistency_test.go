package geo

import (
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
	ml := x.st.findLeaf(mirrorRoot, fix(d.Pos.Lng), fix(d.Pos.Lat))
	x.st.node(ml).leaf.Load().setCount(0)
	x.st.node(ml).cnt = 0
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
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for r := 0; ; r++ {
			select {
			case <-stop:
				return
			default:
			}
			seen := now
			if r&1 != 0 {
				seen = now.Add(-2 * time.Minute)
			}
			for i := range n {
				if err := x.Upsert(Driver{ID: DriverID(i), Pos: at(i), Seen: seen}); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
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
	close(stop)
	<-done
	if bad > 0 {
		t.Fatalf("Nearby returned %d results last seen before the cutoff", bad)
	}
}
