package geo

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// randBatch returns n drivers with IDs below ids: positions from
// randDriverPos (the antimeridian, the poles, a few exact points), a dense
// city and a pile at one point, so that batches split leaves, grow piles
// past leafMax and repeat IDs; a few have a zero Seen.
func randBatch(r *rand.Rand, n, ids int, now time.Time) []Driver {
	ds := make([]Driver, n)
	for i := range ds {
		d := Driver{ID: DriverID(r.IntN(ids)), Status: Status(r.IntN(2)), Vehicle: Vehicle(r.IntN(3))}
		switch r.IntN(4) {
		case 0:
			d.Pos = LatLng{Lat: 40.7 + r.Float64()*0.01, Lng: -74 + r.Float64()*0.01}
		case 1:
			d.Pos = LatLng{Lat: -33.9, Lng: 151.2}
		default:
			d.Pos = randDriverPos(r)
		}
		if r.IntN(10) > 0 {
			d.Seen = now.Add(-time.Duration(r.IntN(1000)) * time.Millisecond)
		}
		ds[i] = d
	}
	return ds
}

// sameIndexes fails t unless x and want hold the drivers of m, and x's
// searches equal brute force over m.
func sameIndexes(t *testing.T, r *rand.Rand, x, want *Index, m truth) {
	t.Helper()
	checkTree(t, x)
	if x.Len() != len(m) || want.Len() != len(m) {
		t.Fatalf("Len %d, one at a time %d, want %d", x.Len(), want.Len(), len(m))
	}
	for id, d := range m {
		got, ok := x.Get(id)
		w, wok := want.Get(id)
		if !ok || !wok || got != d || w != d {
			t.Fatalf("Get(%d) = %+v %v, one at a time %+v %v, want %+v", id, got, ok, w, wok, d)
		}
	}
	for range 20 {
		c, radius, k := edgeCenter(r), randRadius(r), r.IntN(15)
		checkNearby(t, x, m, c, radius, k, false)
		checkNearby(t, x, m, c, radius, k, true)
		checkWithinIDs(t, x, m, c, radius, math.MinInt64)
	}
}

// TestUpsertBatchMatchesUpsert applies random batches (repeated IDs,
// drivers already present, piles, the poles and ±180°, batches longer
// than a chunk) to one index with UpsertBatch and to another with Upsert
// one at a time, removing some drivers between batches, and checks that
// both hold the same drivers and that searches equal brute force.
func TestUpsertBatchMatchesUpsert(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 41))
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	x := NewIndex(Options{StaleAfter: -1, Now: clk.Now})
	y := NewIndex(Options{StaleAfter: -1, Now: clk.Now})
	m := truth{}
	rounds, size, ids := 12, 6000, 8000
	if testing.Short() || raceEnabled {
		rounds, size, ids = 5, 2500, 3500
	}
	for round := range rounds {
		n := r.IntN(size) + 1
		if round == 0 {
			n = size // a load into an empty index
		}
		ds := randBatch(r, n, ids, clk.Now())
		if round%3 == 1 {
			// Increasing IDs, which UpsertBatch knows need no dedup.
			id := DriverID(r.IntN(10))
			for i := range ds {
				ds[i].ID = id
				id += DriverID(1 + r.IntN(3))
			}
		}
		if err := x.UpsertBatch(ds); err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if err := y.Upsert(d); err != nil {
				t.Fatal(err)
			}
			if d.Seen.IsZero() {
				d.Seen = clk.Now()
			}
			m.put(d)
		}
		sameIndexes(t, r, x, y, m)
		// Remove some, so that batches meet tombstones and merged cells.
		for range r.IntN(len(m)/2 + 1) {
			id := DriverID(r.IntN(ids))
			if x.Remove(id) != y.Remove(id) {
				t.Fatalf("Remove(%d) differs", id)
			}
			delete(m, id)
		}
		clk.Add(time.Second)
	}
}

