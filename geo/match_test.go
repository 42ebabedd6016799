package geo

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// etaFunc adapts a function of one driver to ETA.
type etaFunc func(m Match) (time.Duration, error)

func (f etaFunc) ETAs(_ context.Context, _ LatLng, ds []Match, etas []time.Duration) error {
	for i, d := range ds {
		var err error
		if etas[i], err = f(d); err != nil {
			return err
		}
	}
	return nil
}

func matchIndex(t *testing.T, ds ...Driver) *Index {
	t.Helper()
	x := NewIndex(Options{StaleAfter: -1})
	for _, d := range ds {
		if err := x.Upsert(d); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

func TestMatcherRanksByETA(t *testing.T) {
	pickup := LatLng{40.75, -73.99}
	x := matchIndex(t,
		Driver{ID: 1, Pos: LatLng{40.751, -73.99}, Status: Available},    // 111 m, across a river
		Driver{ID: 2, Pos: LatLng{40.753, -73.99}, Status: Available},    // 334 m
		Driver{ID: 3, Pos: LatLng{40.7505, -73.99}, Status: Unavailable}, // nearest, busy
		Driver{ID: 4, Pos: LatLng{40.752, -73.99}, Status: Available, Vehicle: 9},
	)
	river := etaFunc(func(m Match) (time.Duration, error) {
		if m.ID == 1 {
			return 20 * time.Minute, nil
		}
		return StraightLine{}.eta(m.Distance), nil
	})
	mt := &Matcher{Index: x, ETA: river, Radius: 5_000, Claimed: onTrip,
		Filter: func(d Driver) bool { return d.Vehicle != 9 }}
	var got []DriverID
	for range 3 {
		a, err := mt.Match(context.Background(), pickup)
		if err != nil {
			if !errors.Is(err, ErrNoDriver) {
				t.Fatal(err)
			}
			break
		}
		if a.Status != onTrip || a.Distance != Distance(pickup, a.Pos) {
			t.Fatalf("assignment %+v", a)
		}
		if d, _ := x.Get(a.ID); d.Status != onTrip {
			t.Fatalf("driver %d not claimed in the index: %+v", a.ID, d)
		}
		got = append(got, a.ID)
	}
	// 2 first (1 is nearer but slower), then 1; 3 is busy and 4 filtered out.
	if len(got) != 2 || got[0] != 2 || got[1] != 1 {
		t.Fatalf("matched %v, want [2 1]", got)
	}
}

func TestMatcherErrors(t *testing.T) {
	pickup := LatLng{1, 1}
	x := matchIndex(t, Driver{ID: 1, Pos: LatLng{1, 1.001}, Status: Available})
	ctx := context.Background()
	check := func(name string, mt *Matcher, p LatLng, ctx context.Context, want error) {
		t.Helper()
		if _, err := mt.Match(ctx, p); !errors.Is(err, want) {
			t.Fatalf("%s: %v, want %v", name, err, want)
		}
		if d, _ := x.Get(1); d.Status != Available {
			t.Fatalf("%s claimed the driver", name)
		}
	}
	check("Claimed Available", &Matcher{Index: x, Radius: 1e4, Claimed: Available}, pickup, ctx, ErrInvalidStatus)
	check("bad pickup", &Matcher{Index: x, Radius: 1e4, Claimed: onTrip}, LatLng{91, 0}, ctx, ErrInvalidLatLng)
	check("bad radius", &Matcher{Index: x, Radius: -1, Claimed: onTrip}, pickup, ctx, ErrInvalidRadius)
	check("out of reach", &Matcher{Index: x, Radius: 10, Claimed: onTrip}, pickup, ctx, ErrNoDriver)
	boom := errors.New("routing engine down")
	check("ETA fails", &Matcher{Index: x, Radius: 1e4, Claimed: onTrip,
		ETA: etaFunc(func(Match) (time.Duration, error) { return 0, boom })}, pickup, ctx, boom)
	check("unreachable", &Matcher{Index: x, Radius: 1e4, Claimed: onTrip,
		ETA: etaFunc(func(Match) (time.Duration, error) { return -1, nil })}, pickup, ctx, ErrNoDriver)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	check("cancelled", &Matcher{Index: x, Radius: 1e4, Claimed: onTrip}, pickup, cancelled, context.Canceled)
	// An ETA that outlives its context: nothing is claimed.
	short, cancel2 := context.WithCancel(ctx)
	check("ctx ends in the ETA", &Matcher{Index: x, Radius: 1e4, Claimed: onTrip,
		ETA: etaFunc(func(m Match) (time.Duration, error) { cancel2(); return 0, nil })}, pickup, short, context.Canceled)
}

func TestStraightLine(t *testing.T) {
	ms := []Match{{Distance: 1000}, {Distance: 0}}
	etas := make([]time.Duration, 2)
	if err := (StraightLine{}).ETAs(context.Background(), LatLng{}, ms, etas); err != nil {
		t.Fatal(err)
	}
	// 1,000 m x 1.2 at 30 km/h: 144 s.
	if etas[0] != 144*time.Second || etas[1] != 0 {
		t.Fatalf("default ETAs %v", etas)
	}
	if err := (StraightLine{Speed: 10, Detour: 1}).ETAs(context.Background(), LatLng{}, ms, etas); err != nil {
		t.Fatal(err)
	}
	if etas[0] != 100*time.Second {
		t.Fatalf("10 m/s, no detour: %v", etas[0])
	}
}

// TestMatcherConcurrent has dispatchers match riders at a few points
// while a gateway moves the drivers: every driver goes to one rider at
// most, and riders get drivers until none is left.
func TestMatcherConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 71))
	const n = 2000
	x, stopGateway := movingFleet(t, r, n)
	mt := &Matcher{Index: x, Radius: 20_000, Candidates: 3, Claimed: onTrip}
	pickups := []LatLng{{40.71, -73.99}, {40.73, -73.97}}
	got := make([][]DriverID, 6)
	var wg sync.WaitGroup
	for g := range got {
		wg.Go(func() {
			for i := 0; ; i++ {
				a, err := mt.Match(context.Background(), pickups[(g+i)%len(pickups)])
				if errors.Is(err, ErrNoDriver) {
					// Lost rounds can end a Match while drivers are
					// left; stop only when the index has none.
					if ms, _ := x.NearbyAvailable(context.Background(), pickups[0], 20_000, 1, nil); len(ms) == 0 {
						return
					}
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				got[g] = append(got[g], a.ID)
			}
		})
	}
	wg.Wait()
	stopGateway()
	seen := map[DriverID]bool{}
	for _, ids := range got {
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("driver %d matched twice", id)
			}
			seen[id] = true
		}
	}
	if len(seen) != n {
		t.Fatalf("%d drivers matched, want %d", len(seen), n)
	}
}

func TestMatchAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	x := NewIndex(Options{StaleAfter: -1})
	for i := range 1000 {
		_ = x.Upsert(Driver{ID: DriverID(i), Pos: LatLng{float64(i%40) * 0.001, float64(i/40) * 0.001}, Status: Available})
	}
	mt := &Matcher{Index: x, Radius: 50_000, Claimed: onTrip}
	i := 0
	allocs := testing.AllocsPerRun(200, func() {
		a, err := mt.Match(context.Background(), LatLng{0.01, 0.01})
		if err != nil {
			t.Fatal(err)
		}
		_ = x.SetStatus(a.ID, Available)
		i++
	})
	if allocs > 0 {
		t.Fatalf("Match allocates %v times", allocs)
	}
}

// TestStraightLineRange: estimates past time.Duration's range, or from a
// Speed or Detour that is not a positive finite number, are the largest
// duration or the defaults' estimate, never negative (which would read as
// unreachable).
func TestStraightLineRange(t *testing.T) {
	ms := []Match{{Distance: 20_000}, {Distance: 0}, {Distance: 2e7}}
	etas := make([]time.Duration, len(ms))
	for _, s := range []StraightLine{{Speed: 1e-9}, {Speed: 0.001}, {Detour: math.Inf(1)}, {Speed: math.Inf(1)}, {Speed: math.NaN(), Detour: -1}} {
		if err := s.ETAs(context.Background(), LatLng{}, ms, etas); err != nil {
			t.Fatal(err)
		}
		for i, e := range etas {
			if e < 0 {
				t.Errorf("%+v: ETA of %v m = %v", s, ms[i].Distance, e)
			}
		}
	}
	x := matchIndex(t, Driver{ID: 1, Pos: LatLng{1, 1.001}, Status: Available})
	a, err := (&Matcher{Index: x, Radius: 1e4, Claimed: onTrip, ETA: StraightLine{Speed: 1e-9}}).Match(context.Background(), LatLng{1, 1})
	if err != nil || a.ID != 1 || a.ETA != math.MaxInt64 {
		t.Fatalf("a very slow straight line: %+v, %v", a, err)
	}
}

// TestMatcherUnsetETAs: a slot the ETA leaves unset reads as unreachable,
// not as what an earlier Match's ETA wrote into the pooled buffer.
func TestMatcherUnsetETAs(t *testing.T) {
	pickup := LatLng{1, 1}
	x := matchIndex(t,
		Driver{ID: 1, Pos: LatLng{1, 1.001}, Status: Available},
		Driver{ID: 2, Pos: LatLng{1, 1.002}, Status: Available})
	for range 20 { // the pool may hand out another buffer; try a few times
		cheap := etaFunc(func(Match) (time.Duration, error) { return 0, nil })
		if _, err := (&Matcher{Index: x, Radius: 1e4, Claimed: onTrip, ETA: cheap}).Match(context.Background(), pickup); err != nil {
			t.Fatal(err)
		}
		for id := range DriverID(3) {
			_ = x.SetStatus(id, Available)
		}
		// Knows driver 2 only: driver 1 must not be taken on a stale 0.
		only2 := etaSome(func(ds []Match, etas []time.Duration) {
			for i, d := range ds {
				if d.ID == 2 {
					etas[i] = time.Minute
				}
			}
		})
		a, err := (&Matcher{Index: x, Radius: 1e4, Claimed: onTrip, ETA: only2}).Match(context.Background(), pickup)
		if err != nil || a.ID != 2 {
			t.Fatalf("ETA leaving driver 1 unset: %+v, %v; want driver 2", a, err)
		}
		_ = x.SetStatus(2, Available)
	}
}

// etaSome adapts a function that fills only some slots to ETA.
type etaSome func(ds []Match, etas []time.Duration)

func (f etaSome) ETAs(_ context.Context, _ LatLng, ds []Match, etas []time.Duration) error {
	f(ds, etas)
	return nil
}

func TestMatcherZeroRadius(t *testing.T) {
	x := matchIndex(t, Driver{ID: 1, Pos: LatLng{1, 1}, Status: Available})
	if _, err := (&Matcher{Index: x, Claimed: onTrip}).Match(context.Background(), LatLng{1, 1}); !errors.Is(err, ErrInvalidRadius) {
		t.Fatalf("zero Radius: %v, want ErrInvalidRadius", err)
	}
}
