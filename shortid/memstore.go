package shortid

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/google/btree"
)

// memStripes is the number of independently locked parts of a MemStore. A
// key's stripe is picked by xxhash, so 64 stripes keep the chance that two
// of 2-16 busy cores meet on one lock at a few percent.
const memStripes = 64

// MemStore is the in-memory [Store]: the embedded default and the reference
// the conformance suite is written against. The zero value is not usable;
// call [NewMemStore].
//
// Links live in 64 maps striped by an xxhash of the key, each behind its own
// RWMutex, so a Get costs one hash, one read lock and one map lookup
// (O(1), no allocation). Dedup entries (URL → key) are striped by the hash of
// the URL; Create and Delete lock the key's and the URL's stripes together, in
// stripe order, which makes the pair atomic without a global lock. Links that
// can expire or run out of visits are also kept in a B-tree ordered by the
// time they become due, so Sweep costs O(log n) per removed link and never
// scans live ones.
//
// A MemStore is also a [Counter], so that Shorteners sharing one store
// share one key sequence, as they would share a counter row in a database.
//
// A MemStore never blocks on I/O and ignores its contexts. All methods are
// safe for concurrent use.
type MemStore struct {
	stripes [memStripes]memStripe

	dueMu sync.Mutex
	due   *btree.BTreeG[dueItem] // links by the time they expire or ran out of visits

	counter MemCounter
}

var (
	_ Store   = (*MemStore)(nil)
	_ Counter = (*MemStore)(nil)
)

type memStripe struct {
	mu    sync.RWMutex
	links map[string]memEntry
	dedup dedupIndex // normalized URL -> key
	_     [16]byte   // keep stripes on separate cache lines
}

// memEntry is a Link without its key (the map key holds it) and with times
// as Unix nanoseconds. The fields only a link with a TTL or a visit limit
// needs sit behind a pointer, so a plain link's entry is 48 bytes instead of
// the 120 of a Record.
type memEntry struct {
	url     string
	created int64      // Unix ns; noTime is the zero time
	clicks  int64      // flushed clicks
	lim     *memLimits // nil: never expires, no visit limit; never modified once stored
	alias   bool
	dedup   bool // the link owns the dedup entry of its URL
}

// memLimits holds the rarely used fields of a memEntry. It is replaced, not
// modified, so that a copy of an entry read under a read lock stays valid.
type memLimits struct {
	expires   int64 // Unix ns; noTime never expires
	maxVisits int64
	visits    int64
	dueAt     int64 // key of this link in MemStore.due; noTime when not there
}

func (e *memEntry) limits() memLimits {
	if e.lim == nil {
		return memLimits{expires: noTime, dueAt: noTime}
	}
	return *e.lim
}

type dueItem struct {
	at  int64
	key string
}

func dueLess(a, b dueItem) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.key < b.key
}

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore {
	return NewMemStoreSize(0)
}

// NewMemStoreSize returns an empty in-memory store with room for about n
// links before its maps grow. Growing a map rehashes its entries, which is
// about a quarter of the cost of filling an unsized store; a size hint
// saves it when the number of links is known, as when loading a snapshot.
func NewMemStoreSize(n int) *MemStore {
	per := max(n, 0) / memStripes
	s := &MemStore{due: btree.NewG(32, dueLess)}
	for i := range s.stripes {
		s.stripes[i].links = make(map[string]memEntry, per)
		s.stripes[i].dedup.byHash = make(map[uint64]dedupEntry, per)
	}
	return s
}

func stripeIndex(s string) int { return int(xxhash.Sum64String(s) % memStripes) }

// dedupIndex maps a normalized URL to the key of its link. It is keyed by
// the URL's 64-bit xxhash, which picking the URL's stripe computes anyway,
// so the map hashes 8 bytes instead of the whole URL, twice, per Create.
// An entry keeps the URL (sharing the link's string) to confirm a match: a
// URL whose hash another URL already holds goes to spill, keyed by the
// URL itself. With 64-bit hashes spill stays empty below billions of URLs.
type dedupIndex struct {
	byHash map[uint64]dedupEntry
	spill  map[string]string // URL -> key for hash collisions; nil until the first
}

type dedupEntry struct{ url, key string }

func (d *dedupIndex) get(h uint64, url string) (string, bool) {
	if e, ok := d.byHash[h]; ok && e.url == url {
		return e.key, true
	}
	if d.spill != nil {
		k, ok := d.spill[url]
		return k, ok
	}
	return "", false
}

// put adds url -> key; the caller has checked that url has no entry.
func (d *dedupIndex) put(h uint64, url, key string) {
	if e, ok := d.byHash[h]; ok && e.url != url {
		if d.spill == nil {
			d.spill = make(map[string]string)
		}
		d.spill[url] = key
		return
	}
	d.byHash[h] = dedupEntry{url: url, key: key}
}

