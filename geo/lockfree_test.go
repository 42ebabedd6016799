package geo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lfReport is what one report of a churning driver put into the index,
// as a search returns it: the searches must return only positions and
// metas that the driver's own reports carried.
type lfPos struct {
	id  DriverID
	pos LatLng
}

type lfMeta struct {
	id      DriverID
	seen    int64
	vehicle Vehicle
	status  Status
}

// TestLockFreeStationary runs one writer that churns drivers as hard as
// it can (moves inside leaves and across the area, piles that gather on
// one point and disperse, status flips through statuses other than
// Available and Unavailable, SetStatus, removals and re-insertions,
// UpsertBatch with repeated IDs, stale reports) and one that runs
// RemoveStale, against readers running every search. The churners never
// enter the quarter q of the area, and stationary drivers, which no
// writer touches, are everywhere. A search whose circle lies inside q
// must return exactly what brute force over the stationary drivers
// returns; any other must be sorted, hold no driver twice, respect k,
// the radius, the status and the filter, return only fresh drivers
// whose fields some report of theirs carried, and miss no stationary
// driver it should hold. After the writers stop, every search equals
// brute force over the model.
func TestLockFreeStationary(t *testing.T) {
	sd := seed(t)
	r := rand.New(rand.NewPCG(sd, 31))
	now := time.UnixMilli(1_800_000_000_000).UTC()
	x := NewIndex(Options{StaleAfter: time.Minute, Now: func() time.Time { return now }})
	cut := now.Add(-time.Minute).UnixMilli()
	inArea := func(r *rand.Rand) LatLng { return LatLng{40.5 + r.Float64()*0.4, -74.2 + r.Float64()*0.4} }
	inQ := func(p LatLng) bool { return p.Lat < 40.7+1e-6 && p.Lng < -74+1e-6 }
	outsideQ := func(r *rand.Rand) LatLng {
		for {
			if p := inArea(r); !inQ(p) {
				return p
			}
		}
	}
	const stationary, churners, churnBase = 3000, 2000, 100_000
	// Orbiters are churners that move only inside the small square
	// around orbit, across its leaves, keep their status, and are never
	// removed or stale: a search whose circle holds the square must
	// return them all.
	const orbiters, orbitBase = 100, 200_000
	orbit := LatLng{40.75, -73.95}
	inOrbit := func(r *rand.Rand) LatLng {
		return LatLng{orbit.Lat + (r.Float64()-0.5)*0.016, orbit.Lng + (r.Float64()-0.5)*0.02}
	}
	fixed := truth{}
	var load []Driver
	for i := range stationary {
		d := Driver{ID: DriverID(i), Pos: inArea(r), Status: Status(i % 4), Vehicle: Vehicle(i % 7),
			Seen: now.Add(-time.Duration(i%50) * time.Second)}
		load = append(load, d)
		fixed.put(d)
	}
	orbs := truth{} // the orbiters' fixed fields: ID, status, vehicle
	for i := range orbiters {
		d := Driver{ID: DriverID(orbitBase + i), Pos: inOrbit(r), Status: Status(i % 3), Vehicle: Vehicle(i % 7), Seen: now}
		load = append(load, d)
		orbs[d.ID] = d
	}

	var positions, metas sync.Map // lfPos, lfMeta -> struct{}
	model := truth{}              // the churners, as the writer left them (writer only)
	report := func(d Driver) {
		d.Pos = stored(d.Pos)
		positions.Store(lfPos{d.ID, d.Pos}, struct{}{})
		metas.Store(lfMeta{d.ID, d.Seen.UnixMilli(), d.Vehicle, d.Status}, struct{}{})
	}
	for _, d := range load[stationary:] {
		report(d)
	}
	if err := x.UpsertBatch(load); err != nil {
		t.Fatal(err)
	}
	seq := int64(0)
	churner := func(r *rand.Rand, id DriverID, p LatLng) Driver {
		seq++
		d := Driver{ID: id, Pos: p, Status: Status(r.IntN(4)), Vehicle: Vehicle(seq), Seen: now.Add(-time.Duration(seq%30000) * time.Millisecond)}
		if r.IntN(20) == 0 {
			d.Seen = now.Add(-2 * time.Minute) // stale: for RemoveStale
		}
		return d
	}

	dur := 1500 * time.Millisecond
	if testing.Short() {
		dur = 400 * time.Millisecond
	}
	var stop atomic.Bool
	var writes, sweeps, queries, exact atomic.Int64
	var wg sync.WaitGroup
	fail := func(format string, args ...any) {
		t.Errorf(format, args...)
		stop.Store(true)
	}
	wg.Go(func() { // the churner
		r := rand.New(rand.NewPCG(sd, 32))
		pile := LatLng{40.8, -73.9}
		var err error
		for !stop.Load() {
			writes.Add(1)
			if r.IntN(3) == 0 { // orbiters, one by one or in a batch
				n := 1 + r.IntN(2)*r.IntN(orbiters)
				batch := make([]Driver, n)
				for i := range batch {
					batch[i] = orbs[DriverID(orbitBase+r.IntN(orbiters))]
					batch[i].Pos = inOrbit(r)
					report(batch[i])
				}
				if n == 1 {
					err = x.Upsert(batch[0])
				} else {
					err = x.UpsertBatch(batch)
				}
				if err != nil {
					fail("orbiters: %v", err)
					return
				}
				continue
			}
			id := DriverID(churnBase + r.IntN(churners))
			d, had := model[id]
			switch op := r.IntN(100); {
			case op < 50 && had: // a short move, often across a leaf's edge
				p := d.Pos
				for {
					q := LatLng{min(max(p.Lat+(r.Float64()-0.5)*0.004, 40.5), 40.9), min(max(p.Lng+(r.Float64()-0.5)*0.004, -74.2), -73.8)}
					if !inQ(q) {
						p = q
						break
					}
				}
				d = churner(r, id, p)
			case op < 65: // a long trip, or an arrival
				d = churner(r, id, outsideQ(r))
			case op < 72 && had: // a status flip in place
				got, ok := x.Get(id)
				if !ok {
					continue // stale, and maybe swept
				}
				st := Status(r.IntN(4))
				got.Status = st
				report(got)
				if err := x.SetStatus(id, st); err != nil {
					fail("SetStatus(%d): %v", id, err)
					return
				}
				d.Status = st
				model[id] = d
				continue
			case op < 80:
				if gone := x.Remove(id); gone != had && (gone || d.Seen.UnixMilli() >= cut) {
					fail("Remove(%d) = %v, want %v", id, gone, had)
					return
				}
				delete(model, id)
				continue
			case op < 97: // a batch: moves, arrivals, repeated IDs, bad ones
				n := []int{1, 5, 40, 700}[r.IntN(4)]
				batch := make([]Driver, n)
				for i := range batch {
					id := DriverID(churnBase + r.IntN(churners))
					if i > 0 && r.IntN(4) == 0 {
						id = batch[r.IntN(i)].ID // repeated: the last wins
					}
					p := outsideQ(r)
					if od, ok := model[id]; ok && r.IntN(2) == 0 {
						p = LatLng{min(max(od.Pos.Lat+(r.Float64()-0.5)*0.004, 40.5), 40.9), od.Pos.Lng}
						if inQ(p) {
							p = od.Pos
						}
					}
					batch[i] = churner(r, id, p)
				}
				if r.IntN(10) == 0 { // one bad driver rejects them all
					bad := r.IntN(n)
					saved := batch[bad]
					batch[bad].Pos.Lat = 91
					err := x.UpsertBatch(batch)
					if !errors.Is(err, ErrInvalidLatLng) {
						fail("UpsertBatch with a bad driver %d = %v", bad, err)
						return
					}
					batch[bad] = saved
				}
				for _, d := range batch {
					report(d)
				}
				if err := x.UpsertBatch(batch); err != nil {
					fail("UpsertBatch: %v", err)
					return
				}
				for _, d := range batch {
					model.put(d)
				}
				continue
			default: // a pile: many churners on one point, which later disperse
				n := 150 + r.IntN(100)
				for i := range n {
					d := churner(r, DriverID(churnBase+(int(id)-churnBase+i)%churners), pile)
					report(d)
					if err := x.Upsert(d); err != nil {
						fail("Upsert: %v", err)
						return
					}
					model.put(d)
				}
				pile = outsideQ(r)
				continue
			}
			report(d)
			if err := x.Upsert(d); err != nil {
				fail("Upsert(%+v): %v", d, err)
				return
			}
			model.put(d)
		}
	})
	wg.Go(func() { // the sweeper
		for !stop.Load() {
			sweeps.Add(1)
			x.RemoveStale()
			time.Sleep(time.Millisecond)
		}
	})
	check := func(res []Match, c LatLng, radius float64, k int, avail bool, filter func(Driver) bool, sorted bool) string {
		if k > 0 && len(res) > k {
			return "more than k results"
		}
		ids := map[DriverID]bool{}
		for i, m := range res {
			switch {
			case ids[m.ID]:
				return fmt.Sprintf("driver %d returned twice", m.ID)
			case sorted && i > 0 && m.Distance < res[i-1].Distance:
				return "results not sorted"
			case m.Distance != Distance(c, m.Pos) || m.Distance > radius:
				return fmt.Sprintf("driver %d at %v m, %v m from its position, radius %v", m.ID, m.Distance, Distance(c, m.Pos), radius)
			case avail && m.Status != Available:
				return fmt.Sprintf("driver %d of status %d from NearbyAvailable", m.ID, m.Status)
			case m.Seen.UnixMilli() < cut:
				return fmt.Sprintf("stale driver %d, seen %v", m.ID, m.Seen)
			case filter != nil && !filter(m.Driver):
				return fmt.Sprintf("driver %d that the filter rejects", m.ID)
			}
			ids[m.ID] = true
			if d, ok := fixed[m.ID]; ok {
				if d != m.Driver {
					return fmt.Sprintf("stationary driver %+v returned as %+v", d, m.Driver)
				}
				continue
			}
			if _, ok := positions.Load(lfPos{m.ID, m.Pos}); !ok {
				return fmt.Sprintf("driver %+v at a position it never reported", m.Driver)
			}
			if _, ok := metas.Load(lfMeta{m.ID, m.Seen.UnixMilli(), m.Vehicle, m.Status}); !ok {
				return fmt.Sprintf("driver %+v with a status, vehicle and time it never reported", m.Driver)
			}
		}
		limit, full := radius, k > 0 && len(res) == k
		if full {
			limit = res[len(res)-1].Distance
		}
		for id, d := range fixed {
			if (avail && d.Status != Available) || (filter != nil && !filter(d)) {
				continue
			}
			if dist := Distance(c, d.Pos); (dist < limit || (!full && dist <= limit)) && !ids[id] {
				return fmt.Sprintf("stationary driver %d at %v m missing (%d results)", id, dist, len(res))
			}
		}
		return ""
	}
	for g := range 2 {
		wg.Go(func() { // the readers
			r := rand.New(rand.NewPCG(sd, uint64(40+g)))
			var buf []Match
			var ids []DriverID
			ctx := context.Background()
			for !stop.Load() {
				queries.Add(1)
				c := inArea(r)
				radius := []float64{300, 2000, 4000, 30_000}[r.IntN(4)]
				inside := false
				if r.IntN(2) == 0 { // a circle inside q, which churners never enter
					c = LatLng{40.55 + r.Float64()*0.1, -74.15 + r.Float64()*0.1}
					radius = min(radius, 4000)
					inside = true
				}
				k := []int{1, 10, 50, 0}[r.IntN(4)]
				orbiting := !inside && r.IntN(3) == 0
				if orbiting { // a circle holding the orbiters' square
					c, radius, k = orbit, []float64{2000, 3000}[r.IntN(2)], 0
				}
				var filter func(Driver) bool
				if r.IntN(3) == 0 {
					v := Vehicle(r.IntN(7))
					filter = func(d Driver) bool { return d.Vehicle != v }
				}
				kind := r.IntN(4)
				var err error
				var want []Match
				avail := kind == 1
				switch kind {
				case 0, 1:
					buf, err = x.appendNearby(ctx, buf[:0], c, radius, k, filter, avail)
				case 2:
					k = 0
					buf, err = x.AppendWithin(ctx, buf[:0], c, radius, filter)
				case 3:
					k, filter = 0, nil
					ids, err = x.AppendWithinIDs(ctx, ids[:0], c, radius)
					buf = buf[:0]
					for _, id := range ids {
						// Only the IDs: take the fields from the
						// stationary drivers, and skip the checks
						// of the others' fields.
						if d, ok := fixed[id]; ok {
							buf = append(buf, Match{d, Distance(c, d.Pos)})
						}
					}
					if len(slices.Compact(slices.Sorted(slices.Values(ids)))) != len(ids) {
						fail("AppendWithinIDs(%v, %v) returned a driver twice", c, radius)
						return
					}
				}
				if err != nil {
					fail("search: %v", err)
					return
				}
				if kind >= 2 { // in no order
					slices.SortFunc(buf, func(a, b Match) int { return cmp.Compare(a.Distance, b.Distance) })
				}
				if msg := check(buf, c, radius, k, avail, filter, kind < 2); msg != "" {
					fail("%s (kind %d, center %v, radius %v, k %d, filter %v)", msg, kind, c, radius, k, filter != nil)
					return
				}
				if orbiting {
					got := map[DriverID]bool{}
					if kind == 3 {
						for _, id := range ids {
							got[id] = true
						}
					} else {
						for _, m := range buf {
							got[m.ID] = true
						}
					}
					for id, d := range orbs {
						if (!avail || d.Status == Available) && (filter == nil || filter(d)) && !got[id] {
							fail("kind %d around the orbit (%v, %v, filter %v) missed orbiter %d", kind, c, radius, filter != nil, id)
							return
						}
					}
				}
				if inside {
					exact.Add(1)
					f := filter
					if avail {
						f = func(d Driver) bool { return d.Status == Available && (filter == nil || filter(d)) }
					}
					want = bruteNearby(fixed, c, radius, k, cut, f)
					if kind == 3 && len(buf) != len(ids) {
						fail("AppendWithinIDs(%v, %v) inside q returned %d drivers, %d of them stationary", c, radius, len(ids), len(buf))
						return
					}
					if len(buf) != len(want) {
						fail("kind %d inside q (%v, %v, k %d) returned %d drivers, want %d", kind, c, radius, k, len(buf), len(want))
						return
					}
					for i := range buf {
						if buf[i].Driver != want[i].Driver || buf[i].Distance != want[i].Distance {
							fail("kind %d inside q: result %d = %+v, want %+v", kind, i, buf[i], want[i])
							return
						}
					}
				}
			}
		})
	}
	deadline := time.Now().Add(dur)
	for time.Now().Before(deadline) && !stop.Load() {
		time.Sleep(10 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d writes, %d sweeps, %d queries (%d exact)", writes.Load(), sweeps.Load(), queries.Load(), exact.Load())
	if t.Failed() {
		return
	}
	x.RemoveStale()
	checkTree(t, x)
	all := truth{}
	for id, d := range fixed {
		all[id] = d
	}
	for id := range orbs {
		got, ok := x.Get(id)
		if !ok || got.Status != orbs[id].Status || got.Vehicle != orbs[id].Vehicle {
			t.Fatalf("Get(orbiter %d) = %+v %v", id, got, ok)
		}
		all[id] = got
	}
	for id, d := range model {
		if d.Seen.UnixMilli() >= cut {
			all[id] = d
		}
	}
	if x.Len() != len(all) {
		t.Fatalf("Len() = %d after RemoveStale, want %d", x.Len(), len(all))
	}
	for id := range DriverID(churners) {
		id += churnBase
		got, ok := x.Get(id)
		if want, had := all[id]; ok != had || got != want {
			t.Fatalf("Get(%d) = %+v %v, want %+v %v", id, got, ok, want, had)
		}
	}
	for range 30 {
		c, radius, k := inArea(r), []float64{300, 2000, 30_000}[r.IntN(3)], r.IntN(20)
		for _, avail := range []bool{false, true} {
			var f func(Driver) bool
			if avail {
				f = func(d Driver) bool { return d.Status == Available }
			}
			got, _ := x.appendNearby(context.Background(), nil, c, radius, k, nil, avail)
			want := bruteNearby(all, c, radius, k, cut, f)
			if len(got) != len(want) {
				t.Fatalf("after the writers: Nearby (avail %v) found %d, brute force %d", avail, len(got), len(want))
			}
			for i := range got {
				if got[i].Distance != want[i].Distance || got[i].Driver != all[got[i].ID] {
					t.Fatalf("after the writers: result %d = %+v, want %+v", i, got[i], want[i])
				}
			}
		}
		checkWithinIDs(t, x, all, c, radius, cut)
	}
}
