package fanout

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/blueprint-go/blueprint/snowflake"
)

// A readPlan is what a reader's reads need to know about its followees,
// cached per reader so that a read costs O(pulled followees + page), not
// O(followees): which followees must be pulled, and from which watermark
// the others' posts are in the pushed timeline. It is immutable once built
// and costs about 8 bytes per followee plus 24 per pulled or marked one.
//
// A plan is rebuilt when something it was built from changes: the reader's
// follows, edge watermarks, mutes and blocks (userState.planVer), or the
// read mode of an author it follows (the authorLog).
type readPlan struct {
	ids []UserID // followees, ascending
	// pulled lists the followees whose posts are all pulled; marked the
	// pushed ones with a watermark above 1 (after a follow, a switch to
	// push, or posts stored before the Service), by watermark descending.
	// The other followees' posts are all pushed: they only matter below
	// the reader's floor and its timeline's horizon. Bit i of listed is
	// set if ids[i] is pulled or marked.
	pulled []planRef
	marked []planRef
	listed []uint64
	rel    map[UserID]uint8
	// gone is the reader's (see goneSet): the other entries of its
	// pushed timeline are of followees.
	gone goneSet
	// filter has bit hash(a) set for every followee a (a power of two of
	// bits, at least 8 per followee), so that follows rejects most
	// non-followees with one load: the fan-out queue holds every pushed
	// author's pending posts, which a read filters to its followees.
	filter []uint64
}

// filterBit returns a's bit in a filter of n words (a power of two).
func filterBit(a UserID, n int) (word int, bit uint64) {
	h := uint64(a) * 0x9e3779b97f4a7c15 // Fibonacci hashing
	i := h >> 32 & uint64(n*64-1)
	return int(i / 64), 1 << (i % 64)
}

// newFilter returns the followee filter of ids.
func newFilter(ids []UserID) []uint64 {
	n := 1
	for n*64 < 8*len(ids) {
		n *= 2
	}
	f := make([]uint64, n)
	for _, a := range ids {
		w, b := filterBit(a, n)
		f[w] |= b
	}
	return f
}

// A planRef is a followee a read may pull: its slot in the dense table,
// which holds what a read needs of it (its newest post bound and recent
// posts, loaded without its lock), and its watermark (marked only). A
// read never touches the followee's state.
type planRef struct {
	slot *authorSlot
	id   UserID
	w    snowflake.ID
}

// refTo returns the planRef of followee id, whose state is st.
func refTo(id UserID, st *userState, w snowflake.ID) planRef {
	return planRef{slot: st.slot, id: id, w: w}
}

// An authorSlot is what reads need of an author without its lock: an
// upper bound on its post IDs, newest+1 once userState.newestKnown (else
// 0), and its recent posts. Both are written under the author's lock
// wherever newest and the recent posts change.
type authorSlot struct {
	seen   atomic.Int64
	recent atomic.Pointer[recentPosts]
}

// slotChunk is how many slots a slotTable allocates at a time.
const slotChunk = 1024

// slotTable hands out the users' authorSlots, allocated in chunks that
// never move, so that the slots of all users sit together, 16 bytes each
// (1.6 MB at 100k users, about a core's L2 cache), rather than inside each
// user's state, scattered over the heap. A read checks each pulled
// followee for posts in its range there, and takes the first ones from
// its recent posts: at 100k users the state of a followee is rarely in
// cache, and going through it cost a DRAM miss (about 200 ns) per pulled
// followee, whether or not it had anything on the page.
type slotTable struct {
	mu   sync.Mutex
	free []authorSlot // the rest of the current chunk
}

// take returns a new slot, zero. Callers may hold a stripe lock: mu is
// taken last.
func (t *slotTable) take() *authorSlot {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.free) == 0 {
		t.free = make([]authorSlot, slotChunk)
	}
	p := &t.free[0]
	t.free = t.free[1:]
	return p
}

// follows reports whether user's plan lets a's posts in: a is the user or
// one of its followees.
func (p *readPlan) follows(user, a UserID) bool {
	if a == user {
		return true
	}
	if len(p.filter) > 0 {
		if w, b := filterBit(a, len(p.filter)); p.filter[w]&b == 0 {
			return false
		}
	}
	_, ok := slices.BinarySearch(p.ids, a)
	return ok
}

