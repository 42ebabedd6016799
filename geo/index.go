package geo

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blueprint-go/blueprint/quadtree"
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
	// fills in the clock's time when it is zero.
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
	// report; older drivers are invisible to searches and Get, and
	// [Index.RemoveStale] deletes them. Zero means one minute; negative
	// means never stale.
	StaleAfter time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// The tree stores each driver's status, vehicle and last-seen time in one
// uint64 next to its point: milliseconds since 1970 (42 bits suffice until
// the year 2109) above 8 bits of vehicle and 8 of status.
type meta uint64

func packMeta(d *Driver) meta {
	ms := max(d.Seen.UnixMilli(), 0)
	return meta(uint64(ms)<<16 | uint64(d.Vehicle)<<8 | uint64(d.Status))
}

func (m meta) seenMilli() int64         { return int64(m >> 16) }
func (m meta) status() Status           { return Status(m) }
func (m meta) vehicle() Vehicle         { return Vehicle(m >> 8) }
func (m meta) withStatus(s Status) meta { return m&^0xff | meta(s) }
func (m meta) available() bool          { return m.status() == Available }

func unpack(id DriverID, p quadtree.Point, m meta) Driver {
	return Driver{
		ID:      id,
		Pos:     LatLng{Lat: p.Y, Lng: p.X},
		Status:  m.status(),
		Vehicle: m.vehicle(),
		Seen:    time.UnixMilli(m.seenMilli()).UTC(),
	}
}

// world is the tree's plane: X is longitude, Y is latitude.
var world = quadtree.Rect{MinX: -180, MinY: -90, MaxX: 180, MaxY: 90}

// Index is a searchable set of moving drivers. Create one with [NewIndex].
//
// An Index is safe for concurrent use by any number of goroutines. Filters
// passed to [Index.Nearby] run while the index is read-locked and must not
// call the index's write methods.
type Index struct {
	now   func() time.Time
	stale int64 // milliseconds; <0 never

	// mu guards tree, avail and spare. Writers hold it exclusively;
	// searches share it.
	mu   sync.RWMutex
	tree *quadtree.Tree[DriverID, meta]
	// avail holds the available drivers again, with the same points and
	// values, so that a search for them runs over a tree sized for them.
	avail *quadtree.Tree[DriverID, meta]
	spare []pendingSet
	bufs  sync.Pool // *[]quadtree.Neighbor[DriverID, meta]

	// Upserts queue here and reach the tree in batches (see flushLocked).
	pmu      sync.Mutex
	pending  []pendingSet
	npending atomic.Int32
}

// pendingSet is one queued Upsert.
type pendingSet struct {
	id DriverID
	p  quadtree.Point
	m  meta
}

// flushAt is how many queued upserts make the writer apply them itself: a
// batch of 64 holds the write lock for about 20 µs.
const flushAt = 64

// flushLocked applies the queued upserts, in order. x.mu must be held for
// writing.
func (x *Index) flushLocked() {
	if x.npending.Load() == 0 {
		return
	}
	x.pmu.Lock()
	ops := x.pending
	x.pending = x.spare[:0]
	x.npending.Store(0)
	x.pmu.Unlock()
	for _, op := range ops {
		// Points were validated before they were queued, so Swap and Set
		// cannot fail.
		old, had, _ := x.tree.Swap(op.id, op.p, op.m)
		x.syncAvail(op.id, op.p, op.m, had && old.available())
	}
	x.spare = ops[:0]
}

// syncAvail mirrors into x.avail a driver whose tree record is now (p, m)
// and which was available before if wasAvail. x.mu must be held for
// writing.
func (x *Index) syncAvail(id DriverID, p quadtree.Point, m meta, wasAvail bool) {
	switch {
	case m.available():
		_ = x.avail.Set(id, p, m)
	case wasAvail:
		x.avail.Remove(id)
	}
}

