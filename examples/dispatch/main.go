// Command dispatch runs the ride-dispatch case on a geo.Index for a few
// seconds: a fleet of drivers moves around New York and reports its
// positions through a gateway, riders ask for rides at a steady rate, and
// dispatchers give each rider the nearest free driver, who is then busy
// for the trip and free again after it. A fifth of the riders leave from
// one station, so the dispatchers often find the same drivers, and more
// riders leave from there than there are free drivers near it: those
// riders are the ones with no free driver within the radius. Some drivers stop reporting at the
// start and must drop out of every search once they are stale.
//
// It shows the two calls dispatch rests on:
//
//   - Index.Move for a position report. It keeps the driver's status, so a
//     report that arrives just after a dispatcher claimed the driver does
//     not make it free again, as an Upsert would.
//   - Matcher.Match to give a rider a driver: the nearest free drivers by
//     great-circle distance (Index.NearbyAvailable, without a lock), ranked
//     by an ETA (a straight-line estimate here; a routing engine in
//     production), the best claimed with Index.CompareAndSwapStatus, so
//     that of two dispatchers that found the same driver only one gets it
//     and the other takes its next best.
//
// Usage:
//
//	go run ./examples/dispatch                   # 100,000 drivers for 5 s
//	go run ./examples/dispatch -drivers 1000000 -riders 50000 -for 10s
//
// It prints what each part did, and fails (exit status 1) if a driver ever
// had two riders at once, a rider got a driver that had stopped reporting,
// or RemoveStale missed a driver that had.
package main

import (
	"container/heap"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blueprint-go/blueprint/geo"
)

// onTrip is this program's status for a driver with a rider; the index
// stores it as given and counts only geo.Available as free.
const onTrip geo.Status = 2

// The area the fleet drives in: about New York City.
var box = geo.Box{MinLat: 40.55, MaxLat: 40.90, MinLng: -74.05, MaxLng: -73.75}

// station is where the hotspot's riders stand (Penn Station): their
// searches find the same drivers, and the dispatchers race for them.
var station = geo.LatLng{Lat: 40.7506, Lng: -73.9935}

type config struct {
	drivers     int
	riders      float64       // ride requests a second
	dispatchers int           // goroutines matching riders to drivers
	run         time.Duration // how long riders keep coming
	report      time.Duration // how often each driver reports its position
	trip        time.Duration // mean length of a trip
	offline     float64       // share of drivers that never report after the start
	stale       time.Duration // Options.StaleAfter
	radius      float64       // metres a rider's search reaches
	hotspot     float64       // share of riders at one station, racing for the same drivers
	seed        uint64
}

func main() {
	var c config
	flag.IntVar(&c.drivers, "drivers", 100_000, "drivers in the fleet")
	flag.Float64Var(&c.riders, "riders", 20_000, "ride requests a second")
	flag.IntVar(&c.dispatchers, "dispatchers", 2, "dispatcher goroutines")
	flag.DurationVar(&c.run, "for", 5*time.Second, "how long riders keep coming")
	flag.DurationVar(&c.report, "report", time.Second, "how often each driver reports its position")
	flag.DurationVar(&c.trip, "trip", 2*time.Second, "mean length of a trip")
	flag.Float64Var(&c.offline, "offline", 0.01, "share of drivers that stop reporting at the start")
	flag.DurationVar(&c.stale, "stale", 2*time.Second, "how long a driver stays visible after its last report")
	flag.Float64Var(&c.radius, "radius", 3_000, "metres a rider's search reaches")
	flag.Float64Var(&c.hotspot, "hotspot", 0.2, "share of riders leaving from one station")
	flag.Uint64Var(&c.seed, "seed", 1, "seed of the fleet and the riders")
	flag.Parse()
	res, err := simulate(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dispatch:", err)
		os.Exit(2)
	}
	res.print(os.Stdout, c)
	if err := res.check(); err != nil {
		fmt.Fprintln(os.Stderr, "dispatch:", err)
		os.Exit(1)
	}
}

