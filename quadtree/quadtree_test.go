package quadtree

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"unsafe"
)

// seed returns the property-test seed: SEED from the environment if set,
// otherwise a fresh one. It is logged so a failure can be replayed.
func seed(t testing.TB) uint64 {
	s := rand.Uint64()
	if v := os.Getenv("SEED"); v != "" {
		var err error
		if s, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("bad SEED %q: %v", v, err)
		}
	}
	t.Logf("SEED=%d", s)
	return s
}

var unit = Rect{0, 0, 1000, 1000}

// model is the brute-force reference: a plain map.
type model map[int]struct {
	p Point
	v int
}

// checkInvariants verifies the tree's internal bookkeeping against the model.
func checkInvariants(t *testing.T, tr *Tree[int, int], m model) {
	t.Helper()
	if tr.Len() != len(m) {
		t.Fatalf("Len = %d, want %d", tr.Len(), len(m))
	}
	for id, want := range m {
		p, v, ok := tr.Get(id)
		if !ok || p != want.p || v != want.v {
			t.Fatalf("Get(%d) = %v %v %v, want %v %v", id, p, v, ok, want.p, want.v)
		}
	}
	seen := 0
	var walk func(n int32) int32
	walk = func(n int32) int32 {
		nd := &tr.nodes[n]
		defer func() {
			var marked int32
			if nd.child == noChild {
				for _, it := range nd.items {
					marked += tr.marks(it.v)
				}
			} else {
				for i := range int32(4) {
					marked += tr.nodes[nd.child+i].marked
				}
			}
			if nd.marked != marked {
				t.Fatalf("node %d (leaf %v) marked %d, holds %d marked", n, nd.child == noChild, nd.marked, marked)
			}
		}()
		if nd.child == noChild {
			if int32(len(nd.items)) > tr.leafSize && nd.depth < tr.maxDepth && !samePoint(nd.items) {
				t.Fatalf("leaf %d holds %d objects, more than LeafSize %d, not all at one point", n, len(nd.items), tr.leafSize)
			}
			for i, it := range nd.items {
				if (tr.marks(it.v) == 1) != (int32(i) < nd.marked) {
					t.Fatalf("leaf %d: record %d (marked %v) on the wrong side of %d", n, i, tr.marks(it.v) == 1, nd.marked)
				}
				if !tr.holds(nd, it.p) {
					t.Fatalf("leaf %d %+v holds %v outside", n, nd.rect, it.p)
				}
				if l := tr.index[it.id]; l != (loc{n, int32(i)}) {
					t.Fatalf("index[%d] = %v, want {%d %d}", it.id, l, n, i)
				}
				seen++
			}
			if nd.count != int32(len(nd.items)) {
				t.Fatalf("leaf %d count %d, has %d", n, nd.count, len(nd.items))
			}
			return nd.count
		}
		if len(nd.items) != 0 {
			t.Fatalf("internal node %d has items", n)
		}
		var sum int32
		for i := range int32(4) {
			if tr.nodes[nd.child+i].parent != n {
				t.Fatalf("node %d: bad parent", nd.child+i)
			}
			sum += walk(nd.child + i)
		}
		if sum != nd.count {
			t.Fatalf("node %d count %d, children hold %d", n, nd.count, sum)
		}
		if n != 0 && sum <= tr.mergeAt {
			t.Fatalf("node %d holds %d objects but was not merged", n, sum)
		}
		return sum
	}
	walk(0)
	if seen != len(m) {
		t.Fatalf("leaves hold %d objects, want %d", seen, len(m))
	}
}

func bruteNearest(m model, q Point, k int, maxDist float64, filter func(int, Point, int) bool) []float64 {
	var ds []float64
	for id, o := range m {
		if filter != nil && !filter(id, o.p, o.v) {
			continue
		}
		dx, dy := o.p.X-q.X, o.p.Y-q.Y
		if d := dx*dx + dy*dy; d <= maxDist {
			ds = append(ds, d)
		}
	}
	slices.Sort(ds)
	if k > 0 && len(ds) > k {
		ds = ds[:k]
	}
	return ds
}

// genPoint draws from one of three distributions: uniform, clustered, and a
// handful of exact duplicates (including the bounds' corners and cell edges).
func genPoint(r *rand.Rand) Point {
	switch r.IntN(4) {
	case 0:
		return Point{r.Float64() * 1000, r.Float64() * 1000}
	case 1:
		return Point{500 + r.NormFloat64()*0.01, 250 + r.NormFloat64()*0.01}
	case 2:
		spots := []Point{{0, 0}, {1000, 1000}, {500, 500}, {250, 750}, {1000, 0}, {123.456, 789}}
		return spots[r.IntN(len(spots))]
	default:
		// On the grid of cell edges at depths up to 6.
		return Point{float64(r.IntN(65)) * 1000 / 64, float64(r.IntN(65)) * 1000 / 64}
	}
}

func TestAgainstBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 1))
	ops := 20000
	if testing.Short() {
		ops = 4000
	}
	for _, leaf := range []int{2, 4, 32} {
		// Values below 3 are marked: NearestMarked is checked too.
		isMarked := func(v int) bool { return v < 3 }
		tr, err := NewMarked[int, int](unit, Options{LeafSize: leaf}, isMarked)
		if err != nil {
			t.Fatal(err)
		}
		m := model{}
		var buf []Neighbor[int, int]
		for i := range ops {
			id := r.IntN(600)
			switch op := r.IntN(10); {
			case op < 4:
				p, v := genPoint(r), r.IntN(10)
				err := tr.Insert(id, p, v)
				if _, dup := m[id]; dup {
					if !errors.Is(err, ErrExists) {
						t.Fatalf("Insert dup %d: %v", id, err)
					}
				} else if err != nil {
					t.Fatalf("Insert(%d): %v", id, err)
				} else {
					m[id] = struct {
						p Point
						v int
					}{p, v}
				}
			case op == 4:
				p, v := genPoint(r), r.IntN(10)
				if r.IntN(2) == 0 {
					if err := tr.Set(id, p, v); err != nil {
						t.Fatalf("Set(%d): %v", id, err)
					}
				} else {
					old, had, err := tr.Swap(id, p, v)
					if err != nil {
						t.Fatalf("Swap(%d): %v", id, err)
					}
					if o, ok := m[id]; had != ok || (ok && old != o.v) {
						t.Fatalf("Swap(%d) = %v %v, model holds %v %v", id, old, had, o.v, ok)
					}
				}
				m[id] = struct {
					p Point
					v int
				}{p, v}
			case op < 7:
				p := genPoint(r)
				err := tr.Move(id, p)
				if o, ok := m[id]; ok {
					if err != nil {
						t.Fatalf("Move(%d): %v", id, err)
					}
					o.p = p
					m[id] = o
				} else if !errors.Is(err, ErrNotFound) {
					t.Fatalf("Move missing %d: %v", id, err)
				}
			case op < 9:
				_, had := m[id]
				if got := tr.Remove(id); got != had {
					t.Fatalf("Remove(%d) = %v, want %v", id, got, had)
				}
				delete(m, id)
			default:
				v := r.IntN(10)
				err := tr.Update(id, v)
				if o, ok := m[id]; ok {
					o.v = v
					m[id] = o
				} else if !errors.Is(err, ErrNotFound) {
					t.Fatalf("Update missing: %v", err)
				}
			}
			if i%97 == 0 {
				checkInvariants(t, tr, m)
			}
			if i%13 == 0 {
				q := genPoint(r)
				k := r.IntN(12)
				maxD := math.Inf(1)
				if r.IntN(2) == 0 {
					maxD = r.Float64() * 20000
				}
				var filter func(int, Point, int) bool
				if r.IntN(2) == 0 {
					want := r.IntN(10)
					filter = func(_ int, _ Point, v int) bool { return v <= want }
				}
				buf = tr.Nearest(buf, k, maxD, Euclidean(q), filter)
				want := bruteNearest(m, q, k, maxD, filter)
				got := make([]float64, len(buf))
				for j, n := range buf {
					got[j] = n.Dist
					if o := m[n.ID]; o.p != n.Point || o.v != n.Value {
						t.Fatalf("Nearest returned stale %+v", n)
					}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("Nearest(%v, k=%d, max=%v) dists = %v, want %v", q, k, maxD, got, want)
				}
				buf = tr.NearestMarked(buf, k, maxD, Euclidean(q), filter)
				want = bruteNearest(m, q, k, maxD, func(id int, p Point, v int) bool {
					return isMarked(v) && (filter == nil || filter(id, p, v))
				})
				got = got[:0]
				for _, n := range buf {
					if !isMarked(n.Value) {
						t.Fatalf("NearestMarked returned unmarked %+v", n)
					}
					got = append(got, n.Dist)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("NearestMarked(%v, k=%d, max=%v) dists = %v, want %v", q, k, maxD, got, want)
				}
				// Range over a random rectangle.
				a, b := genPoint(r), genPoint(r)
				rect := Rect{min(a.X, b.X), min(a.Y, b.Y), max(a.X, b.X), max(a.Y, b.Y)}
				gotIDs := []int{}
				tr.Range(rect, func(id int, p Point, _ int) bool {
					gotIDs = append(gotIDs, id)
					return true
				})
				wantIDs := []int{}
				for id, o := range m {
					if rect.Contains(o.p) {
						wantIDs = append(wantIDs, id)
					}
				}
				slices.Sort(gotIDs)
				slices.Sort(wantIDs)
				if !slices.Equal(gotIDs, wantIDs) {
					t.Fatalf("Range(%+v) = %v, want %v", rect, gotIDs, wantIDs)
				}
				// Walk over the same rectangle, trusting Inside cells.
				gotIDs = gotIDs[:0]
				tr.Walk(func(c Rect) Cover {
					switch {
					case !c.Intersects(rect):
						return Outside
					case rect.Contains(Point{c.MinX, c.MinY}) && rect.Contains(Point{c.MaxX, c.MaxY}):
						return Inside
					}
					return Partial
				}, func(id int, p Point, v int, inside bool) bool {
					if o := m[id]; o.p != p || o.v != v {
						t.Fatalf("Walk returned stale %d %v %v", id, p, v)
					}
					if inside && !rect.Contains(p) {
						t.Fatalf("Walk says %v is inside %+v", p, rect)
					}
					if rect.Contains(p) {
						gotIDs = append(gotIDs, id)
					}
					return true
				})
				slices.Sort(gotIDs)
				if !slices.Equal(gotIDs, wantIDs) {
					t.Fatalf("Walk(%+v) = %v, want %v", rect, gotIDs, wantIDs)
				}
			}
		}
		checkInvariants(t, tr, m)
	}
}

