package quadtree

import (
	"errors"
	"fmt"
	"math"
	"sync"
)

// Errors returned by the tree. Test for them with [errors.Is].
var (
	// ErrOutOfBounds means a point lies outside the tree's bounds.
	ErrOutOfBounds = errors.New("quadtree: point out of bounds")
	// ErrInvalidPoint means a coordinate is NaN or infinite.
	ErrInvalidPoint = errors.New("quadtree: invalid point")
	// ErrInvalidBounds means New was given an empty, inverted or non-finite
	// rectangle.
	ErrInvalidBounds = errors.New("quadtree: invalid bounds")
	// ErrExists means Insert was given an ID that is already in the tree.
	ErrExists = errors.New("quadtree: id already present")
	// ErrNotFound means the ID is not in the tree.
	ErrNotFound = errors.New("quadtree: id not found")
	// ErrInvalidID means Insert, Set or Swap was given an ID that is not
	// equal to itself (a float NaN, or a struct or array holding one),
	// which the tree could never find again.
	ErrInvalidID = errors.New("quadtree: invalid id")
)

// Point is a position in the plane.
type Point struct {
	X, Y float64
}

// Rect is a closed axis-aligned rectangle: it contains the points with
// MinX <= X <= MaxX and MinY <= Y <= MaxY.
type Rect struct {
	MinX, MinY, MaxX, MaxY float64
}

// Contains reports whether p lies in r, edges included.
func (r Rect) Contains(p Point) bool {
	return p.X >= r.MinX && p.X <= r.MaxX && p.Y >= r.MinY && p.Y <= r.MaxY
}

