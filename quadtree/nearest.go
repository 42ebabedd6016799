package quadtree

import "math"

// Neighbor is one result of [Tree.Nearest].
type Neighbor[ID comparable, V any] struct {
	ID    ID
	Point Point
	Value V
	Dist  float64 // as returned by the Metric's Dist
}

// Metric tells [Tree.Nearest] how far objects are from the query. Dist
// returns the distance of a point, or any value greater than limit once it
// knows the distance exceeds limit (so it can skip exact work for far
// points). Bound returns a lower bound of Dist over every point of a
// rectangle (zero when the query lies inside it). The tighter Bound is, the
// fewer cells a search visits; a Bound that is ever larger than Dist for a
// point in the rectangle, or NaN, makes results wrong (nearer objects
// missed), though they stay sorted and the search still ends, having visited
// each cell at most once. Dist need only be monotone in the true distance: a
// squared distance works. An object whose Dist is NaN is never returned;
// negative and infinite values are ordinary ones (with maxDist +Inf, an
// object at Dist +Inf is found).
type Metric struct {
	Dist  func(p Point, limit float64) float64
	Bound func(r Rect) float64
}

// Euclidean returns the planar metric around q, with squared distances.
func Euclidean(q Point) Metric {
	return Metric{
		Dist: func(p Point, _ float64) float64 {
			dx, dy := p.X-q.X, p.Y-q.Y
			return dx*dx + dy*dy
		},
		Bound: func(r Rect) float64 {
			dx := max(r.MinX-q.X, 0, q.X-r.MaxX)
			dy := max(r.MinY-q.Y, 0, q.Y-r.MaxY)
			return dx*dx + dy*dy
		},
	}
}

// cand is a cell waiting in the best-first queue.
type cand struct {
	bound float64
	node  int32
}

// Nearest appends to dst[:0] the k objects nearest by m with Dist <= maxDist
// that pass filter (nil means all), sorted by ascending Dist, and returns the
// slice. k <= 0 means every object within maxDist; pass math.Inf(1) as
// maxDist for no limit. Ties at the k-th distance are broken arbitrarily.
//
// The search is best-first (Hjaltason and Samet, "Distance browsing in
// spatial databases", 1999): cells come off a priority queue in order of
// m.Bound and the search stops when the next cell cannot beat the k-th best
// object found. dst is used as the result heap, so a caller that passes a
// buffer with capacity k gets no allocation. m and filter must not modify
// the tree; filter runs before Dist, so put the cheap test there.
func (t *Tree[ID, V]) Nearest(dst []Neighbor[ID, V], k int, maxDist float64, m Metric, filter func(ID, Point, V) bool) []Neighbor[ID, V] {
	return t.nearest(dst, k, maxDist, m, filter, false)
}

// NearestMarked is [Tree.Nearest] restricted to the objects the tree's mark
// accepts (see [NewMarked]; a tree made by [New] marks nothing, so this
// finds nothing). It skips every cell whose subtree holds no marked object,
// so when few objects are marked it visits far fewer cells and records than
// Nearest with a filter would. filter, if not nil, runs on marked objects
// only.
func (t *Tree[ID, V]) NearestMarked(dst []Neighbor[ID, V], k int, maxDist float64, m Metric, filter func(ID, Point, V) bool) []Neighbor[ID, V] {
	return t.nearest(dst, k, maxDist, m, filter, true)
}

func (t *Tree[ID, V]) nearest(dst []Neighbor[ID, V], k int, maxDist float64, m Metric, filter func(ID, Point, V) bool, marked bool) []Neighbor[ID, V] {
	dst = dst[:0]
	if len(t.index) == 0 || math.IsNaN(maxDist) || (marked && t.nodes[0].marked == 0) {
		return dst
	}
	if k <= 0 {
		k = math.MaxInt
	}
	qp, _ := t.scratch.Get().(*[]cand)
	if qp == nil {
		qp = new([]cand)
	}
	q := (*qp)[:0]
	q = pushCand(q, cand{m.Bound(t.nodes[0].rect), 0})
	for len(q) > 0 {
		c := q[0]
		q = popCand(q)
		if c.bound > maxDist || (len(dst) == k && c.bound > dst[0].Dist) {
			break
		}
		nd := &t.nodes[c.node]
		if nd.child != noChild {
			for i := range int32(4) {
				ch := &t.nodes[nd.child+i]
				if ch.count == 0 || (marked && ch.marked == 0) {
					continue
				}
				b := m.Bound(ch.rect)
				if b > maxDist || (len(dst) == k && b > dst[0].Dist) {
					continue
				}
				q = pushCand(q, cand{b, nd.child + i})
			}
			continue
		}
		items := nd.items
		if marked {
			items = items[:nd.marked] // a leaf keeps its marked records first
		}
		for i := range items {
			it := &items[i]
			if filter != nil && !filter(it.id, it.p, it.v) {
				continue
			}
			limit := maxDist
			if len(dst) == k {
				limit = min(limit, dst[0].Dist)
			}
			d := m.Dist(it.p, limit)
			if !(d <= maxDist) {
				continue // a NaN too: no distance is below it, so it would stick at the top of the heap
			}
			if len(dst) < k {
				dst = append(dst, Neighbor[ID, V]{it.id, it.p, it.v, d})
				siftUp(dst, len(dst)-1)
			} else if d < dst[0].Dist {
				dst[0] = Neighbor[ID, V]{it.id, it.p, it.v, d}
				siftDown(dst, 0, len(dst))
			}
		}
	}
	*qp = q[:0]
	t.scratch.Put(qp)
	// Heap sort in place: repeatedly move the farthest to the end.
	for end := len(dst) - 1; end > 0; end-- {
		dst[0], dst[end] = dst[end], dst[0]
		siftDown(dst, 0, end)
	}
	return dst
}

// The result heap is a max-heap on Dist so the worst kept result is at 0.
func siftUp[ID comparable, V any](h []Neighbor[ID, V], i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p].Dist >= h[i].Dist {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func siftDown[ID comparable, V any](h []Neighbor[ID, V], i, n int) {
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		j := l
		if r := l + 1; r < n && h[r].Dist > h[l].Dist {
			j = r
		}
		if h[i].Dist >= h[j].Dist {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

// The cell queue is a min-heap on bound.
func pushCand(q []cand, c cand) []cand {
	q = append(q, c)
	i := len(q) - 1
	for i > 0 {
		p := (i - 1) / 2
		if q[p].bound <= q[i].bound {
			break
		}
		q[p], q[i] = q[i], q[p]
		i = p
	}
	return q
}

func popCand(q []cand) []cand {
	n := len(q) - 1
	q[0] = q[n]
	q = q[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && q[r].bound < q[l].bound {
			j = r
		}
		if q[i].bound <= q[j].bound {
			break
		}
		q[i], q[j] = q[j], q[i]
		i = j
	}
	return q
}
