package shortid

import (
	"context"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
)

// CachedStore is a cache-aside wrapper: it keeps the records that Get
// returns in a bounded LRU in front of any [Store], so a hot link costs a
// map lookup instead of a round trip to the backend. Every write that goes
// through the wrapper updates the backend first and then evicts the keys it
// touched (Delete, Visit, Sweep and AddClicks alike). A Get that raced with
// such a write does not put its possibly older record back, so this process
// never serves a link that it deleted or swept, and cached click counts are
// exact as of the last flush. A flush therefore costs each hot link one
// backend read afterwards: with the default 1 s flush interval, one read per
// hot link per second.
//
// Writes by other processes to the same backend are not seen until the
// entry is evicted: run one CachedStore per process only where links are
// deleted through that process, or where a stale read for the life of an
// entry is acceptable (links never change; only deletion and clicks do).
// Expiry needs no invalidation, since the Shortener judges it from the
// record's ExpiresAt and its own clock.
//
// The LRU is split into up to 16 parts by an xxhash of the key, each with
// its own lock; a hit costs one lock and a move to the front of its part's
// list, without allocating. A CachedStore is not a [Counter] even if the
// Store behind it is; pass Options.Keys explicitly in that case. It is safe
// for concurrent use.
type CachedStore struct {
	next  Store
	parts []cachePart
}

var _ Store = (*CachedStore)(nil)

type cachePart struct {
	mu    sync.Mutex
	items map[string]*cacheNode
	root  cacheNode // sentinel of the circular recency list: root.next is the newest
	cap   int
	gen   uint64 // bumped by every eviction for a write
	_     [32]byte
}

type cacheNode struct {
	key        string
	rec        Record
	prev, next *cacheNode
}

// NewCachedStore returns next behind an LRU that holds up to size records.
// It panics if next is nil or size < 1.
func NewCachedStore(next Store, size int) *CachedStore {
	if next == nil {
		panic("shortid: NewCachedStore with nil Store")
	}
	if size < 1 {
		panic("shortid: NewCachedStore with size < 1")
	}
	n := 16
	for n > 1 && size/n < 64 {
		n /= 2
	}
	c := &CachedStore{next: next, parts: make([]cachePart, n)}
	for i := range c.parts {
		p := &c.parts[i]
		p.items = make(map[string]*cacheNode)
		p.root.next, p.root.prev = &p.root, &p.root
		p.cap = size / n
		if i < size%n {
			p.cap++
		}
	}
	return c
}

func (c *CachedStore) part(key string) *cachePart {
	return &c.parts[xxhash.Sum64String(key)%uint64(len(c.parts))]
}

func (p *cachePart) unlink(n *cacheNode) {
	n.prev.next, n.next.prev = n.next, n.prev
}

func (p *cachePart) pushFront(n *cacheNode) {
	n.prev, n.next = &p.root, p.root.next
	p.root.next.prev = n
	p.root.next = n
}

// evict removes key and bumps the generation, so that no Get that started
// before can fill the cache with what it read.
func (c *CachedStore) evict(key string) {
	p := c.part(key)
	p.mu.Lock()
	p.gen++
	if n, ok := p.items[key]; ok {
		p.unlink(n)
		delete(p.items, key)
	}
	p.mu.Unlock()
}

// Len returns the number of cached records.
func (c *CachedStore) Len() int {
	total := 0
	for i := range c.parts {
		p := &c.parts[i]
		p.mu.Lock()
		total += len(p.items)
		p.mu.Unlock()
	}
	return total
}

// Get returns the cached record of key, or reads it from the backend and
// caches it, evicting the least recently used record of its part when full.
// Misses (ErrNotFound) are not cached.
func (c *CachedStore) Get(ctx context.Context, key string) (Record, error) {
	p := c.part(key)
	p.mu.Lock()
	if n, ok := p.items[key]; ok {
		p.unlink(n)
		p.pushFront(n)
		rec := n.rec
		p.mu.Unlock()
		return rec, nil
	}
	gen := p.gen
	p.mu.Unlock()

	rec, err := c.next.Get(ctx, key)
	if err != nil {
		return Record{}, err
	}
	p.mu.Lock()
	if _, ok := p.items[key]; !ok && p.gen == gen {
		var n *cacheNode
		if len(p.items) >= p.cap {
			n = p.root.prev // reuse the oldest node
			p.unlink(n)
			delete(p.items, n.key)
		} else {
			n = new(cacheNode)
		}
		n.key, n.rec = key, rec
		p.items[key] = n
		p.pushFront(n)
	}
	p.mu.Unlock()
	return rec, nil
}

// Create passes through to the backend; new links are cached by their first
// Get.
func (c *CachedStore) Create(ctx context.Context, l Link, dedup bool) (Link, error) {
	return c.next.Create(ctx, l, dedup)
}

// Delete deletes in the backend, then evicts key.
func (c *CachedStore) Delete(ctx context.Context, key string) error {
	err := c.next.Delete(ctx, key)
	c.evict(key)
	return err
}

// Visit visits in the backend, then evicts key, whose visit count changed.
func (c *CachedStore) Visit(ctx context.Context, key string, now time.Time) (Record, error) {
	rec, err := c.next.Visit(ctx, key, now)
	c.evict(key)
	return rec, err
}

// AddClicks adds in the backend, then evicts the keys, so that the next Get
// reads the new counts. Updating the cached records in place instead would
// count twice the clicks of a fill that read the backend after the add but
// landed before the update.
func (c *CachedStore) AddClicks(ctx context.Context, clicks map[ClickKey]int64) error {
	err := c.next.AddClicks(ctx, clicks)
	for ck := range clicks {
		c.evict(ck.Key)
	}
	return err
}

// Sweep sweeps the backend, then evicts the removed links.
func (c *CachedStore) Sweep(ctx context.Context, now time.Time, limit int) ([]Link, error) {
	links, err := c.next.Sweep(ctx, now, limit)
	for _, l := range links {
		c.evict(l.Key)
	}
	return links, err
}