func TestBadInput(t *testing.T) {
	for _, b := range []Rect{{0, 0, 0, 1}, {1, 0, 0, 1}, {0, 0, math.NaN(), 1}, {0, 0, math.Inf(1), 1}} {
		if _, err := New[int, struct{}](b, Options{}); !errors.Is(err, ErrInvalidBounds) {
			t.Errorf("New(%+v) = %v, want ErrInvalidBounds", b, err)
		}
	}
	tr, _ := New[int, struct{}](unit, Options{})
	cases := []struct {
		p    Point
		want error
	}{
		{Point{math.NaN(), 1}, ErrInvalidPoint},
		{Point{1, math.Inf(-1)}, ErrInvalidPoint},
		{Point{-0.001, 5}, ErrOutOfBounds},
		{Point{5, 1000.0001}, ErrOutOfBounds},
	}
	for _, c := range cases {
		if err := tr.Insert(1, c.p, struct{}{}); !errors.Is(err, c.want) {
			t.Errorf("Insert(%v) = %v, want %v", c.p, err, c.want)
		}
	}
	if tr.Len() != 0 {
		t.Fatalf("bad inserts changed Len to %d", tr.Len())
	}
	if err := tr.Insert(1, Point{1, 1}, struct{}{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if err := tr.Move(1, c.p); !errors.Is(err, c.want) {
			t.Errorf("Move(%v) = %v, want %v", c.p, err, c.want)
		}
	}
	if p, _, _ := tr.Get(1); p != (Point{1, 1}) {
		t.Fatalf("failed moves changed the point to %v", p)
	}
	if got := tr.Nearest(nil, 1, math.NaN(), Euclidean(Point{}), nil); len(got) != 0 {
		t.Fatalf("Nearest with NaN max = %v", got)
	}
}

// TestDuplicates puts many objects on one point: the tree must not split
// endlessly, and every query must still see all of them.
func TestDuplicates(t *testing.T) {
	tr, _ := New[int, struct{}](unit, Options{LeafSize: 4})
	p := Point{333.3, 333.3}
	for i := range 5000 {
		if err := tr.Insert(i, p, struct{}{}); err != nil {
			t.Fatal(err)
		}
	}
	if len(tr.nodes) > 8 {
		t.Fatalf("5000 objects at one point made %d nodes", len(tr.nodes))
	}
	n := 0
	tr.Range(Rect{p.X, p.Y, p.X, p.Y}, func(int, Point, struct{}) bool { n++; return true })
	if n != 5000 {
		t.Fatalf("Range found %d of 5000", n)
	}
	// A second point next to them makes the leaf split around it.
	if err := tr.Insert(-1, Point{333.4, 333.3}, struct{}{}); err != nil {
		t.Fatal(err)
	}
	got := tr.Nearest(nil, 1, math.Inf(1), Euclidean(Point{334, 333.3}), nil)
	if len(got) != 1 || got[0].ID != -1 {
		t.Fatalf("Nearest = %+v, want id -1", got)
	}
	if d := tr.nodes[tr.index[-1].leaf].depth; d > int32(defaultMaxDepth) {
		t.Fatalf("depth %d exceeds MaxDepth", d)
	}
}

// TestPileParts checks that a pile of objects at one point, whose leaf
// grows past LeafSize, splits as soon as an object moves away inside it or
// arrives elsewhere in its cell: a dispersed pile of 10,000 used to stay
// one leaf, so that a 1-nearest search computed 10,000 distances instead
// of a few dozen, and arrivals filled it up to its raised limit.
func TestPileParts(t *testing.T) {
	const n = 3000
	r := rand.New(rand.NewPCG(seed(t), 5))
	randPoint := func() Point { return Point{r.Float64() * 1000, r.Float64() * 1000} }
	dists := func(tr *Tree[int, int]) int {
		calls, e := 0, Euclidean(randPoint())
		d := e.Dist
		e.Dist = func(p Point, lim float64) float64 { calls++; return d(p, lim) }
		tr.Nearest(nil, 1, math.Inf(1), e, nil)
		return calls
	}
	for _, how := range []string{"moves", "arrivals"} {
		tr, _ := New[int, int](unit, Options{})
		m := model{}
		pile := Point{500, 500}
		for i := range n {
			if err := tr.Insert(i, pile, i); err != nil {
				t.Fatal(err)
			}
			m[i] = struct {
				p Point
				v int
			}{pile, i}
		}
		for i := range n {
			p, id := randPoint(), i
			var err error
			if how == "moves" {
				err = tr.Move(id, p)
			} else {
				id = n + i
				err = tr.Insert(id, p, id)
			}
			if err != nil {
				t.Fatal(err)
			}
			m[id] = struct {
				p Point
				v int
			}{p, id}
			if i%300 == 0 {
				checkInvariants(t, tr, m)
			}
		}
		checkInvariants(t, tr, m)
		if how == "moves" {
			if c := dists(tr); c > 200 {
				t.Errorf("after the pile dispersed, 1 nearest computed %d distances", c)
			}
		}
	}
}

// TestChurnMemory moves and replaces objects for many rounds: the node
// count must stay bounded by what the live population needs.
func TestChurnMemory(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 2))
	tr, _ := New[int, struct{}](unit, Options{LeafSize: 8})
	const n = 2000
	for i := range n {
		_ = tr.Insert(i, Point{r.Float64() * 1000, r.Float64() * 1000}, struct{}{})
	}
	base := len(tr.nodes)
	rounds := 100
	if testing.Short() {
		rounds = 20
	}
	next := n
	for range rounds {
		for i := range n {
			_ = tr.Move(i, Point{r.Float64() * 1000, r.Float64() * 1000})
		}
		// Replace a tenth with new IDs that cluster in one corner, then
		// spread again: cells must merge back.
		for range n / 10 {
			victim := r.IntN(next)
			if tr.Remove(victim) {
				_ = tr.Insert(next, Point{r.Float64(), r.Float64()}, struct{}{})
				next++
			}
		}
	}
	live := len(tr.nodes) - 4*len(tr.free)
	if len(tr.nodes) > 3*base || live > 2*base {
		t.Fatalf("nodes grew from %d to %d (%d live)", base, len(tr.nodes), live)
	}
	for id := range tr.index {
		tr.Remove(id)
	}
	if live := len(tr.nodes) - 4*len(tr.free); live != 1 || tr.nodes[0].child != noChild {
		t.Fatalf("empty tree keeps %d live nodes", live)
	}
}

