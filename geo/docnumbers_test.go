package geo

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"
)

// TestDocNumbers checks the figures of the package documentation that
// follow from the code's constants and layouts rather than from a
// measurement, so that a change to one of them shows up here.
func TestDocNumbers(t *testing.T) {
	eq := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %v, doc.go says %v", what, got, want)
		}
	}
	within := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s: %v, doc.go says %v", what, got, want)
		}
	}
	// Layouts: a 24-byte entry, a 24-byte node, 44 bytes a node in the
	// writer's dense arrays, 64 bytes a driver of batch scratch.
	eq("entry bytes (position, ID, meta)", 3*unsafe.Sizeof(uint64(0)), uintptr(24))
	eq("node bytes", unsafe.Sizeof(node{}), uintptr(24))
	eq("dense bytes a node", unsafe.Sizeof(leafRef{})+unsafe.Sizeof(int32(0))+unsafe.Sizeof(up{})+unsafe.Sizeof(ibox{}), uintptr(44))
	eq("batch scratch bytes a driver", 2*unsafe.Sizeof(batchEnt{}), uintptr(64))
	// Leaves, blocks, piles, batches, sweeps, searches.
	eq("leafMax", leafMax, 96)
	eq("mergeBelow", mergeBelow, 8)
	eq("mirrorLeafMax", mirrorLeafMax, 64)
	eq("pileFrom", pileFrom, 128)
	eq("hint bits", hintBits, 7)
	eq("maxDepth", maxDepth, 48)
	eq("nodeChunk", nodeChunk, 1024)
	eq("staleBatch", staleBatch, 256)
	eq("staleScan", staleScan, 4096)
	eq("batchChunk", batchChunk, 512)
	eq("maxTries", maxTries, 4)
	eq("leafBatch", leafBatch, 8)
	var caps []int32
	for c := int32(8); c <= blockMax; c = growCap(c + 1) {
		caps = append(caps, c)
	}
	eq("block classes", len(caps), 10)
	if !(caps[5] == 48 && caps[6] == 64 && caps[7] == 80 && caps[8] == 96 && caps[9] == 128) {
		t.Errorf("block classes %v, doc.go says by 8 up to 48, then 64, 80, 96, 128", caps)
	}
	eq("a block of 96 shrinks at", shrinkAt(96), int32(72))
	eq("to a block of", blockCap(shrinkAt(96)+blockStep), int32(80))
	copies := func(grow func(int32) int32) (n int32) {
		for c := int32(24); c < leafMax; c = grow(c + 1) {
			n += c
		}
		return n
	}
	eq("entries copied filling 24 to 96 by 8", copies(func(n int32) int32 { return blockCap(n) }), int32(504))
	eq("entries copied filling 24 to 96", copies(growCap), int32(288))
	// Table slots: node index, 7-bit hint and tag share 32 bits; none of
	// the tag is left past 2^25 nodes.
	// The node bits reserveNodes settles on for New York's 84,000 nodes
	// at 1M drivers, and the tag bits they leave.
	tb := idTable{nbits: 9}
	tb.widen(84_000)
	eq("node bits at 84,000 nodes", tb.nbits, uint(17))
	eq("tag bits at 1M drivers in New York", 32-hintBits-int(tb.nbits), 8)
	eq("node bits that leave no tag", 32-hintBits, 25)
	// Positions, times, geohash cells, radii.
	m := 2 * math.Pi * EarthRadius / 360 // metres a degree of a great circle
	within("fixed-point unit at the equator, cm", 100*m/fixScale, 1.1, 0.05)
	eq("last year a meta holds", time.UnixMilli(maxSeenMilli).UTC().Year(), 10889)
	within("12-character geohash cell width, cm", 100*m*360/(1<<30), 3.7, 0.05)
	within("12-character geohash cell height, cm", 100*m*180/(1<<30), 1.9, 0.05)
	within("distance whose half angle is smallAngle, km", 2*EarthRadius*smallAngle/1000, 199, 0.5)
	within("sinSmall, degrees", sinSmall*deg, 3.6, 0.05)
	within("Redis radius, percent longer", 100*(6_372_797.56/EarthRadius-1), 0.028, 0.0005)
	within("WGS-84 equatorial radius, percent longer", 100*(6_378_137/EarthRadius-1), 0.11, 0.005)
	within("coverSlack, mm", 1000*coverSlack*m, 1, 0.15)
	within("antipodeHole, m", antipodeHole*EarthRadius, 640, 5)
	// Distance near the antipode: up to 0.3 m off (0.27 at the antipode).
	r := rand.New(rand.NewPCG(seed(t), 61))
	worst := 0.0
	for range 20_000 {
		a := LatLng{math.Asin(r.Float64()*2-1) * deg, r.Float64()*360 - 180}
		b := LatLng{-a.Lat, a.Lng + 180}
		if b.Lng > 180 {
			b.Lng -= 360
		}
		worst = max(worst, math.Abs(Distance(a, b)-math.Pi*EarthRadius))
	}
	if worst > 0.3 {
		t.Errorf("Distance to the antipode up to %v m off, doc.go says 0.27", worst)
	}
	t.Logf("Distance to the antipode at most %.3f m off", worst)
}
