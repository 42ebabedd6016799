package fanout

import (
	"context"
	"encoding/binary"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/google/btree"

	"github.com/blueprint-go/blueprint/snowflake"
)

// stripes is the number of independently locked shards of every in-memory
// map, and of the Service's per-user state. A fan-out worker holds one
// stripe lock or another almost all the time it delivers, so a read finds
// its reader's stripe taken about once in stripes/(workers·d) reads,
// where d is the share of the time the workers deliver, and then waits
// for the worker to let go of it and then for a core (36 µs on average on
// 2 cores). In the 100k-user simulator's replay of 100k reads on 2
// workers that was 960 waits with 64 stripes, 1 read in 100 (so d was
// about a third), and the first page's p99 (see doc.go); with 1024 it is
// 52 waits, 1 in 1,900 (the formula says 1 in 1,600).
const stripes = 1024

func stripeOf(k int64) int {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(k))
	return int(xxhash.Sum64(b[:]) % stripes)
}

// setIn stores v at k in *m, making the map at a stripe's first write, so
// that a small store or Service does not make 1024 maps per striped array
// up front.
func setIn[K comparable, V any](m *map[K]V, k K, v V) {
	if *m == nil {
		*m = make(map[K]V)
	}
	(*m)[k] = v
}

const btreeDegree = 16

// MemGraph is the in-memory [Graph]: per user, two B-trees of edges (one per
// direction) in maps striped by xxhash of the user ID. Follow and Unfollow
// cost O(log n) and update the two directions at once, under both their
// stripe locks. It is safe for concurrent use. The zero value is not
// usable; call NewMemGraph.
type MemGraph struct {
	s [stripes]graphStripe
}

type graphStripe struct {
	mu sync.RWMutex
	m  map[UserID]*adjacency
	_  [32]byte // to 64 bytes, a cache line
}

type adjacency struct {
	followers *btree.BTreeG[Edge] // by Follower
	followees *btree.BTreeG[Edge] // by Followee
}

var _ Graph = (*MemGraph)(nil)

// NewMemGraph returns an empty MemGraph.
func NewMemGraph() *MemGraph {
	return new(MemGraph)
}

func byFollower(a, b Edge) bool { return a.Follower < b.Follower }
func byFollowee(a, b Edge) bool { return a.Followee < b.Followee }

// adj returns user's adjacency, creating it if create is set. The caller
// holds the stripe lock (for writing if create).
func (st *graphStripe) adj(user UserID, create bool) *adjacency {
	a := st.m[user]
	if a == nil && create {
		a = &adjacency{
			followers: btree.NewG(btreeDegree, byFollower),
			followees: btree.NewG(btreeDegree, byFollowee),
		}
		setIn(&st.m, user, a)
	}
	return a
}

func validEdge(follower, followee UserID) error {
	if follower <= 0 || followee <= 0 {
		return ErrInvalidUser
	}
	if follower == followee {
		return ErrSelf
	}
	return nil
}

// lockPair write-locks the stripes of the two ends of an edge (in index
// order, once if they share one), so that a change writes both directions
// at one instant: a Follow and an Unfollow of the same edge interleaving
// their halves would leave a follower without the matching followee.
func (g *MemGraph) lockPair(follower, followee UserID) (fr, fe *graphStripe) {
	i, j := stripeOf(int64(follower)), stripeOf(int64(followee))
	fr, fe = &g.s[i], &g.s[j]
	switch {
	case i < j:
		fr.mu.Lock()
		fe.mu.Lock()
	case i > j:
		fe.mu.Lock()
		fr.mu.Lock()
	default:
		fr.mu.Lock()
	}
	return fr, fe
}

func unlockPair(fr, fe *graphStripe) {
	fr.mu.Unlock()
	if fe != fr {
		fe.mu.Unlock()
	}
}