// del removes url's entry if it names key.
func (d *dedupIndex) del(h uint64, url, key string) {
	if e, ok := d.byHash[h]; ok && e.url == url {
		if e.key == key {
			delete(d.byHash, h)
		}
		return
	}
	if d.spill != nil && d.spill[url] == key {
		delete(d.spill, url)
	}
}

// lock2 write-locks stripes i and j in index order, so that two callers
// locking the same pair cannot deadlock.
func (s *MemStore) lock2(i, j int) {
	if i > j {
		i, j = j, i
	}
	s.stripes[i].mu.Lock()
	if i != j {
		s.stripes[j].mu.Lock()
	}
}

// unlock2 undoes lock2(i, j).
func (s *MemStore) unlock2(i, j int) {
	s.stripes[i].mu.Unlock()
	if i != j {
		s.stripes[j].mu.Unlock()
	}
}

// noTime stands for the zero time.Time in Unix nanoseconds. It is the
// smallest int64, a moment in 1677 that toNanos refuses, so that every
// representable time, 1970-01-01T00:00:00Z included, keeps its meaning.
const noTime = math.MinInt64

// toNanos returns t in Unix nanoseconds, noTime for the zero time, or false
// if t lies outside the years 1678-2262 that int64 nanoseconds cover.
func toNanos(t time.Time) (int64, bool) {
	if t.IsZero() {
		return noTime, true
	}
	n := t.UnixNano()
	if n == noTime || !time.Unix(0, n).Equal(t) {
		return 0, false
	}
	return n, true
}

