package geo

import (
	"context"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

func seed(t testing.TB) uint64 {
	s := rand.Uint64()
	if v := os.Getenv("SEED"); v != "" {
		var err error
		if s, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("bad SEED %q: %v", v, err)
		}
	}
	t.Logf("SEED=%d", s)
	return s
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestDistance(t *testing.T) {
	oneDeg := EarthRadius * math.Pi / 180
	cases := []struct {
		a, b LatLng
		want float64
	}{
		{LatLng{0, 0}, LatLng{0, 1}, oneDeg},
		{LatLng{0, 0}, LatLng{1, 0}, oneDeg},
		{LatLng{0, 179.5}, LatLng{0, -179.5}, oneDeg},
		{LatLng{0, 180}, LatLng{0, -180}, 0},
		{LatLng{90, 0}, LatLng{90, 123}, 0},
		{LatLng{90, 0}, LatLng{-90, 0}, math.Pi * EarthRadius},
		{LatLng{0, 0}, LatLng{0, 180}, math.Pi * EarthRadius},
		{LatLng{89.99, 10}, LatLng{89.99, -170}, 0.02 * oneDeg},
		// Paris to London by the haversine formula on R = 6,371,008.8 m.
		{LatLng{48.8566, 2.3522}, LatLng{51.5074, -0.1278}, 343_556},
	}
	for _, c := range cases {
		if got := Distance(c.a, c.b); !near(got, c.want, 1) {
			t.Errorf("Distance(%v, %v) = %.3f, want %.3f", c.a, c.b, got, c.want)
		}
	}
}

func TestBearingDestination(t *testing.T) {
	cases := []struct {
		a, b LatLng
		want float64
	}{
		{LatLng{0, 0}, LatLng{0, 1}, 90},
		{LatLng{0, 0}, LatLng{1, 0}, 0},
		{LatLng{0, 0}, LatLng{-1, 0}, 180},
		{LatLng{0, 179.9}, LatLng{0, -179.9}, 90},
		{LatLng{10, 10}, LatLng{10, 10}, 0},
		// One point, spelt at both ends of the antimeridian.
		{LatLng{10, -180}, LatLng{10, 180}, 0},
		{LatLng{10, 180}, LatLng{10, -180}, 0},
		// From a pole the bearing is 0 by definition.
		{LatLng{90, 0}, LatLng{0, 90}, 0},
		{LatLng{-90, 0}, LatLng{10, -45}, 0},
		{LatLng{-90, 180}, LatLng{-90, 180}, 0},
		// Across the antimeridian the short way.
		{LatLng{0, -179.9}, LatLng{0, 179.9}, 270},
	}
	for _, c := range cases {
		if got := Bearing(c.a, c.b); !near(got, c.want, 1e-9) {
			t.Errorf("Bearing(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
	r := rand.New(rand.NewPCG(seed(t), 1))
	for range 2000 {
		p := LatLng{r.Float64()*178 - 89, r.Float64()*360 - 180}
		b := r.Float64() * 360
		d := r.Float64() * 19_000_000
		q := Destination(p, b, d)
		if err := q.Validate(); err != nil {
			t.Fatalf("Destination(%v, %v, %v) = %v: %v", p, b, d, q, err)
		}
		if got := Distance(p, q); !near(got, d, 0.01) {
			t.Fatalf("Distance(p, Destination(p, %v, %v)) = %v", b, d, got)
		}
		if d > 1 {
			if got := Bearing(p, q); !near(math.Mod(got-b+540, 360)-180, 0, 1e-6) {
				t.Fatalf("Bearing(%v, %v) = %v, want %v", p, q, got, b)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	for _, p := range []LatLng{{90.0001, 0}, {-91, 0}, {0, 180.1}, {0, -181}, {math.NaN(), 0}, {0, math.NaN()}, {math.Inf(1), 0}} {
		if err := p.Validate(); !errors.Is(err, ErrInvalidLatLng) {
			t.Errorf("Validate(%v) = %v", p, err)
		}
	}
	for _, p := range []LatLng{{90, 180}, {-90, -180}, {0, 0}} {
		if err := p.Validate(); err != nil {
			t.Errorf("Validate(%v) = %v", p, err)
		}
	}
}

// edgeCenter draws query centers that stress the geometry.
func edgeCenter(r *rand.Rand) LatLng {
	switch r.IntN(6) {
	case 0:
		return LatLng{r.Float64()*20 - 10, 179.99}
	case 1:
		return LatLng{r.Float64()*20 - 10, -179.99}
	case 2:
		return LatLng{89.99, r.Float64()*360 - 180}
	case 3:
		return LatLng{-89.99, r.Float64()*360 - 180}
	case 4:
		return LatLng{[]float64{90, -90, 0}[r.IntN(3)], []float64{180, -180, 0}[r.IntN(3)]}
	}
	return LatLng{r.Float64()*180 - 90, r.Float64()*360 - 180}
}

func randRadius(r *rand.Rand) float64 {
	switch r.IntN(4) {
	case 0:
		return r.Float64() * 5_000
	case 1:
		return r.Float64() * 500_000
	case 2:
		return r.Float64() * 20_000_000
	}
	return r.Float64() * 3_000_000
}

// TestBoxContainsAntimeridian checks that a box reaching ±180 holds the
// points of that meridian however their longitude is spelled, as the
// package promises of -180 and 180: a geohash cell of the westmost
// column holds (lat, 180), and a cover split at the antimeridian holds
// (lat, -180) in its eastern box too. Away from the edge nothing changes.
func TestBoxContainsAntimeridian(t *testing.T) {
	west := Box{MinLat: 0, MinLng: -180, MaxLat: 10, MaxLng: -170}
	east := Box{MinLat: 0, MinLng: 170, MaxLat: 10, MaxLng: 180}
	world := Box{MinLat: -90, MinLng: -180, MaxLat: 90, MaxLng: 180}
	cases := []struct {
		b    Box
		p    LatLng
		want bool
	}{
		{west, LatLng{5, -180}, true},
		{west, LatLng{5, 180}, true},
		{west, LatLng{11, 180}, false},
		{west, LatLng{math.NaN(), 180}, false},
		{west, LatLng{5, 179.9999999}, false},
		{east, LatLng{5, 180}, true},
		{east, LatLng{5, -180}, true},
		{east, LatLng{-1, -180}, false},
		{east, LatLng{5, -179.9999999}, false},
		{world, LatLng{90, 180}, true},
		{world, LatLng{-90, -180}, true},
		{Box{0, -170, 10, 170}, LatLng{5, 180}, false},
		{Box{0, -170, 10, 170}, LatLng{5, -180}, false},
	}
	for _, c := range cases {
		if got := c.b.Contains(c.p); got != c.want {
			t.Errorf("%+v.Contains(%v) = %v, want %v", c.b, c.p, got, c.want)
		}
	}
}

func TestCover(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 2))
	for range 3000 {
		c, radius := edgeCenter(r), randRadius(r)
		boxes, err := Cover(c, radius)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range boxes {
			if b.MinLng > b.MaxLng || b.MinLat > b.MaxLat || b.MinLng < -180 || b.MaxLng > 180 || b.MinLat < -90 || b.MaxLat > 90 {
				t.Fatalf("Cover(%v, %v) has bad box %+v", c, radius, b)
			}
		}
		reachesPole := Distance(c, LatLng{90, 0}) <= radius || Distance(c, LatLng{-90, 0}) <= radius
		if reachesPole && (len(boxes) != 1 || boxes[0].MinLng != -180 || boxes[0].MaxLng != 180) {
			t.Fatalf("Cover(%v, %v) contains a pole but gave %+v", c, radius, boxes)
		}
		for range 50 {
			p := Destination(c, r.Float64()*360, r.Float64()*radius)
			if r.IntN(8) == 0 { // exactly on the circle
				p = Destination(c, r.Float64()*360, radius)
			}
			if Distance(c, p) > radius {
				// Destination rounded it a micrometre outside: the cover
				// promises the points within radius, not this one.
				continue
			}
			in := false
			for _, b := range boxes {
				in = in || b.Contains(p)
			}
			if !in {
				t.Fatalf("Cover(%v, %v) = %+v misses %v at %v m", c, radius, boxes, p, Distance(c, p))
			}
		}
	}
	// Near the antipode Distance rounds by up to 0.3 m: a point that far
	// outside the exact circle is still within radius by Distance, and
	// must be in the cover (it was not, for a center at a pole).
	for range 2000 {
		c := edgeCenter(r)
		if r.IntN(2) == 0 {
			c = LatLng{Lat: math.Copysign(90, r.Float64()-0.5), Lng: r.Float64()*360 - 180}
		}
		anti := LatLng{Lat: -c.Lat, Lng: normLng(c.Lng + 180)}
		p := Destination(anti, r.Float64()*360, r.Float64()*2)
		radius := Distance(c, p)
		boxes, err := Cover(c, radius)
		if err != nil {
			t.Fatal(err)
		}
		in := false
		for _, b := range boxes {
			in = in || b.Contains(p)
		}
		if !in {
			t.Fatalf("Cover(%v, %v) = %+v misses %v, %v m from the antipode", c, radius, boxes, p, Distance(anti, p))
		}
	}
	boxes, _ := Cover(LatLng{0, 179.99}, 10_000)
	if len(boxes) != 2 {
		t.Fatalf("Cover across the antimeridian = %+v, want two boxes", boxes)
	}
	if _, err := Cover(LatLng{0, 0}, -1); !errors.Is(err, ErrInvalidRadius) {
		t.Fatalf("Cover(-1) = %v", err)
	}
	if _, err := Cover(LatLng{0, 0}, math.NaN()); !errors.Is(err, ErrInvalidRadius) {
		t.Fatalf("Cover(NaN) = %v", err)
	}
}

// clock is an injectable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// randDriverPos puts drivers in clusters at the awkward places, on exact
// duplicates, and uniformly over the sphere.
func randDriverPos(r *rand.Rand) LatLng {
	switch r.IntN(5) {
	case 0:
		return LatLng{r.Float64()*0.2 - 0.1, 179.9 + r.Float64()*0.1}
	case 1:
		return LatLng{r.Float64()*0.2 - 0.1, -180 + r.Float64()*0.1}
	case 2:
		return LatLng{89.9 + r.Float64()*0.1, r.Float64()*360 - 180}
	case 3:
		return []LatLng{{-90, 0}, {90, 45}, {0, 180}, {0, -180}, {40.7, -74}}[r.IntN(5)]
	}
	return LatLng{math.Asin(r.Float64()*2-1) * deg, r.Float64()*360 - 180}
}

type truth map[DriverID]Driver

// put records d as the index stores it, at its rounded position.
func (m truth) put(d Driver) {
	d.Pos = stored(d.Pos)
	m[d.ID] = d
}

func bruteNearby(m truth, c LatLng, radius float64, k int, fresh int64, filter func(Driver) bool) []Match {
	var out []Match
	for _, d := range m {
		if d.Seen.UnixMilli() < fresh || (filter != nil && !filter(d)) {
			continue
		}
		if dist := Distance(c, d.Pos); dist <= radius {
			out = append(out, Match{d, dist})
		}
	}
	slices.SortFunc(out, func(a, b Match) int {
		if a.Distance != b.Distance {
			return int(math.Copysign(1, a.Distance-b.Distance))
		}
		return int(a.ID - b.ID)
	})
	if k > 0 && len(out) > k {
		out = out[:k]
	}
	return out
}

func TestNearbyAgainstBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 3))
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	x := NewIndex(Options{StaleAfter: 30 * time.Second, Now: clk.Now})
	m := truth{}
	n, rounds := 3000, 400
	if testing.Short() {
		n, rounds = 1500, 150
	}
	for i := range n {
		d := Driver{ID: DriverID(i), Pos: randDriverPos(r), Status: Status(r.IntN(2)), Vehicle: Vehicle(r.IntN(3))}
		if err := x.Upsert(d); err != nil {
			t.Fatal(err)
		}
		d.Seen = clk.Now()
		m.put(d)
	}
	ctx := context.Background()
	for round := range rounds {
		// Churn: move, restatus, remove, add, and let time pass.
		for range 50 {
			id := DriverID(r.IntN(n + n/10))
			switch r.IntN(4) {
			case 0, 1:
				d := Driver{ID: id, Pos: randDriverPos(r), Status: Status(r.IntN(2)), Vehicle: Vehicle(r.IntN(3)), Seen: clk.Now()}
				if err := x.Upsert(d); err != nil {
					t.Fatal(err)
				}
				m.put(d)
			case 2:
				err := x.SetStatus(id, Available)
				if d, ok := m[id]; ok {
					d.Status = Available
					m[id] = d
				} else if !errors.Is(err, ErrNotFound) {
					t.Fatalf("SetStatus(missing) = %v", err)
				}
			case 3:
				_, had := m[id]
				if x.Remove(id) != had {
					t.Fatalf("Remove(%d) != %v", id, had)
				}
				delete(m, id)
			}
		}
		clk.Add(time.Duration(r.IntN(300)) * time.Millisecond)
		c, radius, k := edgeCenter(r), randRadius(r), r.IntN(15)
		var filter func(Driver) bool
		if round%2 == 0 {
			v := Vehicle(r.IntN(3))
			filter = func(d Driver) bool { return d.Status == Available && d.Vehicle == v }
		}
		got, err := x.Nearby(ctx, c, radius, k, filter)
		if err != nil {
			t.Fatal(err)
		}
		want := bruteNearby(m, c, radius, k, clk.Now().Add(-30*time.Second).UnixMilli(), filter)
		if k == 0 {
			// AppendWithin returns the same set, unsorted.
			within, err := x.AppendWithin(ctx, nil, c, radius, filter)
			if err != nil {
				t.Fatal(err)
			}
			slices.SortFunc(within, func(a, b Match) int {
				if a.Distance != b.Distance {
					return int(math.Copysign(1, a.Distance-b.Distance))
				}
				return int(a.ID - b.ID)
			})
			if !slices.Equal(within, want) {
				t.Fatalf("AppendWithin(%v, %v) = %d matches, want %d", c, radius, len(within), len(want))
			}
			checkWithinIDs(t, x, m, c, radius, clk.Now().Add(-30*time.Second).UnixMilli())
		}
		if len(got) != len(want) {
			t.Fatalf("Nearby(%v, %v, k=%d) found %d, brute force %d", c, radius, k, len(got), len(want))
		}
		for i := range got {
			if got[i].Distance != want[i].Distance {
				t.Fatalf("Nearby(%v, %v, k=%d)[%d] at %v m, want %v m", c, radius, k, i, got[i].Distance, want[i].Distance)
			}
			d := m[got[i].ID]
			if got[i].Driver != d || Distance(c, d.Pos) != got[i].Distance {
				t.Fatalf("Nearby returned %+v, index holds %+v", got[i], d)
			}
		}
		// NearbyAvailable equals brute force restricted to available drivers.
		got, err = x.NearbyAvailable(ctx, c, radius, k, filter)
		if err != nil {
			t.Fatal(err)
		}
		want = bruteNearby(m, c, radius, k, clk.Now().Add(-30*time.Second).UnixMilli(), func(d Driver) bool {
			return d.Status == Available && (filter == nil || filter(d))
		})
		if len(got) != len(want) {
			t.Fatalf("NearbyAvailable(%v, %v, k=%d) found %d, brute force %d", c, radius, k, len(got), len(want))
		}
		for i := range got {
			d := m[got[i].ID]
			if got[i].Distance != want[i].Distance || got[i].Driver != d || d.Status != Available {
				t.Fatalf("NearbyAvailable(%v, %v, k=%d)[%d] = %+v, want %+v", c, radius, k, i, got[i], want[i])
			}
		}
	}
}

func TestStaleness(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	x := NewIndex(Options{StaleAfter: 10 * time.Second, Now: clk.Now})
	_ = x.Upsert(Driver{ID: 1, Pos: LatLng{1, 1}, Status: Available})
	clk.Add(6 * time.Second)
	_ = x.Upsert(Driver{ID: 2, Pos: LatLng{1, 1.001}, Status: Available})
	clk.Add(5 * time.Second)
	got, _ := x.Nearby(context.Background(), LatLng{1, 1}, 10_000, 0, nil)
	if len(got) != 1 || got[0].ID != 2 {
		t.Fatalf("after 11 s Nearby = %+v, want only driver 2", got)
	}
	if _, ok := x.Get(1); ok {
		t.Fatal("Get returned a stale driver")
	}
	if d, ok := x.Get(2); !ok || !d.Seen.Equal(clk.Now().Add(-5*time.Second)) {
		t.Fatalf("Get(2) = %+v %v", d, ok)
	}
	if n := x.RemoveStale(); n != 1 || x.Len() != 1 {
		t.Fatalf("RemoveStale = %d, Len = %d", n, x.Len())
	}
	never := NewIndex(Options{StaleAfter: -1, Now: clk.Now})
	_ = never.Upsert(Driver{ID: 1, Pos: LatLng{1, 1}})
	clk.Add(1000 * time.Hour)
	if _, ok := never.Get(1); !ok {
		t.Fatal("negative StaleAfter still expired a driver")
	}
}

func TestIndexErrors(t *testing.T) {
	x := NewIndex(Options{})
	ctx := context.Background()
	if err := x.Upsert(Driver{ID: 1, Pos: LatLng{91, 0}}); !errors.Is(err, ErrInvalidLatLng) {
		t.Fatalf("Upsert bad pos = %v", err)
	}
	if x.Len() != 0 {
		t.Fatal("failed Upsert stored a driver")
	}
	if _, err := x.Nearby(ctx, LatLng{0, math.NaN()}, 1, 1, nil); !errors.Is(err, ErrInvalidLatLng) {
		t.Fatalf("Nearby bad center = %v", err)
	}
	for _, rad := range []float64{-1, math.NaN(), math.Inf(1)} {
		if _, err := x.Nearby(ctx, LatLng{}, rad, 1, nil); !errors.Is(err, ErrInvalidRadius) {
			t.Fatalf("Nearby radius %v = %v", rad, err)
		}
	}
	if err := x.SetStatus(7, Available); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetStatus missing = %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := x.Nearby(cctx, LatLng{}, 1, 1, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Nearby cancelled = %v", err)
	}
}

// TestNilContext checks that every search takes a nil ctx as
// context.Background(): it used to panic on ctx.Err().
func TestNilContext(t *testing.T) {
	x := NewIndex(Options{})
	for i := range 20 {
		st := Unavailable
		if i%2 == 0 {
			st = Available
		}
		if err := x.Upsert(Driver{ID: DriverID(i), Pos: LatLng{40.7, -74 + float64(i)*1e-3}, Status: st}); err != nil {
			t.Fatal(err)
		}
	}
	var nilCtx context.Context
	bg, c := context.Background(), LatLng{40.7, -74}
	near := func(ctx context.Context) ([]Match, error) { return x.Nearby(ctx, c, 5000, 5, nil) }
	avail := func(ctx context.Context) ([]Match, error) { return x.NearbyAvailable(ctx, c, 5000, 5, nil) }
	within := func(ctx context.Context) ([]Match, error) { return x.AppendWithin(ctx, nil, c, 500, nil) }
	for name, search := range map[string]func(context.Context) ([]Match, error){"Nearby": near, "NearbyAvailable": avail, "AppendWithin": within} {
		got, err := search(nilCtx)
		want, _ := search(bg)
		if err != nil || len(got) == 0 || !reflect.DeepEqual(got, want) {
			t.Errorf("%s(nil ctx) = %v, %v; want %v", name, got, err, want)
		}
	}
	got, err := x.AppendWithinIDs(nilCtx, nil, c, 500)
	want, _ := x.AppendWithinIDs(bg, nil, c, 500)
	if err != nil || len(got) == 0 || !reflect.DeepEqual(got, want) {
		t.Errorf("AppendWithinIDs(nil ctx) = %v, %v; want %v", got, err, want)
	}
}

// TestConcurrent runs writers and readers together under -race; every
// result must be sorted, within the radius and pass the filter.
func TestConcurrent(t *testing.T) {
	x := NewIndex(Options{})
	ctx := context.Background()
	var wg sync.WaitGroup
	ops := 3000
	if testing.Short() {
		ops = 1000
	}
	for w := range 3 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for i := range ops {
				id := DriverID(r.IntN(500))
				switch i % 5 {
				case 4:
					x.Remove(id)
				case 3:
					_ = x.SetStatus(id, Status(r.IntN(2)))
				default:
					_ = x.Upsert(Driver{ID: id, Pos: LatLng{40 + r.Float64(), -74 + r.Float64()}, Status: Status(r.IntN(2))})
				}
			}
		})
	}
	for q := range 3 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(q), 10))
			var buf []Match
			for range ops / 3 {
				c := LatLng{40 + r.Float64(), -74 + r.Float64()}
				var err error
				buf, err = x.AppendNearby(ctx, buf[:0], c, 30_000, 10, func(d Driver) bool { return d.Status == Available })
				if err != nil {
					t.Error(err)
					return
				}
				for i, m := range buf {
					if m.Status != Available || m.Distance > 30_000 || (i > 0 && m.Distance < buf[i-1].Distance) {
						t.Errorf("bad result %d: %+v", i, m)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

// TestSmallAngle checks the series behind sin and asin against the sums
// of their Taylor series to 200 bits, at random arguments below the
// switch-over: both must round to within one unit in the last place of
// the true value.
func TestSmallAngle(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 9))
	// exact sums sign·x^(2n+1)·c(n) with c(n+1) = c(n)·num(n)/den(n).
	exact := func(x float64, alternate bool, ratio func(n int64) (int64, int64)) float64 {
		bx := new(big.Float).SetPrec(200).SetFloat64(x)
		x2 := new(big.Float).SetPrec(200).Mul(bx, bx)
		term := new(big.Float).SetPrec(200).Set(bx)
		sum := new(big.Float).SetPrec(200).Set(bx)
		for n := int64(0); n < 30; n++ {
			num, den := ratio(n)
			term.Mul(term, x2)
			term.Mul(term, new(big.Float).SetInt64(num))
			term.Quo(term, new(big.Float).SetInt64(den))
			if alternate {
				term.Neg(term)
			}
			sum.Add(sum, term)
		}
		f, _ := sum.Float64()
		return f
	}
	sinRatio := func(n int64) (int64, int64) { return 1, (2*n + 2) * (2*n + 3) }
	asinRatio := func(n int64) (int64, int64) { return (2*n + 1) * (2*n + 1), (2*n + 2) * (2*n + 3) }
	ulps := func(got, want float64) float64 {
		return math.Abs(got-want) / (math.Nextafter(math.Abs(want), math.Inf(1)) - math.Abs(want))
	}
	worst := 0.0
	for i := range 4_000 {
		x := (r.Float64()*2 - 1) * smallAngle
		if i%4 == 0 {
			x *= math.Pow(2, -float64(r.IntN(40))) // tiny angles too
		}
		y := x * (sinSmall / smallAngle)
		worst = max(worst, ulps(sin(y), exact(y, true, sinRatio)), ulps(asin(x), exact(x, false, asinRatio)))
	}
	if worst > 1 {
		t.Fatalf("series are %v ulp from the true value", worst)
	}
	t.Logf("worst error %v ulp", worst)
	// At and above the switch-over they are the math package's functions.
	for _, x := range []float64{smallAngle, -smallAngle, 0.5, -1} {
		if y := x * (sinSmall / smallAngle); sin(y) != math.Sin(y) || asin(x) != math.Asin(x) {
			t.Fatalf("sin/asin(%v) differ from the math package", x)
		}
	}
}

// TestNearbyNeverStale checks Nearby and NearbyAvailable against brute
// force on an index whose drivers never go stale, where a search without a
// filter reads no driver's meta to test it.
func TestNearbyNeverStale(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 11))
	x := NewIndex(Options{StaleAfter: -1})
	m := truth{}
	for i := range 2000 {
		d := Driver{ID: DriverID(i), Pos: randDriverPos(r), Status: Status(r.IntN(2)), Seen: time.UnixMilli(int64(r.IntN(1e6))).UTC()}
		if err := x.Upsert(d); err != nil {
			t.Fatal(err)
		}
		m.put(d)
	}
	for range 100 {
		c, radius, k := edgeCenter(r), randRadius(r), r.IntN(15)
		checkNearby(t, x, m, c, radius, k, false)
		checkNearby(t, x, m, c, radius, k, true)
	}
}