// lock takes the write lock with every queued upsert applied.
func (x *Index) lock() {
	x.mu.Lock()
	x.flushLocked()
}

// rlock takes the read lock after applying any queued upserts, so a search
// sees every Upsert that returned before it started.
func (x *Index) rlock() {
	if x.npending.Load() != 0 {
		x.lock()
		x.mu.Unlock()
	}
	x.mu.RLock()
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
	var err error
	x.tree, err = quadtree.New[DriverID, meta](world, quadtree.Options{LeafSize: 16})
	if err != nil {
		panic(err) // world is a valid constant rectangle
	}
	x.avail, _ = quadtree.New[DriverID, meta](world, quadtree.Options{LeafSize: 16})
	return x
}

// cutoff returns the oldest last-seen time, in ms, that is still fresh.
func (x *Index) cutoff() int64 {
	if x.stale < 0 {
		return math.MinInt64
	}
	return x.now().UnixMilli() - x.stale
}

// Upsert adds d or replaces the driver with d's ID: its position, status,
// vehicle and last-seen time (the clock's now when d.Seen is zero). It
// returns an error wrapping [ErrInvalidLatLng] for a bad position and then
// changes nothing. It costs O(1) when the driver stays in its leaf cell,
// O(log n) otherwise.
func (x *Index) Upsert(d Driver) error {
	if err := d.Pos.Validate(); err != nil {
		return err
	}
	if d.Seen.IsZero() {
		d.Seen = x.now()
	}
	op := pendingSet{id: d.ID, p: quadtree.Point{X: d.Pos.Lng, Y: d.Pos.Lat}, m: packMeta(&d)}
	x.pmu.Lock()
	x.pending = append(x.pending, op)
	full := x.npending.Add(1) >= flushAt
	x.pmu.Unlock()
	if full {
		x.lock()
		x.mu.Unlock()
	}
	return nil
}

// Remove deletes a driver and reports whether it was present.
func (x *Index) Remove(id DriverID) bool {
	x.lock()
	defer x.mu.Unlock()
	x.avail.Remove(id)
	return x.tree.Remove(id)
}

// SetStatus changes a driver's status without touching its position or
// last-seen time. It returns [ErrNotFound] for an unknown driver.
func (x *Index) SetStatus(id DriverID, s Status) error {
	x.lock()
	defer x.mu.Unlock()
	p, m, ok := x.tree.Get(id)
	if !ok {
		return ErrNotFound
	}
	n := m.withStatus(s)
	_ = x.tree.Update(id, n) // present: Get found it
	x.syncAvail(id, p, n, m.available())
	return nil
}

// Get returns a driver that is present and not stale.
func (x *Index) Get(id DriverID) (Driver, bool) {
	cut := x.cutoff()
	x.rlock()
	p, m, ok := x.tree.Get(id)
	x.mu.RUnlock()
	if !ok || m.seenMilli() < cut {
		return Driver{}, false
	}
	return unpack(id, p, m), true
}

// Len returns the number of drivers stored, stale ones included.
func (x *Index) Len() int {
	x.rlock()
	defer x.mu.RUnlock()
	return x.tree.Len()
}

// RemoveStale deletes every stale driver and returns how many it deleted.
// It costs O(n) under the write lock; call it from a periodic sweeper.
func (x *Index) RemoveStale() int {
	cut := x.cutoff()
	x.lock()
	defer x.mu.Unlock()
	var gone []DriverID
	x.tree.Range(world, func(id DriverID, _ quadtree.Point, m meta) bool {
		if m.seenMilli() < cut {
			gone = append(gone, id)
		}
		return true
	})
	for _, id := range gone {
		x.tree.Remove(id)
		x.avail.Remove(id)
	}
	return len(gone)
}

