package feedsim

import (
	"context"
	"strconv"
	"sync"

	"github.com/blueprint-go/blueprint/fanout"
	"github.com/blueprint-go/blueprint/snowflake"
)

// PurePull is the textbook fan-out-on-read baseline the targets are
// measured against: a post is only stored, and every read asks the Posts
// store for the newest posts of the reader and of each account it follows
// (one Recent call per followee, limited to the page size) and merges them
// with a heap. It keeps no state about authors or readers besides the
// mutes and blocks a read must respect; deletes and unfollows are visible
// at once because the stores already reflect them.
//
// It is not fanout.Service with every author pulled (the "pull" strategy):
// that one remembers each author's newest posts at write time and skips
// followees with nothing in a read's range. PurePull is written to be fast
// (recycled buffers, no allocation per followee), not to lose.
//
// It is safe for concurrent use. Reposts are shown as stored: the replay
// has none.
type PurePull struct {
	graph fanout.Graph
	posts fanout.Posts
	ids   *snowflake.Generator

	mu     sync.RWMutex
	hidden map[fanout.UserID]map[fanout.UserID]uint8 // reader -> author -> hideMuted|hideBlocked

	bufs sync.Pool
}

// NewPurePull returns a pure-pull timeline service on the given stores.
func NewPurePull(g fanout.Graph, p fanout.Posts, ids *snowflake.Generator) *PurePull {
	return &PurePull{graph: g, posts: p, ids: ids, hidden: map[fanout.UserID]map[fanout.UserID]uint8{}}
}

// Publish stores a post by author: nothing else happens at write time.
func (pp *PurePull) Publish(ctx context.Context, author fanout.UserID, text string) (fanout.Post, error) {
	if author <= 0 {
		return fanout.Post{}, fanout.ErrInvalidUser
	}
	id, err := pp.ids.Next()
	if err != nil {
		return fanout.Post{}, err
	}
	p := fanout.Post{ID: id, Author: author, Text: text}
	return p, pp.posts.Put(ctx, p)
}

// Follow adds the follow edge, unless either user hid the other with Block.
func (pp *PurePull) Follow(ctx context.Context, follower, followee fanout.UserID) error {
	pp.mu.RLock()
	blocked := (pp.hidden[follower][followee]|pp.hidden[followee][follower])&hideBlocked != 0
	pp.mu.RUnlock()
	if blocked {
		return fanout.ErrBlocked
	}
	_, err := pp.graph.Follow(ctx, fanout.Edge{Follower: follower, Followee: followee})
	return err
}

// Unfollow removes the follow edge, or returns fanout.ErrNotFollowing.
func (pp *PurePull) Unfollow(ctx context.Context, follower, followee fanout.UserID) error {
	removed, err := pp.graph.Unfollow(ctx, follower, followee)
	if err == nil && !removed {
		err = fanout.ErrNotFollowing
	}
	return err
}

// Delete removes author's post id, or returns fanout.ErrNotFound.
func (pp *PurePull) Delete(ctx context.Context, author fanout.UserID, id snowflake.ID) error {
	ps, err := pp.posts.GetMany(ctx, []snowflake.ID{id}, nil)
	if err != nil {
		return err
	}
	if len(ps) == 0 || ps[0].Author != author {
		return fanout.ErrNotFound
	}
	_, err = pp.posts.Delete(ctx, id)
	return err
}

const (
	hideMuted uint8 = 1 << iota
	hideBlocked
)

// Mute hides target's posts from user's reads.
func (pp *PurePull) Mute(user, target fanout.UserID) { pp.hide(user, target, hideMuted) }

func (pp *PurePull) hide(user, target fanout.UserID, bit uint8) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if pp.hidden[user] == nil {
		pp.hidden[user] = map[fanout.UserID]uint8{}
	}
	pp.hidden[user][target] |= bit
}

// Block hides each of user and target from the other and removes the
// follows between them.
func (pp *PurePull) Block(ctx context.Context, user, target fanout.UserID) error {
	pp.hide(user, target, hideBlocked)
	pp.hide(target, user, hideBlocked)
	for _, p := range [][2]fanout.UserID{{user, target}, {target, user}} {
		if _, err := pp.graph.Unfollow(ctx, p[0], p[1]); err != nil {
			return err
		}
	}
	return nil
}

