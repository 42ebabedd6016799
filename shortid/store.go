package shortid

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors returned by the [Shortener] and by every [Store]. Test for them with
// errors.Is: the Shortener wraps some of them with the reason (an invalid URL
// says which rule it broke).
var (
	// ErrInvalidURL reports a target URL that the Shortener refuses to
	// shorten; the wrapping error names the rule it broke. [New] wraps it
	// too, for an Options.BaseURL or OwnHosts entry it cannot use.
	ErrInvalidURL = errors.New("shortid: invalid url")
	// ErrInvalidAlias reports a custom alias outside [0-9A-Za-z_-]{3,64}.
	ErrInvalidAlias = errors.New("shortid: invalid alias")
	// ErrReservedAlias reports an alias that is one of Options.Reserved,
	// or "shorten", the [Handler]'s create route, which is always reserved.
	// errors.Is(ErrReservedAlias, ErrInvalidAlias) is true.
	ErrReservedAlias = fmt.Errorf("%w: reserved word", ErrInvalidAlias)
	// ErrAliasTaken reports a custom alias that another link already uses.
	ErrAliasTaken = errors.New("shortid: alias taken")
	// ErrNotFound reports a key that names no link.
	ErrNotFound = errors.New("shortid: not found")
	// ErrGone reports a link that has expired or used up its visits. It is
	// returned until the sweeper removes the link; after that the key is
	// ErrNotFound.
	ErrGone = errors.New("shortid: gone")
	// ErrInvalidRequest reports a negative or too long TTL or a negative
	// MaxVisits.
	ErrInvalidRequest = errors.New("shortid: invalid request")
	// ErrClosed is returned by every method of a closed Shortener.
	ErrClosed = errors.New("shortid: closed")
	// ErrExists is returned by [Store.Create] when the key is already in
	// use. The Shortener turns it into ErrAliasTaken for an alias and into
	// the next candidate key for a generated one.
	ErrExists = errors.New("shortid: key exists")
	// ErrInvalidKeySource reports a key from Options.Keys that is not 1 to
	// 64 letters, digits, '-' or '_': a broken or misconfigured KeySource.
	ErrInvalidKeySource = errors.New("shortid: KeySource produced an invalid key")
	// ErrNoFreeKey reports that Shorten found every key it drew taken, many
	// times in a row: a KeySource that repeats itself, or a key space
	// nearly full.
	ErrNoFreeKey = errors.New("shortid: no free key")
	// ErrContended reports a create that gave up because concurrent
	// writes kept changing what it had to claim: a [ShardedStore] whose
	// URL's dedup entry changed under it on every retry. Nothing was
	// stored; the request may be retried.
	ErrContended = errors.New("shortid: contended")
)

// A Link is one short key and the URL it redirects to.
type Link struct {
	Key       string    // the short key: a generated code or a custom alias
	URL       string    // the normalized target
	Alias     bool      // true for a custom alias
	CreatedAt time.Time // when the link was created, in UTC
	ExpiresAt time.Time // zero: never expires
	MaxVisits int64     // 0: unlimited
}

// A ClickKey names the link that a count of clicks belongs to in
// [Store.AddClicks]: its key and its creation time. A link that is deleted
// and created again under the same key has another CreatedAt, so a click
// counted for the first link never reaches the second.
type ClickKey struct {
	Key     string
	Created int64 // Link.CreatedAt in Unix nanoseconds; 0 for the zero time
}

// ClickKey returns the [ClickKey] that names l.
func (l Link) ClickKey() ClickKey {
	if l.CreatedAt.IsZero() {
		return ClickKey{Key: l.Key}
	}
	return ClickKey{Key: l.Key, Created: l.CreatedAt.UnixNano()}
}

// A ClicksError is the error of a [Store.AddClicks] that added only some
// of its counts, as a [ShardedStore] does when some of its shards fail:
// Unapplied holds the counts it did not add, and Err says why. A
// [Shortener] keeps only those for its next flush, so that no click is
// counted twice.
type ClicksError struct {
	Unapplied map[ClickKey]int64
	Err       error
}

