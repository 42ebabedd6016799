package geo

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DriverID identifies a driver.
type DriverID int64

// Status says whether a driver can take a ride.
type Status uint8

// Driver statuses. Values other than these are stored and returned as given;
// only Available counts as available.
const (
	Unavailable Status = iota
	Available
)

// Vehicle is a caller-defined vehicle type (car, XL, bike, ...).
type Vehicle uint8

// Driver is one moving object in an [Index].
type Driver struct {
	ID      DriverID
	Pos     LatLng
	Status  Status
	Vehicle Vehicle
	// Seen is when the driver last reported, at millisecond precision. Upsert
	// fills in the clock's time when it is zero and rejects, with
	// [ErrInvalidSeen], a time before 1970 or after the year 10889.
	Seen time.Time
}

// Match is one result of [Index.Nearby]: a driver and its great-circle
// distance in metres from the query's center.
type Match struct {
	Driver
	Distance float64
}

// Options configures an [Index]. The zero value means the defaults.
type Options struct {
	// StaleAfter is how long a driver counts as present after its last
	// report; older drivers are invisible to searches and Get,
	// [Index.CompareAndSwapStatus] returns [ErrNotFound] for them, and
	// [Index.Remove] and [Index.RemoveStale] delete them. Zero means one
	// minute; negative means never stale.
	StaleAfter time.Duration
	// Now is the clock. Nil means time.Now. For staleness a time before
	// 1970 counts as 1970 and one past the year 10889 (the latest
	// last-seen time a driver holds) as that year.
	Now func() time.Time
}

// A leaf entry stores each driver's status, vehicle and last-seen time in
// one uint64: milliseconds since 1970 in the top 48 bits (enough until the
// year 10889, see maxSeenMilli) above 8 bits of vehicle and 8 of status.
type meta uint64

// maxSeenMilli is the largest last-seen time a meta holds: 2^48 - 1 ms
// after 1970, in the year 10889.
const maxSeenMilli = 1<<48 - 1

// seenFirst and seenEnd bound the last-seen times a meta holds: from
// seenFirst, up to but not including seenEnd.
var seenFirst, seenEnd = time.Unix(0, 0), time.UnixMilli(maxSeenMilli + 1)

// driverMeta validates d's last-seen time, now's when d.Seen is zero, and
// packs it with d's vehicle and status. The error wraps [ErrInvalidSeen]
// and names the time it rejected.
func driverMeta(d *Driver, now func() time.Time) (meta, error) {
	t := d.Seen
	if t.IsZero() {
		t = now()
	}
	// Compared as times, not as UnixMilli, which wraps around for times
	// some 292 million years away and would let them in.
	if t.Before(seenFirst) || !t.Before(seenEnd) {
		return 0, fmt.Errorf("%w: %v", ErrInvalidSeen, t)
	}
	return meta(uint64(t.UnixMilli())<<16 | uint64(d.Vehicle)<<8 | uint64(d.Status)), nil
}

func (m meta) seenMilli() int64         { return int64(m >> 16) }
func (m meta) status() Status           { return Status(m) }
func (m meta) vehicle() Vehicle         { return Vehicle(m >> 8) }
func (m meta) withStatus(s Status) meta { return m&^0xff | meta(s) }
func (m meta) available() bool          { return m.status() == Available }

// keepKind returns m with old's vehicle and status.
func (m meta) keepKind(old meta) meta { return m&^0xffff | old&0xffff }

func unpack(id DriverID, p uint64, m meta) Driver {
	return Driver{
		ID:      id,
		Pos:     posLatLng(p),
		Status:  m.status(),
		Vehicle: m.vehicle(),
		Seen:    time.UnixMilli(m.seenMilli()).UTC(),
	}
}

