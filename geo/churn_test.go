package geo

import (
	"context"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestChurnHeap moves drivers millions of times (5M moves of 200k drivers
// in a normal run, fewer under -race or -short) and checks that the live
// heap after the churn is within 10% of the heap before it, and that the
// index still answers exactly and its storage is consistent. Every driver
// is available, so the mirror tree churns too. The baseline is taken after
// a warm-up of five moves per driver: a freshly built tree is coarser than
// one that has lived, because a cell splits as soon as it passes 96
// drivers but merges only below 8, so the first moves split cells that the
// build left nearly full.
func TestChurnHeap(t *testing.T) {
	drivers, moves := 200_000, 5_000_000
	if raceEnabled || testing.Short() {
		drivers, moves = 20_000, 300_000
	}
	r := rand.New(rand.NewPCG(seed(t), 5))
	x := NewIndex(Options{StaleAfter: -1})
	pos := make([]LatLng, drivers)
	for i := range pos {
		pos[i] = LatLng{40.5 + r.Float64()*0.4, -74.25 + r.Float64()*0.55}
		_ = x.Upsert(Driver{ID: DriverID(i), Pos: pos[i], Status: Available})
	}
	move := func(moves int) {
		for i := range moves {
			id := r.IntN(drivers)
			p := pos[id]
			if i%50 == 0 { // a long trip now and then
				p = LatLng{40.5 + r.Float64()*0.4, -74.25 + r.Float64()*0.55}
			} else {
				p.Lat = min(max(p.Lat+(r.Float64()-0.5)*0.001, 40.5), 40.9)
				p.Lng = min(max(p.Lng+(r.Float64()-0.5)*0.001, -74.25), -73.7)
			}
			pos[id] = p
			_ = x.Upsert(Driver{ID: DriverID(id), Pos: p, Status: Available})
		}
	}
	move(5 * drivers)
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	move(moves)
	after := heap()
	t.Logf("heap %d -> %d bytes (%.1f bytes per driver)", before, after, float64(after)/float64(drivers))
	if float64(after) > 1.10*float64(before) {
		t.Fatalf("heap grew from %d to %d bytes after %d moves", before, after, moves)
	}
	checkTree(t, x)
	c := LatLng{40.7, -74}
	got, err := x.Nearby(context.Background(), c, 5_000, 10, nil)
	if err != nil || len(got) != 10 {
		t.Fatalf("Nearby after churn = %d results, %v", len(got), err)
	}
	for i, m := range got {
		if p := stored(pos[m.ID]); m.Pos != p || m.Distance != Distance(c, p) {
			t.Fatalf("result %d = %+v, driver is at %v", i, m, pos[m.ID])
		}
	}
}