// checkNearby fails t unless Nearby (NearbyAvailable if avail) of x
// finds the drivers brute force finds in m, at the same distances.
func checkNearby(t *testing.T, x *Index, m truth, c LatLng, radius float64, k int, avail bool) {
	t.Helper()
	var got []Match
	var err error
	var filter func(Driver) bool
	if avail {
		got, err = x.NearbyAvailable(context.Background(), c, radius, k, nil)
		filter = func(d Driver) bool { return d.Status == Available }
	} else {
		got, err = x.Nearby(context.Background(), c, radius, k, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	want := bruteNearby(m, c, radius, k, math.MinInt64, filter)
	if len(got) != len(want) {
		t.Fatalf("Nearby(%v, %v, k=%d, avail=%v) found %d, want %d", c, radius, k, avail, len(got), len(want))
	}
	for i := range got {
		if got[i].Distance != want[i].Distance || got[i].Driver != m[got[i].ID] {
			t.Fatalf("Nearby(%v, %v, k=%d, avail=%v)[%d] = %+v, want %+v", c, radius, k, avail, i, got[i], want[i])
		}
	}
}

// edgyCoords returns generators of latitudes and longitudes of which a third
// lie within 10° of a pole, a third within 1° of the equator and a third
// anywhere, and half the longitudes within 5° of ±180°, where the bounds'
// approximations are tightest.
func edgyCoords(r *rand.Rand) (lat, lng func() float64) {
	lat = func() float64 {
		switch r.IntN(3) {
		case 0:
			return math.Copysign(80+r.Float64()*10, r.Float64()-0.5)
		case 1:
			return r.Float64()*180 - 90
		}
		return r.Float64()*2 - 1
	}
	lng = func() float64 {
		if r.IntN(2) == 0 {
			return math.Copysign(175+r.Float64()*5, r.Float64()-0.5)
		}
		return r.Float64()*360 - 180
	}
	return lat, lng
}

// TestCellBound checks the search's lower bound of the haversine over a
// cell against points in the cell: it must never exceed the key of any of
// them, or Nearby would prune a cell holding a true neighbour. Cells and
// centers are drawn near the poles and the antimeridian as well as
// anywhere, at sizes from metres to a hemisphere.
func TestCellBound(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 13))
	lat, lng := edgyCoords(r)
	for range 20_000 {
		c := LatLng{Lat: lat(), Lng: lng()}
		q := newSphereQuery(c)
		size := math.Pow(10, -4+r.Float64()*6) // 1e-4 to 100 degrees
		minY := max(lat()-size/2, -90)
		minX := max(lng()-size/2, -180)
		cell := rect{MinX: minX, MinY: minY, MaxX: min(minX+size, 180), MaxY: min(minY+size, 90)}
		b := q.bound(cell)
		for range 20 {
			p := struct{ X, Y float64 }{
				X: cell.MinX + r.Float64()*(cell.MaxX-cell.MinX),
				Y: cell.MinY + r.Float64()*(cell.MaxY-cell.MinY),
			}
			if r.IntN(4) == 0 { // corners and edges
				p.Y = []float64{cell.MinY, cell.MaxY}[r.IntN(2)]
			}
			if h := hav(c.Lat, c.Lng, q.cosLat, p.Y, p.X); b > h {
				t.Fatalf("bound %v of cell %+v exceeds key %v of %v from %v", b, cell, h, p, c)
			}
		}
	}
}

