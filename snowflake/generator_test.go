package snowflake_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/snowflake"
)

// fakeClock is a wall clock that tests move by hand; Sleep moves it forward
// by the duration asked for, so waits are exact and instant.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept += d
}

// Step moves the clock by d, backwards if d is negative.
func (c *fakeClock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Slept returns the total time slept so far.
func (c *fakeClock) Slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}

// t0 is a time on a tick boundary of the default layout, five years in.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newGen(t *testing.T, node int64, opts snowflake.Options) *snowflake.Generator {
	t.Helper()
	g, err := snowflake.NewGenerator(node, opts)
	if err != nil {
		t.Fatalf("NewGenerator(%d, %+v) = %v", node, opts, err)
	}
	return g
}

func mustNext(t *testing.T, g *snowflake.Generator) snowflake.ID {
	t.Helper()
	id, err := g.Next()
	if err != nil {
		t.Fatalf("Next() = %v", err)
	}
	return id
}

func TestNewGeneratorRejects(t *testing.T) {
	l := snowflake.DefaultLayout()
	for _, c := range []struct {
		name string
		node int64
		opts snowflake.Options
		want error
	}{
		{"negative node", -1, snowflake.Options{}, snowflake.ErrNode},
		{"node too large", 1024, snowflake.Options{}, snowflake.ErrNode},
		{"invalid layout", 0, snowflake.Options{Layout: snowflake.Layout{TimeBits: 63}}, snowflake.ErrLayout},
		{"negative After", 0, snowflake.Options{After: -1}, snowflake.ErrRange},
		{"clock before epoch", 0, snowflake.Options{Clock: newFakeClock(l.Epoch.Add(-time.Nanosecond))}, snowflake.ErrClockBehind},
		{"clock at end", 0, snowflake.Options{Clock: newFakeClock(l.End())}, snowflake.ErrExhausted},
	} {
		if g, err := snowflake.NewGenerator(c.node, c.opts); !errors.Is(err, c.want) || g != nil {
			t.Errorf("%s: NewGenerator = %v, %v; want %v", c.name, g, err, c.want)
		}
	}
	g := newGen(t, 1023, snowflake.Options{Clock: newFakeClock(l.Epoch)})
	if g.Node() != 1023 || g.Layout() != l {
		t.Errorf("Node(), Layout() = %d, %+v", g.Node(), g.Layout())
	}
}

// TestNextParts checks that IDs carry the node and the clock's tick, and
// count the sequence up within a tick.
func TestNextParts(t *testing.T) {
	clock := newFakeClock(t0.Add(300 * time.Microsecond))
	g := newGen(t, 77, snowflake.Options{Clock: clock})
	l := g.Layout()
	var last snowflake.ID
	for i := range 10 {
		for seq := range int64(5) {
			id := mustNext(t, g)
			want := snowflake.Parts{Time: t0.Add(time.Duration(i) * time.Millisecond), Node: 77, Seq: seq}
			if got := l.Decompose(id); got != want || id <= last {
				t.Fatalf("tick %d: Decompose(%d) = %+v, want %+v, after %d", i, id, got, want, last)
			}
			last = id
		}
		clock.Step(time.Millisecond)
	}
}

// TestSequenceExhausted checks that after MaxSeq+1 IDs in one tick the
// generator waits for the next tick rather than reuse or borrow one.
func TestSequenceExhausted(t *testing.T) {
	clock := newFakeClock(t0.Add(400 * time.Microsecond))
	g := newGen(t, 3, snowflake.Options{Clock: clock})
	l := g.Layout()
	var last snowflake.ID
	for seq := range l.MaxSeq() + 1 {
		id := mustNext(t, g)
		if p := l.Decompose(id); !p.Time.Equal(t0) || p.Seq != seq || id <= last {
			t.Fatalf("ID %d = %+v, want time %v seq %d", id, p, t0, seq)
		}
		last = id
	}
	if clock.Slept() != 0 {
		t.Fatalf("slept %v before the sequence ran out", clock.Slept())
	}
	id := mustNext(t, g)
	if p := l.Decompose(id); !p.Time.Equal(t0.Add(time.Millisecond)) || p.Seq != 0 || id <= last {
		t.Fatalf("after exhaustion: %+v, want the next tick, sequence 0", p)
	}
	if got := clock.Slept(); got != 600*time.Microsecond {
		t.Errorf("slept %v, want the rest of the tick, 600µs", got)
	}
}

