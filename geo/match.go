package geo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// Errors of [Matcher.Match]. Test for them with errors.Is.
var (
	// ErrNoDriver means a Matcher found no driver to claim: none
	// available that the filter accepts within the radius of the pickup,
	// none of the nearest Candidates that the ETA says can reach it, or
	// every one it tried to claim taken by another dispatcher first,
	// round after round.
	ErrNoDriver = errors.New("geo: no driver available")
	// ErrInvalidStatus means a Matcher would give matched drivers the
	// Available status, which would leave them free for the next rider.
	ErrInvalidStatus = errors.New("geo: invalid status")
)

// ETA estimates how long drivers take to reach a point. Plug in a routing
// engine (a one-to-many travel-time query); [StraightLine] is the estimate
// without one. An implementation used by a [Matcher] from several
// goroutines must be safe for concurrent use.
type ETA interface {
	// ETAs sets etas[i] to how long drivers[i] takes to reach to, or to a
	// negative duration if it cannot reach it (a slot left unset counts as
	// that too). drivers come from a search: each Match holds the driver
	// and its great-circle distance to to. It must not modify drivers, nor
	// keep drivers or etas.
	ETAs(ctx context.Context, to LatLng, drivers []Match, etas []time.Duration) error
}

// StraightLine estimates an ETA from the great-circle distance alone:
// the distance times Detour, at Speed. The zero value uses the defaults,
// and so does a Speed or Detour that is not a positive finite number. An
// estimate past time.Duration's range is its largest value.
type StraightLine struct {
	// Speed is in metres a second; zero or less means 8.33 (30 km/h, a
	// guess at a city's average; set your own).
	Speed float64
	// Detour is how much longer the road is than the straight line; zero
	// or less means 1.2, about the average circuity factor of roads in the
	// United States (Ballou, Rahardja and Sakai, "Selected country
	// circuity factors for road travel distance estimation",
	// Transportation Research Part A 36(9), 2002).
	Detour float64
}

// ETAs implements [ETA]. It never fails.
func (s StraightLine) ETAs(_ context.Context, _ LatLng, drivers []Match, etas []time.Duration) error {
	for i, d := range drivers {
		etas[i] = s.eta(d.Distance)
	}
	return nil
}

// eta returns the time to drive metres of straight line.
func (s StraightLine) eta(metres float64) time.Duration {
	speed, detour := s.Speed, s.Detour
	if !(speed > 0 && speed <= math.MaxFloat64) {
		speed = 30_000.0 / 3600
	}
	if !(detour > 0 && detour <= math.MaxFloat64) {
		detour = 1.2
	}
	// Converting a float beyond int64's range to an integer gives a
	// value that depends on the machine (a negative one on amd64, which
	// would read as unreachable).
	if v := metres * detour / speed * float64(time.Second); v < 1<<63 {
		return time.Duration(v)
	}
	return math.MaxInt64
}

// Matcher gives riders drivers: of the Candidates nearest available
// drivers within Radius of a pickup, it claims the one with the smallest
// ETA. Ranking by ETA rather than by distance is what dispatch wants (the
// nearest driver may be across a river), and a routing engine is too slow
// to ask about every driver, so the index narrows the field first. A
// Matcher is safe for concurrent use by many dispatchers if its ETA and
// Filter are, and must not be changed while in use.
type Matcher struct {
	// Index holds the drivers. Required.
	Index *Index
	// ETA ranks the candidates; nil means StraightLine{}, which ranks them
	// as their distance does.
	ETA ETA
	// Radius is how far from the pickup drivers are searched for, in
	// metres: more than zero, up to half the Earth's circumference.
	Radius float64
	// Candidates is how many of the nearest available drivers are weighed
	// by ETA; zero or less means 8.
	Candidates int
	// Claimed is the status a matched driver gets. It must not be
	// Available.
	Claimed Status
	// Filter, if not nil, is a condition on drivers (a vehicle type, say),
	// as in [Index.NearbyAvailable].
	Filter func(Driver) bool
}