// pulling returns a copy of p in which followee a, whose state is ast, is
// pulled, or nil if a is not a followee. The copy shares ids and rel, and
// appends a to p's pulled list in place: p is the reader's current plan,
// which is patched at most once (the copy replaces it, under the reader's
// lock), and reads of p never look past its own length. So a patch costs
// O(F/64 + marked) and a small allocation, not a copy or a search of the
// pulled list (hundreds for a reader who follows a thousand under
// PerPair): a fan-out may switch several edges per post.
func (p *readPlan) pulling(a UserID, ast *userState) *readPlan {
	i, ok := slices.BinarySearch(p.ids, a)
	if !ok {
		return nil
	}
	n := *p
	if p.listed[i/64]&(1<<(i%64)) == 0 {
		// Neither pulled nor marked yet.
		n.listed = slices.Clone(p.listed)
		n.listed[i/64] |= 1 << (i % 64)
	} else if j := slices.IndexFunc(p.marked, func(r planRef) bool { return r.id == a }); j >= 0 {
		n.marked = slices.Delete(slices.Clone(p.marked), j, j+1)
	} else {
		return p // pulled already
	}
	n.pulled = append(p.pulled, refTo(a, ast, 0))
	return &n
}

// watermark returns the lowest ID from which u's posts reach the timelines
// of its pushed followers, or Pulling if they are pulled (or not known yet).
func (st *userState) watermark() snowflake.ID {
	if st.authorKnown && st.authorPush {
		return st.authorSince
	}
	return Pulling
}

// planWatermark is u's watermark as a read plan takes it. An author that
// has not published through this Service and has no stored posts has
// nothing to pull yet: the plan takes the mode the policy would give it at
// its first post, so that the first post changes no plan (the first post
// notes a change if the guess was push and the policy says pull). Callers
// hold u's stripe lock.
func (s *Service) planWatermark(u UserID, st *userState) snowflake.ID {
	if !st.authorKnown && st.newestKnown && st.newest == 0 {
		if st.guessedPush || s.opt.Policy.PushAuthor(AuthorStats{Author: u, Followers: st.followers}) {
			st.guessedPush = true
			return 0
		}
	}
	return st.watermark()
}

// authorLogSize is how many author mode changes the log keeps: a plan
// older than that many changes is rebuilt.
const authorLogSize = 4096

// authorLog records which authors changed their watermark, so that a
// reader's plan is checked in O(changes · log F) since it was built rather
// than O(F). Changes are rare: an author crossing the policy's threshold,
// and the end of its switch to push.
type authorLog struct {
	mu   sync.Mutex
	seq  atomic.Uint64 // changes ever noted
	ring [authorLogSize]UserID
}

// note records a change of u's watermark. Callers hold u's stripe lock.
func (l *authorLog) note(u UserID) {
	l.mu.Lock()
	n := l.seq.Load()
	l.ring[n%authorLogSize] = u
	l.seq.Store(n + 1)
	l.mu.Unlock()
}

