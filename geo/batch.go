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
// It holds the writers' mutex for at most 512 drivers at a time and lets
// go of it in between, so that other writers and Get wait for one chunk
// (a few hundred microseconds, more in the chunk that grows the ID table,
// which is rebuilt from the tree as Upsert rebuilds it), not for the whole
// batch. A
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
	es := sc.order(x.st.table.seed)
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
// writers' mutex: some 30 µs of new drivers (about 60 ns each once
// sorted), some 250 µs of moves (about 500 ns each). Chunks of 2,048
// measured no faster.
const batchChunk = 512

// batchEnt is a validated driver of a batch, as the index stores it, and
// its place in the tree's order (see treeKey).
type batchEnt struct {
	key uint64
	id  DriverID
	p   uint64
	m   meta
}

// batchScratch holds UpsertBatch's buffers, kept between calls.
type batchScratch struct {
	a, b []batchEnt // the batch, validated, and the sort's other buffer
	news []int32    // entries of a chunk that are new to the index
	pend []pending  // entries in the tree whose table slot is not written yet
	pl   []int32    // leaves holding pending entries
	sink uint32     // keeps the loads that warm the cache
	// Learnt by prepare: whether the IDs increase strictly (so no ID
	// repeats), and the bits in which the entries' keys differ.
	increasing bool
	diff       uint64
}

// pending is an entry added to a leaf whose ID table slot is still to be
// written.
type pending struct {
	id   DriverID
	leaf int32
	slot int32
}

// prepare validates ds into sc.a.
func (sc *batchScratch) prepare(ds []Driver, now func() time.Time) error {
	if cap(sc.a) < len(ds) {
		sc.a, sc.b = make([]batchEnt, 0, len(ds)), make([]batchEnt, len(ds))
	}
	sc.a = sc.a[:0]
	// One clock reading serves every driver with a zero Seen.
	var zero time.Time
	clock := func() time.Time {
		if zero.IsZero() {
			zero = now()
		}
		return zero
	}
	sc.increasing, sc.diff = true, 0
	for i := range ds {
		d := &ds[i]
		err := d.Pos.Validate()
		var m meta
		if err == nil {
			m, err = driverMeta(d, clock)
		}
		if err != nil {
			return fmt.Errorf("batch driver %d (ID %d): %w", i, d.ID, err)
		}
		p := packPos(fix(d.Pos.Lng), fix(d.Pos.Lat))
		k := treeKey(p)
		if i > 0 {
			sc.increasing = sc.increasing && d.ID > ds[i-1].ID
			sc.diff |= k ^ sc.a[0].key
		}
		sc.a = append(sc.a, batchEnt{
			key: k,
			id:  d.ID,
			p:   p,
			m:   m,
		})
	}
	return nil
}

// order drops every entry of the batch that a later one with the same ID
// overrides and returns the rest sorted into the tree's order. It sorts
// the entries themselves, not indexes to them: a radix sort's passes
// stream through memory, where gathering a million entries by index
// would cost a cache miss each.
func (sc *batchScratch) order(seed uint64) []batchEnt {
	n := len(sc.a)
	b := sc.b[:n]
	srt, tmp := sc.a, b
	if !sc.increasing {
		srt, tmp = sc.dedup(b, seed)
	}
	// Sort on the bits below the keys' common prefix that tell apart
	// cells of a few drivers: 2 bits a level, and about log4(w/16)
	// levels below the cell of the common prefix, with 12 bits to spare
	// for clusters. The order within a leaf does not matter.
	w := len(srt)
	lo := max(0, 64-bits.LeadingZeros64(sc.diff)-bits.Len(uint(w))-8)
	out, _ := radixSort(srt, tmp[:w], lo, false, 0)
	return out
}

// dedup returns the entries of sc.a without those that a later one with
// the same ID overrides, in some order, and the other buffer of the two,
// sc.a and b. (A batch whose IDs increase, as a load from a table ordered
// by ID does, needs none of it.)
func (sc *batchScratch) dedup(b []batchEnt, seed uint64) (kept, other []batchEnt) {
	n := len(sc.a)
	// Sort by ID hash, stably: equal IDs have equal hashes, so the
	// entries of an ID end up next to each other, in input order. Sorting
	// on the hash's top bits alone leaves runs of different IDs that
	// share them, rare with 4 more bits than the batch has entries, and
	// short.
	hb := min(64, (bits.Len(uint(n))+4+7)/8*8)
	srt, tmp := radixSort(sc.a, b, 64-hb, true, seed)
	// Keep the last entry of each ID, compacting in place.
	mask := ^uint64(0) << (64 - hb)
	w := 0
	for i := 0; i < n; {
		h := hashID(srt[i].id, seed) & mask
		r := i + 1
		for r < n && hashID(srt[r].id, seed)&mask == h {
			r++
		}
		for j := i; j < r; j++ {
			dup := false
			for l := j + 1; l < r && !dup; l++ {
				dup = srt[l].id == srt[j].id
			}
			if !dup {
				srt[w] = srt[j]
				w++
			}
		}
		i = r
	}
	return srt[:w], tmp
}

