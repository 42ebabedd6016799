package geo

import (
	"fmt"
	"math"
	"math/bits"
	"time"
)

// UpsertBatch upserts every driver of ds, with the same result as calling
// [Index.Upsert] for each in order: a driver whose ID is in the index
// moves and takes the new status, vehicle and last-seen time, and when an
// ID appears more than once in ds its last occurrence wins. A zero Seen
// means the clock's time when the call began.
//
// It validates the whole batch first: if any driver has a bad position or
// last-seen time, it returns an error that wraps [ErrInvalidLatLng] or
// [ErrInvalidSeen] and names the driver's index in ds, and changes nothing.
//
// It costs less per driver than Upsert, most of all when loading many new
// drivers (a fleet at start-up): it sorts the batch into the tree's order,
// so that consecutive drivers land in the same leaf, whose path and block
// are then in cache, and a leaf splits once before its drivers arrive
// rather than again and again as they do (see the package documentation
// for figures). ds is not modified; scratch buffers are reused between
// calls, so a batch allocates nothing in steady state.
//
// It holds the writers' mutex for at most batchChunk drivers at a time and
// lets go of it in between, so that other writers and Get wait for one
// chunk (a few hundred microseconds), not for the whole batch. A
// concurrent search or Get sees each driver either as it was or as the
// batch leaves it, with the same guarantees as for Upsert, and may see
// the batch partly applied.
func (x *Index) UpsertBatch(ds []Driver) error {
	if len(ds) == 0 {
		return nil
	}
	sc, _ := x.batchPool.Get().(*batchScratch)
	if sc == nil {
		sc = new(batchScratch)
	}
	defer x.batchPool.Put(sc)
	if err := sc.prepare(ds, x.now); err != nil {
		return err
	}
	es := sc.order()
	// An empty index is being loaded: size its ID table for the batch
	// once, instead of doubling it (rebuilding it from the tree) again
	// and again.
	whole := x.n.Load() == 0
	for off := 0; off < len(es); off += batchChunk {
		x.upsertChunk(sc, es[off:min(off+batchChunk, len(es))], whole, len(es))
		whole = false
	}
	return nil
}

// batchChunk is how many drivers UpsertBatch writes per hold of the
// writers' mutex: at about 0.1 to 0.3 µs each, some 200 to 600 µs.
const batchChunk = 2048

// batchEnt is a validated driver of a batch, as the index stores it.
type batchEnt struct {
	id DriverID
	p  uint64
	m  meta
}

// kv is a sort key and the index of its entry.
type kv struct {
	k uint64
	v uint32
}

// batchScratch holds UpsertBatch's buffers, kept between calls.
type batchScratch struct {
	ents []batchEnt // the batch, validated, in input order
	a, b []kv       // sort buffers
	out  []batchEnt // the surviving entries in tree order
	news []int32    // entries of a chunk that are new to the index
	pend []pending  // entries in the tree whose table slot is not written yet
	pl   []int32    // leaves holding pending entries
}

// pending is an entry added to a leaf whose ID table slot is still to be
// written.
type pending struct {
	id   DriverID
	leaf int32
	slot int32
}

// prepare validates ds into sc.ents.
func (sc *batchScratch) prepare(ds []Driver, now func() time.Time) error {
	sc.ents = sc.ents[:0]
	var zero int64
	haveNow := false
	for i := range ds {
		d := &ds[i]
		if err := d.Pos.Validate(); err != nil {
			return fmt.Errorf("batch driver %d (ID %d): %w", i, d.ID, err)
		}
		var ms int64
		if d.Seen.IsZero() {
			if !haveNow {
				zero, haveNow = now().UnixMilli(), true
			}
			ms = zero
		} else {
			ms = d.Seen.UnixMilli()
		}
		if ms < 0 || ms > maxSeenMilli {
			if d.Seen.IsZero() {
				return fmt.Errorf("batch driver %d (ID %d): %w: the clock says %v", i, d.ID, ErrInvalidSeen, now())
			}
			return fmt.Errorf("batch driver %d (ID %d): %w: %v", i, d.ID, ErrInvalidSeen, d.Seen)
		}
		sc.ents = append(sc.ents, batchEnt{
			id: d.ID,
			p:  packPos(fix(d.Pos.Lng), fix(d.Pos.Lat)),
			m:  meta(uint64(ms)<<16 | uint64(d.Vehicle)<<8 | uint64(d.Status)),
		})
	}
	return nil
}

