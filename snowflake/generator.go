package snowflake

import (
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"time"
)

// A Generator issues unique, strictly increasing IDs for one node. It is safe
// for concurrent use by multiple goroutines; Next costs one monotonic clock
// read and one atomic add to a single 64-bit word, and does not allocate. A
// Generator must not be copied after first use.
type Generator struct {
	// Read-only after NewGenerator.
	clock     Clock // nil: the system clock, through time.Since
	start     time.Time
	offset    int64 // nanoseconds from the epoch to start
	tickNs    int64
	maxTick   uint64
	seqBits   uint
	timeShift uint   // NodeBits + SeqBits
	seqMask   uint64 // MaxSeq
	nodePart  uint64 // node << SeqBits
	maxWait   time.Duration
	layout    Layout
	node      int64

	// Keep the contended word off the cache line of the fields above.
	_ [64]byte
	// state holds the tick and sequence of the last ID issued, as
	// tick<<SeqBits | seq, so that adding one moves to the next ID.
	state atomic.Uint64
	_     [56]byte
}

// NewGenerator returns a Generator for node, which must lie in [0,
// Layout.MaxNode()] of the layout in opts. It returns an error wrapping
// [ErrLayout] for an invalid layout, [ErrNode] for a node out of range,
// [ErrRange] for a negative After, [ErrClockBehind] if the clock reads before
// the layout's epoch, or [ErrExhausted] if it reads past [Layout.End].
func NewGenerator(node int64, opts Options) (*Generator, error) {
	l := opts.Layout
	if l == (Layout{}) {
		l = DefaultLayout()
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	l.Tick = l.tick()
	if node < 0 || node > l.MaxNode() {
		return nil, fmt.Errorf("%w: %d outside [0, %d]", ErrNode, node, l.MaxNode())
	}
	if opts.After < 0 {
		return nil, fmt.Errorf("%w: negative After %d", ErrRange, opts.After)
	}
	g := &Generator{
		clock:     opts.Clock,
		tickNs:    int64(l.Tick),
		maxTick:   1<<l.TimeBits - 1,
		seqBits:   uint(l.SeqBits),
		timeShift: uint(l.NodeBits + l.SeqBits),
		seqMask:   uint64(l.MaxSeq()),
		nodePart:  uint64(node) << l.SeqBits,
		maxWait:   max(opts.MaxWait, 0),
		layout:    l,
		node:      node,
	}
	if g.clock == nil {
		g.start = time.Now()
	} else {
		g.start = g.clock.Now()
	}
	if g.start.Before(l.Epoch) {
		return nil, fmt.Errorf("%w: clock reads %v, before the epoch %v", ErrClockBehind, g.start, l.Epoch)
	}
	if !g.start.Before(l.End()) {
		return nil, fmt.Errorf("%w: clock reads %v, past the layout's end %v", ErrExhausted, g.start, l.End())
	}
	g.offset = int64(g.start.Sub(l.Epoch))

	if opts.After > 0 {
		p := l.Decompose(opts.After)
		mark := uint64(opts.After)>>g.timeShift<<g.seqBits | uint64(p.Seq)
		if p.Node != node {
			// Another node's ID: (tick, seq) alone does not order ours
			// after it, so take its whole tick.
			mark |= g.seqMask
		}
		g.state.Store(mark)
	}
	return g, nil
}

// Layout returns the generator's layout, with a zero Tick resolved to one
// millisecond.
func (g *Generator) Layout() Layout { return g.layout }

// Node returns the generator's node number.
func (g *Generator) Node() int64 { return g.node }

// Next returns a new ID, greater than every ID this generator issued before
// and than Options.After. Its timestamp is never ahead of the clock: when the
// sequence of the current tick is used up, Next waits for the next tick
// (spinning, since the rest of a tick is shorter than the timer resolution),
// so one generator issues at most MaxSeq+1 IDs per tick.
//
// If the clock reads more than one tick behind the last ID, Next waits for it
// up to Options.MaxWait and then returns an error wrapping [ErrClockBehind].
// Once the clock passes [Layout.End] it returns [ErrExhausted]. After an error
// the generator stays usable and consistent.
func (g *Generator) Next() (ID, error) {
	// Fast path: the clock is still in the tick of the last ID and its
	// sequence has room, so an atomic add claims the next one. Unlike a
	// compare-and-swap it cannot fail under contention. (elapsed, inlined
	// by hand: no saturation needed, as an overflowed ns fails the check
	// below and takes the slow path, which saturates.)
	var d time.Duration
	if g.clock == nil {
		d = time.Since(g.start)
	} else {
		d = g.clock.Now().Sub(g.start)
	}
	ns := g.offset + int64(d)
	old := g.state.Load()
	last := old >> (g.seqBits & 63) // & 63: no check for shifts >= 64
	if old&g.seqMask != g.seqMask && last <= g.maxTick &&
		uint64(ns-int64(last)*g.tickNs) < uint64(g.tickNs) {
		s := g.state.Add(1)
		if s>>(g.seqBits&63) == last {
			return g.id(s), nil
		}
		// Concurrent adds used up the sequence and carried s into the next
		// tick, or another goroutine moved the state to a later tick.
		return g.awaitTick(s)
	}
	first, _, err := g.reserve(1)
	return g.id(first), err
}

// awaitTick returns the ID of the claimed state s once the clock has reached
// its tick, which is normally less than a tick away: an add only carries past
// the clock's tick while goroutines hold fewer than MaxSeq+1 such claims.
// Should the clock have been stepped back meanwhile, MaxWait applies.
func (g *Generator) awaitTick(s uint64) (ID, error) {
	tick := int64(s >> g.seqBits)
	if tick > int64(g.maxTick) {
		return 0, fmt.Errorf("%w: at %v", ErrExhausted, g.layout.End())
	}
	var deadline int64 = math.MinInt64
	for {
		reached, err := g.waitFor(tick, &deadline)
		if err != nil {
			return 0, err
		}
		if reached {
			return g.id(s), nil
		}
	}
}

// id turns a state word (tick, sequence) into the ID with the node field.
func (g *Generator) id(s uint64) ID {
	return ID(s>>(g.seqBits&63)<<(g.timeShift&63) | g.nodePart | s&g.seqMask)
}

// NextN fills dst with new IDs in increasing order, as len(dst) calls of
// [Generator.Next] would, but reserves each run of IDs within a tick with a
// single compare-and-swap. It returns the same errors as Next; on error the
// contents of dst are unspecified, and the IDs already reserved are skipped,
// never issued again.
func (g *Generator) NextN(dst []ID) error {
	for i := 0; i < len(dst); {
		first, k, err := g.reserve(len(dst) - i)
		if err != nil {
			return err
		}
		base := g.id(first) // the claimed IDs share a tick: consecutive
		for j := range k {
			dst[i+j] = base + ID(j)
		}
		i += k
	}
	return nil
}

// reserve claims up to n (n >= 1) consecutive states within one tick and
// returns the first and how many it claimed.
func (g *Generator) reserve(n int) (first uint64, k int, err error) {
	var deadline int64 = math.MinInt64 // set when a long wait starts
	for {
		old := g.state.Load()
		// Read the clock after loading the state: the state's tick was read
		// from the clock earlier still, so with a monotonic clock now >= last.
		now := g.tickOf(g.elapsed())
		last := int64(old >> g.seqBits)
		switch {
		case now > last:
			if now > int64(g.maxTick) {
				return 0, 0, fmt.Errorf("%w: at %v", ErrExhausted, g.layout.End())
			}
			first = uint64(now) << g.seqBits
		case now == last && old&g.seqMask != g.seqMask:
			first = old + 1
		default:
			if err := g.wait(old, &deadline); err != nil {
				return 0, 0, err
			}
			continue
		}
		k = int(min(uint64(n), g.seqMask-first&g.seqMask+1))
		if g.state.CompareAndSwap(old, first+uint64(k)-1) {
			return first, k, nil
		}
	}
}

// wait pauses until the clock may have reached the tick the next ID needs,
// given the state old: the tick of old if its sequence has room, else the one
// after.
func (g *Generator) wait(old uint64, deadline *int64) error {
	target := int64(old >> g.seqBits)
	if old&g.seqMask == g.seqMask {
		target++
	}
	if target > int64(g.maxTick) {
		return fmt.Errorf("%w: at %v", ErrExhausted, g.layout.End())
	}
	_, err := g.waitFor(target, deadline)
	return err
}

// waitFor reports whether the clock has reached the start of tick target
// and, if not, pauses for (up to) the time left. A wait longer than one tick
// counts against MaxWait, measured on the generator's clock from the first
// such wait of the call (*deadline, math.MinInt64 until then); beyond it,
// waitFor returns ErrClockBehind without pausing.
func (g *Generator) waitFor(target int64, deadline *int64) (reached bool, err error) {
	now := g.elapsed()
	need := target*g.tickNs - now
	if need <= 0 {
		return true, nil
	}
	if need > g.tickNs {
		if *deadline == math.MinInt64 {
			*deadline = satAdd(now, int64(g.maxWait))
		}
		if target*g.tickNs > *deadline {
			return false, fmt.Errorf("%w: by %v, more than MaxWait %v",
				ErrClockBehind, time.Duration(need), g.maxWait)
		}
	}
	g.sleep(time.Duration(need))
	return false, nil
}

// spinLimit is the longest wait the system clock spins through rather than
// sleeping: time.Sleep overshoots by up to about a millisecond, which at the
// sequence cap would cost most of the next tick's IDs.
const spinLimit = 2 * time.Millisecond

// sleep waits for about d, or less: the caller checks the clock again.
func (g *Generator) sleep(d time.Duration) {
	switch {
	case g.clock != nil:
		g.clock.Sleep(d)
	case d > spinLimit:
		time.Sleep(d - spinLimit)
	default:
		runtime.Gosched()
	}
}

// elapsed returns the nanoseconds from the layout's epoch to now on the
// generator's clock, saturating rather than overflowing.
func (g *Generator) elapsed() int64 {
	var d time.Duration
	if g.clock == nil {
		d = time.Since(g.start) // monotonic only: no wall-clock read
	} else {
		d = g.clock.Now().Sub(g.start)
	}
	return satAdd(g.offset, int64(d))
}

// tickOf converts nanoseconds since the epoch to ticks, flooring, so any
// instant before the epoch is tick -1.
func (g *Generator) tickOf(ns int64) int64 {
	if ns < 0 {
		return -1
	}
	return ns / g.tickNs
}

// satAdd returns a+b, clamped to the int64 range.
func satAdd(a, b int64) int64 {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}