// Index is a searchable set of moving drivers. Create one with
// [NewIndex]; the zero Index is not ready for use.
//
// An Index is safe for concurrent use by any number of goroutines. Writes
// (Upsert, UpsertBatch, Move, Remove, SetStatus, CompareAndSwapStatus,
// RemoveStale) and Get take one mutex; searches take no lock (see the
// package documentation). Filters passed to the searches must not call
// the index's write methods or Get.
type Index struct {
	now   func() time.Time
	stale int64 // milliseconds; <0 never

	pool      sync.Pool // *scratch
	batchPool sync.Pool // *batchScratch, for UpsertBatch

	// Searches read st's directory of nodes all the time
	// and the writer changes mu on every write: they live on different
	// cache lines, lest each write cost every search a cache miss.
	_  [64]byte
	st treeStore
	// mu serialises the writers and guards st's writer-only fields.
	mu sync.Mutex
	// gen is odd while the writer changes the tree's shape (a split or a
	// collapse); a search that sees it change starts over. Searches read it
	// after every cell, so it has a cache line of its own, away from moved,
	// which the writer changes all the time.
	_   [64]byte
	gen atomic.Uint64
	_   [56]byte
	// moved grows by one before and after a move between leaves, and by
	// two when a driver or its mirror copy is deleted (it may come back
	// elsewhere): a search that starts with it odd or sees it change may
	// have seen a driver twice.
	moved atomic.Uint64
	n     atomic.Int64
	// inserting says that the last Upsert added a new driver. Writer only.
	inserting bool
}

// NewIndex returns an empty index.
func NewIndex(opt Options) *Index {
	x := &Index{now: opt.Now, stale: opt.StaleAfter.Milliseconds()}
	if x.now == nil {
		x.now = time.Now
	}
	switch {
	case opt.StaleAfter == 0:
		x.stale = time.Minute.Milliseconds()
	case opt.StaleAfter < 0:
		x.stale = -1
	}
	x.st.init()
	return x
}

// cutoff returns the oldest last-seen time, in ms, that is still fresh.
// A clock outside the times a meta holds counts as the nearer end of
// them: UnixMilli wraps around some 292 million years away, and a
// cutoff computed from a wrapped value made RemoveStale delete every
// driver (a clock in the far past) or keep them all (the far future).
func (x *Index) cutoff() int64 {
	if x.stale < 0 {
		return math.MinInt64
	}
	now := x.now()
	switch {
	case now.Before(seenFirst):
		now = seenFirst
	case now.After(seenEnd):
		now = seenEnd
	}
	return now.UnixMilli() - x.stale
}

// Upsert adds d or replaces the driver with d's ID: its position, status,
// vehicle and last-seen time (the clock's now when d.Seen is zero). The
// position is stored rounded to 1e-7 degree (see the package
// documentation). It returns an error wrapping [ErrInvalidLatLng] for a bad
// position or [ErrInvalidSeen] for a non-zero Seen before 1970 or after the
// year 10889, and then changes nothing. It costs O(1) when the driver stays
// in its leaf cell, O(log n) otherwise.
func (x *Index) Upsert(d Driver) error {
	if err := d.Pos.Validate(); err != nil {
		return err
	}
	m, err := driverMeta(&d, x.now)
	if err != nil {
		return err
	}
	px, py := fix(d.Pos.Lng), fix(d.Pos.Lat)
	x.mu.Lock()
	defer x.mu.Unlock()
	x.st.reserveNodes()
	// After an insert, expect another: find the new driver's leaf and
	// start loading its lines before the table probe, so that their
	// cache misses overlap (see the package documentation).
	touched := int32(-1)
	if x.inserting {
		touched, _ = x.st.findLeaf(mainRoot, px, py)
		x.st.touchAdd(touched)
	}
	if w, ok := x.st.lookup(d.ID); ok {
		x.inserting = false
		x.update(d.ID, w, px, py, m)
	} else {
		x.inserting = true
		x.insert(d.ID, px, py, m, touched)
	}
	return nil
}

// leafFor returns the leaf that will take a new entry at (px, py) below
// node i, splitting full leaves on the way.
func (x *Index) leafFor(i int32, px, py int32) int32 {
	s := &x.st
	p := packPos(px, py)
	lim := s.leafLimit(i)
	for {
		li, _ := s.findLeaf(i, px, py)
		// A leaf's count is its block's, and the dense copy is likely
		// in cache where the block's header is not.
		if s.cnt(li) < lim || sameSpot(s.ref(li).b, p) {
			return li
		}
		x.splitLeaf(li)
		i = li
	}
}

