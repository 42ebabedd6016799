package shortid

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
)

// pointerPrefix starts the keys of the dedup pointers a ShardedStore keeps
// in its shards. No valid short key contains a NUL byte.
const pointerPrefix = "\x00dedup:"

// ShardedStore spreads links over several Stores by a consistent hash of the
// key: jump consistent hash (Lamport and Veach, "A Fast, Minimal Memory,
// Consistent Hash Algorithm", 2014) over an xxhash of the key. Growing from
// n to n+1 shards moves only 1/(n+1) of the keys, and routing costs a hash
// and about ln(n) loop steps, with no ring to store.
//
// # Where a dedup entry lives
//
// A link lives on the shard of its key, but deduplication looks a link up
// by its URL, and the key of a new link says nothing about which shard has
// seen the URL. So a deduplicated link is written in two steps, the way a
// sharded SQL or Redis deployment keeps a URL table next to its link table:
//
//  1. the link is created on its key's shard, without dedup;
//  2. a pointer (a small link keyed pointerPrefix+key, with dedup) is
//     created on the URL's shard; that shard's own atomic create-if-absent
//     decides which of racing creates wins.
//
// The loser deletes the link it made in step 1 and returns the winner's
// link. Because a link always exists before its pointer, a pointer whose
// link is missing (or whose key now holds another link: another URL,
// creation time, alias flag or visit limit) is stale — left by a crash or
// a concurrent Delete — and the next create replaces it. Delete and Sweep
// remove the link first and its pointer second. Keys starting with a NUL
// byte are reserved for pointers.
//
// With a single shard every call goes straight to it. A ShardedStore is not
// a [Counter] even if its shards are: give the Shortener Options.Keys built
// on the one counter all servers share. A ShardedStore is safe for
// concurrent use if its shards are.
type ShardedStore struct {
	shards []Store
}

var _ Store = (*ShardedStore)(nil)

// NewShardedStore returns a Store that routes over shards. The order of
// shards is part of the routing: keep it, and only append, when the set
// changes (and move the keys that jump hash moves). It panics if shards is
// empty or holds a nil Store.
func NewShardedStore(shards []Store) *ShardedStore {
	if len(shards) == 0 {
		panic("shortid: NewShardedStore with no shards")
	}
	for _, s := range shards {
		if s == nil {
			panic("shortid: NewShardedStore with a nil shard")
		}
	}
	return &ShardedStore{shards: append([]Store(nil), shards...)}
}

// jumpHash maps key to a bucket in [0, n), moving only 1/n of the keys when
// n grows by one. It is the algorithm of Lamport and Veach, figure 1.
func jumpHash(key uint64, n int) int {
	var b, j int64 = -1, 0
	for j < int64(n) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(b)
}

// ShardOf returns the index of the shard that holds key.
func (s *ShardedStore) ShardOf(key string) int {
	return jumpHash(xxhash.Sum64String(key), len(s.shards))
}

func (s *ShardedStore) shard(key string) Store { return s.shards[s.ShardOf(key)] }

// urlShard returns the shard that holds the dedup pointer of url.
func (s *ShardedStore) urlShard(url string) Store {
	return s.shards[jumpHash(xxhash.Sum64String(url), len(s.shards))]
}

func isPointer(key string) bool { return strings.HasPrefix(key, "\x00") }

// Create implements [Store.Create]. With dedup and more than one shard it
// makes two to four shard calls, as the type documentation describes, and
// more when it finds a stale pointer; if the URL's pointer still changed
// under it after eight tries, it removes the link it made and returns an
// error wrapping [ErrContended], naming the URL.
func (s *ShardedStore) Create(ctx context.Context, l Link, dedup bool) (Link, error) {
	if isPointer(l.Key) {
		return Link{}, ErrExists
	}
	home := s.shard(l.Key)
	if !dedup || len(s.shards) == 1 {
		return home.Create(ctx, l, dedup)
	}
	created, err := home.Create(ctx, l, false)
	if err != nil {
		return Link{}, err
	}
	undo := func(err error) (Link, error) {
		if derr := home.Delete(ctx, l.Key); derr != nil && !errors.Is(derr, ErrNotFound) {
			err = errors.Join(err, derr)
		}
		return Link{}, err
	}
	owner := s.urlShard(l.URL)
	// The pointer names its link by key and, since a key may be freed and
	// taken again, by the link's CreatedAt, Alias and MaxVisits too.
	ptr := Link{Key: pointerPrefix + l.Key, URL: l.URL, Alias: l.Alias, CreatedAt: l.CreatedAt, MaxVisits: l.MaxVisits}
	for range 8 {
		got, err := owner.Create(ctx, ptr, true)
		switch {
		case errors.Is(err, ErrExists):
			// A stale pointer of an earlier link with our key.
			if err := owner.Delete(ctx, ptr.Key); err != nil && !errors.Is(err, ErrNotFound) {
				return undo(err)
			}
			continue
		case err != nil:
			return undo(err)
		case got.Key == ptr.Key:
			return created, nil
		}
		other := strings.TrimPrefix(got.Key, pointerPrefix)
		rec, err := s.shard(other).Get(ctx, other)
		if err == nil && pointsTo(got, rec.Link) {
			if _, err := undo(nil); err != nil {
				return Link{}, err
			}
			return rec.Link, nil
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return undo(err)
		}
		// The pointer is stale: its link is gone, or its key now holds
		// another link.
		if err := owner.Delete(ctx, got.Key); err != nil && !errors.Is(err, ErrNotFound) {
			return undo(err)
		}
	}
	return undo(fmt.Errorf("%w: dedup entry for %q kept changing", ErrContended, l.URL))
}