// Nearby returns the k drivers nearest to center by great-circle distance,
// within radius metres, fresh, and accepted by filter (nil accepts all),
// sorted by ascending distance. k <= 0 means all of them. The result is
// exact: the same drivers and distances as computing [Distance] from center
// to every driver, whatever the center (poles and the antimeridian
// included) and radius (up to half the Earth's circumference and beyond).
// It returns an error for an invalid center or radius, or ctx's error.
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
// drivers as Nearby with a filter testing the status, but runs over a
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

func (x *Index) appendNearby(ctx context.Context, dst []Match, center LatLng, radius float64, k int, filter func(Driver) bool, availOnly bool) ([]Match, error) {
	if err := ctx.Err(); err != nil {
		return dst, err
	}
	if err := center.Validate(); err != nil {
		return dst, err
	}
	if err := checkRadius(radius); err != nil {
		return dst, err
	}
	q := newSphereQuery(center)
	maxKey := keyLimit(radius)
	cut := x.cutoff()
	bp, _ := x.bufs.Get().(*[]quadtree.Neighbor[DriverID, meta])
	if bp == nil {
		bp = new([]quadtree.Neighbor[DriverID, meta])
	}
	accept := func(id DriverID, p quadtree.Point, m meta) bool {
		if m.seenMilli() < cut {
			return false
		}
		return filter == nil || filter(unpack(id, p, m))
	}
	if filter == nil && x.stale < 0 {
		accept = nil // every driver qualifies: spare the tree a call per record
	}
	var res []quadtree.Neighbor[DriverID, meta]
	x.rlock()
	if availOnly {
		res = x.avail.Nearest(*bp, k, maxKey, quadtree.Metric{Dist: q.dist, Bound: q.bound}, accept)
	} else {
		res = x.tree.Nearest(*bp, k, maxKey, quadtree.Metric{Dist: q.dist, Bound: q.bound}, accept)
	}
	x.mu.RUnlock()
	for _, n := range res {
		d := metres(n.Dist)
		if d > radius {
			break // sorted: the rest are farther
		}
		dst = append(dst, Match{Driver: unpack(n.ID, n.Point, n.Value), Distance: d})
	}
	*bp = res[:0]
	x.bufs.Put(bp)
	return dst, nil
}

// keyLimit returns a haversine a little above that of radius metres, so
// that every point within radius passes a key test; callers then check the
// exact distance.
func keyLimit(radius float64) float64 {
	if radius >= math.Pi*EarthRadius {
		return math.Inf(1)
	}
	s := math.Sin(radius / (2 * EarthRadius))
	return s*s*(1+1e-9) + 1e-300
}

// sphereQuery ranks tree points (X = lng, Y = lat) by the haversine of
// their central angle from a center:
//
//	key = sin²(Δφ/2) + cos φq·cos φ·sin²(Δλ/2)
//
// Pruning uses lower bounds of the key built without trigonometry, from
// two facts: sin x >= x - x³/6 for x >= 0, and, for a point at most b
// radians of latitude farther from the equator than the center,
// cos φ >= cos φq·(1 - b²/2) - |sin φq|·b (the angle-sum formula with
// cos b >= 1 - b²/2 and sin b <= b).
type sphereQuery struct {
	lat, lng, cosLat float64
	latRad, sinAbs   float64
	sinLat           float64
}

func newSphereQuery(c LatLng) sphereQuery {
	φ := c.Lat * rad
	sinφ := math.Sin(φ)
	return sphereQuery{lat: c.Lat, lng: c.Lng, cosLat: math.Cos(φ), latRad: math.Abs(φ), sinAbs: math.Abs(sinφ), sinLat: sinφ}
}

// cosNear is cos(lat) to within a relative 1e-15, cheaply for latitudes
// within 1/64 radian of a center below 60°: cos(φq + δ) by the angle-sum
// formula with cos δ and sin δ by their Taylor series (the first omitted
// terms are below 1e-17). Nearer the poles the subtraction would cancel
// most digits, so it calls math.Cos there. It serves tests with a
// relative margin, never an exact distance.
func (q *sphereQuery) cosNear(lat float64) float64 {
	δ := (lat - q.lat) * rad
	if math.Abs(δ) >= smallAngle || q.cosLat < 0.5 {
		return math.Cos(lat * rad)
	}
	z := δ * δ
	cosδ := 1 - z*(0.5-z*(1.0/24-z*(1.0/720)))
	sinδ := δ - δ*z*(1.0/6-z*(1.0/120))
	return q.cosLat*cosδ - q.sinLat*sinδ
}