// splitLeaf splits leaf li with gen odd meanwhile, so that searches
// running then start over.
func (x *Index) splitLeaf(li int32) {
	x.gen.Add(1)
	x.st.split(li)
	x.gen.Add(1)
}

// addTo adds an entry to leaf li inside its seq bump and returns its slot.
func (x *Index) addTo(li int32, p uint64, id DriverID, m meta) int32 {
	n := x.st.node(li)
	n.seq.Add(1)
	j := x.st.addEntry(li, p, id, m)
	n.seq.Add(1)
	return j
}

// delFrom removes the entry at slot of leaf li inside its seq bump.
func (x *Index) delFrom(li, slot int32) {
	n := x.st.node(li)
	n.seq.Add(1)
	x.st.delEntry(li, slot)
	n.seq.Add(1)
}

// insert adds new driver id at (px, py). touched, if not -1, is the leaf
// holding the point, whose lines Upsert has started loading (touchAdd).
func (x *Index) insert(id DriverID, px, py int32, m meta, touched int32) {
	s := &x.st
	li := x.leafFor(max(touched, mainRoot), px, py)
	if li != touched { // the root's leaf, or one a split made
		s.touchAdd(li)
	}
	// The count goes up before the entry appears, so a search never
	// skips a leaf holding a driver.
	s.addCount(li, 1)
	p := packPos(px, py)
	j := x.addTo(li, p, id, m)
	if m.available() {
		x.mirrorAdd(id, p, m, li)
	}
	s.tableInsert(id, li, j)
	x.n.Add(1)
}

// The mirror tree holds a copy of each available driver's entry, so that
// NearbyAvailable searches a tree sized for them. The ID table does not
// say where the copy is: the writer finds its leaf by the driver's
// position and its slot by scanning the leaf's IDs (in a pile of more
// than pileFrom, through treeStore.piles). It starts the descent
// from the mirror node its main-tree leaf remembers, which is usually the
// mirror leaf itself, instead of walking a dozen levels from the root.

// mirrorStart returns the mirror node below which the copy of a driver at
// p in main-tree leaf ml lies, or is to go, and remembers in ml where its
// copy's leaf is. The leaf's hint is good if it names a live mirror node
// whose box holds p: the mirror tree's cells partition the world, so the
// leaf holding p lies in that node's subtree.
func (x *Index) mirrorStart(ml int32, p uint64) int32 {
	px, py := posLng(p), posLat(p)
	if h := x.st.ref(ml).mhint; h > 0 {
		n := x.st.node(h)
		if n.mirror() && x.st.box(h).holds(px, py) && (n.child.Load() >= 0 || n.leaf.Load() != nil) {
			return h
		}
	}
	return mirrorRoot
}

// mirrorAdd adds a copy of driver id at p, which is in main-tree leaf ml
// or was a moment ago.
func (x *Index) mirrorAdd(id DriverID, p uint64, m meta, ml int32) {
	li := x.leafFor(x.mirrorStart(ml, p), posLng(p), posLat(p))
	x.st.ref(ml).mhint = li
	x.st.addCount(li, 1)
	x.addTo(li, p, id, m)
}

// mirrorFind returns the leaf and slot of driver id's copy at p, which is
// in main-tree leaf ml.
func (x *Index) mirrorFind(id DriverID, p uint64, ml int32) (int32, int32) {
	li, _ := x.st.findLeaf(x.mirrorStart(ml, p), posLng(p), posLat(p))
	x.st.ref(ml).mhint = li
	b, _, im := x.st.entries(li)
	cnt := b.count()
	if j := x.st.pileFind(li, cnt, im, id); j >= 0 {
		return li, j
	}
	if j := find(im, cnt, id); j >= 0 {
		return li, j
	}
	panic("geo: an available driver has no copy in the mirror tree")
}

// mirrorDel removes driver id's copy at p, in main-tree leaf ml.
func (x *Index) mirrorDel(id DriverID, p uint64, ml int32) {
	li, slot := x.mirrorFind(id, p, ml)
	x.delFrom(li, slot)
	// The driver may come back elsewhere while a search runs, which
	// must then look for it twice.
	x.moved.Add(2)
	x.st.addCount(li, -1)
	x.mergeUp(li)
}