// TestClockStepsBack steps a fake wall clock backwards. A step within a tick
// is waited out whatever MaxWait says; a 10 s step is an error at once with
// MaxWait 0 or when it exceeds MaxWait, and is waited out when MaxWait
// allows. IDs never repeat or decrease.
func TestClockStepsBack(t *testing.T) {
	t.Run("1ms", func(t *testing.T) {
		clock := newFakeClock(t0.Add(300 * time.Microsecond))
		g := newGen(t, 1, snowflake.Options{Clock: clock})
		a := mustNext(t, g)
		clock.Step(-time.Millisecond)
		b := mustNext(t, g)
		if b <= a {
			t.Fatalf("after a 1ms step back: %d <= %d", b, a)
		}
		if got := clock.Slept(); got != 700*time.Microsecond {
			t.Errorf("slept %v, want 700µs (back to the last ID's tick)", got)
		}
		if p := g.Layout().Decompose(b); !p.Time.Equal(t0) || p.Seq != 1 {
			t.Errorf("after the step: %+v, want tick %v, seq 1", p, t0)
		}
	})
	t.Run("10s MaxWait 0", func(t *testing.T) {
		clock := newFakeClock(t0)
		g := newGen(t, 1, snowflake.Options{Clock: clock})
		a := mustNext(t, g)
		clock.Step(-10 * time.Second)
		for range 3 {
			if id, err := g.Next(); !errors.Is(err, snowflake.ErrClockBehind) {
				t.Fatalf("Next() = %v, %v; want ErrClockBehind", id, err)
			}
			if err := g.NextN(make([]snowflake.ID, 3)); !errors.Is(err, snowflake.ErrClockBehind) {
				t.Fatalf("NextN() = %v; want ErrClockBehind", err)
			}
		}
		if clock.Slept() != 0 {
			t.Errorf("slept %v with MaxWait 0", clock.Slept())
		}
		clock.Step(10 * time.Second)
		if b := mustNext(t, g); b <= a {
			t.Fatalf("after the clock caught up: %d <= %d", b, a)
		}
	})
	t.Run("10s beyond MaxWait", func(t *testing.T) {
		clock := newFakeClock(t0)
		g := newGen(t, 1, snowflake.Options{Clock: clock, MaxWait: 5 * time.Second})
		mustNext(t, g)
		clock.Step(-10 * time.Second)
		if id, err := g.Next(); !errors.Is(err, snowflake.ErrClockBehind) {
			t.Fatalf("Next() = %v, %v; want ErrClockBehind", id, err)
		}
		if clock.Slept() != 0 {
			t.Errorf("slept %v for a wait it knew to exceed MaxWait", clock.Slept())
		}
	})
	t.Run("10s within MaxWait", func(t *testing.T) {
		clock := newFakeClock(t0)
		g := newGen(t, 1, snowflake.Options{Clock: clock, MaxWait: 11 * time.Second})
		a := mustNext(t, g)
		clock.Step(-10 * time.Second)
		b := mustNext(t, g)
		if b <= a {
			t.Fatalf("%d <= %d", b, a)
		}
		if got := clock.Slept(); got != 10*time.Second {
			t.Errorf("slept %v, want 10s", got)
		}
	})
}

