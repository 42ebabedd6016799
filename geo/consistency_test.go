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
