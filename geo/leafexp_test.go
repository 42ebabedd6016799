package geo

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// TestLeafCrossings (temporary, experiment) counts the fraction of the
// benchmark's New York moves that change main-tree leaf.
func TestLeafCrossings(t *testing.T) {
	if os.Getenv("GEO_LEAF_EXP") == "" {
		t.Skip("experiment: set GEO_LEAF_EXP=1")
	}
	const n = 1_000_000
	r := rand.New(rand.NewPCG(42, 7))
	x := NewIndex(Options{StaleAfter: -1})
	seen := time.Unix(1_700_000_000, 0)
	pts := make([]LatLng, n)
	for i := range pts {
		pts[i] = LatLng{Lat: 40.5 + r.Float64()*0.4, Lng: -74.25 + r.Float64()*0.55}
		st := Unavailable
		if i%10 == 0 {
			st = Available
		}
		_ = x.Upsert(Driver{ID: DriverID(i), Pos: pts[i], Status: st, Seen: seen})
	}
	leaves, tot := 0, 0
	for i := range x.st.nnode {
		if b := x.st.node(i).leaf.Load(); b != nil && !x.st.node(i).mirror() {
			leaves++
			tot += int(b.count())
		}
	}
	r = rand.New(rand.NewPCG(1, 2))
	cross, moves := 0, 2_000_000
	for range moves {
		id := r.IntN(n)
		p := pts[id]
		p.Lat = min(max(p.Lat+(r.Float64()-0.5)*0.001, 40.5), 40.9)
		p.Lng = min(max(p.Lng+(r.Float64()-0.5)*0.001, -74.25), -73.7)
		pts[id] = p
		w, _ := x.st.lookup(DriverID(id))
		if !x.st.ref(w.leaf).b.box.holds(fix(p.Lng), fix(p.Lat)) {
			cross++
		}
		_ = x.Upsert(Driver{ID: DriverID(id), Pos: p, Status: map[bool]Status{true: Available, false: Unavailable}[id%10 == 0], Seen: seen})
	}
	t.Logf("leafMax %d: %d main leaves, %.1f drivers/leaf, nbits %d, crossings %.4f", leafMax, leaves, float64(tot)/float64(leaves), x.st.table.nbits, float64(cross)/float64(moves))
}
