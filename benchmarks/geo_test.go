package benchmarks

import (
	"context"
	"flag"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/geo"
	"github.com/paulmach/orb"
	orbquad "github.com/paulmach/orb/quadtree"
	"github.com/tidwall/rtree"
)

// The geo workloads: 1,000,000 drivers (100,000 with -short, as CI runs
// them) in two datasets, the same points, moves and queries for every
// implementation.
//
//   - nyc: uniform in a 0.4° x 0.55° box around New York City (about
//     45 km x 46 km), queries uniform in the same box.
//   - sphere: uniform over the whole sphere; a tenth of the queries lie
//     within 1° of ±180° and a tenth above 86° north or south.
//
// A move shifts a driver by up to ±0.0005° (about 50 m) in each axis, what
// a car covers between two reports a few seconds apart. The peers keep the
// driver's current position in a slice indexed by ID, which they need to
// find the entry to replace. Planar peers rank by their own planar distance
// on degrees; their recall against exact great-circle truth is reported.

var geoShort = flag.Bool("geo.short", false, "use 100k drivers in the geo benchmarks")

func geoN() int {
	if testing.Short() || *geoShort {
		return 100_000
	}
	return 1_000_000
}

type geoDataset struct {
	name    string
	pts     []geo.LatLng // initial position per driver ID
	queries []geo.LatLng
	min     [2]float64 // lng, lat bounds for moves
	max     [2]float64
}

var geoDatasets = sync.OnceValue(func() []*geoDataset {
	n := geoN()
	r := rand.New(rand.NewPCG(42, 7))
	nyc := &geoDataset{name: "nyc", min: [2]float64{-74.25, 40.5}, max: [2]float64{-73.7, 40.9}}
	inBox := func(d *geoDataset) geo.LatLng {
		return geo.LatLng{Lat: d.min[1] + r.Float64()*(d.max[1]-d.min[1]), Lng: d.min[0] + r.Float64()*(d.max[0]-d.min[0])}
	}
	sphere := &geoDataset{name: "sphere", min: [2]float64{-180, -90}, max: [2]float64{180, 90}}
	onSphere := func() geo.LatLng {
		return geo.LatLng{Lat: math.Asin(r.Float64()*2-1) * 180 / math.Pi, Lng: r.Float64()*360 - 180}
	}
	for range n {
		nyc.pts = append(nyc.pts, inBox(nyc))
		sphere.pts = append(sphere.pts, onSphere())
	}
	for i := range 4096 {
		nyc.queries = append(nyc.queries, inBox(nyc))
		q := onSphere()
		switch i % 10 {
		case 0:
			q.Lng = 179 + r.Float64()*2
			if q.Lng > 180 {
				q.Lng -= 360
			}
		case 1:
			q.Lat = math.Copysign(86+r.Float64()*4, q.Lat)
		}
		sphere.queries = append(sphere.queries, q)
	}
	return []*geoDataset{nyc, sphere}
})

// step returns p moved by up to ±0.0005° per axis, clamped to the dataset.
func (d *geoDataset) step(r *rand.Rand, p geo.LatLng) geo.LatLng {
	p.Lat = min(max(p.Lat+(r.Float64()-0.5)*0.001, d.min[1]), d.max[1])
	p.Lng = min(max(p.Lng+(r.Float64()-0.5)*0.001, d.min[0]), d.max[0])
	return p
}

// index is what a workload needs from each implementation.
type geoIndex interface {
	move(id int, p geo.LatLng)
	nearest(q geo.LatLng, k int, availableOnly bool) int // returns the first ID, or -1
	nearestIDs(q geo.LatLng, k int, dst []int) []int
	radius(q geo.LatLng, metres float64) int
}

// available marks every tenth driver as available.
func geoAvailable(id int) bool { return id%10 == 0 }

// --- blueprint ---

type geoBP struct {
	x   *geo.Index
	buf []geo.Match
	ids []geo.DriverID
}

