package fanout_test

import (
	"context"
	"math"
	"runtime"
	"testing"

	"github.com/blueprint-go/blueprint/fanout"
)

// TestNewClampsQueue checks that New takes any Options.Queue, as it takes
// any other option: a Queue above MaxQueue means MaxQueue, where New
// panicked on math.MaxInt (makechan: size out of range) and allocated the
// queue's buffer up front for any large one.
func TestNewClampsQueue(t *testing.T) {
	for _, q := range []int{math.MaxInt, math.MaxInt32 + 1, fanout.MaxQueue + 1, fanout.MaxQueue, -5} {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("New with Queue %d panicked: %v", q, r)
				}
			}()
			svc := fanout.New(fanout.NewMemGraph(), fanout.NewMemPosts(), fanout.NewMemTimelines(fanout.MemTimelinesOptions{}),
				fanout.Options{Queue: q})
			if _, err := svc.Publish(context.Background(), 1, "x"); err != nil {
				t.Fatalf("Queue %d: Publish: %v", q, err)
			}
			if err := svc.Close(); err != nil {
				t.Fatal(err)
			}
		}()
	}
}

// TestNewClampsWorkers checks the same for Options.Workers, which New
// started all of: math.MaxInt goroutines.
func TestNewClampsWorkers(t *testing.T) {
	// 4 x MaxWorkers first, which fails cleanly without the clamp.
	for _, w := range []int{4 * fanout.MaxWorkers, math.MaxInt} {
		before := runtime.NumGoroutine()
		svc := fanout.New(fanout.NewMemGraph(), fanout.NewMemPosts(), fanout.NewMemTimelines(fanout.MemTimelinesOptions{}),
			fanout.Options{Workers: w})
		if n := runtime.NumGoroutine() - before; n > fanout.MaxWorkers+16 {
			t.Fatalf("New with Workers %d started %d goroutines", w, n)
		}
		if _, err := svc.Publish(context.Background(), 1, "x"); err != nil {
			t.Fatal(err)
		}
		if err := svc.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
