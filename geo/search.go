package geo

import (
	"cmp"
	"context"
	"math"
	"runtime"
	"slices"
)

// maxTries is how many times a search starts over because the tree's
// shape changed under it before it takes the writers' mutex and runs
// undisturbed. Shape changes (splits, merges, removals) are rare next to
// moves, so a search almost never gets there; the mutex only bounds the
// worst case under a storm of removals.
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
	heap   []qitem
	pos    []uint64
	hs     []uint32
	los    []float64  // lower bounds of the keys of pos
	path   []pathStep // cells from the root to the center's leaf
	out    []uint32   // handles found by a radius search
	leaves []*node    // leaves a radius search reads together
	topk   []float64  // max-heap of the k smallest upper bounds of entry keys
	batch  []qitem    // entries whose records a search loads together
	cands  []withinCand
	rm     [16]uint64
	rid    [16]int64
	ids    map[DriverID]struct{}
	mapped bool
}

// qitem is a cell or a driver entry waiting in a search's queue. For a
// cell, ref is its node and a, b pack its box's corners (x0, y0) and
// (x1, y1); for an entry, ref is -1, a its position and h its handle.
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

// readLeaf copies the positions and handles of leaf n's entries into s.pos
// and s.hs, consistent with one moment. It returns false if n is no longer
// a leaf.
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
		c := b.capacity()
		cnt := min(max(b.count(), 0), c)
		w := b.words()[blockHead:]
		hw := w[c:]
		s.pos, s.hs = s.pos[:0], s.hs[:0]
		for j := int32(0); j < cnt; j += 2 {
			v := hw[j>>1].Load()
			s.pos = append(s.pos, w[j].Load())
			s.hs = append(s.hs, uint32(v))
			if j+1 < cnt {
				s.pos = append(s.pos, w[j+1].Load())
				s.hs = append(s.hs, uint32(v>>32))
			}
		}
		if n.seq.Load() == q {
			return true
		}
	}
}

// appendHandles appends the handles of leaf n to hs, consistent with one
// moment. It returns false if n is no longer a leaf.
func appendHandles(n *node, hs []uint32) ([]uint32, bool) {
	start := len(hs)
	for i := 0; ; i++ {
		q := n.seq.Load()
		if q&1 != 0 {
			spin(i)
			continue
		}
		b := n.leaf.Load()
		if b == nil {
			return hs, false
		}
		c := b.capacity()
		cnt := min(max(b.count(), 0), c)
		hs = hs[:start]
		w := b.words()[blockHead+c:]
		for j := int32(0); j < cnt; j += 2 {
			v := w[j>>1].Load()
			hs = append(hs, uint32(v))
			if j+1 < cnt {
				hs = append(hs, uint32(v>>32))
			}
		}
		if n.seq.Load() == q {
			return hs, true
		}
	}
}

// leafBatch is how many leaves wholly inside a radius search's circle
// [appendHandlesBatch] reads together.
const leafBatch = 8

// appendHandlesBatch is [appendHandles] for several leaves: it loads their
// blocks' headers before it copies any handle, so that the cache misses
// on the blocks overlap instead of following one another.
func appendHandlesBatch(ns []*node, hs []uint32) ([]uint32, bool) {
	var seqs [leafBatch]uint32
	var bs [leafBatch]*block
	var cnts [leafBatch]int32
	ns = ns[:min(len(ns), leafBatch)]
	for i, n := range ns {
		seqs[i] = n.seq.Load()
		bs[i] = n.leaf.Load()
	}
	for i, b := range bs[:len(ns)] {
		if b != nil {
			cnts[i] = min(max(b.count(), 0), b.capacity())
		}
	}
	for i, n := range ns {
		b := bs[i]
		if b == nil {
			return hs, false
		}
		start := len(hs)
		c := b.capacity()
		w := b.words()[blockHead+c:]
		for j := int32(0); j < cnts[i]; j += 2 {
			v := w[j>>1].Load()
			hs = append(hs, uint32(v))
			if j+1 < cnts[i] {
				hs = append(hs, uint32(v>>32))
			}
		}
		if seqs[i]&1 != 0 || n.seq.Load() != seqs[i] {
			// A writer was at work: read this leaf again on its own.
			var ok bool
			if hs, ok = appendHandles(n, hs[:start]); !ok {
				return hs, false
			}
		}
	}
	return hs, true
}