func newGeoBP(d *geoDataset) *geoBP {
	x := geo.NewIndex(geo.Options{StaleAfter: -1})
	seen := time.Unix(1_700_000_000, 0)
	for i, p := range d.pts {
		st := geo.Unavailable
		if geoAvailable(i) {
			st = geo.Available
		}
		_ = x.Upsert(geo.Driver{ID: geo.DriverID(i), Pos: p, Status: st, Seen: seen})
	}
	return &geoBP{x: x, buf: make([]geo.Match, 0, 16)}
}

var geoSeen = time.Unix(1_700_000_000, 0)

func (b *geoBP) move(id int, p geo.LatLng) {
	st := geo.Unavailable
	if geoAvailable(id) {
		st = geo.Available
	}
	_ = b.x.Upsert(geo.Driver{ID: geo.DriverID(id), Pos: p, Status: st, Seen: geoSeen})
}

func (b *geoBP) nearest(q geo.LatLng, k int, availableOnly bool) int {
	if availableOnly {
		b.buf, _ = b.x.AppendNearbyAvailable(context.Background(), b.buf[:0], q, 1e9, k, nil)
	} else {
		b.buf, _ = b.x.AppendNearby(context.Background(), b.buf[:0], q, 1e9, k, nil)
	}
	if len(b.buf) == 0 {
		return -1
	}
	return int(b.buf[0].ID)
}

func (b *geoBP) nearestIDs(q geo.LatLng, k int, dst []int) []int {
	b.buf, _ = b.x.AppendNearby(context.Background(), b.buf[:0], q, 1e9, k, nil)
	for _, m := range b.buf {
		dst = append(dst, int(m.ID))
	}
	return dst
}

// radius lists the IDs within the circle, as the peers count the points
// whose exact distance is within it. (AppendWithin, which also returns each
// driver's record and exact distance, costs about 2.5x more.)
func (b *geoBP) radius(q geo.LatLng, metres float64) int {
	b.ids, _ = b.x.AppendWithinIDs(context.Background(), b.ids[:0], q, metres)
	return len(b.ids)
}

// --- tidwall/rtree ---

type geoRT struct {
	tr  rtree.RTreeG[int]
	pos []geo.LatLng
}

func newGeoRT(d *geoDataset) *geoRT {
	x := &geoRT{pos: append([]geo.LatLng(nil), d.pts...)}
	for i, p := range d.pts {
		pt := [2]float64{p.Lng, p.Lat}
		x.tr.Insert(pt, pt, i)
	}
	return x
}

func (x *geoRT) move(id int, p geo.LatLng) {
	o := x.pos[id]
	op, np := [2]float64{o.Lng, o.Lat}, [2]float64{p.Lng, p.Lat}
	x.tr.Replace(op, op, id, np, np, id)
	x.pos[id] = p
}

func (x *geoRT) nearest(q geo.LatLng, k int, availableOnly bool) int {
	first, n := -1, 0
	qp := [2]float64{q.Lng, q.Lat}
	x.tr.Nearby(rtree.BoxDist[float64, int](qp, qp, nil), func(_, _ [2]float64, id int, _ float64) bool {
		if availableOnly && !geoAvailable(id) {
			return true
		}
		if n == 0 {
			first = id
		}
		n++
		return n < k
	})
	return first
}

func (x *geoRT) nearestIDs(q geo.LatLng, k int, dst []int) []int {
	qp := [2]float64{q.Lng, q.Lat}
	x.tr.Nearby(rtree.BoxDist[float64, int](qp, qp, nil), func(_, _ [2]float64, id int, _ float64) bool {
		dst = append(dst, id)
		return len(dst) < k
	})
	return dst
}

func (x *geoRT) radius(q geo.LatLng, metres float64) int {
	boxes, _ := geo.Cover(q, metres)
	n := 0
	for _, b := range boxes {
		x.tr.Search([2]float64{b.MinLng, b.MinLat}, [2]float64{b.MaxLng, b.MaxLat}, func(mn, _ [2]float64, _ int) bool {
			if geo.Distance(q, geo.LatLng{Lat: mn[1], Lng: mn[0]}) <= metres {
				n++
			}
			return true
		})
	}
	return n
}