// TestUpsertBatchInvalid checks that a batch with one bad driver, anywhere
// in it, returns an error wrapping the sentinel and naming its index, and
// changes nothing.
func TestUpsertBatchInvalid(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 42))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	x := NewIndex(Options{StaleAfter: -1, Now: func() time.Time { return now }})
	m := truth{}
	for _, d := range randBatch(r, 500, 400, now) {
		_ = x.Upsert(d)
		if d.Seen.IsZero() {
			d.Seen = now
		}
		m.put(d)
	}
	bad := []struct {
		d    Driver
		want error
	}{
		{Driver{Pos: LatLng{Lat: math.NaN()}}, ErrInvalidLatLng},
		{Driver{Pos: LatLng{Lat: 90.5}}, ErrInvalidLatLng},
		{Driver{Pos: LatLng{Lng: -180.01}}, ErrInvalidLatLng},
		{Driver{Pos: LatLng{Lng: math.Inf(1)}}, ErrInvalidLatLng},
		{Driver{Seen: time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)}, ErrInvalidSeen},
		{Driver{Seen: time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC)}, ErrInvalidSeen},
	}
	for _, tc := range bad {
		ds := randBatch(r, 300, 800, now)
		at := r.IntN(len(ds))
		tc.d.ID = ds[at].ID
		ds[at] = tc.d
		err := x.UpsertBatch(ds)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), fmt.Sprintf("driver %d ", at)) {
			t.Fatalf("UpsertBatch with %+v at %d = %v, want %v naming %d", tc.d, at, err, tc.want, at)
		}
		checkTree(t, x)
		if x.Len() != len(m) {
			t.Fatalf("a rejected batch changed Len from %d to %d", len(m), x.Len())
		}
		for _, d := range ds {
			got, ok := x.Get(d.ID)
			if w, had := m[d.ID]; ok != had || got != w {
				t.Fatalf("a rejected batch changed driver %d: %+v %v, was %+v %v", d.ID, got, ok, w, had)
			}
		}
	}
	if err := x.UpsertBatch(nil); err != nil || x.Len() != len(m) {
		t.Fatalf("UpsertBatch(nil) = %v, Len %d", err, x.Len())
	}
}

// TestUpsertBatchConcurrentSearch runs batches (new drivers, drivers
// present from an earlier batch, which move, and the stable drivers,
// rewritten unchanged) while a reader searches, and checks every result:
// no stable driver is ever missed or changed, no driver comes twice.
// Another writer runs Upsert meanwhile, which the chunks let in.
func TestUpsertBatchConcurrentSearch(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 43))
	x := NewIndex(Options{StaleAfter: -1})
	box := func(r *rand.Rand) LatLng { return LatLng{Lat: 40.5 + r.Float64()*0.2, Lng: -74.2 + r.Float64()*0.2} }
	seen := time.UnixMilli(1).UTC()
	fixed := truth{}
	const stable = 3000
	batch := 12_000
	for i := range stable {
		d := Driver{ID: DriverID(i), Pos: box(r), Status: Status(i % 2), Seen: seen}
		_ = x.Upsert(d)
		fixed.put(d)
	}
	rounds := 6
	if testing.Short() || raceEnabled {
		rounds, batch = 3, 6000
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		defer done.Store(true)
		r := rand.New(rand.NewPCG(seed(t), 44))
		ds := make([]Driver, batch+stable)
		for round := range rounds {
			for i := range batch {
				ds[i] = Driver{ID: DriverID(stable + i), Pos: box(r), Status: Status(r.IntN(2)), Seen: seen}
			}
			// The stable drivers come too, unchanged: present before
			// and after, they go through the batch's update path.
			for i := range stable {
				ds[batch+i] = fixed[DriverID(i)]
			}
			if err := x.UpsertBatch(ds); err != nil {
				t.Error(err)
				return
			}
			if round%2 == 1 {
				for id := range DriverID(batch) {
					x.Remove(stable + id)
				}
			}
		}
	})
	wg.Go(func() {
		r := rand.New(rand.NewPCG(seed(t), 45))
		for i := 0; !done.Load(); i++ {
			_ = x.Upsert(Driver{ID: DriverID(-1 - i%500), Pos: box(r), Seen: seen})
		}
	})
	var buf []Match
	for i := 0; !done.Load() || i < 200; i++ {
		var msg string
		if buf, _, msg = searchAt(r, x, buf, box(r), fixed); msg != "" {
			t.Fatal(msg)
		}
	}
	wg.Wait()
	checkTree(t, x)
}