// record returns the record of handle h, or nil if h lies beyond the
// records (possible only for a handle read from a cell that changed).
func (x *Index) record(h uint32) *record {
	dir := *x.st.recs.Load()
	if int(h>>recShift) >= len(dir) {
		return nil
	}
	return &dir[h>>recShift][h&(recChunk-1)]
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

// nearby runs the incremental nearest search (Hjaltason and Samet,
// "Distance browsing in spatial databases", 1999): cells and entries share
// one queue ordered by key (a lower bound for cells, the exact haversine
// for entries), so entries come out in order of distance and only those
// pay for reading their record. With k > 0 it also keeps the k smallest
// upper bounds of the keys of the entries seen so far (see
// [sphereQuery.leafBound]): no entry or cell beyond the k-th can make the
// result if those k are all accepted, so it stops queueing them, and the
// exact distance of most entries is never computed (their lower bound
// rejects them). It reads the center's leaf first and starts below the
// root, from the smallest cell on the way to that leaf that holds the
// circle its entries span. If an entry is then rejected (stale, filtered,
// or seen twice) the pruning may have dropped its replacement, and the
// search runs again without it. It reports false, with dst as given, if
// the tree's shape changed meanwhile.
func (x *Index) nearby(s *scratch, dst []Match, nq *nearQuery) ([]Match, bool) {
	start := len(dst)
	g := x.gen.Load()
	if g&1 != 0 {
		return dst, false
	}
	mv := x.moved.Load()
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
	startRef, startBox := root, worldBox
	first := int32(-1)
	if prune {
		// Read the center's own leaf first: its entries bound the k-th
		// nearest, so the search can start from the smallest cell on
		// the way down that holds the whole circle they span, and skip
		// the levels above it; below it, it queues only the cells that
		// can beat them. It skips the leaf when it comes to it again.
		s.path = x.centerPath(s.path[:0], root, fix(q.lng), fix(q.lat))
		leaf := s.path[len(s.path)-1]
		var ok bool
		h, topk, limit, ok = s.scanLeaf(q, x.st.node(leaf.ref), leaf.box, nq.k, h, topk, limit)
		if !ok || x.gen.Load() != g {
			s.heap, s.topk = h, topk
			return dst[:start], false
		}
		first = leaf.ref
		r := nq.radius
		if len(topk) == nq.k {
			r = min(r, metres(limit)*(1+1e-9))
		}
		var bb [2]Box
		if boxes, err := cover(&bb, LatLng{Lat: q.lat, Lng: q.lng}, r); err == nil && len(boxes) == 1 {
			cb := boxes[0]
			for i := len(s.path) - 1; i > 0; i-- {
				if d := s.path[i].box.degrees(); d.MinX <= cb.MinLng && cb.MaxLng <= d.MaxX && d.MinY <= cb.MinLat && cb.MaxLat <= d.MaxY {
					startRef, startBox = s.path[i].ref, s.path[i].box
					break
				}
			}
		}
	}
	h = push(h, cellItem(q.bound(startBox.degrees()), startRef, startBox))
search:
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
			// Entries come off the queue nearest first. Take the run of
			// entries at its head at once and load their records
			// together, so that the cache misses overlap.
			batch := append(s.batch[:0], it)
			want := len(s.rm)
			if nq.k > 0 {
				want = min(want, nq.k-(len(dst)-start))
			}
			for len(batch) < want && len(h) > 0 && h[0].ref < 0 && h[0].key <= limit {
				batch = append(batch, h[0])
				h = pop(h)
			}
			s.batch = batch
			for i := range batch {
				r := x.record(batch[i].h)
				if r == nil {
					s.heap = h
					return dst[:start], false
				}
				s.rm[i], s.rid[i] = r.meta.Load(), r.id.Load()
			}
			for i := range batch {
				d := metres(batch[i].key)
				if d > nq.radius {
					break search // the rest are no nearer
				}
				m, id := meta(s.rm[i]), DriverID(s.rid[i])
				drv := unpack(id, batch[i].a, m)
				if m.seenMilli() < nq.cut || (nq.avail && !m.available()) ||
					((mv&1 != 0 || x.moved.Load() != mv) && s.isDup(dst[start:], id)) || // seen twice: keep the nearer
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
					break search
				}
			}
			continue
		}
		n := x.st.node(it.ref)
		c := n.child.Load()
		if x.gen.Load() != g {
			s.heap = h
			return dst[:start], false
		}
		box := it.box()
		if c >= 0 {
			for qd := range int32(4) {
				ch := x.st.node(c + qd)
				if ch.occ.Load()&occDriver == 0 {
					continue
				}
				cb := box.child(qd)
				if key := q.bound(cb.degrees()); key <= limit {
					h = push(h, cellItem(key, c+qd, cb))
				}
			}
			continue
		}
		k := 0
		if prune {
			k = nq.k
		}
		var ok bool
		if h, topk, limit, ok = s.scanLeaf(q, n, box, k, h, topk, limit); !ok || x.gen.Load() != g {
			s.heap, s.topk = h, topk
			return dst[:start], false
		}
	}
	s.heap, s.topk = h, topk
	if x.gen.Load() != g {
		return dst[:start], false
	}
	return dst, true
}

