package shortid

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
)

// ErrExhausted reports that a counter or a code space has no values left: a
// [Counter] lease would pass math.MaxUint64, or a [Sequence] was handed a
// counter value at or beyond the number of codes of its length.
var ErrExhausted = errors.New("shortid: exhausted")

// A Counter hands out blocks of consecutive counter values, each value at
// most once across all its callers. A [Sequence] leases a block at a time, so
// many servers sharing one counter in a database (an UPDATE ... RETURNING, a
// Redis INCRBY, a ZooKeeper sequence node) pay one round trip per block
// rather than per code.
//
// Implementations must be safe for concurrent use.
type Counter interface {
	// Lease reserves the n > 0 values [first, first+n) for the caller alone
	// and returns first. It returns an error matching ErrExhausted when
	// fewer than n values remain, and ctx.Err() or a store error when it
	// cannot reach its store; a failed Lease reserves nothing.
	Lease(ctx context.Context, n uint64) (first uint64, err error)
}

// MemCounter is the in-memory [Counter]: one atomic word. The zero value is
// ready and starts at 0; [NewMemCounter] starts elsewhere, for example at a
// persisted high-water mark. A Lease costs one compare-and-swap. MemCounter
// is safe for concurrent use.
type MemCounter struct {
	next atomic.Uint64
}

var _ Counter = (*MemCounter)(nil)

// NewMemCounter returns a counter whose first lease starts at next.
func NewMemCounter(next uint64) *MemCounter {
	c := new(MemCounter)
	c.next.Store(next)
	return c
}

// Lease reserves [first, first+n) and returns first. A zero n reserves
// nothing and returns the next value. It never blocks and ignores ctx.
func (c *MemCounter) Lease(_ context.Context, n uint64) (uint64, error) {
	for {
		first := c.next.Load()
		if first > math.MaxUint64-n {
			return 0, ErrExhausted
		}
		if c.next.CompareAndSwap(first, first+n) {
			return first, nil
		}
	}
}

// Next returns the first value not yet leased: the high-water mark to persist
// so that a restarted counter never hands out a value twice.
func (c *MemCounter) Next() uint64 {
	return c.next.Load()
}
