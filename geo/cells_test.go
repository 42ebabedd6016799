package geo

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// checkTree verifies the index's storage against itself: every leaf entry
// lies in its cell, the ID table finds each main-tree entry where it is,
// the mirror tree holds exactly one copy of each available driver, equal
// to its main-tree entry, the writer's counts and the
// readers' occupancy bits agree with the entries, and Len counts the
// drivers. It fails t on the first violation.
func checkTree(t *testing.T, x *Index) {
	t.Helper()
	x.mu.Lock()
	defer x.mu.Unlock()
	s := &x.st
	seen, avail := 0, 0
	copies := map[DriverID]bool{}
	mirror := false
	piled := 0 // entries at slot pileFrom or beyond
	var walk func(i int32, box ibox) int32
	walk = func(i int32, box ibox) int32 {
		n := s.node(i)
		if n.mirror() != mirror {
			t.Fatalf("node %d: mirror %v, want %v", i, n.mirror(), mirror)
		}
		if *s.box(i) != box {
			t.Fatalf("node %d box %+v, want %+v", i, *s.box(i), box)
		}
		var cnt int32
		if c := n.child.Load(); c != s.kid(i) {
			t.Fatalf("node %d: child %d, the writer's copy %d", i, c, s.kid(i))
		}
		if c := n.child.Load(); c >= 0 {
			if n.leaf.Load() != nil || s.ref(i).b != nil {
				t.Fatalf("internal node %d has a block", i)
			}
			for q := range int32(4) {
				if s.up(c+q).parent != i {
					t.Fatalf("node %d's parent is %d, want %d", c+q, s.up(c+q).parent, i)
				}
				cnt += walk(c+q, box.child(q))
			}
		} else {
			b := n.leaf.Load()
			if r := s.ref(i); r.b != b || r.c != b.capacity() || b.box != box {
				t.Fatalf("leaf %d: directory says block %p of capacity %d, node says %p of %d; block's box %+v, want %+v", i, r.b, r.c, b, b.capacity(), b.box, box)
			}
			cnt = b.count()
			for j := range cnt {
				if b.oneSpot() && b.pos(j) != b.pos(0) {
					t.Fatalf("leaf %d says its entries share one point, but entry %d is at %v, entry 0 at %v", i, j, posLatLng(b.pos(j)), posLatLng(b.pos(0)))
				}
			}
			if cnt > b.capacity() || cnt < 0 {
				t.Fatalf("leaf %d holds %d, capacity %d", i, cnt, b.capacity())
			}
			if c := b.capacity(); c > blockStep && cnt <= shrinkAt(c) {
				t.Fatalf("leaf %d holds %d in a block of %d, which shrinks at %d", i, cnt, c, shrinkAt(c))
			}
			for j := range cnt {
				p, id, m := b.pos(j), b.id(j), b.meta(j)
				if !box.holds(posLng(p), posLat(p)) {
					t.Fatalf("entry %d of leaf %d at %v outside %+v", j, i, posLatLng(p), box)
				}
				// The writer's descent computes the boxes from the
				// root's and reads the dense copy of the children: it
				// must reach this leaf, with its stored box.
				root := int32(mainRoot)
				if mirror {
					root = mirrorRoot
				}
				if li, lb := s.findLeaf(root, posLng(p), posLat(p)); li != i || lb != box {
					t.Fatalf("entry %d of leaf %d (box %+v) at %v: findLeaf reaches leaf %d with box %+v", j, i, box, posLatLng(p), li, lb)
				}
				if j >= pileFrom {
					piled++
					if got, ok := s.piles[pileKey{i, id}]; !ok || got != j {
						t.Fatalf("entry %d of leaf %d (driver %d, mirror %v): pile map says %d %v", j, i, id, mirror, got, ok)
					}
				}
				w, ok := s.lookup(id)
				if mirror {
					var mb *block
					if ok {
						mb = s.node(w.leaf).leaf.Load()
					}
					if !ok || !m.available() || mb.pos(w.slot) != p || mb.meta(w.slot) != m || copies[id] {
						t.Fatalf("mirror entry %d of leaf %d: driver %d at %v does not mirror an available driver once", j, i, id, posLatLng(p))
					}
					copies[id] = true
					continue
				}
				if !ok || w.leaf != i || w.slot != j {
					t.Fatalf("entry %d of leaf %d is driver %d, which the table finds at %+v (%v)", j, i, id, w, ok)
				}
				if m.available() {
					avail++
				}
			}
			// A leaf above its limit took its drivers on one point, and
			// splits (Index.spread) as soon as one moves away inside it.
			if cnt > s.leafLimit(i) && !b.oneSpot() {
				t.Fatalf("leaf %d (mirror %v) holds %d drivers, not all at one point", i, mirror, cnt)
			}
			if !mirror {
				seen += int(cnt)
			}
		}
		internal := n.child.Load() >= 0
		switch {
		case !internal && s.cnt(i) != cnt:
			t.Fatalf("leaf %d count %d, holds %d", i, s.cnt(i), cnt)
		case internal && s.cnt(i) != 0:
			t.Fatalf("internal node %d keeps count %d", i, s.cnt(i))
		case internal && cnt < mergeBelow:
			// Index.mergeUp relies on this instead of counts.
			t.Fatalf("internal node %d holds %d drivers, fewer than %d", i, cnt, mergeBelow)
		}
		if o := n.occ.Load()&occDriver != 0; o != (cnt > 0 || internal) {
			t.Fatalf("node %d (internal %v) occupied %v, holds %d", i, internal, o, cnt)
		}
		return cnt
	}
	walk(mainRoot, worldBox)
	mirror = true
	walk(mirrorRoot, worldBox)
	if len(s.piles) != piled {
		t.Fatalf("pile map holds %d entries, %d sit beyond slot %d", len(s.piles), piled, pileFrom)
	}
	// Released nodes are empty leaves with no block: a split that reuses
	// them relies on their count being 0 (setCount updates occ only when
	// a count crosses zero).
	for _, c := range s.freeGrp {
		for i := c; i < c+4; i++ {
			n := s.node(i)
			if s.cnt(i) != 0 || n.occ.Load()&occDriver != 0 || s.kid(i) >= 0 || n.leaf.Load() != nil || s.ref(i).b != nil {
				t.Fatalf("released node %d: count %d, occ %b, child %d, block %p", i, s.cnt(i), n.occ.Load(), s.kid(i), n.leaf.Load())
			}
		}
	}
	live, dead := 0, 0
	for _, v := range s.table.slots {
		switch {
		case v == s.table.nodeMask():
			dead++
		case v != 0:
			live++
		}
	}
	if seen != int(x.n.Load()) || seen != s.table.used || live != s.table.used || dead != s.table.dead {
		t.Fatalf("tree holds %d drivers, Len %d, table %d (%d live slots), %d tombstones (%d counted)", seen, x.n.Load(), s.table.used, live, dead, s.table.dead)
	}
	if uint32(s.nnode)+nodeReserve >= s.table.nodeMask() {
		t.Fatalf("%d nodes leave no reserve below the table's node mask %d", s.nnode, s.table.nodeMask())
	}
	if len(copies) != avail {
		t.Fatalf("mirror tree holds %d drivers, %d are available", len(copies), avail)
	}
	if x.gen.Load()&1 != 0 {
		t.Fatal("gen is odd with no writer")
	}
}

