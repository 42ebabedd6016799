package fanout

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"math"
	"slices"

	"github.com/blueprint-go/blueprint/snowflake"
)

// MaxLimit is the largest page a read returns.
const MaxLimit = 200

// A Page is one read of a home timeline, newest post first.
type Page struct {
	Posts []Post
	// Next is the cursor of the following (older) page, or "" at the end.
	Next string
	// More reports, for Refresh, that newer posts than the page holds
	// exist: call Refresh again from the newest post of this page.
	More bool
	// Partial reports that the reader's pushed timeline is being rebuilt:
	// after inactivity, on the reader's first reads (a reader the Service
	// has not served before starts dormant, and its first read or follow
	// starts a rebuild; a reader with nothing at all to read gets an empty
	// page that is not Partial, see Service.Timeline) and after a store
	// error kept the fan-out from its timeline. The page is complete, but
	// was served by pulling.
	Partial bool
	// Scanned counts the entries the merge examined.
	Scanned int
}

const cursorVersion = 1

// encodeCursor returns the opaque cursor for "posts older than id".
func encodeCursor(id snowflake.ID) string {
	var b [9]byte
	b[0] = cursorVersion
	binary.BigEndian.PutUint64(b[1:], uint64(id))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// decodeCursor parses a cursor; "" means the top of the timeline.
func decodeCursor(c string) (snowflake.ID, error) {
	if c == "" {
		return Pulling, nil
	}
	if len(c) != 12 {
		return 0, ErrBadCursor
	}
	var b [9]byte
	if n, err := base64.RawURLEncoding.Decode(b[:], []byte(c)); err != nil || n != 9 || b[0] != cursorVersion {
		return 0, ErrBadCursor
	}
	id := snowflake.ID(binary.BigEndian.Uint64(b[1:]))
	if id <= 0 || id == Pulling {
		return 0, ErrBadCursor
	}
	return id, nil
}

// Timeline returns up to limit posts of user's home timeline older than
// cursor ("" for the newest), newest first: user's own posts and those of
// the accounts it follows, merged from its pushed timeline, the pulled
// authors' recent posts and the fan-out queue, without duplicates. Deleted
// posts, unfollowed, muted and blocked authors are left out at once, and so
// are reposts of posts by muted or blocked authors, reposts of deleted
// posts, and reposts whose reposter and original author are blocked either
// way (see Service.Block).
//
// Paging with Page.Next never repeats a post and never skips one that
// existed during the whole paging, whatever is posted, deleted or followed
// between pages, and goes back past the timeline's cap by pulling.
//
// A read of a user the Service holds no state for who follows no one and
// has no posts and no stored timeline (a user ID that does not exist, or
// a new account) returns an empty page and leaves nothing behind: it
// costs three store reads (Graph.Counts, Timelines.Range, Posts.Recent)
// and is not recorded as activity, nor in PerPair's read rate. Any other
// read makes the user's state (about 330 bytes), which the Service keeps for
// its lifetime, as it does for every user that follows, posts, mutes or
// blocks, or is followed or blocked.
func (s *Service) Timeline(ctx context.Context, user UserID, cursor string, limit int) (Page, error) {
	var dst []Post
	if limit > 0 && limit <= MaxLimit {
		dst = make([]Post, 0, limit)
	}
	return s.AppendTimeline(ctx, dst, user, cursor, limit)
}

// AppendTimeline is Timeline with the page's posts appended to dst:
// Page.Posts is dst followed by them, and Page.Next follows the last. A
// caller that recycles its pages (AppendTimeline(ctx, pg.Posts[:0], ...))
// reads a first page with one small allocation, its cursor, where
// Timeline allocates the page too (about 1 KB for 20 posts): on 2 cores
// that garbage costs the reads their share of the collector's work and,
// while the heap grows, page faults on fresh memory: in the simulator at
// 30k users about a quarter of the first pages took a fault, and the one
// in twelve that took two (a fresh span) had a median of 20 µs instead of
// 9.
func (s *Service) AppendTimeline(ctx context.Context, dst []Post, user UserID, cursor string, limit int) (Page, error) {
	before, err := decodeCursor(cursor)
	if err != nil {
		return Page{}, err
	}
	if limit <= 0 || limit > MaxLimit {
		return Page{}, ErrInvalidLimit
	}
	pg := Page{Posts: dst}
	n := 0
	err = s.read(ctx, user, before, 0, limit, &pg, func(p Post) bool {
		pg.Posts = append(pg.Posts, p)
		n++
		return n < limit
	})
	if err != nil {
		return Page{}, err
	}
	if n == limit {
		pg.Next = encodeCursor(pg.Posts[len(pg.Posts)-1].ID)
	}
	return pg, nil
}

// Refresh returns the posts of user's home timeline newer than since (the
// newest post a client holds), newest first: the limit posts right above
// since, so that nothing between is skipped. If there are more, Page.More is
// set; call Refresh again from the page's first post.
//
// Refresh merges from the top of the timeline down to since, because every
// source is read newest first: it costs O(n) for the n visible posts above
// since, whatever the limit (Page.Scanned shows it; about 3760 entries for
// 3000 posts above since=0), and catching up a gap of n posts through More
// in pages of limit costs O(n²/limit). It suits clients that are a few pages
// behind; one that is far behind (More on a full page) should drop since
// and page down from the top with Timeline, at O(limit) a page.
func (s *Service) Refresh(ctx context.Context, user UserID, since snowflake.ID, limit int) (Page, error) {
	if since < 0 || since >= Pulling {
		return Page{}, ErrBadCursor
	}
	if limit <= 0 || limit > MaxLimit {
		return Page{}, ErrInvalidLimit
	}
	var pg Page
	var ring []Post
	n := 0
	err := s.read(ctx, user, Pulling, since, 0, &pg, func(p Post) bool {
		if len(ring) < limit {
			ring = append(ring, p)
		} else {
			ring[n%limit] = p
		}
		n++
		return true
	})
	if err != nil {
		return Page{}, err
	}
	if n > limit {
		pg.More = true
		k := n % limit
		ring = append(ring[k:], ring[:k]...)
	}
	pg.Posts = ring
	return pg, nil
}

// A src is one descending stream of entries: the pushed timeline, one pulled
// author, or the fan-out queue.
type src struct {
	buf    []Entry
	i      int
	bound  snowflake.ID // the next fetch reads IDs < bound
	kind   uint8
	author UserID
	slot   *authorSlot // the pulled author's slot, if known: its recent posts
	end    bool        // nothing left after buf
	chunk  int         // size of the next fetch
	// raw holds the queue's entries not yet filtered, ascending, taken
	// from the end: a view of the pending snapshot, never written.
	raw []Entry
}

// queueChunk is how many of the reader's entries a fetch from the fan-out
// queue filters out of it at most.
const queueChunk = 16

const (
	srcTimeline uint8 = iota
	srcPull
	srcQueue
)

// recent returns the author's recent posts if they serve x's next fetch.
func (x *src) recent() *recentPosts {
	if x.slot == nil {
		return nil
	}
	if rp := x.slot.recent.Load(); rp != nil && x.bound > rp.from {
		return rp
	}
	return nil
}

func (x *src) key() snowflake.ID {
	if x.i < len(x.buf) {
		return x.buf[x.i].ID
	}
	return x.bound - 1
}

// srcHeap is a max-heap of sources by key; at equal keys a source with
// buffered entries comes first, so a fetch never passes an entry waiting
// elsewhere.
type srcHeap []*src

func (h srcHeap) less(i, j int) bool {
	ki, kj := h[i].key(), h[j].key()
	if ki != kj {
		return ki > kj
	}
	return h[i].i < len(h[i].buf) && h[j].i >= len(h[j].buf)
}

func (h srcHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (h srcHeap) down(i int) {
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && h.less(c+1, c) {
			c++
		}
		if !h.less(c, i) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

func (h *srcHeap) push(x *src) {
	*h = append(*h, x)
	h.up(len(*h) - 1)
}

func (h *srcHeap) pop() {
	old := *h
	old[0] = old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	h.down(0)
}

// getBufs returns a recycled readBufs; put it back in s.bufs when done.
func (s *Service) getBufs() *readBufs {
	if b, _ := s.bufs.Get().(*readBufs); b != nil {
		return b
	}
	return new(readBufs)
}

// readBufs are the per-read buffers a Service recycles.
type readBufs struct {
	// fresh says that the read began before the Service issued its first
	// ID: it leaves out the posts from that ID on (see Service.stable).
	// shown is the highest post ID Service.showFresh noted for it.
	fresh bool
	shown snowflake.ID

	edges []Edge
	qf    []Entry // the queue source's filtered chunk
	pulls []src
	heap  srcHeap
	lazy  lazyHeap
	cold  []lazySrc
	tlSrc src
	qSrc  src

	seen    []int64 // the pulled followees' slots
	tl      []Entry // the first chunk of the pushed timeline
	arena   []Entry // first fetches of the pull sources
	cand    []Entry
	fromTL  []bool
	deleted []snowflake.ID // entries of deleted posts
	gone    []snowflake.ID // entries of authors the reader unfollowed
	ids     []snowflake.ID
	origIDs []snowflake.ID
	scratch []snowflake.ID
	posts   []Post
	origs   []Post
}

// A lazySrc is a pull source that starts below the merge's current
// position: it enters the merge heap only when the merge reaches bound.
type lazySrc struct {
	bound  snowflake.ID
	author UserID
	slot   *authorSlot // may be nil
}

// lazyHeap is a max-heap of lazySrc by bound, so that a page that stops
// early pays O(n) to build it and O(log n) only per source it reaches.
type lazyHeap []lazySrc

func (l lazyHeap) init() {
	for i := len(l)/2 - 1; i >= 0; i-- {
		l.down(i)
	}
}

func (l lazyHeap) down(i int) {
	for {
		c := 2*i + 1
		if c >= len(l) {
			return
		}
		if c+1 < len(l) && l[c+1].bound > l[c].bound {
			c++
		}
		if l[c].bound <= l[i].bound {
			return
		}
		l[i], l[c] = l[c], l[i]
		i = c
	}
}

func (l *lazyHeap) push(x lazySrc) {
	*l = append(*l, x)
	h := *l
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if h[p].bound >= h[i].bound {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (l *lazyHeap) pop() lazySrc {
	old := *l
	top := old[0]
	old[0] = old[len(old)-1]
	*l = old[:len(old)-1]
	l.down(0)
	return top
}

// read streams user's visible posts with lower < ID < before, newest first,
// to yield until it returns false. If need is positive, yield returns false
// at the need-th post at the latest: the merge looks up no more posts than
// that can take.
func (s *Service) read(ctx context.Context, user UserID, before, lower snowflake.ID, need int, pg *Page, yield func(Post) bool) error {
	if user <= 0 {
		return ErrInvalidUser
	}
	stable, fresh := s.stable()
	top := min(before, stable+1)
	bufs := s.getBufs()
	defer s.bufs.Put(bufs)
	bufs.fresh, bufs.shown = fresh, 0
	// The fan-out queue is read before the plan is checked: a post that
	// left the queue before this point reached the reader's timeline, or
	// the reader's plan changed (and is rebuilt below) before it left.
	queued := s.queued(top, lower)
	rs, err := s.touch(ctx, user, true)
	if err == errNothing {
		// No state, no followees, no posts, no timeline: an empty page.
		// A post of user's own below top was published through this
		// Service, which made the state before taking its ID, and
		// without followees no one else's post is user's to read.
		return nil
	}
	if err != nil {
		return err
	}
	pg.Partial = rs.rebuilding
	plan := rs.plan
	if plan == nil {
		if plan, err = s.buildPlan(ctx, user, &rs, bufs); err != nil {
			return err
		}
	}
	if rs.newest == Pulling-1 {
		if rs.newest, err = s.loadNewest(ctx, user); err != nil {
			return err
		}
	}
	pullAll := false
	bufs.deleted, bufs.gone = bufs.deleted[:0], bufs.gone[:0]
	for attempt := 0; ; attempt++ {
		next, err := s.merge(ctx, bufs, user, top, lower, rs.floor, pullAll, plan, rs.self.slot, rs.newest, queued, &need, pg, yield)
		if err != nil || next == 0 {
			if len(bufs.deleted) > 0 || len(bufs.gone) > 0 {
				if rerr := s.dropEntries(ctx, user, rs.self, rs.planVer, bufs); err == nil {
					err = rerr
				}
			}
			return err
		}
		// The cap trimmed the timeline under this read. Before anything
		// was yielded, start over (pulling everything from the second
		// time); after, go on below the last entry taken, pulling.
		if next != top {
			top, pullAll = next, true
		} else {
			pullAll = attempt > 0
		}
	}
}

// merge runs one k-way merge from top down. It returns 0 when done, or the
// top from which to merge again, pulling, if the timeline's horizon moved.
// *need, if positive, is how many more posts yield takes at most; merge
// counts it down.
func (s *Service) merge(ctx context.Context, b *readBufs, user UserID, top, lower, floor snowflake.ID, pullAll bool,
	plan *readPlan, self *authorSlot, selfNewest snowflake.ID, queued []Entry, need *int, pg *Page, yield func(Post) bool) (next snowflake.ID, err error) {
	const chunk = 32
	tl := &b.tlSrc
	*tl = src{kind: srcTimeline}
	var horizon snowflake.ID
	tl.buf, horizon, err = s.fetchTimeline(ctx, user, top, chunk, b.tl[:0])
	b.tl = tl.buf[:0]
	if err != nil {
		return 0, err
	}
	tl.bound = top
	if len(tl.buf) < chunk {
		tl.end = true
	} else {
		tl.bound = tl.buf[len(tl.buf)-1].ID
	}
	// Below deep, the pushed timeline may miss posts (the reader's floor,
	// the cap's horizon): every pushed followee is pulled from there.
	deep := max(floor, horizon, 1)
	if pullAll {
		deep = top
	}
	deep = min(deep, top)

	// All pull sources live in one slice, their fetches in one arena: each
	// fetch of up to 64 entries takes a slot, larger ones (long scans) get
	// a buffer of their own. The arena is recycled: one that fills up is
	// replaced by a larger one (earlier slots keep the old one alive until
	// the read ends), which the next read reuses, so that a first page
	// allocates nothing but the page.
	pulls := slices.Grow(b.pulls[:0], len(plan.pulled)+8)
	arena := b.arena[:0]
	h := &b.heap
	*h = (*h)[:0]
	lazy, cold := b.lazy[:0], b.cold[:0]
	defer func() {
		clear(pulls)
		b.pulls, b.lazy, b.cold = pulls[:0], lazy[:0], cold[:0]
		clear(*h)
		*h = (*h)[:0]
		b.tlSrc, b.qSrc = src{}, src{}
	}()
	slot := func(n int) []Entry {
		if n > 64 {
			return make([]Entry, 0, n)
		}
		if len(arena)+n > cap(arena) {
			arena = make([]Entry, 0, max(64*8, 2*cap(arena), 2*n))
			b.arena = arena
		}
		buf := arena[len(arena) : len(arena) : len(arena)+n]
		arena = arena[:len(arena)+n]
		return buf
	}
	newPull := func(l lazySrc) *src {
		if len(pulls) == cap(pulls) {
			// The heap points into pulls: never move it.
			pulls = make([]src, 0, 2*cap(pulls))
		}
		pulls = append(pulls, src{kind: srcPull, author: l.author, slot: l.slot, bound: l.bound, chunk: 8, buf: slot(8)})
		return &pulls[len(pulls)-1]
	}
	if len(tl.buf) > 0 {
		h.push(tl)
	}
	if qs := between(queued, lower, top); len(qs) > 0 {
		// The queue source filters the queue on demand (see its fetch).
		if cap(b.qf) < queueChunk {
			b.qf = make([]Entry, 0, queueChunk)
		}
		b.qSrc = src{kind: srcQueue, raw: qs, buf: b.qf[:0], bound: top}
		h.push(&b.qSrc)
	}
	// Every pull source waits in the lazy heap until the merge reaches its
	// bound, and starts no higher than right above its author's newest
	// post, so that followees who posted nothing in range cost no
	// descent. Pushed followees with a watermark above deep (marked, by
	// watermark) join when the merge reaches their watermark, the others
	// all at once when it reaches deep: a first page above deep touches
	// none of them.
	//
	// A pulled followee whose newest post is below the timeline's first
	// chunk waits in cold, outside the heap, until the merge gets there:
	// a first page seldom does, and most of a reader's pulled followees
	// (hundreds for one who follows a thousand under PerPair) have
	// nothing newer, so the page does not pay to order them: 9 rather
	// than 13 ns per such followee (BenchmarkPullCost/pulled-idle).
	cut := snowflake.ID(0)
	if !tl.end {
		cut = tl.bound
	}
	addLazy := func(author UserID, as *authorSlot, bound, newest snowflake.ID) {
		if bound = min(bound, newest+1); bound > lower+1 {
			l := lazySrc{bound: bound, author: author, slot: as}
			if bound-1 < cut {
				cold = append(cold, l)
			} else {
				lazy = append(lazy, l)
			}
		}
	}
	addLazy(user, self, top, selfNewest)
	// The pulled followees' slots are loaded in a loop of their own, so
	// that their cache misses overlap (a reader of 120 celebrities has
	// 120 of them, scattered over the dense table), and used after.
	seen := slices.Grow(b.seen[:0], len(plan.pulled))[:len(plan.pulled)]
	for i, r := range plan.pulled {
		seen[i] = r.slot.seen.Load()
	}
	for i, r := range plan.pulled {
		n, err := s.newestSeen(ctx, r.id, seen[i])
		if err != nil {
			return 0, err
		}
		addLazy(r.id, r.slot, top, n)
	}
	b.seen = seen[:0]
	lazy.init()
	marked := plan.marked
	groupDone := deep <= lower+1
	// activate lets in the sources whose range the merge has reached: the
	// cases below, tried in turn while one applies. When none does, it
	// sets gate to the highest heap key at which one would, so that the
	// merge calls it again only there: most of a page's steps pass no
	// source's bound.
	gate := snowflake.ID(math.MaxInt64)
	activate := func() error {
		for {
			hk := snowflake.ID(-1)
			if len(*h) > 0 {
				hk = (*h)[0].key()
			}
			switch {
			case len(cold) > 0 && hk < cut:
				// The merge reached the cold sources' range.
				lazy = append(lazy, cold...)
				lazy.init()
				cold = cold[:0]
			case len(marked) > 0 && marked[0].w > deep && min(top, marked[0].w)-1 >= hk:
				r := marked[0]
				marked = marked[1:]
				n, err := s.refNewest(ctx, r)
				if err != nil {
					return err
				}
				if bound := min(top, r.w, n+1); bound > lower+1 {
					lazy.push(lazySrc{bound: bound, author: r.id, slot: r.slot})
				}
			case !groupDone && deep-1 >= hk:
				// The group: every pushed followee with a watermark at or
				// below deep, marked or not. (Marked ones above deep have
				// joined by now: the case above comes first.)
				groupDone = true
				for _, r := range marked {
					n, err := s.refNewest(ctx, r)
					if err != nil {
						return err
					}
					if bound := min(deep, n+1); bound > lower+1 {
						lazy.push(lazySrc{bound: bound, author: r.id, slot: r.slot})
					}
				}
				marked = nil
				for i, a := range plan.ids {
					if plan.listed[i/64]&(1<<(i%64)) != 0 {
						continue
					}
					n, err := s.newestOf(ctx, a)
					if err != nil {
						return err
					}
					if bound := min(deep, n+1); bound > lower+1 {
						lazy.push(lazySrc{bound: bound, author: a})
					}
				}
			case len(lazy) > 0 && lazy[0].bound-1 >= hk:
				l := lazy.pop()
				h.push(newPull(l))
			default:
				// Nothing joins until the merge falls to gate.
				gate = math.MinInt64
				if len(cold) > 0 {
					gate = max(gate, cut-1)
				}
				if len(marked) > 0 && marked[0].w > deep {
					gate = max(gate, min(top, marked[0].w)-1)
				}
				if !groupDone {
					gate = max(gate, deep-1)
				}
				if len(lazy) > 0 {
					gate = max(gate, lazy[0].bound-1)
				}
				return nil
			}
		}
	}

	var (
		last    snowflake.ID
		cand    = b.cand[:0]
		fromTL  = b.fromTL[:0]
		posts   = b.posts[:0]
		origIDs = b.origIDs[:0]
		origs   = b.origs[:0]
		yielded bool
		stop    bool
		scratch = b.scratch[:0]
		ids     = b.ids[:0]
	)
	defer func() {
		b.cand, b.fromTL, b.ids = cand[:0], fromTL[:0], ids[:0]
		b.posts, b.origs = posts[:0], origs[:0]
		b.origIDs, b.scratch = origIDs[:0], scratch[:0]
	}()
	flush := func() error {
		ids = ids[:0]
		for _, c := range cand {
			ids = append(ids, c.ID)
		}
		posts, err = s.posts.GetMany(ctx, ids, posts[:0])
		if err != nil {
			return err
		}
		origIDs = origIDs[:0]
		for _, p := range posts {
			if p.RepostOf != 0 {
				origIDs = append(origIDs, p.RepostOf)
			}
		}
		if len(origIDs) > 0 {
			if origs, err = s.posts.GetMany(ctx, origIDs, origs[:0]); err != nil {
				return err
			}
		}
		j := 0
		for i, c := range cand {
			if j >= len(posts) || posts[j].ID != c.ID {
				if fromTL[i] {
					b.deleted = append(b.deleted, c.ID) // see dropEntries
				}
				continue
			}
			p := posts[j]
			j++
			if b.fresh && p.ID > b.shown {
				if !s.showFresh(p.ID) {
					continue
				}
				b.shown = p.ID
			}
			if p.RepostOf != 0 && !s.showRepost(p, origs, user, plan) {
				continue
			}
			yielded = true
			*need--
			if !yield(p) {
				stop = true
				return nil
			}
		}
		cand, fromTL = cand[:0], fromTL[:0]
		return nil
	}
	// The posts are looked up a batch of candidates at a time: for a page
	// (need known), as many as it still takes, which each candidate will
	// fill unless it turns out deleted or hidden; else 8, 16, ... 64.
	want := 8
	if *need > 0 {
		want = *need
	}
	for !stop {
		if len(*h) == 0 || (*h)[0].key() <= gate {
			if err := activate(); err != nil {
				return 0, err
			}
		}
		if len(*h) == 0 {
			break
		}
		x := (*h)[0]
		if x.i >= len(x.buf) {
			if x.end {
				h.pop()
				continue
			}
			// Fetch the next chunk of x.
			var hz snowflake.ID
			switch x.kind {
			case srcTimeline:
				x.buf, hz, err = s.fetchTimeline(ctx, user, x.bound, chunk, x.buf[:0])
				if err == nil && hz > horizon {
					if !yielded {
						return top, nil
					}
					// Entries between the old and new horizon may be
					// gone: go on below the last entry taken, pulling.
					if err := flush(); err != nil || stop {
						return 0, err
					}
					return last, nil
				}
			case srcQueue:
				// The queue holds every author's posts whose fan-out has
				// not finished (under push, hundreds when it backs up):
				// it is filtered to the reader's followees a chunk at a
				// time, so a page that ends above most of it never looks
				// at the rest.
				x.buf, x.i = x.buf[:0], 0
				for len(x.raw) > 0 && len(x.buf) < queueChunk {
					e := x.raw[len(x.raw)-1]
					x.raw, x.bound = x.raw[:len(x.raw)-1], e.ID
					if plan.follows(user, e.Author) {
						x.buf = append(x.buf, e)
					}
				}
				x.end = len(x.raw) == 0
				h.down(0)
				continue
			case srcPull:
				if cap(x.buf) < x.chunk {
					x.buf = slot(x.chunk)
				}
				if rp := x.recent(); rp != nil {
					// Served from the author's recent posts in memory.
					x.buf, x.bound = rp.before(x.bound, x.chunk, x.buf[:0], x.author)
					x.i = 0
					h.down(0)
					continue
				}
				x.buf, scratch, err = s.fetchPull(ctx, x.author, x.bound, x.chunk, x.buf[:0], scratch)
			}
			if err != nil {
				return 0, err
			}
			x.i = 0
			n := chunk
			if x.kind == srcPull {
				n = x.chunk
				x.chunk = min(x.chunk*2, 256)
			}
			if len(x.buf) < n {
				x.end = len(x.raw) == 0
			} else {
				x.bound = x.buf[len(x.buf)-1].ID
			}
			h.down(0)
			continue
		}
		e := x.buf[x.i]
		x.i++
		h.down(0)
		if e.ID <= lower {
			break
		}
		pg.Scanned++
		if e.ID == last {
			continue
		}
		last = e.ID
		// Pull sources are the plan's followees (or the reader), and the
		// queue source filters itself: only the pushed timeline may hold
		// an author the reader no longer follows, and only one it
		// unfollowed.
		if x.kind == srcTimeline && plan.gone.check(e) && !plan.follows(user, e.Author) {
			b.gone = append(b.gone, e.ID) // unfollowed: see dropEntries
			continue
		}
		if plan.rel != nil && plan.rel[e.Author] != 0 {
			continue
		}
		cand = append(cand, e)
		fromTL = append(fromTL, x.kind == srcTimeline)
		if len(cand) >= want {
			if err := flush(); err != nil {
				return 0, err
			}
			if *need > 0 {
				want = *need
			} else {
				want = min(want*2, 64)
			}
		}
	}
	if !stop && len(cand) > 0 {
		if err := flush(); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// dropEntries removes from user's timeline (user's state is st) the
// entries a read found in it of deleted posts (b.deleted) and, where it
// may, of authors user no longer follows (b.gone), with one
// Timelines.Remove.
//
// The read's plan was current at version planVer when it found b.gone,
// which are removed unless user followed again since: a
// Follow (which holds the edge lock across its graph write and its
// backfill, and changes planVer before the write) or a rebuild after it
// may have counted on those entries being held, having found them there,
// and fixed the edge's watermark (or lowered the floor) above them
// accordingly; removing them then would lose them for good. So the check
// and the removal run under user's edge lock, and any change of planVer
// since the plan skips the removal (entries an unfollow left stay hidden
// by the read's filter, and a later read drops them, or the cap trims
// them). If the edge lock is taken (a Follow's backfill, a pass over the
// user's edges), the removal is skipped the same way rather than make
// the read wait for store calls that are not its own.
func (s *Service) dropEntries(ctx context.Context, user UserID, st *userState, planVer uint64, b *readBufs) error {
	ids := b.deleted
	if len(b.gone) > 0 && st.edgeMu.TryLock() {
		defer st.edgeMu.Unlock()
		us := &s.users[stripeOf(int64(user))]
		us.mu.Lock()
		same := st.planVer == planVer
		us.mu.Unlock()
		if same {
			ids = append(ids, b.gone...)
			b.deleted = ids[:0] // keep the larger buffer
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return s.timelines.Remove(ctx, user, ids...)
}

func cmpID(a, b snowflake.ID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Service) fetchTimeline(ctx context.Context, user UserID, before snowflake.ID, n int, dst []Entry) ([]Entry, snowflake.ID, error) {
	return s.timelines.Range(ctx, user, before, n, dst)
}

func (s *Service) fetchPull(ctx context.Context, author UserID, before snowflake.ID, n int, dst []Entry, scratch []snowflake.ID) ([]Entry, []snowflake.ID, error) {
	ids, err := s.posts.Recent(ctx, author, before, n, scratch[:0])
	for _, id := range ids {
		dst = append(dst, Entry{ID: id, Author: author})
	}
	return dst, ids, err
}

// showRepost reports whether repost p is shown: not if its original is gone
// or by an author the reader muted or is blocked with, nor if the reposter
// and the original's author are blocked either way (this costs a look at
// the reposter's state, under its stripe lock), nor if the reader already
// sees the original, posted at most RepostWindow before the repost.
func (s *Service) showRepost(p Post, origs []Post, user UserID, plan *readPlan) bool {
	i := slices.IndexFunc(origs, func(o Post) bool { return o.ID == p.RepostOf })
	if i < 0 {
		return false
	}
	o := origs[i]
	if plan.rel[o.Author] != 0 || s.hasRel(p.Author, o.Author, relBlocked|relBlockedBy) {
		return false
	}
	if s.opt.RepostWindow < 0 || !plan.follows(user, o.Author) {
		return true
	}
	age := s.layout.Decompose(p.ID).Time.Sub(s.layout.Decompose(o.ID).Time)
	return age > s.opt.RepostWindow
}