// Follow implements [Graph].
func (g *MemGraph) Follow(ctx context.Context, e Edge) (bool, error) {
	if err := validEdge(e.Follower, e.Followee); err != nil {
		return false, err
	}
	if e.Since < 0 {
		return false, ErrInvalidPost
	}
	fr, fe := g.lockPair(e.Follower, e.Followee)
	defer unlockPair(fr, fe)
	_, existed := fr.adj(e.Follower, true).followees.ReplaceOrInsert(e)
	fe.adj(e.Followee, true).followers.ReplaceOrInsert(e)
	return !existed, nil
}

// Unfollow implements [Graph].
func (g *MemGraph) Unfollow(ctx context.Context, follower, followee UserID) (bool, error) {
	if err := validEdge(follower, followee); err != nil {
		return false, err
	}
	key := Edge{Follower: follower, Followee: followee}
	fr, fe := g.lockPair(follower, followee)
	defer unlockPair(fr, fe)
	existed := false
	if a := fr.adj(follower, false); a != nil {
		_, existed = a.followees.Delete(key)
	}
	if a := fe.adj(followee, false); a != nil {
		a.followers.Delete(key)
	}
	return existed, nil
}

// SetSince implements [Graph].
func (g *MemGraph) SetSince(ctx context.Context, follower, followee UserID, since snowflake.ID) error {
	if err := validEdge(follower, followee); err != nil {
		return err
	}
	if since < 0 {
		return ErrInvalidPost
	}
	e := Edge{Follower: follower, Followee: followee, Since: since}
	fr, fe := g.lockPair(follower, followee)
	defer unlockPair(fr, fe)
	// One descent per tree where the edge exists (the usual case):
	// replace, and take the insert back if it did not.
	a := fr.adj(follower, false)
	if a == nil {
		return ErrNotFollowing
	}
	if _, ok := a.followees.ReplaceOrInsert(e); !ok {
		a.followees.Delete(e)
		return ErrNotFollowing
	}
	fe.adj(followee, true).followers.ReplaceOrInsert(e)
	return nil
}

// Followers implements [Graph]. It costs O(log n + limit).
func (g *MemGraph) Followers(ctx context.Context, user, after UserID, limit int, dst []Edge) ([]Edge, error) {
	if user <= 0 {
		return dst, ErrInvalidUser
	}
	if limit <= 0 {
		return dst, ErrInvalidLimit
	}
	st := &g.s[stripeOf(int64(user))]
	st.mu.RLock()
	defer st.mu.RUnlock()
	a := st.adj(user, false)
	if a == nil || after == math.MaxInt64 {
		// No follower is above MaxInt64 (and after+1 would wrap to the
		// first one: a pager would start over forever).
		return dst, nil
	}
	n := 0
	a.followers.AscendGreaterOrEqual(Edge{Follower: after + 1}, func(e Edge) bool {
		dst = append(dst, e)
		n++
		return n < limit
	})
	return dst, nil
}

// Followees implements [Graph]. It costs O(followees).
func (g *MemGraph) Followees(ctx context.Context, user UserID, dst []Edge) ([]Edge, error) {
	if user <= 0 {
		return dst, ErrInvalidUser
	}
	st := &g.s[stripeOf(int64(user))]
	st.mu.RLock()
	defer st.mu.RUnlock()
	if a := st.adj(user, false); a != nil {
		a.followees.Ascend(func(e Edge) bool {
			dst = append(dst, e)
			return true
		})
	}
	return dst, nil
}

// Counts implements [Graph]. It costs O(1).
func (g *MemGraph) Counts(ctx context.Context, user UserID) (followers, followees int, err error) {
	if user <= 0 {
		return 0, 0, ErrInvalidUser
	}
	st := &g.s[stripeOf(int64(user))]
	st.mu.RLock()
	defer st.mu.RUnlock()
	if a := st.adj(user, false); a != nil {
		return a.followers.Len(), a.followees.Len(), nil
	}
	return 0, 0, nil
}

