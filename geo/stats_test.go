package geo

import (
	"math/rand/v2"
	"testing"
)

func TestStatsDebug(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 7))
	x := NewIndex(Options{StaleAfter: -1})
	n := 1_000_000
	for i := range n {
		_ = x.Upsert(Driver{ID: DriverID(i), Pos: LatLng{40.5 + r.Float64()*0.4, -74.25 + r.Float64()*0.55}, Status: Status(b2i(i%10 == 0))})
	}
	s := &x.st
	leaves, caps, entries, internal := 0, 0, 0, 0
	var walk func(i int32)
	walk = func(i int32) {
		nd := s.node(i)
		if c := nd.child.Load(); c >= 0 {
			internal++
			for q := range int32(4) {
				walk(c + q)
			}
			return
		}
		leaves++
		b := nd.leaf.Load()
		caps += int(b.capacity())
		bn, _ := b.count()
		entries += int(bn)
	}
	walk(0)
	for c, l := range s.freeBlk {
		t.Logf("free class %d: %d blocks", (c+1)*blockStep, len(l))
	}
	t.Logf("free groups %d", len(s.freeGrp))
	t.Logf("nodes %d (alloc %d) leaves %d internal %d caps %d entries %d fill %.2f table %d", leaves+internal, s.nnode, leaves, internal, caps, entries, float64(entries)/float64(caps), len(s.table.slots))
	t.Logf("B/driver: records 24, table %.1f, blocks %.1f + hdr %.1f, nodes %.1f",
		float64(4*len(s.table.slots))/float64(n), float64(caps*12)/float64(n), float64(leaves*32)/float64(n), float64(s.nnode*48)/float64(n))
}