// TestIntCellBound checks the bound a nearest search computes from a
// cell's integer edges against the key of stored points of the cell, at
// its edges and corners too: it must never exceed any of them. Centers
// and cells are drawn as in TestLeafBound, from one unit to 100 degrees.
func TestIntCellBound(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 19))
	lat, lng := edgyCoords(r)
	for range 20_000 {
		box, size, c := randCell(r, lat, lng)
		q := newSphereQuery(c)
		b := q.cellBound(box)
		for range 20 {
			x, y := randPointIn(r, box, size)
			if h := hav(c.Lat, c.Lng, q.cosLat, unfix(y), unfix(x)); b > h {
				t.Fatalf("bound %v of box %+v exceeds key %v of %v from %v", b, box, h, posLatLng(packPos(x, y)), c)
			}
		}
	}
}

// randCell draws a square integer cell of 1e-7 to 100 degrees a side
// (size+1 units) at coordinates from lat and lng, and a center for it:
// anywhere, or in half the draws near the cell, where bounds are tight;
// one center in eight lies on the stored grid, for gaps of zero and one
// unit.
func randCell(r *rand.Rand, lat, lng func() float64) (box ibox, size int32, c LatLng) {
	size = int32(math.Pow(10, r.Float64()*9))
	x0 := min(max(fix(lng()), worldX0), worldX1-1-size)
	y0 := min(max(fix(lat()), worldY0), worldY1-1-size)
	box = ibox{x0, y0, x0 + size + 1, y0 + size + 1}
	c = LatLng{Lat: lat(), Lng: lng()}
	if r.IntN(2) == 0 {
		s := 3 * float64(size) / fixScale
		c.Lat = min(max(unfix(y0)+(r.Float64()-0.5)*s, -90), 90)
		c.Lng = min(max(unfix(x0)+(r.Float64()-0.5)*s, -180), 180)
	}
	if r.IntN(8) == 0 {
		c = stored(c)
	}
	return box, size, c
}