func TestRangeStops(t *testing.T) {
	tr, _ := New[int, struct{}](unit, Options{LeafSize: 2})
	for i := range 100 {
		_ = tr.Insert(i, Point{float64(i), float64(i)}, struct{}{})
	}
	calls := 0
	tr.Range(unit, func(int, Point, struct{}) bool { calls++; return calls < 7 })
	if calls != 7 {
		t.Fatalf("Range called fn %d times after it returned false, want 7", calls)
	}
}

func TestNearestNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under -race")
	}
	tr, _ := New[int, struct{}](unit, Options{})
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 10000 {
		_ = tr.Insert(i, Point{r.Float64() * 1000, r.Float64() * 1000}, struct{}{})
	}
	buf := make([]Neighbor[int, struct{}], 0, 10)
	q := Point{500, 500}
	allocs := testing.AllocsPerRun(100, func() {
		buf = tr.Nearest(buf, 10, math.Inf(1), Euclidean(q), nil)
		_ = tr.Move(r.IntN(10000), Point{r.Float64() * 1000, r.Float64() * 1000})
	})
	if allocs != 0 {
		t.Fatalf("Nearest+Move allocate %v times per run", allocs)
	}
}

// TestHugeBounds covers bounds near the largest float64: the midpoint of a
// cell must not overflow to infinity. It did for bounds whose min and max
// share a sign, (min+max)/2 overflowing: every split then dealt all
// objects into one child with an infinite edge, so 2,000 spread-out
// objects ended in one leaf at MaxDepth behind a chain of 32 cells.
func TestHugeBounds(t *testing.T) {
	const big = math.MaxFloat64
	for _, b := range []Rect{
		{1e308, 1e308, big, big},
		{-big, -big, -1e308, -1e308},
		{-big, 1e308, big, big},
	} {
		tr, err := New[int, int](b, Options{LeafSize: 8})
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(seed(t), 6))
		lerp := func(lo, hi float64) float64 {
			f := r.Float64()
			return min(hi, max(lo, lo*(1-f)+hi*f))
		}
		m := model{}
		for i := range 2000 {
			p := Point{lerp(b.MinX, b.MaxX), lerp(b.MinY, b.MaxY)}
			if i%100 == 0 {
				p = Point{b.MaxX, b.MaxY} // the closed max corner
			}
			if err := tr.Insert(i, p, i); err != nil {
				t.Fatalf("%+v: Insert(%v): %v", b, p, err)
			}
			m[i] = struct {
				p Point
				v int
			}{p, i}
		}
		checkInvariants(t, tr, m)
		var walk func(n int32)
		walk = func(n int32) {
			nd := &tr.nodes[n]
			if c := nd.rect; !finite(c.MinX) || !finite(c.MinY) || !finite(c.MaxX) || !finite(c.MaxY) {
				t.Fatalf("%+v: cell %d has rectangle %+v", b, n, c)
			}
			if nd.child == noChild {
				// Only the 20 objects at the max corner share a point.
				if len(nd.items) > 20+int(tr.leafSize) {
					t.Fatalf("%+v: a leaf at depth %d holds %d objects", b, nd.depth, len(nd.items))
				}
				return
			}
			for i := range int32(4) {
				walk(nd.child + i)
			}
		}
		walk(0)
	}
}

