package snowflake_test

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/snowflake"
)

// collect runs workers goroutines that each take n IDs from take and checks
// that every goroutine saw its IDs strictly increase; it returns all IDs.
func collect(t *testing.T, workers, n int, take func(dst []snowflake.ID) error) []snowflake.ID {
	t.Helper()
	all := make([]snowflake.ID, workers*n)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		mine := all[w*n : (w+1)*n]
		wg.Go(func() {
			if err := take(mine); err != nil {
				errs <- err
				return
			}
			for i := 1; i < len(mine); i++ {
				if mine[i] <= mine[i-1] {
					t.Errorf("worker %d: ID %d = %d after %d", w, i, mine[i], mine[i-1])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return all
}

// assertUnique fails if ids, made of workers runs that each increase
// strictly (as collect checks), holds a duplicate. It merges the runs rather
// than sorting, which is several times faster under -race.
func assertUnique(t *testing.T, ids []snowflake.ID, workers int) {
	t.Helper()
	n := len(ids) / workers
	heads := make([]int, workers)
	last := snowflake.ID(-1)
	for range ids {
		best := -1
		for w, h := range heads {
			if h < n && (best < 0 || ids[w*n+h] < ids[best*n+heads[best]]) {
				best = w
			}
		}
		id := ids[best*n+heads[best]]
		if id == last {
			t.Fatalf("duplicate ID %d", id)
		}
		last = id
		heads[best]++
	}
}

func nextEach(g *snowflake.Generator) func([]snowflake.ID) error {
	return func(dst []snowflake.ID) error {
		for i := range dst {
			id, err := g.Next()
			if err != nil {
				return err
			}
			dst[i] = id
		}
		return nil
	}
}

// TestUniqueConcurrent: 8 goroutines share one generator on the system clock
// and the default layout, so they run into the 4096-per-millisecond cap and
// through every path of Next. 8 × 1M IDs; 8 × 100k with -short.
func TestUniqueConcurrent(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	g := newGen(t, 1, snowflake.Options{})
	start := time.Now()
	ids := collect(t, 8, n, nextEach(g))
	elapsed := time.Since(start)
	assertUnique(t, ids, 8)
	t.Logf("%d IDs in %v, checked in %v", len(ids), elapsed, time.Since(start)-elapsed)
	// The cap: no more than 4096 IDs per started millisecond.
	if max := 4096 * (elapsed.Milliseconds() + 2); int64(len(ids)) > max {
		t.Errorf("%d IDs in %v: more than 4096 per millisecond", len(ids), elapsed)
	}
}

// TestUniqueConcurrentMixed mixes Next and NextN on a layout with a short
// sequence (256 per tick), so that batches, single adds and waits race with
// each other. Whether an add carries into the next tick here depends on the
// scheduler (it does under -race, seldom without); TestForcedCarries forces
// carries.
func TestUniqueConcurrentMixed(t *testing.T) {
	l := snowflake.DefaultLayout()
	l.NodeBits, l.SeqBits = 14, 8
	n := 20_000
	if testing.Short() {
		n = 5_000
	}
	g := newGen(t, 1, snowflake.Options{Layout: l})
	var k int
	var mu sync.Mutex
	ids := collect(t, 8, n, func(dst []snowflake.ID) error {
		mu.Lock()
		k++
		batch := k%2 == 0
		mu.Unlock()
		if !batch {
			return nextEach(g)(dst)
		}
		for i := 0; i < len(dst); i += 37 {
			if err := g.NextN(dst[i:min(i+37, len(dst))]); err != nil {
				return err
			}
		}
		return nil
	})
	assertUnique(t, ids, 8)
}

// TestConcurrentFakeClock shares a generator and a fake clock (moved only by
// the generator's own waits) among goroutines and checks that no ID is ahead
// of the clock when it is returned.
func TestConcurrentFakeClock(t *testing.T) {
	l := snowflake.DefaultLayout()
	l.NodeBits, l.SeqBits = 17, 5 // 32 IDs per tick
	clock := newFakeClock(t0)
	g := newGen(t, 0, snowflake.Options{Layout: l, Clock: clock})
	ids := collect(t, 8, 2_500, func(dst []snowflake.ID) error {
		for i := range dst {
			id, err := g.Next()
			if err != nil {
				return err
			}
			if at, now := l.Decompose(id).Time, clock.Now(); at.After(now) {
				t.Errorf("ID %d has time %v, ahead of the clock %v", id, at, now)
			}
			dst[i] = id
		}
		return nil
	})
	assertUnique(t, ids, 8)
}

// TestForcedCarries lines 8 goroutines up between Next's fast-path check and
// its atomic add, on a layout with 2 IDs per tick, so that their adds carry
// the state up to 4 ticks ahead of the clock. With MaxWait 0 every Next must
// still succeed (waiting forward for a carried claim is not the clock being
// behind), with unique IDs, none ahead of the clock, and the carried ones
// opening ticks t+1 to t+4.
func TestForcedCarries(t *testing.T) {
	l := snowflake.DefaultLayout()
	l.NodeBits, l.SeqBits = 21, 1
	clock := newFakeClock(t0)
	g := newGen(t, 2, snowflake.Options{Layout: l, Clock: clock})
	first := mustNext(t, g) // tick t, sequence 0: the fast path has room
	const workers = 8
	var lineUp sync.WaitGroup
	lineUp.Add(workers)
	snowflake.SetBeforeAdd(g, func() { lineUp.Done(); lineUp.Wait() })
	ids := make([]snowflake.ID, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ids[w], errs[w] = g.Next()
			if at, now := l.Decompose(ids[w]).Time, clock.Now(); errs[w] == nil && at.After(now) {
				t.Errorf("ID %d has time %v, ahead of the clock %v", ids[w], at, now)
			}
		})
	}
	wg.Wait()
	start := l.Decompose(first).Time
	opened := map[time.Time]bool{}
	for w, id := range ids {
		if errs[w] != nil {
			t.Fatalf("worker %d: Next() = %v", w, errs[w])
		}
		if p := l.Decompose(id); p.Seq == 0 {
			opened[p.Time] = true
		}
	}
	for k := 1; k <= 4; k++ {
		if at := start.Add(time.Duration(k) * time.Millisecond); !opened[at] {
			t.Errorf("no carried ID opens tick t+%d (%v); IDs %v", k, at, ids)
		}
	}
	slices.Sort(ids)
	prev := first
	for _, id := range ids {
		if id <= prev {
			t.Errorf("IDs not unique or not after %d: %v", first, ids)
			break
		}
		prev = id
	}
}

// highClock is a fake clock that remembers the latest time it ever read, so
// a test can check that no ID is ahead of any reading while another goroutine
// steps the clock back and forth.
type highClock struct {
	fakeClock
	high time.Time
}

func (c *highClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.After(c.high) {
		c.high = c.now
	}
	return c.now
}

func (c *highClock) High() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.high
}

// TestConcurrentClockSteps runs 8 goroutines of Next and NextN on a layout
// with 4 IDs per tick while another goroutine steps the clock back and
// forth by 2 ms, with a MaxWait long enough that every step back is waited
// out: the IDs must be unique, increase per goroutine, and never be ahead of
// the latest clock reading.
func TestConcurrentClockSteps(t *testing.T) {
	l := snowflake.DefaultLayout()
	l.NodeBits, l.SeqBits = 20, 2
	clock := &highClock{fakeClock: fakeClock{now: t0}}
	g := newGen(t, 9, snowflake.Options{Layout: l, Clock: clock, MaxWait: time.Hour})
	n := 4_000
	if testing.Short() {
		n = 1_000
	}
	stop := make(chan struct{})
	var steps sync.WaitGroup
	var stepped int
	steps.Go(func() {
		for back := true; ; back = !back {
			stepped++
			select {
			case <-stop:
				return
			default:
			}
			if back {
				clock.Step(-2 * time.Millisecond)
			} else {
				clock.Step(2 * time.Millisecond)
			}
			runtime.Gosched()
		}
	})
	var k atomic.Int64
	ids := collect(t, 8, n, func(dst []snowflake.ID) error {
		batch := k.Add(1)%2 == 0
		for i := 0; i < len(dst); {
			j := i + 1
			if batch {
				j = min(i+7, len(dst))
				if err := g.NextN(dst[i:j]); err != nil {
					return err
				}
			} else {
				id, err := g.Next()
				if err != nil {
					return err
				}
				dst[i] = id
			}
			high := clock.High()
			for _, id := range dst[i:j] {
				if at := l.Decompose(id).Time; at.After(high) {
					t.Errorf("ID %d has time %v, ahead of every clock reading (latest %v)", id, at, high)
					return nil
				}
			}
			i = j
		}
		return nil
	})
	close(stop)
	steps.Wait()
	assertUnique(t, ids, 8)
	if stepped < 2 {
		t.Errorf("the clock stepped %d times, want the IDs to race with steps", stepped)
	}
	t.Logf("%d clock steps; the generator slept %v", stepped, clock.Slept())
}