// TestConcurrentInvariants runs two writers (moves, inserts, removals,
// status changes of their own drivers) against readers running Nearby,
// NearbyAvailable and AppendWithinIDs, and checks in every result what
// must hold whatever the writers do: sorted, at most k, no driver twice,
// each distance that of the returned position, and every driver that no
// writer touches present when it is nearer than the k-th result (or
// within the radius). After the writers stop, results equal brute force.
func TestConcurrentInvariants(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 21))
	x := NewIndex(Options{StaleAfter: -1})
	const stable, volatile = 3000, 2000
	box := func(r *rand.Rand) LatLng {
		return LatLng{40.5 + r.Float64()*0.2, -74.2 + r.Float64()*0.2}
	}
	m := truth{}
	for i := range stable {
		d := Driver{ID: DriverID(i), Pos: box(r), Status: Status(i % 2), Seen: time.UnixMilli(1).UTC()}
		_ = x.Upsert(d)
		m.put(d)
	}
	ops, queries := 60_000, 1500
	if testing.Short() || raceEnabled {
		ops, queries = 15_000, 400
	}
	// The stable drivers' truth never changes; readers use a copy.
	fixed := truth{}
	for id, d := range m {
		fixed[id] = d
	}
	var writers atomic.Int32
	writers.Store(2)
	var wg sync.WaitGroup
	var mu sync.Mutex // guards m for the volatile drivers
	for w := range 2 {
		wg.Go(func() {
			defer writers.Add(-1)
			r := rand.New(rand.NewPCG(seed(t), uint64(100+w)))
			for range ops {
				id := DriverID(stable + w*volatile/2 + r.IntN(volatile/2))
				mu.Lock()
				d, had := m[id]
				mu.Unlock()
				switch op := r.IntN(10); {
				case op < 6 && had: // a short move
					d.Pos.Lat = min(max(d.Pos.Lat+(r.Float64()-0.5)*0.002, 40.5), 40.7)
					d.Pos.Lng = min(max(d.Pos.Lng+(r.Float64()-0.5)*0.002, -74.2), -74)
				case op < 8:
					d = Driver{ID: id, Pos: box(r), Status: Status(r.IntN(2)), Seen: time.UnixMilli(1).UTC()}
				case op < 9 && had:
					d.Status = Status(r.IntN(2))
					if err := x.SetStatus(id, d.Status); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					m[id] = d
					mu.Unlock()
					continue
				default:
					x.Remove(id)
					mu.Lock()
					delete(m, id)
					mu.Unlock()
					continue
				}
				_ = x.Upsert(d)
				mu.Lock()
				m.put(d)
				mu.Unlock()
			}
		})
	}
	for g := range 2 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed(t), uint64(200+g)))
			var buf []Match
			var ids []DriverID
			// Query at least queries times, and until the writers stop.
			for i := 0; i < queries || writers.Load() > 0; i++ {
				c := box(r)
				c.Lat += 0.04 * (r.Float64() - 0.5)
				var radius float64
				var msg string
				if buf, radius, msg = searchAt(r, x, buf, c, fixed); msg != "" {
					t.Error(msg)
					return
				}
				var err error
				ids, err = x.AppendWithinIDs(context.Background(), ids[:0], c, radius)
				if err != nil {
					t.Error(err)
					return
				}
				got := map[DriverID]bool{}
				for _, id := range ids {
					if got[id] {
						t.Errorf("AppendWithinIDs returned %d twice", id)
						return
					}
					got[id] = true
				}
				for id, d := range fixed {
					if Distance(c, d.Pos) <= radius && !got[id] {
						t.Errorf("AppendWithinIDs(%v, %v) misses untouched driver %d", c, radius, id)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	checkTree(t, x)
	for range 50 {
		c, radius, k := box(r), 5000.0, r.IntN(20)
		got, _ := x.Nearby(context.Background(), c, radius, k, nil)
		want := bruteNearby(m, c, radius, k, math.MinInt64, nil)
		if len(got) != len(want) {
			t.Fatalf("after the writers: Nearby found %d, brute force %d", len(got), len(want))
		}
		for i := range got {
			if got[i].Distance != want[i].Distance || got[i].Driver != m[got[i].ID] {
				t.Fatalf("after the writers: result %d = %+v, want %+v", i, got[i], want[i])
			}
		}
		checkWithinIDs(t, x, m, c, radius, math.MinInt64)
	}
}

// checkConcurrentResult returns what is wrong with a search result taken
// while writers ran, or "".
func checkConcurrentResult(res []Match, fixed truth, c LatLng, radius float64, k int, avail bool) string {
	if k > 0 && len(res) > k {
		return "more than k results"
	}
	ids := map[DriverID]bool{}
	for i, mt := range res {
		if ids[mt.ID] {
			return "a driver returned twice"
		}
		ids[mt.ID] = true
		if i > 0 && mt.Distance < res[i-1].Distance {
			return "results not sorted"
		}
		if mt.Distance != Distance(c, mt.Pos) || mt.Distance > radius {
			return "a distance that is not the returned position's"
		}
		if avail && mt.Status != Available {
			return "an unavailable driver from NearbyAvailable"
		}
		if d, ok := fixed[mt.ID]; ok && d != mt.Driver {
			return "an untouched driver with changed fields"
		}
	}
	limit := radius
	full := k > 0 && len(res) == k
	if full {
		limit = res[len(res)-1].Distance
	}
	for id, d := range fixed {
		if avail && d.Status != Available {
			continue
		}
		dist := Distance(c, d.Pos)
		if (dist < limit || (!full && dist <= limit)) && !ids[id] {
			return "an untouched driver nearer than the last result is missing"
		}
	}
	return ""
}

// TestTreeChurnInvariants moves, adds and removes drivers in crowded and
// sparse places, including many on one point, and checks the storage
// after every phase, so splits, merges, block growth and shrinking and the
// available partition all run.
func TestTreeChurnInvariants(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 22))
	x := NewIndex(Options{StaleAfter: -1})
	m := truth{}
	n, ops := 4000, 20_000
	if testing.Short() || raceEnabled {
		ops = 5_000
	}
	for phase := range 6 {
		for range ops {
			id := DriverID(r.IntN(n))
			switch op := r.IntN(10); {
			case op < 5:
				p := randDriverPos(r)
				if phase%2 == 1 {
					p = LatLng{40.7, -74} // crowd one point
				}
				d := Driver{ID: id, Pos: p, Status: Status(r.IntN(2)), Seen: time.UnixMilli(1).UTC()}
				_ = x.Upsert(d)
				m.put(d)
			case op < 7:
				if d, ok := m[id]; ok {
					d.Pos.Lat = min(max(d.Pos.Lat+(r.Float64()-0.5)*0.01, -90), 90)
					_ = x.Upsert(d)
					m.put(d)
				}
			case op < 8:
				st := Status(r.IntN(2))
				if err := x.SetStatus(id, st); err == nil {
					d := m[id]
					d.Status = st
					m[id] = d
				}
			default:
				if x.Remove(id) {
					delete(m, id)
				}
			}
		}
		checkTree(t, x)
		if phase == 3 {
			n = 300 // shrink: cells merge
			for id := range m {
				if id >= DriverID(n) {
					x.Remove(id)
					delete(m, id)
				}
			}
			checkTree(t, x)
		}
	}
	for id, d := range m {
		got, ok := x.Get(id)
		if !ok || got != d {
			t.Fatalf("Get(%d) = %+v %v, want %+v", id, got, ok, d)
		}
	}
	ids := slices.Collect(func(yield func(DriverID) bool) {
		for id := range m {
			if !yield(id) {
				return
			}
		}
	})
	for _, id := range ids {
		x.Remove(id)
	}
	checkTree(t, x)
	for _, root := range []int32{mainRoot, mirrorRoot} {
		if x.Len() != 0 || x.st.node(root).child.Load() >= 0 {
			t.Fatalf("after removing all: Len %d, root %d child %d", x.Len(), root, x.st.node(root).child.Load())
		}
	}
}