// randPointIn draws a stored point of box (size+1 units a side), on its
// edges in half the draws.
func randPointIn(r *rand.Rand, box ibox, size int32) (x, y int32) {
	x = box.x0 + r.Int32N(size+1)
	y = box.y0 + r.Int32N(size+1)
	switch r.IntN(4) {
	case 0:
		x = []int32{box.x0, box.x1 - 1}[r.IntN(2)]
	case 1:
		y = []int32{box.y0, box.y1 - 1}[r.IntN(2)]
	}
	return x, y
}

// TestLeafBound checks the per-point bounds a nearest search uses inside a
// leaf against the exact key of stored points of an integer cell: they
// must enclose it, or Nearby would drop a true neighbour. Centers and
// cells are drawn near the poles and the antimeridian as well as
// anywhere, from centimetres to a hemisphere, and points include the
// cell's corners.
func TestLeafBound(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 17))
	lat, lng := edgyCoords(r)
	for range 20_000 {
		box, size, c := randCell(r, lat, lng)
		q := newSphereQuery(c)
		lb := q.leafBound(box)
		for range 20 {
			x, y := randPointIn(r, box, size)
			p := packPos(x, y)
			lo, hi := lb.keys(p)
			if h := hav(c.Lat, c.Lng, q.cosLat, unfix(y), unfix(x)); lo > h || hi < h {
				t.Fatalf("bounds [%v, %v] in box %+v miss key %v of %v from %v", lo, hi, box, h, posLatLng(p), c)
			}
		}
	}
}