// sinLo is a lower bound of sin x for x in [0, π/2].
func sinLo(x float64) float64 { return max(x-x*x*x/6, 0) }

// cosLo is a lower bound of cos φ for any |φ| <= |φq| + b, b >= 0.
func (q *sphereQuery) cosLo(b float64) float64 {
	return max(q.cosLat*(1-b*b/2)-q.sinAbs*b, 0)
}

// lowerKey bounds the key from below given the latitude gap dLat and the
// short-way longitude gap dLng (degrees) to the nearest possible point, and
// b, how much farther from the equator (radians) that point may be.
func (q *sphereQuery) lowerKey(dLat, dLng, b float64) float64 {
	s := sinLo(dLat * (rad / 2))
	h := s * s
	if dLng > 0 {
		t := sinLo(dLng * (rad / 2))
		h += q.cosLat * q.cosLo(b) * t * t
	}
	// Shrink by a relative 1e-9 so rounding never lifts it above a true key.
	return h * (1 - 1e-9)
}

// dist is the exact key, with an early exit when a lower bound already
// exceeds limit.
func (q *sphereQuery) dist(p quadtree.Point, limit float64) float64 {
	dLat := math.Abs(p.Y - q.lat)
	if lo := q.lowerKey(dLat, shortLng(p.X-q.lng), dLat*rad); lo > limit {
		return lo
	}
	return hav(q.lat, q.lng, q.cosLat, p.Y, p.X)
}

// bound is a lower bound of the key over a lat/lng rectangle: the latitude
// gap to the rectangle, the longitude gap measured the short way round the
// sphere (so cells across the antimeridian count as near), and cos φ at the
// rectangle's latitude edge farther from the equator. Each factor is
// bounded on its own, and the sum of the minima is at most the minimum of
// the sum.
func (q *sphereQuery) bound(r quadtree.Rect) float64 {
	var dLat float64
	if q.lat < r.MinY {
		dLat = r.MinY - q.lat
	} else if q.lat > r.MaxY {
		dLat = q.lat - r.MaxY
	}
	var dLng float64
	if q.lng < r.MinX || q.lng > r.MaxX {
		dLng = min(shortLng(q.lng-r.MinX), shortLng(q.lng-r.MaxX))
	}
	if dLat == 0 && dLng == 0 {
		return 0
	}
	far := max(math.Abs(r.MinY), math.Abs(r.MaxY))*rad - q.latRad
	lo := q.lowerKey(dLat, dLng, max(far, 0))
	if dLng == 0 || far <= 0 {
		return lo
	}
	// The bound above takes the latitude gap and cos φ at their separate
	// minima. For a cell reaching farther from the equator than the
	// center, the second can be zero (near a pole, cells often reach it),
	// leaving only the latitude gap: the longitude gap is ignored and
	// polar searches visit a whole band of cells. Bound them jointly
	// instead. With δ = |φ| - |φq| the extra distance from the equator of
	// a point of the cell (δ in [δlo, δhi]), |Δφ| >= δ, so
	//
	//	key >= sin²(δ/2) + C·cos(|φq|+δ),  C = cos φq·sin²(Δλmin/2)
	//	    >= δ²/4·(1 - δhi²/12) + C·(cos φq·(1 - δ²/2) - |sin φq|·δ)
	//
	// (sin x >= x - x³/6 and the angle-sum bound of cosLo), a quadratic in
	// δ whose minimum over [δlo, δhi] is a lower bound of the key. Points
	// nearer the equator than the center (δ < 0) have cos φ >= cos φq, so
	// their key is at least C·cos φq, the quadratic's value at δ = 0, which
	// lies in the interval when the cell holds such points.
	t := sinLo(dLng * (rad / 2))
	c := q.cosLat * t * t
	near := 0.0
	if r.MinY > 0 || r.MaxY < 0 {
		near = min(math.Abs(r.MinY), math.Abs(r.MaxY))
	}
	dLo, dHi := max(near*rad-q.latRad, 0), far
	qa := (1-dHi*dHi/12)/4 - c*q.cosLat/2
	qb := c * q.sinAbs
	qc := c * q.cosLat
	quad := func(d float64) float64 { return qa*d*d - qb*d + qc }
	var v float64
	if qa > 0 {
		v = quad(min(max(qb/(2*qa), dLo), dHi))
	} else {
		v = min(quad(dLo), quad(dHi))
	}
	// Margin for rounding in the few operations above.
	v -= 1e-12 * (math.Abs(qa)*dHi*dHi + qb*dHi + qc)
	return max(lo, v)
}

