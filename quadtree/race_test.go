//go:build race

package quadtree

// raceEnabled skips allocation counts: under -race sync.Pool drops items
// at random, so a pooled buffer is sometimes reallocated.
const raceEnabled = true
