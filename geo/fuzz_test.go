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

// FuzzOps applies fuzzed sequences of Upsert, Move, SetStatus,
// CompareAndSwapStatus and Remove to an index and a model map, then checks
// the index's storage invariants, Get for every driver, and Nearby,
// NearbyAvailable and AppendWithinIDs against brute force. Positions come from a small grid at the poles, the
// antimeridian and one crowded point, so cells split, merge and fill with
// duplicates. An op is three bytes (kind and low ID bits, argument, high
// ID bits): 512 IDs, enough to pass a leaf's 96 and a pile's 128.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 3, 0, 4, 5, 0, 6, 7, 0, 8, 9, 0})
	f.Add([]byte("\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0\xc0\xd0\xe0\xf0\xff"))
	// 400 drivers at and near the crowded point (150 on each of its two
	// spots, half of them available), 200 removed again, 130 re-added:
	// splits, piles past slot 128 in both trees, merges.
	var crowd []byte
	for i := range 400 {
		arg := byte(4 | i&1)
		if i >= 300 {
			arg = byte(4 + 8*(i%3))
		}
		crowd = append(crowd, byte(i&0x3f), arg, byte(i>>6))
	}
	for i := range 200 {
		crowd = append(crowd, 3<<6|byte(i&0x3f), 0, byte(i>>6))
	}
	for i := range 130 {
		crowd = append(crowd, byte(i&0x3f), 4, byte(i>>6))
	}
	f.Add(crowd)
	spots := []LatLng{{90, 0}, {-90, 180}, {0, 180}, {0, -180}, {40.7, -74}, {40.7000001, -74}, {89.99, 179.99}, {-45, 0.5}}
	f.Fuzz(func(t *testing.T, data []byte) {
		x := NewIndex(Options{StaleAfter: -1})
		m := truth{}
		seen := time.UnixMilli(1).UTC()
		for i := 0; i+2 < len(data); i += 3 {
			op, arg := data[i], data[i+1]
			id := DriverID(op&0x3f) | DriverID(data[i+2]&7)<<6
			p := spots[arg%8]
			p.Lat = max(-90, min(90, p.Lat+float64(arg/8)*1e-5))
			switch op >> 6 {
			case 0: // upsert at a spot, or near one
				d := Driver{ID: id, Pos: p, Status: Status(arg & 1), Vehicle: Vehicle(arg >> 4), Seen: seen}
				if err := x.Upsert(d); err != nil {
					t.Fatal(err)
				}
				m.put(d)
			case 1: // move there, keeping the status and vehicle
				err := x.Move(id, p, seen)
				if d, ok := m[id]; ok {
					if err != nil {
						t.Fatal(err)
					}
					d.Pos = p
					m.put(d)
				} else if !errors.Is(err, ErrNotFound) {
					t.Fatalf("Move(%d) of a missing driver = %v", id, err)
				}
			case 2:
				if arg&2 != 0 {
					from, to := Status(arg&1), Status(arg>>2&1)
					ok, err := x.CompareAndSwapStatus(id, from, to)
					d, had := m[id]
					switch {
					case !had:
						if ok || !errors.Is(err, ErrNotFound) {
							t.Fatalf("CompareAndSwapStatus(%d) of a missing driver = %v, %v", id, ok, err)
						}
					case err != nil || ok != (d.Status == from):
						t.Fatalf("CompareAndSwapStatus(%d, %d, %d) of a driver with %d = %v, %v", id, from, to, d.Status, ok, err)
					case ok:
						d.Status = to
						m[id] = d
					}
					break
				}
				st := Status(arg & 1)
				err := x.SetStatus(id, st)
				if d, ok := m[id]; ok {
					if err != nil {
						t.Fatal(err)
					}
					d.Status = st
					m[id] = d
				} else if !errors.Is(err, ErrNotFound) {
					t.Fatalf("SetStatus(%d) of a missing driver = %v", id, err)
				}
			case 3:
				_, had := m[id]
				if x.Remove(id) != had {
					t.Fatalf("Remove(%d) != %v", id, had)
				}
				delete(m, id)
			}
		}
		checkTree(t, x)
		for id := range DriverID(512) {
			got, ok := x.Get(id)
			if want, had := m[id]; ok != had || got != want {
				t.Fatalf("Get(%d) = %+v %v, want %+v %v", id, got, ok, want, had)
			}
		}
		c := spots[len(data)%8]
		for _, radius := range []float64{1, 5_000, 20_000_000} {
			for _, avail := range []bool{false, true} {
				var got []Match
				var filter func(Driver) bool
				if avail {
					got, _ = x.NearbyAvailable(context.Background(), c, radius, 5, nil)
					filter = func(d Driver) bool { return d.Status == Available }
				} else {
					got, _ = x.Nearby(context.Background(), c, radius, 5, nil)
				}
				want := bruteNearby(m, c, radius, 5, math.MinInt64, filter)
				if len(got) != len(want) {
					t.Fatalf("Nearby(%v, %v, avail %v) = %d, want %d", c, radius, avail, len(got), len(want))
				}
				for i := range got {
					if got[i].Distance != want[i].Distance || got[i].Driver != m[got[i].ID] {
						t.Fatalf("Nearby(%v, %v, avail %v)[%d] = %+v, want %+v", c, radius, avail, i, got[i], want[i])
					}
				}
			}
			checkWithinIDs(t, x, m, c, radius, math.MinInt64)
		}
	})
}