// result is what a simulation did.
type result struct {
	elapsed     time.Duration
	reports     int64 // Move calls by the gateway
	requested   int64 // riders who asked
	dropped     int64 // riders the dispatchers were too slow to take
	matched     int64 // riders given a driver
	unserved    int64 // riders with no free driver within the radius
	released    int64 // trips that ended with the driver free again
	offline     int   // drivers that stopped reporting
	removed     int   // drivers RemoveStale deleted
	missed      int   // drivers that stopped reporting and were not deleted: must be 0
	lapsed      int64 // reporting drivers deleted as stale because the gateway fell behind
	doubles     int64 // claims of a driver already on a trip: must be 0
	staleMatch  int64 // matches of a driver that stopped reporting, past StaleAfter: must be 0
	latency     []time.Duration
	pickup      []float64 // metres from each matched driver to its rider
	lostOffline int64     // trips whose driver was deleted as stale before their end
}

func (r *result) check() error {
	var errs []error
	if r.doubles > 0 {
		errs = append(errs, fmt.Errorf("%d drivers were given a second rider", r.doubles))
	}
	if r.staleMatch > 0 {
		errs = append(errs, fmt.Errorf("%d riders got a driver that had stopped reporting", r.staleMatch))
	}
	if r.missed > 0 {
		errs = append(errs, fmt.Errorf("RemoveStale left %d of the %d drivers that stopped reporting", r.missed, r.offline))
	}
	return errors.Join(errs...)
}

// simulate runs the fleet, the riders and the dispatchers for c.run, then
// lets the stale drivers expire, and returns what happened.
func simulate(c config) (*result, error) {
	if c.drivers <= 0 || c.riders < 0 || c.dispatchers <= 0 || c.run <= 0 || c.report <= 0 ||
		c.trip <= 0 || !(c.offline >= 0 && c.offline <= 1) || !(c.hotspot >= 0 && c.hotspot <= 1) ||
		c.stale <= 0 || !(c.radius > 0) {
		return nil, errors.New("every flag must be positive, and -offline and -hotspot shares in [0, 1]")
	}
	r := rand.New(rand.NewPCG(c.seed, 1))
	idx := geo.NewIndex(geo.Options{StaleAfter: c.stale})
	f := &fleet{
		idx:     idx,
		pos:     make([]geo.LatLng, c.drivers),
		offline: make([]bool, c.drivers),
		out:     make([]bool, c.drivers),
		busy:    make([]atomic.Bool, c.drivers),
	}
	load := make([]geo.Driver, c.drivers)
	start := time.Now()
	f.start = start
	res := &result{}
	for i := range load {
		f.pos[i] = randomPoint(r)
		f.offline[i] = r.Float64() < c.offline
		if f.offline[i] {
			res.offline++
		}
		load[i] = geo.Driver{ID: geo.DriverID(i), Pos: f.pos[i], Status: geo.Available, Seen: start}
	}
	if err := idx.UpsertBatch(load); err != nil {
		return nil, err
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var bg sync.WaitGroup
	gatewaySeed := r.Uint64()
	bg.Go(func() { res.reports, res.lapsed = f.gateway(ctx, c, gatewaySeed) })
	trips := make(chan trip, 1024)
	bg.Go(func() { res.released, res.lostOffline = f.endTrips(ctx, trips) })
	var removed atomic.Int64
	bg.Go(func() {
		t := time.NewTicker(c.stale / 4)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				removed.Add(int64(idx.RemoveStale()))
			}
		}
	})

	riders := make(chan geo.LatLng, 1<<16)
	var dispatchers sync.WaitGroup
	stats := make([]dispatchStats, c.dispatchers)
	for d := range stats {
		seed := r.Uint64()
		dispatchers.Go(func() { stats[d] = f.dispatch(c, seed, riders, trips) })
	}
	res.requested, res.dropped = requestRides(c, r, riders)
	close(riders)
	dispatchers.Wait()
	res.elapsed = time.Since(start)
	for _, s := range stats {
		res.matched += s.matched
		res.unserved += s.unserved
		res.doubles += s.doubles
		res.staleMatch += s.staleMatch
		res.latency = append(res.latency, s.latency...)
		res.pickup = append(res.pickup, s.pickup...)
	}
	// Every driver that stopped reporting is stale by now if the run
	// outlasted StaleAfter; wait for the rest and sweep once more.
	if wait := c.stale - time.Since(start); wait > 0 {
		time.Sleep(wait + 10*time.Millisecond)
	}
	stop()
	bg.Wait()
	res.removed = int(removed.Load()) + idx.RemoveStale()
	// Remove reports whether a driver was still there.
	for i, off := range f.offline {
		if off && idx.Remove(geo.DriverID(i)) {
			res.missed++
		}
	}
	return res, nil
}

