package geo

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randBoxPoint draws a point of the world, a third of them within 1e-4° of
// a pole, a third above 60° north or south.
func randBoxPoint(r *rand.Rand) (x, y int32) {
	x = int32(r.Int64N(int64(worldX1)-int64(worldX0))) + worldX0
	switch r.IntN(3) {
	case 0:
		y = worldY1 - 1 - int32(r.IntN(1000))
	case 1:
		y = 6e8 + int32(r.IntN(3e8+1))
	default:
		y = int32(r.Int64N(int64(worldY1)-int64(worldY0))) + worldY0
	}
	if r.IntN(2) == 0 {
		y = -y
	}
	return x, y
}

// TestCellSplit checks the split rule on the cells of random descents and
// on arbitrary boxes: the four children tile the parent exactly (each
// inside it, pairwise disjoint, their areas summing to its area), quadrant
// names the one child that holds a point, a split into bands happens only
// where the rule says and keeps the longitudes, the descent to a point
// ends within maxDepth levels, and cells above 60° are physically squarer
// than the squares in degrees of a plain quadtree.
func TestCellSplit(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 11))
	area := func(b ibox) int64 { return (int64(b.x1) - int64(b.x0)) * (int64(b.y1) - int64(b.y0)) }
	check := func(b ibox) {
		t.Helper()
		kids := b.children()
		var sum int64
		for q, c := range kids {
			if c != b.child(int32(q)) {
				t.Fatalf("%+v: child(%d) = %+v, children()[%d] = %+v", b, q, b.child(int32(q)), q, c)
			}
			if c.x0 < b.x0 || c.x1 > b.x1 || c.y0 < b.y0 || c.y1 > b.y1 || c.x0 > c.x1 || c.y0 > c.y1 {
				t.Fatalf("%+v: child %d %+v is not inside it", b, q, c)
			}
			for _, d := range kids[q+1:] {
				if max(c.x0, d.x0) < min(c.x1, d.x1) && max(c.y0, d.y0) < min(c.y1, d.y1) {
					t.Fatalf("%+v: children %+v and %+v overlap", b, c, d)
				}
			}
			sum += area(c)
		}
		if sum != area(b) {
			t.Fatalf("%+v: children %+v cover %d units², not %d", b, kids, sum, area(b))
		}
		if b.bands() {
			if !b.polar() {
				t.Fatalf("%+v splits into bands but is not polar", b)
			}
			near := min(abs32(b.y0), abs32(b.y1-1))
			if b.y1-b.y0 < 4 || near < 6e8 || (b.y0 < 0 && b.y1 > 0) {
				t.Fatalf("%+v splits into bands", b)
			}
			for _, c := range kids {
				if c.x0 != b.x0 || c.x1 != b.x1 || c.y1-c.y0 < 1 {
					t.Fatalf("%+v: band %+v", b, c)
				}
			}
		}
		// Points: the corners, the midlines and random ones.
		mx, my := b.mid()
		xs := []int32{b.x0, b.x1 - 1, mx, mx - 1, b.x0 + int32(r.Int64N(int64(b.x1)-int64(b.x0)))}
		ys := []int32{b.y0, b.y1 - 1, my, my - 1, b.y0 + int32(r.Int64N(int64(b.y1)-int64(b.y0)))}
		for _, x := range xs {
			for _, y := range ys {
				if !b.holds(x, y) {
					continue
				}
				q := b.quadrant(x, y)
				if dq, dc := b.descend(x, y); dq != q || dc != kids[q] {
					t.Fatalf("%+v: descend(%d, %d) = %d, %+v; quadrant %d, child %+v", b, x, y, dq, dc, q, kids[q])
				}
				for i, c := range kids {
					if c.holds(x, y) != (int32(i) == q) {
						t.Fatalf("%+v: (%d, %d) in quadrant %d, but child %d %+v holds it: %v", b, x, y, q, i, c, c.holds(x, y))
					}
				}
			}
		}
	}
	descents, boxes := 3000, 3000
	if testing.Short() {
		descents, boxes = 600, 600
	}
	banded := 0
	for range descents {
		x, y := randBoxPoint(r)
		b := worldBox
		for depth := 1; b.x1-b.x0 > 1 || b.y1-b.y0 > 1; depth++ {
			if depth >= maxDepth {
				t.Fatalf("descent to (%d, %d) deeper than %d levels", x, y, maxDepth)
			}
			check(b)
			if b.bands() {
				banded++
			}
			// A cell at or above 60°, from 1 km to 22.5° tall, is at
			// least half as wide as it is tall on its side nearer the
			// equator; in a plain quadtree it can be as thin as
			// 2·cos φ (0.001 at 89.97°).
			if dlat := b.y1 - b.y0; dlat >= 1e5 && dlat <= 225e6 && (b.y0 >= 6e8 || b.y1 <= -6e8) {
				near := unfix(min(abs32(b.y0), abs32(b.y1-1)))
				if aspect := float64(int64(b.x1)-int64(b.x0)) * math.Cos(near*rad) / float64(dlat); aspect < 0.5 {
					t.Fatalf("cell %+v at %v°: aspect %.3f", b, near, aspect)
				}
			}
			b = b.child(b.quadrant(x, y))
			if !b.holds(x, y) {
				t.Fatalf("descent to (%d, %d) left it at %+v", x, y, b)
			}
		}
	}
	if banded == 0 {
		t.Fatal("no descent split a cell into bands")
	}
	for range boxes {
		x0, y0 := randBoxPoint(r)
		x1, y1 := randBoxPoint(r)
		b := ibox{min(x0, x1), min(y0, y1), max(x0, x1) + 1, max(y0, y1) + 1}
		if r.IntN(4) == 0 {
			b.y1 = b.y0 + int32(r.IntN(6)) + 1 // thin: near the fallback
		}
		check(b)
	}
	// The New York box and its ancestors split as in a plain quadtree.
	for range 1000 {
		x, y := fix(-74.25+r.Float64()*0.55), fix(40.5+r.Float64()*0.4)
		for b := worldBox; b.x1-b.x0 > 1 || b.y1-b.y0 > 1; b = b.child(b.quadrant(x, y)) {
			if b.bands() {
				t.Fatalf("%+v, above New York, splits into bands", b)
			}
		}
	}
}