// TestIDTableNarrowTags checks every lookup and the storage through
// inserts, moves, removals and the tombstones they leave, twice: with a
// table that starts with room for fewer node indexes than it needs, so
// that adding drivers widens its node bits again and again (each time
// with fewer tag bits), and with only 2 tag bits, so that drivers of one
// leaf often share a tag and their slots name the same leaf.
func TestIDTableNarrowTags(t *testing.T) {
	for _, nbits := range []uint{9, 25} {
		r := rand.New(rand.NewPCG(seed(t), 23))
		x := NewIndex(Options{StaleAfter: -1})
		x.st.table.nbits = nbits
		x.st.rebuildTable(false)
		m := truth{}
		var ids []DriverID
		for i := range 6000 {
			id := DriverID(r.Int64()) // IDs anywhere in int64, negative ones too
			switch {
			case i%3 == 2 && len(ids) > 0:
				k := r.IntN(len(ids))
				x.Remove(ids[k])
				delete(m, ids[k])
				ids[k] = ids[len(ids)-1]
				ids = ids[:len(ids)-1]
			case i%3 == 1 && len(ids) > 0:
				id = ids[r.IntN(len(ids))] // a move
			default:
				ids = append(ids, id)
			}
			d := Driver{ID: id, Pos: LatLng{r.Float64()*2 - 1, r.Float64()*2 - 1}, Status: Status(r.IntN(2)), Seen: time.UnixMilli(1).UTC()}
			if err := x.Upsert(d); err != nil {
				t.Fatal(err)
			}
			m.put(d)
		}
		if nbits == 9 && x.st.table.nbits < 10 {
			t.Fatalf("node bits %d after %d nodes", x.st.table.nbits, x.st.nnode)
		}
		checkTree(t, x)
		for id, d := range m {
			if got, ok := x.Get(id); !ok || got != d {
				t.Fatalf("Get(%d) = %+v %v, want %+v", id, got, ok, d)
			}
		}
		if _, ok := x.Get(DriverID(r.Int64())); ok {
			t.Fatal("Get found a driver never added")
		}
	}
}

