package storetest

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/blueprint-go/blueprint/shortid"
)

// RunCounter runs the conformance suite for a [shortid.Counter] against
// counters made by newCounter, which must return a fresh counter for every
// call. It checks that leases from 8 goroutines are disjoint and leave no
// gap, and that a lease past math.MaxUint64 fails with ErrExhausted and
// reserves nothing.
//
//	func TestCounter(t *testing.T) {
//		storetest.RunCounter(t, func(t *testing.T) shortid.Counter { return newTestCounter(t) })
//	}
func RunCounter(t *testing.T, newCounter func(t *testing.T) shortid.Counter) {
	t.Run("ConcurrentLeases", func(t *testing.T) { testLeases(t, newCounter(t)) })
	t.Run("Exhausted", func(t *testing.T) { testExhausted(t, newCounter(t)) })
}

type lease struct{ first, n uint64 }

// testLeases leases blocks of 1-7 values from 8 goroutines and checks that
// the blocks, sorted, follow each other without overlap or gap.
func testLeases(t *testing.T, c shortid.Counter) {
	const g, per = 8, 200
	got := make([][]lease, g)
	var wg sync.WaitGroup
	for w := range g {
		wg.Go(func() {
			for i := range per {
				n := uint64(1 + (w+i)%7)
				first, err := c.Lease(context.Background(), n)
				if err != nil {
					t.Errorf("Lease(%d): %v", n, err)
					return
				}
				got[w] = append(got[w], lease{first, n})
			}
		})
	}
	wg.Wait()
	all := slices.Concat(got...)
	if len(all) != g*per {
		t.Fatalf("%d leases succeeded, want %d", len(all), g*per)
	}
	slices.SortFunc(all, func(a, b lease) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	for i := 1; i < len(all); i++ {
		prev, cur := all[i-1], all[i]
		if end := prev.first + prev.n; cur.first != end {
			t.Fatalf("lease [%d, %d) is followed by one at %d: overlap or gap", prev.first, end, cur.first)
		}
	}
}

// testExhausted leases up to five values below math.MaxUint64, then checks
// that a lease of six fails without reserving anything, five succeed, and
// any further lease fails.
func testExhausted(t *testing.T, c shortid.Counter) {
	ctx := context.Background()
	first, err := c.Lease(ctx, 1)
	if err != nil {
		t.Fatalf("Lease(1): %v", err)
	}
	next := first + 1
	big := math.MaxUint64 - next - 5
	if got, err := c.Lease(ctx, big); err != nil || got != next {
		t.Fatalf("Lease(%d) = %d, %v; want %d", big, got, err, next)
	}
	if _, err := c.Lease(ctx, 6); !errors.Is(err, shortid.ErrExhausted) {
		t.Fatalf("Lease(6) with 5 values left = %v, want ErrExhausted", err)
	}
	want := next + big
	if got, err := c.Lease(ctx, 5); err != nil || got != want {
		t.Fatalf("Lease(5) with 5 values left = %d, %v; want %d (a failed lease must reserve nothing)", got, err, want)
	}
	if _, err := c.Lease(ctx, 1); !errors.Is(err, shortid.ErrExhausted) {
		t.Fatalf("Lease(1) with no value left = %v, want ErrExhausted", err)
	}
}
