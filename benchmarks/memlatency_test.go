package benchmarks

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkMemLatency is not a workload but the machine's yardstick for
// the memory-bound ones: an op is one load whose address depends on the
// previous load, over a random cycle through every 64-byte line of an
// array. At 64 MiB (about the size of the geo index of 1M drivers) nearly
// every load misses the caches and waits for memory; at 4 MiB most hit.
// A geo move inside its leaf is two such misses in a row (the ID table's
// slot, then the leaf block's line), so run it beside BenchmarkMove and
// read the move's figure against twice the 64 MiB one.
func BenchmarkMemLatency(b *testing.B) {
	for _, mib := range []int{4, 64} {
		b.Run(fmt.Sprintf("%dMiB", mib), func(b *testing.B) {
			const stride = 64 / 4 // uint32 words a cache line
			lines := mib << 20 / 64
			next := make([]uint32, lines*stride)
			// The lines in a random order, each pointing to the next
			// and the last to the first: one cycle through them all,
			// so the chase never settles into a short loop that caches.
			order := make([]uint32, lines)
			for i := range order {
				order[i] = uint32(i)
			}
			r := rand.New(rand.NewPCG(3, 4))
			r.Shuffle(lines, func(i, j int) { order[i], order[j] = order[j], order[i] })
			for i, l := range order {
				next[l*stride] = order[(i+1)%lines] * stride
			}
			at := uint32(0)
			for b.Loop() {
				at = next[at]
			}
			if at%stride != 0 {
				b.Fatal("the chase left the cycle")
			}
		})
	}
}