// TestSystemClock checks that IDs from the default clock carry
// the current time, to within a tick, and increase.
func TestSystemClock(t *testing.T) {
	g := newGen(t, 5, snowflake.Options{})
	l := g.Layout()
	before := time.Now().Truncate(time.Millisecond)
	var last snowflake.ID
	for range 10000 {
		id := mustNext(t, g)
		if id <= last {
			t.Fatalf("%d <= %d", id, last)
		}
		last = id
	}
	after := time.Now()
	p := l.Decompose(last)
	if p.Time.Before(before.Add(-time.Millisecond)) || p.Time.After(after) || p.Node != 5 {
		t.Errorf("last ID %+v, want node 5 and a time in [%v, %v]", p, before, after)
	}
}

// TestRestartAfter restarts a node with the clock 10 s behind the last ID it
// issued, under both policies, and with marks from other nodes.
func TestRestartAfter(t *testing.T) {
	l := snowflake.DefaultLayout()
	first := newGen(t, 9, snowflake.Options{Clock: newFakeClock(t0.Add(10 * time.Second))})
	var mark snowflake.ID
	for range 100 {
		mark = mustNext(t, first)
	}

	t.Run("error", func(t *testing.T) {
		clock := newFakeClock(t0)
		g := newGen(t, 9, snowflake.Options{Clock: clock, After: mark})
		if id, err := g.Next(); !errors.Is(err, snowflake.ErrClockBehind) {
			t.Fatalf("Next() = %v, %v; want ErrClockBehind", id, err)
		}
	})
	t.Run("wait", func(t *testing.T) {
		clock := newFakeClock(t0)
		g := newGen(t, 9, snowflake.Options{Clock: clock, After: mark, MaxWait: time.Minute})
		id := mustNext(t, g)
		if id <= mark {
			t.Fatalf("Next() = %d <= After %d", id, mark)
		}
		if p, m := l.Decompose(id), l.Decompose(mark); !p.Time.Equal(m.Time) || p.Seq != m.Seq+1 {
			t.Errorf("Next() = %+v, want the mark's tick and sequence+1 after %+v", p, m)
		}
		if clock.Slept() != 10*time.Second {
			t.Errorf("slept %v, want 10s", clock.Slept())
		}
	})
	t.Run("clock ahead", func(t *testing.T) {
		g := newGen(t, 9, snowflake.Options{Clock: newFakeClock(t0.Add(time.Minute)), After: mark})
		if id := mustNext(t, g); id <= mark || !l.Decompose(id).Time.Equal(t0.Add(time.Minute)) {
			t.Fatalf("Next() = %+v, want the clock's time", l.Decompose(id))
		}
	})
	// A mark from another node, or the last of a tick: the generator must
	// move to the next tick, whichever node is larger.
	for _, c := range []struct {
		name string
		node int64
		mark snowflake.Parts
	}{
		{"lower node", 2, snowflake.Parts{Time: t0, Node: 9, Seq: 4}},
		{"higher node", 700, snowflake.Parts{Time: t0, Node: 9, Seq: 4}},
		{"last of a tick", 9, snowflake.Parts{Time: t0, Node: 9, Seq: l.MaxSeq()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			after, err := l.Compose(c.mark)
			if err != nil {
				t.Fatal(err)
			}
			clock := newFakeClock(t0)
			g := newGen(t, c.node, snowflake.Options{Clock: clock, After: after})
			id := mustNext(t, g)
			if id <= after || !l.Decompose(id).Time.Equal(t0.Add(time.Millisecond)) {
				t.Fatalf("Next() = %+v after %+v, want the next tick", l.Decompose(id), c.mark)
			}
		})
	}
}

