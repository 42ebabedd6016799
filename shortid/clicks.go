package shortid

import (
	"math/rand/v2"
	"sync"

	"github.com/cespare/xxhash/v2"
)

// clickStripes is the number of independently locked click counters, and
// clickSpread the number of them one key's clicks may use. A click goes to
// one of its key's clickSpread neighbouring stripes, picked at random, so
// that the cores resolving one viral link spread over 16 locks instead of
// queuing on one, while a key still sits in at most 16 small maps (a key
// with c clicks between flushes in at most c): striping by the random
// number alone would copy every busy key into all 64.
const (
	clickStripes = 64
	clickSpread  = 16
)

// clickBuffer counts clicks in memory between flushes. A click costs one
// short hash, one cheap random number (math/rand/v2: per-thread state, no
// lock; nothing secret depends on it), one mostly uncontended lock and one
// map increment; maps keep their capacity across flushes, so steady traffic
// does not allocate. pending and drop visit a key's 16 stripes, drain all.
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

// home returns the first of key's stripes.
func home(key string) uint32 {
	return uint32(xxhash.Sum64String(key))
}

// anyStripe returns one of key's stripes at random.
func (c *clickBuffer) anyStripe(key string) *clickStripe {
	return &c.stripes[(home(key)+rand.Uint32()%clickSpread)%clickStripes]
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
	st := c.anyStripe(ck.Key)
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
	var n int64
	h := home(ck.Key)
	for i := range uint32(clickSpread) {
		st := &c.stripes[(h+i)%clickStripes]
		st.mu.Lock()
		if cur, ok := st.counts[ck.Key]; ok && cur.created == ck.Created {
			n += cur.n
		}
		st.mu.Unlock()
	}
	return n
}

// drop forgets the clicks buffered for key.
func (c *clickBuffer) drop(key string) {
	h := home(key)
	for i := range uint32(clickSpread) {
		st := &c.stripes[(h+i)%clickStripes]
		st.mu.Lock()
		delete(st.counts, key)
		st.mu.Unlock()
	}
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
		st := c.anyStripe(ck.Key)
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
