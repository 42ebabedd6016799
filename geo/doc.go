// Package geo is the geometry and the driver index of the ride-dispatch
// case: positions on the Earth, great-circle distance, bearings and
// destinations, the boxes that cover a circle, geohash cells, and an
// [Index] of moving drivers that finds the nearest ones exactly.
//
// To start, make an index with [NewIndex]: Options.StaleAfter (a minute
// by default) is how long a driver stays visible after its last report,
// and Options.Now is the clock. Feed it with [Index.Upsert] on every
// report, or [Index.UpsertBatch] to load a fleet at once. Ask
// [Index.NearbyAvailable] or [Index.Nearby] for the k nearest drivers, and
// [Index.AppendWithinIDs] for every driver within a radius; the package's
// Example upserts three drivers and asks NearbyAvailable for two. An
// Index is safe for concurrent use and has no Close; call
// [Index.RemoveStale] now and then to delete drivers that stopped
// reporting.
//
// When dispatch owns the status, a gateway reports positions with
// [Index.Move], which keeps it (an Upsert would overwrite a claim made
// since the gateway last looked), and a dispatcher claims a driver a
// search returned with [Index.CompareAndSwapStatus], which fails if
// another dispatcher took it first; ExampleIndex_CompareAndSwapStatus
// shows both. A [Matcher] does the dispatcher's part in one call, ranking
// the nearest available drivers by an [ETA] (see Dispatch below), and
// examples/dispatch runs a fleet that way.
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
// equatorial radius 6,378,137 m (0.11% longer); the Earth's flattening makes
// any sphere wrong by up to about 0.5%, so the choice matters only for
// agreeing with other systems. The sines of half-gaps below 1/16 radian
// (3.6°) and the arcsine of half angles below 1/64 (any distance under about
// 199 km) are evaluated by their Taylor series, which round to the same
// float64 as the true value in tests against 200-bit sums and cost a
// fraction of math.Sin and math.Asin; a city-scale search pays for one
// math.Cos per candidate and little else. (Raising the sine's bound from
// 1/64, where the 10 nearest of sparse drivers on the sphere and near the
// poles fell past it, took 1-4% off those searches.) [Bearing] and
// [Destination] are the usual great-circle formulas (Ed Williams, "Aviation
// Formulary").
//
// [Cover] returns the latitude/longitude boxes that contain a circle:
// usually one; two when it crosses ±180°, split there; one full band of
// longitude when it contains a pole (Matuschek, "Finding points within a
// distance of a latitude/longitude using bounding coordinates").
//
// [EncodeGeohash], [DecodeGeohash] and [GeohashNeighbors] implement the
// geohash.org cells, which serve as zone keys (surge-pricing zones, for
// example); they are written in lower case and read in either, and
// neighbours wrap east-west and stop at the poles. Longitude 180
// gets the cell of -180, its meridian, in the westmost column (the plain
// bisection of other libraries puts it in the eastmost, "zzz..." at the
// north pole, so they differ on points exactly on the antimeridian).
//
// # The index
//
// An [Index] keeps moving drivers: position, status, vehicle type and
// last-seen time. Drivers not seen for Options.StaleAfter (a minute by
// default) are invisible: Get and the searches leave them out,
// [Index.CompareAndSwapStatus] refuses them (a claim must not go to a
// driver that stopped reporting), and a report (Upsert, or Move with a
// recent time) brings them back. [Index.SetStatus] still sets a stale
// driver's status, so that the end of a trip that outlasted a driver's
// reports frees it when it reports again. [Index.Remove] deletes one like
// any other, and [Index.RemoveStale] deletes them all.
//
// A driver is one 24-byte entry in a leaf of a quadtree: its position,
// its ID and one word packing the last-seen time in milliseconds, the
// vehicle and the status. There is no other per-driver record: every
// extra place a driver lives in is one more cache miss on the way to it,
// and with the index far larger than the CPU's caches each dependent miss
// costs 130-200 ns on the machine the figures below come from
// (BenchmarkMemLatency in the benchmarks module measures it).
//
// Positions are stored as int32 multiples of 1e-7 degree (1.1 cm at the
// equator, OpenStreetMap's fixed point), latitude and longitude packed in
// one uint64. [Index.Get] and every search return the stored, rounded
// position, and their distances are those of [Distance] to it.
//
// The main tree is a point quadtree over integer (longitude, latitude) in
// a chunked node array (chunks of 1,024 nodes that never move, so a node's
// index is stable). A node is the 24 bytes searches read: a sequence
// number, the first child, occupancy and the leaf's block; searches
// compute each cell's box from its parent's on the way down. Beside the
// chunks the writer keeps dense arrays of its own, 44 bytes a node: a
// directory of the leaves' blocks (the block, its capacity and the mirror
// hint below), a copy of the children (4 bytes), each node's parent and
// (a leaf's) driver count, and its box. Being small, they tend to stay in the CPU's
// caches where a node with all of them would not: a move inside a leaf
// reaches its block through the directory without loading the node, and
// a descent reads 4 bytes a level (one flat array: only the writer
// reads it, so it may move as it grows) and computes the boxes instead
// of loading a node per level, without a branch on which side of the
// midlines the point lies (as likely one way as the other, so a branch
// there is guessed wrong half the time). A one-at-a-time insert in New
// York, 18 levels deep, cost 10% more with a branch, a call and a chunk
// pointer's load a level (408 against 368 ns, the medians of five
// interleaved runs, p = 0.008; 356 against 331 on the sphere, within
// noise; searches, which descend to the query's leaf the same way,
// within noise).
//
// A main-tree leaf holds up to 96 entries in a block whose capacity is a
// multiple of 8: one allocation holding its capacity and count, the leaf's
// box (for the writer), the packed positions, then the (ID, meta) pairs, so
// that a search screens the positions densely and reads a hit's ID and meta
// from one line of the same block. Blocks are recycled. A full block grows
// by 8 entries up to 48 and then by about a quarter (64, 80, 96, 128), and
// shrinks only when its leaf falls a step below the class under the one it
// grew to (a block of 96 at 72 drivers, to one of 80), so a count going to
// and fro does not copy it each time: a leaf filling from 24 after a split
// to 96 copied 504 entries, 7 an insert, in steps of 8 and copies 288
// (inserts 5-16% faster by the medians of interleaved A/B runs; 1.4 bytes a
// driver more; growing by a third or a half, 32-48-64-96, copied 2.3 an
// insert but cost 7.3 bytes a driver and measured no faster). A leaf splits
// when a 97th driver arrives unless it and all the leaf's drivers share one
// point (such a leaf grows instead, and splits as soon as one of its drivers
// moves away inside it; a flag the writer keeps per leaf says so, so a
// driver arriving at a pile of 20,000 took 0.5 µs, not the 13 µs of
// comparing it with the pile), and a subtree collapses into one leaf when it
// holds fewer than 8, which is hysteresis enough that a driver moving to and
// fro does not split and merge cells. So every internal node holds at least
// 8 drivers, and only leaves keep a count: adding or removing a driver
// changes its leaf's count and no other, and a removal decides on a collapse
// from the counts of the four leaves under the leaf's parent (a parent with
// an internal child holds enough). When every node kept a count, raised
// along the whole path to the root, an insert cost 16% more in New York (the
// medians of eight interleaved A/B runs, 708 ns against 596; the path from
// the whole world to a city is long), and the same within noise on the
// sphere (546 against 534). A node tells searches whether it may hold a
// driver: a leaf while it holds one, an internal node always.
//
// A cell splits into four quadrants, as in any quadtree, except near the
// poles. There a square in degrees is a thin wedge on the ground (the
// world is 360° by 180°, so every quadrant spans twice as many degrees of
// longitude as of latitude: at 88° it is 0.07 times as wide as it is
// tall), and a round search circle crosses many of them. So a cell that
// is narrower, at its latitude edge nearer the equator, than it is tall
// splits into four latitude bands instead, each four times squarer than
// a quadrant would be. The choice is a function of the cell's integer box
// (a table of the latitudes where cos φ = 2^-k, indexed by the log2 of
// the ratio of its sides, and a few comparisons), so the writer and the
// lock-free readers agree on it without storing it; no cell south of 60°
// splits into bands, so New York's tree is a plain quadtree's. A tree is
// at most 47 levels deep (46 splits: a cell must pass three quadrant
// splits to clear the equator and 60° before it can split into bands,
// and at most 14 band splits follow), within the 48 the code allows for.
//
// An open-addressing table maps each ID to its leaf's node index in about 8
// bytes a driver (linear probing; rebuilt from the leaves when live slots
// and tombstones fill 3/4 of it, at twice the size if live ones fill half;
// UpsertBatch makes room for its new drivers at once and may leave live ones
// filling up to 3/4, until an insert finds it full and doubles it). A 32-bit
// slot holds the node index, a 7-bit hint at the driver's slot in the leaf
// and a tag from the ID's hash (8 bits at 1M drivers in New York, whose
// 84,000 nodes take 17 bits, one fewer each time the node index needs
// another bit; past 2^25 nodes none is left, and lookups stay right but read
// every leaf a probed slot names), so a lookup reads one leaf (the tags rule
// out the others) and checks the ID at the hinted slot. The hash is keyed
// with a random seed per Index (the ID xor the seed through SplitMix64's
// finalizer), because IDs come from outside: under a fixed hash, IDs chosen
// to share a home and a tag sent every probe down one run, and 3,000 of them
// at one point took seconds to insert (TestIDTableResistsChosenIDs). A slot
// changes only when its driver changes leaf: a removal that moves the leaf's
// last entry into its hole leaves that entry's hint stale, and the next
// lookup, which then scans the leaf, repairs it. A leaf grown past 128
// entries (a pile of drivers at one point: phones reporting 0,0 without a
// fix, a parking lot) has more slots than the hint can name, and the writer
// keeps a map from (leaf, ID) to slot for its entries beyond the 128th, in
// the main tree and the mirror: a report from a driver in a pile of 20,000
// took 7.4 µs scanning the pile, 0.19 µs with the map. Slots do not say
// which driver they belong to, so deletions leave tombstones, cleared by
// those rebuilds. Neither the table nor the node array shrinks when drivers
// leave: both stay sized for the most drivers the index has held at once,
// ready for them to come back.
//
// A mirror tree of the same kind, in the same node array, holds a copy of
// each available driver's entry, kept equal to it (a move rewrites the
// copy's last-seen time too). The table does not say where a copy is: the
// writer finds its leaf by the driver's position and its slot by scanning
// that leaf's IDs (at most 64; in a pile, up to 128 and then the map above),
// so the mirror costs nothing per busy driver (about 4.5 bytes a driver at
// 10% available), and a move of an available driver costs a second, cheaper
// update. Mirror leaves split at 64 entries: when main leaves split at 32,
// raising the mirror's from 32 to 64 made NearbyAvailable 12% faster on the
// sphere and 8% in New York (its drivers are ten times sparser, so a
// 10-nearest search spans about three times the distance and more cells).
//
// Main leaves split at 96, not 32, for moves: a driver that changes leaf
// costs a second block, a walk up to the common cell and a table write,
// about 370 ns, and in New York a quarter of the benchmark's moves did so
// with leaves of 32 (25.7%; 48 gave 25.6% and 64 23.3%, since the
// quadtree's levels set leaf sizes in steps of four; 96 gave 13.3%).
// Measured A/B, interleaved, on a busy VM: moves 26-30% faster in New
// York and 13-19% on the sphere, 10-nearest 2-11% faster, a 2 km radius
// 16-26% faster, a 200 km radius on the sphere 6% slower (larger leaves on
// the circle's edge), and 8.7 bytes a driver less (fewer nodes and block
// slack). 128 measured the same as 96 but with a 10% slower sphere
// radius; 384, four times 96 and so, where drivers are spread evenly,
// one level up, made inserts 17% faster in New York and 25% on the
// sphere and New York moves 8% (within noise), but 10 nearest 42-49%
// slower (5.6 µs in New York, past its target), radii 18-34% slower and
// the index 51.7 bytes a driver (four interleaved rounds each).
//
// Each main-tree leaf remembers the mirror leaf where its drivers'
// copies were last found and the writer descends from there when that
// node is still live and holds the point (the mirror's cells partition
// the world, so the copy's leaf lies below it): walking the dozen levels
// from the mirror's root took a quarter of a New York move's time.
//
// Costs, with n drivers and the tree's depth d (about 18 for a city of a
// million drivers, most of it the path from the whole world down to the
// city): Upsert or Move of a busy driver that stays in its leaf is a table
// lookup and two stores (an available one also finds its copy, usually at
// the mirror leaf its leaf remembers, O(d) at worst); a move to another leaf
// walks up to the lowest common cell and down again, O(d), and rewrites the
// driver's table slot; a split or a collapse rewrites the slots of the up to
// 96 drivers it moves; insert, Remove, SetStatus and CompareAndSwapStatus
// are O(d); Get is O(1) (a lookup by ID reads at most 128 IDs of a leaf,
// which holds at most 96 unless its drivers share one point, and finds those
// of such a pile beyond the 128th by one map lookup, except when the tags of
// two drivers collide on a pile, rare, and then it scans the pile); Nearby
// and NearbyAvailable visit O(d + k) cells; AppendWithinIDs O(d + cells on
// the circle's edge + hits); RemoveStale O(n). The index measured 48 bytes
// per driver with 1,000,000 drivers in New York, 10% available: the main
// tree's entries 29.9 (24 at 83% fill), the ID table 8.4, the nodes of both
// trees 4.1, the mirror tree's entries 2.9, and the rest the allocator's
// rounding of block sizes; with the mirror's leaves of 64 49.8; with the
// writer's dense arrays (84,000 nodes of 68 bytes in all instead of 56) and
// the box in each block's header 51.2; with main leaves of 96 42.5; with
// blocks growing by a quarter past 48 entries 43.9. (With a 24-byte record
// per driver and 12-byte entries it was 54.)
//
// # Search
//
// [Index.Nearby] is exact by great-circle distance, not by flat degrees.
// It is the incremental nearest-neighbour search of Hjaltason and Samet
// ("Distance browsing in spatial databases", ACM TODS 24(2), 1999): cells
// and driver entries share one priority queue, cells keyed by a lower bound
// of the haversine over the cell and entries by their exact haversine, so
// drivers come off the queue in order of distance. An entry that makes the
// queue has its ID and meta read from its block right then (a stale one
// is left out), so a search reads nothing outside the blocks it screens,
// and the caller's filter runs only on the drivers that come off the
// queue. With no filter it also keeps the k smallest keys seen so far
// (upper bounds, a few multiplications each, good to a relative 1e-4 in a
// city) and stops queueing anything beyond the k-th; should a driver then
// be rejected (seen twice) it runs again without that cut.
// It reads the leaf holding the center first, and then starts from the
// smallest cell on the way down to it that holds the circle spanned by
// that leaf's k nearest, not from the root (for a circle across ±180°,
// from the smallest cell holding each of its two boxes, which cut
// antimeridian searches by about 5%): with 1,000,000 drivers in New
// York a 10-nearest search then takes about 8 internal cells from its
// queue instead of 20, and queues 9 cells instead of 43. Within a leaf a
// lower bound fixed per leaf (four multiplications per driver) spares
// most drivers their exact haversine.
//
// The cell bound is built from the latitude gap, the longitude gap taken the
// short way round the sphere (so cells across the antimeridian are near) and
// the cosine of the cell's latitude edge farther from the equator, using sin
// x >= x - x³/6 and an angle-sum bound on the cosine instead of
// trigonometric calls. For a cell reaching nearer a pole than the center,
// the latitude gap and the cosine are bounded jointly (a quadratic in the
// extra latitude), because taken apart the cosine bound drops to zero near a
// pole and the longitude gap is lost: that made a 10-nearest search at lat
// 86-90 cost 37 µs instead of 7 µs with 1,000,000 drivers. The bound is then
// tight (no leaf a polar search reads lies beyond the 10th distance), but
// with quadrants alone it still cost 8.5 µs there against 4.7 µs elsewhere
// on the sphere: near a pole quadrants are narrow wedges, the 40 km circle
// of a 10-nearest search spans 20° to 90° of longitude, and the search read
// 12.9 leaves instead of 3.3. With the cells there split into latitude bands
// (see the tree above) it reads 3.7 leaves and costs 4.5 µs, as much as
// elsewhere, and a search for the nearest available 5.8 µs instead of 8.5.
// The planar peers measured in the benchmarks module rank by flat degrees
// and get about 1 in 10 of their 10 nearest wrong in New York and 2 in 10
// over the whole sphere; the tests check Nearby against brute force at lat
// ±89.99, lng ±179.99, circles around the poles and radii up to 20,000 km.
//
// [Index.NearbyAvailable] runs the same search over the mirror tree.
// Dispatch asks for the nearest available drivers far more often than for
// any driver, and when one in ten is available a search of the main tree
// would enter about three times as many leaves to collect them: keeping
// the available drivers first in each leaf with a flag per subtree was
// tried and measured no faster than Nearby (per-cell counts alone, in an
// earlier design, cost 27 µs for the 10 nearest of 1,000,000 drivers
// because every record of each leaf was read).
//
// [Index.AppendWithinIDs] lists the IDs of the drivers in a circle
// without their distances, which is what a count or a dispatch fan-out
// needs. A cell whose four corners lie inside the circle (for cells within
// 90° of longitude of the center the distance over a cell peaks at a
// corner) hands over its IDs with no per-driver test, eight leaves at a
// time so that the misses on their blocks overlap; drivers of cells on
// the circle's edge compare their haversine with bounds a relative 1e-9
// either side of the radius's, computing an exact distance only in
// between. [Index.AppendWithin] computes every hit's exact distance and
// returns the whole driver, for callers that filter.
//
// Measured with 1,000,000 drivers on the benchmarks module's datasets
// (its geo_test.go: a New York-sized box and the whole sphere, 10%
// available), beside tidwall/rtree and orb/quadtree, which are inexact, on
// a quiet 2-core VM on 2026-11-26 between 16:08 and 16:28 UTC, the
// fastest of eight samples in four runs (the mixed rows: 3 s of one
// goroutine moving drivers and one running 10-nearest searches, the peers
// behind a sync.RWMutex; the load row: UpsertBatch, the peers, which have
// no bulk load, one at a time). The insert row is the cost of filling an
// empty index one Upsert at a time, per driver. This VM's memory latency
// moves by the hour, for the peers too: BenchmarkMemLatency, one
// dependent cache miss, read 133-158 ns in these runs and 155-193 earlier
// that afternoon, when every library's memory-bound rows read 7-20%
// slower; the slowest samples of these runs are in the README.
//
//	                          blueprint         rtree             orb
//	                          nyc     sphere    nyc     sphere    nyc     sphere
//	insert (ns a driver)      331     285       552     593       366     340
//	load 1M (ns a driver)     138     127       521     534       326     358
//	move (ns, 0 allocs)       451     347       1224    1175      1659    1488
//	10 nearest (µs)           3.7     3.7       12.3    11.8      9.3     9.0
//	  recall                  1.000   1.000     0.935   0.830     0.920   0.830
//	10 nearest available (µs) 3.0     3.7       31.1    29.2      43.9    31.3
//	radius 2 km / 200 km (µs) 108     15        437     25        1826    71
//	mixed: moves/s            2.15M   2.46M     69k     66k       70k     88k
//	mixed: 10-NN queries/s    291k    257k      55k     58k       64k     79k
//	memory (bytes/driver)     44.0              79.0              81.1
//
// On the sphere, by kind of query (on a busier VM, before the last
// tuning of the cell bounds), 10 nearest cost 4.6 µs in general, 3.8
// within 1° of ±180° and 4.5 above 86° (8.3 with quadrants only);
// nearest available 4.5, 5.3 and 5.8 (8.5 with quadrants only). The
// available drivers are ten times sparser, so their 10 nearest span
// about three times the distance and more cells; since the mirror tree's
// leaves split at 64 instead of 32 that search reads fewer of them and
// costs 12% less (4.5 to 3.9 µs on the sphere, 3.5 to 3.1 in New York).
//
// At 10,000,000 drivers on the sphere (10% available; a throwaway test,
// 2-core VM shared with other jobs, 2026-11-26, 1,000,000 in the same
// run in brackets) UpsertBatch loaded 9.7M drivers at 247-265 ns a driver
// (225-314), and 300,000 single Upserts of new drivers into the loaded
// index then cost 1.7 µs each (0.8-0.9): three dependent misses in a 410
// MB index instead of 46 MB, and the probes of an absent ID through a
// table whose tags have shrunk. Moves of ±50 m by random ID cost 0.86-0.97
// µs (0.48-0.52), a 10-nearest search 4.8-4.9 µs (4.2; ten times the
// drivers add about two levels to the descent) and the nearest available
// 4.7-5.0 µs (4.0-4.4), 0 allocations. The index held 41.2 bytes a
// driver: the node index of a table slot has grown to 21 bits (17 at
// 1M), which leaves 4 bits of tag (8 at 1M), so a probe reads the leaf
// of about one in 16 slots of other drivers it passes, and about 160
// million drivers would use up the tag bits (lookups stay right, only
// slower).
//
// Moves and inserts are bound by cache misses, not instructions: a move that
// stays in its leaf reads the ID table, then the leaf's directory entry,
// then three lines of its block (the header with the count and the leaf's
// box, the position, and the ID and meta), whose addresses the directory
// gives without waiting for the block: two dependent misses in a 50 MB
// structure and a load from a directory of 1.3 MB, which stays in cache
// better than the 4.7 MB of nodes did (loading the leaf's node made it three
// misses, and a per-driver record four). An insert reads the dense copy of
// the children on its way down, which stays in cache, and then takes the
// misses on the leaf's node (its sequence number), its directory entry, its
// block and the table slot. A probe issued before the descent holds up the
// leaf's loads until its miss is served: what the CPU runs ahead past a
// probe is thrown away when the probe's branches (empty slot or not, tag or
// not, which depend on the missing value) were guessed wrong, as they often
// are while the table fills, and in New York, 18 levels deep, the descent
// alone is about as many instructions as a core keeps in flight (320 on this
// VM's Zen 4). When the last Upsert inserted (a fleet coming online, a load
// without UpsertBatch), Upsert therefore descends to the new position's
// leaf, starts loading its lines, and probes the table after. Interleaved
// A/B, six rounds, 1,000,000 drivers: inserts 558 to 492 ns in New York and
// 524 to 445 on the sphere (medians, p = 0.013 and 0.009), moves unchanged;
// probing the table first and descending while its miss was under way had
// measured no faster. On amd64 every atomic store is a locked instruction,
// after which no load starts until it completes, so the writer first loads
// every line an insert or a move to another leaf will store to and lets
// those misses overlap (a split, the table slots of the up to 96 drivers it
// moves: loading 1M drivers spent 27 ms in splits in New York and 50 on the
// sphere before, 23 and 30 after). In New York about one move in eight
// crosses into another leaf, which costs a second block, a second node and a
// table write. Measured A/B on a busy VM (1,000,000 drivers, interleaved,
// the faster of three runs), these arrays took a move from 666 to 566 ns in
// New York and from 479 to 405 ns on the sphere, and an insert from 754 to
// 674 ns and 632 to 507 ns; taking the box out of the node then made moves
// another 7 to 10% faster and 10-nearest searches about 10% (four sibling
// nodes fill 96 bytes instead of 224), nearest-available searches unchanged.
// Keeping the directory to 8 bytes a node (the capacity tagged into the
// block address), padding nodes to 32 bytes so none straddles two cache
// lines, starting each insert's descent where the previous one left the
// common path, and (when every node kept a count) raising the counts along
// the path the descent recorded instead of walking up the parents were tried
// and measured no faster. Nor were moves faster when the writers' mutex was
// taken after the table slot's load had been issued (so that its miss
// overlapped the caller's), when a move to another leaf loaded the target
// leaf's lines while the driver's entry was still loading, with transparent
// huge pages (THP set to always: 6-8% by the medians, within noise; the Go
// runtime does not ask for them), when a lookup also loaded the line of the
// position at the hinted slot, when the mirror copy was found by screening
// the mirror leaf's positions (8 bytes an entry) instead of its IDs (16), or
// when the writer told mirror nodes by their directory entry instead of
// loading the node, when an available driver's move started loading its
// mirror leaf's block as soon as the table slot named the driver's leaf, or
// with the ID table twice as sparse (16 MB at 1M drivers: 7.5% slower,
// within noise) or nearly full (4 MB at 95%, which would sit in this VM's
// share of the cache more often: 4% slower, within noise), or when a move to
// another leaf descended from the root instead of walking up to the common
// cell (4% slower, within noise). A move inside its leaf waits for two
// dependent misses, the table slot and then the block's line, with the
// leaf's directory entry (an L3 hit at best) between them:
// BenchmarkMemLatency in the benchmarks module measures one miss (a chase
// through 64 MiB), 133-193 ns on this VM depending on the hour, so 266-386
// ns of such a move are the memory's; the same moves with every line in
// cache (10,000 drivers) cost 64 ns. An insert's chain is the descent, the
// directory entry and the block. Inserts were no faster with the leaf's
// count in its directory entry (one line instead of two for touchAdd), with
// blocks that grow copied by plain stores into newly allocated ones instead
// of recycled ones, or with the table slot loaded (without a branch on it)
// before the descent, which made them 8% slower. For nearest-available
// searches (which main leaves of 96 left unchanged, interleaved A/B against
// the leaves of 32), mirror leaves of 48, 96 or 128 measured no faster than
// 64; bounding cos φ in every leaf by its chord and tangent per entry cut
// the exact haversines of a search above 86° from 37 to 17 but made the
// others 5-15% slower (more arithmetic for each of the 90 to 140 entries a
// search screens), so it is done only in steep cells (cos φ at the far edge
// under 0.8 of the near one: near the poles) and only for the entries that
// pass the cell's constant bound, which took 9% off the nearest available
// above 86° (5.4 to 4.9 µs) and left the others within noise; keeping a
// leaf's screened entries in one slice of structs instead of four slices
// took 4% off the nearest available on the sphere; queueing entries by their
// lower bound and computing the haversine only when one comes off the queue
// measured no faster (2% less for 10 nearest in New York, 2% more for the
// nearest available on the sphere); and serving the center's side of a
// circle across ±180° from the path to its leaf took 6.3 cells from the
// queue instead of 8.1 and measured no faster.
//
// # Dispatch
//
// A [Matcher] gives a rider a driver in three steps: the Candidates (8)
// nearest available drivers by great-circle distance, from one
// NearbyAvailable search; their ETAs from a pluggable [ETA], which ranks
// them; and a claim of the best with [Index.CompareAndSwapStatus], which
// turns it from Available to the Matcher's Claimed status unless another
// dispatcher claimed it since the search, in which case the next is
// tried (and after the last, a new search, up to 4 rounds). Distance is
// a poor proxy for pickup time (a river, a one-way grid, a highway on
// the other side), but a routing engine costs far more per driver than
// the index does, so the index narrows the field to a few and the ETA,
// asked once for all of them (a one-to-many travel-time query), decides.
// Without a routing engine, [StraightLine] estimates from the distance
// with a detour factor and a speed, and so ranks as distance does. The
// claim is what makes concurrent dispatchers safe: two that search at
// once find the same drivers, and a plain SetStatus would give one to
// both. A Match costs a search, the ETA, and one mutex hold per claim
// tried: BenchmarkMatch, with 100,000 drivers in New York and the
// straight-line ETA, measured 3.6-3.8 µs a Match (claim included), where
// 10 nearest alone took 3.5-3.6 µs in the same run.
//
// # Loading in batches
//
// [Index.UpsertBatch] writes many drivers at once, with the result of
// Upsert for each in turn: a dispatcher loading its fleet at start-up, a
// gateway passing on the GPS reports it gathered. One at a time, each new
// driver costs an ID-table probe, the last levels of a descent and a leaf
// block, about three dependent cache misses, and splits that rewrite up
// to 96 table slots each. The batch is validated whole first (one bad
// driver rejects it, naming its index, with nothing changed), its
// repeated IDs are reduced to their last report (a radix sort by ID hash,
// skipped when the IDs increase, as in a load from a table ordered by
// ID), and the rest are radix-sorted into the tree's order (the bits of
// the fixed-point position, scaled to the world box and interleaved, agree
// with the tree's quadrants except within a few units of a cell edge).
// Consecutive drivers then share a descent and a leaf block that are in
// cache; a leaf about to overflow splits once before they arrive, not
// once per 96 arrivals; and the table slots of new drivers are written
// after their leaves have settled, so no split rewrites them. The
// table's slots for a chunk are loaded all at once first, so their cache
// misses overlap.
//
// Loading the benchmarks' 1,000,000 drivers into an empty index cost
// 138-176 ns a driver in New York and 127-156 on the sphere, against
// 331-430 and 285-401 for Upsert one at a time (table above); with the
// IDs shuffled, which the deduplication then sorts, 45 to 90 ns more
// (measured on a busy VM). About
// a third of it is the validation and the sort, the rest the tree and
// the table. A batch of 10,000 reports from moving drivers applied to
// 1,000,000 costs 20-40% less than as many Upserts: they land
// in different leaves, so only the table probe and the upper levels of
// the descent are saved. The index a load builds is a little smaller
// (about 1 byte a driver, measured before the writer's dense arrays): each
// leaf gets a block sized for its drivers at once. Scratch buffers (64 bytes
// a driver while the call runs) are kept for the next call, so a batch
// allocates nothing but what the tree itself grows.
//
// A batch takes the writers' mutex for 512 drivers at a time (about 30 µs
// of new drivers or 250 µs of moves; the chunk that grows the ID table
// also rebuilds it from the tree, as an Upsert that grows it does: 28 ms
// at 1M drivers, 46 ms when it doubles) and lets go of it in between, so a
// fleet load does not hold up other writers, Get, or searches that fall
// back to the mutex. A search running meanwhile has the guarantees it
// has beside Upsert (each driver as it was or as the batch leaves it, no
// driver that stays within its circle missed, none returned twice) and
// may find the batch partly applied, in the tree's order, not the
// batch's.
//
// # Concurrency
//
// An Index is safe for concurrent use. Writers (Upsert, UpsertBatch,
// Move, Remove, SetStatus, CompareAndSwapStatus, RemoveStale) are
// serialised by one mutex, which [Index.Get] takes too. Searches take no lock at all: every word they read is an
// atomic (on amd64 a plain load), and they validate what they read.
//
//   - A leaf carries a sequence number, odd while the writer adds, removes
//     or reorders its entries; a radius search reads a leaf again if the
//     number changed while it read it, and a nearest search starts over.
//     A move inside one leaf stores the meta and then the position and
//     needs none: a search may pair the new position with the old meta
//     or the reverse, both true of the driver a moment apart.
//   - A move between leaves adds the driver to its new leaf before it
//     removes it from the old one, and a global move counter is odd
//     during such a move. Adding first does not suffice: a search may read
//     the new leaf just before the move and the old one just after. So a
//     search records the seq of each leaf it reads and each cell it skips
//     as empty, and if the move counter was odd or changed while it ran,
//     it checks them again at the end: a leaf whose seq moved, or an empty
//     cell that filled, makes it start over (an attempt like any other, so
//     the mutex still bounds it). What holds: a search misses no driver
//     that stays within its circle (for a nearest search, nearer than its
//     last result) while it runs. It may see a driver twice and keeps the
//     nearer copy. Cells it passed over for their distance are not
//     checked: a driver that moved there is no nearer than its results.
//     With one goroutine moving 1,000,000 New York drivers as fast as it
//     could (0.7 to 1.5 million moves a second), this restarted about 1
//     in 8,000 10-nearest searches and 1 to 20 in 100 radius searches of
//     2 km (5,900 drivers), and none reached the mutex.
//   - A removal changes one leaf, under its sequence number, and bumps
//     the move counter, because the driver may come back elsewhere while
//     a search runs (so does a status change that deletes a mirror copy).
//   - Splits and merges change a generation counter; a search that sees
//     it change starts over. They are rare next to moves. A search that
//     finds the generation odd yields until the change is done instead of
//     spending an attempt on it; after four attempts it takes the
//     writers' mutex and runs undisturbed, so a storm of splits and
//     merges, or of moves among the leaves of a large search, cannot
//     starve it. In that fallback it waits for the mutex
//     like a writer: for one batch of [Index.RemoveStale] (at most 256
//     deletions or 4,096 entries read, about 170 µs, even inside a pile
//     of drivers at one point) when a sweep runs, as the sweep lets go of
//     the mutex between batches.
//
// So searches wait for writers only briefly (a split or merge under way,
// or the fallback), and writers wait for searches only in the fallback:
// with one goroutine moving drivers as fast as it can
// and one running 10-nearest searches on 1,000,000 drivers, both keep
// close to their single-threaded pace (1.5 to 2.2 million moves and
// 250,000 to 290,000 searches a second in New York on a quiet VM).
// Designs where readers and
// writers exclude each other let an unthrottled writer hog the lock: the
// previous Index, a [sync.RWMutex] over two trees with batched upserts,
// managed 8,800 searches a second under the same load, and the peers
// behind a sync.RWMutex about 50,000 moves and searches a second.
//
// Filters run inside the search, without a lock, but must not call the
// Index's write methods or Get (a search that falls back to the mutex
// would deadlock). Sharding by region was considered and rejected: a 10-nearest
// query near a shard edge would have to search and merge several shards,
// and a city's drivers would still crowd one shard.
//
// Package geo does not use package quadtree: lock-free reads need atomics
// in every word a search reads, sequence numbers in leaves and a
// generation counter, which a generic single-threaded tree should not
// carry.
package geo