// TestNearestNaNDist checks that an object whose Dist is NaN is left out,
// as Nearest promises objects with Dist <= maxDist. Such an object used to
// enter the result heap, and once at its top no later object could
// replace it (no distance is below NaN): 1-nearest returned it.
func TestNearestNaNDist(t *testing.T) {
	tr, _ := New[int, int](unit, Options{})
	for _, x := range []int{5, 0, 1, 2, 3, 4, 6, 7, 8, 9} {
		if err := tr.Insert(x, Point{float64(x), 0}, x); err != nil {
			t.Fatal(err)
		}
	}
	m := Euclidean(Point{})
	dist := m.Dist
	m.Dist = func(p Point, limit float64) float64 {
		if p.X == 5 {
			return math.NaN()
		}
		return dist(p, limit)
	}
	for _, c := range []struct {
		k    int
		want []int
	}{
		{1, []int{0}},
		{3, []int{0, 1, 2}},
		{0, []int{0, 1, 2, 3, 4, 6, 7, 8, 9}},
	} {
		var got []int
		for _, n := range tr.Nearest(nil, c.k, math.Inf(1), m, nil) {
			got = append(got, n.ID)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Nearest(k=%d) with a NaN distance = %v, want %v", c.k, got, c.want)
		}
	}
}

// TestTinyBounds covers cells narrower than float64 resolution: subnormal
// bounds, and points a unit in the last place apart. Splitting stops at
// the cell that parts them or at MaxDepth, never loops.
func TestTinyBounds(t *testing.T) {
	u := math.SmallestNonzeroFloat64
	for _, a := range []float64{0, u, 2 * u, 3 * u, -3 * u, 0x1p-1022, 1, 1e300} {
		for _, b := range []float64{u, 2 * u, 4 * u, 0x1p-1021, math.Nextafter(a, math.Inf(1)), 2, math.MaxFloat64} {
			if b > a {
				if m := mid(a, b); !(a <= m && m <= b) {
					t.Errorf("mid(%v, %v) = %v", a, b, m)
				}
			}
		}
	}
	tr, err := New[int, int](Rect{0, 0, 8 * u, 8 * u}, Options{LeafSize: 2, MaxDepth: 1000})
	if err != nil {
		t.Fatal(err)
	}
	m := model{}
	add := func(id int, p Point) {
		t.Helper()
		if err := tr.Insert(id, p, id); err != nil {
			t.Fatalf("Insert(%v): %v", p, err)
		}
		m[id] = struct {
			p Point
			v int
		}{p, id}
	}
	for i := range 81 {
		add(i, Point{float64(i%9) * u, float64(i/9) * u})
	}
	checkInvariants(t, tr, m)
	var got []int
	tr.Range(Rect{4 * u, 5 * u, 5 * u, 5 * u}, func(id int, _ Point, _ int) bool { got = append(got, id); return true })
	if slices.Sort(got); !slices.Equal(got, []int{49, 50}) {
		t.Fatalf("Range = %v, want [49 50]", got)
	}
	tr, _ = New[int, int](Rect{1, 1, 2, 2}, Options{LeafSize: 2, MaxDepth: 1000})
	m = model{}
	add(0, Point{1.5, 1.5})
	add(1, Point{math.Nextafter(1.5, 2), 1.5})
	add(2, Point{math.Nextafter(1.5, 2), 1.5})
	checkInvariants(t, tr, m)
	if d := tr.nodes[tr.index[0].leaf].depth; d > 60 {
		t.Fatalf("depth %d", d)
	}
}

// TestNearestBadMetric gives Nearest metrics that break their contract:
// bounds above the distance, NaN, negative or infinite, random. The
// results may be wrong but must be sorted, within k and maxDist, and
// without NaN, and the search must end.
func TestNearestBadMetric(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 7))
	tr, _ := New[int, int](unit, Options{LeafSize: 4})
	for i := range 2000 {
		_ = tr.Insert(i, genPoint(r), i)
	}
	good := Euclidean(Point{400, 600})
	bounds := map[string]func(Rect) float64{
		"NaN":     func(Rect) float64 { return math.NaN() },
		"+Inf":    func(Rect) float64 { return math.Inf(1) },
		"-Inf":    func(Rect) float64 { return math.Inf(-1) },
		"too big": func(c Rect) float64 { return good.Bound(c) + 5000 },
		"random":  func(Rect) float64 { return []float64{math.NaN(), -1, 0, 1e9, math.Inf(1)}[r.IntN(5)] },
	}
	dists := map[string]func(Point, float64) float64{
		"good":     good.Dist,
		"negative": func(p Point, l float64) float64 { return -good.Dist(p, l) },
		"random": func(p Point, l float64) float64 {
			return []float64{math.NaN(), -1, 0, 1e9, math.Inf(1), math.Inf(-1)}[r.IntN(6)]
		},
	}
	for bn, b := range bounds {
		for dn, d := range dists {
			for _, k := range []int{1, 10, 0} {
				for _, maxD := range []float64{math.Inf(1), 1e4, -1} {
					got := tr.Nearest(nil, k, maxD, Metric{Dist: d, Bound: b}, nil)
					if k > 0 && len(got) > k {
						t.Fatalf("bound %s dist %s k=%d: %d results", bn, dn, k, len(got))
					}
					for i, n := range got {
						if !(n.Dist <= maxD) || (i > 0 && got[i-1].Dist > n.Dist) {
							t.Fatalf("bound %s dist %s k=%d max=%v: results %v", bn, dn, k, maxD, got)
						}
					}
				}
			}
		}
	}
}