// shortLng returns |d| folded into [0, 180]: the longitude gap the short
// way round.
func shortLng(d float64) float64 {
	d = math.Abs(d)
	if d > 180 {
		d = 360 - d
	}
	return d
}

// AppendWithin appends to dst every fresh driver within radius metres of
// center that filter accepts (nil accepts all), in no particular order, and
// returns the slice. It walks the boxes of [Cover] and keeps the drivers
// whose exact [Distance] is at most radius, so it returns the same set as
// Nearby with k <= 0 without paying for the sort. It returns an error for an
// invalid center or radius, or ctx's error.
func (x *Index) AppendWithin(ctx context.Context, dst []Match, center LatLng, radius float64, filter func(Driver) bool) ([]Match, error) {
	if err := ctx.Err(); err != nil {
		return dst, err
	}
	var buf [2]Box
	boxes, err := cover(&buf, center, radius)
	if err != nil {
		return dst, err
	}
	q := newSphereQuery(center)
	maxKey := keyLimit(radius)
	cut := x.cutoff()
	x.rlock()
	defer x.mu.RUnlock()
	for _, b := range boxes {
		r := quadtree.Rect{MinX: b.MinLng, MinY: b.MinLat, MaxX: b.MaxLng, MaxY: b.MaxLat}
		x.tree.Range(r, func(id DriverID, p quadtree.Point, m meta) bool {
			if m.seenMilli() < cut {
				return true
			}
			h := hav(q.lat, q.lng, q.cosLat, p.Y, p.X)
			if h > maxKey {
				return true // clearly outside: skip the arcsine
			}
			d := metres(h)
			if d > radius {
				return true
			}
			drv := unpack(id, p, m)
			if filter == nil || filter(drv) {
				dst = append(dst, Match{Driver: drv, Distance: d})
			}
			return true
		})
	}
	return dst, nil
}