// --- paulmach/orb quadtree ---

type geoOrbDriver struct {
	id int
	p  orb.Point
}

func (d *geoOrbDriver) Point() orb.Point { return d.p }

type geoOrb struct {
	q   *orbquad.Quadtree
	drv []*geoOrbDriver
	buf []orb.Pointer
}

func newGeoOrb(d *geoDataset) *geoOrb {
	x := &geoOrb{q: orbquad.New(orb.Bound{Min: orb.Point{d.min[0], d.min[1]}, Max: orb.Point{d.max[0], d.max[1]}})}
	for i, p := range d.pts {
		dr := &geoOrbDriver{id: i, p: orb.Point{p.Lng, p.Lat}}
		x.drv = append(x.drv, dr)
		_ = x.q.Add(dr)
	}
	return x
}

func (x *geoOrb) move(id int, p geo.LatLng) {
	dr := x.drv[id]
	x.q.Remove(dr, func(o orb.Pointer) bool { return o == dr })
	dr.p = orb.Point{p.Lng, p.Lat}
	_ = x.q.Add(dr)
}

func geoOrbAvailable(p orb.Pointer) bool { return geoAvailable(p.(*geoOrbDriver).id) }

func (x *geoOrb) nearest(q geo.LatLng, k int, availableOnly bool) int {
	var f orbquad.FilterFunc
	if availableOnly {
		f = geoOrbAvailable
	}
	x.buf = x.q.KNearestMatching(x.buf[:0], orb.Point{q.Lng, q.Lat}, k, f)
	if len(x.buf) == 0 {
		return -1
	}
	return x.buf[0].(*geoOrbDriver).id
}

func (x *geoOrb) nearestIDs(q geo.LatLng, k int, dst []int) []int {
	x.buf = x.q.KNearest(x.buf[:0], orb.Point{q.Lng, q.Lat}, k)
	for _, p := range x.buf {
		dst = append(dst, p.(*geoOrbDriver).id)
	}
	return dst
}

func (x *geoOrb) radius(q geo.LatLng, metres float64) int {
	boxes, _ := geo.Cover(q, metres)
	n := 0
	for _, b := range boxes {
		x.buf = x.q.InBound(x.buf[:0], orb.Bound{Min: orb.Point{b.MinLng, b.MinLat}, Max: orb.Point{b.MaxLng, b.MaxLat}})
		for _, p := range x.buf {
			if pt := p.Point(); geo.Distance(q, geo.LatLng{Lat: pt[1], Lng: pt[0]}) <= metres {
				n++
			}
		}
	}
	return n
}

// built holds one index per implementation and dataset, built once per
// process and shared by the query and move workloads (moves are small
// random steps, so the data stays statistically the same).
type geoBuilt struct {
	d    *geoDataset
	impl map[string]geoIndex
	pos  map[string][]geo.LatLng // each implementation's current positions
}

var geoImpls = []string{"blueprint", "rtree", "orb"}

var geoBuiltIndexes = sync.OnceValue(func() []*geoBuilt {
	var out []*geoBuilt
	for _, d := range geoDatasets() {
		bt := &geoBuilt{d: d, pos: map[string][]geo.LatLng{}, impl: map[string]geoIndex{
			"blueprint": newGeoBP(d), "rtree": newGeoRT(d), "orb": newGeoOrb(d),
		}}
		for _, name := range geoImpls {
			bt.pos[name] = append([]geo.LatLng(nil), d.pts...)
		}
		out = append(out, bt)
	}
	return out
})