// scanLeaf queues the entries of leaf n, whose box is b, with a key of at
// most limit. With k > 0 it keeps in topk the k smallest upper bounds of
// the keys of the entries seen and lowers limit to the k-th. It reads the
// block in place, screening each entry by its bounds from lb (which after
// the first leaf reject all but a few) before it reads the entry's handle,
// and validates n's seq once at the end: it reports false, so that the
// search starts over, if n changed meanwhile or is no longer a leaf.
func (s *scratch) scanLeaf(q *sphereQuery, n *node, b ibox, k int, h []qitem, topk []float64, limit float64) ([]qitem, []float64, float64, bool) {
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
	c := blk.capacity()
	cnt := min(max(blk.count(), 0), c)
	words := blk.words()
	w := words[blockHead : blockHead+cnt]
	hw := words[blockHead+c:]
	pos, hs, los := s.pos[:0], s.hs[:0], s.los[:0]
	for j := range w {
		p := w[j].Load()
		dLat, dLng := lb.gaps(p)
		lo := lb.lower(dLat, dLng)
		if lo > limit {
			continue
		}
		// The k smallest upper bounds cap the k-th nearest key as well
		// as exact keys would, to within a relative 1e-4 in a city, and
		// spare most entries of the first leaf their exact key.
		if k > 0 {
			if hi := lb.upper(dLat, dLng); len(topk) < k || hi < topk[0] {
				if topk = pushTop(topk, hi, k); len(topk) == k {
					limit = topk[0]
				}
			}
		}
		pos = append(pos, p)
		hs = append(hs, uint32(hw[j>>1].Load()>>(32*(j&1))))
		los = append(los, lo)
	}
	for j, p := range pos {
		if los[j] > limit {
			continue
		}
		key := hav(q.lat, q.lng, q.cosLat, unfix(posLat(p)), unfix(posLng(p)))
		if key > limit {
			continue
		}
		h = push(h, qitem{key: key, a: p, ref: -1, h: hs[j]})
	}
	s.pos, s.hs, s.los = pos, hs, los
	return h, topk, limit, n.seq.Load() == seq
}

// pathStep is a cell on the way from a root to a leaf.
type pathStep struct {
	ref int32
	box ibox
}

// centerPath appends to path the cells from root down to the leaf that
// holds (px, py), the leaf last. It is only a hint, read without
// validation: a search that uses it checks the generation as usual. The
// tree is at most 32 levels deep; the bound on the loop only guards
// against a writer reshaping the tree under it.
func (x *Index) centerPath(path []pathStep, root int32, px, py int32) []pathStep {
	i, box := root, worldBox
	for range 64 {
		path = append(path, pathStep{i, box})
		c := x.st.node(i).child.Load()
		if c < 0 {
			break
		}
		qd := box.quadrant(px, py)
		i, box = c+qd, box.child(qd)
	}
	return path
}

// Nearby returns the k drivers nearest to center by great-circle distance,
// within radius metres, fresh, and accepted by filter (nil accepts all),
// sorted by ascending distance. k <= 0 means all of them. The result is
// exact over the stored positions: the same drivers and distances as
// computing [Distance] from center to every driver's stored position,
// whatever the center (poles and the antimeridian included) and radius (up
// to half the Earth's circumference and beyond). It returns an error for
// an invalid center or radius, or ctx's error.
//
// filter sees only fresh drivers within radius, but it may see a driver
// more than once, and see drivers that are not returned: a search that
// starts over because a writer changed the tree calls it again for the
// drivers it meets again, and discards what it had. It must be cheap, free
// of side effects that count on one call per driver, and must not call
// the index's write methods or Get.
//
// ctx is checked once, before the search starts: a search is not
// interrupted midway. With k <= 0 or a radius spanning much of the Earth
// it reads every driver in the circle, so bound those with the radius.
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
	if err := ctx.Err(); err != nil {
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
}

