package geo

import (
	"math"
	"math/rand/v2"
	"testing"
)

// polarLat draws a latitude in a polar band, heavy on 89.99-90.
func polarLat(r *rand.Rand) float64 {
	s := 1.0
	if r.IntN(2) == 0 {
		s = -1
	}
	switch r.IntN(4) {
	case 0:
		return s * (89.99 + r.Float64()*0.01)
	case 1:
		return s * 90
	case 2:
		return s * (90 - math.Pow(10, -r.Float64()*7))
	}
	return s * (60 + r.Float64()*30)
}

// edgyLng draws a longitude, heavy on ±180 and just inside it.
func edgyLng(r *rand.Rand) float64 {
	switch r.IntN(3) {
	case 0:
		return math.Copysign(180-math.Pow(10, -r.Float64()*7)*r.Float64(), r.Float64()-0.5)
	case 1:
		return []float64{180, -180}[r.IntN(2)]
	}
	return r.Float64()*360 - 180
}

// TestSteepBounds checks the per-entry bounds of steep (polar) cells,
// leafBound.steepLower and steepUpper, against the exact key of random
// points: boxes touching either pole, straddling the equator, one unit to
// the whole world wide, at and near ±180, and points on the edges and
// within a few units of the query. A lower bound above the key would drop
// a true neighbour from a search.
func TestSteepBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 77))
	steep, checked, straddle, pole := 0, 0, 0, 0
	worstLo, worstHi := 0.0, math.Inf(1)
	n := 40_000
	if testing.Short() {
		n = 10_000
	}
	for range n {
		// polar box: height 1 unit to 30 degrees, touching the pole in 1/3.
		hgt := int32(math.Pow(10, 1+r.Float64()*8))
		wid := int64(math.Pow(10, r.Float64()*9.5))
		if r.IntN(4) == 0 {
			wid = int64(worldX1) - worldX0 - 1
		}
		var y0 int32
		south := r.IntN(2) == 0
		if r.IntN(3) == 0 {
			y0 = worldY1 - 1 - hgt
		} else {
			y0 = min(fix(math.Abs(polarLat(r))), worldY1-1-hgt)
		}
		y1 := y0 + hgt + 1
		if r.IntN(10) == 0 { // straddle the equator / near it
			y0 = -int32(r.IntN(int(hgt) + 1))
			y1 = y0 + hgt + 1
		}
		if south {
			y0, y1 = -(y1 - 1), -y0+1
		}
		y0 = max(y0, worldY0)
		y1 = min(y1, worldY1)
		x064 := max(min(max(int64(fix(edgyLng(r))), worldX0), worldX1-1-wid), worldX0)
		x0 := int32(x064)
		x1 := int32(min(x064+wid+1, worldX1))
		box := ibox{x0, y0, x1, y1}
		var c LatLng
		switch r.IntN(3) {
		case 0:
			c = LatLng{polarLat(r), edgyLng(r)}
		case 1:
			c = LatLng{min(max(unfix(y0+r.Int32N(y1-y0)), -90), 90), min(max(unfix(int32(int64(x0)+r.Int64N(int64(x1)-int64(x0))))+(r.Float64()-0.5)*1e-6, -180), 180)}
			c.Lat = min(max(c.Lat+(r.Float64()-0.5)*1e-6, -90), 90)
		default:
			c = LatLng{r.Float64()*180 - 90, edgyLng(r)}
		}
		if r.IntN(8) == 0 {
			c = stored(c)
		}
		q := newSphereQuery(c)
		lb := q.leafBound(box)
		if !lb.steep {
			continue
		}
		steep++
		if box.y0 <= 0 && box.y1 > 0 {
			straddle++
		}
		if box.y1 == worldY1 || box.y0 == worldY0 {
			pole++
		}
		for range 30 {
			x := int32(int64(x0) + r.Int64N(int64(x1)-int64(x0)))
			y := y0 + r.Int32N(y1-y0)
			switch r.IntN(5) {
			case 0:
				y = []int32{y0, y1 - 1}[r.IntN(2)]
			case 1:
				x = []int32{x0, x1 - 1}[r.IntN(2)]
			case 2: // near the query
				y = min(max(fix(c.Lat)+r.Int32N(5)-2, y0), y1-1)
				x = min(max(fix(c.Lng)+r.Int32N(5)-2, x0), x1-1)
			}
			p := packPos(x, y)
			dLat, dLng := lb.gaps(p)
			lo := lb.steepLower(&q, posLat(p), dLat, dLng)
			hi := lb.steepUpper(&q, posLat(p), dLat, dLng)
			h := hav(c.Lat, c.Lng, q.cosLat, unfix(y), unfix(x))
			checked++
			if lo > h || hi < h {
				t.Fatalf("steep bounds [%v, %v] miss key %v: box %+v point %v center %v", lo, hi, h, box, posLatLng(p), c)
			}
			if h > 0 {
				worstLo = max(worstLo, lo/h)
				worstHi = min(worstHi, hi/h)
			}
		}
	}
	t.Logf("straddle %d pole %d steep boxes %d, points %d, max lo/key %v, min hi/key %v", straddle, pole, steep, checked, worstLo, worstHi)
}