// Intersects reports whether r and s share at least one point.
func (r Rect) Intersects(s Rect) bool {
	return r.MinX <= s.MaxX && s.MinX <= r.MaxX && r.MinY <= s.MaxY && s.MinY <= r.MaxY
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Options tunes a Tree. The zero value means the defaults.
type Options struct {
	// LeafSize is how many objects a leaf holds before it splits into four.
	// Zero or less means 32; 1 means 2, and more than 1<<20 means 1<<20.
	// A leaf's first storage holds LeafSize/4 records, so a huge LeafSize
	// costs memory even in a tree of one object.
	LeafSize int
	// MaxDepth bounds how deep cells subdivide; a leaf at this depth grows
	// without splitting. Zero or less means 32, and more than 60 means 60.
	MaxDepth int
}

const (
	defaultLeafSize = 32
	defaultMaxDepth = 32
	noChild         = -1
)

// item is one object stored in a leaf.
type item[ID comparable, V any] struct {
	p  Point
	id ID
	v  V
}

// node is a cell. Its four children, when it has them, are consecutive
// nodes starting at child, in the order SW, SE, NW, NE.
type node[ID comparable, V any] struct {
	rect   Rect
	items  []item[ID, V] // leaf only
	child  int32         // first child, or noChild for a leaf
	parent int32         // noChild for the root
	count  int32         // objects in the subtree
	marked int32         // marked objects in the subtree (see NewMarked)
	limit  int32         // a leaf splits when it would pass this many objects
	depth  int32
}

// loc is where an object lives: its leaf and its slot in the leaf.
type loc struct {
	leaf, slot int32
}

// Tree is a point quadtree of objects keyed by ID, each carrying a value of
// type V (use struct{} for none). Create one with [New].
//
// IDs are map keys. An ID not equal to itself (a float NaN) is refused with
// [ErrInvalidID]; an interface-typed ID holding an uncomparable value (a
// slice, a map) makes any method taking it panic, as such a map key does.
//
// A Tree is not safe for concurrent use: callers serialise writes and must
// not read while a write is in progress. Any number of goroutines may run
// the read-only methods ([Tree.Get], [Tree.Len], [Tree.Bounds],
// [Tree.Range], [Tree.Walk], [Tree.Nearest] and [Tree.NearestMarked]) at
// the same time.
type Tree[ID comparable, V any] struct {
	bounds   Rect
	leafSize int32
	mergeAt  int32 // a subtree this small merges into one leaf
	maxDepth int32
	nodes    []node[ID, V]
	free     []int32           // first indexes of released blocks of four nodes
	caps     []int32           // capacity classes of leaf storage, ascending; the last is LeafSize
	spare    [][][]item[ID, V] // recycled leaf storage, per class
	index    map[ID]loc
	mark     func(V) bool // nil: nothing is marked
	scratch  sync.Pool    // *[]cand for Nearest
}

// New returns an empty tree covering bounds, which must be finite with
// MinX < MaxX and MinY < MaxY ([ErrInvalidBounds] otherwise).
func New[ID comparable, V any](bounds Rect, opt Options) (*Tree[ID, V], error) {
	if !finite(bounds.MinX) || !finite(bounds.MinY) || !finite(bounds.MaxX) || !finite(bounds.MaxY) ||
		!(bounds.MinX < bounds.MaxX) || !(bounds.MinY < bounds.MaxY) {
		return nil, fmt.Errorf("%w: %+v", ErrInvalidBounds, bounds)
	}
	if opt.LeafSize <= 0 {
		opt.LeafSize = defaultLeafSize
	}
	if opt.LeafSize < 2 {
		opt.LeafSize = 2
	}
	if opt.MaxDepth <= 0 {
		opt.MaxDepth = defaultMaxDepth
	}
	t := &Tree[ID, V]{
		bounds:   bounds,
		leafSize: int32(min(opt.LeafSize, 1<<20)),
		maxDepth: int32(min(opt.MaxDepth, 60)),
		mergeAt:  int32(min(opt.LeafSize, 1<<20) * 3 / 4),
		index:    make(map[ID]loc),
	}
	for _, c := range []int32{t.leafSize / 4, t.leafSize / 2, t.leafSize} {
		if c >= 1 && (len(t.caps) == 0 || c > t.caps[len(t.caps)-1]) {
			t.caps = append(t.caps, c)
		}
	}
	t.spare = make([][][]item[ID, V], len(t.caps))
	t.nodes = append(t.nodes, node[ID, V]{rect: bounds, child: noChild, parent: noChild, limit: t.leafSize})
	return t, nil
}

// NewMarked is [New] for a tree that also counts, in every cell, the
// objects whose value mark accepts. [Tree.NearestMarked] uses the counts to
// skip cells without a marked object, so a search for a rare kind of object
// (an available driver among busy ones) visits few cells. mark must be a
// pure function of the value; it runs once per insert, per cross-leaf move,
// per removal and twice per value change, each of which then also costs
// O(depth) when the mark changes. It panics if mark is nil.
func NewMarked[ID comparable, V any](bounds Rect, opt Options, mark func(V) bool) (*Tree[ID, V], error) {
	if mark == nil {
		panic("quadtree: NewMarked with a nil mark")
	}
	t, err := New[ID, V](bounds, opt)
	if err != nil {
		return nil, err
	}
	t.mark = mark
	return t, nil
}

// marks returns 1 if v is marked, else 0.
func (t *Tree[ID, V]) marks(v V) int32 {
	if t.mark != nil && t.mark(v) {
		return 1
	}
	return 0
}

// remark adds d to the marked count of leaf n and its ancestors.
func (t *Tree[ID, V]) remark(n, d int32) {
	if d == 0 {
		return
	}
	for ; n != noChild; n = t.nodes[n].parent {
		t.nodes[n].marked += d
	}
}

// Bounds returns the rectangle the tree covers.
func (t *Tree[ID, V]) Bounds() Rect { return t.bounds }

// Len returns the number of objects in the tree. It costs O(1).
func (t *Tree[ID, V]) Len() int { return len(t.index) }

// check validates a point against the bounds.
func (t *Tree[ID, V]) check(p Point) error {
	if !finite(p.X) || !finite(p.Y) {
		return fmt.Errorf("%w: (%v, %v)", ErrInvalidPoint, p.X, p.Y)
	}
	if !t.bounds.Contains(p) {
		return fmt.Errorf("%w: (%v, %v)", ErrOutOfBounds, p.X, p.Y)
	}
	return nil
}

// holds reports whether descending from the root would place p in n. Cells
// are half-open ([min, max)) except on the tree's outer max edges, so every
// point of the bounds belongs to exactly one leaf.
func (t *Tree[ID, V]) holds(n *node[ID, V], p Point) bool {
	r := &n.rect
	return p.X >= r.MinX && (p.X < r.MaxX || (p.X == r.MaxX && r.MaxX == t.bounds.MaxX)) &&
		p.Y >= r.MinY && (p.Y < r.MaxY || (p.Y == r.MaxY && r.MaxY == t.bounds.MaxY))
}

// mid returns the midpoint of a and b, where a cell divides. Halving
// before adding keeps it finite for bounds near the largest float64, whose
// (a+b)/2 overflows to infinity and would deal every object into one
// child. It equals (a+b)/2 except near the subnormal range (there it may
// differ by a unit in the last place), and it always lies in [a, b].
func mid(a, b float64) float64 { return a*0.5 + b*0.5 }

// quadrant returns which child of n (0..3) a point descends into.
func quadrant(r *Rect, p Point) int32 {
	var q int32
	if p.X >= mid(r.MinX, r.MaxX) {
		q = 1
	}
	if p.Y >= mid(r.MinY, r.MaxY) {
		q |= 2
	}
	return q
}

// Get returns the point and value of id. It costs one map lookup.
func (t *Tree[ID, V]) Get(id ID) (Point, V, bool) {
	l, ok := t.index[id]
	if !ok {
		var zero V
		return Point{}, zero, false
	}
	it := &t.nodes[l.leaf].items[l.slot]
	return it.p, it.v, true
}

// Insert adds id at p with value v. It returns [ErrExists] if id is
// present, [ErrInvalidID] for an id not equal to itself (NaN),
// [ErrInvalidPoint] or [ErrOutOfBounds] for a bad point, and leaves the
// tree unchanged on error. It costs O(depth) plus, when a leaf splits,
// O(LeafSize) amortised.
func (t *Tree[ID, V]) Insert(id ID, p Point, v V) error {
	if err := t.check(p); err != nil {
		return err
	}
	if _, ok := t.index[id]; ok {
		return ErrExists
	}
	if id != id {
		return ErrInvalidID
	}
	t.place(0, item[ID, V]{p: p, id: id, v: v})
	return nil
}

// place descends from node n (which must hold the item's point), counting
// the item into every node on the way, and stores it in a leaf.
func (t *Tree[ID, V]) place(n int32, it item[ID, V]) {
	mk := t.marks(it.v)
	for {
		nd := &t.nodes[n]
		if nd.child == noChild {
			if int32(len(nd.items)) >= nd.limit && t.split(n) {
				continue // n is now internal; descend into the right child
			}
			// A raised limit marks a pile of objects at one point (or a
			// leaf at MaxDepth): an arrival elsewhere parts it at once,
			// lest the leaf fill up to its limit with scattered objects.
			if nd.limit > t.leafSize && int32(len(nd.items)) >= t.leafSize &&
				nd.depth < t.maxDepth && it.p != nd.items[0].p {
				t.divide(n)
				continue
			}
			t.push(n, it, mk)
			return
		}
		nd.count++
		nd.marked += mk
		n = nd.child + quadrant(&nd.rect, it.p)
	}
}

// split turns the full leaf n into an internal node with four leaf children.
// It returns false, and raises the leaf's limit instead, when splitting
// cannot separate the objects: the leaf is at MaxDepth, or all its objects
// share one point.
func (t *Tree[ID, V]) split(n int32) bool {
	nd := &t.nodes[n]
	if nd.depth >= t.maxDepth || samePoint(nd.items) {
		if nd.limit <= math.MaxInt32/2 {
			nd.limit *= 2 // amortises the samePoint scan over many inserts
		}
		return false
	}
	t.divide(n)
	return true
}

// spread splits leaf n, which holds a pile of objects at one point above
// LeafSize, now that one of them has moved away inside it, and so on down
// the child that takes the most objects, until they are apart or at one
// point again. Left whole, a dispersed pile of 10,000 made a 1-nearest
// search read all of them instead of 25.
func (t *Tree[ID, V]) spread(n int32) {
	if t.nodes[n].depth >= t.maxDepth {
		return
	}
	for int32(len(t.nodes[n].items)) > t.leafSize && t.split(n) {
		c := t.nodes[n].child
		n = c
		for q := c + 1; q < c+4; q++ {
			if len(t.nodes[q].items) > len(t.nodes[n].items) {
				n = q
			}
		}
	}
}

// divide turns leaf n into an internal node with four leaf children and
// deals its objects among them.
func (t *Tree[ID, V]) divide(n int32) {
	c := t.alloc()
	nd := &t.nodes[n] // after alloc, which may move the slice
	r := nd.rect
	mx, my := mid(r.MinX, r.MaxX), mid(r.MinY, r.MaxY)
	rects := [4]Rect{
		{r.MinX, r.MinY, mx, my},
		{mx, r.MinY, r.MaxX, my},
		{r.MinX, my, mx, r.MaxY},
		{mx, my, r.MaxX, r.MaxY},
	}
	for i := range int32(4) {
		ch := &t.nodes[c+i]
		ch.rect = rects[i]
		ch.items = nil // push takes storage from the smallest class
		ch.child = noChild
		ch.parent = n
		ch.count = 0
		ch.marked = 0
		ch.limit = t.leafSize
		ch.depth = nd.depth + 1
	}
	items := nd.items
	nd.items = nil
	nd.child = c
	for _, it := range items {
		ch := c + quadrant(&r, it.p)
		t.push(ch, it, t.marks(it.v))
	}
	t.release(items)
	// A pile keeps the limit it was raised to: reset to LeafSize, every
	// later arrival at its point would rescan it in split and double the
	// limit again, one scan of the whole pile per doubling.
	if lim := t.nodes[n].limit; lim > t.leafSize {
		for q := c; q < c+4; q++ {
			if ch := &t.nodes[q]; int32(len(ch.items)) > t.leafSize && samePoint(ch.items) {
				ch.limit = lim
			}
		}
	}
}

// push appends it to leaf n, counts it, and indexes it. mk is 1 when it
// is marked. A leaf keeps its marked records first (items[:marked]), so a
// search for marked objects scans only those: a marked record goes into
// the first unmarked slot, whose record moves to the end.
func (t *Tree[ID, V]) push(n int32, it item[ID, V], mk int32) {
	nd := &t.nodes[n]
	nd.count++
	if c := cap(nd.items); len(nd.items) == c && c < int(t.leafSize) {
		// Move up one capacity class.
		s := append(t.leafSlice(t.class(c)+1), nd.items...)
		t.release(nd.items)
		nd.items = s
	}
	nd.items = append(nd.items, it)
	i := int32(len(nd.items) - 1)
	if mk != 0 {
		if j := nd.marked; j != i {
			nd.items[i] = nd.items[j]
			t.index[nd.items[i].id] = loc{leaf: n, slot: i}
			nd.items[j] = it
			i = j
		}
		nd.marked++
	}
	t.index[it.id] = loc{leaf: n, slot: i}
}

// flip moves the record at slot s of leaf n across the boundary between
// the leaf's marked and unmarked records after its mark changed to mk,
// and updates the marked counts of n and its ancestors.
func (t *Tree[ID, V]) flip(n, s, mk int32) {
	nd := &t.nodes[n]
	j := nd.marked // first unmarked slot: where a newly marked record goes
	d := int32(1)
	if mk == 0 {
		j-- // last marked slot: where a newly unmarked record goes
		d = -1
	}
	if j != s {
		nd.items[s], nd.items[j] = nd.items[j], nd.items[s]
		t.index[nd.items[s].id] = loc{leaf: n, slot: s}
		t.index[nd.items[j].id] = loc{leaf: n, slot: j}
	}
	t.remark(n, d)
}

// Leaf storage comes in capacity classes LeafSize/4, LeafSize/2 and
// LeafSize: a leaf moves up a class when it is full and down one when a
// removal leaves it at a quarter of its capacity, so it stays between a
// quarter and all of its capacity full, and an object moving back and forth
// cannot make it switch on every move. Fixed storage of LeafSize records
// was measured to sit 41% full in a 1,000,000-object tree, because a split
// leaves four leaves of about LeafSize/4. Storage a leaf gives up waits,
// cleared, in a per-class spare list for the next leaf that needs it, so
// a tree in steady churn allocates almost nothing.

// class returns the index of the capacity class c, or -1 for storage
// outside the classes (nil, or a leaf grown past LeafSize).
func (t *Tree[ID, V]) class(c int) int {
	for i, k := range t.caps {
		if int(k) == c {
			return i
		}
	}
	return -1
}

// leafSlice returns empty storage of class i.
func (t *Tree[ID, V]) leafSlice(i int) []item[ID, V] {
	if k := len(t.spare[i]); k > 0 {
		s := t.spare[i][k-1]
		t.spare[i][k-1] = nil
		t.spare[i] = t.spare[i][:k-1]
		return s
	}
	return make([]item[ID, V], 0, t.caps[i])
}

// release clears a leaf's storage and keeps it for reuse if it is of a class.
func (t *Tree[ID, V]) release(s []item[ID, V]) {
	clear(s)
	if i := t.class(cap(s)); i >= 0 {
		t.spare[i] = append(t.spare[i], s[:0])
	}
}

func samePoint[ID comparable, V any](items []item[ID, V]) bool {
	for i := 1; i < len(items); i++ {
		if items[i].p != items[0].p {
			return false
		}
	}
	return true
}

// alloc returns the first index of a block of four nodes.
func (t *Tree[ID, V]) alloc() int32 {
	if k := len(t.free); k > 0 {
		c := t.free[k-1]
		t.free = t.free[:k-1]
		return c
	}
	c := int32(len(t.nodes))
	var zero node[ID, V]
	t.nodes = append(t.nodes, zero, zero, zero, zero)
	return c
}

// Move sets the point of id to p, keeping its value. It returns
// [ErrNotFound], [ErrInvalidPoint] or [ErrOutOfBounds] and then changes
// nothing. A move within the same leaf costs one map lookup; otherwise it
// walks up to the smallest cell holding both points and down again, O(depth),
// without searching for the old point. It does not allocate once the leaves
// it touches have room.
func (t *Tree[ID, V]) Move(id ID, p Point) error {
	if err := t.check(p); err != nil {
		return err
	}
	l, ok := t.index[id]
	if !ok {
		return ErrNotFound
	}
	t.move(l, p, nil)
	return nil
}

// Set inserts id at p with value v, or, if id is present, moves it to p and
// replaces its value: an upsert with the cost of [Tree.Insert] or
// [Tree.Move]. It returns [ErrInvalidID], [ErrInvalidPoint] or
// [ErrOutOfBounds] and then changes nothing.
func (t *Tree[ID, V]) Set(id ID, p Point, v V) error {
	_, _, err := t.Swap(id, p, v)
	return err
}

// Swap is [Tree.Set] that also returns the value id had and whether it was
// present, for the cost of Set: one map lookup finds both.
func (t *Tree[ID, V]) Swap(id ID, p Point, v V) (old V, existed bool, err error) {
	if err := t.check(p); err != nil {
		return old, false, err
	}
	l, ok := t.index[id]
	if !ok {
		if id != id {
			return old, false, ErrInvalidID
		}
		t.place(0, item[ID, V]{p: p, id: id, v: v})
		return old, false, nil
	}
	old = t.nodes[l.leaf].items[l.slot].v
	t.move(l, p, &v)
	return old, true, nil
}

// move relocates the object at l to the valid point p, and sets its value
// when v is not nil.
func (t *Tree[ID, V]) move(l loc, p Point, v *V) {
	leaf := &t.nodes[l.leaf]
	if t.holds(leaf, p) {
		it := &leaf.items[l.slot]
		// A leaf above LeafSize holds a pile at one point (or is at
		// MaxDepth): an object moving away inside it parts the pile.
		apart := it.p != p && int32(len(leaf.items)) > t.leafSize
		it.p = p
		if v != nil {
			old := t.marks(it.v)
			it.v = *v
			if mk := t.marks(it.v); mk != old {
				t.flip(l.leaf, l.slot, mk)
			}
		}
		if apart {
			t.spread(l.leaf)
		}
		return
	}
	it := t.take(l, false)
	mk := t.marks(it.v)
	it.p = p
	if v != nil {
		it.v = *v
	}
	// Walk up, uncounting, to the first node that holds p.
	n := leaf.parent
	for {
		nd := &t.nodes[n]
		if t.holds(nd, p) {
			break
		}
		nd.count--
		nd.marked -= mk
		n = nd.parent
	}
	// place counts the object back into n with its new value; n's
	// ancestors keep their count, and their marked count changes only if
	// the value's mark did.
	t.nodes[n].count--
	t.nodes[n].marked -= mk
	t.place(n, it)
	t.remark(t.nodes[n].parent, t.marks(it.v)-mk)
	t.merge(t.nodes[l.leaf].parent)
}

// Update sets the value of id, keeping its point. It costs one map lookup.
func (t *Tree[ID, V]) Update(id ID, v V) error {
	l, ok := t.index[id]
	if !ok {
		return ErrNotFound
	}
	it := &t.nodes[l.leaf].items[l.slot]
	old := t.marks(it.v)
	it.v = v
	if mk := t.marks(v); mk != old {
		t.flip(l.leaf, l.slot, mk)
	}
	return nil
}

// take removes the item at l from its leaf (swapping the last item into its
// slot), uncounting only the leaf itself, and deletes its index entry if
// unindex is set. A move keeps the entry, and place overwrites it: deleting
// and re-adding map keys leaves tombstones that make the map grow under
// churn.
func (t *Tree[ID, V]) take(l loc, unindex bool) item[ID, V] {
	nd := &t.nodes[l.leaf]
	it := nd.items[l.slot]
	last := int32(len(nd.items) - 1)
	hole := l.slot
	if t.marks(it.v) != 0 {
		// Fill the hole with the last marked record, keeping marked
		// records first; its slot becomes the hole.
		nd.marked--
		if m := nd.marked; hole != m {
			nd.items[hole] = nd.items[m]
			t.index[nd.items[hole].id] = loc{leaf: l.leaf, slot: hole}
			hole = m
		}
	}
	if hole != last {
		nd.items[hole] = nd.items[last]
		t.index[nd.items[hole].id] = loc{leaf: l.leaf, slot: hole}
	}
	var zero item[ID, V]
	nd.items[last] = zero
	nd.items = nd.items[:last]
	if c := cap(nd.items); c > 2*int(t.leafSize) && int(last) <= c/4 {
		// Give back the memory of a leaf that grew past LeafSize (objects
		// sharing a point) once most of them have left.
		nd.items = append(make([]item[ID, V], 0, c/2), nd.items...)
	} else if i := t.class(c); i > 0 && int(last) <= c/4 {
		// Move down one capacity class.
		s := append(t.leafSlice(i-1), nd.items...)
		t.release(nd.items)
		nd.items = s
	}
	nd.count--
	if nd.limit > t.leafSize && last <= t.leafSize {
		// No longer a pile: a raised limit means a leaf above LeafSize,
		// whose objects share one point, which arrivals rely on.
		nd.limit = t.leafSize
	}
	if unindex {
		delete(t.index, it.id)
	}
	return it
}

// Remove deletes id and reports whether it was present. It costs O(depth);
// cells whose subtree falls to 3/4 of a leaf merge back into one leaf.
func (t *Tree[ID, V]) Remove(id ID) bool {
	l, ok := t.index[id]
	if !ok {
		return false
	}
	it := t.take(l, true)
	mk := t.marks(it.v)
	for n := t.nodes[l.leaf].parent; n != noChild; n = t.nodes[n].parent {
		t.nodes[n].count--
		t.nodes[n].marked -= mk
	}
	t.merge(t.nodes[l.leaf].parent)
	return true
}

// merge collapses n, and then its ancestors, into single leaves while their
// subtrees hold at most 3/4 of a leaf's worth of objects. The hysteresis
// between the split point (LeafSize) and the merge point (3/4 LeafSize)
// keeps an object moving back and forth over a cell edge from splitting and
// merging on every move; a wider gap (LeafSize/2) was measured to let a
// churning tree drift to 40% more cells than a freshly built one.
func (t *Tree[ID, V]) merge(n int32) {
	for n != noChild {
		nd := &t.nodes[n]
		if nd.child == noChild || nd.count > t.mergeAt {
			return
		}
		// Reuse the first child's storage (its records stay in place) or
		// a recycled slice.
		var items []item[ID, V]
		if first := &t.nodes[nd.child]; first.child == noChild && cap(first.items) >= int(nd.count) {
			items, first.items = first.items, nil
		} else {
			i := 0
			for i < len(t.caps)-1 && t.caps[i] < nd.count {
				i++
			}
			items = t.leafSlice(i)
		}
		items = t.gather(nd.child, items)
		if t.mark != nil {
			// Put the marked records first again.
			m := 0
			for i := range items {
				if t.mark(items[i].v) {
					items[m], items[i] = items[i], items[m]
					m++
				}
			}
		}
		nd = &t.nodes[n]
		nd.items = items
		nd.child = noChild
		nd.limit = t.leafSize
		for i, it := range items {
			t.index[it.id] = loc{leaf: n, slot: int32(i)}
		}
		n = nd.parent
	}
}

// gather appends every item of the four nodes starting at c and their
// subtrees to dst, and releases the nodes.
func (t *Tree[ID, V]) gather(c int32, dst []item[ID, V]) []item[ID, V] {
	for i := range int32(4) {
		ch := &t.nodes[c+i]
		if ch.child != noChild {
			dst = t.gather(ch.child, dst)
			ch = &t.nodes[c+i]
		}
		dst = append(dst, ch.items...)
		t.release(ch.items)
		ch.items = nil
		ch.child = noChild
		ch.count = 0
		ch.marked = 0
	}
	t.free = append(t.free, c)
	return dst
}

// Range calls fn for every object whose point lies in r (edges included),
// in no particular order, until fn returns false. It costs O(depth + cells
// visited + objects reported). fn must not modify the tree (Range may then
// skip objects or panic): collect the IDs and change the tree afterwards.
func (t *Tree[ID, V]) Range(r Rect, fn func(id ID, p Point, v V) bool) {
	if len(t.index) == 0 || !r.Intersects(t.bounds) {
		return
	}
	t.rangeNode(0, &r, fn)
}

func (t *Tree[ID, V]) rangeNode(n int32, r *Rect, fn func(ID, Point, V) bool) bool {
	nd := &t.nodes[n]
	if nd.child == noChild {
		for i := range nd.items {
			it := &nd.items[i]
			if r.Contains(it.p) && !fn(it.id, it.p, it.v) {
				return false
			}
		}
		return true
	}
	for i := range int32(4) {
		c := nd.child + i
		ch := &t.nodes[c]
		if ch.count > 0 && ch.rect.Intersects(*r) && !t.rangeNode(c, r, fn) {
			return false
		}
	}
	return true
}

// Cover says how a cell relates to a region, for [Tree.Walk].
type Cover uint8

// How a cell relates to a region.
const (
	// Outside means no point of the cell lies in the region.
	Outside Cover = iota
	// Partial means some points of the cell may lie in the region.
	Partial
	// Inside means every point of the cell, edges included, lies in the
	// region.
	Inside
)

// Walk calls fn for the objects of every cell that classify does not rule
// Outside, until fn returns false. It asks classify about each non-empty
// cell from the root down; below a cell ruled Inside it asks nothing more
// and calls fn with inside set for every object there, so the caller can
// skip its own test of those objects. Objects of leaves ruled Partial reach
// fn with inside unset, for the caller to test. A region that is a circle
// costs O(depth + cells along its edge + objects reported). classify and fn
// must not modify the tree.
func (t *Tree[ID, V]) Walk(classify func(Rect) Cover, fn func(id ID, p Point, v V, inside bool) bool) {
	if len(t.index) == 0 {
		return
	}
	t.walkNode(0, classify, fn)
}

func (t *Tree[ID, V]) walkNode(n int32, classify func(Rect) Cover, fn func(ID, Point, V, bool) bool) bool {
	nd := &t.nodes[n]
	switch classify(nd.rect) {
	case Outside:
		return true
	case Inside:
		return t.walkAll(n, fn)
	}
	if nd.child == noChild {
		for i := range nd.items {
			it := &nd.items[i]
			if !fn(it.id, it.p, it.v, false) {
				return false
			}
		}
		return true
	}
	for i := range int32(4) {
		if c := nd.child + i; t.nodes[c].count > 0 && !t.walkNode(c, classify, fn) {
			return false
		}
	}
	return true
}

// walkAll calls fn, with inside set, for every object below n.
func (t *Tree[ID, V]) walkAll(n int32, fn func(ID, Point, V, bool) bool) bool {
	nd := &t.nodes[n]
	if nd.child == noChild {
		for i := range nd.items {
			it := &nd.items[i]
			if !fn(it.id, it.p, it.v, true) {
				return false
			}
		}
		return true
	}
	for i := range int32(4) {
		if c := nd.child + i; t.nodes[c].count > 0 && !t.walkAll(c, fn) {
			return false
		}
	}
	return true
}