// order drops every entry of sc.ents that a later one with the same ID
// overrides and returns the rest sorted into the tree's order.
func (sc *batchScratch) order() []batchEnt {
	n := len(sc.ents)
	// Sort by ID hash, stably: equal IDs have equal hashes, so each ID's
	// entries end up next to each other, in input order. Sorting on the
	// top bits alone leaves runs of different IDs that share them,
	// rare with 8 more bits than the batch has entries, and short.
	sc.a, sc.b = grow(sc.a, n), grow(sc.b, n)
	for i := range sc.ents {
		sc.a[i] = kv{hashID(sc.ents[i].id), uint32(i)}
	}
	hb := min(64, (bits.Len(uint(n))+8+7)/8*8)
	srt := radixSort(sc.a, sc.b, 64-hb)
	// Keep the last entry of each ID, keyed by its place in the tree.
	keep := sc.b[:0]
	if &srt[0] == &sc.b[0] {
		keep = sc.a[:0]
	}
	mask := ^uint64(0) << (64 - hb)
	for i := 0; i < n; {
		r := i + 1
		for r < n && srt[r].k&mask == srt[i].k&mask {
			r++
		}
		for j := i; j < r; j++ {
			e := &sc.ents[srt[j].v]
			dup := false
			for l := j + 1; l < r && !dup; l++ {
				dup = sc.ents[srt[l].v].id == e.id
			}
			if !dup {
				keep = append(keep, kv{treeKey(e.p), srt[j].v})
			}
		}
		i = r
	}
	// keep aliases the buffer srt does not use.
	tmp := srt[:len(keep)]
	srt = radixSort(keep, tmp, 16)
	sc.out = sc.out[:0]
	for _, e := range srt {
		sc.out = append(sc.out, sc.ents[e.v])
	}
	return sc.out
}

func grow(s []kv, n int) []kv {
	if cap(s) < n {
		return make([]kv, n)
	}
	return s[:n]
}

// radixSort sorts a by k's bits from lo up, stably, using b (as long as a)
// as the other buffer, and returns whichever of the two holds the result.
// It skips the 8-bit digits in which all keys agree, which in a city are
// most of the high ones.
func radixSort(a, b []kv, lo int) []kv {
	var cnt [8][256]int32
	for _, e := range a {
		for d := range 8 {
			cnt[d][byte(e.k>>(8*d))]++
		}
	}
	for d := lo / 8; d < 8; d++ {
		c := &cnt[d]
		if c[byte(a[0].k>>(8*d))] == int32(len(a)) {
			continue // every key has the same digit
		}
		sum := int32(0)
		for i := range c {
			c[i], sum = sum, sum+c[i]
		}
		sh := uint(8 * d)
		for _, e := range a {
			j := byte(e.k >> sh)
			b[c[j]] = e
			c[j]++
		}
		a, b = b, a
	}
	return a
}

// treeKey returns a key whose order approximates the order of the
// quadtree's leaves: the bits of the position scaled to 32 bits per axis
// over the world box, interleaved (latitude first, as the tree numbers
// its quadrants), so that a cell's positions have consecutive keys. The
// tree halves its integer boxes rounding down, so the key's bits agree
// with the tree's quadrants except within a few units of a cell edge;
// polar cells split into latitude bands, whose points are in two or four
// runs of keys instead of one. Either only costs the batch some speed.
func treeKey(p uint64) uint64 {
	const (
		kx = math.MaxUint64 / uint64(worldX1-worldX0)
		ky = math.MaxUint64 / uint64(worldY1-worldY0)
	)
	ux := uint64(int64(posLng(p))-worldX0) * kx >> 32
	uy := uint64(int64(posLat(p))-worldY0) * ky >> 32
	return spread(uy)<<1 | spread(ux)
}

// spread moves bit i of the low 32 bits of v to bit 2i.
func spread(v uint64) uint64 {
	v &= 0xffffffff
	v = (v | v<<16) & 0x0000ffff0000ffff
	v = (v | v<<8) & 0x00ff00ff00ff00ff
	v = (v | v<<4) & 0x0f0f0f0f0f0f0f0f
	v = (v | v<<2) & 0x3333333333333333
	v = (v | v<<1) & 0x5555555555555555
	return v
}