// fleet is the drivers' side: where each is, and what the checks need.
type fleet struct {
	idx     *geo.Index
	pos     []geo.LatLng  // written by the gateway only
	offline []bool        // drivers that never report after the start
	out     []bool        // drivers deleted as stale while reporting; gateway only
	start   time.Time     // the load, the last report of the offline drivers
	busy    []atomic.Bool // set by the dispatcher that claimed the driver
}

// gateway moves every driver that still reports by up to 30 m once per
// c.report, through Index.Move, until ctx ends. It wakes every 10 ms and
// makes the reports due by then, so it catches up after a stall.
// It returns how many reports it made, and how many drivers it found
// deleted as stale (it fell more than StaleAfter behind) and left out.
func (f *fleet) gateway(ctx context.Context, c config, seed uint64) (reports, lapsed int64) {
	r := rand.New(rand.NewPCG(seed, 2))
	rate := float64(len(f.pos)) / c.report.Seconds()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	start, done, next := time.Now(), int64(0), 0
	for {
		select {
		case <-ctx.Done():
			return reports, lapsed
		case <-t.C:
		}
		for due := int64(rate * time.Since(start).Seconds()); done < due; done++ {
			i := next
			next = (next + 1) % len(f.pos)
			if f.offline[i] || f.out[i] {
				continue
			}
			p := geo.Destination(f.pos[i], r.Float64()*360, r.Float64()*30)
			if !box.Contains(p) {
				p = randomPoint(r)
			}
			switch err := f.idx.Move(geo.DriverID(i), p, time.Time{}); {
			case errors.Is(err, geo.ErrNotFound):
				// Deleted as stale: the gateway fell behind. The driver
				// is out for the rest of the run, as if its app had to
				// sign in again. Putting it back here would need its
				// status, which only dispatch knows: an Upsert could
				// free a driver on a trip, or claim one for ever.
				lapsed++
				f.out[i] = true
				continue
			case err != nil:
				panic(err) // p is valid
			}
			f.pos[i] = p
			reports++
		}
	}
}

// requestRides sends c.riders ride requests a second for c.run, a share
// c.hotspot of them from one station and the rest from random points of
// the area, and returns how many riders asked and how many of them found
// the dispatchers' queue full.
func requestRides(c config, r *rand.Rand, riders chan<- geo.LatLng) (requested, dropped int64) {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	start := time.Now()
	for now := range t.C {
		if now.Sub(start) > c.run {
			return requested, dropped
		}
		for due := int64(c.riders * now.Sub(start).Seconds()); requested < due; {
			requested++
			p := station
			if r.Float64() >= c.hotspot {
				p = randomPoint(r)
			}
			select {
			case riders <- p:
			default:
				dropped++
			}
		}
	}
	return requested, dropped
}

type dispatchStats struct {
	matched, unserved, doubles, staleMatch int64
	latency                                []time.Duration
	pickup                                 []float64
}

// dispatch gives each rider from riders the nearest free driver it can
// claim, and sends the trip to trips.
func (f *fleet) dispatch(c config, seed uint64, riders <-chan geo.LatLng, trips chan<- trip) dispatchStats {
	var s dispatchStats
	r := rand.New(rand.NewPCG(seed, 3))
	// The Matcher ranks the 8 nearest free drivers by a straight-line ETA
	// (plug a routing engine in as its ETA) and claims the best one it
	// can: of two dispatchers that found the same driver, one gets it.
	m := &geo.Matcher{Index: f.idx, Radius: c.radius, Claimed: onTrip}
	for rider := range riders {
		t0 := time.Now()
		a, err := m.Match(context.Background(), rider)
		if errors.Is(err, geo.ErrNoDriver) {
			s.unserved++
			continue
		} else if err != nil {
			panic(err) // the rider's point and the radius are valid
		}
		s.latency = append(s.latency, time.Since(t0))
		s.pickup = append(s.pickup, a.Distance)
		s.matched++
		if !f.busy[a.ID].CompareAndSwap(false, true) {
			s.doubles++
		}
		// The index read its clock after t0, so a driver that stopped
		// reporting more than StaleAfter (and a millisecond of rounding)
		// before t0 was stale to it.
		if f.offline[a.ID] && t0.UnixMilli()-f.start.UnixMilli() > c.stale.Milliseconds()+1 {
			s.staleMatch++
		}
		length := time.Duration(r.ExpFloat64() * float64(c.trip))
		trips <- trip{id: a.ID, end: time.Now().Add(length)}
	}
	return s
}