// MemPosts is the in-memory [Posts]: posts in maps striped by ID, and one
// B-tree of post IDs per author. Put and Delete cost O(log n) in the author's
// post count, GetMany O(1) per ID, Recent O(log n + limit). It is safe for
// concurrent use. The zero value is not usable; call NewMemPosts.
type MemPosts struct {
	byID     [stripes]postStripe
	byAuthor [stripes]authorStripe
}

type postStripe struct {
	mu sync.RWMutex
	m  map[snowflake.ID]Post
	_  [32]byte // to 64 bytes, a cache line
}

type authorStripe struct {
	mu sync.RWMutex
	m  map[UserID]*btree.BTreeG[snowflake.ID]
	_  [32]byte // to 64 bytes, a cache line
}

var _ Posts = (*MemPosts)(nil)

// NewMemPosts returns an empty MemPosts.
func NewMemPosts() *MemPosts {
	return new(MemPosts)
}

// Put implements [Posts]. The post is readable by GetMany before Recent
// lists it.
func (p *MemPosts) Put(ctx context.Context, post Post) error {
	if post.ID <= 0 || post.ID == Pulling || post.RepostOf < 0 || post.RepostOf == post.ID {
		return ErrInvalidPost
	}
	if post.Author <= 0 {
		return ErrInvalidUser
	}
	st := &p.byID[stripeOf(int64(post.ID))]
	st.mu.Lock()
	old, had := st.m[post.ID]
	setIn(&st.m, post.ID, post)
	st.mu.Unlock()
	if had && old.Author != post.Author {
		p.unindex(old)
	}
	as := &p.byAuthor[stripeOf(int64(post.Author))]
	as.mu.Lock()
	t := as.m[post.Author]
	if t == nil {
		t = btree.NewOrderedG[snowflake.ID](btreeDegree)
		setIn(&as.m, post.Author, t)
	}
	t.ReplaceOrInsert(post.ID)
	as.mu.Unlock()
	return nil
}

func (p *MemPosts) unindex(post Post) {
	as := &p.byAuthor[stripeOf(int64(post.Author))]
	as.mu.Lock()
	if t := as.m[post.Author]; t != nil {
		t.Delete(post.ID)
		if t.Len() == 0 {
			delete(as.m, post.Author)
		}
	}
	as.mu.Unlock()
}

// GetMany implements [Posts].
func (p *MemPosts) GetMany(ctx context.Context, ids []snowflake.ID, dst []Post) ([]Post, error) {
	for _, id := range ids {
		st := &p.byID[stripeOf(int64(id))]
		st.mu.RLock()
		post, ok := st.m[id]
		st.mu.RUnlock()
		if ok {
			dst = append(dst, post)
		}
	}
	return dst, nil
}

// Recent implements [Posts].
func (p *MemPosts) Recent(ctx context.Context, author UserID, before snowflake.ID, limit int, dst []snowflake.ID) ([]snowflake.ID, error) {
	if author <= 0 {
		return dst, ErrInvalidUser
	}
	if limit <= 0 {
		return dst, ErrInvalidLimit
	}
	as := &p.byAuthor[stripeOf(int64(author))]
	as.mu.RLock()
	defer as.mu.RUnlock()
	t := as.m[author]
	if t == nil || before <= 1 {
		// Post IDs are positive (and before-1 would wrap at MinInt64).
		return dst, nil
	}
	n := 0
	t.DescendLessOrEqual(before-1, func(id snowflake.ID) bool {
		dst = append(dst, id)
		n++
		return n < limit
	})
	return dst, nil
}

// Delete implements [Posts].
func (p *MemPosts) Delete(ctx context.Context, id snowflake.ID) (Post, error) {
	st := &p.byID[stripeOf(int64(id))]
	st.mu.Lock()
	post, ok := st.m[id]
	delete(st.m, id)
	st.mu.Unlock()
	if !ok {
		return Post{}, ErrNotFound
	}
	p.unindex(post)
	return post, nil
}