// unchanged reports whether none of ids (ascending) changed since from,
// and up to which position it checked.
func (l *authorLog) unchanged(from uint64, ids []UserID) (uint64, bool) {
	if n := l.seq.Load(); n == from {
		return n, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.seq.Load()
	if n-from > authorLogSize {
		return n, false
	}
	for i := from; i < n; i++ {
		if _, ok := slices.BinarySearch(ids, l.ring[i%authorLogSize]); ok {
			return n, false
		}
	}
	return n, true
}

// buildPlan reads user's followees from the graph and classifies them.
// Reads that find no current plan build one: the first read, and the first
// after a change.
func (s *Service) buildPlan(ctx context.Context, user UserID, rs *readerState, b *readBufs) (*readPlan, error) {
	edges, err := s.graph.Followees(ctx, user, b.edges[:0])
	b.edges = edges[:0]
	if err != nil {
		return nil, err
	}
	p := &readPlan{ids: make([]UserID, len(edges)), listed: make([]uint64, (len(edges)+63)/64), rel: rs.rel,
		gone: rs.gone}
	for i, e := range edges {
		p.ids[i] = e.Followee
		pulled := e.Since == 0 || e.Since == Pulling || slices.Contains(rs.forcePull, e.Followee)
		w, st, err := s.watermarkOf(ctx, e.Followee)
		if err != nil {
			return nil, err
		}
		switch w = max(w, e.Since); {
		case pulled || w == Pulling:
			p.pulled = append(p.pulled, refTo(e.Followee, st, 0))
		case w > 1:
			p.marked = append(p.marked, refTo(e.Followee, st, w))
		default:
			continue
		}
		p.listed[i/64] |= 1 << (i % 64)
	}
	slices.SortFunc(p.marked, func(a, b planRef) int { return cmpID(b.w, a.w) })
	p.filter = newFilter(p.ids)
	s.storePlan(ctx, user, rs, p)
	return p, nil
}

// watermarkOf returns author's watermark and state, learning its newest
// post from the store first if needed.
func (s *Service) watermarkOf(ctx context.Context, author UserID) (snowflake.ID, *userState, error) {
	var w snowflake.ID
	var st *userState
	var known bool
	err := s.user(ctx, author, func(u *userState) {
		w, st, known = s.planWatermark(author, u), u, u.authorKnown || u.newestKnown
	})
	if err != nil || known {
		return w, st, err
	}
	if _, err := s.loadNewest(ctx, author); err != nil {
		return 0, nil, err
	}
	err = s.user(ctx, author, func(u *userState) { w = s.planWatermark(author, u) })
	return w, st, err
}

// refNewest is newestOf for a followee in a plan, without its lock and
// without touching its state: one load from the dense table.
//
// A read never misses a post this way. Publish raises the author's slot,
// under its lock, after storing the post and before removing its ID from
// the in-flight list under pubMu; a read fixes its top with stable(),
// under pubMu, before it loads any slot. So every post below the read's
// top had raised its slot before the read loads it (a read that began
// before the first ID was issued shows only posts stored before the
// Service: see stable). The slot only grows, and loadNewest, which learns
// posts stored before the Service, raises it under the same lock to at
// least what the store held.
func (s *Service) refNewest(ctx context.Context, r planRef) (snowflake.ID, error) {
	return s.newestSeen(ctx, r.id, r.slot.seen.Load())
}

// newestSeen is refNewest given the value seen loaded from the slot of
// followee u.
func (s *Service) newestSeen(ctx context.Context, u UserID, seen int64) (snowflake.ID, error) {
	if seen > 0 {
		return snowflake.ID(seen - 1), nil
	}
	return s.loadNewest(ctx, u)
}

// newestOf returns an upper bound on u's post IDs: no post of u has a
// higher ID.
func (s *Service) newestOf(ctx context.Context, u UserID) (snowflake.ID, error) {
	var n snowflake.ID
	var known bool
	if err := s.user(ctx, u, func(st *userState) { n, known = st.newest, st.newestKnown }); err != nil {
		return 0, err
	}
	if known {
		return n, nil
	}
	return s.loadNewest(ctx, u)
}

// loadNewest reads u's newest post ID from the store, once per author and
// Service: later posts raise it in Publish.
func (s *Service) loadNewest(ctx context.Context, u UserID) (snowflake.ID, error) {
	var buf [1]snowflake.ID
	ids, err := s.posts.Recent(ctx, u, Pulling, 1, buf[:0])
	if err != nil {
		return 0, err
	}
	var newest snowflake.ID
	if len(ids) > 0 {
		newest = ids[0]
		s.noteStored(newest)
	}
	// A post published meanwhile raised st.newest itself (after storing
	// it, before it became readable), so the maximum is an upper bound.
	err = s.user(ctx, u, func(st *userState) {
		st.newest = max(st.newest, newest)
		st.newestKnown = true
		st.slot.seen.Store(int64(st.newest) + 1)
		newest = st.newest
	})
	return newest, err
}

// pendingSnap is an immutable copy of the pending list as of version ver.
type pendingSnap struct {
	ver uint64
	e   []Entry
}

// addPending records that e's fan-out has not finished.
func (s *Service) addPending(e Entry) {
	s.pendMu.Lock()
	i, _ := slices.BinarySearchFunc(s.pending, e.ID, func(x Entry, id snowflake.ID) int { return cmpID(x.ID, id) })
	s.pending = slices.Insert(s.pending, i, e)
	s.pendVer.Add(1)
	s.pendMu.Unlock()
}

// removePending records that id's fan-out has finished.
func (s *Service) removePending(id snowflake.ID) {
	s.pendMu.Lock()
	if i, ok := slices.BinarySearchFunc(s.pending, id, func(x Entry, id snowflake.ID) int { return cmpID(x.ID, id) }); ok {
		s.pending = slices.Delete(s.pending, i, i+1)
		s.pendVer.Add(1)
	}
	s.pendMu.Unlock()
}

// queued returns the pending entries with lower < ID < top, ascending, as
// of the call: a view of an immutable snapshot, which the caller must not
// modify. Writers change the list under pendMu in O(Q) for Q pending
// posts (a memmove, mostly at its ends) and never copy it; the first read
// after a change copies it once, in O(Q) under pendMu, for every read
// until the next change. Other reads take no lock and cost O(log Q): with
// reads:posts at 50:1 and two changes per post, a backed-up queue is
// copied at most twice per post instead of at every read.
func (s *Service) queued(top, lower snowflake.ID) []Entry {
	v := s.pendVer.Load()
	snap := s.pendSnap.Load()
	if snap == nil || snap.ver != v {
		s.pendMu.Lock()
		v = s.pendVer.Load()
		if snap = s.pendSnap.Load(); snap == nil || snap.ver != v {
			snap = &pendingSnap{ver: v, e: slices.Clone(s.pending)}
			s.pendSnap.Store(snap)
		}
		s.pendMu.Unlock()
	}
	return between(snap.e, lower, top)
}

// between returns the entries of es (ascending) with lower < ID < top.
func between(es []Entry, lower, top snowflake.ID) []Entry {
	cmp := func(x Entry, id snowflake.ID) int { return cmpID(x.ID, id) }
	i, _ := slices.BinarySearchFunc(es, lower+1, cmp)
	j, _ := slices.BinarySearchFunc(es[i:], top, cmp)
	return es[i : i+j]
}

// adjustEdges applies the policy to each followee edge of user whose
// author is pushed, switching edges whose mode should change. Push to pull
// goes through pullEdge; pull to push first marks the edge Pulling (pushes
// start, reads still pull), then sets the watermark above every ID issued
// so far. It runs on a worker, at most every adjustEvery reads of user,
// and rebuilds user's plan if it switched edges to push (a switch to pull
// patches it).
func (s *Service) adjustEdges(ctx context.Context, user UserID) {
	unlock, err := s.lockEdges(ctx, user)
	if err != nil {
		return
	}
	pushed := s.switchEdges(ctx, user)
	unlock()
	if pushed {
		s.replan(ctx, user)
	}
}

// switchEdges is adjustEdges' pass over user's edges, under its edge lock.
// It reports whether it switched any to push.
func (s *Service) switchEdges(ctx context.Context, user UserID) bool {
	now := s.now()
	var rs ReaderStats
	if s.user(ctx, user, func(st *userState) {
		rs = ReaderStats{Reader: user, Followees: st.followees, ReadRate: st.readRate.at0(now, s.tau)}
	}) != nil {
		return false
	}
	edges, err := s.graph.Followees(ctx, user, nil)
	if err != nil {
		return false
	}
	var toPush []UserID
	for _, e := range edges {
		var as AuthorStats
		var pushed bool
		s.user(ctx, e.Followee, func(st *userState) {
			as, pushed = s.authorStats(e.Followee, st, now), st.authorPush
		})
		if !pushed {
			continue
		}
		rs.Pushed = e.Since != 0
		want := s.opt.Policy.PushEdge(as, rs)
		switch {
		case want && e.Since == Pulling:
			toPush = append(toPush, e.Followee)
		case want && !rs.Pushed:
			if s.graph.SetSince(ctx, user, e.Followee, Pulling) == nil {
				toPush = append(toPush, e.Followee)
			}
		case !want && rs.Pushed:
			s.pullEdge(ctx, user, e.Followee)
		}
	}
	if len(toPush) == 0 {
		return false
	}
	// Every ID issued after this point is fanned out with the edges above
	// already pushed.
	last := s.lastIssued()
	for _, a := range toPush {
		s.graph.SetSince(ctx, user, a, last+1)
	}
	s.changed(ctx, user)
	return true
}

// recentKept is how many of an author's newest post IDs the Service keeps
// in memory: enough for a first page's first fetch from a pulled author
// (8) and the next, without a store descent.
const recentKept = 16

// recentPosts are an author's newest post IDs, immutable once published
// through authorSlot.recent: every post of the author with an ID >= from
// published through this Service is in ids() (ascending), deleted or not.
// The IDs are inline, so that a read reaches them in one step from the
// slot.
type recentPosts struct {
	from snowflake.ID
	n    int
	buf  [recentKept]snowflake.ID
}

func (rp *recentPosts) ids() []snowflake.ID { return rp.buf[:rp.n] }

// with returns a copy of rp with id added. newest is the author's newest
// known post before id: a new list starts above the posts stored before
// this Service. Callers hold the author's stripe lock.
func (rp *recentPosts) with(id, newest snowflake.ID) *recentPosts {
	n := &recentPosts{from: newest + 1}
	var tmp [recentKept + 1]snowflake.ID
	ids := tmp[:0]
	if rp != nil {
		n.from = rp.from
		ids = append(ids, rp.ids()...)
	}
	i, _ := slices.BinarySearch(ids, id)
	ids = slices.Insert(ids, i, id)
	if len(ids) > recentKept {
		ids = ids[1:]
		n.from = max(n.from, ids[0])
	}
	n.n = copy(n.buf[:], ids)
	return n
}

// before appends to dst, newest first, up to limit entries of author's
// posts with from <= ID < bound, and returns the bound of the next fetch:
// the last ID appended if limit were reached, else from (older posts are
// in the store only).
func (rp *recentPosts) before(bound snowflake.ID, limit int, dst []Entry, author UserID) ([]Entry, snowflake.ID) {
	ids := rp.ids()
	i, _ := slices.BinarySearch(ids, bound)
	for i--; i >= 0 && ids[i] >= rp.from; i-- {
		if limit == 0 {
			return dst, dst[len(dst)-1].ID
		}
		dst = append(dst, Entry{ID: ids[i], Author: author})
		limit--
	}
	return dst, rp.from
}