// upsertChunk writes es, distinct IDs in tree order, under the writers'
// mutex. If whole, the ID table is sized for all total drivers of the
// batch being new.
func (x *Index) upsertChunk(sc *batchScratch, es []batchEnt, whole bool, total int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	s := &x.st
	// Drivers already present move as Upsert moves them; the new ones
	// are collected and added below.
	sc.news = sc.news[:0]
	for i := range es {
		e := &es[i]
		s.reserveNodes()
		if w, ok := s.lookup(e.id); ok {
			x.update(e.id, w, posLng(e.p), posLat(e.p), e.m)
		} else {
			sc.news = append(sc.news, int32(i))
		}
	}
	if len(sc.news) == 0 {
		return
	}
	k := len(sc.news)
	if whole {
		k = max(k, total)
	}
	x.reserveTable(k)
	x.insertRun(sc, es)
}

// reserveTable rebuilds the ID table, larger if need be, until k more
// drivers fit without a rebuild.
func (x *Index) reserveTable(k int) {
	t := &x.st.table
	for (t.used+t.dead+k)*4 > len(t.slots)*3 {
		x.st.rebuildTable((t.used+k)*4 > len(t.slots)*3)
	}
}

// insertRun adds the new drivers sc.news of es, in tree order. Drivers
// bound for one leaf arrive together: if they would overflow it, it
// splits first (so a leaf splits once, not once per 32 arrivals), and
// they go in under one sequence bump. Their ID table slots are written
// afterwards, together (see flush), so that a split does not rewrite the
// slots of drivers just added; a split of a leaf that holds such drivers
// writes them first, as split expects every driver it moves to be in the
// table.
func (x *Index) insertRun(sc *batchScratch, es []batchEnt) {
	s := &x.st
	sc.pend, sc.pl = sc.pend[:0], sc.pl[:0]
	news := sc.news
	for i := 0; i < len(news); {
		x.batchReserveNodes(sc)
		e := &es[news[i]]
		px, py := posLng(e.p), posLat(e.p)
		li := s.findLeaf(mainRoot, px, py)
		n := s.node(li)
		// The drivers from i on that this leaf takes.
		k, same := 1, true
		for i+k < len(news) {
			q := es[news[i+k]].p
			if !n.box.holds(posLng(q), posLat(q)) {
				break
			}
			same = same && q == e.p
			k++
		}
		if int(n.cnt)+k > leafMax && !(same && sameSpot(n, n.leaf.Load(), e.p)) {
			if sc.pendingIn(li) {
				x.flush(sc)
			}
			x.gen.Add(1) // odd: searches running meanwhile start over
			s.split(li)
			x.gen.Add(1)
			continue
		}
		// Counts go up before the entries appear, so a search never
		// skips a cell holding a driver.
		s.addCount(li, -1, int32(k))
		n.seq.Add(1)
		for _, j := range news[i : i+k] {
			e := &es[j]
			sc.pend = append(sc.pend, pending{e.id, li, s.addEntry(li, e.p, e.id, e.m)})
		}
		n.seq.Add(1)
		sc.pl = append(sc.pl, li)
		for _, j := range news[i : i+k] {
			if e := &es[j]; e.m.available() {
				x.batchReserveNodes(sc)
				x.mirrorAdd(e.id, e.p, e.m, li)
			}
		}
		x.n.Add(int64(k))
		i += k
	}
	x.flush(sc)
}

// pendingIn reports whether leaf li holds entries whose table slots are
// not written yet.
func (sc *batchScratch) pendingIn(li int32) bool {
	for _, l := range sc.pl {
		if l == li {
			return true
		}
	}
	return false
}

// flush writes the table slots of the pending entries.
func (x *Index) flush(sc *batchScratch) {
	for _, p := range sc.pend {
		x.st.tableInsert(p.id, p.leaf, p.slot)
	}
	sc.pend, sc.pl = sc.pend[:0], sc.pl[:0]
}

// batchReserveNodes is treeStore.reserveNodes for insertRun: widening
// the table's node bits rebuilds it from the tree, which would take in
// the pending entries, so they are written first.
func (x *Index) batchReserveNodes(sc *batchScratch) {
	if uint32(x.st.nnode)+nodeReserve+1 >= x.st.table.nodeMask() {
		x.flush(sc)
		x.st.reserveNodes()
	}
}