// DefaultCap is the number of entries a MemTimelines keeps per user when
// MemTimelinesOptions.Cap is zero: Twitter's 800.
const DefaultCap = 800

// MemTimelinesOptions configure a MemTimelines. The zero value means
// defaults.
type MemTimelinesOptions struct {
	// Cap is the most entries kept per user; 0 means DefaultCap.
	Cap int
}

// MemTimelines is the in-memory [Timelines]: per user, one sorted slice of
// 16-byte entries with a moving start, in maps striped by xxhash of the user
// ID. Appending the newest entry costs O(1) amortized, an out-of-order insert
// or a Remove O(log n + n) memory moves within one timeline, Range
// O(log n + limit). Trimming to the cap moves the start (O(1)); the slice
// holds at most Cap + Cap/4 entries, so a full timeline costs at most 20
// bytes per entry. It is safe for concurrent use. The zero value is not
// usable; call NewMemTimelines.
type MemTimelines struct {
	s   [stripes]timelineStripe // first: a large object is page-aligned
	cap int
}

type timelineStripe struct {
	mu sync.RWMutex
	m  map[UserID]*timeline
	_  [32]byte // to 64 bytes, a cache line
}

// timelineOf returns user's timeline, made empty if it has none. The
// caller holds st's write lock.
func (st *timelineStripe) timelineOf(user UserID) *timeline {
	tl := st.m[user]
	if tl == nil {
		tl = new(timeline)
		setIn(&st.m, user, tl)
	}
	return tl
}

// A timeline holds buf[start:], ascending by ID.
type timeline struct {
	buf     []Entry
	start   int
	horizon snowflake.ID
}

var _ Timelines = (*MemTimelines)(nil)

// NewMemTimelines returns an empty MemTimelines.
func NewMemTimelines(opts MemTimelinesOptions) *MemTimelines {
	c := opts.Cap
	if c <= 0 {
		c = DefaultCap
	}
	return &MemTimelines{cap: c}
}

func (t *MemTimelines) insert(tl *timeline, e Entry) {
	live := tl.buf[tl.start:]
	n := len(live)
	i := n
	if n > 0 && e.ID <= live[n-1].ID {
		i = sort.Search(n, func(j int) bool { return live[j].ID >= e.ID })
		if i < n && live[i].ID == e.ID {
			return
		}
		if i == 0 && n >= t.cap {
			// Older than everything in a full timeline: it would be
			// trimmed at once.
			if e.ID >= tl.horizon {
				tl.horizon = e.ID + 1
			}
			return
		}
	}
	if len(tl.buf) == cap(tl.buf) {
		maxCap := t.cap + t.cap/4
		if tl.start > 0 && (cap(tl.buf) >= maxCap || tl.start >= n/4) {
			copy(tl.buf, live)
			tl.buf = tl.buf[:n]
			tl.start = 0
		} else {
			c := min(max(8, n+n/4+4), maxCap)
			nb := make([]Entry, n, max(c, n+1))
			copy(nb, live)
			tl.buf, tl.start = nb, 0
		}
		live = tl.buf
	}
	tl.buf = tl.buf[:len(tl.buf)+1]
	live = tl.buf[tl.start:]
	copy(live[i+1:], live[i:n])
	live[i] = e
	if n+1 > t.cap {
		tl.horizon = max(tl.horizon, live[0].ID+1)
		tl.start++
	}
}

func (t *MemTimelines) validEntry(e Entry) error {
	if e.ID <= 0 || e.ID == Pulling {
		return ErrInvalidPost
	}
	if e.Author <= 0 {
		return ErrInvalidUser
	}
	return nil
}