// FuzzUpsertBatch applies a batch decoded from the input (IDs and
// positions on a coarse grid, so that IDs repeat and points coincide) to
// an index holding a few drivers, with UpsertBatch and with Upsert one at
// a time, and compares them.
func FuzzUpsertBatch(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff"))
	f.Add(make([]byte, 400))
	f.Fuzz(func(t *testing.T, data []byte) {
		now := time.UnixMilli(1_800_000_000_000).UTC()
		clk := func() time.Time { return now }
		x := NewIndex(Options{StaleAfter: -1, Now: clk})
		y := NewIndex(Options{StaleAfter: -1, Now: clk})
		m := truth{}
		var ds []Driver
		for i := 0; i+3 <= len(data); i += 3 {
			b0, b1, b2 := data[i], data[i+1], data[i+2]
			d := Driver{
				ID:     DriverID(b0 & 63),
				Pos:    LatLng{Lat: float64(int(b1)-128) * 90 / 128, Lng: float64(int(b2)-128) * 180 / 128},
				Status: Status(b0 >> 7),
			}
			if b0&64 != 0 {
				d.Pos.Lat, d.Pos.Lng = 40.7+float64(b1)*1e-6, -74+float64(b2)*1e-6
			}
			ds = append(ds, d)
		}
		for i, d := range ds {
			if i%4 == 0 { // a few drivers present before the batch
				_ = x.Upsert(d)
			}
		}
		for i, d := range ds {
			if i%4 == 0 {
				_ = y.Upsert(d)
			}
		}
		if err := x.UpsertBatch(ds); err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			_ = y.Upsert(d)
			d.Seen = now
			m.put(d)
		}
		r := rand.New(rand.NewPCG(1, 2))
		sameIndexes(t, r, x, y, m)
	})
}

// TestUpsertBatchAllocs checks that a batch reuses its scratch buffers: a
// second batch of reports that keep every driver where it is (new
// last-seen times) allocates nothing. (Under the race detector sync.Pool
// drops buffers on purpose, so there the count is not checked.)
func TestUpsertBatchAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 46))
	x := NewIndex(Options{StaleAfter: -1})
	ds := make([]Driver, 5000)
	for i := range ds {
		ds[i] = Driver{ID: DriverID(r.IntN(1 << 40)), Pos: LatLng{Lat: 40.5 + r.Float64()*0.2, Lng: -74.2 + r.Float64()*0.2}, Status: Status(i % 2), Seen: time.UnixMilli(1)}
	}
	if err := x.UpsertBatch(ds); err != nil {
		t.Fatal(err)
	}
	ms, runs := int64(1), 20
	if raceEnabled {
		runs = 2
	}
	allocs := testing.AllocsPerRun(runs, func() {
		ms++
		for i := range ds {
			ds[i].Seen = time.UnixMilli(ms)
		}
		if err := x.UpsertBatch(ds); err != nil {
			t.Fatal(err)
		}
	})
	checkTree(t, x)
	if d, ok := x.Get(ds[0].ID); !ok || d.Seen.UnixMilli() != ms {
		t.Fatalf("Get after the batches = %+v %v, want last seen %d", d, ok, ms)
	}
	if !raceEnabled && allocs != 0 {
		t.Fatalf("a batch of %d updates allocated %v times", len(ds), allocs)
	}
}

// TestTreeKeyFollowsQuadrants checks what treeKey promises: below the
// polar latitudes, where cells split 2 x 2, each pair of the key's bits
// from the top is the quadrant the point takes at that level of the
// tree, unless the point lies within a few units of the cell's middle.
func TestTreeKeyFollowsQuadrants(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 47))
	for range 20_000 {
		x := int32(r.Int64N(worldX1-worldX0)) + worldX0
		y := int32(r.Int64N(2*minBandLat-1)) - minBandLat + 1
		key := treeKey(packPos(x, y))
		box := worldBox
		for level := range 20 {
			if box.bands() {
				break
			}
			mx, my := box.mid()
			q, child := box.descend(x, y)
			got := int32(key>>(62-2*level)) & 3
			if got == q {
				box = child
				continue
			}
			// The key and the tree part ways here; below, they disagree
			// on the cell.
			if (got^q)&1 != 0 && abs32(x-mx) > 8 || (got^q)&2 != 0 && abs32(y-my) > 8 {
				t.Fatalf("(%d, %d) level %d: key says quadrant %d, the tree %d (box %+v)", x, y, level, got, q, box)
			}
			break
		}
	}
}
