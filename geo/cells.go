package geo

import (
	"math"
	"sync/atomic"
	"unsafe"
)

// This file holds the Index's storage: dense driver records addressed by
// uint32 handles, an open-addressing table from DriverID to handle, and a
// point quadtree over integer (lng, lat) whose leaves hold blocks of
// (position, handle) entries. Writers hold Index.mu; readers take no lock:
// every word they read is an atomic, leaves are validated by a per-node
// sequence number, and the tree's shape by Index.gen (see doc.go).

// Positions are stored as int32 multiples of 1e-7 degree (1.1 cm at the
// equator, the fixed point of OpenStreetMap), latitude in the high half of
// one uint64 and longitude in the low half, so a reader loads a position
// whole.
const fixScale = 1e7

// fix rounds degrees to the stored fixed point.
func fix(d float64) int32 { return int32(math.Round(d * fixScale)) }

// unfix turns a stored coordinate back into degrees. Division by 1e7 is
// correctly rounded and monotone, so the degrees of a cell's integer edges
// bound those of its points.
func unfix(v int32) float64 { return float64(v) / fixScale }

func packPos(lng, lat int32) uint64 { return uint64(uint32(lat))<<32 | uint64(uint32(lng)) }

func posLng(p uint64) int32 { return int32(uint32(p)) }
func posLat(p uint64) int32 { return int32(uint32(p >> 32)) }

func posLatLng(p uint64) LatLng { return LatLng{Lat: unfix(posLat(p)), Lng: unfix(posLng(p))} }

// stored returns p as the index stores it: rounded to 1e-7 degree.
func stored(p LatLng) LatLng { return LatLng{Lat: unfix(fix(p.Lat)), Lng: unfix(fix(p.Lng))} }

// The world in fixed point, as a half-open box [x0, x1) x [y0, y1).
const (
	worldX0 = -180 * fixScale
	worldX1 = 180*fixScale + 1
	worldY0 = -90 * fixScale
	worldY1 = 90*fixScale + 1
)

// ibox is a half-open integer box: lng in [x0, x1), lat in [y0, y1).
type ibox struct{ x0, y0, x1, y1 int32 }

var worldBox = ibox{worldX0, worldY0, worldX1, worldY1}

func (b ibox) mid() (int32, int32) {
	return int32((int64(b.x0) + int64(b.x1)) >> 1), int32((int64(b.y0) + int64(b.y1)) >> 1)
}

// quadrant returns which child of b holds (x, y): bit 0 east, bit 1 north.
func (b ibox) quadrant(x, y int32) int32 {
	mx, my := b.mid()
	q := int32(0)
	if x >= mx {
		q = 1
	}
	if y >= my {
		q |= 2
	}
	return q
}

func (b ibox) child(q int32) ibox {
	mx, my := b.mid()
	c := b
	if q&1 == 0 {
		c.x1 = mx
	} else {
		c.x0 = mx
	}
	if q&2 == 0 {
		c.y1 = my
	} else {
		c.y0 = my
	}
	return c
}

func (b ibox) holds(x, y int32) bool { return x >= b.x0 && x < b.x1 && y >= b.y0 && y < b.y1 }

// degrees returns the smallest rectangle in degrees that holds the box's
// points; an empty box gives an inverted rectangle, which no caller sees
// because empty cells hold no drivers.
func (b ibox) degrees() rect {
	return rect{MinX: unfix(b.x0), MinY: unfix(b.y0), MaxX: unfix(b.x1 - 1), MaxY: unfix(b.y1 - 1)}
}

// Records and nodes live in chunks that never move; the directory of
// chunks is republished when it grows.
const (
	recShift  = 12
	recChunk  = 1 << recShift
	nodeShift = 10
	nodeChunk = 1 << nodeShift
)

// record is one driver. Readers load id and meta; leaf and slot say where
// the driver's entry is and only the writer touches them.
type record struct {
	id   atomic.Int64
	meta atomic.Uint64
	leaf int32 // -1 while the handle is free
	slot int32
}

