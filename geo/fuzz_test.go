package geo

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// FuzzNearby checks Nearby against brute force for fuzzed centers, radii
// and k over a fixed set of drivers crowded at the poles and the
// antimeridian, and that bad input gives the package's errors.
func FuzzNearby(f *testing.F) {
	f.Add(0.0, 180.0, 1000.0, 5)
	f.Add(89.99, -179.99, 20_000_000.0, 0)
	f.Add(-90.0, 0.0, 50_000.0, 3)
	f.Add(45.0, -180.0, math.Pi*EarthRadius, 10)
	f.Add(math.NaN(), 0.0, 1.0, 1)
	f.Add(0.0, 0.0, -1.0, 1)
	r := rand.New(rand.NewPCG(11, 12))
	now := time.Unix(1_800_000_000, 0)
	x := NewIndex(Options{Now: func() time.Time { return now }})
	m := truth{}
	for i := range 600 {
		d := Driver{ID: DriverID(i), Pos: randDriverPos(r), Status: Status(i % 2), Seen: now}
		_ = x.Upsert(d)
		m.put(d)
	}
	f.Fuzz(func(t *testing.T, lat, lng, radius float64, k int) {
		c := LatLng{lat, lng}
		k %= 50
		got, err := x.Nearby(context.Background(), c, radius, k, nil)
		if c.Validate() != nil {
			if !errors.Is(err, ErrInvalidLatLng) {
				t.Fatalf("Nearby(%v) = %v, want ErrInvalidLatLng", c, err)
			}
			return
		}
		if checkRadius(radius) != nil {
			if !errors.Is(err, ErrInvalidRadius) {
				t.Fatalf("Nearby radius %v = %v, want ErrInvalidRadius", radius, err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		want := bruteNearby(m, c, radius, k, math.MinInt64, nil)
		if len(got) != len(want) {
			t.Fatalf("Nearby(%v, %v, %d) = %d results, want %d", c, radius, k, len(got), len(want))
		}
		for i := range got {
			if got[i].Distance != want[i].Distance {
				t.Fatalf("result %d at %v m, want %v m", i, got[i].Distance, want[i].Distance)
			}
		}
	})
}