// pointsTo reports whether dedup pointer p was written for link l: the
// same URL, CreatedAt, Alias and MaxVisits. A link created again under a
// freed key (a custom alias, say, after a crash left the old link's
// pointer behind) differs in one of them, and a plain request must not
// be handed it.
func pointsTo(p, l Link) bool {
	return l.URL == p.URL && l.CreatedAt.Equal(p.CreatedAt) && l.Alias == p.Alias && l.MaxVisits == p.MaxVisits
}

// Get implements [Store.Get] with one call to the key's shard.
func (s *ShardedStore) Get(ctx context.Context, key string) (Record, error) {
	if isPointer(key) {
		return Record{}, ErrNotFound
	}
	return s.shard(key).Get(ctx, key)
}

// Delete implements [Store.Delete]: it reads the link to learn its URL,
// deletes it, then deletes its dedup pointer if there is one.
func (s *ShardedStore) Delete(ctx context.Context, key string) error {
	if isPointer(key) {
		return ErrNotFound
	}
	home := s.shard(key)
	if len(s.shards) == 1 {
		return home.Delete(ctx, key)
	}
	rec, err := home.Get(ctx, key)
	if err != nil {
		return err
	}
	if err := home.Delete(ctx, key); err != nil {
		return err
	}
	return s.dropPointer(ctx, rec.Link)
}

func (s *ShardedStore) dropPointer(ctx context.Context, l Link) error {
	err := s.urlShard(l.URL).Delete(ctx, pointerPrefix+l.Key)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Visit implements [Store.Visit] with one call to the key's shard.
func (s *ShardedStore) Visit(ctx context.Context, key string, now time.Time) (Record, error) {
	if isPointer(key) {
		return Record{}, ErrNotFound
	}
	return s.shard(key).Visit(ctx, key, now)
}

// AddClicks implements [Store.AddClicks] with one call per shard that has
// clicks. Shards fail separately: if some do, it returns a [*ClicksError]
// with the counts of the failed shards.
func (s *ShardedStore) AddClicks(ctx context.Context, clicks map[ClickKey]int64) error {
	if len(s.shards) == 1 {
		return s.shards[0].AddClicks(ctx, clicks)
	}
	batches := make([]map[ClickKey]int64, len(s.shards))
	for ck, n := range clicks {
		if isPointer(ck.Key) {
			continue
		}
		i := s.ShardOf(ck.Key)
		if batches[i] == nil {
			batches[i] = make(map[ClickKey]int64)
		}
		batches[i][ck] = n
	}
	var errs []error
	var unapplied map[ClickKey]int64
	for i, b := range batches {
		if b == nil {
			continue
		}
		if err := s.shards[i].AddClicks(ctx, b); err != nil {
			errs = append(errs, err)
			if unapplied == nil {
				unapplied = make(map[ClickKey]int64, len(b))
			}
			maps.Copy(unapplied, unappliedOf(b, err))
		}
	}
	if errs == nil {
		return nil
	}
	return &ClicksError{Unapplied: unapplied, Err: errors.Join(errs...)}
}

// Sweep implements [Store.Sweep], shard by shard, and removes the dedup
// pointers of the links it swept.
func (s *ShardedStore) Sweep(ctx context.Context, now time.Time, limit int) ([]Link, error) {
	var out []Link
	for _, sh := range s.shards {
		if len(out) >= limit {
			break
		}
		links, err := sh.Sweep(ctx, now, limit-len(out))
		out = append(out, links...)
		if err != nil {
			return out, err
		}
	}
	if len(s.shards) > 1 {
		for _, l := range out {
			if err := s.dropPointer(ctx, l); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}