// forEach runs fn for every implementation and dataset. pos is that
// implementation's current positions: every implementation replays the same
// seeded sequence of moves, so they hold the same points as long as they
// ran the same number of moves, and statistically the same points always.
func geoForEach(b *testing.B, fn func(b *testing.B, bt *geoBuilt, ix geoIndex, pos []geo.LatLng)) {
	all := geoBuiltIndexes()
	for _, name := range geoImpls {
		b.Run(name, func(b *testing.B) {
			for _, bt := range all {
				b.Run(bt.d.name, func(b *testing.B) {
					// Collect the garbage of the builds and of earlier
					// benchmarks now, not while this one is timed.
					runtime.GC()
					fn(b, bt, bt.impl[name], bt.pos[name])
				})
			}
		})
	}
}

// quick reports whether benchmarks run once each (CI's -benchtime 1x), to
// shorten the fixed-duration workload.
func geoQuick() bool {
	f := flag.Lookup("test.benchtime")
	return testing.Short() || *geoShort || (f != nil && f.Value.String() == "1x")
}

// BenchmarkInsert fills an empty index with all the points, one insert
// each: an op is the whole fill, ns/driver divides it by the points. (A
// loop of single inserts that started afresh every len(points) ops would
// make the figure depend on b.N: with b.N below the points the index never
// reaches full size, and above them part of the ops go into a small one.)
func BenchmarkInsert(b *testing.B) {
	for _, name := range geoImpls {
		b.Run(name, func(b *testing.B) {
			for _, d := range geoDatasets() {
				b.Run(d.name, func(b *testing.B) {
					b.ReportAllocs()
					var ins func(i int)
					reset := func() {
						switch name {
						case "blueprint":
							x := geo.NewIndex(geo.Options{StaleAfter: -1})
							ins = func(i int) { _ = x.Upsert(geo.Driver{ID: geo.DriverID(i), Pos: d.pts[i], Seen: geoSeen}) }
						case "rtree":
							var tr rtree.RTreeG[int]
							ins = func(i int) {
								p := [2]float64{d.pts[i].Lng, d.pts[i].Lat}
								tr.Insert(p, p, i)
							}
						case "orb":
							q := orbquad.New(orb.Bound{Min: orb.Point{d.min[0], d.min[1]}, Max: orb.Point{d.max[0], d.max[1]}})
							ins = func(i int) { _ = q.Add(&geoOrbDriver{id: i, p: orb.Point{d.pts[i].Lng, d.pts[i].Lat}}) }
						}
					}
					for b.Loop() {
						reset()
						for i := range d.pts {
							ins(i)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(d.pts)), "ns/driver")
				})
			}
		})
	}
}

