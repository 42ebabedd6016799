package geo

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestMirrorModel applies random Upserts, UpsertBatches, Moves, SetStatus
// and CompareAndSwapStatus calls (statuses 0 to 3, only 1 available),
// Removes and RemoveStale sweeps to an index and to a model, in a small
// area so that both trees split and collapse, and after every few
// operations checks the storage, Get and Len, and that NearbyAvailable
// returns exactly what Nearby returns with a filter on the status, both
// equal to brute force.
func TestMirrorModel(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 51))
	clk := &clock{now: time.UnixMilli(1_800_000_000_000).UTC()}
	x := NewIndex(Options{StaleAfter: 10 * time.Second, Now: clk.Now})
	m := truth{}
	const ids = 600
	pos := func(r *rand.Rand) LatLng {
		switch r.IntN(6) {
		case 0:
			return LatLng{-33.9, 151.2} // a pile
		case 1:
			return LatLng{89.999 + r.Float64()*0.001, r.Float64()*360 - 180}
		}
		return LatLng{-33.9 + r.Float64()*0.02, 151.2 + r.Float64()*0.02}
	}
	driver := func(r *rand.Rand, id DriverID) Driver {
		d := Driver{ID: id, Pos: pos(r), Status: Status(r.IntN(4)), Vehicle: Vehicle(r.IntN(256)),
			Seen: clk.Now().Add(-time.Duration(r.IntN(15_000)) * time.Millisecond)}
		if old, ok := m[id]; ok && r.IntN(2) == 0 { // a short move
			d.Pos = LatLng{max(-90, min(90, old.Pos.Lat+(r.Float64()-0.5)*1e-3)), old.Pos.Lng}
		}
		return d
	}
	rounds := 300
	if testing.Short() || raceEnabled {
		rounds = 80
	}
	for round := range rounds {
		for range 1 + r.IntN(40) {
			id := DriverID(r.IntN(ids))
			switch op := r.IntN(24); {
			case op < 9:
				d := driver(r, id)
				if err := x.Upsert(d); err != nil {
					t.Fatal(err)
				}
				m.put(d)
			case op < 11:
				ds := make([]Driver, r.IntN(300))
				for i := range ds {
					ds[i] = driver(r, DriverID(r.IntN(ids)))
				}
				if err := x.UpsertBatch(ds); err != nil {
					t.Fatal(err)
				}
				for _, d := range ds {
					m.put(d)
				}
			case op < 15:
				st := Status(r.IntN(4))
				err := x.SetStatus(id, st)
				// A stale driver's status changes too (it shows if a Move
				// brings it back).
				if d, ok := m[id]; ok {
					if err != nil {
						t.Fatalf("SetStatus(%d) = %v", id, err)
					}
					d.Status = st
					m[id] = d
				} else if !errors.Is(err, ErrNotFound) {
					t.Fatalf("SetStatus(%d) of an absent driver = %v", id, err)
				}
			case op < 17:
				nd := driver(r, id)
				err := x.Move(id, nd.Pos, nd.Seen)
				if d, ok := m[id]; ok { // stale or not
					if err != nil {
						t.Fatalf("Move(%d) = %v", id, err)
					}
					d.Pos, d.Seen = nd.Pos, nd.Seen
					m.put(d)
				} else if !errors.Is(err, ErrNotFound) {
					t.Fatalf("Move(%d) of an absent driver = %v", id, err)
				}
			case op < 19:
				from, to := Status(r.IntN(4)), Status(r.IntN(4))
				ok, err := x.CompareAndSwapStatus(id, from, to)
				d, had := m[id]
				switch {
				case !had || d.Seen.Before(clk.Now().Add(-10*time.Second)):
					if ok || !errors.Is(err, ErrNotFound) {
						t.Fatalf("CompareAndSwapStatus(%d) of an absent or stale driver = %v, %v", id, ok, err)
					}
				case err != nil || ok != (d.Status == from):
					t.Fatalf("CompareAndSwapStatus(%d, %d, %d) with %d = %v, %v", id, from, to, d.Status, ok, err)
				case ok:
					d.Status = to
					m[id] = d
				}
			case op < 23:
				_, had := m[id]
				if x.Remove(id) != had {
					t.Fatalf("Remove(%d) != %v", id, had)
				}
				delete(m, id)
			default:
				clk.Add(time.Second)
				cut := clk.Now().Add(-10 * time.Second)
				want := 0
				for id, d := range m {
					if d.Seen.Before(cut) {
						delete(m, id)
						want++
					}
				}
				if got := x.RemoveStale(); got != want {
					t.Fatalf("RemoveStale() = %d, want %d", got, want)
				}
			}
		}
		checkTree(t, x)
		if x.Len() != len(m) {
			t.Fatalf("round %d: Len() = %d, want %d", round, x.Len(), len(m))
		}
		cut := clk.Now().Add(-10 * time.Second).UnixMilli()
		for id := range DriverID(ids) {
			got, ok := x.Get(id)
			want, had := m[id]
			if had && want.Seen.UnixMilli() < cut {
				had, want = false, Driver{}
			}
			if ok != had || got != want {
				t.Fatalf("round %d: Get(%d) = %+v %v, want %+v %v", round, id, got, ok, want, had)
			}
		}
		avail := func(d Driver) bool { return d.Status == Available }
		for _, c := range []LatLng{{-33.9, 151.2}, {-33.89, 151.21}, {90, 0}, pos(r)} {
			for _, k := range []int{0, 1, 7, 50} {
				for _, radius := range []float64{0, 500, 3000, 30_000_000} {
					a, _ := x.NearbyAvailable(context.Background(), c, radius, k, nil)
					b, _ := x.Nearby(context.Background(), c, radius, k, avail)
					want := bruteNearby(m, c, radius, k, cut, avail)
					if len(a) != len(want) || len(b) != len(want) {
						t.Fatalf("round %d: NearbyAvailable(%v, %v, %d) = %d drivers, Nearby filtered %d, want %d", round, c, radius, k, len(a), len(b), len(want))
					}
					for i := range want {
						if a[i].Distance != want[i].Distance || b[i].Distance != want[i].Distance ||
							a[i].Driver != m[a[i].ID] || b[i].Driver != m[b[i].ID] || a[i].Seen.UnixMilli() < cut {
							t.Fatalf("round %d: NearbyAvailable(%v, %v, %d)[%d] = %+v, Nearby filtered %+v, want %+v", round, c, radius, k, i, a[i], b[i], want[i])
						}
					}
					if k == 0 {
						ga := slices.Sorted(func(yield func(DriverID) bool) {
							for _, mt := range a {
								yield(mt.ID)
							}
						})
						gw := slices.Sorted(func(yield func(DriverID) bool) {
							for _, mt := range want {
								yield(mt.ID)
							}
						})
						if !slices.Equal(ga, gw) {
							t.Fatalf("round %d: NearbyAvailable(%v, %v) IDs differ from brute force", round, c, radius)
						}
					}
				}
			}
		}
	}
}