// Close does nothing: there is no background work.
func (pp *PurePull) Close() error { return nil }

// pullBufs are the buffers one read recycles.
type pullBufs struct {
	edges []fanout.Edge
	ids   []snowflake.ID // every source's IDs, back to back
	heads []pullHead     // the merge heap
	page  []snowflake.ID
}

// A pullHead is one source in the merge: ids[i:end] still to merge.
type pullHead struct{ i, end int }

// Timeline returns up to limit posts of user's home timeline older than
// cursor ("" for the newest), newest first, like fanout.Service.Timeline.
// Its cursors are its own.
func (pp *PurePull) Timeline(ctx context.Context, user fanout.UserID, cursor string, limit int) (fanout.Page, error) {
	return pp.AppendTimeline(ctx, nil, user, cursor, limit)
}

// AppendTimeline is Timeline with the page's posts appended to dst, like
// fanout.Service.AppendTimeline.
func (pp *PurePull) AppendTimeline(ctx context.Context, dst []fanout.Post, user fanout.UserID, cursor string, limit int) (fanout.Page, error) {
	if user <= 0 {
		return fanout.Page{}, fanout.ErrInvalidUser
	}
	if limit <= 0 || limit > fanout.MaxLimit {
		return fanout.Page{}, fanout.ErrInvalidLimit
	}
	before := fanout.Pulling
	if cursor != "" {
		n, err := strconv.ParseInt(cursor, 36, 64)
		if err != nil || n <= 0 {
			return fanout.Page{}, fanout.ErrBadCursor
		}
		before = snowflake.ID(n)
	}
	b, _ := pp.bufs.Get().(*pullBufs)
	if b == nil {
		b = new(pullBufs)
	}
	defer pp.bufs.Put(b)
	edges, err := pp.graph.Followees(ctx, user, b.edges[:0])
	b.edges = edges[:0]
	if err != nil {
		return fanout.Page{}, err
	}
	pp.mu.RLock()
	hidden := pp.hidden[user]
	nHidden := len(hidden)
	pp.mu.RUnlock()

	// One Recent call per source (the reader, then each followee), all
	// into one buffer; then a heap merge of the sources by newest ID.
	ids, heads := b.ids[:0], b.heads[:0]
	var pg fanout.Page
	for i := -1; i < len(edges); i++ {
		a := user
		if i >= 0 {
			a = edges[i].Followee
		}
		if i >= 0 && nHidden > 0 {
			pp.mu.RLock()
			h := hidden[a]
			pp.mu.RUnlock()
			if h != 0 {
				continue
			}
		}
		start := len(ids)
		if ids, err = pp.posts.Recent(ctx, a, before, limit, ids); err != nil {
			b.ids, b.heads = ids[:0], heads[:0]
			return fanout.Page{}, err
		}
		if len(ids) > start {
			heads = append(heads, pullHead{start, len(ids)})
		}
	}
	pg.Scanned = len(ids)
	less := func(x, y pullHead) bool { return ids[x.i] > ids[y.i] }
	down := func(h []pullHead, i int) {
		for {
			c := 2*i + 1
			if c >= len(h) {
				return
			}
			if c+1 < len(h) && less(h[c+1], h[c]) {
				c++
			}
			if !less(h[c], h[i]) {
				return
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
	}
	for i := len(heads)/2 - 1; i >= 0; i-- {
		down(heads, i)
	}
	page := b.page[:0]
	for len(page) < limit && len(heads) > 0 {
		page = append(page, ids[heads[0].i])
		if heads[0].i++; heads[0].i == heads[0].end {
			heads[0] = heads[len(heads)-1]
			heads = heads[:len(heads)-1]
		}
		down(heads, 0)
	}
	b.ids, b.heads, b.page = ids[:0], heads[:0], page[:0]
	// Posts deleted since Recent are left out; the page still ends where
	// the merge stopped, so paging skips nothing.
	if len(page) == limit {
		pg.Next = strconv.FormatInt(int64(page[limit-1]), 36)
	}
	if dst == nil {
		dst = make([]fanout.Post, 0, len(page))
	}
	pg.Posts, err = pp.posts.GetMany(ctx, page, dst)
	if err != nil {
		return fanout.Page{}, err
	}
	return pg, nil
}