// Add implements [Timelines].
func (t *MemTimelines) Add(ctx context.Context, user UserID, entries ...Entry) error {
	if user <= 0 {
		return ErrInvalidUser
	}
	for _, e := range entries {
		if err := t.validEntry(e); err != nil {
			return err
		}
	}
	st := &t.s[stripeOf(int64(user))]
	st.mu.Lock()
	tl := st.timelineOf(user)
	for _, e := range entries {
		t.insert(tl, e)
	}
	st.mu.Unlock()
	return nil
}

// Deliver implements [Timelines]. It takes each stripe lock once per call,
// visiting the users in stripe order.
func (t *MemTimelines) Deliver(ctx context.Context, e Entry, users []UserID) error {
	if err := t.validEntry(e); err != nil {
		return err
	}
	// Each user as stripe<<32 | its index, sorted: on the stack for a
	// call of up to 256 users (the Service delivers 128 at a time), so
	// that the fan-out makes no garbage for the collector.
	var small [256]uint64
	keys := small[:0]
	if len(users) > len(small) {
		keys = make([]uint64, 0, len(users))
	}
	for i, u := range users {
		if u <= 0 {
			return ErrInvalidUser
		}
		keys = append(keys, uint64(stripeOf(int64(u)))<<32|uint64(i))
	}
	slices.Sort(keys)
	for len(keys) > 0 {
		s := keys[0] >> 32
		st := &t.s[s]
		st.mu.Lock()
		for ; len(keys) > 0 && keys[0]>>32 == s; keys = keys[1:] {
			t.insert(st.timelineOf(users[uint32(keys[0])]), e)
		}
		st.mu.Unlock()
	}
	return nil
}

// Range implements [Timelines].
func (t *MemTimelines) Range(ctx context.Context, user UserID, before snowflake.ID, limit int, dst []Entry) ([]Entry, snowflake.ID, error) {
	if user <= 0 {
		return dst, 0, ErrInvalidUser
	}
	if limit <= 0 {
		return dst, 0, ErrInvalidLimit
	}
	st := &t.s[stripeOf(int64(user))]
	st.mu.RLock()
	defer st.mu.RUnlock()
	tl := st.m[user]
	if tl == nil {
		return dst, 0, nil
	}
	live := tl.buf[tl.start:]
	// A first page (before above every entry) needs no search: its
	// descent touched about ten cold cache lines of an 800-entry timeline.
	i := len(live)
	if i > 0 && live[i-1].ID >= before {
		i, _ = slices.BinarySearchFunc(live, before, func(e Entry, id snowflake.ID) int { return cmpID(e.ID, id) })
	}
	for i--; i >= 0 && limit > 0; i-- {
		dst = append(dst, live[i])
		limit--
	}
	return dst, tl.horizon, nil
}

// Remove implements [Timelines].
func (t *MemTimelines) Remove(ctx context.Context, user UserID, ids ...snowflake.ID) error {
	if user <= 0 {
		return ErrInvalidUser
	}
	st := &t.s[stripeOf(int64(user))]
	st.mu.Lock()
	defer st.mu.Unlock()
	tl := st.m[user]
	if tl == nil {
		return nil
	}
	for _, id := range ids {
		live := tl.buf[tl.start:]
		i := sort.Search(len(live), func(j int) bool { return live[j].ID >= id })
		if i < len(live) && live[i].ID == id {
			copy(live[i:], live[i+1:])
			tl.buf = tl.buf[:len(tl.buf)-1]
		}
	}
	return nil
}

// Stat implements [Timelines].
func (t *MemTimelines) Stat(ctx context.Context, user UserID) (TimelineStat, error) {
	if user <= 0 {
		return TimelineStat{}, ErrInvalidUser
	}
	st := &t.s[stripeOf(int64(user))]
	st.mu.RLock()
	defer st.mu.RUnlock()
	tl := st.m[user]
	if tl == nil {
		return TimelineStat{}, nil
	}
	live := tl.buf[tl.start:]
	s := TimelineStat{Len: len(live), Horizon: tl.horizon}
	if len(live) > 0 {
		s.Oldest = live[0].ID
	}
	return s, nil
}
