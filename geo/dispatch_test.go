package geo

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// onTrip is a caller-defined status: stored and returned, never available.
const onTrip Status = 7

func TestMoveKeepsStatusAndVehicle(t *testing.T) {
	clk := &clock{now: time.UnixMilli(1_800_000_000_000).UTC()}
	x := NewIndex(Options{StaleAfter: 10 * time.Second, Now: clk.Now})
	home := LatLng{40.7, -74}
	if err := x.Upsert(Driver{ID: 1, Pos: home, Status: Available, Vehicle: 3}); err != nil {
		t.Fatal(err)
	}
	if err := x.Move(2, home, time.Time{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Move of an absent driver = %v, want ErrNotFound", err)
	}
	for _, bad := range []LatLng{{91, 0}, {0, 181}} {
		if err := x.Move(1, bad, time.Time{}); !errors.Is(err, ErrInvalidLatLng) {
			t.Fatalf("Move to %v = %v, want ErrInvalidLatLng", bad, err)
		}
	}
	if err := x.Move(1, home, time.Unix(-1, 0)); !errors.Is(err, ErrInvalidSeen) {
		t.Fatalf("Move seen before 1970 = %v, want ErrInvalidSeen", err)
	}
	if d, _ := x.Get(1); d.Pos != stored(home) || d.Status != Available || d.Vehicle != 3 {
		t.Fatalf("a refused Move changed the driver: %+v", d)
	}

	// Stale, then moved by a report with the clock's time: fresh again,
	// available to NearbyAvailable at its new place, same vehicle.
	clk.Add(time.Minute)
	if _, ok := x.Get(1); ok {
		t.Fatal("driver not stale after a minute")
	}
	to := LatLng{40.71, -74.01}
	if err := x.Move(1, to, time.Time{}); err != nil {
		t.Fatal(err)
	}
	want := Driver{ID: 1, Pos: stored(to), Status: Available, Vehicle: 3, Seen: clk.Now()}
	if d, ok := x.Get(1); !ok || d != want {
		t.Fatalf("Get after Move = %+v %v, want %+v", d, ok, want)
	}
	ms, err := x.NearbyAvailable(context.Background(), to, 100, 1, nil)
	if err != nil || len(ms) != 1 || ms[0].Driver != want {
		t.Fatalf("NearbyAvailable after Move = %+v, %v", ms, err)
	}

	// A busy driver stays busy when it moves.
	if ok, err := x.CompareAndSwapStatus(1, Available, onTrip); !ok || err != nil {
		t.Fatalf("claim = %v, %v", ok, err)
	}
	if err := x.Move(1, home, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if d, _ := x.Get(1); d.Status != onTrip || d.Pos != stored(home) {
		t.Fatalf("after a claim and a Move: %+v", d)
	}
	if ms, _ := x.NearbyAvailable(context.Background(), home, 100, 1, nil); len(ms) != 0 {
		t.Fatalf("a claimed driver is still available: %+v", ms)
	}
}

func TestCompareAndSwapStatus(t *testing.T) {
	clk := &clock{now: time.UnixMilli(1_800_000_000_000).UTC()}
	x := NewIndex(Options{StaleAfter: 10 * time.Second, Now: clk.Now})
	if ok, err := x.CompareAndSwapStatus(1, Available, onTrip); ok || !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent driver: %v, %v", ok, err)
	}
	if err := x.Upsert(Driver{ID: 1, Pos: LatLng{1, 2}, Status: Available}); err != nil {
		t.Fatal(err)
	}
	if ok, err := x.CompareAndSwapStatus(1, Unavailable, onTrip); ok || err != nil {
		t.Fatalf("wrong from: %v, %v", ok, err)
	}
	if ok, err := x.CompareAndSwapStatus(1, Available, Available); !ok || err != nil {
		t.Fatalf("from == to: %v, %v", ok, err)
	}
	if ok, err := x.CompareAndSwapStatus(1, Available, onTrip); !ok || err != nil {
		t.Fatalf("claim: %v, %v", ok, err)
	}
	if ok, err := x.CompareAndSwapStatus(1, Available, onTrip); ok || err != nil {
		t.Fatalf("second claim: %v, %v", ok, err)
	}
	clk.Add(11 * time.Second)
	if ok, err := x.CompareAndSwapStatus(1, onTrip, Available); ok || !errors.Is(err, ErrNotFound) {
		t.Fatalf("stale driver: %v, %v", ok, err)
	}
	checkTree(t, x)
}

// TestConcurrentClaims runs dispatchers that search for the nearest
// available drivers and claim them with CompareAndSwapStatus, while a
// gateway moves drivers with Move, until none is left: every driver must
// be claimed exactly once. With SetStatus in place of the claim, two
// dispatchers that got the same driver from their searches would both
// think they had it.
func TestConcurrentClaims(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 61))
	const n = 3000
	x, stopGateway := movingFleet(t, r, n)
	const dispatchers = 6
	pickups := []LatLng{{40.71, -73.99}, {40.72, -73.98}, {40.73, -73.97}, {40.74, -73.96}}
	claimed := make([][]DriverID, dispatchers)
	var wg sync.WaitGroup
	for g := range dispatchers {
		seed := r.Uint64()
		wg.Go(func() {
			r := rand.New(rand.NewPCG(seed, 2))
			var buf []Match
			for {
				var err error
				// Riders at one of four points, so that dispatchers
				// often get the same drivers and race for them.
				buf, err = x.AppendNearbyAvailable(context.Background(), buf[:0], pickups[r.IntN(len(pickups))], 20_000_000, 3, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if len(buf) == 0 {
					return
				}
				for _, m := range buf {
					ok, err := x.CompareAndSwapStatus(m.ID, Available, onTrip)
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						claimed[g] = append(claimed[g], m.ID)
						break
					}
				}
			}
		})
	}
	wg.Wait()
	stopGateway()
	seen := make(map[DriverID]int, n)
	for g := range claimed {
		for _, id := range claimed[g] {
			seen[id]++
			if seen[id] > 1 {
				t.Fatalf("driver %d claimed twice", id)
			}
		}
	}
	if len(seen) != n {
		t.Fatalf("%d drivers claimed, want %d", len(seen), n)
	}
	for id := range DriverID(n) {
		if d, ok := x.Get(id); !ok || d.Status != onTrip {
			t.Fatalf("driver %d after the claims: %+v %v", id, d, ok)
		}
	}
	checkTree(t, x)
}

// movingFleet returns an index of n available drivers at random places in
// a 5 km square of New York, and starts a gateway goroutine moving random
// drivers with Move until the returned stop is called (stop waits for it).
func movingFleet(t *testing.T, r *rand.Rand, n int) (x *Index, stop func()) {
	t.Helper()
	x = NewIndex(Options{StaleAfter: -1})
	pos := func(r *rand.Rand) LatLng { return LatLng{40.7 + r.Float64()*0.05, -74 + r.Float64()*0.05} }
	for i := range n {
		if err := x.Upsert(Driver{ID: DriverID(i), Pos: pos(r), Status: Available}); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	var gw sync.WaitGroup
	gwSeed := r.Uint64()
	gw.Go(func() {
		r := rand.New(rand.NewPCG(gwSeed, 1))
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := x.Move(DriverID(r.IntN(n)), pos(r), time.Time{}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	return x, func() { close(done); gw.Wait() }
}