// radixSort sorts a by the bits from lo up of each entry's key (its ID's
// hash if byHash), stably, using b (as long as a) as the other buffer, and
// returns the sorted slice and the other one. It skips the 8-bit digits
// in which all keys agree, which in a city are most of the high ones.
func radixSort(a, b []batchEnt, lo int, byHash bool, seed uint64) (sorted, other []batchEnt) {
	if len(a) < 2 {
		return a, b
	}
	key := func(e *batchEnt) uint64 {
		if byHash {
			return hashID(e.id, seed)
		}
		return e.key
	}
	var cnt [8][256]int32
	for i := range a {
		k := key(&a[i])
		for d := range 8 {
			cnt[d][byte(k>>(8*d))]++
		}
	}
	k0 := key(&a[0])
	for d := lo / 8; d < 8; d++ {
		c := &cnt[d]
		sh := uint(8 * d)
		if c[byte(k0>>sh)] == int32(len(a)) {
			continue // every key has the same digit
		}
		sum := int32(0)
		for i := range c {
			c[i], sum = sum, sum+c[i]
		}
		for i := range a {
			j := byte(key(&a[i]) >> sh)
			b[c[j]] = a[i]
			c[j]++
		}
		a, b = b, a
	}
	return a, b
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
	if whole {
		x.reserveTable(total, total/8)
	}
	// Load the table slots the lookups start at, all at once: the loads
	// are independent, so their cache misses overlap, where each lookup
	// in the loop below would wait for its own.
	t := &s.table
	var sum uint32
	for i := range es {
		sum += t.slots[t.home(es[i].id)]
	}
	sc.sink += sum
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
	x.reserveTable(len(sc.news), 0)
	x.insertRun(sc, es)
}

// reserveTable rebuilds the ID table, larger if need be, until k more
// drivers fit without a rebuild, after widening its node bits for nodes
// more nodes (of the batch's splits) if they would not fit.
func (x *Index) reserveTable(k, nodes int) {
	s := &x.st
	t := &s.table
	rebuild := t.widen(uint64(s.nnode) + uint64(nodes))
	for rebuild || (t.used+t.dead+k)*4 > len(t.slots)*3 {
		s.rebuildTable((t.used+k)*4 > len(t.slots)*3)
		rebuild = false
	}
}

// insertRun adds the new drivers sc.news of es, in tree order. Drivers
// bound for one leaf arrive together: if they would overflow it, it
// splits first (so a leaf splits once, not once per leafMax arrivals), and
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
		li, box := s.findLeaf(mainRoot, px, py)
		n := s.node(li)
		// The drivers from i on that this leaf takes.
		k, same := 1, true
		for i+k < len(news) {
			q := es[news[i+k]].p
			if !box.holds(posLng(q), posLat(q)) {
				break
			}
			same = same && q == e.p
			k++
		}
		if int(s.cnt(li))+k > leafMax && !(same && sameSpot(s.ref(li).b, e.p)) {
			if sc.pendingIn(li) {
				x.flush(sc)
			}
			x.splitLeaf(li)
			continue
		}
		// The count goes up before the entries appear, so a search
		// never skips a leaf holding a driver.
		s.addCount(li, int32(k))
		n.seq.Add(1)
		// One block for them all, rather than growing it 8 slots at a
		// time.
		if b := s.ref(li).b; int(b.count())+k > int(b.capacity()) {
			nb := s.allocBlock(blockCap(b.count() + int32(k)))
			b.copyTo(nb, b.count())
			s.setLeaf(li, nb)
			s.freeBlock(b)
		}
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
	t := &x.st.table
	var sum uint32
	for _, p := range sc.pend {
		sum += t.slots[t.home(p.id)] // see upsertChunk
	}
	sc.sink += sum
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
