package snowflake_test

import (
	"sync"
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
// sequence (256 per tick), so that batches, atomic adds that carry into the
// next tick and waits all race with each other.
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
