package fanout

import (
	"context"
	"errors"

	"github.com/blueprint-go/blueprint/snowflake"
)

// A UserID names an account. Valid user IDs are positive.
type UserID int64

// A Post is one message. Its ID is a snowflake ID, so ID order is time
// order. A repost is a Post of its own whose RepostOf names the original.
type Post struct {
	ID       snowflake.ID
	Author   UserID
	RepostOf snowflake.ID // 0 for an original post
	Text     string
}

// An Entry is what a pushed timeline holds for one post: 16 bytes. Author is
// the account whose action put it there (the poster or the reposter), so that
// an unfollow, block or mute can filter it without reading the post.
type Entry struct {
	ID     snowflake.ID
	Author UserID
}

// An Edge is one follow relation together with its delivery watermark.
//
// Since is the lowest post ID from which Followee's posts are pushed into
// Follower's timeline; older posts are pulled at read time. Since == 0 means
// the edge is pulled entirely, and Since == [Pulling] means the edge is being
// switched to push: pushes happen but reads still pull everything.
type Edge struct {
	Follower UserID
	Followee UserID
	Since    snowflake.ID
}

// Pulling is the Since of an edge (and the watermark of an author) whose
// posts are pushed but must still be pulled on read, because the moment from
// which the pushed copies are complete is not fixed yet.
const Pulling snowflake.ID = 1<<63 - 1

// TimelineStat describes one user's pushed timeline.
type TimelineStat struct {
	Len     int          // entries held
	Oldest  snowflake.ID // ID of the oldest entry held; 0 if empty
	Horizon snowflake.ID // entries with ID < Horizon may have been trimmed by the cap
}

// Graph stores follow edges in both directions.
//
// Implementations must be safe for concurrent use. Followers and Followees
// return edges ordered by the other user's ID.
type Graph interface {
	// Follow adds the edge, or updates its Since if it exists, and reports
	// whether it was new.
	Follow(ctx context.Context, e Edge) (bool, error)
	// Unfollow removes the edge and reports whether it existed.
	Unfollow(ctx context.Context, follower, followee UserID) (bool, error)
	// SetSince changes the watermark of an existing edge; it returns
	// ErrNotFollowing if there is none.
	SetSince(ctx context.Context, follower, followee UserID, since snowflake.ID) error
	// Followers appends to dst up to limit edges into user whose Follower is
	// greater than after, in Follower order: none when after is the
	// largest UserID, math.MaxInt64 (a pager that reached a follower of
	// that ID stops there; after+1 would wrap to the first follower).
	Followers(ctx context.Context, user, after UserID, limit int, dst []Edge) ([]Edge, error)
	// Followees appends to dst every edge out of user, in Followee order.
	Followees(ctx context.Context, user UserID, dst []Edge) ([]Edge, error)
	// Counts returns how many users follow user and how many it follows.
	Counts(ctx context.Context, user UserID) (followers, followees int, err error)
}

// Posts stores posts by ID and by author.
//
// Implementations must be safe for concurrent use.
type Posts interface {
	// Put stores p, replacing a post with the same ID.
	Put(ctx context.Context, p Post) error
	// GetMany appends to dst the posts with the given IDs, in the order of
	// ids, skipping those that do not exist.
	GetMany(ctx context.Context, ids []snowflake.ID, dst []Post) ([]Post, error)
	// Recent appends to dst up to limit IDs of author's posts that are less
	// than before, newest first: none when before <= 1 (post IDs are
	// positive; before-1 would wrap at math.MinInt64).
	Recent(ctx context.Context, author UserID, before snowflake.ID, limit int, dst []snowflake.ID) ([]snowflake.ID, error)
	// Delete removes the post and returns it, or returns ErrNotFound.
	Delete(ctx context.Context, id snowflake.ID) (Post, error)
}

// Timelines stores one capped, ID-ordered list of entries per user.
//
// Implementations must be safe for concurrent use. Adding an entry whose ID
// is already held changes nothing. When a timeline exceeds its cap, the
// oldest entries are removed and the Horizon rises above them.
type Timelines interface {
	// Add adds entries to user's timeline.
	Add(ctx context.Context, user UserID, entries ...Entry) error
	// Deliver adds e to the timeline of every user in users.
	Deliver(ctx context.Context, e Entry, users []UserID) error
	// Range appends to dst up to limit entries of user's timeline with ID
	// less than before, newest first, and returns the Horizon at the same
	// instant.
	Range(ctx context.Context, user UserID, before snowflake.ID, limit int, dst []Entry) ([]Entry, snowflake.ID, error)
	// Remove removes the entries with the given IDs from user's timeline.
	Remove(ctx context.Context, user UserID, ids ...snowflake.ID) error
	// Stat describes user's timeline.
	Stat(ctx context.Context, user UserID) (TimelineStat, error)
}

// Errors returned by the stores and the Service.
var (
	ErrNotFound     = errors.New("fanout: post not found")
	ErrNotFollowing = errors.New("fanout: not following")
	ErrInvalidUser  = errors.New("fanout: invalid user ID")
	ErrInvalidPost  = errors.New("fanout: invalid post")
	ErrInvalidLimit = errors.New("fanout: limit out of range")
	ErrBadCursor    = errors.New("fanout: malformed cursor")
	ErrClosed       = errors.New("fanout: service closed")
	// ErrSelf is returned for a follow, unfollow, mute, unmute, block or
	// unblock of a user by itself.
	ErrSelf = errors.New("fanout: user cannot follow, mute or block itself")
	// ErrSelfFollow is ErrSelf under its former name: the same value, so
	// errors.Is matches either.
	//
	// Deprecated: use ErrSelf.
	ErrSelfFollow = ErrSelf
	// ErrBlocked is returned for a follow or a repost across a block: of
	// a user by one it blocked or was blocked by, or of such a user's post.
	ErrBlocked = errors.New("fanout: blocked")
)