// Assignment is a driver a [Matcher] claimed for a rider.
type Assignment struct {
	// Match is the driver as the search found it, with its status now the
	// Matcher's Claimed, and its great-circle distance to the pickup.
	Match
	// ETA is its estimated time to the pickup.
	ETA time.Duration
}

// matchRounds bounds the searches of one Match: each round's candidates
// were all claimed by other dispatchers before this one could.
const matchRounds = 4

// matchScratch holds a Match's buffers, reused through matchPool.
type matchScratch struct {
	ms   []Match
	etas []time.Duration
	ord  []int
}

var matchPool = sync.Pool{New: func() any { return new(matchScratch) }}

// Match claims a driver for a rider at pickup and returns it: of the
// available drivers that Filter accepts within Radius, the Candidates
// nearest are ranked by ETA (ties by distance, then ID; a driver with a
// negative ETA is left out), and the first that
// [Index.CompareAndSwapStatus] can still turn from Available to Claimed
// is the rider's. A driver another dispatcher claimed in the meantime is
// passed over; if all of them were, Match searches again, up to 4 times.
//
// The drivers' places, distances and the Filter's verdicts are those the
// search saw: a driver claimed is the one the search found, as it was a
// moment before.
//
// It returns [ErrNoDriver] if no driver could be claimed; an error
// wrapping [ErrInvalidStatus] if Claimed is Available, [ErrInvalidLatLng]
// or [ErrInvalidRadius] for a bad pickup or Radius (zero included); ctx's error if it
// ends; and the ETA's error, wrapped, if the ETA fails. In each case it
// claimed no driver. It costs one NearbyAvailable search, one ETA call
// for up to Candidates drivers and one CompareAndSwapStatus per claim
// tried (a round of each per lost round).
func (m *Matcher) Match(ctx context.Context, pickup LatLng) (Assignment, error) {
	if m.Claimed == Available {
		return Assignment{}, fmt.Errorf("%w: a Matcher's Claimed status must not be Available", ErrInvalidStatus)
	}
	if m.Radius == 0 {
		return Assignment{}, fmt.Errorf("%w: a Matcher's Radius is zero", ErrInvalidRadius)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	eta := m.ETA
	if eta == nil {
		eta = StraightLine{}
	}
	k := m.Candidates
	if k <= 0 {
		k = 8
	}
	sc := matchPool.Get().(*matchScratch)
	defer matchPool.Put(sc)
	for range matchRounds {
		var err error
		sc.ms, err = m.Index.AppendNearbyAvailable(ctx, sc.ms[:0], pickup, m.Radius, k, m.Filter)
		if err != nil {
			return Assignment{}, err
		}
		if len(sc.ms) == 0 {
			return Assignment{}, ErrNoDriver
		}
		sc.etas = slices.Grow(sc.etas[:0], len(sc.ms))[:len(sc.ms)]
		for i := range sc.etas {
			sc.etas[i] = -1 // unset: unreachable, not a value of an earlier call
		}
		if err := eta.ETAs(ctx, pickup, sc.ms, sc.etas); err != nil {
			return Assignment{}, fmt.Errorf("geo: ETA: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return Assignment{}, err
		}
		sc.ord = sc.ord[:0]
		for i, e := range sc.etas {
			if e >= 0 {
				sc.ord = append(sc.ord, i)
			}
		}
		slices.SortFunc(sc.ord, func(a, b int) int {
			return cmp.Or(cmp.Compare(sc.etas[a], sc.etas[b]),
				cmp.Compare(sc.ms[a].Distance, sc.ms[b].Distance),
				cmp.Compare(sc.ms[a].ID, sc.ms[b].ID))
		})
		for _, i := range sc.ord {
			ok, err := m.Index.CompareAndSwapStatus(sc.ms[i].ID, Available, m.Claimed)
			if err != nil || !ok {
				continue // claimed by another dispatcher, or stale since the search
			}
			a := Assignment{Match: sc.ms[i], ETA: sc.etas[i]}
			a.Status = m.Claimed
			return a, nil
		}
		if len(sc.ord) == 0 {
			return Assignment{}, ErrNoDriver // none can reach the pickup
		}
	}
	return Assignment{}, ErrNoDriver
}
