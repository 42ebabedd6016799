package snowflake

import (
	"fmt"
	"math"
	"time"
)

// A Layout says how an [ID]'s 63 bits are shared between a timestamp, a node
// number and a sequence number, and what the timestamp counts from. From the
// most significant bit down, an ID is
//
//	0 | ticks since Epoch (TimeBits) | node (NodeBits) | sequence (SeqBits)
//
// so IDs sort by time first. A Layout is a plain value: copy it, keep it next
// to the IDs it made. Compare Layouts with [Layout.Equal], not ==, which also
// compares Epoch's Location and monotonic clock reading. Its zero value is
// not valid; start from [DefaultLayout].
type Layout struct {
	// TimeBits is the width of the timestamp field, in ticks since Epoch.
	TimeBits int
	// NodeBits is the width of the node field; nodes are 0 to 2^NodeBits-1.
	NodeBits int
	// SeqBits is the width of the sequence field: 2^SeqBits IDs per node and
	// tick.
	SeqBits int
	// Epoch is the instant of tick zero. It must be set.
	Epoch time.Time
	// Tick is the unit of the timestamp field; zero means one millisecond.
	Tick time.Duration
}

// Parts are the fields of an [ID], as [Layout.Decompose] returns them and
// [Layout.Compose] takes them.
type Parts struct {
	Time time.Time // the start of the ID's tick
	Node int64
	Seq  int64
}

// DefaultLayout returns the classic snowflake layout: a 41-bit millisecond
// timestamp from 2021-01-01T00:00:00Z (good until 2090-09-07), a 10-bit node
// (1024 nodes) and a 12-bit sequence (4096 IDs per node and millisecond).
func DefaultLayout() Layout {
	return Layout{
		TimeBits: 41,
		NodeBits: 10,
		SeqBits:  12,
		Epoch:    time.Date(2021, time.January, 1, 0, 0, 0, 0, time.UTC),
		Tick:     time.Millisecond,
	}
}

// tick returns l.Tick with the zero value resolved to its default.
func (l Layout) tick() time.Duration {
	if l.Tick == 0 {
		return time.Millisecond
	}
	return l.Tick
}

// Validate reports whether l can be used, with an error wrapping [ErrLayout]
// if not: the three widths must sum to 63, the timestamp and sequence fields
// must be at least one bit wide and the node field not negative, Epoch must
// be set, Tick must not be negative, and the whole timestamp range
// (2^TimeBits ticks) must fit in a time.Duration (about 292 years), so every
// ID maps to an exact time.
func (l Layout) Validate() error {
	switch {
	case l.TimeBits < 1 || l.NodeBits < 0 || l.SeqBits < 1:
		return fmt.Errorf("%w: need TimeBits >= 1, NodeBits >= 0, SeqBits >= 1, have %d/%d/%d",
			ErrLayout, l.TimeBits, l.NodeBits, l.SeqBits)
	case l.TimeBits+l.NodeBits+l.SeqBits != 63:
		return fmt.Errorf("%w: widths %d+%d+%d must sum to 63",
			ErrLayout, l.TimeBits, l.NodeBits, l.SeqBits)
	case l.Epoch.IsZero():
		return fmt.Errorf("%w: Epoch is not set", ErrLayout)
	case l.Tick < 0:
		return fmt.Errorf("%w: negative Tick %v", ErrLayout, l.Tick)
	case l.TimeBits >= 63 || int64(l.tick()) > math.MaxInt64>>l.TimeBits:
		return fmt.Errorf("%w: 2^%d ticks of %v overflow a time.Duration",
			ErrLayout, l.TimeBits, l.tick())
	}
	return nil
}

// Equal reports whether l and m describe the same IDs: the same widths, Epochs
// at the same instant (whatever their Location or monotonic reading, as
// [time.Time.Equal] compares them) and the same Tick, a zero Tick counting as
// one millisecond.
func (l Layout) Equal(m Layout) bool {
	return l.TimeBits == m.TimeBits && l.NodeBits == m.NodeBits && l.SeqBits == m.SeqBits &&
		l.Epoch.Equal(m.Epoch) && l.tick() == m.tick()
}

// MaxNode returns the largest node number l can hold, 2^NodeBits-1.
func (l Layout) MaxNode() int64 { return 1<<l.NodeBits - 1 }

// MaxSeq returns the largest sequence number l can hold, 2^SeqBits-1: a
// generator issues at most MaxSeq+1 IDs per tick.
func (l Layout) MaxSeq() int64 { return 1<<l.SeqBits - 1 }

// End returns the first instant l cannot represent, Epoch + 2^TimeBits ticks.
// l must be valid.
func (l Layout) End() time.Time {
	return l.Epoch.Add(time.Duration(int64(1)<<l.TimeBits) * l.tick())
}

// Compose packs p into an ID. p.Time is rounded down to its tick. It returns
// an error wrapping [ErrLayout] if l is not valid, or [ErrRange] if p.Time is
// before Epoch or not before [Layout.End], or the node or sequence does not
// fit its field.
func (l Layout) Compose(p Parts) (ID, error) {
	if err := l.Validate(); err != nil {
		return 0, err
	}
	switch {
	case p.Time.Before(l.Epoch) || !p.Time.Before(l.End()):
		return 0, fmt.Errorf("%w: time %v outside [%v, %v)", ErrRange, p.Time, l.Epoch, l.End())
	case p.Node < 0 || p.Node > l.MaxNode():
		return 0, fmt.Errorf("%w: node %d outside [0, %d]", ErrRange, p.Node, l.MaxNode())
	case p.Seq < 0 || p.Seq > l.MaxSeq():
		return 0, fmt.Errorf("%w: sequence %d outside [0, %d]", ErrRange, p.Seq, l.MaxSeq())
	}
	ticks := int64(p.Time.Sub(l.Epoch) / l.tick())
	return ID(ticks<<(l.NodeBits+l.SeqBits) | p.Node<<l.SeqBits | p.Seq), nil
}

// Decompose unpacks id into its parts; Time is the start of id's tick, in
// Epoch's location. l must be valid. Decompose never fails: any non-negative
// id has parts, though only IDs made with l have meaningful ones. The sign
// bit of a negative id is ignored.
func (l Layout) Decompose(id ID) Parts {
	v := uint64(id) &^ (1 << 63)
	ticks := int64(v >> (l.NodeBits + l.SeqBits))
	return Parts{
		Time: l.Epoch.Add(time.Duration(ticks) * l.tick()),
		Node: int64(v>>l.SeqBits) & l.MaxNode(),
		Seq:  int64(v) & l.MaxSeq(),
	}
}
