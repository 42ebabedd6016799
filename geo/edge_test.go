package geo

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// edgePos draws positions where rounding used to bite: within 1e-5° of
// the antimeridian on both sides, on it as -180 and as 180, at and within
// 1e-5° of the poles, and a few on a 1e-7° grid so that ties occur.
func edgePos(r *rand.Rand) LatLng {
	switch r.IntN(8) {
	case 0:
		return LatLng{90 - r.Float64()*1e-5, r.Float64()*360 - 180}
	case 1:
		return LatLng{-90 + r.Float64()*1e-5, r.Float64()*360 - 180}
	case 2:
		return LatLng{[]float64{90, -90, 90 - 1e-7, -90 + 1e-7}[r.IntN(4)], []float64{180, -180, 0, 33}[r.IntN(4)]}
	case 3:
		return LatLng{r.Float64()*2e-5 - 1e-5, []float64{180, -180}[r.IntN(2)]}
	case 4:
		return LatLng{r.Float64()*2e-5 - 1e-5, 180 - r.Float64()*1e-5}
	case 5:
		return LatLng{r.Float64()*2e-5 - 1e-5, -180 + r.Float64()*1e-5}
	case 6:
		return LatLng{40.7 + float64(r.IntN(3))*1e-7, -74 + float64(r.IntN(3))*1e-7}
	}
	return LatLng{math.Asin(r.Float64()*2-1) * deg, r.Float64()*360 - 180}
}

func TestLngGapAcrossAntimeridian(t *testing.T) {
	// ±180 name one meridian: the same distance, bit for bit.
	c := LatLng{3.3e-6, -179.999999}
	a, b := Distance(c, LatLng{3.3e-6, 180}), Distance(c, LatLng{3.3e-6, -180})
	if a != b {
		t.Errorf("Distance to lng 180 = %.17g, to lng -180 = %.17g", a, b)
	}
	// Mirror images across the antimeridian measure alike.
	p, q := LatLng{1e-6, 179.9999995}, LatLng{-1e-6, -179.9999993}
	d1 := Distance(p, q)
	d2 := Distance(LatLng{p.Lat, -p.Lng}, LatLng{q.Lat, -q.Lng})
	d3 := Distance(LatLng{p.Lat, p.Lng - 180}, LatLng{q.Lat, q.Lng + 180})
	if d1 != d2 || d1 != d3 {
		t.Errorf("mirrored distances differ: %.17g %.17g %.17g", d1, d2, d3)
	}
}

func TestCosDegNearPole(t *testing.T) {
	for _, lat := range []float64{90, -90, 90 - 1e-7, -90 + 1e-7, 89.9999, 60, 45.0000001, 45, 30, 0} {
		// cos(90° - x) = sin x, and sin of a tiny angle is the angle.
		want := math.Cos(lat * rad)
		if x := (90 - math.Abs(lat)) * rad; x < 1e-3 {
			want = x - x*x*x/6
		}
		if got := cosDeg(lat); math.Abs(got-want) > 4e-16*math.Abs(want)+1e-300 {
			t.Errorf("cosDeg(%v) = %.17g, want %.17g", lat, got, want)
		}
	}
}

