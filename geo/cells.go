package geo

import (
	"crypto/rand"
	"encoding/binary"
	"math"
	"math/bits"
	"sync/atomic"
	"unsafe"
)

// This file holds the Index's storage: a point quadtree over integer (lng,
// lat) whose leaves hold blocks of (position, ID, meta) entries, and an
// open-addressing table from DriverID to the leaf holding the driver.
// Writers hold Index.mu; readers take no lock: every word they read is an
// atomic, leaves are validated by a per-node sequence number, and the tree's
// shape by Index.gen (see doc.go).

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

// A cell splits into 2 x 2 children, halving both sides, except near the
// poles, where a square in degrees is a thin wedge on the ground (at 88°
// a cell is 0.07 times as wide as it is tall) and a round circle crosses
// many of them: there a cell whose east-west width at its latitude edge
// nearer the equator, dlng·cos φ, is less than its height dlat splits
// into four latitude bands instead, each a quarter as tall and as wide,
// which makes them four times squarer. (Splitting only below half the
// height left polar searches 15% slower.) The choice depends on the
// integer box alone, so the writer and lock-free readers agree on every
// cell's children without storing it.
//
// bandLat[k] is the smallest latitude, in units of 1e-7 degree, whose
// cosine is below 2^-(k+1): a cell with dlng about 2^(k+1)·dlat splits
// into bands when its nearer edge lies at or beyond it. Cells straddling
// the equator, and cells less than 4 units tall (where a band would be
// empty), always split 2 x 2, so the split is never degenerate and every
// cell south of 60° splits as in a plain quadtree.
var bandLat = [...]int32{
	600000001, 755224879, 828192443, 864166784, 882092154, 891047171, 895523722, 897761878,
	898880942, 899440471, 899720236, 899860118, 899930059, 899965030, 899982515, 899991258,
	899995629, 899997815, 899998908, 899999454, 899999727, 899999864, 899999932, 899999966,
	899999983, 899999992, 899999996, 899999998, 899999999, 900000000, 900000000, 900000000,
}

// minBandLat is bandLat[0], as a constant for the test every descent
// level makes.
const minBandLat = 600000001

// bands reports whether b splits into four latitude bands rather than
// 2 x 2.
func (b ibox) bands() bool {
	// Only polar boxes split into bands: quadrant's callers rely on it.
	dlat := b.y1 - b.y0
	if !b.polar() || dlat < 4 {
		return false
	}
	near := b.y0 // the latitude edge nearer the equator, mirrored north
	if b.y1 <= 0 {
		near = 1 - b.y1
	}
	// dlng is about 2^(k+1)·dlat.
	k := bits.Len32(uint32(b.x1)-uint32(b.x0)) - bits.Len32(uint32(dlat)) - 1
	return near >= bandLat[min(max(k, 0), len(bandLat)-1)]
}

// halves returns the midpoints of b's lower and upper halves in latitude:
// the band edges are y0 < lo < my < hi < y1.
func halves(y0, my, y1 int32) (lo, hi int32) {
	return int32((int64(y0) + int64(my)) >> 1), int32((int64(my) + int64(y1)) >> 1)
}

// quadrant returns which child of b holds (x, y): in a 2 x 2 split bit 0
// is east and bit 1 north, in a split into bands the bands count from the
// south.
func (b ibox) quadrant(x, y int32) int32 {
	if b.polar() {
		return b.polarQuadrant(x, y)
	}
	return b.quad(x, y)
}

// polar reports whether b lies 60° or more from the equator, where it may
// split into bands: the first test of bands, cheap enough to inline.
func (b ibox) polar() bool {
	near := b.y0
	if b.y1 <= 0 {
		near = 1 - b.y1
	}
	return near >= minBandLat
}