// Error says how many counts were not added, and why.
func (e *ClicksError) Error() string {
	return fmt.Sprintf("shortid: %d click counts not added: %v", len(e.Unapplied), e.Err)
}

// Unwrap returns e.Err.
func (e *ClicksError) Unwrap() error { return e.Err }

// unappliedOf returns the counts of batch that a failed AddClicks did not
// add: those its *ClicksError names, each at most its count in batch (a
// Store that names counts it was not given must not make clicks up), or
// the whole batch for any other error, a nil *ClicksError included.
func unappliedOf(batch map[ClickKey]int64, err error) map[ClickKey]int64 {
	var ce *ClicksError
	if !errors.As(err, &ce) || ce == nil {
		return batch
	}
	out := make(map[ClickKey]int64, len(ce.Unapplied))
	for ck, n := range ce.Unapplied {
		if b := batch[ck]; b > 0 && n > 0 {
			out[ck] = min(n, b)
		}
	}
	return out
}

// A Record is a stored link with its counters as the [Store] keeps them.
type Record struct {
	Link   Link
	Clicks int64 // clicks flushed to the store
	Visits int64 // visits consumed by [Store.Visit]; counted only when Link.MaxVisits > 0
}

// A Store keeps links for a [Shortener]. Every method is safe for concurrent
// use and must be atomic per call, so that a Redis or SQL backend can
// implement it with one transaction (or Lua script) per method:
//
//   - Create is a create-if-absent of the key and, with dedup, of the URL's
//     dedup entry, together.
//   - Visit is a conditional increment (visits < max).
//   - Sweep is a range delete over an expiry index.
//
// Times are passed in by the caller: a Store never reads a clock. The
// package's conformance suite,
// [github.com/blueprint-go/blueprint/shortid/storetest], checks an
// implementation against this contract.
type Store interface {
	// Create stores l and returns it, unless its key is taken, in which
	// case it returns ErrExists and changes nothing, or ErrInvalidRequest
	// for a CreatedAt or ExpiresAt it cannot store exactly (a MemStore
	// holds the years 1678-2262). With dedup, the store
	// also keeps a dedup entry from l.URL to l.Key; if the key is free but
	// a dedup entry for l.URL already exists, Create stores nothing and
	// returns the existing link instead (its Key differs from l.Key). The
	// dedup entry goes away with its link. A Store that creates in several
	// steps may give up under concurrent writes with ErrContended, having
	// stored nothing.
	Create(ctx context.Context, l Link, dedup bool) (Link, error)
	// Get returns the record stored under key, or ErrNotFound. It does not
	// judge expiry: that needs a clock, which the caller has.
	Get(ctx context.Context, key string) (Record, error)
	// Delete removes the link stored under key and its dedup entry, or
	// returns ErrNotFound.
	Delete(ctx context.Context, key string) error
	// Visit consumes one visit of the link under key at time now and
	// returns the record after the visit. It returns ErrGone if the link
	// expired at or before now, or if Link.MaxVisits > 0 and all visits are
	// used; a link whose last visit it consumes is due for Sweep from now
	// on. For a link without MaxVisits it only checks expiry.
	Visit(ctx context.Context, key string, now time.Time) (Record, error)
	// AddClicks adds each count to the clicks of the link its ClickKey
	// names. Entries whose key no longer exists, or whose link has another
	// CreatedAt (the key was deleted and used again), are skipped. It
	// must not modify or keep the map. On error it has added none of the
	// counts, or it returns a [*ClicksError] that names those it did not
	// add, so that the caller retries those alone.
	AddClicks(ctx context.Context, clicks map[ClickKey]int64) error
	// Sweep removes up to limit links that expired at or before now or
	// were exhausted at or before now, with their dedup entries, and
	// returns them; fewer than limit means none is left.
	Sweep(ctx context.Context, now time.Time, limit int) ([]Link, error)
}