// TestEdgeExact compares every search with brute force exactly (the same
// drivers, the same distances to the bit, in order of distance) for drivers
// and centers crowded around the antimeridian and the poles.
func TestEdgeExact(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 77))
	x := NewIndex(Options{StaleAfter: -1})
	m := truth{}
	extreme := []DriverID{0, -1, math.MinInt64, math.MaxInt64}
	for i := range 4000 {
		id := DriverID(i*7919 - 2000000)
		if i < len(extreme) {
			id = extreme[i]
		}
		d := Driver{ID: id, Pos: edgePos(r), Status: Status(r.IntN(2)), Seen: time.UnixMilli(5).UTC()}
		if err := x.Upsert(d); err != nil {
			t.Fatal(err)
		}
		m.put(d)
	}
	if bandedCells(x) == 0 {
		t.Fatal("no cell near the poles splits into bands")
	}
	// The storage, and the writer's descents through band cells and
	// along ±180°: each reaches every entry's leaf with its stored box.
	checkTree(t, x)
	rounds := 1200
	if raceEnabled || testing.Short() {
		rounds = 150
	}
	byDist := func(a, b Match) int {
		return cmp.Or(cmp.Compare(a.Distance, b.Distance), cmp.Compare(a.ID, b.ID))
	}
	ctx := context.Background()
	for range rounds {
		var c LatLng
		switch r.IntN(4) {
		case 0:
			c = stored(edgePos(r))
		case 1:
			c = edgePos(r)
		case 2:
			p := edgePos(r)
			c = LatLng{max(-90, min(90, p.Lat+(r.Float64()-0.5)*2e-7)), max(-180, min(180, p.Lng+(r.Float64()-0.5)*2e-7))}
		default:
			c = LatLng{[]float64{90, -90, 0, 90 - 1e-7, -90 + 1e-7}[r.IntN(5)], []float64{180, -180, 0, 179.9999999, -179.9999999, -179.999999}[r.IntN(6)]}
		}
		radius := []float64{0, 1e-3, 0.011, 0.12, 1, 30, 1000, 1e5, 2e7, math.Pi * EarthRadius}[r.IntN(10)]
		k := []int{1, 2, 3, 5, 10, 40, 0}[r.IntN(7)]
		for _, avail := range []bool{false, true} {
			var filter func(Driver) bool
			if avail {
				filter = func(d Driver) bool { return d.Status == Available }
			}
			want := bruteNearby(m, c, radius, 0, math.MinInt64, filter)
			slices.SortFunc(want, byDist)
			var got []Match
			var err error
			if avail {
				got, err = x.NearbyAvailable(ctx, c, radius, k, nil)
			} else {
				got, err = x.Nearby(ctx, c, radius, k, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			n := len(want)
			if k > 0 {
				n = min(n, k)
			}
			if len(got) != n {
				t.Fatalf("Nearby(%.17g, %.17g, %v, k=%d, avail %v) returned %d, want %d", c.Lat, c.Lng, radius, k, avail, len(got), n)
			}
			seen := map[DriverID]bool{}
			for i, g := range got {
				// In order of distance, each the k-th smallest, each
				// distance exactly Distance's: ties may come in any order.
				if g.Distance != want[i].Distance || g.Distance != Distance(c, g.Pos) || g.Driver != m[g.ID] || seen[g.ID] {
					for j := max(i-2, 0); j < min(i+3, len(got)); j++ {
						t.Logf("%d got %v %.17g,%.17g %.17g | want %v %.17g,%.17g %.17g", j, got[j].ID, got[j].Pos.Lat, got[j].Pos.Lng, got[j].Distance, want[j].ID, want[j].Pos.Lat, want[j].Pos.Lng, want[j].Distance)
					}
					t.Fatalf("Nearby(%.17g, %.17g, %v, k=%d, avail %v)[%d] = %v at %.17g m, want %v at %.17g m",
						c.Lat, c.Lng, radius, k, avail, i, g.ID, g.Distance, want[i].ID, want[i].Distance)
				}
				seen[g.ID] = true
			}
			if k > 0 {
				continue
			}
			w, err := x.AppendWithin(ctx, nil, c, radius, filter)
			if err != nil {
				t.Fatal(err)
			}
			slices.SortFunc(w, byDist)
			if !slices.Equal(w, want) {
				t.Fatalf("AppendWithin(%.17g, %.17g, %v, avail %v) = %d drivers, want %d (or distances differ)", c.Lat, c.Lng, radius, avail, len(w), len(want))
			}
			if avail {
				continue
			}
			ids, err := x.AppendWithinIDs(ctx, nil, c, radius)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(ids)
			wantIDs := make([]DriverID, len(want))
			for i := range want {
				wantIDs[i] = want[i].ID
			}
			slices.Sort(wantIDs)
			if !slices.Equal(ids, wantIDs) {
				t.Fatalf("AppendWithinIDs(%.17g, %.17g, %v) = %d drivers, want %d", c.Lat, c.Lng, radius, len(ids), len(wantIDs))
			}
		}
	}
}

// TestBoundEdgeCases pins two cells whose lower bound once exceeded the
// key of a point inside them: the subtraction of the center's longitude
// from -180 lost digits across the antimeridian, and that of latitudes in
// radians near the pole lost those of a metre-sized gap.
func TestBoundEdgeCases(t *testing.T) {
	for _, tc := range []struct {
		c    LatLng
		cell rect
		p    LatLng
	}{
		{LatLng{2.5e-6, 179.9999941}, rect{MinX: -180, MinY: 0, MaxX: -179.99, MaxY: 1e-5}, LatLng{2.5e-6, -180}},
		{LatLng{89.999858, -175.239567}, rect{MinX: -64.87291560300366, MinY: 30.63806070606288, MaxX: 16.876959330235294, MaxY: 90}, LatLng{90, -25.79199461546218}},
	} {
		q := newSphereQuery(tc.c)
		b, h := q.bound(tc.cell), hav(q.lat, q.lng, q.cosLat, tc.p.Lat, tc.p.Lng)
		if b > h {
			t.Errorf("bound %.17g of cell %+v exceeds key %.17g of %v from %v", b, tc.cell, h, tc.p, tc.c)
		}
	}
}

// TestWithinNearAntipode checks the radius searches on circles whose edge
// runs within a few metres of the center's antipode, where Distance
// rounds by up to 0.3 m: every driver within radius by Distance is found
// (AppendWithinIDs missed a driver 0.14 m from the south pole for a
// circle around the north pole reaching just past it).
func TestWithinNearAntipode(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 9))
	ctx := context.Background()
	for range 200 {
		c := LatLng{Lat: math.Copysign(90, r.Float64()-0.5), Lng: r.Float64()*360 - 180}
		if r.IntN(2) == 0 {
			c = edgePos(r)
		}
		anti := LatLng{Lat: -c.Lat, Lng: normLng(c.Lng + 180)}
		x := NewIndex(Options{StaleAfter: -1})
		pts := make([]LatLng, 64)
		for i := range pts {
			pts[i] = stored(Destination(anti, r.Float64()*360, r.Float64()*3))
			if err := x.Upsert(Driver{ID: DriverID(i), Pos: pts[i]}); err != nil {
				t.Fatal(err)
			}
		}
		radius := Distance(c, pts[r.IntN(len(pts))])
		var want []DriverID
		for i, p := range pts {
			if Distance(c, p) <= radius {
				want = append(want, DriverID(i))
			}
		}
		ids, err := x.AppendWithinIDs(ctx, nil, c, radius)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, want) {
			t.Fatalf("AppendWithinIDs(%v, %v) = %v, want %v", c, radius, ids, want)
		}
		ms, err := x.AppendWithin(ctx, nil, c, radius, nil)
		if err != nil || len(ms) != len(want) {
			t.Fatalf("AppendWithin(%v, %v) = %d matches, %v; want %d", c, radius, len(ms), err, len(want))
		}
	}
}