// TestExhausted runs a generator into the end of its timestamp field.
func TestExhausted(t *testing.T) {
	l := snowflake.DefaultLayout()
	l.NodeBits, l.SeqBits = 20, 2 // 4 IDs per tick
	clock := newFakeClock(l.End().Add(-time.Millisecond))
	g := newGen(t, 0, snowflake.Options{Layout: l, Clock: clock})
	var last snowflake.ID
	for range 4 {
		last = mustNext(t, g)
	}
	if last != snowflake.ID(1<<63-1-l.MaxNode()<<l.SeqBits) {
		t.Errorf("last ID %d, want all timestamp and sequence bits set", last)
	}
	for range 2 {
		if id, err := g.Next(); !errors.Is(err, snowflake.ErrExhausted) {
			t.Fatalf("Next() past the last tick = %v, %v; want ErrExhausted", id, err)
		}
		if err := g.NextN(make([]snowflake.ID, 2)); !errors.Is(err, snowflake.ErrExhausted) {
			t.Fatalf("NextN() past the last tick = %v; want ErrExhausted", err)
		}
	}
	clock.Step(time.Hour)
	if id, err := g.Next(); !errors.Is(err, snowflake.ErrExhausted) {
		t.Fatalf("Next() with the clock past End = %v, %v; want ErrExhausted", id, err)
	}
}

// TestNextNMatchesNext checks that a batch equals the same number of Next
// calls on an identical generator, across tick boundaries.
func TestNextNMatchesNext(t *testing.T) {
	l := snowflake.DefaultLayout()
	l.NodeBits, l.SeqBits = 17, 5 // 32 IDs per tick
	start := t0.Add(123 * time.Microsecond)
	a := newGen(t, 11, snowflake.Options{Layout: l, Clock: newFakeClock(start)})
	b := newGen(t, 11, snowflake.Options{Layout: l, Clock: newFakeClock(start)})
	for _, n := range []int{0, 1, 7, 32, 100, 3} {
		batch := make([]snowflake.ID, n)
		if err := a.NextN(batch); err != nil {
			t.Fatalf("NextN(%d) = %v", n, err)
		}
		one := make([]snowflake.ID, n)
		for i := range one {
			one[i] = mustNext(t, b)
		}
		if !slices.Equal(batch, one) {
			t.Fatalf("NextN(%d) = %v\nNext×%d = %v", n, batch, n, one)
		}
	}
}

// TestClockLeavesRange moves a fake clock before the epoch and past the end
// of the timestamp field after the generator has started.
func TestClockLeavesRange(t *testing.T) {
	l := snowflake.DefaultLayout()
	clock := newFakeClock(l.Epoch.Add(time.Second))
	g := newGen(t, 0, snowflake.Options{Clock: clock, MaxWait: time.Minute})
	a := mustNext(t, g)
	clock.Step(-time.Hour)
	if id, err := g.Next(); !errors.Is(err, snowflake.ErrClockBehind) {
		t.Fatalf("Next() with the clock before the epoch = %v, %v; want ErrClockBehind", id, err)
	}
	const century = 100 * 365 * 24 * time.Hour
	clock.Step(time.Hour)
	for range 4 {
		clock.Step(century) // 400 years on: Now().Sub(start) saturates
	}
	if id, err := g.Next(); !errors.Is(err, snowflake.ErrExhausted) {
		t.Fatalf("Next() 400 years on = %v, %v; want ErrExhausted", id, err)
	}
	for range 4 {
		clock.Step(-century)
	}
	if b := mustNext(t, g); b <= a {
		t.Fatalf("back in range: %d <= %d", b, a)
	}
}

// TestSystemClockWaitsForMark restarts on the system clock with a mark 5 ms
// in the future: Next sleeps, then spins, until the clock reaches it.
func TestSystemClockWaitsForMark(t *testing.T) {
	l := snowflake.DefaultLayout()
	start := time.Now()
	mark, err := l.Compose(snowflake.Parts{Time: start.Add(5 * time.Millisecond), Node: 3, Seq: 9})
	if err != nil {
		t.Fatal(err)
	}
	g := newGen(t, 3, snowflake.Options{After: mark, MaxWait: time.Second})
	id := mustNext(t, g)
	if id <= mark {
		t.Fatalf("Next() = %d <= After %d", id, mark)
	}
	if waited := time.Since(start); waited < 4*time.Millisecond {
		t.Errorf("Next() returned after %v, before the clock reached the mark", waited)
	}
	if got := l.Decompose(id).Time; got.After(time.Now()) {
		t.Errorf("ID time %v is ahead of the clock", got)
	}
}