// checkWithinIDs compares AppendWithinIDs with brute force.
func checkWithinIDs(t *testing.T, x *Index, m truth, c LatLng, radius float64, fresh int64) {
	t.Helper()
	ids, err := x.AppendWithinIDs(context.Background(), nil, c, radius)
	if err != nil {
		t.Fatal(err)
	}
	var want []DriverID
	for _, d := range bruteNearby(m, c, radius, 0, fresh, nil) {
		want = append(want, d.ID)
	}
	slices.Sort(ids)
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("AppendWithinIDs(%v, %v) = %d ids, want %d", c, radius, len(ids), len(want))
	}
}

// TestWithinIDsDense checks AppendWithinIDs against brute force where
// whole cells lie inside the circle: thousands of drivers in a city-sized
// box, some stale, some on one point, circles from a metre to 2,000 km,
// centered in the box, at its edge, near the poles and the antimeridian.
func TestWithinIDsDense(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 9))
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	x := NewIndex(Options{StaleAfter: 30 * time.Second, Now: clk.Now})
	m := truth{}
	n, rounds := 20000, 300
	if testing.Short() || raceEnabled {
		n, rounds = 8000, 100
	}
	boxes := []LatLng{{40.5, -74.3}, {89.5, -179.9}, {-0.25, 179.5}}
	for i := range n {
		b := boxes[i%len(boxes)]
		pos := LatLng{b.Lat + r.Float64()*0.5, b.Lng + r.Float64()*0.5}
		if i%50 == 0 {
			pos = b // many drivers on one point
		}
		if pos.Lng > 180 {
			pos.Lng -= 360
		}
		d := Driver{ID: DriverID(i), Pos: pos, Seen: clk.Now()}
		if i%7 == 0 {
			d.Seen = clk.Now().Add(-time.Minute) // stale
		}
		if err := x.Upsert(d); err != nil {
			t.Fatal(err)
		}
		m.put(d)
	}
	for range rounds {
		b := boxes[r.IntN(len(boxes))]
		c := LatLng{b.Lat + r.Float64()*0.6 - 0.05, b.Lng + r.Float64()*0.6 - 0.05}
		c.Lat = min(c.Lat, 90)
		if c.Lng > 180 {
			c.Lng -= 360
		}
		radius := math.Exp(r.Float64() * math.Log(2e6))
		if r.IntN(4) == 0 {
			// Exactly at a driver's distance: the boundary case.
			radius = Distance(c, m[DriverID(r.IntN(n))].Pos)
		}
		checkWithinIDs(t, x, m, c, radius, clk.Now().Add(-30*time.Second).UnixMilli())
	}
}