func fromNanos(n int64) time.Time {
	if n == noTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// clickCreated returns the Created of the entry's ClickKey.
func (e *memEntry) clickCreated() int64 {
	if e.created == noTime {
		return 0
	}
	return e.created
}

func (e *memEntry) record(key string) Record {
	lim := e.limits()
	return Record{
		Link: Link{
			Key:       key,
			URL:       e.url,
			Alias:     e.alias,
			CreatedAt: fromNanos(e.created),
			ExpiresAt: fromNanos(lim.expires),
			MaxVisits: lim.maxVisits,
		},
		Clicks: e.clicks,
		Visits: lim.visits,
	}
}

// Create implements [Store.Create] in O(1), plus O(log n) for a link that
// expires or has MaxVisits.
func (s *MemStore) Create(_ context.Context, l Link, dedup bool) (Link, error) {
	created, ok1 := toNanos(l.CreatedAt)
	expires, ok2 := toNanos(l.ExpiresAt)
	if !ok1 || !ok2 {
		return Link{}, fmt.Errorf("%w: time outside the years 1678-2262", ErrInvalidRequest)
	}
	ki := stripeIndex(l.Key)
	ui := ki
	var uh uint64
	if dedup {
		uh = xxhash.Sum64String(l.URL)
		ui = int(uh % memStripes)
	}
	for {
		s.lock2(ki, ui)
		ks, us := &s.stripes[ki], &s.stripes[ui]
		if _, ok := ks.links[l.Key]; ok {
			s.unlock2(ki, ui)
			return Link{}, ErrExists
		}
		if dedup {
			if other, ok := us.dedup.get(uh, l.URL); ok {
				s.unlock2(ki, ui)
				if existing, ok := s.dedupTarget(uh, l.URL, other); ok {
					return existing, nil
				}
				continue // the other link was deleted meanwhile: try again
			}
		}
		e := memEntry{url: l.URL, created: created, alias: l.Alias, dedup: dedup}
		if !l.ExpiresAt.IsZero() || l.MaxVisits != 0 {
			e.lim = &memLimits{expires: expires, maxVisits: l.MaxVisits, dueAt: noTime}
		}
		if e.lim != nil && e.lim.expires != noTime {
			e.lim.dueAt = e.lim.expires
			s.dueMu.Lock()
			s.due.ReplaceOrInsert(dueItem{e.lim.dueAt, l.Key})
			s.dueMu.Unlock()
		}
		ks.links[l.Key] = e
		if dedup {
			us.dedup.put(uh, l.URL, l.Key)
		}
		s.unlock2(ki, ui)
		return e.record(l.Key).Link, nil
	}
}

// dedupTarget returns the link under key if the dedup entry of url still
// points to it.
func (s *MemStore) dedupTarget(uh uint64, url, key string) (Link, bool) {
	ki, ui := stripeIndex(key), int(uh%memStripes)
	s.lock2(ki, ui)
	defer s.unlock2(ki, ui)
	if k, ok := s.stripes[ui].dedup.get(uh, url); !ok || k != key {
		return Link{}, false
	}
	e, ok := s.stripes[ki].links[key]
	if !ok {
		return Link{}, false
	}
	return e.record(key).Link, true
}

// Get implements [Store.Get] in O(1) without allocating.
func (s *MemStore) Get(_ context.Context, key string) (Record, error) {
	st := &s.stripes[stripeIndex(key)]
	st.mu.RLock()
	e, ok := st.links[key]
	st.mu.RUnlock()
	if !ok {
		return Record{}, ErrNotFound
	}
	return e.record(key), nil
}

// Delete implements [Store.Delete].
func (s *MemStore) Delete(_ context.Context, key string) error {
	if _, ok := s.remove(key, func(memEntry) bool { return true }); !ok {
		return ErrNotFound
	}
	return nil
}

// remove deletes the link under key, with its dedup entry and its place in
// the due index, if cond approves of it.
func (s *MemStore) remove(key string, cond func(memEntry) bool) (Link, bool) {
	ki := stripeIndex(key)
	for {
		ks := &s.stripes[ki]
		ks.mu.RLock()
		e, ok := ks.links[key]
		ks.mu.RUnlock()
		if !ok || !cond(e) {
			return Link{}, false
		}
		uh := xxhash.Sum64String(e.url)
		ui := int(uh % memStripes)
		s.lock2(ki, ui)
		cur, ok := ks.links[key]
		if !ok || cur.url != e.url || cur.created != e.created {
			s.unlock2(ki, ui)
			continue // replaced between the two looks: start over
		}
		if !cond(cur) {
			s.unlock2(ki, ui)
			return Link{}, false
		}
		delete(ks.links, key)
		if cur.dedup {
			s.stripes[ui].dedup.del(uh, cur.url, key)
		}
		if due := cur.limits().dueAt; due != noTime {
			s.dueMu.Lock()
			s.due.Delete(dueItem{due, key})
			s.dueMu.Unlock()
		}
		s.unlock2(ki, ui)
		return cur.record(key).Link, true
	}
}

// Visit implements [Store.Visit] in O(1), plus O(log n) for the visit that
// exhausts a link.
func (s *MemStore) Visit(_ context.Context, key string, now time.Time) (Record, error) {
	st := &s.stripes[stripeIndex(key)]
	n := now.UnixNano()
	st.mu.RLock()
	e, ok := st.links[key]
	st.mu.RUnlock()
	if !ok {
		return Record{}, ErrNotFound
	}
	lim := e.limits()
	if lim.maxVisits == 0 {
		if lim.expires != noTime && n >= lim.expires {
			return Record{}, ErrGone
		}
		return e.record(key), nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	e, ok = st.links[key]
	if !ok {
		return Record{}, ErrNotFound
	}
	lim = e.limits()
	if (lim.expires != noTime && n >= lim.expires) || lim.visits >= lim.maxVisits {
		return Record{}, ErrGone
	}
	lim.visits++
	if lim.visits == lim.maxVisits && (lim.dueAt == noTime || n < lim.dueAt) {
		s.dueMu.Lock()
		if lim.dueAt != noTime {
			s.due.Delete(dueItem{lim.dueAt, key})
		}
		lim.dueAt = n
		s.due.ReplaceOrInsert(dueItem{lim.dueAt, key})
		s.dueMu.Unlock()
	}
	e.lim = &lim
	st.links[key] = e
	return e.record(key), nil
}

// AddClicks implements [Store.AddClicks] in O(len(clicks)).
func (s *MemStore) AddClicks(_ context.Context, clicks map[ClickKey]int64) error {
	for ck, n := range clicks {
		st := &s.stripes[stripeIndex(ck.Key)]
		st.mu.Lock()
		if e, ok := st.links[ck.Key]; ok && e.clickCreated() == ck.Created {
			e.clicks += n
			st.links[ck.Key] = e
		}
		st.mu.Unlock()
	}
	return nil
}

// Sweep implements [Store.Sweep] in O(log n) per removed link.
func (s *MemStore) Sweep(_ context.Context, now time.Time, limit int) ([]Link, error) {
	if limit <= 0 {
		return nil, nil
	}
	n := now.UnixNano()
	isDue := func(e memEntry) bool { due := e.limits().dueAt; return due != noTime && due <= n }
	var out []Link
	var due []dueItem
	var after *dueItem // the last item looked at; the next batch starts past it
	for len(out) < limit {
		// Items whose link vanished or changed since they were listed
		// remove nothing, so keep listing until limit links are removed
		// or no due item is left: fewer than limit means none is left.
		due = due[:0]
		want := limit - len(out)
		collect := func(it dueItem) bool {
			if it.at > n || len(due) == want {
				return false
			}
			if after == nil || dueLess(*after, it) {
				due = append(due, it)
			}
			return true
		}
		s.dueMu.Lock()
		if after == nil {
			s.due.Ascend(collect)
		} else {
			s.due.AscendGreaterOrEqual(*after, collect)
		}
		s.dueMu.Unlock()
		if len(due) == 0 {
			break
		}
		for _, it := range due {
			if l, ok := s.remove(it.key, isDue); ok {
				out = append(out, l)
			}
		}
		last := due[len(due)-1]
		after = &last
	}
	return out, nil
}

// Lease implements [Counter] with the store's own [MemCounter].
func (s *MemStore) Lease(ctx context.Context, n uint64) (uint64, error) {
	return s.counter.Lease(ctx, n)
}
