// Package geo is the geometry and the driver index of the ride-dispatch
// case: positions on the Earth, great-circle distance, bearings and
// destinations, the boxes that cover a circle, geohash cells, and an
// [Index] of moving drivers that finds the nearest ones exactly.
//
// # Positions and distance
//
// A [LatLng] is in degrees; [LatLng.Validate] rejects NaN, |lat| > 90 and
// |lng| > 180. Longitudes are not normalised: -180 and 180 are both valid
// and every computation treats them as the same meridian.
//
// [Distance] is the haversine formula on a sphere of radius [EarthRadius],
// the IUGG mean radius 6,371,008.8 m. Redis GEO uses 6,372,797.56 m (its
// distances come out 0.028% longer) and some libraries use the WGS-84
// equatorial radius 6,378,137 m (0.11% longer); the Earth's flattening
// makes any sphere wrong by up to about 0.5%, so the choice matters only
// for agreeing with other systems. Half the central angle of any distance
// under about 199 km is below 1/64 radian, and there the sines and the
// arcsine are evaluated by their Taylor series, which round to the same
// float64 as the true value in tests against 200-bit sums and cost a
// fraction of math.Sin and math.Asin; a city-scale search pays for one
// math.Cos per candidate and little else. [Bearing] and [Destination] are the
// usual great-circle formulas (Ed Williams, "Aviation Formulary").
//
// [Cover] returns the latitude/longitude boxes that contain a circle:
// usually one; two when it crosses ±180°, split there; one full band of
// longitude when it contains a pole (Matuschek, "Finding points within a
// distance of a latitude/longitude using bounding coordinates").
//
// [EncodeGeohash], [DecodeGeohash] and [GeohashNeighbors] implement the
// geohash.org cells that package pricing uses as surge zones; neighbours
// wrap east-west and stop at the poles.
//
// # The index
//
// An [Index] keeps each driver's position, status, vehicle type and
// last-seen time in a [quadtree.Tree] over the plane (lng, lat) with 16
// objects per leaf, the three small fields packed into one uint64 beside
// the point, so a filter on status reads the record it is already scanning.
// Drivers not seen for Options.StaleAfter (a minute by default) are
// invisible; [Index.RemoveStale] deletes them.
//
// Available drivers are kept a second time in a tree of their own, which
// [Index.NearbyAvailable] searches. Dispatch asks for the nearest
// available drivers far more often than for any driver, and when one in
// ten is available a search of the full tree must scan ten times as many
// records and cells to collect them (measured 27 µs against 4 µs for the
// 10 nearest of 1,000,000 drivers, 10% available). Per-cell counts of
// available drivers were tried first and pruned little: at that density
// nearly every leaf holds one. The copy costs a second tree update when an
// available driver moves and about 10 bytes per driver at 10% available.
//
// [Index.Nearby] is exact by great-circle distance, not by flat degrees: it
// runs the tree's best-first search with the haversine as the metric and,
// for each cell, a lower bound of the haversine over the cell built from
// the latitude gap, the longitude gap taken the short way round the sphere
// (so cells across the antimeridian are near) and the cosine of the cell's
// latitude edge farther from the equator. The bounds use sin x >= x - x³/6
// and an angle-sum bound on the cosine instead of trigonometric calls, so
// only candidates that might make the result pay for the exact formula.
// For a cell reaching nearer a pole than the center, the latitude gap and
// the cosine are bounded jointly (a quadratic in the extra latitude),
// because taken apart the cosine bound drops to zero near a pole and the
// longitude gap is lost: that made a 10-nearest search at lat 86-90 cost
// 37 µs instead of 7 µs with 1,000,000 drivers.
// The planar peers measured in the benchmarks module rank by flat degrees
// and get about 1 in 10 of their 10 nearest wrong in New York and 2 in 10
// over the whole sphere; the tests check Nearby against brute force at
// lat ±89.99, lng ±179.99, circles around the poles and radii up to
// 20,000 km.
//
// [Index.AppendWithinIDs] lists the drivers in a circle without their
// records or distances, which is what a count or a dispatch fan-out needs.
// It classifies cells with [quadtree.Tree.Walk]: a cell whose four corners
// lie inside the circle (for cells within 90° of longitude of the center
// the distance over a cell peaks at a corner) hands over its drivers with
// no per-driver test, and drivers of cells on the edge compare their
// haversine with bounds a relative 1e-9 either side of the radius's,
// computing an exact distance only in between. With 100,000 drivers in
// New York a 2 km circle (590 hits) was measured at 18 µs against 47 µs
// for [Index.AppendWithin], which builds a Match with an exact distance
// for every hit, and 39 µs for tidwall/rtree counting the same points;
// with 1,000,000 drivers (5,900 hits), 340 µs against rtree's 409 µs.
// Over the whole sphere, where few cells lie inside a 200 km circle, it
// matches AppendWithin (about 3 µs for 25 hits at 100,000).
//
// Costs, with n drivers: Upsert O(1) amortised (see below) plus the tree
// move, O(1) when the driver stays in its cell, twice that for an
// available driver; Nearby and NearbyAvailable best-first over O(log n +
// k) cells; AppendWithin O(log n + cells + hits); AppendWithinIDs
// O(log n + cells on the circle's edge + hits); Remove, SetStatus
// O(log n); RemoveStale O(n).
//
// Measured with 1,000,000 drivers on the benchmarks module's datasets (see
// its geo_test.go) on a shared, loaded 2-core machine: moves by ID and
// 10-nearest searches do not allocate when the caller passes a buffer to
// [Index.AppendNearby], and moves, nearest and nearest-available searches
// beat tidwall/rtree and orb/quadtree, which are inexact. Memory is the
// weak point: about 112 bytes per driver (a 32-byte record in leaves kept
// about 78% full, 41 bytes; a map entry from ID to (leaf, slot), about 38;
// the cells, 16; the tree of available drivers, 11), against about 80 for
// the peers, whose callers keep the ID index.
//
// # Concurrency
//
// An Index is safe for concurrent use. A sync.RWMutex guards the tree:
// searches share it, writes take it alone. Upsert, the hot write (every
// driver reports every few seconds), does not take it: it appends to a
// short queue under its own mutex and the queue is applied in order, under
// the write lock, once it holds 64 upserts (about 20 µs of work) or before
// the next search, Get, Remove or SetStatus. So a search sees every Upsert
// that returned before it started, and one writer streaming moves costs a
// concurrent reader one lock hand-off per query instead of one per move.
// Sharding by region was considered and rejected: a 10-nearest query near a
// shard edge would have to search and merge several shards, and a city's
// drivers would still crowd one shard. Filters run under the read lock and
// must not call the Index's write methods.
package geo