type recChunkT [recChunk]record

// node is a cell of one of the two quadtrees. Readers load seq, child,
// occ and leaf; the rest is the writer's.
type node struct {
	// seq is odd while the writer changes this leaf's entries.
	seq atomic.Uint32
	// child is the first of four consecutive children, or -1 for a leaf.
	child atomic.Int32
	// occ says whether the subtree holds a driver (occDriver): set
	// before a driver arrives and cleared after the last one left, so a
	// search never skips a cell that holds one. It changes only when cnt
	// crosses zero, which spares the writer a locked store per level on
	// most updates.
	occ atomic.Uint32
	// cnt counts the subtree's drivers.
	cnt    int32
	parent int32
	leaf   atomic.Pointer[block]
	box    ibox
}

const (
	occDriver = 1 << iota
	// occMirror marks the nodes of the mirror tree, whose entries are
	// copies (see Index); only the writer looks at it.
	occMirror
)

// mirror reports whether n belongs to the mirror tree.
func (n *node) mirror() bool { return n.occ.Load()&occMirror != 0 }

// setCount stores n's count and updates occ if it changed.
func (n *node) setCount(cnt int32) {
	n.cnt = cnt
	o := n.occ.Load() & occMirror
	if cnt > 0 {
		o |= occDriver
	}
	if n.occ.Load() != o {
		n.occ.Store(o)
	}
}

type nodeChunkT [nodeChunk]node

// Leaf sizes. A leaf splits when an entry would make it hold more than
// leafMax drivers (unless they all share one point), and a subtree
// collapses into one leaf when it holds fewer than mergeBelow.
const (
	leafMax    = 32
	mergeBelow = 8
	blockStep  = 8 // block capacities are multiples of it up to leafMax
)

// block holds a leaf's entries. It is the head of one allocation of
// words: its capacity c (fixed for the block's life), its entry count n,
// then c positions and the c handles packed two to a word. One allocation
// instead of a header and an array saves a search one cache miss per leaf
// it reads.
type block struct {
	c atomic.Uint64
	n atomic.Uint64
}

const blockHead = 2 // words before the positions

func newBlock(c int32) *block {
	w := make([]atomic.Uint64, blockHead+c+(c+1)/2)
	w[0].Store(uint64(c))
	return (*block)(unsafe.Pointer(&w[0]))
}

func (b *block) capacity() int32 { return int32(b.c.Load()) }

// words returns the block's allocation as a slice.
func (b *block) words() []atomic.Uint64 {
	c := b.capacity()
	return unsafe.Slice((*atomic.Uint64)(unsafe.Pointer(b)), blockHead+c+(c+1)/2)
}

func (b *block) count() int32 { return int32(b.n.Load()) }

func (b *block) setCount(n int32) { b.n.Store(uint64(n)) }

func (b *block) pos(i int32) uint64 { return b.words()[blockHead+i].Load() }

// setPos moves entry i. Writer only.
func (b *block) setPos(i int32, p uint64) { b.words()[blockHead+i].Store(p) }

func (b *block) handle(i int32) uint32 {
	return uint32(b.words()[blockHead+b.capacity()+i>>1].Load() >> (32 * (i & 1)))
}

// set writes entry i. Writer only.
func (b *block) set(i int32, p uint64, h uint32) {
	w := b.words()
	w[blockHead+i].Store(p)
	hw := &w[blockHead+b.capacity()+i>>1]
	sh := 32 * uint64(i&1)
	hw.Store(hw.Load()&^(0xffffffff<<sh) | uint64(h)<<sh)
}

// blockCap returns the capacity class for n entries.
func blockCap(n int32) int32 {
	if n <= leafMax {
		return max((n+blockStep-1)/blockStep*blockStep, blockStep)
	}
	c := int32(leafMax)
	for c < n {
		c *= 2
	}
	return c
}