// TestNoDuplicateAfterComeback has one writer delete drivers and add them
// back at another corner of the area, never moving one, while a reader
// lists every driver of the area: the reader may meet such a driver in two
// leaves, and must return it once.
func TestNoDuplicateAfterComeback(t *testing.T) {
	x := NewIndex(Options{StaleAfter: -1})
	r := rand.New(rand.NewPCG(seed(t), 24))
	at := func(r *rand.Rand, corner int) LatLng {
		return LatLng{Lat: 40.6 + float64(corner&1)*0.1 + r.Float64()*1e-3, Lng: -74 + float64(corner>>1)*0.1 + r.Float64()*1e-3}
	}
	for i := range 400 { // a crowd of many leaves at each corner
		_ = x.Upsert(Driver{ID: DriverID(i), Pos: at(r, i%4), Status: Available, Seen: time.UnixMilli(1)})
	}
	const comers = 8
	ops := 200_000
	if testing.Short() || raceEnabled {
		ops = 20_000
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		defer done.Store(true)
		r := rand.New(rand.NewPCG(seed(t), 25))
		for i := range ops {
			id := DriverID(1000 + i%comers)
			x.Remove(id)
			_ = x.Upsert(Driver{ID: id, Pos: at(r, i/comers%4), Status: Available, Seen: time.UnixMilli(1)})
		}
	})
	c := LatLng{Lat: 40.65, Lng: -73.95}
	var ids []DriverID
	for !done.Load() {
		for _, avail := range []bool{false, true} {
			res, err := x.appendNearby(context.Background(), nil, c, 50_000, 0, nil, avail)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[DriverID]bool{}
			for _, m := range res {
				if seen[m.ID] {
					t.Fatalf("Nearby (available only %v) returned driver %d twice", avail, m.ID)
				}
				seen[m.ID] = true
			}
		}
		ids, _ = x.AppendWithinIDs(context.Background(), ids[:0], c, 50_000)
		slices.Sort(ids)
		if i := len(slices.Compact(slices.Clone(ids))); i != len(ids) {
			t.Fatalf("AppendWithinIDs returned %d IDs, %d of them distinct", len(ids), i)
		}
	}
	wg.Wait()
	checkTree(t, x)
}