// BenchmarkInsertBatch loads all the points into an empty index in one
// go, the way a dispatcher loads its fleet at start-up: blueprint with
// one UpsertBatch, the peers (which have no bulk load) one insert at a
// time, as in BenchmarkInsert. An op is the whole load; ns/driver divides
// it by the points. The gateway datasets are the other batch use, a
// gateway's 10,000 GPS pings (moves of existing drivers by up to 50 m)
// applied to the built 1,000,000-driver index: blueprint as one
// UpsertBatch, the peers as 10,000 moves.
func BenchmarkInsertBatch(b *testing.B) {
	for _, name := range geoImpls {
		b.Run(name, func(b *testing.B) {
			for _, d := range geoDatasets() {
				b.Run(d.name, func(b *testing.B) {
					b.ReportAllocs()
					var load func()
					switch name {
					case "blueprint":
						ds := make([]geo.Driver, len(d.pts))
						for i, p := range d.pts {
							ds[i] = geo.Driver{ID: geo.DriverID(i), Pos: p, Seen: geoSeen}
						}
						load = func() { _ = geo.NewIndex(geo.Options{StaleAfter: -1}).UpsertBatch(ds) }
					case "rtree":
						load = func() {
							var tr rtree.RTreeG[int]
							for i, p := range d.pts {
								pt := [2]float64{p.Lng, p.Lat}
								tr.Insert(pt, pt, i)
							}
						}
					case "orb":
						load = func() {
							q := orbquad.New(orb.Bound{Min: orb.Point{d.min[0], d.min[1]}, Max: orb.Point{d.max[0], d.max[1]}})
							for i, p := range d.pts {
								_ = q.Add(&geoOrbDriver{id: i, p: orb.Point{p.Lng, p.Lat}})
							}
						}
					}
					for b.Loop() {
						load()
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(d.pts)), "ns/driver")
				})
			}
			for di, d := range geoDatasets() {
				b.Run(d.name+"-gateway", func(b *testing.B) {
					bt := geoBuiltIndexes()[di] // built here, once, if this runs
					const n = 10_000
					r := rand.New(rand.NewPCG(3, 4))
					ix, pos := bt.impl[name], bt.pos[name]
					ids := make([]int, n)
					ds := make([]geo.Driver, n)
					runtime.GC() // not the build's garbage, if it was built just now
					b.ReportAllocs()
					for b.Loop() {
						b.StopTimer()
						for i := range ids {
							id := r.IntN(len(pos))
							pos[id] = bt.d.step(r, pos[id])
							ids[i] = id
							st := geo.Unavailable
							if geoAvailable(id) {
								st = geo.Available
							}
							ds[i] = geo.Driver{ID: geo.DriverID(id), Pos: pos[id], Status: st, Seen: geoSeen}
						}
						b.StartTimer()
						if bp, ok := ix.(*geoBP); ok {
							_ = bp.x.UpsertBatch(ds)
						} else {
							for _, id := range ids {
								ix.move(id, pos[id])
							}
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/driver")
				})
			}
		})
	}
}

func BenchmarkMove(b *testing.B) {
	geoForEach(b, func(b *testing.B, bt *geoBuilt, ix geoIndex, pos []geo.LatLng) {
		r := rand.New(rand.NewPCG(1, 2))
		b.ReportAllocs()
		for b.Loop() {
			id := r.IntN(len(pos))
			p := bt.d.step(r, pos[id])
			pos[id] = p
			ix.move(id, p)
		}
	})
}

func BenchmarkNearest(b *testing.B) {
	geoForEach(b, func(b *testing.B, bt *geoBuilt, ix geoIndex, pos []geo.LatLng) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			ix.nearest(bt.d.queries[i%len(bt.d.queries)], 10, false)
			i++
		}
		b.StopTimer()
		b.ReportMetric(geoRecall(bt, ix, pos), "recall")
	})
}

func BenchmarkNearestAvailable(b *testing.B) {
	geoForEach(b, func(b *testing.B, bt *geoBuilt, ix geoIndex, pos []geo.LatLng) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			ix.nearest(bt.d.queries[i%len(bt.d.queries)], 10, true)
			i++
		}
	})
}

func BenchmarkRadius(b *testing.B) {
	geoForEach(b, func(b *testing.B, bt *geoBuilt, ix geoIndex, pos []geo.LatLng) {
		// 2 km in New York (about 5,400 drivers at 1M); 200 km on the
		// sphere (about 250).
		metres := 2_000.0
		if bt.d.name == "sphere" {
			metres = 200_000
		}
		b.ReportAllocs()
		i, hits := 0, 0
		for b.Loop() {
			hits += ix.radius(bt.d.queries[i%len(bt.d.queries)], metres)
			i++
		}
		b.ReportMetric(float64(hits)/float64(i), "hits/op")
	})
}

// recall measures, over 20 queries (two near ±180°, two above 86° on the
// sphere), the fraction of an implementation's 10
// nearest that are among the exact 10 nearest by great-circle distance
// (computed by brute force, ties counted as hits).
func geoRecall(bt *geoBuilt, ix geoIndex, pos []geo.LatLng) float64 {
	hit, total := 0, 0
	var ids []int
	for qi := range 20 {
		q := bt.d.queries[qi]
		kth := geoBruteKth(pos, q, 10)
		ids = ix.nearestIDs(q, 10, ids[:0])
		for _, id := range ids {
			if geo.Distance(q, pos[id]) <= kth {
				hit++
			}
		}
		total += 10
	}
	return float64(hit) / float64(total)
}