// idTable maps DriverID to handle: open addressing with linear probing
// and deletion that shifts later entries back instead of leaving
// tombstones. A slot holds handle+1 in its low hbits bits (0 = empty) and
// a tag from the ID's hash in the rest, so a probe reads a driver's record
// to compare IDs only when the tags match: at 1,000,000 drivers 12 bits of
// tag spare nearly every record read but the one that matches. hbits grows
// when handles outgrow it, with fewer tag bits.
type idTable struct {
	slots []uint32
	used  int
	shift uint
	hbits uint
}

func hashID(id DriverID) uint64 { return uint64(id) * 0x9e3779b97f4a7c15 }

func (t *idTable) home(id DriverID) uint64 { return hashID(id) >> t.shift }

// tag returns id's tag, in place in a slot.
func (t *idTable) tag(id DriverID) uint32 { return uint32(hashID(id)>>16) << t.hbits }

func (t *idTable) handleMask() uint32 { return uint32(uint64(1)<<t.hbits - 1) }

// treeStore is the writer's side of the storage.
type treeStore struct {
	recs  atomic.Pointer[[]*recChunkT]
	nodes atomic.Pointer[[]*nodeChunkT]
	_     [48]byte // the fields below change often; searches never read them

	nrec     uint32   // handles ever allocated
	freeRecs []uint32 // released handles
	nnode    int32
	freeGrp  []int32 // released groups of four nodes
	freeBlk  [leafMax / blockStep][]*block
	table    idTable
}

func (s *treeStore) rec(h uint32) *record {
	return &(*s.recs.Load())[h>>recShift][h&(recChunk-1)]
}

func (s *treeStore) node(i int32) *node {
	return &(*s.nodes.Load())[i>>nodeShift][i&(nodeChunk-1)]
}

func (s *treeStore) init() {
	s.table = idTable{slots: make([]uint32, 16), shift: 64 - 4, hbits: 20}
	s.recs.Store(&[]*recChunkT{})
	s.nodes.Store(&[]*nodeChunkT{})
	for _, root := range []int32{mainRoot, mirrorRoot} {
		s.allocNodes(1)
		n := s.node(root)
		n.child.Store(-1)
		n.parent = -1
		n.box = worldBox
		n.leaf.Store(s.allocBlock(blockStep))
		if root == mirrorRoot {
			n.occ.Store(occMirror)
		}
	}
}

// The roots of the two trees: the main tree holds every driver, the
// mirror tree a copy of each available one.
const (
	mainRoot   = 0
	mirrorRoot = 1
)

// lookup returns id's handle.
func (s *treeStore) lookup(id DriverID) (uint32, bool) {
	t := &s.table
	mask, hm, tag := uint64(len(t.slots)-1), t.handleMask(), t.tag(id)
	for i := t.home(id); ; i = (i + 1) & mask {
		v := t.slots[i]
		if v == 0 {
			return 0, false
		}
		if v&^hm == tag && DriverID(s.rec(v&hm-1).id.Load()) == id {
			return v&hm - 1, true
		}
	}
}

// tableInsert adds id (known absent) with handle h, whose record is set.
func (s *treeStore) tableInsert(id DriverID, h uint32) {
	t := &s.table
	grow := (t.used+1)*4 > len(t.slots)*3
	wide := h+1 > t.handleMask()
	if grow || wide {
		if grow {
			t.slots = make([]uint32, 2*len(t.slots))
			t.shift--
		} else {
			clear(t.slots)
		}
		if wide {
			t.hbits++
		}
		// Rehash from the records, in handle order: a sequential scan,
		// where walking the old table would read them at random.
		for g := range s.nrec {
			if r := s.rec(g); r.leaf >= 0 && g != h {
				s.place(DriverID(r.id.Load()), g)
			}
		}
	}
	s.place(id, h)
	t.used++
}

func (s *treeStore) place(id DriverID, h uint32) {
	t := &s.table
	mask := uint64(len(t.slots) - 1)
	i := t.home(id)
	for t.slots[i] != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = t.tag(id) | (h + 1)
}