type trip struct {
	id  geo.DriverID
	end time.Time
}

// tripQueue is a min-heap of trips by their end.
type tripQueue []trip

func (q tripQueue) Len() int           { return len(q) }
func (q tripQueue) Less(i, j int) bool { return q[i].end.Before(q[j].end) }
func (q tripQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *tripQueue) Push(x any)        { *q = append(*q, x.(trip)) }
func (q *tripQueue) Pop() any {
	old := *q
	t := old[len(old)-1]
	*q = old[:len(old)-1]
	return t
}

// endTrips frees each driver from trips when its trip ends, until ctx
// ends. It returns how many it freed and how many had been deleted as
// stale before the end of their trip.
func (f *fleet) endTrips(ctx context.Context, trips <-chan trip) (released, gone int64) {
	var q tripQueue
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		for q.Len() > 0 && !q[0].end.After(time.Now()) {
			t := heap.Pop(&q).(trip)
			f.busy[t.id].Store(false)
			// SetStatus, not a compare-and-swap: it also frees a driver
			// gone stale during the trip, who is then available when it
			// reports again.
			switch err := f.idx.SetStatus(t.id, geo.Available); {
			case errors.Is(err, geo.ErrNotFound):
				gone++ // deleted as stale during the trip
			case err != nil:
				panic(err)
			default:
				released++
			}
		}
		if q.Len() > 0 {
			timer.Reset(time.Until(q[0].end))
		}
		select {
		case <-ctx.Done():
			return released, gone
		case t := <-trips:
			heap.Push(&q, t)
		case <-timer.C:
		}
	}
}

func randomPoint(r *rand.Rand) geo.LatLng {
	return geo.LatLng{
		Lat: box.MinLat + r.Float64()*(box.MaxLat-box.MinLat),
		Lng: box.MinLng + r.Float64()*(box.MaxLng-box.MinLng),
	}
}

func (r *result) print(w *os.File, c config) {
	secs := r.elapsed.Seconds()
	fmt.Fprintf(w, "%s drivers around New York, %s riders a second (%.0f%% at one station) for %v, %d dispatchers\n",
		thousands(float64(c.drivers)), thousands(c.riders), 100*c.hotspot, c.run, c.dispatchers)
	fmt.Fprintf(w, "  gateway     %s position reports through Index.Move (%s a second)\n",
		thousands(float64(r.reports)), thousands(float64(r.reports)/secs))
	fmt.Fprintf(w, "  riders      %s asked: %s matched, %s with no free driver within %.0f m (or every claim lost), %s dropped (queue full)\n",
		thousands(float64(r.requested)), thousands(float64(r.matched)), thousands(float64(r.unserved)),
		c.radius, thousands(float64(r.dropped)))
	if len(r.latency) > 0 {
		slices.Sort(r.latency)
		slices.Sort(r.pickup)
		fmt.Fprintf(w, "  match       Matcher.Match p50 %v, p99 %v; pickup distance p50 %.0f m, p99 %.0f m\n",
			quantile(r.latency, 0.5).Round(100*time.Nanosecond), quantile(r.latency, 0.99).Round(100*time.Nanosecond),
			quantile(r.pickup, 0.5), quantile(r.pickup, 0.99))
	}
	fmt.Fprintf(w, "  trips       %s ended with the driver free again, %s whose driver had been deleted as stale\n",
		thousands(float64(r.released)), thousands(float64(r.lostOffline)))
	fmt.Fprintf(w, "  stale       %s drivers stopped reporting; RemoveStale deleted %s (%s of them still reporting, the gateway behind)\n",
		thousands(float64(r.offline)), thousands(float64(r.removed)), thousands(float64(r.lapsed)))
	fmt.Fprintf(w, "  checks      drivers with two riders at once: %d; riders given a driver that stopped reporting, once stale: %d; such drivers left: %d\n",
		r.doubles, r.staleMatch, r.missed)
}

func quantile[T any](sorted []T, q float64) T {
	return sorted[min(len(sorted)-1, int(math.Floor(q*float64(len(sorted)))))]
}

// thousands formats v rounded to an integer with commas.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