// TestNaNID checks that an ID that is not equal to itself (a float NaN) is
// refused: the map from ID to slot could never find it again, and every
// time its record moved the tree added another map entry, so Len grew.
func TestNaNID(t *testing.T) {
	type key struct {
		a int
		f float64
	}
	tr, _ := New[float64, int](unit, Options{LeafSize: 2})
	ks, _ := New[key, int](unit, Options{LeafSize: 2})
	nan := math.NaN()
	if err := tr.Insert(nan, Point{1, 1}, 0); !errors.Is(err, ErrInvalidID) {
		t.Errorf("Insert(NaN) = %v, want ErrInvalidID", err)
	}
	if err := tr.Set(nan, Point{1, 1}, 0); !errors.Is(err, ErrInvalidID) {
		t.Errorf("Set(NaN) = %v, want ErrInvalidID", err)
	}
	if _, _, err := tr.Swap(nan, Point{1, 1}, 0); !errors.Is(err, ErrInvalidID) {
		t.Errorf("Swap(NaN) = %v, want ErrInvalidID", err)
	}
	if err := ks.Insert(key{1, nan}, Point{1, 1}, 0); !errors.Is(err, ErrInvalidID) {
		t.Errorf("Insert(%v) = %v, want ErrInvalidID", key{1, nan}, err)
	}
	for i := range 20 {
		if err := tr.Insert(float64(i), Point{float64(i * 10), 5}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if tr.Len() != 20 || ks.Len() != 0 {
		t.Fatalf("Len = %d and %d, want 20 and 0", tr.Len(), ks.Len())
	}
}

// TestUncomparableID checks what the Tree documents for an interface-typed
// ID holding a slice: a panic, as for such a map key, and no change.
func TestUncomparableID(t *testing.T) {
	tr, _ := New[any, int](unit, Options{})
	for name, f := range map[string]func(){
		"Insert": func() { _ = tr.Insert([]int{1}, Point{1, 1}, 0) },
		"Set":    func() { _ = tr.Set([]int{1}, Point{1, 1}, 0) },
		"Get":    func() { tr.Get([]int{1}) },
		"Remove": func() { tr.Remove([]int{1}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with a slice ID did not panic", name)
				}
			}()
			f()
		}()
	}
	if err := tr.Insert("a", Point{1, 1}, 0); err != nil || tr.Len() != 1 {
		t.Fatalf("Insert after the panics = %v, Len %d", err, tr.Len())
	}
}

// TestOptionsLimits checks the documented handling of LeafSize and
// MaxDepth at and beyond their limits, and that each tree works.
func TestOptionsLimits(t *testing.T) {
	for _, c := range []struct {
		opt                Options
		leafSize, maxDepth int32
	}{
		{Options{}, 32, 32},
		{Options{LeafSize: -5, MaxDepth: -1}, 32, 32},
		{Options{LeafSize: 1, MaxDepth: 1}, 2, 1},
		{Options{LeafSize: 2, MaxDepth: 60}, 2, 60},
		{Options{LeafSize: 3, MaxDepth: 61}, 3, 60},
		{Options{LeafSize: math.MaxInt, MaxDepth: math.MaxInt}, 1 << 20, 60},
	} {
		tr, err := New[int, int](unit, c.opt)
		if err != nil {
			t.Fatal(err)
		}
		if tr.leafSize != c.leafSize || tr.maxDepth != c.maxDepth {
			t.Errorf("New(%+v): LeafSize %d, MaxDepth %d, want %d, %d", c.opt, tr.leafSize, tr.maxDepth, c.leafSize, c.maxDepth)
		}
		if c.leafSize > 1000 {
			continue // a first leaf of 1<<18 records: the doc warns
		}
		r := rand.New(rand.NewPCG(seed(t), 8))
		m := model{}
		for i := range 500 {
			p := genPoint(r)
			if err := tr.Insert(i, p, i); err != nil {
				t.Fatal(err)
			}
			m[i] = struct {
				p Point
				v int
			}{p, i}
		}
		checkInvariants(t, tr, m)
		for i := range 500 {
			tr.Remove(i)
		}
		checkInvariants(t, tr, model{})
	}
}

// TestChurnCycles inserts a population, moves it, removes it, many times
// over: the cells, free list, spare leaf storage and heap must keep the
// size the largest population needed, with no growth per cycle, including
// for a pile at one point that spreads and gathers again.
func TestChurnCycles(t *testing.T) {
	n, cycles := 20000, 30
	if testing.Short() {
		n, cycles = 5000, 10
	}
	r := rand.New(rand.NewPCG(seed(t), 9))
	tr, _ := New[int, int](unit, Options{})
	spare := func() (k int) {
		for _, s := range tr.spare {
			k += len(s)
		}
		return k
	}
	var ms runtime.MemStats
	heap := func() uint64 {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	var nodes0, spare0 int
	var heap0 uint64
	next := 0
	for c := range cycles {
		first := next
		for range n {
			p := Point{r.Float64() * 1000, r.Float64() * 1000}
			if c%3 == 2 {
				p = Point{500, 500}
			}
			if err := tr.Insert(next, p, 0); err != nil {
				t.Fatal(err)
			}
			next++
		}
		for range 2 {
			for id := first; id < next; id++ {
				if err := tr.Move(id, Point{r.Float64() * 1000, r.Float64() * 1000}); err != nil {
					t.Fatal(err)
				}
			}
		}
		for id := first; id < next; id++ {
			if c%3 == 1 {
				_ = tr.Move(id, Point{250, 250}) // gather into a pile first
			}
		}
		for id := first; id < next; id++ {
			tr.Remove(id)
		}
		if live := len(tr.nodes) - 4*len(tr.free); live != 1 || tr.Len() != 0 {
			t.Fatalf("cycle %d: empty tree keeps %d live cells, Len %d", c, live, tr.Len())
		}
		if k := cap(tr.nodes[0].items); k > int(tr.leafSize) {
			t.Fatalf("cycle %d: empty root keeps room for %d records", c, k)
		}
		if c == 2 {
			nodes0, spare0, heap0 = len(tr.nodes), spare(), heap()
		}
	}
	if h := heap(); len(tr.nodes) > nodes0*11/10 || spare() > spare0*11/10 || h > heap0*11/10 {
		t.Fatalf("after %d cycles: %d cells, %d spare leaves, %d heap bytes; after 3: %d, %d, %d",
			cycles, len(tr.nodes), spare(), h, nodes0, spare0, heap0)
	}
}

// TestDocFigures checks the memory figures the package documentation
// gives for 1,000,000 uniformly spread objects with 32-byte records.
func TestDocFigures(t *testing.T) {
	if s := unsafe.Sizeof(node[uint64, uint64]{}); s != 80 {
		t.Errorf("a cell takes %d bytes, doc says 80", s)
	}
	if s := unsafe.Sizeof(item[uint64, uint64]{}); s != 32 {
		t.Errorf("a record takes %d bytes, doc says 32", s)
	}
	if tr, _ := New[int, int](unit, Options{}); tr.leafSize != 32 || tr.mergeAt != 24 || tr.maxDepth != 32 {
		t.Errorf("defaults LeafSize %d, merge at %d, MaxDepth %d; doc says 32, 24, 32", tr.leafSize, tr.mergeAt, tr.maxDepth)
	}
	if testing.Short() || raceEnabled {
		t.Skip("builds two trees of 1,000,000 objects")
	}
	const n = 1_000_000
	for _, c := range []struct {
		leafSize                  int
		fill, churned, bytes, per float64
	}{
		{16, 0.79, 0.65, 41, 5},
		{32, 0.71, 0.53, 45, 11},
	} {
		r := rand.New(rand.NewPCG(1, 1))
		tr, _ := New[uint64, uint64](unit, Options{LeafSize: c.leafSize})
		for i := range uint64(n) {
			_ = tr.Insert(i, Point{r.Float64() * 1000, r.Float64() * 1000}, i)
		}
		measure := func() (fill, bytes, per float64) {
			room, cells := 0, len(tr.nodes)-4*len(tr.free)
			for i := range tr.nodes {
				if nd := &tr.nodes[i]; nd.child == noChild {
					room += cap(nd.items)
				}
			}
			return float64(n) / float64(room), float64(room*32) / n, float64(n) / float64(cells)
		}
		fill, bytes, per := measure()
		for range 2 {
			for i := range uint64(n) {
				_ = tr.Move(i, Point{r.Float64() * 1000, r.Float64() * 1000})
			}
		}
		churned, _, _ := measure()
		t.Logf("LeafSize %d: %.0f%% full, %.1f bytes/object, one cell per %.1f objects; %.0f%% full after two moves each",
			c.leafSize, fill*100, bytes, per, churned*100)
		if math.Abs(fill-c.fill) > 0.02 || math.Abs(churned-c.churned) > 0.03 ||
			math.Abs(bytes-c.bytes) > 1 || math.Abs(per-c.per) > c.per/5 {
			t.Errorf("LeafSize %d: doc says %.0f%% full, %.0f bytes/object, one cell per %.0f objects, %.0f%% after churn",
				c.leafSize, c.fill*100, c.bytes, c.per, c.churned*100)
		}
	}
}

// TestNearestEdges covers k at and beyond its limits, dst with contents,
// ties, a filter that rejects everything, and maxDist below zero.
func TestNearestEdges(t *testing.T) {
	tr, _ := New[int, int](unit, Options{LeafSize: 2})
	for i := range 8 { // a ring of 8 ties around (500, 500), plus one far
		a := float64(i) * math.Pi / 4
		_ = tr.Insert(i, Point{500 + 100*math.Cos(a), 500 + 100*math.Sin(a)}, i)
	}
	_ = tr.Insert(8, Point{0, 0}, 8)
	q := Euclidean(Point{500, 500})
	for _, k := range []int{-1, 0, 9, 100} {
		if got := tr.Nearest(nil, k, math.Inf(1), q, nil); len(got) != 9 || got[8].ID != 8 {
			t.Errorf("Nearest(k=%d) = %d results, last %v; want all 9, the far one last", k, len(got), got[len(got)-1])
		}
	}
	dst := make([]Neighbor[int, int], 3, 10)
	for i := range dst {
		dst[i].ID = -1
	}
	got := tr.Nearest(dst, 3, math.Inf(1), q, nil)
	if len(got) != 3 || &got[0] != &dst[0] {
		t.Fatalf("Nearest did not reuse dst from its start: len %d", len(got))
	}
	for _, n := range got {
		if n.ID < 0 || n.ID > 7 || math.Abs(n.Dist-1e4) > 1e-6 {
			t.Errorf("Nearest(k=3) tie = %+v, want one of the ring at 1e4", n)
		}
	}
	none := func(int, Point, int) bool { return false }
	if got := tr.Nearest(dst, 3, math.Inf(1), q, none); len(got) != 0 {
		t.Errorf("Nearest with a filter rejecting all = %v", got)
	}
	if got := tr.Nearest(dst, 3, -1, q, nil); len(got) != 0 {
		t.Errorf("Nearest with maxDist -1 = %v", got)
	}
	if got := tr.NearestMarked(dst, 3, math.Inf(1), q, nil); len(got) != 0 {
		t.Errorf("NearestMarked on a tree without marks = %v", got)
	}
}

// TestNearestCost checks the documented cost of Nearest, about O(d + k)
// cells for spread-out data, by counting Bound and Dist calls.
func TestNearestCost(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 10))
	tr, _ := New[int, int](unit, Options{})
	const n = 100_000
	for i := range n {
		_ = tr.Insert(i, Point{r.Float64() * 1000, r.Float64() * 1000}, i)
	}
	for _, k := range []int{1, 10, 100} {
		bounds, dists := 0, 0
		for range 100 {
			e := Euclidean(Point{r.Float64() * 1000, r.Float64() * 1000})
			b, d := e.Bound, e.Dist
			e.Bound = func(c Rect) float64 { bounds++; return b(c) }
			e.Dist = func(p Point, l float64) float64 { dists++; return d(p, l) }
			tr.Nearest(nil, k, math.Inf(1), e, nil)
		}
		bounds /= 100
		dists /= 100
		t.Logf("k=%d: %d Bound and %d Dist calls on average", k, bounds, dists)
		if bounds > 40+k || dists > 150+6*k {
			t.Errorf("k=%d: %d Bound and %d Dist calls on average among %d objects", k, bounds, dists, n)
		}
	}
}