// tableDelete removes id (known present).
func (s *treeStore) tableDelete(id DriverID) {
	t := &s.table
	mask, hm, tag := uint64(len(t.slots)-1), t.handleMask(), t.tag(id)
	i := t.home(id)
	for v := t.slots[i]; v&^hm != tag || DriverID(s.rec(v&hm-1).id.Load()) != id; v = t.slots[i] {
		i = (i + 1) & mask
	}
	// Backward shift: move later entries of the probe run into the hole
	// when their home position does not lie strictly after it.
	for j := (i + 1) & mask; t.slots[j] != 0; j = (j + 1) & mask {
		k := t.home(DriverID(s.rec(t.slots[j]&hm - 1).id.Load()))
		if (j-k)&mask >= (j-i)&mask {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = 0
	t.used--
}

// allocRec returns a free handle.
func (s *treeStore) allocRec() uint32 {
	if n := len(s.freeRecs); n > 0 {
		h := s.freeRecs[n-1]
		s.freeRecs = s.freeRecs[:n-1]
		return h
	}
	h := s.nrec
	if h>>recShift >= uint32(len(*s.recs.Load())) {
		dir := append(append([]*recChunkT(nil), *s.recs.Load()...), new(recChunkT))
		s.recs.Store(&dir)
	}
	s.nrec++
	return h
}

// allocNodes returns the first of k (1 or 4) fresh consecutive nodes.
func (s *treeStore) allocNodes(k int32) int32 {
	if k == 4 && len(s.freeGrp) > 0 {
		i := s.freeGrp[len(s.freeGrp)-1]
		s.freeGrp = s.freeGrp[:len(s.freeGrp)-1]
		return i
	}
	i := s.nnode
	if (i+k-1)>>nodeShift >= int32(len(*s.nodes.Load())) {
		dir := append(append([]*nodeChunkT(nil), *s.nodes.Load()...), new(nodeChunkT))
		s.nodes.Store(&dir)
	}
	s.nnode += k
	return i
}

func (s *treeStore) allocBlock(c int32) *block {
	if c <= leafMax {
		l := &s.freeBlk[c/blockStep-1]
		if n := len(*l); n > 0 {
			b := (*l)[n-1]
			*l = (*l)[:n-1]
			return b
		}
	}
	return newBlock(c)
}

// maxFree is how many blocks of each capacity the writer keeps for reuse;
// the rest go to the garbage collector, so that a tree built once does not
// keep the small blocks its leaves outgrew.
const maxFree = 256

// freeBlock recycles b. Readers may still hold it; they notice through
// the seq of the node they read it from.
func (s *treeStore) freeBlock(b *block) {
	if c := b.capacity(); c <= leafMax && len(s.freeBlk[c/blockStep-1]) < maxFree {
		s.freeBlk[c/blockStep-1] = append(s.freeBlk[c/blockStep-1], b)
	}
}

// findLeaf descends from node i to the leaf holding (x, y).
func (s *treeStore) findLeaf(i int32, x, y int32) int32 {
	dir := *s.nodes.Load()
	for {
		n := &dir[i>>nodeShift][i&(nodeChunk-1)]
		c := n.child.Load()
		if c < 0 {
			return i
		}
		i = c + n.box.quadrant(x, y)
	}
}

// addEntry appends (p, h) to leaf li, growing its block if full. In the
// main tree it points h's record at the entry. The caller bumps seq around
// it.
func (s *treeStore) addEntry(li int32, p uint64, h uint32) {
	n := s.node(li)
	b := n.leaf.Load()
	cnt := b.count()
	if cnt == b.capacity() {
		nb := s.allocBlock(blockCap(cnt + 1))
		for i := range cnt {
			nb.set(i, b.pos(i), b.handle(i))
		}
		nb.setCount(cnt)
		n.leaf.Store(nb)
		s.freeBlock(b)
		b = nb
	}
	b.set(cnt, p, h)
	b.setCount(cnt + 1)
	if !n.mirror() {
		r := s.rec(h)
		r.leaf, r.slot = li, cnt
	}
}

// delEntry removes the entry at slot from leaf li. The caller bumps seq.
func (s *treeStore) delEntry(li int32, slot int32) {
	n := s.node(li)
	b := n.leaf.Load()
	last := b.count() - 1
	if slot != last {
		// Fill the hole with the last entry.
		mh := b.handle(last)
		b.set(slot, b.pos(last), mh)
		if !n.mirror() {
			s.rec(mh).slot = slot
		}
	}
	b.setCount(last)
	// Shrink a block two classes too big, or an oversized one (a leaf of
	// duplicates) that its drivers have mostly left.
	if c := b.capacity(); (c > blockStep && c <= leafMax && last <= c-2*blockStep) || (c > leafMax && last <= leafMax/2) {
		nb := s.allocBlock(blockCap(last))
		for i := range last {
			nb.set(i, b.pos(i), b.handle(i))
		}
		nb.setCount(last)
		n.leaf.Store(nb)
		s.freeBlock(b)
	}
}

// sameSpot reports whether every entry of b and p are one point.
func sameSpot(b *block, p uint64) bool {
	for i := range b.count() {
		if b.pos(i) != p {
			return false
		}
	}
	return true
}

// split turns full leaf li into four leaves. The caller holds gen odd.
func (s *treeStore) split(li int32) {
	n := s.node(li)
	b := n.leaf.Load()
	c := s.allocNodes(4)
	var cnt [4]int32
	cnt0 := b.count()
	for i := range cnt0 {
		p := b.pos(i)
		cnt[n.box.quadrant(posLng(p), posLat(p))]++
	}
	for q := range int32(4) {
		ch := s.node(c + q)
		ch.seq.Add(2) // readers holding an old copy of this node retry
		ch.parent, ch.box = li, n.box.child(q)
		ch.occ.Store(n.occ.Load() & occMirror)
		ch.setCount(cnt[q])
		nb := s.allocBlock(blockCap(cnt[q]))
		nb.setCount(0)
		ch.leaf.Store(nb)
		ch.child.Store(-1)
	}
	for i := range cnt0 {
		p, h := b.pos(i), b.handle(i)
		q := n.box.quadrant(posLng(p), posLat(p))
		s.addEntry(c+q, p, h)
	}
	n.seq.Add(2)
	n.child.Store(c)
	n.leaf.Store(nil)
	s.freeBlock(b)
}

// collapse makes internal node ai one leaf holding its subtree's entries.
// The caller holds gen odd.
func (s *treeStore) collapse(ai int32) {
	a := s.node(ai)
	nb := s.allocBlock(blockCap(a.cnt))
	nb.setCount(0)
	a.seq.Add(2)
	a.leaf.Store(nb)
	c := a.child.Load()
	a.child.Store(-1)
	s.gather(c, ai)
}

// gather moves the entries of the four nodes from c and their subtrees
// into leaf ai, releasing the nodes and blocks.
func (s *treeStore) gather(c, ai int32) {
	for q := range int32(4) {
		ch := s.node(c + q)
		if g := ch.child.Load(); g >= 0 {
			s.gather(g, ai)
		} else {
			b := ch.leaf.Load()
			for i := range b.count() {
				s.addEntry(ai, b.pos(i), b.handle(i))
			}
			ch.leaf.Store(nil)
			s.freeBlock(b)
		}
		ch.child.Store(-1)
		ch.setCount(0)
	}
	s.freeGrp = append(s.freeGrp, c)
}

// addCount adds d to the count of node i and its ancestors up to, not
// including, stop (-1 for the root's parent).
func (s *treeStore) addCount(i, stop int32, d int32) {
	for i != stop {
		n := s.node(i)
		n.setCount(n.cnt + d)
		i = n.parent
	}
}