// quad is quadrant for a 2 x 2 split.
func (b ibox) quad(x, y int32) int32 {
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

// polarQuadrant is quadrant for a polar box.
func (b ibox) polarQuadrant(x, y int32) int32 {
	if !b.bands() {
		return b.quad(x, y)
	}
	_, my := b.mid()
	lo, hi := halves(b.y0, my, b.y1)
	switch {
	case y < lo:
		return 0
	case y < my:
		return 1
	case y < hi:
		return 2
	}
	return 3
}

// descend returns which child of b holds (x, y) and that child's box:
// quadrant and child together, deciding the split once. It is what each
// level of findLeaf and Index.centerPath computes; they write it out (a
// polar test, then descendPolar or quadChild's two calls of half)
// because it does not fit the inlining budget. The tests check it, and
// so the descents' step, against quadrant and children.
func (b ibox) descend(x, y int32) (int32, ibox) {
	if b.polar() {
		return b.descendPolar(x, y)
	}
	return b.quadChild(x, y)
}

// quadChild is descend for a box that splits 2 x 2 (one that is not
// polar) and holds (x, y).
func (b ibox) quadChild(x, y int32) (int32, ibox) {
	x0, x1, east := half(b.x0, b.x1, x)
	y0, y1, north := half(b.y0, b.y1, y)
	return east&1 | north&2, ibox{x0, y0, x1, y1}
}

// half returns the half of [lo, hi) that holds v, and all ones if it is
// the upper half, else 0. Descents call it twice a level, so it is small
// enough to inline and has no branch: a point's side of a midpoint is as
// likely one way as the other, and a branch on it is guessed wrong half
// the time. (v lies within half the interval of its midpoint, so the
// difference fits an int32.)
func half(lo, hi, v int32) (int32, int32, int32) {
	m := int32((int64(lo) + int64(hi)) >> 1)
	upper := (m - 1 - v) >> 31
	return lo + (m-lo)&upper, m + (hi-m)&upper, upper
}

// descendPolar is descend for a polar box, which may split into bands.
func (b ibox) descendPolar(x, y int32) (int32, ibox) {
	mx, my := b.mid()
	c := b
	if b.bands() {
		lo, hi := halves(b.y0, my, b.y1)
		switch {
		case y < lo:
			c.y1 = lo
			return 0, c
		case y < my:
			c.y0, c.y1 = lo, my
			return 1, c
		case y < hi:
			c.y0, c.y1 = my, hi
			return 2, c
		}
		c.y0 = hi
		return 3, c
	}
	q := int32(0)
	if x >= mx {
		q, c.x0 = 1, mx
	} else {
		c.x1 = mx
	}
	if y >= my {
		q, c.y0 = q|2, my
	} else {
		c.y1 = my
	}
	return q, c
}

// children returns b's four children, which tile it.
func (b ibox) children() [4]ibox {
	mx, my := b.mid()
	if b.polar() && b.bands() { // polar inlines: most boxes need no call
		lo, hi := halves(b.y0, my, b.y1)
		return [4]ibox{
			{b.x0, b.y0, b.x1, lo},
			{b.x0, lo, b.x1, my},
			{b.x0, my, b.x1, hi},
			{b.x0, hi, b.x1, b.y1},
		}
	}
	return [4]ibox{
		{b.x0, b.y0, mx, my},
		{mx, b.y0, b.x1, my},
		{b.x0, my, mx, b.y1},
		{mx, my, b.x1, b.y1},
	}
}

func (b ibox) holds(x, y int32) bool { return x >= b.x0 && x < b.x1 && y >= b.y0 && y < b.y1 }

// degrees returns the smallest rectangle in degrees that holds the box's
// points; an empty box gives an inverted rectangle, which no caller sees
// because empty cells hold no drivers.
func (b ibox) degrees() rect {
	return rect{MinX: unfix(b.x0), MinY: unfix(b.y0), MaxX: unfix(b.x1 - 1), MaxY: unfix(b.y1 - 1)}
}

// Nodes live in chunks that never move; the directory of chunks is
// republished when it grows.
const (
	nodeShift = 10
	nodeChunk = 1 << nodeShift
)

// node is a cell of one of the two quadtrees: the words searches read.
// The writer keeps the rest of what it knows about a node (its box,
// parent, count, and a copy of child and leaf) in dense arrays beside
// the nodes, which stay in cache better (see leafRef and treeStore.kids).
type node struct {
	// seq is odd while the writer changes this leaf's entries.
	seq atomic.Uint32
	// child is the first of four consecutive children, or -1 for a leaf.
	child atomic.Int32
	// occ says whether the node may hold a driver (occDriver). A leaf
	// has it from before its first driver arrives until after its last
	// one left, so a search never skips a leaf that holds one; it
	// changes only when the leaf's count crosses zero, which spares the
	// writer a locked store on most updates. An internal node always
	// has it: its subtree holds at least mergeBelow drivers (see
	// Index.mergeUp). Its occMirror bit marks the mirror tree's nodes.
	occ  atomic.Uint32
	leaf atomic.Pointer[block]
}

// leafRef is the writer's directory entry for a node: its block, the
// block's capacity and, in a main-tree leaf, mhint. The directory is
// dense (16 bytes a node), so the entries of the leaves that moves touch
// tend to stay in cache where a larger node would not: a move
// inside a leaf goes from the ID table through the directory to the
// block, whose header holds the leaf's box and oneSpot flag, without
// loading the node. With the capacity in the directory the addresses of
// a driver's position and ID do not depend on a load from the block, so
// the cache misses on the block's lines overlap.
type leafRef struct {
	b *block
	c int32
	// mhint, in a main-tree leaf, is a mirror-tree node where the writer
	// last found the mirror copies of this leaf's drivers: a hint, where
	// it starts looking for one (see Index.mirrorStart).
	mhint int32
}

type refChunkT [nodeChunk]leafRef

// The writer keeps a copy of each node's child in a dense array of its
// own, 4 bytes a node, which stays in the CPU's cache where the nodes do
// not: a descent reads it and computes each cell's box from its parent's
// (ibox.descend), instead of loading a node per level. It also keeps
// each node's parent and, for a leaf, its count of drivers in another,
// and each node's box in a third (a node's box never changes while the
// node is in use). Internal nodes keep no count: every one holds at
// least mergeBelow drivers, which is all the writer needs to know of
// them (see Index.mergeUp), so adding or removing a driver changes its
// leaf's count and no other.
type (
	boxChunkT [nodeChunk]ibox
	up        struct{ parent, cnt int32 }
	upChunkT  [nodeChunk]up
)

// box returns node i's box. Writer only: searches compute the boxes on
// their way down.
func (s *treeStore) box(i int32) *ibox { return &s.boxes[i>>nodeShift][i&(nodeChunk-1)] }

// kid returns node i's child, as the writer keeps it. Writer only.
func (s *treeStore) kid(i int32) int32 { return s.kids[i] }

// setChild makes c node i's first child (-1: none).
func (s *treeStore) setChild(i, c int32) {
	s.kids[i] = c
	s.node(i).child.Store(c)
}

// up returns node i's parent and, for a leaf, its count. Writer only.
func (s *treeStore) up(i int32) *up { return &s.ups[i>>nodeShift][i&(nodeChunk-1)] }

// cnt returns the number of drivers in leaf i. Writer only: internal
// nodes keep none (it reads 0).
func (s *treeStore) cnt(i int32) int32 { return s.up(i).cnt }

// ref returns node i's directory entry. Writer only.
func (s *treeStore) ref(i int32) *leafRef { return &s.refs[i>>nodeShift][i&(nodeChunk-1)] }

// setLeaf makes b, which may be nil, leaf i's block, and gives it the
// leaf's box. Writer only.
func (s *treeStore) setLeaf(i int32, b *block) {
	n, r := s.node(i), s.ref(i)
	r.b, r.c = b, 0
	if b != nil {
		r.c = b.capacity()
		b.box = *s.box(i)
	}
	n.leaf.Store(b)
}

// entries returns leaf i's block, its positions and its (ID, meta)
// pairs. Writer only: it sizes them by the capacity kept in the
// directory, so their addresses do not depend on a load from the block,
// and the cache misses on the block's lines overlap.
func (s *treeStore) entries(i int32) (b *block, pos, im []atomic.Uint64) {
	r := s.ref(i)
	b, c := r.b, r.c
	w := unsafe.Slice((*atomic.Uint64)(unsafe.Add(unsafe.Pointer(b), blockHead*8)), 3*c)
	return b, w[:c:c], w[c : 3*c : 3*c]
}

const (
	occDriver = 1 << iota
	// occMirror marks the nodes of the mirror tree, whose entries are
	// copies (see Index); only the writer looks at it.
	occMirror
)

// leafLimit returns how many drivers leaf i may hold unless they share
// one point: leafMax, or mirrorLeafMax in the mirror tree.
func (s *treeStore) leafLimit(i int32) int32 {
	if s.node(i).mirror() {
		return mirrorLeafMax
	}
	return leafMax
}

// mirror reports whether n belongs to the mirror tree.
func (n *node) mirror() bool { return n.occ.Load()&occMirror != 0 }

// setCount stores leaf i's count and updates its occ if the leaf
// became empty or stopped being so; only then does it load the node.
func (s *treeStore) setCount(i, cnt int32) {
	u := s.up(i)
	was := u.cnt
	u.cnt = cnt
	if (was > 0) == (cnt > 0) {
		return
	}
	n := s.node(i)
	o := n.occ.Load() &^ occDriver
	if cnt > 0 {
		o |= occDriver
	}
	n.occ.Store(o)
}

type nodeChunkT [nodeChunk]node

// Leaf sizes. A leaf splits when an entry would make it hold more than
// leafMax drivers (unless they all share one point), and a subtree
// collapses into one leaf when it holds fewer than mergeBelow.
const (
	leafMax    = 96
	mergeBelow = 8
	blockStep  = 8 // block capacities are multiples of it up to blockMax
	// blockMax is the largest block capacity class in steps of blockStep;
	// larger blocks (piles) double from it.
	blockMax = 128
	// pileFrom is the first slot the table's hint cannot name: entries at
	// it or beyond go through treeStore.piles.
	pileFrom = 1 << hintBits
	// mirrorLeafMax is leafMax for the mirror tree. Its drivers are
	// sparser (the available ones, a tenth or so), so a k-nearest search
	// spans more cells; larger leaves make it read fewer of them.
	mirrorLeafMax = 64
)

// block holds a leaf's entries. It is the head of one allocation of
// words: its capacity c (fixed for the block's life), its entry count n
// (with the writer's oneSpot flag above it), the leaf's box (the
// writer's), c packed positions, then c pairs of DriverID and meta
// (last-seen time, vehicle, status). A search screens the positions and
// reads the ID and meta of the few entries that pass from the same
// allocation, one line for both, instead of from a record elsewhere in
// memory; one allocation instead of a header and arrays saves it one
// cache miss per leaf.
type block struct {
	c atomic.Uint64
	n atomic.Uint64
	// box is the box of the leaf whose block this is, so that a move
	// inside a leaf need not load its node. Writer only.
	box ibox
}

const blockHead = 4 // words before the positions

// oneSpotBit, in block.n above the count, says that all the leaf's
// entries are known to share one point, so that a pile need not be
// compared with each arrival (see sameSpot). Writer only.
const oneSpotBit = 1 << 32

func newBlock(c int32) *block {
	w := make([]atomic.Uint64, blockHead+3*c)
	w[0].Store(uint64(c))
	return (*block)(unsafe.Pointer(&w[0]))
}

func (b *block) capacity() int32 { return int32(b.c.Load()) }

// words returns the block's allocation as a slice.
func (b *block) words() []atomic.Uint64 {
	return unsafe.Slice((*atomic.Uint64)(unsafe.Pointer(b)), blockHead+3*b.capacity())
}

// arrays returns the block's positions and its (ID, meta) pairs: entry
// j's ID is im[2j], its meta im[2j+1].
func (b *block) arrays() (pos, im []atomic.Uint64) {
	c := b.capacity()
	w := b.words()[blockHead:]
	return w[:c:c], w[c : 3*c : 3*c]
}

// count returns the number of entries: the low half of n.
func (b *block) count() int32 { return int32(b.n.Load()) }

// setCount stores the count, keeping the oneSpot flag. Writer only.
func (b *block) setCount(n int32) { b.n.Store(b.n.Load()&oneSpotBit | uint64(uint32(n))) }

func (b *block) oneSpot() bool { return b.n.Load()&oneSpotBit != 0 }

// setOneSpot sets or clears the oneSpot flag. Writer only.
func (b *block) setOneSpot(v bool) {
	n := b.n.Load() &^ oneSpotBit
	if v {
		n |= oneSpotBit
	}
	b.n.Store(n)
}

func (b *block) pos(i int32) uint64 { return b.words()[blockHead+i].Load() }

func (b *block) id(i int32) DriverID {
	return DriverID(b.words()[blockHead+b.capacity()+2*i].Load())
}

func (b *block) meta(i int32) meta { return meta(b.words()[blockHead+b.capacity()+2*i+1].Load()) }

// set writes entry i. Writer only.
func (b *block) set(i int32, p uint64, id DriverID, m meta) {
	c := b.capacity()
	w := b.words()[blockHead:]
	w[i].Store(p)
	w[c+2*i].Store(uint64(id))
	w[c+2*i+1].Store(uint64(m))
}

// find returns the slot of id among the first cnt entries of the pairs
// im, or -1.
func find(im []atomic.Uint64, cnt int32, id DriverID) int32 {
	for j := range cnt {
		if DriverID(im[2*j].Load()) == id {
			return j
		}
	}
	return -1
}

// copyTo copies the first n entries of b and its oneSpot flag into nb.
// Writer only.
func (b *block) copyTo(nb *block, n int32) {
	for i := range n {
		nb.set(i, b.pos(i), b.id(i), b.meta(i))
	}
	nb.setOneSpot(b.oneSpot())
	nb.setCount(n)
}

// growCaps are the capacities a full block grows to while its leaf
// fills: blockStep more up to 48, then about a quarter more, so that a
// leaf filling from a quarter of leafMax after a split to leafMax copies
// 288 entries (4 an insert), not 504 (7). Growing by a third or a half
// (32-48-64-96) would copy 2.3 an insert but left blocks emptier: 49.8
// bytes a driver instead of 43.9.
var growCaps = [...]int32{8, 16, 24, 32, 40, 48, 64, 80, 96, blockMax}

// growCap returns the capacity a full block grows to when it takes its
// n-th entry.
func growCap(n int32) int32 {
	for _, c := range growCaps {
		if c >= n {
			return c
		}
	}
	return blockCap(n)
}

// shrinkAt returns the count at or below which a block of capacity c
// shrinks: a class below growCap's class below c, so that a leaf whose
// count goes to and fro across a class edge does not grow and shrink
// its block by turns (it grows when a block of capacity t fills, to
// growCap(t+1), whose shrinkAt is less than t). For piles beyond
// blockMax, a quarter of c, so that a pile most of whose drivers left
// does not keep the block of its peak.
func shrinkAt(c int32) int32 {
	if c > blockMax {
		return c / 4
	}
	below := int32(0)
	for _, g := range growCaps {
		if g < c {
			below = g
		}
	}
	return below - blockStep
}

// blockCap returns the smallest capacity for n entries: a multiple of
// blockStep up to blockMax, then a power of two.
func blockCap(n int32) int32 {
	if n <= blockMax {
		return max((n+blockStep-1)/blockStep*blockStep, blockStep)
	}
	c := int32(blockMax)
	for c < n {
		c *= 2
	}
	return c
}

// idTable maps DriverID to the main-tree leaf that holds the driver: open
// addressing with linear probing. A slot holds the leaf's node index + 1
// in its low nbits bits (0 = empty, all ones = deleted), above them
// hintBits bits of a hint at the driver's slot in the leaf, and a tag from
// the ID's hash in the rest. A probe looks at a leaf only when the tags
// match (at 1,000,000 drivers 8 bits of tag spare nearly every leaf but
// the right one) and confirms the ID at the hinted slot, then in a leaf
// beyond pileFrom entries at the slot treeStore.piles gives, scanning the
// leaf's IDs only when both are stale. nbits grows, with fewer tag
// bits, before node indexes outgrow it.
//
// Node indexes are stable, so a slot's leaf changes only when its driver
// changes leaf (a move to another leaf, a split, a collapse). When a
// removal fills its hole with the leaf's last entry, that entry's hint
// goes stale; the lookup that finds it so repairs it. Two drivers of one
// leaf may share a tag, and then their slots name the same leaf: the
// writer updates or deletes the first slot with the driver's tag and leaf
// on its probe path, which may be the other driver's, but that one then
// owns the later slot, still on its own probe path, so every driver stays
// findable (and a hint is only a hint). That is also why deletions leave
// a tombstone instead of shifting later slots back: a slot does not say
// which driver, and so which home position, it belongs to. Tombstones are
// reused by inserts and cleared when the table is rebuilt from the tree.
//
// Driver IDs come from outside (a gateway passes on what phones report),
// so the hash is keyed with a random seed per Index: with a fixed hash,
// IDs chosen to share a home and a tag (for a multiplicative hash, the
// multiples of its inverse) would make every probe walk one cluster, and
// a pile of them at one point turned each lookup into a scan of the pile
// per probed slot (3,000 such drivers took seconds to insert).
type idTable struct {
	slots []uint32
	used  int // live slots
	dead  int // tombstones
	shift uint
	nbits uint
	seed  uint64
}

// hashID mixes id with seed: the seed is xored in and then spread over
// all bits by SplitMix64's finalizer (Steele, Lea and Flood, "Fast
// splittable pseudorandom number generators", OOPSLA 2014), so that
// without the seed, which IDs collide cannot be told.
func hashID(id DriverID, seed uint64) uint64 {
	z := uint64(id) ^ seed
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func (t *idTable) home(id DriverID) uint64 { return hashID(id, t.seed) >> t.shift }

const hintBits = 7

// tag returns id's tag, in place in a slot.
func (t *idTable) tag(id DriverID) uint32 {
	return uint32(hashID(id, t.seed)>>16) << (t.nbits + hintBits)
}

func (t *idTable) nodeMask() uint32 { return uint32(uint64(1)<<t.nbits - 1) }

// keyMask selects a slot's tag and node.
func (t *idTable) keyMask() uint32 { return ^uint32((1<<hintBits - 1) << t.nbits) }

func (t *idTable) hint(v uint32) int32 { return int32(v>>t.nbits) & (1<<hintBits - 1) }

// key returns the tag and node of the slot value for id in leaf li.
func (t *idTable) key(id DriverID, li int32) uint32 { return t.tag(id) | uint32(li+1) }

// value returns the slot value for id at slot j of leaf li.
func (t *idTable) value(id DriverID, li, j int32) uint32 {
	return t.key(id, li) | uint32(j&(1<<hintBits-1))<<t.nbits
}

// maxDepth bounds the levels of a tree, root and leaf included: below the
// root a cell is split at most 32 times 2 x 2 (the world is less than 2^32
// units wide) and at most 15 times into bands (it is less than 2^31 units
// tall, and a band split needs 4), and a cell 1 unit square holds one
// point, which never splits.
const maxDepth = 48

// nodeReserve is how many nodes one write may allocate at most: one chain
// of splits in each tree (main and mirror), a descent splitting a leaf at
// every level or Index.spread parting a pile level by level, four nodes a
// split. The table widens its node bits before a write when
// node indexes could outgrow them during it.
const nodeReserve = 2 * maxDepth * 4

// treeStore is the writer's side of the storage.
type treeStore struct {
	nodes atomic.Pointer[[]*nodeChunkT]
	_     [56]byte // the fields below change often; searches never read them

	refs  []*refChunkT // the directory, chunked like the nodes
	boxes []*boxChunkT
	kids  []int32 // one flat array: only the writer reads it, and a descent loads one word a level
	ups   []*upChunkT

	nnode   int32
	freeGrp []int32 // released groups of four nodes
	freeBlk [blockMax / blockStep][]*block
	table   idTable
	// sweeps are the RemoveStale sweeps under way (see sweepMark).
	sweeps []*sweepMark
	// piles maps each entry at slot pileFrom or beyond of a leaf, which
	// only a pile of drivers at one point has, to its slot: in the main
	// tree the table's 7-bit hint cannot say, and in the mirror nothing
	// else does. Without it every write to a pile of n drivers read O(n)
	// IDs. Keyed by leaf as well, since a driver moving between leaves is
	// in both for a moment; nil while there is no pile.
	piles map[pileKey]int32
}

type pileKey struct {
	leaf int32
	id   DriverID
}

// pile records that id sits at slot j of leaf li.
func (s *treeStore) pile(li int32, id DriverID, j int32) {
	if s.piles == nil {
		s.piles = make(map[pileKey]int32)
	}
	s.piles[pileKey{li, id}] = j
}

// unpile forgets where id sits in leaf li.
func (s *treeStore) unpile(li int32, id DriverID) {
	if s.piles != nil {
		delete(s.piles, pileKey{li, id})
		if len(s.piles) == 0 {
			s.piles = nil // the piles are gone: let their map go too
		}
	}
}

// pileFind returns id's slot in leaf li, which holds cnt entries with
// IDs im, if the pile map knows it, or -1.
func (s *treeStore) pileFind(li, cnt int32, im []atomic.Uint64, id DriverID) int32 {
	if cnt <= pileFrom {
		return -1
	}
	if j, ok := s.piles[pileKey{li, id}]; ok && j < cnt && DriverID(im[2*j].Load()) == id {
		return j
	}
	return -1
}

func (s *treeStore) node(i int32) *node {
	return &(*s.nodes.Load())[i>>nodeShift][i&(nodeChunk-1)]
}

func (s *treeStore) init() {
	var seed [8]byte
	_, _ = rand.Read(seed[:]) // never fails (crypto/rand)
	s.table = idTable{slots: make([]uint32, 16), shift: 64 - 4, nbits: 16, seed: binary.LittleEndian.Uint64(seed[:])}
	s.nodes.Store(&[]*nodeChunkT{})
	for _, root := range []int32{mainRoot, mirrorRoot} {
		s.allocNodes(1)
		n := s.node(root)
		s.setChild(root, -1)
		s.up(root).parent = -1
		*s.box(root) = worldBox
		if root == mirrorRoot {
			n.occ.Store(occMirror)
		}
		s.setLeaf(root, s.allocBlock(blockStep))
	}
}

// The roots of the two trees: the main tree holds every driver, the
// mirror tree a copy of each available one.
const (
	mainRoot   = 0
	mirrorRoot = 1
)

// where says where a driver is: its table slot, its leaf and its slot in
// the leaf's block.
type where struct {
	ts   uint64
	leaf int32
	slot int32
}

// lookup finds id.
func (s *treeStore) lookup(id DriverID) (where, bool) {
	t := &s.table
	mask, nm, tag := uint64(len(t.slots)-1), t.nodeMask(), t.tag(id)
	tm := t.keyMask() &^ nm
	for i := t.home(id); ; i = (i + 1) & mask {
		v := t.slots[i]
		if v == 0 {
			return where{}, false
		}
		if v&tm != tag || v&nm == nm {
			continue
		}
		li := int32(v&nm) - 1
		// The directory gives the block and its capacity without the
		// node, so the loads of the block's count and of the ID at the
		// hint overlap.
		b, _, im := s.entries(li)
		cnt := b.count()
		if j := t.hint(v); j < cnt && DriverID(im[2*j].Load()) == id {
			return where{i, li, j}, true
		}
		if j := s.pileFind(li, cnt, im, id); j >= 0 {
			return where{i, li, j}, true
		}
		if j := find(im, cnt, id); j >= 0 {
			t.slots[i] = t.value(id, li, j) // repair the hint
			return where{i, li, j}, true
		}
	}
}

// tableFind returns the first slot on id's probe path with key k.
func (s *treeStore) tableFind(id DriverID, k uint32) uint64 {
	t := &s.table
	mask, km := uint64(len(t.slots)-1), t.keyMask()
	i := t.home(id)
	for t.slots[i]&km != k {
		i = (i + 1) & mask
	}
	return i
}

// retarget records that id moved from leaf from to slot j of leaf to.
func (s *treeStore) retarget(id DriverID, from, to, j int32) {
	t := &s.table
	t.slots[s.tableFind(id, t.key(id, from))] = t.value(id, to, j)
}

// tableInsert adds id (known absent), which sits at slot j of leaf li.
func (s *treeStore) tableInsert(id DriverID, li, j int32) {
	t := &s.table
	if (t.used+t.dead+1)*4 > len(t.slots)*3 {
		// Rebuild, doubling if the live slots need it; the rebuild finds
		// id in the tree.
		s.rebuildTable((t.used+1)*2 > len(t.slots))
		return
	}
	mask, nm := uint64(len(t.slots)-1), t.nodeMask()
	i := t.home(id)
	for v := t.slots[i]; v != 0 && v&nm != nm; v = t.slots[i] {
		i = (i + 1) & mask
	}
	if t.slots[i] != 0 {
		t.dead--
	}
	t.slots[i] = t.value(id, li, j)
	t.used++
}

// tableDelete marks id's slot, on leaf li, deleted.
func (s *treeStore) tableDelete(id DriverID, li int32) {
	t := &s.table
	t.slots[s.tableFind(id, t.key(id, li))] = t.nodeMask()
	t.used--
	t.dead++
}

// reserveNodes widens the table's node bits if a write could allocate a
// node index that does not fit them. Call it before a write that may
// split leaves.
func (s *treeStore) reserveNodes() {
	if s.table.widen(uint64(s.nnode)) {
		s.rebuildTable(false)
	}
}

// widen gives the node index as many more bits as nodes nodes and a
// write's nodeReserve need (up to the 32 bits less the hint's), and
// reports whether it did; the caller then rebuilds the table.
func (t *idTable) widen(nodes uint64) bool {
	wide := false
	for nodes+nodeReserve+1 >= uint64(t.nodeMask()) && t.nbits < 32-hintBits {
		t.nbits++
		wide = true
	}
	return wide
}

// rebuildTable fills the table afresh from the main tree's leaves, doubled
// if asked, dropping the tombstones. It walks
// the node array in order and each leaf's IDs, where walking the old
// table would read the leaves at random.
func (s *treeStore) rebuildTable(grow bool) {
	t := &s.table
	if grow {
		t.slots = make([]uint32, 2*len(t.slots))
		t.shift--
	} else {
		clear(t.slots)
	}
	t.used, t.dead = 0, 0
	mask := uint64(len(t.slots) - 1)
	for li := range s.nnode {
		n := s.node(li)
		b := n.leaf.Load()
		if b == nil || n.mirror() {
			continue
		}
		_, im := b.arrays()
		for j := range b.count() {
			id := DriverID(im[2*j].Load())
			i := t.home(id)
			for t.slots[i] != 0 {
				i = (i + 1) & mask
			}
			t.slots[i] = t.value(id, li, j)
			t.used++
		}
	}
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
		s.refs = append(s.refs, new(refChunkT))
		s.kids = append(s.kids, make([]int32, nodeChunk)...)
		s.boxes = append(s.boxes, new(boxChunkT))
		s.ups = append(s.ups, new(upChunkT))
		s.nodes.Store(&dir)
	}
	s.nnode += k
	return i
}

func (s *treeStore) allocBlock(c int32) *block {
	if c <= blockMax {
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
	if c := b.capacity(); c <= blockMax && len(s.freeBlk[c/blockStep-1]) < maxFree {
		s.freeBlk[c/blockStep-1] = append(s.freeBlk[c/blockStep-1], b)
	}
}

// findLeaf descends from node i to the leaf holding (x, y) and returns
// it with its box. It reads the dense copy of the children and computes
// the boxes on the way, so it loads no node but i.
func (s *treeStore) findLeaf(i int32, x, y int32) (int32, ibox) {
	box := *s.box(i)
	for {
		c := s.kid(i)
		if c < 0 {
			return i, box
		}
		if box.polar() {
			var q int32
			q, box = box.descendPolar(x, y)
			i = c + q
			continue
		}
		// box.descend(x, y), written out: quadChild's two halves.
		x0, x1, east := half(box.x0, box.x1, x)
		y0, y1, north := half(box.y0, box.y1, y)
		i, box = c+(east&1|north&2), ibox{x0, y0, x1, y1}
	}
}

// On amd64 every atomic store is a locked instruction, and no load after
// one starts before it completes, so cache misses taken by a write's
// stores are served one after another. touchAdd and touchDel load the
// words that adding an entry to a leaf, or deleting one from it, will
// store to, so that their misses overlap before the first store.

// touchAdd loads what addEntry(li, ...) and its seq bump will write. It
// takes the leaf's count from the dense array, not from the block, so
// that the loads do not wait for the block's header either.
func (s *treeStore) touchAdd(li int32) {
	s.node(li).seq.Load()
	b, pw, im := s.entries(li)
	b.n.Load()
	if cnt := s.cnt(li); cnt < int32(len(pw)) {
		pw[cnt].Load()
		im[2*cnt].Load()
	}
}

// touchDel loads what delEntry(li, ...) and its seq bump will read and
// write beyond the deleted entry: the leaf's last entry.
func (s *treeStore) touchDel(li int32) {
	s.node(li).seq.Load()
	if b, pw, im := s.entries(li); b.count() > 0 {
		last := b.count() - 1
		pw[last].Load()
		im[2*last].Load()
	}
}

// addEntry appends an entry to leaf li, growing its block if full, and
// returns its slot. The caller bumps seq around it and keeps the ID table.
func (s *treeStore) addEntry(li int32, p uint64, id DriverID, m meta) int32 {
	b := s.ref(li).b
	cnt := b.count()
	if cnt == b.capacity() {
		nb := s.allocBlock(growCap(cnt + 1))
		b.copyTo(nb, cnt)
		s.setLeaf(li, nb)
		s.freeBlock(b)
		b = nb
	}
	b.setOneSpot(cnt == 0 || (b.oneSpot() && b.pos(0) == p))
	b.set(cnt, p, id, m)
	b.setCount(cnt + 1)
	if cnt >= pileFrom {
		s.pile(li, id, cnt)
	}
	return cnt
}

// delEntry removes the entry at slot from leaf li. The caller bumps seq.
func (s *treeStore) delEntry(li int32, slot int32) {
	b := s.ref(li).b
	last := b.count() - 1
	if last >= pileFrom {
		// Keep the pile map: the entry at slot leaves, the last one
		// comes to slot.
		if slot >= pileFrom {
			s.unpile(li, b.id(slot))
		}
		if slot != last {
			s.unpile(li, b.id(last))
			if slot >= pileFrom {
				s.pile(li, b.id(last), slot)
			}
		}
	}
	if slot != last {
		// Fill the hole with the last entry; the ID table does not care.
		b.set(slot, b.pos(last), b.id(last), b.meta(last))
	}
	b.setCount(last)
	// Shrink a block that its drivers have mostly left (see shrinkAt), to
	// one with a step of room, so that the next arrival does not copy it
	// again (its count stays above the smaller block's shrinkAt).
	if c := b.capacity(); c > blockStep && last <= shrinkAt(c) {
		nb := s.allocBlock(blockCap(last + blockStep))
		b.copyTo(nb, last)
		s.setLeaf(li, nb)
		s.freeBlock(b)
	}
}

// sameSpot reports whether every entry of leaf block b and p are one
// point. It compares p with every entry only when b's oneSpot flag is
// clear (a driver of the leaf moved inside it), which a full leaf's is
// only if it holds no more than its limit (a pile splits at once, see
// Index.spread); if they match, it sets the flag again, and if not the
// caller splits the leaf. So an arrival at a pile costs O(1), and at a
// full leaf O(leafMax) at most.
func sameSpot(b *block, p uint64) bool {
	if b.oneSpot() {
		return b.count() == 0 || b.pos(0) == p
	}
	for i := range b.count() {
		if b.pos(i) != p {
			return false
		}
	}
	b.setOneSpot(true)
	return true
}

// split turns full leaf li into four leaves, updating the ID table for a
// main-tree leaf. The caller holds gen odd.
func (s *treeStore) split(li int32) {
	n := s.node(li)
	b := n.leaf.Load()
	c := s.allocNodes(4)
	box := *s.box(li)
	var cnt [4]int32
	cnt0 := b.count()
	for i := range cnt0 {
		p := b.pos(i)
		cnt[box.quadrant(posLng(p), posLat(p))]++
	}
	kids := box.children()
	for q := range int32(4) {
		ch := s.node(c + q)
		ch.seq.Add(2) // readers holding an old copy of this node retry
		s.up(c+q).parent, *s.box(c + q) = li, kids[q]
		s.ref(c + q).mhint = s.ref(li).mhint
		ch.occ.Store(n.occ.Load() & occMirror)
		s.setCount(c+q, cnt[q])
		nb := s.allocBlock(blockCap(cnt[q]))
		nb.setCount(0)
		s.setLeaf(c+q, nb)
		s.setChild(c+q, -1)
	}
	main := !n.mirror()
	if main {
		s.tookDrivers(c)
		// The entries' table slots, touched first: the atomic stores
		// below are locked instructions, after which no load starts, so
		// loaded one by one the slots would take their misses in turn.
		t := &s.table
		for i := range cnt0 {
			atomic.LoadUint32(&t.slots[t.home(b.id(i))])
		}
	}
	for i := range cnt0 {
		p, id := b.pos(i), b.id(i)
		q := box.quadrant(posLng(p), posLat(p))
		j := s.addEntry(c+q, p, id, b.meta(i))
		if i >= pileFrom {
			s.unpile(li, id)
		}
		if main {
			s.retarget(id, li, c+q, j)
		}
	}
	n.seq.Add(2)
	// Internal nodes are occupied and keep no count. A batch may split a
	// leaf that holds fewer than mergeBelow drivers, even none, before
	// the drivers that overflow it arrive below.
	n.occ.Store(n.occ.Load() | occDriver)
	s.up(li).cnt = 0
	s.setChild(li, c)
	s.setLeaf(li, nil)
	s.freeBlock(b)
}

// collapse makes internal node ai, whose subtree holds cnt drivers, one
// leaf holding them. The caller holds gen odd.
func (s *treeStore) collapse(ai, cnt int32) {
	a := s.node(ai)
	nb := s.allocBlock(blockCap(cnt))
	nb.setCount(0)
	a.seq.Add(2)
	s.setLeaf(ai, nb)
	c := s.kid(ai)
	s.setChild(ai, -1)
	if !a.mirror() {
		s.tookDrivers(ai)
	}
	s.gather(c, ai, !a.mirror())
	// As an internal node it was occupied and kept no count; as a leaf
	// it is occupied while it holds a driver.
	s.up(ai).cnt = cnt
	if cnt == 0 {
		a.occ.Store(a.occ.Load() &^ occDriver)
	}
}

// gather moves the entries of the four nodes from c and their subtrees
// into leaf ai, releasing the nodes and blocks, and updates the ID table
// if main.
func (s *treeStore) gather(c, ai int32, main bool) {
	for q := range int32(4) {
		if g := s.kid(c + q); g >= 0 {
			s.gather(g, ai, main)
		} else {
			b := s.ref(c + q).b
			for i := range b.count() {
				id := b.id(i)
				j := s.addEntry(ai, b.pos(i), id, b.meta(i))
				if i >= pileFrom {
					s.unpile(c+q, id)
				}
				if main {
					s.retarget(id, c+q, ai, j)
				}
			}
			s.setLeaf(c+q, nil)
			s.freeBlock(b)
		}
		s.setChild(c+q, -1)
		// Released: empty, whether it was a leaf or internal.
		s.up(c + q).cnt = 0
		n := s.node(c + q)
		n.occ.Store(n.occ.Load() &^ occDriver)
	}
	s.freeGrp = append(s.freeGrp, c)
}

// addCount adds d to leaf i's count.
func (s *treeStore) addCount(i, d int32) { s.setCount(i, s.up(i).cnt+d) }
