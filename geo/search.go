package geo

import (
	"cmp"
	"context"
	"math"
	"runtime"
	"slices"
)

// maxTries is how many times a search starts over because the tree's
// shape changed under it (splits and collapses, the only writes that
// change gen), or a leaf it read changed while a driver moved between
// leaves, before it takes the writers' mutex and runs undisturbed. Both
// are rare next to a search's length, so a 10-nearest search almost never
// gets there; the mutex bounds the worst case, a storm of splits and
// collapses, or a search over thousands of drivers under heavy moves.
const maxTries = 4

// retrySearch runs attempt, a search over the lock-free tree that reports
// whether what it read was consistent, until it is, waiting out a shape
// change before each try; after maxTries failures it runs attempt once
// more under the writers' mutex (locked true), where it cannot fail.
// attempt appends to dst and returns it cut back to its length on failure.
func retrySearch[T any](x *Index, dst []T, attempt func(dst []T, locked bool) ([]T, bool)) []T {
	for range maxTries {
		x.awaitShape()
		if out, ok := attempt(dst, false); ok {
			return out
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	dst, _ = attempt(dst, true)
	return dst
}

// scratch is a search's reusable memory, pooled per Index.
type scratch struct {
	heap     []qitem
	pos      []uint64 // a leaf's entries, copied or screened
	eids     []int64
	metas    []uint64
	screened []cand     // the entries of a leaf that scanLeaf screened in
	ents     []entry    // the queued entries' IDs and metas
	path     []pathStep // cells from the root to the center's leaf
	leaves   []*node    // leaves a radius search reads together
	edges    []*node
	topk     []float64 // max-heap of the k smallest upper bounds of entry keys
	cands    []Match
	reads    []leafRead // what the search read, to re-check after a move
	ids      map[DriverID]struct{}
	mapped   bool
}

// entry is the ID and meta of a driver entry in a search's queue, read
// from its block when the search queued it.
type entry struct {
	id int64
	m  meta
}

// cand is an entry of a leaf that passed scanLeaf's first screen: its
// position, the lower bound of its key, its meta if read, and its index.
type cand struct {
	p  uint64
	lo float64
	m  uint64
	j  int32
}

// leafRead is a leaf a search read, with the seq it read it at, or a
// cell it skipped as empty (empty true).
type leafRead struct {
	n     *node
	seq   uint32
	empty bool
}

// A view is what a lock-free search notes as it starts: the shape
// generation and the move counter. The leaves it reads go to s.reads.
type view struct{ g, mv uint64 }

// begin starts a search's attempt with s. v.g is odd if the writer is
// changing the tree's shape, and the attempt must not start.
func (x *Index) begin(s *scratch) view {
	s.reads = s.reads[:0]
	return view{g: x.gen.Load(), mv: x.moved.Load()}
}

// moving reports whether a driver was moving between leaves when v began
// or has moved since: then the search may have seen it twice, or in
// neither leaf.
func (x *Index) moving(v view) bool { return v.mv&1 != 0 || x.moved.Load() != v.mv }

// valid reports whether what the attempt begun at v read in s is
// consistent: the tree kept its shape, and if a driver moved between
// leaves meanwhile, the leaves read are unchanged (see unchanged).
func (x *Index) valid(v view, s *scratch) bool {
	return x.gen.Load() == v.g && (!x.moving(v) || unchanged(s.reads))
}

// unchanged reports whether the leaves in rs still hold the entries they
// held when read, and the cells skipped as empty are still empty. A
// search whose move counter changed calls it at the end: a driver that
// moved between leaves while it ran may have been read in neither (its
// new leaf before the move, its old one after), and then its new leaf's
// seq changed, or the empty cell it moved to is no longer empty, and the
// search starts over. Cells a search passed over for their distance
// need no check: a driver that moved there is no nearer than what the
// search returns, as after the move.
func unchanged(rs []leafRead) bool {
	for _, r := range rs {
		if r.empty {
			if r.n.occ.Load()&occDriver != 0 {
				return false
			}
		} else if r.n.seq.Load() != r.seq {
			return false
		}
	}
	return true
}

// qitem is a cell or a driver entry waiting in a search's queue. For a
// cell, ref is its node and a, b pack its box's corners (x0, y0) and
// (x1, y1); for an entry, ref is -1, a its position and h the index of
// its ID and meta in the scratch's ents.
type qitem struct {
	key  float64
	a, b uint64
	ref  int32
	h    uint32
}

func (it *qitem) box() ibox {
	return ibox{posLng(it.a), posLat(it.a), posLng(it.b), posLat(it.b)}
}

func cellItem(key float64, ref int32, b ibox) qitem {
	return qitem{key: key, a: packPos(b.x0, b.y0), b: packPos(b.x1, b.y1), ref: ref}
}

// The queue is a binary min-heap on key.
func push(h []qitem, it qitem) []qitem {
	h = append(h, it)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p].key <= it.key {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = it
	return h
}

func pop(h []qitem) []qitem {
	n := len(h) - 1
	last := h[n]
	h = h[:n]
	if n == 0 {
		return h
	}
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && h[r].key < h[l].key {
			j = r
		}
		if last.key <= h[j].key {
			break
		}
		h[i] = h[j]
		i = j
	}
	h[i] = last
	return h
}

// pushTop adds key to t, a max-heap of at most k keys, keeping the k
// smallest.
func pushTop(t []float64, key float64, k int) []float64 {
	if len(t) == k {
		if key >= t[0] {
			return t
		}
		// Replace the largest and sift down.
		i, n := 0, len(t)
		for {
			l := 2*i + 1
			if l >= n {
				break
			}
			j := l
			if r := l + 1; r < n && t[r] > t[l] {
				j = r
			}
			if key >= t[j] {
				break
			}
			t[i] = t[j]
			i = j
		}
		t[i] = key
		return t
	}
	t = append(t, key)
	i := len(t) - 1
	for i > 0 {
		p := (i - 1) / 2
		if t[p] >= key {
			break
		}
		t[i] = t[p]
		i = p
	}
	t[i] = key
	return t
}

func (x *Index) getScratch() *scratch {
	s, _ := x.pool.Get().(*scratch)
	if s == nil {
		s = &scratch{}
	}
	return s
}

// spin waits for a writer to finish a leaf.
func spin(i int) {
	if i > 16 {
		runtime.Gosched()
	}
}

// readLeaf copies the positions, IDs and metas of leaf n's entries into
// s.pos, s.eids and s.metas, consistent with one moment. It returns false
// if n is no longer a leaf.
func (s *scratch) readLeaf(n *node) bool {
	for i := 0; ; i++ {
		q := n.seq.Load()
		if q&1 != 0 {
			spin(i)
			continue
		}
		b := n.leaf.Load()
		if b == nil {
			return false
		}
		pw, im := b.arrays()
		cnt := min(max(b.count(), 0), int32(len(pw)))
		s.pos, s.eids, s.metas = s.pos[:0], s.eids[:0], s.metas[:0]
		for j := range cnt {
			s.pos = append(s.pos, pw[j].Load())
			s.eids = append(s.eids, int64(im[2*j].Load()))
			s.metas = append(s.metas, im[2*j+1].Load())
		}
		if n.seq.Load() == q {
			s.reads = append(s.reads, leafRead{n: n, seq: q})
			return true
		}
	}
}

// appendIDs appends the IDs of leaf n's drivers seen at cut or later to
// ids, consistent with one moment. It returns false if n is no longer a
// leaf.
func appendIDs(n *node, ids []DriverID, cut int64, rs *[]leafRead) ([]DriverID, bool) {
	start := len(ids)
	for i := 0; ; i++ {
		q := n.seq.Load()
		if q&1 != 0 {
			spin(i)
			continue
		}
		b := n.leaf.Load()
		if b == nil {
			return ids, false
		}
		ids = appendBlockIDs(ids[:start], b, b.count(), cut)
		if n.seq.Load() == q {
			*rs = append(*rs, leafRead{n: n, seq: q})
			return ids, true
		}
	}
}

// appendBlockIDs appends the IDs of b's first cnt drivers seen at cut or later,
// reading the metas only when cut can exclude a driver.
func appendBlockIDs(ids []DriverID, b *block, cnt int32, cut int64) []DriverID {
	pw, im := b.arrays()
	cnt = min(max(cnt, 0), int32(len(pw)))
	if cut == math.MinInt64 {
		for j := range cnt {
			ids = append(ids, DriverID(im[2*j].Load()))
		}
		return ids
	}
	for j := range cnt {
		if meta(im[2*j+1].Load()).seenMilli() >= cut {
			ids = append(ids, DriverID(im[2*j].Load()))
		}
	}
	return ids
}

// leafBatch is how many leaves wholly inside a radius search's circle
// [appendIDsBatch] reads together.
const leafBatch = 8

// appendIDsBatch is [appendIDs] for several leaves: it loads their
// blocks' headers before it copies any ID, so that the cache misses
// on the blocks overlap instead of following one another.
func appendIDsBatch(ns []*node, ids []DriverID, cut int64, rs *[]leafRead) ([]DriverID, bool) {
	var seqs [leafBatch]uint32
	var bs [leafBatch]*block
	ns = ns[:min(len(ns), leafBatch)]
	for i, n := range ns {
		seqs[i] = n.seq.Load()
		bs[i] = n.leaf.Load()
	}
	var cnts [leafBatch]int32
	for i, b := range bs[:len(ns)] {
		if b != nil {
			cnts[i] = b.count()
		}
	}
	for i, n := range ns {
		b := bs[i]
		if b == nil {
			return ids, false
		}
		start := len(ids)
		ids = appendBlockIDs(ids, b, cnts[i], cut)
		if seqs[i]&1 != 0 || n.seq.Load() != seqs[i] {
			// A writer was at work: read this leaf again on its own.
			var ok bool
			if ids, ok = appendIDs(n, ids[:start], cut, rs); !ok {
				return ids, false
			}
		} else {
			*rs = append(*rs, leafRead{n: n, seq: seqs[i]})
		}
	}
	return ids, true
}

// isDup reports whether list already holds id; it switches to a map for
// long lists.
func (s *scratch) isDup(list []Match, id DriverID) bool {
	if len(list) <= 64 {
		for i := range list {
			if list[i].ID == id {
				return true
			}
		}
		return false
	}
	if !s.mapped {
		if s.ids == nil {
			s.ids = make(map[DriverID]struct{})
		}
		for i := range list {
			s.ids[list[i].ID] = struct{}{}
		}
		s.mapped = true
	}
	_, ok := s.ids[id]
	return ok
}

// nearQuery is one nearest-neighbour search.
type nearQuery struct {
	q      sphereQuery
	radius float64
	maxKey float64
	k      int
	cut    int64
	filter func(Driver) bool
	avail  bool
	// noPrune turns off pruning by the k-th queued key, after a search
	// with it rejected an entry.
	noPrune bool
}

// nearby runs the incremental nearest search (Hjaltason and Samet, "Distance
// browsing in spatial databases", 1999): cells and entries share one queue
// ordered by key (a lower bound for cells, the exact haversine for entries),
// so entries come out in order of distance. With k > 0 it also keeps the k
// smallest upper bounds of the keys of the entries seen so far (see
// [sphereQuery.leafBound]): no entry or cell beyond the k-th can make the
// result if those k are all accepted, so it stops queueing them, and the
// exact distance of most entries is never computed (their lower bound
// rejects them). It reads the center's leaf first and starts below the root,
// from the smallest cell on the way to that leaf that holds the circle its
// entries span. Stale entries never enter the queue. If an entry is then
// rejected (filtered, or seen twice) the pruning may have dropped its
// replacement, and the search runs again without it. It reports false, with
// dst as given, if the tree's shape changed meanwhile.
func (x *Index) nearby(s *scratch, dst []Match, nq *nearQuery) ([]Match, bool) {
	start := len(dst)
	v := x.begin(s)
	if v.g&1 != 0 { // the writer is changing the tree's shape
		return dst, false
	}
	if s.mapped { // left over from an attempt that started over
		clear(s.ids)
		s.mapped = false
	}
	q := &nq.q
	prune := nq.k > 0 && !nq.noPrune
	limit := nq.maxKey
	topk := s.topk[:0]
	root := int32(mainRoot)
	if nq.avail {
		root = mirrorRoot
	}
	h := s.heap[:0]
	s.ents = s.ents[:0]
	startRef, startBox := root, worldBox
	first := int32(-1)
	// seed, when not -1, is the index in s.path of the start cell: the
	// search then queues the cells beside the path below it (the ones a
	// walk down from it would queue) instead of walking down again.
	seed := -1
	if prune {
		// Read the center's own leaf first: its entries bound the k-th
		// nearest, so the search can start from the smallest cell on
		// the way down that holds the whole circle they span, and skip
		// the levels above it; below it, it queues only the cells that
		// can beat them: the cells beside the path from it to the leaf,
		// which is not queued again (across ±180°, where the search
		// starts from cells off the path, it skips the leaf when it
		// comes to it).
		s.path = x.centerPath(s.path[:0], root, fix(q.lng), fix(q.lat))
		leaf := s.path[len(s.path)-1]
		var ok bool
		h, topk, limit, ok = s.scanLeaf(q, x.st.node(leaf.ref), leaf.box, nq.k, nq.cut, h, topk, limit)
		if !ok || x.gen.Load() != v.g {
			s.heap, s.topk = h, topk
			return dst[:start], false
		}
		first = leaf.ref
		seed = 0
		r := nq.radius
		if len(topk) == nq.k {
			r = min(r, metres(limit)*(1+1e-9))
		}
		var bb [2]Box
		boxes, err := cover(&bb, LatLng{Lat: q.lat, Lng: q.lng}, r)
		switch {
		case err != nil:
		case len(boxes) == 1:
			cb := boxes[0]
			for i := len(s.path) - 1; i > 0; i-- {
				if holdsBox(s.path[i].box, cb) {
					seed = i
					break
				}
			}
		default:
			seed = -1
			// Across ±180° the circle's two boxes lie in cells on
			// either side of the world, whose smallest common cell is
			// the root: start from the smallest cell holding each,
			// or from the larger one if it holds the other.
			refA, boxA := x.smallestCell(root, boxes[0])
			refB, boxB := x.smallestCell(root, boxes[1])
			switch {
			case boxA.inside(boxB):
				startRef, startBox = refB, boxB
			case boxB.inside(boxA):
				startRef, startBox = refA, boxA
			default:
				h = push(h, cellItem(q.cellBound(boxB), refB, boxB))
				startRef, startBox = refA, boxA
			}
		}
	}
	if seed >= 0 {
		for j, p := range s.path[seed : len(s.path)-1] {
			h = s.queueKids(x, q, h, p.child, p.box.children(), s.path[seed+j+1].ref, limit)
		}
	} else {
		h = push(h, cellItem(q.cellBound(startBox), startRef, startBox))
	}
	for len(h) > 0 {
		it := h[0]
		h = pop(h)
		if it.key > limit {
			break
		}
		if first >= 0 && it.ref == first {
			continue // read already
		}
		if it.ref < 0 {
			// Entries come off the queue nearest first.
			d := metres(it.key)
			if d > nq.radius {
				break // the rest are no nearer
			}
			e := s.ents[it.h]
			id := DriverID(e.id)
			drv := unpack(id, it.a, e.m)
			if (nq.avail && !e.m.available()) ||
				(x.moving(v) && s.isDup(dst[start:], id)) || // seen twice: keep the nearer
				(nq.filter != nil && !nq.filter(drv)) {
				if prune {
					s.heap, s.topk = h, topk
					nq.noPrune = true
					return dst[:start], false
				}
				continue
			}
			dst = append(dst, Match{Driver: drv, Distance: d})
			if s.mapped {
				s.ids[id] = struct{}{}
			}
			if len(dst)-start == nq.k {
				break
			}
			continue
		}
		n := x.st.node(it.ref)
		c := n.child.Load()
		if x.gen.Load() != v.g {
			s.heap = h
			return dst[:start], false
		}
		box := it.box()
		if c >= 0 {
			h = s.queueKids(x, q, h, c, box.children(), -1, limit)
			continue
		}
		k := 0
		if prune {
			k = nq.k
		}
		var ok bool
		if h, topk, limit, ok = s.scanLeaf(q, n, box, k, nq.cut, h, topk, limit); !ok || x.gen.Load() != v.g {
			s.heap, s.topk = h, topk
			return dst[:start], false
		}
	}
	s.heap, s.topk = h, topk
	if !x.valid(v, s) {
		return dst[:start], false
	}
	return dst, true
}

// scanLeaf queues the fresh entries of leaf n, whose box is b, with a key
// of at most limit. With k > 0 it keeps in topk the k smallest upper
// bounds of the keys of the entries seen and lowers limit to the k-th. It
// reads the block in place, screening each entry by its bounds from lb
// (which after the first leaf reject all but a few) before it reads the
// entry's meta (when cut can exclude it) and, for the entries it queues,
// its ID; it validates n's seq once at the end: it reports false, so that
// the search starts over, if n changed meanwhile or is no longer a leaf.
func (s *scratch) scanLeaf(q *sphereQuery, n *node, b ibox, k int, cut int64, h []qitem, topk []float64, limit float64) ([]qitem, []float64, float64, bool) {
	lb := q.leafBound(b)
	var seq uint32
	for i := 0; ; i++ {
		if seq = n.seq.Load(); seq&1 == 0 {
			break
		}
		spin(i)
	}
	blk := n.leaf.Load()
	if blk == nil {
		return h, topk, limit, false
	}
	pw, im := blk.arrays()
	cnt := min(max(blk.count(), 0), int32(len(pw)))
	pw, im = pw[:cnt], im[:2*cnt]
	fresh := cut == math.MinInt64
	cs := s.screened[:0]
	for j := range pw {
		p := pw[j].Load()
		dLat, dLng := lb.gaps(p)
		lo := lb.lower(dLat, dLng)
		if lo > limit {
			continue
		}
		if lb.steep {
			if lo = max(lo, lb.steepLower(q, posLat(p), dLat, dLng)); lo > limit {
				continue
			}
		}
		// The meta that passed the freshness test is the one returned:
		// an in-place Upsert may store an older one at any moment.
		var m uint64
		if !fresh {
			if m = im[2*j+1].Load(); meta(m).seenMilli() < cut {
				continue
			}
		}
		// The k smallest upper bounds cap the k-th nearest key as well
		// as exact keys would, to within a relative 1e-4 in a city, and
		// spare most entries of the first leaf their exact key.
		if k > 0 {
			hi := lb.upper(dLat, dLng)
			if lb.steep {
				hi = min(hi, lb.steepUpper(q, posLat(p), dLat, dLng))
			}
			if len(topk) < k || hi < topk[0] {
				if topk = pushTop(topk, hi, k); len(topk) == k {
					limit = topk[0]
				}
			}
		}
		cs = append(cs, cand{p: p, lo: lo, m: m, j: int32(j)})
	}
	for i := range cs {
		c := &cs[i]
		if c.lo > limit {
			continue
		}
		key := hav(q.lat, q.lng, q.cosLat, unfix(posLat(c.p)), unfix(posLng(c.p)))
		if key > limit {
			continue
		}
		j, m := int(c.j), c.m
		if fresh {
			m = im[2*j+1].Load()
		}
		h = push(h, qitem{key: key, a: c.p, ref: -1, h: uint32(len(s.ents))})
		s.ents = append(s.ents, entry{id: int64(im[2*j].Load()), m: meta(m)})
	}
	s.screened = cs
	s.reads = append(s.reads, leafRead{n: n, seq: seq})
	return h, topk, limit, n.seq.Load() == seq
}

// queueKids queues the children c to c+3, whose boxes are kids, except
// the one numbered skip, that hold a driver and whose bound is at most
// limit; it notes the empty ones in s.reads.
func (s *scratch) queueKids(x *Index, q *sphereQuery, h []qitem, c int32, kids [4]ibox, skip int32, limit float64) []qitem {
	for qd := range int32(4) {
		if c+qd == skip {
			continue
		}
		ch := x.st.node(c + qd)
		if ch.occ.Load()&occDriver == 0 {
			s.reads = append(s.reads, leafRead{n: ch, empty: true})
			continue
		}
		if key := q.cellBound(kids[qd]); key <= limit {
			h = push(h, cellItem(key, c+qd, kids[qd]))
		}
	}
	return h
}

// pathStep is a cell on the way from a root to a leaf, and the first of
// its children as read then (-1 for the leaf).
type pathStep struct {
	ref   int32
	box   ibox
	child int32
}

// centerPath appends to path the cells from root down to the leaf that
// holds (px, py), the leaf last. It is only a hint, read without
// validation: a search that uses it checks the generation as usual. The
// tree is at most maxDepth levels deep; the bound on the loop only guards
// against a writer reshaping the tree under it.
func (x *Index) centerPath(path []pathStep, root int32, px, py int32) []pathStep {
	i, box := root, worldBox
	for range maxDepth {
		c := x.st.node(i).child.Load()
		path = append(path, pathStep{i, box, c})
		if c < 0 {
			break
		}
		if box.polar() {
			qd, cb := box.descendPolar(px, py)
			i, box = c+qd, cb
			continue
		}
		// box.descend(px, py), written out: quadChild's two halves.
		x0, x1, east := half(box.x0, box.x1, px)
		y0, y1, north := half(box.y0, box.y1, py)
		i, box = c+(east&1|north&2), ibox{x0, y0, x1, y1}
	}
	return path
}

// holdsBox reports whether every point of the box cb in degrees lies in
// cell b.
func holdsBox(b ibox, cb Box) bool {
	d := b.degrees()
	return d.MinX <= cb.MinLng && cb.MaxLng <= d.MaxX && d.MinY <= cb.MinLat && cb.MaxLat <= d.MaxY
}

// inside reports whether cell b lies in cell c.
func (b ibox) inside(c ibox) bool {
	return c.x0 <= b.x0 && b.x1 <= c.x1 && c.y0 <= b.y0 && b.y1 <= c.y1
}

// smallestCell returns the smallest cell of the tree under root that
// holds the box cb in degrees, and its box. Like centerPath it reads
// without validation, for a search that checks the generation.
func (x *Index) smallestCell(root int32, cb Box) (int32, ibox) {
	i, box := root, worldBox
	for range maxDepth {
		c := x.st.node(i).child.Load()
		if c < 0 {
			break
		}
		kids := box.children()
		qd := int32(0)
		for qd < 4 && !holdsBox(kids[qd], cb) {
			qd++
		}
		if qd == 4 {
			break
		}
		i, box = c+qd, kids[qd]
	}
	return i, box
}

// Nearby returns the k drivers nearest to center by great-circle distance,
// within radius metres, fresh, and accepted by filter (nil accepts all),
// sorted by ascending distance. k <= 0 means all of them. The result is
// exact over the stored positions: the same distances as computing
// [Distance] from center to every driver's stored position and keeping
// the k smallest, whatever the center (poles and the antimeridian
// included) and radius (up to half the Earth's circumference and beyond).
// Among drivers at exactly the same distance (drivers at one point),
// which ones fill the last places and in what order is unspecified. It
// returns an error for an invalid center or radius, or ctx's error.
//
// filter sees only fresh drivers within radius, but it may see a driver
// more than once, and see drivers that are not returned: a search that
// starts over because a writer changed the tree calls it again for the
// drivers it meets again, and discards what it had. It must be cheap, free
// of side effects that count on one call per driver, and must not call
// the index's write methods or Get.
//
// ctx is checked once, before the search starts: a search is not
// interrupted midway. A nil ctx counts as context.Background(). With
// k <= 0 or a radius spanning much of the Earth it reads every driver in
// the circle, so bound those with the radius.
func (x *Index) Nearby(ctx context.Context, center LatLng, radius float64, k int, filter func(Driver) bool) ([]Match, error) {
	return x.AppendNearby(ctx, nil, center, radius, k, filter)
}

// AppendNearby is [Index.Nearby] appending to dst; with room in dst for the
// results it does not allocate.
func (x *Index) AppendNearby(ctx context.Context, dst []Match, center LatLng, radius float64, k int, filter func(Driver) bool) ([]Match, error) {
	return x.appendNearby(ctx, dst, center, radius, k, filter, false)
}

// NearbyAvailable is [Index.Nearby] restricted to drivers whose status is
// Available; filter, if not nil, sees only those. It returns the same
// drivers as Nearby with a filter testing the status, but searches a
// second tree that holds only the available drivers, so its cost does not
// grow with the number of busy drivers around the center.
func (x *Index) NearbyAvailable(ctx context.Context, center LatLng, radius float64, k int, filter func(Driver) bool) ([]Match, error) {
	return x.appendNearby(ctx, nil, center, radius, k, filter, true)
}

// AppendNearbyAvailable is [Index.NearbyAvailable] appending to dst; with
// room in dst for the results it does not allocate.
func (x *Index) AppendNearbyAvailable(ctx context.Context, dst []Match, center LatLng, radius float64, k int, filter func(Driver) bool) ([]Match, error) {
	return x.appendNearby(ctx, dst, center, radius, k, filter, true)
}

func (x *Index) appendNearby(ctx context.Context, dst []Match, center LatLng, radius float64, k int, filter func(Driver) bool, avail bool) ([]Match, error) {
	if err := ctxErr(ctx); err != nil {
		return dst, err
	}
	if err := center.Validate(); err != nil {
		return dst, err
	}
	if err := checkRadius(radius); err != nil {
		return dst, err
	}
	nq := nearQuery{q: newSphereQuery(center), radius: radius, maxKey: keyLimit(radius), k: k, cut: x.cutoff(), filter: filter, avail: avail,
		noPrune: filter != nil} // a filter rejects too often for pruning to pay
	s := x.getScratch()
	dst = retrySearch(x, dst, func(dst []Match, locked bool) ([]Match, bool) {
		nq.noPrune = nq.noPrune || locked // no writer, no pruning: cannot fail
		return x.nearby(s, dst, &nq)
	})
	x.pool.Put(s)
	return dst, nil
}

// withinQuery is one radius search.
type withinQuery struct {
	q      sphereQuery
	boxes  []rect
	radius float64
	maxKey float64
	inKey  float64
	cut    int64
	// touched sums counts read only to bring blocks into the cache.
	touched int32
}

// ctxErr is ctx's error, none for a nil ctx: the searches take a nil ctx
// as context.Background() rather than panic on it.
func ctxErr(ctx context.Context) error {
	if ctx == nil {
		return nil
	}
	return ctx.Err()
}

// newWithinQuery checks ctx, center and radius and prepares a radius
// search of x, its boxes in buf.
func (x *Index) newWithinQuery(ctx context.Context, buf *[2]rect, center LatLng, radius float64) (withinQuery, error) {
	if err := ctxErr(ctx); err != nil {
		return withinQuery{}, err
	}
	var bb [2]Box
	boxes, err := cover(&bb, center, radius)
	if err != nil {
		return withinQuery{}, err
	}
	for i, b := range boxes {
		buf[i] = rect{MinX: b.MinLng, MinY: b.MinLat, MaxX: b.MaxLng, MaxY: b.MaxLat}
	}
	return withinQuery{q: newSphereQuery(center), boxes: buf[:len(boxes)], radius: radius, maxKey: keyLimit(radius),
		inKey: insideKey(radius), cut: x.cutoff()}, nil
}

func (w *withinQuery) touches(r rect) bool {
	for _, b := range w.boxes {
		if b.intersects(r) {
			return true
		}
	}
	return false
}

// exactIn reports whether (lat, lng) lies within the radius by [Distance].
func (w *withinQuery) exactIn(lat, lng float64) (float64, bool) {
	h := hav(w.q.lat, w.q.lng, w.q.cosLat, lat, lng)
	if h > w.maxKey {
		return 0, false // clearly outside: skip the arcsine
	}
	d := metres(h)
	return d, d <= w.radius
}

// AppendWithin appends to dst every fresh driver within radius metres of
// center that filter accepts (nil accepts all), in no particular order, and
// returns the slice. It walks the cells that meet the boxes of [Cover] and
// keeps the drivers whose exact [Distance] is at most radius, so it returns
// the same set as Nearby with k <= 0 without paying for the sort. It
// returns an error for an invalid center or radius, or ctx's error.
//
// As with Nearby, filter may see a driver more than once (a driver caught
// moving between cells, or a search that starts over) and drivers that are
// not returned, and ctx is checked only before the search starts (nil
// counts as context.Background()).
func (x *Index) AppendWithin(ctx context.Context, dst []Match, center LatLng, radius float64, filter func(Driver) bool) ([]Match, error) {
	var rb [2]rect
	w, err := x.newWithinQuery(ctx, &rb, center, radius)
	if err != nil {
		return dst, err
	}
	s := x.getScratch()
	dst = retrySearch(x, dst, func(dst []Match, _ bool) ([]Match, bool) { return x.within(s, dst, &w, filter) })
	x.pool.Put(s)
	return dst, nil
}

func (x *Index) within(s *scratch, dst []Match, w *withinQuery, filter func(Driver) bool) ([]Match, bool) {
	start := len(dst)
	v := x.begin(s)
	if v.g&1 != 0 { // the writer is changing the tree's shape
		return dst, false
	}
	st := append(s.heap[:0], cellItem(0, 0, worldBox))
	// Drivers within the radius wait in cands until the walk is over, so
	// that filter sees them only once the walk has been validated.
	cands := s.cands[:0]
	fail := func() ([]Match, bool) {
		s.heap, s.cands = st[:0], cands[:0]
		return dst[:start], false
	}
	for len(st) > 0 {
		it := st[len(st)-1]
		st = st[:len(st)-1]
		n := x.st.node(it.ref)
		c := n.child.Load()
		if x.gen.Load() != v.g {
			return fail()
		}
		box := it.box()
		if c >= 0 {
			kids := box.children()
			for qd := range int32(4) {
				if ch := x.st.node(c + qd); ch.occ.Load()&occDriver == 0 {
					s.reads = append(s.reads, leafRead{n: ch, empty: true})
					continue
				}
				cb := kids[qd]
				if w.touches(cb.degrees()) {
					st = append(st, cellItem(0, c+qd, cb))
				}
			}
			continue
		}
		if !s.readLeaf(n) || x.gen.Load() != v.g {
			return fail()
		}
		for j, p := range s.pos {
			lat, lng := unfix(posLat(p)), unfix(posLng(p))
			if d, ok := w.exactIn(lat, lng); ok {
				if m := meta(s.metas[j]); m.seenMilli() >= w.cut {
					cands = append(cands, Match{Driver: unpack(DriverID(s.eids[j]), p, m), Distance: d})
				}
			}
		}
	}
	s.heap, s.cands = st[:0], cands[:0]
	if !x.valid(v, s) {
		return dst[:start], false
	}
	for _, cd := range cands {
		if filter == nil || filter(cd.Driver) {
			dst = append(dst, cd)
		}
	}
	if x.moving(v) {
		// A driver moved between cells may have been seen in both.
		out := dst[start:]
		slices.SortFunc(out, func(a, b Match) int { return cmp.Compare(a.ID, b.ID) })
		dst = dst[:start+len(slices.CompactFunc(out, func(a, b Match) bool { return a.ID == b.ID }))]
	}
	return dst, true
}

// AppendWithinIDs appends to dst the ID of every fresh driver within
// radius metres of center, in no particular order: the set of
// [Index.AppendWithin] without a filter, for callers that need only the
// IDs (to count drivers, or to fetch a few of them later). It skips what
// makes AppendWithin cost more: it tests whole cells against the circle,
// takes every driver of a cell that lies inside it without computing a
// distance, and for the drivers of cells on the circle's edge compares
// haversines against precomputed bounds, computing an exact distance only
// within a rounding margin of the radius; then it reads the IDs in one
// tight loop. It returns an error for an invalid center or radius, or
// ctx's error; ctx is checked only before the search starts (nil counts
// as context.Background()).
func (x *Index) AppendWithinIDs(ctx context.Context, dst []DriverID, center LatLng, radius float64) ([]DriverID, error) {
	var rb [2]rect
	w, err := x.newWithinQuery(ctx, &rb, center, radius)
	if err != nil {
		return dst, err
	}
	s := x.getScratch()
	dst = retrySearch(x, dst, func(dst []DriverID, _ bool) ([]DriverID, bool) { return x.withinIDs(s, dst, &w) })
	x.pool.Put(s)
	return dst, nil
}

// appendEdgeBatch runs [withinQuery.appendEdgeIDs] on several leaves,
// after loading their blocks' headers together so that those cache
// misses overlap.
func (w *withinQuery) appendEdgeBatch(ns []*node, ids []DriverID, rs *[]leafRead) ([]DriverID, bool) {
	for _, n := range ns {
		if b := n.leaf.Load(); b != nil {
			w.touched += b.count()
		}
	}
	ok := true
	for _, n := range ns {
		if ids, ok = w.appendEdgeIDs(n, ids, rs); !ok {
			break
		}
	}
	return ids, ok
}

// appendEdgeIDs appends to ids the fresh drivers of leaf n, a cell on the
// circle's edge, that lie within the radius, consistent with one moment.
// It reads the block in place and a driver's ID and meta only if it is
// within. It returns false if n is no longer a leaf.
func (w *withinQuery) appendEdgeIDs(n *node, ids []DriverID, rs *[]leafRead) ([]DriverID, bool) {
	q := &w.q
	start := len(ids)
	for i := 0; ; i++ {
		seq := n.seq.Load()
		if seq&1 != 0 {
			spin(i)
			continue
		}
		b := n.leaf.Load()
		if b == nil {
			return ids, false
		}
		pw, im := b.arrays()
		cnt := min(max(b.count(), 0), int32(len(pw)))
		ids = ids[:start]
		for j := range cnt {
			p := pw[j].Load()
			lat, lng := unfix(posLat(p)), unfix(posLng(p))
			if !w.boxes[0].contains(lat, lng) && (len(w.boxes) == 1 || !w.boxes[1].contains(lat, lng)) {
				continue
			}
			// A key within a relative 1e-14 of the exact one decides
			// all but the drivers near the circle's edge.
			h := q.cornerKey(lat, q.cosNear(lat), lng)
			if h > w.maxKey*(1+1e-12) {
				continue
			}
			if h >= w.inKey*(1-1e-12) {
				h = hav(q.lat, q.lng, q.cosLat, lat, lng)
				if h > w.maxKey || (h > w.inKey && metres(h) > w.radius) {
					continue
				}
			}
			if w.cut == math.MinInt64 || meta(im[2*j+1].Load()).seenMilli() >= w.cut {
				ids = append(ids, DriverID(im[2*j].Load()))
			}
		}
		if n.seq.Load() == seq {
			*rs = append(*rs, leafRead{n: n, seq: seq})
			return ids, true
		}
	}
}

// insideFlag marks a queued cell that lies wholly inside the circle.
const insideFlag = 1

func (x *Index) withinIDs(s *scratch, dst []DriverID, w *withinQuery) ([]DriverID, bool) {
	start := len(dst)
	v := x.begin(s)
	if v.g&1 != 0 { // the writer is changing the tree's shape
		return dst, false
	}
	q := &w.q
	st := s.heap[:0]
	ins := s.leaves[:0]  // leaves inside the circle waiting to be read
	edges := s.edges[:0] // leaves on its edge waiting to be read
	classify := func(b ibox, ref int32) {
		r := b.degrees()
		if !w.touches(r) {
			return
		}
		key := 0.0
		if q.inside(r, w.inKey) {
			key = insideFlag
		}
		st = append(st, cellItem(key, ref, b))
	}
	classify(worldBox, 0)
	ok := true
	for len(st) > 0 && ok {
		it := st[len(st)-1]
		st = st[:len(st)-1]
		n := x.st.node(it.ref)
		c := n.child.Load()
		if x.gen.Load() != v.g {
			ok = false
			break
		}
		box := it.box()
		inside := it.key == insideFlag
		if c >= 0 {
			kids := box.children()
			for qd := range int32(4) {
				if ch := x.st.node(c + qd); ch.occ.Load()&occDriver == 0 {
					s.reads = append(s.reads, leafRead{n: ch, empty: true})
					continue
				}
				if inside {
					st = append(st, cellItem(insideFlag, c+qd, kids[qd]))
				} else {
					classify(kids[qd], c+qd)
				}
			}
			continue
		}
		if inside {
			if ins = append(ins, n); len(ins) == leafBatch {
				dst, ok = appendIDsBatch(ins, dst, w.cut, &s.reads)
				ins = ins[:0]
			}
			continue
		}
		// A cell on the edge: test its drivers.
		if edges = append(edges, n); len(edges) == leafBatch {
			dst, ok = w.appendEdgeBatch(edges, dst, &s.reads)
			edges = edges[:0]
		}
	}
	if ok && len(ins) > 0 {
		dst, ok = appendIDsBatch(ins, dst, w.cut, &s.reads)
	}
	if ok && len(edges) > 0 {
		dst, ok = w.appendEdgeBatch(edges, dst, &s.reads)
	}
	s.heap, s.leaves, s.edges = st[:0], ins[:0], edges[:0]
	if !ok || !x.valid(v, s) {
		return dst[:start], false
	}
	if x.moving(v) {
		// A driver moved between cells may have been seen in both.
		out := dst[start:]
		slices.Sort(out)
		dst = dst[:start+len(slices.Compact(out))]
	}
	return dst, true
}
