package fanout

import (
	"container/heap"
	"context"
	"encoding/base64"
	"encoding/binary"
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
	// Partial reports that the reader's pushed timeline is being rebuilt
	// after inactivity: the page is complete, but was served by pulling.
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
// posts, unfollowed, muted and blocked authors are left out at once.
//
// Paging with Page.Next never repeats a post and never skips one that
// existed during the whole paging, whatever is posted, deleted or followed
// between pages, and goes back past the timeline's cap by pulling.
func (s *Service) Timeline(ctx context.Context, user UserID, cursor string, limit int) (Page, error) {
	before, err := decodeCursor(cursor)
	if err != nil {
		return Page{}, err
	}
	if limit <= 0 || limit > MaxLimit {
		return Page{}, ErrInvalidLimit
	}
	pg := Page{Posts: make([]Post, 0, limit)}
	err = s.read(ctx, user, before, 0, &pg, func(p Post) bool {
		pg.Posts = append(pg.Posts, p)
		return len(pg.Posts) < limit
	})
	if err != nil {
		return Page{}, err
	}
	if len(pg.Posts) == limit {
		pg.Next = encodeCursor(pg.Posts[limit-1].ID)
	}
	return pg, nil
}

// Refresh returns the posts of user's home timeline newer than since (the
// newest post a client holds), newest first: the limit posts right above
// since, so that nothing between is skipped. If there are more, Page.More is
// set; call Refresh again from the page's first post.
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
	err := s.read(ctx, user, Pulling, since, &pg, func(p Post) bool {
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
	end    bool // nothing left after buf
	chunk  int  // size of the next fetch
}

const (
	srcTimeline uint8 = iota
	srcPull
	srcQueue
)

func (x *src) key() snowflake.ID {
	if x.i < len(x.buf) {
		return x.buf[x.i].ID
	}
	return x.bound - 1
}

type srcHeap []*src

func (h srcHeap) Len() int { return len(h) }
func (h srcHeap) Less(i, j int) bool {
	ki, kj := h[i].key(), h[j].key()
	if ki != kj {
		return ki > kj
	}
	return h[i].i < len(h[i].buf) && h[j].i >= len(h[j].buf)
}
func (h srcHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *srcHeap) Push(x any)   { *h = append(*h, x.(*src)) }
func (h *srcHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// readBufs are the per-read buffers a Service recycles.
type readBufs struct {
	edges []Edge
	views []edgeView
	pulls []src
	lazy  lazyHeap
	load  []int // indexes of views whose newest post is not known yet

	tl      []Entry // the first chunk of the pushed timeline
	arena   []Entry // first fetches of the pull sources
	cand    []Entry
	fromTL  []bool
	ids     []snowflake.ID
	origIDs []snowflake.ID
	scratch []snowflake.ID
	posts   []Post
	origs   []Post
}

// edgeView is a followee as one read sees it.
type edgeView struct {
	edge   Edge
	author AuthorStats
	since  snowflake.ID // author's watermark, Pulling if pulled
	newest snowflake.ID // no post of the author has a higher ID
	pushed bool         // the author's mode
}

// A lazySrc is a pull source that starts below the merge's current
// position: it enters the merge heap only when the merge reaches bound.
type lazySrc struct {
	bound  snowflake.ID
	author UserID
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

func (l *lazyHeap) pop() lazySrc {
	old := *l
	top := old[0]
	old[0] = old[len(old)-1]
	*l = old[:len(old)-1]
	l.down(0)
	return top
}

// read streams user's visible posts with lower < ID < before, newest first,
// to yield until it returns false.
func (s *Service) read(ctx context.Context, user UserID, before, lower snowflake.ID, pg *Page, yield func(Post) bool) error {
	if user <= 0 {
		return ErrInvalidUser
	}
	top := min(before, s.stable()+1)
	floor, rebuilding, nFollowees, readRate, rel, adjust, err := s.touch(ctx, user, true)
	if err != nil {
		return err
	}
	pg.Partial = rebuilding
	bufs, _ := s.bufs.Get().(*readBufs)
	if bufs == nil {
		bufs = new(readBufs)
	}
	defer s.bufs.Put(bufs)
	edges, err := s.graph.Followees(ctx, user, bufs.edges[:0])
	bufs.edges = edges
	if err != nil {
		return err
	}
	now := s.now()
	views := slices.Grow(bufs.views[:0], len(edges))[:len(edges)]
	bufs.views = views
	var queued []Entry
	load := bufs.load[:0]
	for i, e := range edges {
		v := &views[i]
		v.edge = e
		s.user(ctx, e.Followee, func(st *userState) {
			if adjust {
				v.author = s.authorStats(e.Followee, st, now)
			}
			v.newest = st.newest
			if !st.newestKnown {
				v.newest = Pulling - 1
				load = append(load, i)
			}
			v.pushed = st.authorPush
			v.since = Pulling
			if st.authorPush {
				v.since = st.authorSince
				for _, id := range st.pending {
					if id < top && id > lower {
						queued = append(queued, Entry{ID: id, Author: e.Followee})
					}
				}
			}
		})
	}
	bufs.load = load
	for _, i := range load {
		if err := s.loadNewest(ctx, &views[i]); err != nil {
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		retry, err := s.merge(ctx, bufs, user, top, lower, floor, attempt > 1, views, queued, rel, pg, yield)
		if err != nil || !retry {
			break
		}
		// The cap trimmed the timeline under us: start over (only possible
		// before anything was yielded).
	}
	if adjust {
		s.adjustEdges(ctx, user, views, nFollowees, readRate)
	}
	return err
}

// loadNewest reads the newest post ID of v's author from the store, once
// per author and Service: later posts raise it in Publish.
func (s *Service) loadNewest(ctx context.Context, v *edgeView) error {
	var buf [1]snowflake.ID
	ids, err := s.posts.Recent(ctx, v.edge.Followee, Pulling, 1, buf[:0])
	if err != nil {
		return err
	}
	var newest snowflake.ID
	if len(ids) > 0 {
		newest = ids[0]
	}
	// A post published meanwhile raised st.newest itself (after storing
	// it, before it became readable), so the maximum is an upper bound.
	return s.user(ctx, v.edge.Followee, func(st *userState) {
		st.newest = max(st.newest, newest)
		st.newestKnown = true
		v.newest = st.newest
	})
}

// merge runs one k-way merge. It reports retry if the timeline's horizon
// moved before anything was yielded.
func (s *Service) merge(ctx context.Context, bufs *readBufs, user UserID, top, lower, floor snowflake.ID, pullAll bool,
	views []edgeView, queued []Entry, rel map[UserID]uint8, pg *Page, yield func(Post) bool) (retry bool, err error) {
	chunk := 32
	tl := &src{kind: srcTimeline, bound: top}
	tl.buf, tl.bound, err = s.fetchTimeline(ctx, user, top, chunk, bufs.tl[:0])
	if err != nil {
		return false, err
	}
	horizon := tl.bound
	tl.bound = top
	if len(tl.buf) < chunk {
		tl.end = true
	} else {
		tl.bound = tl.buf[len(tl.buf)-1].ID
	}
	if pullAll {
		floor = top
	}
	// All pull sources live in one slice, their first fetches in one arena.
	pulls := slices.Grow(bufs.pulls[:0], len(views)+1)
	defer func() { bufs.pulls = pulls[:0] }()
	// The arena is recycled: a source whose fetches outgrow its slot gets
	// a buffer of its own, and an arena that fills up is replaced by a
	// larger one (earlier slots keep the old one alive until the read
	// ends), which the next read reuses.
	arena := bufs.arena[:0]
	newPull := func(author UserID, bound snowflake.ID) *src {
		if len(arena)+8 > cap(arena) {
			arena = make([]Entry, 0, max(8*8, 2*cap(arena)))
			bufs.arena = arena
		}
		pulls = append(pulls, src{kind: srcPull, author: author, bound: bound, buf: arena[len(arena) : len(arena) : len(arena)+8]})
		arena = arena[:len(arena)+8]
		return &pulls[len(pulls)-1]
	}
	h := make(srcHeap, 0, 8)
	if len(tl.buf) > 0 {
		h = append(h, tl)
	}
	if len(queued) > 0 {
		q := slices.Clone(queued)
		slices.SortFunc(q, func(a, b Entry) int { return cmpID(b.ID, a.ID) })
		h = append(h, &src{kind: srcQueue, buf: q, end: true})
	}
	// Pull sources below the top wait in the lazy heap until the merge
	// reaches their bound: a first page above the horizon touches none of
	// the pushed followees. An author's pull starts no higher than right
	// above its newest post, so followees who posted nothing in range cost
	// no descent.
	lazy := bufs.lazy[:0]
	defer func() { bufs.lazy = lazy[:0] }()
	h = append(h, newPull(user, top))
	for _, v := range views {
		bound := top
		if v.edge.Since != 0 && v.edge.Since != Pulling && v.since != Pulling {
			bound = min(top, max(v.edge.Since, v.since, floor, horizon))
		}
		bound = min(bound, v.newest+1)
		switch {
		case bound == top:
			h = append(h, newPull(v.edge.Followee, bound))
		case bound > lower+1:
			lazy = append(lazy, lazySrc{bound: bound, author: v.edge.Followee})
		}
	}
	lazy.init()
	heap.Init(&h)

	followee := func(a UserID) bool {
		if a == user {
			return true
		}
		_, ok := slices.BinarySearchFunc(views, a, func(v edgeView, a UserID) int { return cmpUser(v.edge.Followee, a) })
		return ok
	}
	var (
		last     snowflake.ID
		cand     = bufs.cand[:0]
		fromTL   = bufs.fromTL[:0]
		removals []snowflake.ID
		posts    = bufs.posts[:0]
		origIDs  = bufs.origIDs[:0]
		origs    = bufs.origs[:0]
		yielded  bool
		stop     bool
		scratch  = bufs.scratch[:0]
		ids      = bufs.ids[:0]
	)
	defer func() {
		bufs.tl = tl.buf[:0]
		bufs.cand, bufs.fromTL, bufs.ids = cand[:0], fromTL[:0], ids[:0]
		bufs.posts, bufs.origs = posts[:0], origs[:0]
		bufs.origIDs, bufs.scratch = origIDs[:0], scratch[:0]
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
					removals = append(removals, c.ID) // deleted
				}
				continue
			}
			p := posts[j]
			j++
			if p.RepostOf != 0 && !s.showRepost(p, origs, rel, followee) {
				continue
			}
			yielded = true
			if !yield(p) {
				stop = true
				return nil
			}
		}
		cand, fromTL = cand[:0], fromTL[:0]
		return nil
	}
	want := 8
	for !stop {
		for len(lazy) > 0 && (len(h) == 0 || lazy[0].bound-1 >= h[0].key()) {
			l := lazy.pop()
			heap.Push(&h, newPull(l.author, l.bound))
		}
		if len(h) == 0 {
			break
		}
		x := h[0]
		if x.i >= len(x.buf) {
			if x.end {
				heap.Pop(&h)
				continue
			}
			// Fetch the next chunk of x.
			var hz snowflake.ID
			switch x.kind {
			case srcTimeline:
				x.buf, hz, err = s.fetchTimeline(ctx, user, x.bound, chunk, x.buf[:0])
				if err == nil && hz > horizon {
					if !yielded {
						return true, nil
					}
					// Entries between the old and new horizon may be gone;
					// the rest of this read pulls everything instead.
					floor = top
				}
			case srcPull:
				if x.chunk == 0 {
					x.chunk = 8
				}
				x.buf, scratch, err = s.fetchPull(ctx, x.author, x.bound, x.chunk, x.buf[:0], scratch)
			}
			if err != nil {
				return false, err
			}
			x.i = 0
			n := chunk
			if x.kind == srcPull {
				n = x.chunk
				x.chunk = min(x.chunk*2, 256)
			}
			if len(x.buf) < n {
				x.end = true
			} else {
				x.bound = x.buf[len(x.buf)-1].ID
			}
			heap.Fix(&h, 0)
			continue
		}
		e := x.buf[x.i]
		x.i++
		heap.Fix(&h, 0)
		if e.ID <= lower {
			break
		}
		pg.Scanned++
		if e.ID == last {
			continue
		}
		last = e.ID
		if !followee(e.Author) || rel[e.Author] != 0 {
			if x.kind == srcTimeline && !followee(e.Author) {
				removals = append(removals, e.ID)
			}
			continue
		}
		cand = append(cand, e)
		fromTL = append(fromTL, x.kind == srcTimeline)
		if len(cand) >= want {
			if err := flush(); err != nil {
				return false, err
			}
			want = min(want*2, 64)
		}
	}
	if !stop && len(cand) > 0 {
		if err := flush(); err != nil {
			return false, err
		}
	}
	if len(removals) > 0 {
		err = s.timelines.Remove(ctx, user, removals...)
	}
	return false, err
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

func cmpUser(a, b UserID) int {
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
// or by a muted or blocked author, nor if the reader already sees the
// original, posted at most RepostWindow before the repost.
func (s *Service) showRepost(p Post, origs []Post, rel map[UserID]uint8, followee func(UserID) bool) bool {
	i := slices.IndexFunc(origs, func(o Post) bool { return o.ID == p.RepostOf })
	if i < 0 {
		return false
	}
	o := origs[i]
	if rel[o.Author] != 0 {
		return false
	}
	if s.opt.RepostWindow < 0 || !followee(o.Author) {
		return true
	}
	age := s.layout.Decompose(p.ID).Time.Sub(s.layout.Decompose(o.ID).Time)
	return age > s.opt.RepostWindow
}

// adjustEdges applies the policy to each followee edge of user, switching
// edges whose mode should change. Push to pull is safe at any time; pull to
// push first marks the edge Pulling (pushes start, reads still pull), then
// sets the watermark above every ID issued so far.
func (s *Service) adjustEdges(ctx context.Context, user UserID, views []edgeView, followees int, readRate float64) {
	var toPush []UserID
	for _, v := range views {
		if !v.pushed {
			continue
		}
		cur := v.edge.Since != 0
		want := s.opt.Policy.PushEdge(v.author, ReaderStats{Reader: user, Followees: followees, ReadRate: readRate, Pushed: cur})
		switch {
		case want && v.edge.Since == Pulling:
			toPush = append(toPush, v.edge.Followee)
		case want && !cur:
			if s.graph.SetSince(ctx, user, v.edge.Followee, Pulling) == nil {
				toPush = append(toPush, v.edge.Followee)
			}
		case !want && cur:
			s.graph.SetSince(ctx, user, v.edge.Followee, 0)
		}
	}
	if len(toPush) == 0 {
		return
	}
	// Every ID issued after this point is fanned out with the edges above
	// already pushed.
	last := s.lastIssued()
	for _, a := range toPush {
		s.graph.SetSince(ctx, user, a, last+1)
	}
}
