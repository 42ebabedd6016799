// Package quadtree is a planar point quadtree of moving objects keyed by ID:
// insert, move, remove and look up by ID, list the objects in a rectangle,
// and find the k nearest under a distance the caller supplies.
//
// It is a general planar index. A nearest search takes a [Metric] from the
// caller: a distance and a lower bound of it over a cell. [Euclidean] is
// provided; a great-circle metric over longitude and latitude is the
// caller's to write, with a bound that never exceeds the distance of any
// point in the cell. Package geo, the ride-dispatch index of moving
// drivers, does not use it: it is built for its own case (concurrent
// lock-free searches, fixed-point positions, a second tree of available
// drivers) on the same ideas.
//
// # Design
//
// A [Tree] covers a fixed rectangle. Every cell is half-open ([min, max))
// except along the tree's outer max edges, so each point of the bounds
// belongs to exactly one leaf, points on cell edges included. A leaf holds
// its objects in one flat slice of (point, ID, value) records, so a search
// scans contiguous memory, and a map from ID to (leaf, slot) finds an object
// without searching the tree. Removing from a leaf swaps the last record
// into the hole and fixes that record's map entry, so it costs O(1).
//
// A leaf splits into four when it passes Options.LeafSize objects (32 by
// default) unless it is at Options.MaxDepth or all its objects share one
// point; then the leaf just grows (it doubles the threshold each time it
// finds it cannot split, so a thousand drivers waiting at one airport stand
// cost O(1) amortised per insert, not an endless cascade of splits), until
// an object arrives elsewhere in its cell or one of its objects moves away
// inside it: then it splits at once, down to the cell that parts them. When a
// cell's subtree falls to 3/4 LeafSize objects it merges back into one
// leaf; the gap between 32 and 24 stops a driver that crosses a cell edge
// back and forth from splitting and merging every time. A leaf that empties
// to a quarter of its capacity moves down a capacity class (see Memory), or,
// grown past twice LeafSize by a pile, gives half of it back. Released
// cells go on a free list and are reused, so memory does not creep under
// churn; the cell array, the free list, the spare leaf storage and the ID
// map keep the size of the largest population, as a Go map does.
//
// The value V travels with the point: a filter given to [Tree.Nearest] reads
// it from the record being scanned, with no second lookup (a driver's
// status, vehicle type and last-seen time packed in one uint64, say).
//
// A tree made by [NewMarked] also counts, in every cell, the objects whose
// value a mark function accepts, and keeps each leaf's marked records
// before its others. [Tree.NearestMarked] then skips cells without a
// marked object and scans only the marked records of the others. This pays
// when marked objects cluster (cells without any are common); when they
// are spread thin, as available drivers among busy ones are, almost every
// leaf holds one, and a second tree of just those objects is faster — the
// choice package geo's own index makes.
//
// # Costs
//
// With n objects and depth d (about log4(n/16) for spread-out data, at most
// MaxDepth):
//
//   - [Tree.Get], [Tree.Len]: O(1). [Tree.Update]: O(1), or O(d) in a
//     tree made by [NewMarked] when the value's mark changes.
//   - [Tree.Move]: O(1) when the new point is in the same leaf (the common
//     case for a vehicle reporting every few seconds), otherwise O(d): it
//     walks up to the smallest cell that holds the new point and down again,
//     never searching for the old point.
//   - [Tree.Insert], [Tree.Remove]: O(d), plus O(LeafSize) amortised for
//     splits, merges and changes of a leaf's capacity class.
//   - [Tree.Set], [Tree.Swap]: an Insert or a Move, after one map lookup.
//   - [Tree.Range]: O(d + cells visited + objects reported).
//   - [Tree.Walk]: one classify call per non-empty cell it reaches, none
//     below a cell ruled Inside; for a circle O(d + cells along its edge +
//     objects reported).
//   - [Tree.Nearest]: best-first search (Hjaltason and Samet, "Distance
//     browsing in spatial databases", ACM TODS 1999); it visits the cells
//     whose lower bound is below the k-th distance, about O(d + k) cells for
//     spread-out data. It does not allocate when dst has room for k results.
//     [Tree.NearestMarked] is the same search over the marked objects only.
//
// # Memory
//
// A split leaves four leaves of about LeafSize/4 objects, so leaves with a
// fixed room for LeafSize records were measured 41% full in a tree of
// 1,000,000 objects. Leaf storage therefore comes in three capacity
// classes, LeafSize/4, LeafSize/2 and LeafSize: a leaf moves up a class
// when full and down one when a removal leaves it a quarter full, and an
// object crossing a cell edge back and forth cannot make its leaves switch
// class on every move. In a tree of 1,000,000 uniformly spread objects
// with LeafSize 16 (what package geo used) that keeps leaves 79% full as
// built and 65% once every object has moved twice; with the default 32,
// 71% and 53%. Storage a leaf gives up is cleared and kept in a per-class
// spare list for the next leaf that needs it, so steady churn allocates
// almost nothing (moves measure 0 allocs/op). For 32-byte records (a
// point, a uint64 ID and a uint64 value) that is 41 bytes of leaf storage
// per object as built at LeafSize 16 (45 at 32) instead of 79; the ID map
// (16-byte slots) and the cells (80 bytes each, about one per five objects
// at LeafSize 16, one per eleven at 32) come on top. TestDocFigures checks
// these figures.
//
// The package's own benchmarks (go test -bench . in this directory)
// measure its speed; package geo's documentation and the benchmarks
// module compare geo's index with tidwall/rtree and orb's quadtree.
//
// # Concurrency
//
// A Tree is not safe for concurrent use. Its read-only methods (Get, Len,
// Bounds, Range, Walk, Nearest and NearestMarked) may run in parallel with
// each other, but not with Insert, Set, Swap, Move, Update or Remove:
// guard a shared Tree with a sync.RWMutex (package geo's Index is the
// concurrent index for moving drivers).
//
// # Errors
//
// Points with a NaN or infinite coordinate are rejected with
// [ErrInvalidPoint], points outside the bounds with [ErrOutOfBounds], IDs
// not equal to themselves (NaN) with [ErrInvalidID]; an operation that
// fails leaves the tree unchanged.
package quadtree