// newWithinQuery checks ctx, center and radius and prepares a radius
// search of x, its boxes in buf.
func (x *Index) newWithinQuery(ctx context.Context, buf *[2]rect, center LatLng, radius float64) (withinQuery, error) {
	if err := ctx.Err(); err != nil {
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

// withinCand is a driver [Index.AppendWithin] found within the radius:
// its position, handle and distance.
type withinCand struct {
	p uint64
	h uint32
	d float64
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
// not returned, and ctx is checked only before the search starts.
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
	g := x.gen.Load()
	if g&1 != 0 {
		return dst, false
	}
	mv := x.moved.Load()
	st := append(s.heap[:0], cellItem(0, 0, worldBox))
	// Entries within the radius wait in cands until the walk is over.
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
		if x.gen.Load() != g {
			return fail()
		}
		box := it.box()
		if c >= 0 {
			for qd := range int32(4) {
				if x.st.node(c+qd).occ.Load()&occDriver == 0 {
					continue
				}
				cb := box.child(qd)
				if w.touches(cb.degrees()) {
					st = append(st, cellItem(0, c+qd, cb))
				}
			}
			continue
		}
		if !s.readLeaf(n) || x.gen.Load() != g {
			return fail()
		}
		for j, p := range s.pos {
			lat, lng := unfix(posLat(p)), unfix(posLng(p))
			if d, ok := w.exactIn(lat, lng); ok {
				cands = append(cands, withinCand{p, s.hs[j], d})
			}
		}
	}
	s.heap, s.cands = st[:0], cands[:0]
	for _, cd := range cands {
		r := x.record(cd.h)
		if r == nil {
			return dst[:start], false
		}
		m := meta(r.meta.Load())
		if m.seenMilli() < w.cut {
			continue
		}
		drv := unpack(DriverID(r.id.Load()), cd.p, m)
		if filter == nil || filter(drv) {
			dst = append(dst, Match{Driver: drv, Distance: cd.d})
		}
	}
	if x.gen.Load() != g {
		return dst[:start], false
	}
	if mv&1 != 0 || x.moved.Load() != mv {
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
// ctx's error; ctx is checked only before the search starts.
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

// insideFlag marks a queued cell that lies wholly inside the circle.
const insideFlag = 1

func (x *Index) withinIDs(s *scratch, dst []DriverID, w *withinQuery) ([]DriverID, bool) {
	start := len(dst)
	g := x.gen.Load()
	if g&1 != 0 {
		return dst, false
	}
	mv := x.moved.Load()
	q := &w.q
	hs := s.out[:0]
	st := s.heap[:0]
	ins := s.leaves[:0] // leaves inside the circle waiting to be read
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
		if x.gen.Load() != g {
			ok = false
			break
		}
		box := it.box()
		inside := it.key == insideFlag
		if c >= 0 {
			for qd := range int32(4) {
				if x.st.node(c+qd).occ.Load()&occDriver == 0 {
					continue
				}
				if inside {
					st = append(st, cellItem(insideFlag, c+qd, box.child(qd)))
				} else {
					classify(box.child(qd), c+qd)
				}
			}
			continue
		}
		if inside {
			if ins = append(ins, n); len(ins) == leafBatch {
				hs, ok = appendHandlesBatch(ins, hs)
				ins = ins[:0]
			}
			continue
		}
		// A cell on the edge: test its drivers.
		if ok = s.readLeaf(n); !ok {
			break
		}
		for j, p := range s.pos {
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
			hs = append(hs, s.hs[j])
		}
	}
	if ok && len(ins) > 0 {
		hs, ok = appendHandlesBatch(ins, hs)
	}
	s.heap, s.out, s.leaves = st[:0], hs[:0], ins[:0]
	if !ok || x.gen.Load() != g {
		return dst, false
	}
	dir := *x.st.recs.Load()
	if w.cut == math.MinInt64 {
		for _, h := range hs {
			if int(h>>recShift) >= len(dir) {
				return dst[:start], false
			}
			dst = append(dst, DriverID(dir[h>>recShift][h&(recChunk-1)].id.Load()))
		}
	} else {
		for _, h := range hs {
			if int(h>>recShift) >= len(dir) {
				return dst[:start], false
			}
			r := &dir[h>>recShift][h&(recChunk-1)]
			if meta(r.meta.Load()).seenMilli() >= w.cut {
				dst = append(dst, DriverID(r.id.Load()))
			}
		}
	}
	if x.gen.Load() != g {
		return dst[:start], false
	}
	if mv&1 != 0 || x.moved.Load() != mv {
		// A driver moved between cells may have been seen in both.
		out := dst[start:]
		slices.Sort(out)
		dst = dst[:start+len(slices.Compact(out))]
	}
	return dst, true
}