// searchAt runs a random search around c into buf (Nearby or
// NearbyAvailable, within 300 m, 2 km or 30 km, for 1, 10, 50 or all
// drivers) and checks it with checkConcurrentResult against fixed. msg
// says what went wrong and with which search, or is empty.
func searchAt(r *rand.Rand, x *Index, buf []Match, c LatLng, fixed truth) (res []Match, radius float64, msg string) {
	radius = []float64{300, 2000, 30_000}[r.IntN(3)]
	k := []int{1, 10, 50, 0}[r.IntN(4)]
	avail := r.IntN(2) == 0
	var err error
	if avail {
		res, err = x.AppendNearbyAvailable(context.Background(), buf[:0], c, radius, k, nil)
	} else {
		res, err = x.AppendNearby(context.Background(), buf[:0], c, radius, k, nil)
	}
	if err != nil {
		return res, radius, err.Error()
	}
	if m := checkConcurrentResult(res, fixed, c, radius, k, avail); m != "" {
		return res, radius, fmt.Sprintf("%s (center %v, radius %v, k %d, avail %v)", m, c, radius, k, avail)
	}
	return res, radius, ""
}

// TestBlockGrowShrink checks the block capacities of a leaf that fills
// and empties: growth always makes room, a grown block is not shrunk
// again before its leaf loses blockStep entries (so a count going to and
// fro across a class edge does not copy the block each time), and a
// shrunk block holds its entries with room to spare and does not shrink
// again at once.
func TestBlockGrowShrink(t *testing.T) {
	for n := int32(1); n <= 4*blockMax; n++ {
		if c := growCap(n); c < n || c%blockStep != 0 {
			t.Fatalf("growCap(%d) = %d", n, c)
		}
	}
	for c := int32(blockStep); c <= 4*blockMax; c += blockStep {
		// A block of capacity c (any capacity blockCap or growCap
		// gives) that fills grows to g; it shrinks only at shrinkAt(g).
		if blockCap(c) != c {
			continue
		}
		g := growCap(c + 1)
		if at := shrinkAt(g); at > c-blockStep {
			t.Errorf("a full block of %d grows to %d at %d entries and shrinks again at %d", c, g, c+1, at)
		}
		// A block that shrinks lands in a smaller class with a step of
		// room, which does not shrink again at once.
		if at := shrinkAt(c); c > blockStep {
			if nc := blockCap(at + blockStep); at < 0 || nc >= c || at <= shrinkAt(nc) {
				t.Errorf("a block of %d shrinks at %d entries to %d, which shrinks at %d", c, at, nc, shrinkAt(nc))
			}
		}
	}
}

