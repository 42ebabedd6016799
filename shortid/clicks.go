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
	counts map[string]clickCount
	closed bool
	_      [40]byte // one stripe per cache line
}

func (c *clickBuffer) init() {
	for i := range c.stripes {
		c.stripes[i].counts = make(map[string]clickCount)
	}
}

func (c *clickBuffer) stripe(key string) *clickStripe {
	return &c.stripes[xxhash.Sum64String(key)%clickStripes]
}

// clickCount is the clicks buffered for the link under a key that was
// created at created (Unix ns, as in ClickKey).
type clickCount struct {
	created int64
	n       int64
}

// count adds n clicks of the link ck to counts. Only the newest link under
// a key can still exist in the store (keys are unique there at any moment),
// so clicks of an older one are dropped rather than buffered beside it.
func count(counts map[string]clickCount, ck ClickKey, n int64) {
	cur, ok := counts[ck.Key]
	switch {
	case !ok || cur.created < ck.Created:
		counts[ck.Key] = clickCount{created: ck.Created, n: n}
	case cur.created == ck.Created:
		cur.n += n
		counts[ck.Key] = cur
	}
}

// add counts one click for the link ck and reports true, or reports false
// once the buffer is closed.
func (c *clickBuffer) add(ck ClickKey) bool {
	st := c.stripe(ck.Key)
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return false
	}
	count(st.counts, ck, 1)
	st.mu.Unlock()
	return true
}

// pending returns the clicks buffered for the link ck.
func (c *clickBuffer) pending(ck ClickKey) int64 {
	st := c.stripe(ck.Key)
	st.mu.Lock()
	defer st.mu.Unlock()
	if cur := st.counts[ck.Key]; cur.created == ck.Created {
		return cur.n
	}
	return 0
}

// drop forgets the clicks buffered for key.
func (c *clickBuffer) drop(key string) {
	st := c.stripe(key)
	st.mu.Lock()
	delete(st.counts, key)
	st.mu.Unlock()
}

// drain empties the buffer into one new map.
func (c *clickBuffer) drain() map[ClickKey]int64 {
	var out map[ClickKey]int64
	for i := range c.stripes {
		st := &c.stripes[i]
		st.mu.Lock()
		if len(st.counts) > 0 {
			if out == nil {
				out = make(map[ClickKey]int64, len(st.counts)*clickStripes)
			}
			for k, cc := range st.counts {
				out[ClickKey{Key: k, Created: cc.created}] += cc.n
			}
			clear(st.counts)
		}
		st.mu.Unlock()
	}
	return out
}

// restore adds a drained batch back, even to a closed buffer.
func (c *clickBuffer) restore(batch map[ClickKey]int64) {
	for ck, n := range batch {
		st := c.stripe(ck.Key)
		st.mu.Lock()
		count(st.counts, ck, n)
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