// AppendWithinIDs appends to dst the ID of every fresh driver within
// radius metres of center, in no particular order: the set of
// [Index.AppendWithin] without a filter, for callers that need only the
// IDs (to count drivers, or to fetch a few of them later). It skips what
// makes AppendWithin cost about 100 ns a driver: it tests whole cells
// against the circle, takes every driver of a cell that lies inside it
// without computing a distance, and for the drivers of cells on the
// circle's edge compares haversines against precomputed bounds, computing
// an exact distance only within a rounding margin of the radius. It
// returns an error for an invalid center or radius, or ctx's error.
func (x *Index) AppendWithinIDs(ctx context.Context, dst []DriverID, center LatLng, radius float64) ([]DriverID, error) {
	if err := ctx.Err(); err != nil {
		return dst, err
	}
	var buf [2]Box
	boxes, err := cover(&buf, center, radius)
	if err != nil {
		return dst, err
	}
	var rects [2]quadtree.Rect
	for i, b := range boxes {
		rects[i] = quadtree.Rect{MinX: b.MinLng, MinY: b.MinLat, MaxX: b.MaxLng, MaxY: b.MaxLat}
	}
	in := rects[:len(boxes)]
	q := newSphereQuery(center)
	maxKey := keyLimit(radius)
	inKey := insideKey(radius)
	cut := x.cutoff()
	classify := func(r quadtree.Rect) quadtree.Cover {
		for _, b := range in {
			if b.Intersects(r) {
				if q.inside(r, inKey) {
					return quadtree.Inside
				}
				return quadtree.Partial
			}
		}
		return quadtree.Outside
	}
	x.rlock()
	defer x.mu.RUnlock()
	x.tree.Walk(classify, func(id DriverID, p quadtree.Point, m meta, inside bool) bool {
		if m.seenMilli() < cut {
			return true
		}
		if !inside {
			if !in[0].Contains(p) && (len(in) == 1 || !in[1].Contains(p)) {
				return true
			}
			// A key within a relative 1e-14 of the exact one decides
			// all but the drivers near the circle's edge.
			h := q.cornerKey(p.Y, q.cosNear(p.Y), p.X)
			if h > maxKey*(1+1e-12) {
				return true
			}
			if h >= inKey*(1-1e-12) {
				h = hav(q.lat, q.lng, q.cosLat, p.Y, p.X)
				if h > maxKey || (h > inKey && metres(h) > radius) {
					return true
				}
			}
		}
		dst = append(dst, id)
		return true
	})
	return dst, nil
}

// insideKey returns a haversine a little below that of radius metres, so
// that every point whose computed key is at most it lies within radius by
// [Distance] too, rounding included. It is 0, which no cell passes, for
// radii of 1,000 km and more, where [sphereQuery.inside] does not apply.
func insideKey(radius float64) float64 {
	if radius >= 1e6 || radius < 1e-3 {
		return 0 // below a millimetre, spare the reasoning about subnormals
	}
	s := math.Sin(radius / (2 * EarthRadius))
	return s * s * (1 - 1e-9)
}

// inside reports whether every point of r has a key below inKey. Along a
// parallel the distance from the center grows with the longitude gap up
// to 180°, and along a meridian less than 90° of longitude from the center
// it has no maximum inside a latitude interval (cos d = A·sin φ + B·cos φ
// with B >= 0 is unimodal in φ), so over a cell spanning less than 90° of
// longitude each side of the center the distance peaks at a corner. The
// corners' keys, computed within a relative 1e-14 of [Distance]'s, must
// then fall below inKey by a relative 1e-12 to absorb rounding.
func (q *sphereQuery) inside(r quadtree.Rect, inKey float64) bool {
	if inKey == 0 || r.MinX-q.lng <= -90 || r.MaxX-q.lng >= 90 {
		return false
	}
	// A cell taller than the circle's diameter cannot lie inside it; most
	// cells a search visits fail here, before any trigonometry.
	if s := (r.MaxY - r.MinY) * (rad / 2); s*s > inKey {
		return false
	}
	lim := inKey * (1 - 1e-12)
	c := q.cosNear(r.MinY)
	if q.cornerKey(r.MinY, c, r.MinX) >= lim || q.cornerKey(r.MinY, c, r.MaxX) >= lim {
		return false
	}
	c = q.cosNear(r.MaxY)
	return q.cornerKey(r.MaxY, c, r.MinX) < lim && q.cornerKey(r.MaxY, c, r.MaxX) < lim
}

// cornerKey is hav from the center to (lat, lng) given cos(lat).
func (q *sphereQuery) cornerKey(lat, cosLat, lng float64) float64 {
	sLat := sin((lat - q.lat) * (rad / 2))
	sLng := sin((lng - q.lng) * (rad / 2))
	return sLat*sLat + q.cosLat*cosLat*sLng*sLng
}