// mirrorMove moves driver id's copy from old, in main-tree leaf ml, to p,
// with meta m.
func (x *Index) mirrorMove(id DriverID, old, p uint64, m meta, ml int32) {
	s := &x.st
	li, slot := x.mirrorFind(id, old, ml)
	px, py := posLng(p), posLat(p)
	if b, pw, im := s.entries(li); b.box.holds(px, py) {
		if moveInLeaf(b, pw, im, slot, old, p, m) {
			x.spread(li)
		}
		return
	}
	x.moveAcross(id, li, slot, p, m)
	x.mergeUp(li)
}

// moveAcross moves driver id's entry at slot of leaf li to the leaf that
// holds p, which li does not, with meta m, and returns that leaf and the
// entry's slot in it. It adds there first, then removes here, so a search
// never misses the driver (it may see it twice and drops the second).
// The caller then calls mergeUp(li), after anything that must precede a
// collapse (the ID table's slot, which a collapse may retarget).
func (x *Index) moveAcross(id DriverID, li, slot int32, p uint64, m meta) (ti, j int32) {
	s := &x.st
	px, py := posLng(p), posLat(p)
	s.touchDel(li)
	ti = x.leafFor(x.commonCell(li, px, py), px, py)
	s.touchAdd(ti)
	// (Splits on the way to ti touched only leaves holding the new
	// point, so not li, and they changed other drivers' table slots, not
	// this one's.)
	s.addCount(ti, 1)
	// moved is odd while the driver may appear twice: a search that
	// starts then, or sees moved change, drops the copies it finds.
	x.moved.Add(1)
	j = x.addTo(ti, p, id, m)
	x.delFrom(li, slot)
	x.moved.Add(1)
	s.addCount(li, -1)
	return ti, j
}

// moveInLeaf rewrites the entry at slot of block b (positions pw, IDs
// and metas im), at from, to position p, which its leaf holds, and meta m.
// It reports whether the leaf's drivers, known to share one point, no
// longer do: the caller then calls spread.
func moveInLeaf(b *block, pw, im []atomic.Uint64, slot int32, from, p uint64, m meta) bool {
	spread := p != from && b.oneSpot()
	if spread {
		b.setOneSpot(false)
	}
	im[2*slot+1].Store(uint64(m))
	pw[slot].Store(p)
	return spread
}

// spread splits leaf li if it holds more drivers than a leaf may unless
// they share one point, which they no longer do (a driver of a pile moved
// inside its leaf), and so on down to the cell that parts the pile from
// the driver that left it. Left whole, a pile that disperses inside its
// cell (20,000 drivers reporting 0,0 before a fix, then their places)
// made every search in it read the whole pile until the next arrival:
// 10 nearest in 100 µs instead of 6.
func (x *Index) spread(li int32) {
	s := &x.st
	lim := s.leafLimit(li)
	for s.cnt(li) > lim && !s.ref(li).b.oneSpot() {
		x.splitLeaf(li)
		// Only the child holding the pile's point can hold too many.
		c := s.kid(li)
		li = c
		for q := c + 1; q < c+4; q++ {
			if s.cnt(q) > s.cnt(li) {
				li = q
			}
		}
	}
}

// commonCell returns the lowest ancestor of leaf li that holds (px, py).
func (x *Index) commonCell(li int32, px, py int32) int32 {
	a := x.st.up(li).parent
	for !x.st.box(a).holds(px, py) {
		a = x.st.up(a).parent
	}
	return a
}

// update moves driver id, found at w, to (px, py) with meta m.
func (x *Index) update(id DriverID, w where, px, py int32, m meta) {
	s := &x.st
	li := w.leaf
	b, pw, im := s.entries(li)
	old, from := meta(im[2*w.slot+1].Load()), pw[w.slot].Load()
	p := packPos(px, py)
	switch was, now := old.available(), m.available(); {
	case was && now:
		x.mirrorMove(id, from, p, m, li)
	case now:
		x.mirrorAdd(id, p, m, li)
	case was:
		x.mirrorDel(id, from, li)
	}
	if b.box.holds(px, py) {
		if moveInLeaf(b, pw, im, w.slot, from, p, m) {
			x.spread(li)
		}
		return
	}
	ti, j := x.moveAcross(id, li, w.slot, p, m)
	s.table.slots[w.ts] = s.table.value(id, ti, j)
	x.mergeUp(li)
}