// bruteKth returns the exact k-th smallest great-circle distance from q.
func geoBruteKth(pos []geo.LatLng, q geo.LatLng, k int) float64 {
	best := make([]float64, 0, k+1)
	for _, p := range pos {
		d := geo.Distance(q, p)
		if len(best) == k && d >= best[k-1] {
			continue
		}
		i := len(best)
		best = append(best, d)
		for i > 0 && best[i-1] > d {
			best[i] = best[i-1]
			i--
		}
		best[i] = d
		if len(best) > k {
			best = best[:k]
		}
	}
	return best[len(best)-1]
}

// locked puts a peer behind a sync.RWMutex, as a concurrent service must;
// blueprint's Index locks internally.
type geoLocked struct {
	mu sync.RWMutex
	ix geoIndex
}

func (l *geoLocked) move(id int, p geo.LatLng) {
	l.mu.Lock()
	l.ix.move(id, p)
	l.mu.Unlock()
}

func (l *geoLocked) nearest(q geo.LatLng, k int) {
	l.mu.RLock()
	l.ix.nearest(q, k, false)
	l.mu.RUnlock()
}

// BenchmarkMixed runs one goroutine moving drivers and one running 10-NN
// queries at the same time for 3 seconds (0.3 s with -short) per
// iteration (0.3 s with -short or -benchtime 1x), and reports both rates. The reader needs its own query
// buffer, so every implementation gets a second handle sharing the data.
func BenchmarkMixed(b *testing.B) {
	geoForEach(b, func(b *testing.B, bt *geoBuilt, ix geoIndex, pos []geo.LatLng) {
		dur := 3 * time.Second
		if geoQuick() {
			dur = 300 * time.Millisecond
		}
		var writer func(id int, p geo.LatLng)
		var reader func(q geo.LatLng)
		switch x := ix.(type) {
		case *geoBP:
			rd := &geoBP{x: x.x, buf: make([]geo.Match, 0, 16)}
			writer, reader = x.move, func(q geo.LatLng) { rd.nearest(q, 10, false) }
		case *geoRT:
			l := &geoLocked{ix: x}
			writer, reader = l.move, func(q geo.LatLng) { l.nearest(q, 10) }
		case *geoOrb:
			rd := &geoOrb{q: x.q, drv: x.drv}
			l := &geoLocked{ix: x}
			lr := &geoLocked{ix: rd}
			writer = l.move
			reader = func(q geo.LatLng) {
				l.mu.RLock()
				lr.ix.nearest(q, 10, false)
				l.mu.RUnlock()
			}
		}
		var moves, queries atomic.Int64
		for b.Loop() {
			var stop atomic.Bool
			var wg sync.WaitGroup
			wg.Go(func() {
				r := rand.New(rand.NewPCG(3, 4))
				n := int64(0)
				for !stop.Load() {
					id := r.IntN(len(pos))
					p := bt.d.step(r, pos[id])
					pos[id] = p
					writer(id, p)
					n++
				}
				moves.Add(n)
			})
			wg.Go(func() {
				n := int64(0)
				for !stop.Load() {
					reader(bt.d.queries[n%int64(len(bt.d.queries))])
					n++
				}
				queries.Add(n)
			})
			time.Sleep(dur)
			stop.Store(true)
			wg.Wait()
		}
		secs := dur.Seconds() * float64(b.N)
		b.ReportMetric(float64(moves.Load())/secs, "moves/s")
		b.ReportMetric(float64(queries.Load())/secs, "queries/s")
		b.ReportMetric(0, "ns/op")
	})
}

// BenchmarkMemory reports the heap bytes per driver of each
// implementation's index of the nyc dataset, including its ID lookup.
func BenchmarkGeoMemory(b *testing.B) {
	d := geoDatasets()[0]
	for _, name := range geoImpls {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				var keep any
				switch name {
				case "blueprint":
					keep = newGeoBP(d)
				case "rtree":
					keep = newGeoRT(d) // includes its position slice (the ID index)
				case "orb":
					keep = newGeoOrb(d) // includes its driver pointers
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				runtime.KeepAlive(keep)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(d.pts)), "B/driver")
			}
		})
	}
}