func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

// TestBandLat checks the band table against math.Cos: bandLat[k] is the
// first latitude unit whose cosine is below 2^-(k+1).
func TestBandLat(t *testing.T) {
	if bandLat[0] != minBandLat {
		t.Errorf("minBandLat %d, bandLat[0] %d", minBandLat, bandLat[0])
	}
	cos := func(v int32) float64 { return math.Cos(unfix(v) * rad) }
	for k, v := range bandLat {
		lim := math.Ldexp(1, -(k + 1))
		if !(cos(v) < lim && cos(v-1) >= lim) {
			t.Errorf("bandLat[%d] = %d: cos %.17g, before it %.17g, limit %v", k, v, cos(v), cos(v-1), lim)
		}
	}
}

// bandedCells counts the internal cells of x's main tree that split into
// bands, so that tests crowded at the poles can show they reach them.
func bandedCells(x *Index) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := 0
	var walk func(i int32)
	walk = func(i int32) {
		nd := x.st.node(i)
		c := nd.child.Load()
		if c < 0 {
			return
		}
		if x.st.box(i).bands() {
			n++
		}
		for q := range int32(4) {
			walk(c + q)
		}
	}
	walk(mainRoot)
	return n
}

// child returns b's child q, as numbered by quadrant: what a descent
// reaches, written through children for the tests to compare.
func (b ibox) child(q int32) ibox {
	return b.children()[q&3]
}

// TestHalf checks the branch-free step of every descent against the
// midpoint comparison it replaces, on intervals from one unit to the
// whole world's width, at their ends, around the midpoint and at random.
func TestHalf(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 12))
	check := func(lo, hi, v int32) {
		t.Helper()
		m := int32((int64(lo) + int64(hi)) >> 1)
		wantLo, wantHi, wantUp := lo, m, int32(0)
		if v >= m {
			wantLo, wantHi, wantUp = m, hi, -1
		}
		if gotLo, gotHi, gotUp := half(lo, hi, v); gotLo != wantLo || gotHi != wantHi || gotUp != wantUp {
			t.Fatalf("half(%d, %d, %d) = %d, %d, %d; want %d, %d, %d", lo, hi, v, gotLo, gotHi, gotUp, wantLo, wantHi, wantUp)
		}
	}
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	for i := range n {
		lo, hi := int32(worldX0), int32(worldX1)
		if i > 0 {
			a := int32(r.Int64N(int64(worldX1)-int64(worldX0))) + worldX0
			b := int32(r.Int64N(int64(worldX1)-int64(worldX0))) + worldX0
			lo, hi = min(a, b), max(a, b)+1
		}
		m := int32((int64(lo) + int64(hi)) >> 1)
		for _, v := range []int32{lo, hi - 1, m, m - 1, lo + int32(r.Int64N(int64(hi)-int64(lo)))} {
			if v >= lo && v < hi {
				check(lo, hi, v)
			}
		}
	}
}
