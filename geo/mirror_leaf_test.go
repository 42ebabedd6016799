package geo

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// leafSizes returns the largest entry count of a leaf under root whose
// entries do not all share one point.
func leafSizes(x *Index, root int32) int32 {
	var most int32
	var walk func(i int32)
	walk = func(i int32) {
		n := x.st.node(i)
		if c := n.child.Load(); c >= 0 {
			for q := range int32(4) {
				walk(c + q)
			}
			return
		}
		b := n.leaf.Load()
		if b == nil {
			return
		}
		cnt := b.count()
		for j := range cnt {
			if b.pos(j) != b.pos(0) {
				most = max(most, cnt)
				break
			}
		}
	}
	walk(root)
	return most
}

// TestMirrorLeafSize crowds available drivers into a small box so that
// mirror leaves split at mirrorLeafMax while main-tree leaves split at
// leafMax; it checks the storage, NearbyAvailable against brute force,
// and the storage again after status changes and removals empty the
// mirror leaves' upper slots.
func TestMirrorLeafSize(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 31))
	x := NewIndex(Options{StaleAfter: -1})
	m := truth{}
	for id := range DriverID(3000) {
		d := Driver{ID: id, Pos: LatLng{Lat: 48.85 + r.Float64()*0.02, Lng: 2.35 + r.Float64()*0.02},
			Status: Available, Seen: time.UnixMilli(1).UTC()}
		if err := x.Upsert(d); err != nil {
			t.Fatal(err)
		}
		m.put(d)
	}
	checkTree(t, x)
	if got := leafSizes(x, mainRoot); got > leafMax {
		t.Fatalf("a main-tree leaf holds %d entries at several points, more than %d", got, leafMax)
	}
	if got := leafSizes(x, mirrorRoot); got <= mirrorLeafMax/2 || got > mirrorLeafMax {
		t.Fatalf("the largest mirror leaf holds %d entries, want (%d, %d]", got, mirrorLeafMax/2, mirrorLeafMax)
	}
	ctx := context.Background()
	check := func() {
		t.Helper()
		for range 50 {
			c := LatLng{Lat: 48.85 + r.Float64()*0.02, Lng: 2.35 + r.Float64()*0.02}
			got, err := x.NearbyAvailable(ctx, c, 5_000, 10, nil)
			if err != nil {
				t.Fatal(err)
			}
			var want []float64
			for _, d := range m {
				if d.Status == Available {
					want = append(want, Distance(c, d.Pos))
				}
			}
			slices.Sort(want)
			want = want[:min(10, len(want))]
			if len(got) != len(want) {
				t.Fatalf("NearbyAvailable(%v) = %d drivers, want %d", c, len(got), len(want))
			}
			for i, g := range got {
				if g.Distance != want[i] || m[g.ID].Status != Available {
					t.Fatalf("NearbyAvailable(%v)[%d] = %+v, want distance %v", c, i, g, want[i])
				}
			}
		}
	}
	check()
	for id := range DriverID(3000) {
		switch r.IntN(3) {
		case 0:
			if err := x.SetStatus(id, Unavailable); err != nil {
				t.Fatal(err)
			}
			d := m[id]
			d.Status = Unavailable
			m[id] = d
		case 1:
			x.Remove(id)
			delete(m, id)
		}
	}
	checkTree(t, x)
	check()
}
