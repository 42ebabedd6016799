package geo_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/blueprint-go/blueprint/geo"
)

// The package's own benchmarks, on 100k drivers in an NYC-sized box; the
// 1M-driver workloads beside tidwall/rtree and paulmach/orb are in the
// benchmarks module (BenchmarkNearest, BenchmarkMove, ...).

const benchDrivers = 100_000

// nycIndex returns an index of n available drivers spread uniformly over a
// box the size of New York City, and the positions it used.
func nycIndex(b *testing.B, n int) (*geo.Index, []geo.LatLng) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	x := geo.NewIndex(geo.Options{StaleAfter: -1})
	pos := make([]geo.LatLng, n)
	for i := range pos {
		pos[i] = geo.LatLng{Lat: 40.49 + 0.43*r.Float64(), Lng: -74.26 + 0.56*r.Float64()}
		if err := x.Upsert(geo.Driver{ID: geo.DriverID(i + 1), Pos: pos[i], Status: geo.Available}); err != nil {
			b.Fatal(err)
		}
	}
	return x, pos
}

func BenchmarkDistance(b *testing.B) {
	p := geo.LatLng{Lat: 40.7128, Lng: -74.0060}
	q := geo.LatLng{Lat: 40.7306, Lng: -73.9352}
	var sum float64
	for b.Loop() {
		sum += geo.Distance(p, q)
	}
	if sum <= 0 {
		b.Fatal("no distance")
	}
}

func BenchmarkIndexNearby10(b *testing.B) {
	x, pos := nycIndex(b, benchDrivers)
	ctx := context.Background()
	dst := make([]geo.Match, 0, 10)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		var err error
		dst, err = x.AppendNearby(ctx, dst[:0], pos[i%len(pos)], 5000, 10, nil)
		if err != nil || len(dst) != 10 {
			b.Fatalf("AppendNearby = %d matches, %v", len(dst), err)
		}
		i += 7919
	}
}

func BenchmarkIndexUpsertMove(b *testing.B) {
	x, pos := nycIndex(b, benchDrivers)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		j := i % len(pos)
		p := pos[j]
		p.Lat += 0.0001 // about 11 m north: a driver's report a few seconds later
		if p.Lat > 40.92 {
			p.Lat = 40.49
		}
		pos[j] = p
		if err := x.Upsert(geo.Driver{ID: geo.DriverID(j + 1), Pos: p, Status: geo.Available}); err != nil {
			b.Fatal(err)
		}
		i += 7919
	}
}

// BenchmarkMatch gives riders at random drivers' places a driver with a
// Matcher (8 candidates, straight-line ETA, a claim), and frees it again
// with SetStatus, so that every driver stays available: a search, 8 ETAs
// and two writes.
func BenchmarkMatch(b *testing.B) {
	const onTrip geo.Status = 2
	x, pos := nycIndex(b, benchDrivers)
	m := &geo.Matcher{Index: x, Radius: 5000, Claimed: onTrip}
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		a, err := m.Match(ctx, pos[i%len(pos)])
		if err != nil {
			b.Fatal(err)
		}
		if err := x.SetStatus(a.ID, geo.Available); err != nil {
			b.Fatal(err)
		}
		i += 7919
	}
}

// BenchmarkMovePile moves drivers within a pile of 20,000 at one point
// (phones reporting 0,0 without a fix, or a parking lot), half of them
// available: each report rewrites a driver of one oversized leaf in the
// main tree and, for an available one, its copy in the mirror's pile.
func BenchmarkMovePile(b *testing.B) {
	const pile = 20_000
	x := geo.NewIndex(geo.Options{StaleAfter: -1})
	at := geo.LatLng{}
	for i := range pile {
		if err := x.Upsert(geo.Driver{ID: geo.DriverID(i), Pos: at, Status: geo.Status(i % 2)}); err != nil {
			b.Fatal(err)
		}
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		id := geo.DriverID(i % pile)
		if err := x.Upsert(geo.Driver{ID: id, Pos: at, Status: geo.Status(id % 2)}); err != nil {
			b.Fatal(err)
		}
		i += 7919
	}
}

// BenchmarkArrivePile moves drivers between a pile of 20,000 at one point
// and another 0.1 degree away, among 10,000 drivers spread around them so
// that both lie in small cells: each arrival asks whether a pile's drivers
// all share the arrival's point, which must not cost a pass over the pile.
func BenchmarkArrivePile(b *testing.B) {
	const pile = 20_000
	x := geo.NewIndex(geo.Options{StaleAfter: -1})
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 10_000 {
		p := geo.LatLng{Lat: r.Float64() - 0.5, Lng: r.Float64() - 0.5}
		if err := x.Upsert(geo.Driver{ID: geo.DriverID(pile + i), Pos: p}); err != nil {
			b.Fatal(err)
		}
	}
	at, off := geo.LatLng{}, geo.LatLng{Lat: 0.1, Lng: 0.1}
	for i := range pile {
		if err := x.Upsert(geo.Driver{ID: geo.DriverID(i), Pos: at, Status: geo.Status(i % 2)}); err != nil {
			b.Fatal(err)
		}
	}
	away := make([]bool, pile)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		j := i % pile
		p := off
		if away[j] {
			p = at
		}
		away[j] = !away[j]
		if err := x.Upsert(geo.Driver{ID: geo.DriverID(j), Pos: p, Status: geo.Status(j % 2)}); err != nil {
			b.Fatal(err)
		}
		i += 7919
	}
}