// TestPileSpreads checks that a pile of drivers at one point splits as its
// drivers move apart inside its leaf, main tree and mirror alike, instead
// of staying one leaf that every search reads whole until the next
// arrival; searches stay exact throughout.
func TestPileSpreads(t *testing.T) {
	const pile = 3000
	r := rand.New(rand.NewPCG(seed(t), 12))
	x := NewIndex(Options{StaleAfter: -1})
	for i := range pile {
		if err := x.Upsert(Driver{ID: DriverID(i), Pos: LatLng{}, Status: Status(i % 2)}); err != nil {
			t.Fatal(err)
		}
	}
	pos := make([]LatLng, pile)
	for i := range pile {
		pos[i] = stored(LatLng{Lat: r.Float64()*0.2 - 0.1, Lng: r.Float64()*0.2 - 0.1})
		if err := x.Upsert(Driver{ID: DriverID(i), Pos: pos[i], Status: Status(i % 2)}); err != nil {
			t.Fatal(err)
		}
		if i%500 == 0 {
			checkTree(t, x)
		}
	}
	checkTree(t, x)
	largest := func(root int32) int32 {
		x.mu.Lock()
		defer x.mu.Unlock()
		most := int32(0)
		for i := range x.st.nnode {
			if n := x.st.node(i); n.leaf.Load() != nil && n.mirror() == (root == mirrorRoot) {
				most = max(most, x.st.cnt(i))
			}
		}
		return most
	}
	if m := largest(mainRoot); m > leafMax {
		t.Fatalf("after the pile spread, a main leaf holds %d drivers", m)
	}
	if m := largest(mirrorRoot); m > mirrorLeafMax {
		t.Fatalf("after the pile spread, a mirror leaf holds %d drivers", m)
	}
	q := LatLng{Lat: 0.05, Lng: -0.05}
	got, err := x.Nearby(context.Background(), q, 1e6, 10, nil)
	if err != nil || len(got) != 10 {
		t.Fatalf("Nearby = %d, %v", len(got), err)
	}
	ds := make([]float64, pile)
	for i, p := range pos {
		ds[i] = Distance(q, p)
	}
	slices.Sort(ds)
	for i, m := range got {
		if m.Distance != ds[i] {
			t.Fatalf("Nearby's %dth is at %v m, brute force %v", i, m.Distance, ds[i])
		}
	}
}
