package shortid

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// clickStripes is the number of independently locked click counters, and
// clickSpread the number of them that one link's clicks may use. A click
// goes to its link's home stripe, picked by an xxhash of the key, unless
// that stripe's lock is busy; then it goes to one of the next 15 stripes at
// random. So a link whose clicks never meet stays in one small map, and the
// cores resolving one viral link spread over 16 locks instead of queuing on
// one. Striping by a random number alone would copy every busy link into
// all the stripes and multiply the maps' size.
const (
	clickStripes = 64
	clickSpread  = 16
)

// clickBuffer counts clicks in memory between flushes. A click costs one
// short hash, one lock (a TryLock that succeeds unless another core holds
// it), one map lookup by ClickKey and an increment through the pointer it
// finds. A counter stays in its map across flushes and is removed by the
// first drain that finds it idle for a whole interval, so steady traffic
// does not allocate. pending and drop visit a link's 16 stripes, drain all
// 64.
//
// Counters are keyed by the whole ClickKey, not by the key alone: a link
// created again under a freed key may carry the earlier CreatedAt (another
// server's clock, or a clock stepped back), so no order of creation times
// tells the live link from the deleted one. The deleted link's counter
// goes with the next drains; the Store skips its clicks.
type clickBuffer struct {
	stripes [clickStripes]clickStripe
}

type clickStripe struct {
	mu     sync.Mutex
	counts map[ClickKey]*clickCount
	closed bool
	// drops counts the drops of buffered clicks of links whose home
	// stripe this is (see drops).
	drops atomic.Uint64
	_     [32]byte // one stripe per cache line
}

func (c *clickBuffer) init() {
	for i := range c.stripes {
		c.stripes[i].counts = make(map[ClickKey]*clickCount)
	}
}

// clickCount is the clicks buffered for one link.
type clickCount struct {
	n int64
}

// count adds n clicks of the link ck to counts.
func count(counts map[ClickKey]*clickCount, ck ClickKey, n int64) {
	if p := counts[ck]; p != nil {
		p.n += n
	} else {
		counts[ck] = &clickCount{n: n}
	}
}

// home returns the index of key's first stripe.
func home(key string) uint32 {
	return uint32(xxhash.Sum64String(key) % clickStripes)
}

// lockStripe locks and returns the home stripe of key, or another of its
// stripes (the random number is math/rand/v2's per-thread generator: cheap,
// lock-free, and nothing secret depends on it) if the home one is busy.
func (c *clickBuffer) lockStripe(key string) *clickStripe {
	h := home(key)
	st := &c.stripes[h]
	if st.mu.TryLock() {
		return st
	}
	st = &c.stripes[(h+1+rand.Uint32()%(clickSpread-1))%clickStripes]
	st.mu.Lock()
	return st
}

// add counts one click for the link ck and reports true, or reports false
// once the buffer is closed.
func (c *clickBuffer) add(ck ClickKey) bool {
	st := c.lockStripe(ck.Key)
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
		if p := st.counts[ck]; p != nil {
			n += p.n
		}
		st.mu.Unlock()
	}
	return n
}

// drop forgets the clicks buffered for the link ck. If it forgets any, it
// first adds one to drops(ck.Key), under the lock of the stripe it forgets
// them from, so a pending that missed them because of the drop is followed
// by a drops that sees the change.
func (c *clickBuffer) drop(ck ClickKey) {
	h := home(ck.Key)
	counted := false
	for i := range uint32(clickSpread) {
		st := &c.stripes[(h+i)%clickStripes]
		st.mu.Lock()
		if p := st.counts[ck]; p != nil {
			if p.n != 0 && !counted {
				c.stripes[h].drops.Add(1)
				counted = true
			}
			delete(st.counts, ck)
		}
		st.mu.Unlock()
	}
}

// drops returns how many drops forgot buffered clicks of links whose key
// shares key's home stripe. A read of a link's clicks that takes drops
// before it reads the Store and again after pending, and finds it
// unchanged, lost none to a drop in between: Delete and Sweep drop a
// link's clicks only after the Store removed it.
func (c *clickBuffer) drops(key string) uint64 {
	return c.stripes[home(key)].drops.Load()
}

// drain empties the buffer into one new map, except the counters of the
// links under the keys in keep, and removes the counters that had no click
// since the last drain.
func (c *clickBuffer) drain(keep map[string]int) map[ClickKey]int64 {
	var out map[ClickKey]int64
	for i := range c.stripes {
		st := &c.stripes[i]
		st.mu.Lock()
		if len(st.counts) > 0 {
			for k, p := range st.counts {
				if p.n == 0 {
					delete(st.counts, k)
					continue
				}
				if _, ok := keep[k.Key]; ok {
					continue
				}
				if out == nil {
					out = make(map[ClickKey]int64, len(st.counts)*clickStripes)
				}
				out[k] += p.n
				p.n = 0
			}
		}
		st.mu.Unlock()
	}
	return out
}

// restore adds a drained batch back, even to a closed buffer.
func (c *clickBuffer) restore(batch map[ClickKey]int64) {
	for ck, n := range batch {
		st := &c.stripes[home(ck.Key)]
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