// TestConcurrentReads runs the read-only methods the Tree documents as
// safe in parallel from several goroutines: each must read what it read
// alone, and -race checks the claim.
func TestConcurrentReads(t *testing.T) {
	isMarked := func(v int) bool { return v%4 == 0 }
	tr, _ := NewMarked[int, int](unit, Options{LeafSize: 8}, isMarked)
	r := rand.New(rand.NewPCG(seed(t), 11))
	for i := range 5000 {
		_ = tr.Insert(i, genPoint(r), i)
	}
	// Each goroutine's reads, run first alone: the concurrent runs must
	// give the same answers.
	reads := func(g int) []string {
		r := rand.New(rand.NewPCG(uint64(g), 12))
		var out []string
		var buf []Neighbor[int, int]
		for range 300 {
			q := genPoint(r)
			buf = tr.Nearest(buf, 5, math.Inf(1), Euclidean(q), nil)
			out = append(out, fmt.Sprint(buf))
			buf = tr.NearestMarked(buf, 5, math.Inf(1), Euclidean(q), nil)
			out = append(out, fmt.Sprint(buf))
			n := 0
			tr.Range(Rect{q.X, q.Y, q.X + 50, q.Y + 50}, func(int, Point, int) bool { n++; return true })
			p, v, ok := tr.Get(r.IntN(5000))
			out = append(out, fmt.Sprint(n, p, v, ok, tr.Len(), tr.Bounds()))
		}
		return out
	}
	var want [4][]string
	for g := range want {
		want[g] = reads(g)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			if got := reads(g); !slices.Equal(got, want[g]) {
				t.Errorf("goroutine %d read other answers than alone", g)
			}
		})
	}
	wg.Wait()
}

// TestPileKeepsItsLimit builds a pile of objects at one point, then lands
// an object beside it, which parts the leaf: the leaf the pile ends up in
// must keep the raised limit. Reset to LeafSize, each later arrival at the
// pile's point rescanned the whole pile in split and doubled the limit
// again (a pile of 10,000 cost 90,000 item comparisons over the next
// thousand inserts).
func TestPileKeepsItsLimit(t *testing.T) {
	tr, err := New[int, int](unit, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := model{}
	put := func(id int, p Point) {
		if err := tr.Insert(id, p, id); err != nil {
			t.Fatal(err)
		}
		m[id] = struct {
			p Point
			v int
		}{p, id}
	}
	const n = 5000
	for i := range n {
		put(i, Point{500, 500})
	}
	put(n, Point{500.001, 500})
	for i := range tr.nodes {
		nd := &tr.nodes[i]
		if nd.child == noChild && len(nd.items) > int(tr.leafSize) && nd.limit <= int32(len(nd.items)) {
			t.Fatalf("the pile's leaf holds %d objects with limit %d: the next arrival rescans it", len(nd.items), nd.limit)
		}
	}
	checkInvariants(t, tr, m)
}
