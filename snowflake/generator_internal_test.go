package snowflake

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// stepClock is a fake clock for internal tests; Sleep advances it.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Sleep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// TestCarriedClaimIsNotClockBehind replays what racing fast paths do when
// more than MaxSeq+1 of them add to the same state: with one sequence bit,
// four adds after an ID in tick t carry the last claim to tick t+2. Waiting
// for it is not the clock being behind, so even with MaxWait 0 awaitTick
// must wait and return that ID, at its tick.
func TestCarriedClaimIsNotClockBehind(t *testing.T) {
	l := DefaultLayout()
	l.NodeBits, l.SeqBits = 21, 1
	clock := &stepClock{now: t0.Add(100 * time.Microsecond)}
	g, err := NewGenerator(3, Options{Layout: l, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	first, err := g.Next()
	if err != nil {
		t.Fatal(err)
	}
	ns := g.elapsed() // what the racing fast paths checked
	var claims [4]uint64
	for i := range claims {
		claims[i] = g.state.Add(1)
	}
	id, err := g.awaitTick(claims[3], ns)
	if err != nil {
		t.Fatalf("awaitTick(carried claim) = %v, want its ID", err)
	}
	p := l.Decompose(id)
	want := l.Decompose(first).Time.Add(2 * time.Millisecond)
	if !p.Time.Equal(want) || p.Node != 3 || p.Seq != 0 {
		t.Errorf("carried ID = %+v, want tick %v, node 3, seq 0", p, want)
	}
	if now := clock.Now(); p.Time.After(now) {
		t.Errorf("carried ID at %v is ahead of the clock %v", p.Time, now)
	}

	// Had the clock gone back since the fast path's check, MaxWait applies.
	ns = g.elapsed()
	claims[0] = g.state.Add(1)
	claims[1] = g.state.Add(1)
	claims[2] = g.state.Add(1)
	clock.mu.Lock()
	clock.now = clock.now.Add(-time.Second)
	clock.mu.Unlock()
	if _, err := g.awaitTick(claims[2], ns); !errors.Is(err, ErrClockBehind) {
		t.Errorf("awaitTick after a 1s step back = %v, want ErrClockBehind", err)
	}
}

// TestCarryPastEnd: adds that carry the state past the layout's last tick
// get ErrExhausted, not an ID that wraps around.
func TestCarryPastEnd(t *testing.T) {
	l := DefaultLayout()
	l.TimeBits, l.NodeBits, l.SeqBits = 30, 31, 2
	clock := &stepClock{now: l.End().Add(-500 * time.Microsecond)}
	g, err := NewGenerator(0, Options{Layout: l, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Next(); err != nil {
		t.Fatal(err)
	}
	ns := g.elapsed()
	var last uint64
	for range 4 {
		last = g.state.Add(1)
	}
	if last>>g.seqBits <= g.maxTick {
		t.Fatalf("state %#x did not carry past the last tick %d", last, g.maxTick)
	}
	if id, err := g.awaitTick(last, ns); !errors.Is(err, ErrExhausted) {
		t.Errorf("awaitTick past the end = %v, %v; want ErrExhausted", id, err)
	}
}
