package shortid

import (
	"sync"

	"github.com/cespare/xxhash/v2"
)

// clickStripes is the number of independently locked click counters. With
// 64 the chance that two resolving cores meet on one lock stays at a few
// percent, and a flush visits 64 small maps.
const clickStripes = 64

// clickBuffer counts clicks in memory between flushes, striped by an xxhash
// of the key so that resolves of different keys rarely share a lock. A
// click costs one hash, one uncontended lock and one map increment; maps
// keep their capacity across flushes, so steady traffic does not allocate.
type clickBuffer struct {
	stripes [clickStripes]clickStripe
}

type clickStripe struct {
	mu     sync.Mutex
	counts map[string]int64
	closed bool
	_      [40]byte // one stripe per cache line
}

func (c *clickBuffer) init() {
	for i := range c.stripes {
		c.stripes[i].counts = make(map[string]int64)
	}
}

func (c *clickBuffer) stripe(key string) *clickStripe {
	return &c.stripes[xxhash.Sum64String(key)%clickStripes]
}

// add counts one click for key and reports true, or reports false once the
// buffer is closed.
func (c *clickBuffer) add(key string) bool {
	st := c.stripe(key)
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return false
	}
	st.counts[key]++
	st.mu.Unlock()
	return true
}

// pending returns the clicks buffered for key.
func (c *clickBuffer) pending(key string) int64 {
	st := c.stripe(key)
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.counts[key]
}

// drop forgets the clicks buffered for key.
func (c *clickBuffer) drop(key string) {
	st := c.stripe(key)
	st.mu.Lock()
	delete(st.counts, key)
	st.mu.Unlock()
}

// drain empties the buffer into one new map.
func (c *clickBuffer) drain() map[string]int64 {
	var out map[string]int64
	for i := range c.stripes {
		st := &c.stripes[i]
		st.mu.Lock()
		if len(st.counts) > 0 {
			if out == nil {
				out = make(map[string]int64, len(st.counts)*clickStripes)
			}
			for k, n := range st.counts {
				out[k] += n
			}
			clear(st.counts)
		}
		st.mu.Unlock()
	}
	return out
}

// restore adds a drained batch back, even to a closed buffer.
func (c *clickBuffer) restore(batch map[string]int64) {
	for k, n := range batch {
		st := c.stripe(k)
		st.mu.Lock()
		st.counts[k] += n
		st.mu.Unlock()
	}
}

// close makes every later add fail. A click added before close returns is
// in the buffer for the final drain.
func (c *clickBuffer) close() {
	for i := range c.stripes {
		st := &c.stripes[i]
		st.mu.Lock()
		st.closed = true
		st.mu.Unlock()
	}
}