// TestCosNear checks the series cosine that AppendWithinIDs trusts within
// a relative 1e-14 against cosDeg, near and far from the center. (Near
// the poles math.Cos itself is off by up to a relative 1e-7.)
func TestCosNear(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 10))
	for range 100000 {
		c := LatLng{r.Float64()*180 - 90, 0}
		q := newSphereQuery(c)
		lat := max(-90, min(90, c.Lat+(r.Float64()*2-1)*4*math.Pow(10, -r.Float64()*6))) // up to 4°
		got, want := q.cosNear(lat), cosDeg(lat)
		if math.Abs(got-want) > 1e-15*math.Abs(want)+1e-17 {
			t.Fatalf("cosNear(%v) from %v = %v, cosDeg %v", lat, c.Lat, got, want)
		}
	}
}

// bound is a lower bound of the key over a lat/lng rectangle, the
// degree-based counterpart of cellBound through which the tests check
// gapBound on arbitrary rectangles: the latitude
// gap to the rectangle, the longitude gap measured the short way round the
// sphere (so cells across the antimeridian count as near), and cos φ at the
// rectangle's latitude edge farther from the equator. Each factor is
// bounded on its own, and the sum of the minima is at most the minimum of
// the sum.
func (q *sphereQuery) bound(r rect) float64 {
	var dLat float64
	if q.lat < r.MinY {
		dLat = r.MinY - q.lat
	} else if q.lat > r.MaxY {
		dLat = q.lat - r.MaxY
	}
	var dLng float64
	if q.lng < r.MinX || q.lng > r.MaxX {
		dLng = min(math.Abs(lngGap(q.lng, r.MinX)), math.Abs(lngGap(q.lng, r.MaxX)))
	}
	if dLat == 0 && dLng == 0 {
		return 0
	}
	near := 0.0
	if r.MinY > 0 || r.MaxY < 0 {
		near = min(math.Abs(r.MinY), math.Abs(r.MaxY))
	}
	return q.gapBound(dLat, dLng, max(math.Abs(r.MinY), math.Abs(r.MaxY)), near)
}

// TestNormLng checks that normLng lands in [-180, 180) for longitudes
// just below -180, whose remainder rounds up to 360, and for the rest.
func TestNormLng(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{
		{-180.00000000000003, -180},
		{math.Nextafter(-180, -200), -180},
		{-180, -180},
		{180, -180},
		{179.5, 179.5},
		{-540, -180},
		{540, -180},
		{190, -170},
		{-190, 170},
	} {
		if got := normLng(c.in); got != c.want {
			t.Errorf("normLng(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	r := rand.New(rand.NewPCG(seed(t), 3))
	for range 100_000 {
		in := (r.Float64() - 0.5) * 1e4
		if r.IntN(4) == 0 {
			in = math.Nextafter(-180-360*float64(r.IntN(5)), math.Inf(-1))
		}
		if got := normLng(in); got < -180 || got >= 180 || math.IsNaN(got) {
			t.Fatalf("normLng(%v) = %v, outside [-180, 180)", in, got)
		}
	}
}