// mergeUp collapses the highest ancestor of leaf li that holds fewer than
// mergeBelow drivers, if any, after li lost one.
//
// Internal nodes keep no count, because every internal node holds at
// least mergeBelow drivers once a write is done: a split makes one of a
// leaf that overflows (in UpsertBatch, of a leaf about to, with the
// drivers that overflow it arriving under the same hold of the mutex),
// and every removal from a leaf ends here. So a node with an internal
// child holds enough, and only a node whose children are all leaves
// needs counting: four counts, side by side in the dense array. If it
// holds too few, it is to collapse, and its parent is looked at in the
// same way with it counted as the leaf it will be. An insert then raises
// one count instead of one per level up to the root.
func (x *Index) mergeUp(li int32) {
	s := &x.st
	top, sum := int32(-1), s.cnt(li)
	for i := li; ; {
		p := s.up(i).parent
		if p < 0 {
			break
		}
		c, tot := s.kid(p), int32(0)
		for q := c; q < c+4; q++ {
			switch {
			case q == i:
				tot += sum
			case s.kid(q) >= 0:
				tot = mergeBelow // an internal child: p holds enough
			default:
				tot += s.cnt(q)
			}
		}
		if tot >= mergeBelow {
			break
		}
		top, sum, i = p, tot, p
	}
	if top >= 0 {
		x.gen.Add(1) // odd: searches running meanwhile start over
		s.collapse(top, sum)
		x.gen.Add(1)
	}
}

// Remove deletes a driver and reports whether the index held it, stale
// or not: a stale driver, which Get and the searches no longer return, is
// deleted and reported, as [Index.RemoveStale] reports it ([Index.Len]
// counts stale drivers too). The caller asked for it gone, and it is.
func (x *Index) Remove(id DriverID) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	w, ok := x.st.lookup(id)
	if !ok {
		return false
	}
	x.removeAt(id, w.leaf, w.slot)
	return true
}

// removeAt deletes driver id, at slot of leaf li.
func (x *Index) removeAt(id DriverID, li, slot int32) {
	s := &x.st
	s.tableDelete(id, li)
	b := s.node(li).leaf.Load()
	if b.meta(slot).available() {
		x.mirrorDel(id, b.pos(slot), li)
	}
	x.delFrom(li, slot)
	// The ID may come back elsewhere while a search runs, which must
	// then look for it twice.
	x.moved.Add(2)
	s.addCount(li, -1)
	x.mergeUp(li)
	x.n.Add(-1)
}

// SetStatus changes a driver's status without touching its position or
// last-seen time. It returns [ErrNotFound] for a driver not in the index.
// A stale driver's status changes too, and it stays invisible until it
// reports again: so a driver whose trip outlasted its reports (a tunnel)
// is free when it comes back, if the trip's end set it free, whether the
// report is an Upsert or a [Index.Move], which keeps the status. To claim
// a driver, use [Index.CompareAndSwapStatus], which refuses stale ones.
func (x *Index) SetStatus(id DriverID, st Status) error {
	_, err := x.setStatus(id, st, st, false)
	return err
}

// setStatus sets driver id's status to to and reports whether it did;
// ErrNotFound for an absent driver. With check set it does so only if the
// status is from and the driver is fresh, and reports ErrNotFound for a
// stale one too.
func (x *Index) setStatus(id DriverID, from, to Status, check bool) (bool, error) {
	cut := int64(math.MinInt64)
	if check {
		cut = x.cutoff()
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.st.reserveNodes()
	w, ok := x.st.lookup(id)
	if !ok {
		return false, ErrNotFound
	}
	_, pw, im := x.st.entries(w.leaf)
	m := meta(im[2*w.slot+1].Load())
	switch {
	case m.seenMilli() < cut:
		return false, ErrNotFound
	case check && m.status() != from:
		return false, nil
	case m.status() != to:
		p := pw[w.slot].Load()
		x.update(id, w, posLng(p), posLat(p), m.withStatus(to))
	}
	return true, nil
}

// Get returns a driver that is present and not stale, with its stored
// (rounded) position. It takes the writers' mutex.
func (x *Index) Get(id DriverID) (Driver, bool) {
	cut := x.cutoff()
	x.mu.Lock()
	defer x.mu.Unlock()
	w, ok := x.st.lookup(id)
	if !ok {
		return Driver{}, false
	}
	b := x.st.node(w.leaf).leaf.Load()
	m := b.meta(w.slot)
	if m.seenMilli() < cut {
		return Driver{}, false
	}
	return unpack(id, b.pos(w.slot), m), true
}

// Move moves a stored driver to pos and records it as seen at seen (the
// clock's now when seen is zero), keeping its status and vehicle. It is
// the call for a location report when something else owns the status
// (dispatch, say): [Index.Upsert] writes the status too, so a gateway
// upserting a report would undo a claim made since it last looked at the
// driver. A stale driver is fresh again after a Move whose seen is within
// StaleAfter of now. Like Upsert it takes the report as given: a report
// older than the one before it (reports delivered out of order) moves the
// driver back and turns its last-seen time back, so drop such reports
// before they get here if they can happen. It returns
// [ErrNotFound] for a driver not in the index and, like Upsert, an error
// wrapping [ErrInvalidLatLng] or [ErrInvalidSeen] for a bad position or
// time; it then changes nothing. It costs what Upsert of a stored driver
// costs.
func (x *Index) Move(id DriverID, pos LatLng, seen time.Time) error {
	if err := pos.Validate(); err != nil {
		return err
	}
	m, err := driverMeta(&Driver{Seen: seen}, x.now)
	if err != nil {
		return err
	}
	px, py := fix(pos.Lng), fix(pos.Lat)
	x.mu.Lock()
	defer x.mu.Unlock()
	x.st.reserveNodes()
	w, ok := x.st.lookup(id)
	if !ok {
		return ErrNotFound
	}
	x.inserting = false
	// Through the directory, as update reads it, not the node.
	_, _, im := x.st.entries(w.leaf)
	x.update(id, w, px, py, m.keepKind(meta(im[2*w.slot+1].Load())))
	return nil
}

// CompareAndSwapStatus sets the status of driver id to to if it is from,
// and reports whether it did. It is how a dispatcher claims a driver that
// a search returned as available: two dispatchers may get the same driver
// from concurrent searches, and only one of
// CompareAndSwapStatus(id, Available, busy) succeeds. Like
// [Index.SetStatus] it leaves the position and last-seen time alone. It
// returns false and [ErrNotFound] for a driver that is not in the index
// or is stale (a driver that stopped reporting is not to be dispatched).
func (x *Index) CompareAndSwapStatus(id DriverID, from, to Status) (bool, error) {
	return x.setStatus(id, from, to, true)
}

// Len returns the number of drivers stored, stale ones included.
func (x *Index) Len() int { return int(x.n.Load()) }

// RemoveStale deletes every stale driver and returns how many it deleted.
// It costs O(n) in all, but takes the writers' mutex for at most
// staleBatch deletions or staleScan entries at a time, so writers, Get
// and searches that fall back to the mutex wait for one batch (about
// 170 µs), never for the whole sweep. Call it from a periodic sweeper.
// Drivers written, or turning stale, during the sweep may survive it.
// A split or merge of cells that moves drivers into the part of the tree
// the sweep has passed makes it go back there, up to four passes in all:
// under writes that keep reshaping that part, a stale driver may survive
// too. The next call deletes what survives.
func (x *Index) RemoveStale() int { return x.removeStale(nil) }

// removeStale is RemoveStale; held, if not nil, learns how many entries
// each hold of the mutex read (a test hook).
func (x *Index) removeStale(held func(read int)) int {
	cut := x.cutoff()
	m := &sweepMark{back: noBack}
	x.mu.Lock()
	x.st.sweeps = append(x.st.sweeps, m)
	x.mu.Unlock()
	defer func() {
		x.mu.Lock()
		x.st.sweeps = slices.DeleteFunc(x.st.sweeps, func(o *sweepMark) bool { return o == m })
		x.mu.Unlock()
	}()
	return x.sweepStale(cut, m, held)
}

// sweepMark is a RemoveStale sweep as the writers see it. The sweep
// walks the main tree's leaves in node order, but a split may put
// drivers into nodes it has passed (its four nodes may be a group a
// collapse released) and a collapse puts them into an ancestor, whose
// index is usually lower; then the sweep goes back (see
// treeStore.tookDrivers). Writer only.
type sweepMark struct {
	at   int32 // the sweep has read every node before at (and may be reading at)
	back int32 // the lowest node at or before at that took drivers since, or noBack
}

const (
	noBack = math.MaxInt32
	// maxSweeps bounds the passes of one RemoveStale, lest writes that
	// keep reshaping the tree behind it keep it going for ever.
	maxSweeps = 4
)

// tookDrivers tells the sweeps under way that node i took drivers from a
// split or a collapse.
func (s *treeStore) tookDrivers(i int32) {
	for _, m := range s.sweeps {
		if i <= m.at {
			m.back = min(m.back, i)
		}
	}
}

// sweepStale deletes the drivers last seen before cut, walking the main
// tree's leaves in node order and each leaf's entries from the last, so
// that the entry a deletion moves into the hole has been looked at. It
// lets go of the mutex after staleBatch deletions or staleScan entries
// read, if need be in the middle of a leaf (a pile of drivers at one
// point can hold any number), and resumes there. When it reaches the
// last node it starts a new pass at m.back, if a split or a collapse put
// drivers where it had been, at most maxSweeps passes in all.
func (x *Index) sweepStale(cut int64, m *sweepMark, held func(read int)) int {
	s := &x.st
	gone, pass := 0, 1
	li, j := int32(0), int32(-1) // j < 0: from the leaf's last entry
	// last reports, at the last node, that no pass is to follow.
	last := func() bool { return m.back == noBack || pass == maxSweeps }
	// batch runs one hold of the mutex: it returns the entries it read,
	// the drivers it deleted and whether the sweep is done. The deferred
	// Unlock lets the mutex go if a removal panics.
	batch := func() (seen, del int, done bool) {
		x.mu.Lock()
		defer x.mu.Unlock()
		for seen < staleScan && del < staleBatch {
			if li >= s.nnode {
				if last() {
					return seen, del, true
				}
				li, j, m.back = m.back, -1, noBack
				pass++
			}
			m.at = li
			n := s.node(li)
			b := n.leaf.Load()
			if b == nil || n.mirror() {
				li, j = li+1, -1
				continue
			}
			if cnt := b.count(); j < 0 || j >= cnt {
				j = cnt - 1
			}
			for ; j >= 0 && del < staleBatch && seen < staleScan; j-- {
				seen++
				if b.meta(j).seenMilli() >= cut {
					continue
				}
				x.removeAt(b.id(j), li, j)
				del++
				if b = n.leaf.Load(); b == nil {
					break // collapsed into an ancestor
				}
			}
			if j >= 0 && b != nil {
				return seen, del, false // the batch is full: resume at entry j
			}
			li, j = li+1, -1
		}
		return seen, del, li >= s.nnode && last()
	}
	for {
		seen, del, done := batch()
		gone += del
		if held != nil {
			held(seen)
		}
		if done {
			return gone
		}
	}
}

// RemoveStale's batches: at most staleBatch deletions and staleScan
// entries read per hold of the mutex. A deletion costs about 0.6 µs, a
// read entry a few nanoseconds, so a batch holds the mutex for at most
// some 170 µs. With 400,000 drivers of which 200,000 stale, the slowest
// 10-nearest search running beside the sweep took 3.7 ms instead of 115 ms.
const (
	staleBatch = 256
	staleScan  = 4096
)

// awaitShape yields while a writer changes the tree's shape (gen odd),
// so that a search does not spend one of its maxTries attempts on a
// change it could simply let finish.
func (x *Index) awaitShape() {
	for i := 0; x.gen.Load()&1 != 0; i++ {
		spin(i)
	}
}
