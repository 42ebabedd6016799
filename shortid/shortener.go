package shortid

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Alias length bounds.
const (
	MinAliasLength = 3
	MaxAliasLength = 64
)

// maxKeyAttempts bounds how many generated keys Shorten tries before giving
// up: with a Sequence a clash needs an alias that happens to look like a
// code, so more than a handful in a row means a broken KeySource.
const maxKeyAttempts = 32

// ShortenRequest asks for a new link.
type ShortenRequest struct {
	URL       string        // the target: an absolute http or https URL
	Alias     string        // optional custom key, [0-9A-Za-z_-]{3,64}
	TTL       time.Duration // optional lifetime; 0 never expires
	MaxVisits int64         // optional number of allowed resolves; 0 unlimited
}

// Stats describes a link and how often it was used.
type Stats struct {
	Link   Link
	Clicks int64 // successful Resolves, flushed and still buffered
	// Remaining is the number of visits left for a link with MaxVisits,
	// and -1 for an unlimited one.
	Remaining int64
}

// A Shortener creates short links and resolves them, on top of a [Store].
// Its methods are safe for concurrent use. It owns two background
// goroutines, the click flusher and the expiry sweeper; [Shortener.Close]
// stops them and writes every buffered click.
type Shortener struct {
	store      Store
	keys       KeySource
	clock      Clock
	policy     urlPolicy
	reserved   map[string]struct{}
	base       string
	sweepBatch int
	onError    func(error)

	clicks clickBuffer
	// flushMu guards the fields below it and is never held across a Store
	// call. flushSeq is odd while a flush runs, from its drain of the
	// buffer until its AddClicks returned; inflight is that flush's batch
	// and flushDone is closed when it ends. held counts, per key, the
	// Stats that lost the race with flushes statsTries times in a row and
	// now read the key guarded: a flush leaves the clicks of every link
	// under a held key in the buffer, so that the Store's count of them
	// stays put, except a flush after Close, which takes everything.
	flushMu   sync.Mutex
	flushSeq  uint64
	inflight  map[ClickKey]int64
	flushDone chan struct{}
	held      map[string]int
	closed    atomic.Bool
	stopBg    context.CancelFunc // cancels the background goroutines' context
	wg        sync.WaitGroup
}

// New returns a Shortener over store. It panics if store is nil. For
// invalid options it returns an error wrapping [ErrInvalidURL] (a BaseURL
// that is not an absolute http or https URL without user information, query
// or fragment, or an own host that does not parse) or [ErrInvalidAlphabet]
// (Options.Keys draws on a character a key may not hold). Unless disabled
// in opts, it starts the click flusher and the expiry sweeper; call Close
// to stop them.
func New(store Store, opts Options) (*Shortener, error) {
	if store == nil {
		panic("shortid: New with nil Store")
	}
	s := &Shortener{
		store:      store,
		keys:       opts.Keys,
		clock:      opts.Clock,
		sweepBatch: opts.SweepBatch,
		onError:    opts.OnError,
		policy:     urlPolicy{maxLen: opts.MaxURLLength, allowPrivate: opts.AllowPrivate},
	}
	if s.clock == nil {
		s.clock = systemClock{}
	}
	if s.policy.maxLen <= 0 {
		s.policy.maxLen = DefaultMaxURLLength
	}
	if s.sweepBatch <= 0 {
		s.sweepBatch = DefaultSweepBatch
	}
	own := opts.OwnHosts
	if opts.BaseURL != "" {
		u, err := url.Parse(opts.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("%w: BaseURL %q is not an http(s) URL without user, query or fragment", ErrInvalidURL, opts.BaseURL)
		}
		s.base = strings.TrimSuffix(opts.BaseURL, "/")
		own = append([]string{u.Host}, own...)
	}
	for _, h := range own {
		n, err := normalizeOwnHost(h)
		if err != nil {
			return nil, fmt.Errorf("shortid: own host %q: %w", h, err)
		}
		s.policy.ownHosts = append(s.policy.ownHosts, n)
	}
	reserved := opts.Reserved
	if reserved == nil {
		reserved = DefaultReserved()
	}
	s.reserved = make(map[string]struct{}, len(reserved)+1)
	for _, w := range reserved {
		s.reserved[strings.ToLower(w)] = struct{}{}
	}
	// A link keyed by the Handler's route could never be followed through
	// it, so the route is reserved whatever Options.Reserved says.
	s.reserved[routeShorten] = struct{}{}
	if s.keys == nil {
		c, ok := store.(Counter)
		if !ok {
			c = NewMemCounter(0)
		}
		seq, err := NewSequence(c, SequenceOptions{Rand: opts.Rand})
		if err != nil {
			return nil, fmt.Errorf("shortid: default key source: %w", err)
		}
		s.keys = seq
	}
	if a := keyAlphabet(s.keys); a != "" {
		for i := 0; i < len(a); i++ {
			if !validKey(a[i : i+1]) {
				return nil, fmt.Errorf("%w: Options.Keys draws on %q, which a short key may not hold (only letters, digits, '-' and '_')", ErrInvalidAlphabet, a[i])
			}
		}
	}
	s.clicks.init()
	bg, stopBg := context.WithCancel(context.Background())
	s.stopBg = stopBg
	flush, sweep := opts.FlushInterval, opts.SweepInterval
	if flush == 0 {
		flush = DefaultFlushInterval
	}
	if sweep == 0 {
		sweep = DefaultSweepInterval
	}
	if flush > 0 {
		s.wg.Add(1)
		go s.every(bg, flush, func(ctx context.Context) error { return s.Flush(ctx) })
	}
	if sweep > 0 {
		s.wg.Add(1)
		go s.every(bg, sweep, func(ctx context.Context) error { _, err := s.Sweep(ctx); return err })
	}
	return s, nil
}

// every runs fn each interval until ctx is canceled by Close.
func (s *Shortener) every(ctx context.Context, interval time.Duration, fn func(context.Context) error) {
	defer s.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := fn(ctx)
			if err != nil && s.onError != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed) {
				s.onError(err)
			}
		}
	}
}

// Shorten validates req and stores a new link, or returns an existing one:
//
//   - A plain request (no Alias, TTL or MaxVisits) for a URL that already
//     has a plain link returns that link.
//   - A request with an Alias, TTL or MaxVisits always creates a new link
//     and never returns, changes or removes another one.
//
// It returns ErrInvalidURL (wrapped with the reason), ErrInvalidAlias,
// ErrReservedAlias, ErrAliasTaken, ErrInvalidRequest for a TTL outside
// [0, MaxTTL] or a negative MaxVisits, ErrClosed, ErrNoFreeKey,
// ErrContended (a [ShardedStore] racing other writes to the URL's dedup
// entry; nothing was created and the request may be retried), or an error
// of the Store or the KeySource. It costs one Store.Create, plus one more
// for each generated key that is already taken.
func (s *Shortener) Shorten(ctx context.Context, req ShortenRequest) (Link, error) {
	l, _, err := s.ShortenCreated(ctx, req)
	return l, err
}

// ShortenCreated is [Shortener.Shorten] that also reports whether it
// created the link: false means a plain request found its URL already
// shortened and returned that link (whose CreatedAt is the original one).
// An HTTP API answers 201 or 200 by it.
func (s *Shortener) ShortenCreated(ctx context.Context, req ShortenRequest) (Link, bool, error) {
	if s.closed.Load() {
		return Link{}, false, ErrClosed
	}
	if req.TTL < 0 || req.TTL > MaxTTL {
		return Link{}, false, fmt.Errorf("%w: TTL %v outside [0, %v]", ErrInvalidRequest, req.TTL, MaxTTL)
	}
	if req.MaxVisits < 0 {
		return Link{}, false, fmt.Errorf("%w: negative MaxVisits %d", ErrInvalidRequest, req.MaxVisits)
	}
	target, err := s.policy.validateURL(req.URL)
	if err != nil {
		return Link{}, false, err
	}
	now := s.clock.Now().UTC()
	l := Link{URL: target, CreatedAt: now, MaxVisits: req.MaxVisits}
	if req.TTL > 0 {
		l.ExpiresAt = now.Add(req.TTL)
	}
	if req.Alias != "" {
		if err := s.checkAlias(req.Alias); err != nil {
			return Link{}, false, err
		}
		l.Key, l.Alias = req.Alias, true
		got, err := s.store.Create(ctx, l, false)
		if errors.Is(err, ErrExists) {
			return Link{}, false, fmt.Errorf("%w: %q", ErrAliasTaken, req.Alias)
		}
		return got, err == nil, err
	}
	plain := req.TTL == 0 && req.MaxVisits == 0
	var buf [MaxAliasLength]byte
	for range maxKeyAttempts {
		k, err := s.appendKey(ctx, buf[:0])
		if err != nil {
			return Link{}, false, err
		}
		if !validKey(k) {
			return Link{}, false, fmt.Errorf("%w: %q", ErrInvalidKeySource, string(k))
		}
		if s.isReserved(k) {
			continue
		}
		l.Key = string(k)
		got, err := s.store.Create(ctx, l, plain)
		if errors.Is(err, ErrExists) {
			continue
		}
		// A deduplicated link comes back under its own key and time.
		created := err == nil && got.Key == l.Key && got.CreatedAt.Equal(l.CreatedAt)
		return got, created, err
	}
	return Link{}, false, fmt.Errorf("%w: %d generated keys in a row were taken", ErrNoFreeKey, maxKeyAttempts)
}

// keyAlphabet returns the characters the package's own KeySources draw
// keys from, or "" for another KeySource.
func keyAlphabet(k KeySource) string {
	switch k := k.(type) {
	case *Sequence:
		return k.codec.alphabet
	case *Random:
		return k.alphabet
	}
	return ""
}

// appendKey asks the KeySource for a key. The package's own sources are
// called directly, so that the compiler sees dst does not escape and
// Shorten's key buffer stays on the stack; any other source gets a fresh
// buffer, since an interface call would move the stack buffer to the heap
// on every Shorten.
func (s *Shortener) appendKey(ctx context.Context, dst []byte) ([]byte, error) {
	switch k := s.keys.(type) {
	case *Sequence:
		return k.AppendKey(ctx, dst)
	case *Random:
		return k.AppendKey(ctx, dst)
	}
	return s.keys.AppendKey(ctx, nil)
}

// checkAlias returns ErrInvalidAlias or ErrReservedAlias if alias may not be
// used.
func (s *Shortener) checkAlias(alias string) error {
	if len(alias) < MinAliasLength || len(alias) > MaxAliasLength {
		return fmt.Errorf("%w: length %d outside [%d, %d]", ErrInvalidAlias, len(alias), MinAliasLength, MaxAliasLength)
	}
	if !validKey([]byte(alias)) {
		return fmt.Errorf("%w: only 0-9, A-Z, a-z, '_' and '-' are allowed", ErrInvalidAlias)
	}
	if s.isReserved([]byte(alias)) {
		return fmt.Errorf("%w: %q", ErrReservedAlias, alias)
	}
	return nil
}

// isReserved reports whether key is a reserved word or the Handler's
// route, ignoring case. It does not allocate.
func (s *Shortener) isReserved(key []byte) bool {
	var lower [MaxAliasLength]byte
	for i, c := range key {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	_, ok := s.reserved[string(lower[:len(key)])]
	return ok
}

// validKey reports whether k is 1-64 characters of [0-9A-Za-z_-]: the only
// keys the Shortener creates or looks up.
func validKey[T string | []byte](k T) bool {
	if len(k) == 0 || len(k) > MaxAliasLength {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Resolve returns the link under key and counts a click. It returns
// ErrNotFound for an unknown (or malformed) key, ErrGone for a link that
// expired or used up its visits, ErrClosed, or an error of the Store.
//
// A plain link costs one Store.Get and one striped in-memory counter
// increment; the click reaches the Store with the next flush. A link with
// MaxVisits also costs one Store.Visit, which decides atomically, so N
// allowed visits give exactly N successful Resolves however many race.
func (s *Shortener) Resolve(ctx context.Context, key string) (Link, error) {
	// get's steps, written out: the call and the copy of its Record
	// measured 7% of a Resolve.
	if s.closed.Load() {
		return Link{}, ErrClosed
	}
	if !validKey(key) {
		return Link{}, ErrNotFound
	}
	rec, err := s.store.Get(ctx, key)
	if err != nil {
		return Link{}, err
	}
	switch {
	case rec.Link.MaxVisits > 0:
		if rec, err = s.store.Visit(ctx, key, s.clock.Now()); err != nil {
			return Link{}, err
		}
	case !rec.Link.ExpiresAt.IsZero() && !s.clock.Now().Before(rec.Link.ExpiresAt):
		return Link{}, ErrGone
	}
	if !s.clicks.add(rec.Link.ClickKey()) {
		return Link{}, ErrClosed
	}
	return rec.Link, nil
}

// Lookup returns the link under key like Resolve, with the same errors
// (ErrGone for a link that expired or used up its visits), but counts no
// click and consumes no visit: it is for looking without following, such
// as an HTTP HEAD request, a link preview or an owner's view. It costs one
// Store.Get. It shows the URL of a link with MaxVisits without using a
// visit, so do not pass that URL on to those the limit is meant to bound
// (the [Handler] answers a HEAD of such a link as a visit instead).
func (s *Shortener) Lookup(ctx context.Context, key string) (Link, error) {
	rec, err := s.get(ctx, key)
	if err != nil {
		return Link{}, err
	}
	if s.ended(rec) {
		return Link{}, ErrGone
	}
	return rec.Link, nil
}

// get is how Lookup and head (and, written out, Resolve) begin: ErrClosed after Close,
// ErrNotFound for a malformed key without asking the Store, else the
// Store.Get.
func (s *Shortener) get(ctx context.Context, key string) (Record, error) {
	if s.closed.Load() {
		return Record{}, ErrClosed
	}
	if !validKey(key) {
		return Record{}, ErrNotFound
	}
	return s.store.Get(ctx, key)
}

// ended reports whether rec's link expired or used up its visits.
func (s *Shortener) ended(rec Record) bool {
	l := &rec.Link
	return (!l.ExpiresAt.IsZero() && !s.clock.Now().Before(l.ExpiresAt)) ||
		(l.MaxVisits > 0 && rec.Visits >= l.MaxVisits)
}

// head is what the [Handler] answers a HEAD with, from one Store.Get: a
// link with MaxVisits goes on as in Resolve (a Store.Visit and a click),
// since the HEAD's Location shows its target as a GET's would; any other
// link is checked as in Lookup and counts nothing. Reading the link once
// keeps the choice and the answer about one link: a second read could find
// another link created under key meanwhile. For the same reason a Visit
// that finds a link without MaxVisits (the limited one was deleted and a
// plain one created under key since the Get) counts no click.
func (s *Shortener) head(ctx context.Context, key string) (Link, error) {
	rec, err := s.get(ctx, key)
	if err != nil {
		return Link{}, err
	}
	if rec.Link.MaxVisits == 0 {
		if s.ended(rec) {
			return Link{}, ErrGone
		}
		return rec.Link, nil
	}
	if rec, err = s.store.Visit(ctx, key, s.clock.Now()); err != nil {
		return Link{}, err
	}
	if rec.Link.MaxVisits > 0 && !s.clicks.add(rec.Link.ClickKey()) {
		return Link{}, ErrClosed
	}
	return rec.Link, nil
}

// Delete removes the link under key, with its buffered clicks, and frees its
// URL for deduplication. It returns ErrNotFound, ErrClosed or an error of
// the Store. It costs a Store.Get (to name the link's clicks) and a
// Store.Delete. A click that a racing Resolve counts after the Delete is
// skipped by the Store, since it names the deleted link's CreatedAt, not
// that of a later link under the same key.
func (s *Shortener) Delete(ctx context.Context, key string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if !validKey(key) {
		return ErrNotFound
	}
	rec, err := s.store.Get(ctx, key)
	if err != nil {
		return err
	}
	if err := s.store.Delete(ctx, key); err != nil {
		return err
	}
	s.clicks.drop(rec.Link.ClickKey())
	return nil
}

// Stats returns the link under key with its clicks: those in the Store plus
// those still buffered, so the count is exact at the moment of the call. It
// returns ErrNotFound, ErrGone (like Resolve), ErrClosed (also for a Stats
// that races with Close), the context's error or an error of the Store.
//
// A Stats racing a Delete (or Sweep) of the link returns it with all its
// clicks or ErrNotFound (ErrGone), never with the clicks the Delete
// dropped from the buffer missing.
//
// It holds no lock while it reads the Store and waits, up to the end of
// ctx, only for a flush that is writing clicks of this very link. It costs
// one Store.Get and a look at 16 counters, and reads again (after waiting
// for it) if the flush running carries clicks of this link, if a flush
// began or ended during its read, or if a Delete or Sweep dropped buffered
// clicks of a link whose key shares its counters (one key in 64)
// meanwhile. If its first three reads all race that way, its fourth read
// is guarded: until it ends, flushes leave the clicks of the links under
// key in the buffer for a later flush, and go on with every other key's.
// The guarded read is one Store.Get, plus one after the flush running when
// the guard began if that flush carries this link's clicks, and one more
// if a drop raced it: at most six Gets in all.
func (s *Shortener) Stats(ctx context.Context, key string) (Stats, error) {
	if s.closed.Load() {
		return Stats{}, ErrClosed
	}
	if !validKey(key) {
		return Stats{}, ErrNotFound
	}
	var rec Record
	var pending int64
	for try := 1; ; try++ {
		if try > statsTries {
			var err error
			if rec, pending, err = s.readHeld(ctx, key); err != nil {
				return Stats{}, err
			}
			break
		}
		s.flushMu.Lock()
		seq, batch, done := s.flushSeq, s.inflight, s.flushDone
		s.flushMu.Unlock()
		drops := s.clicks.drops(key)
		var err error
		if rec, err = s.store.Get(ctx, key); err != nil {
			return Stats{}, err
		}
		ck := rec.Link.ClickKey()
		if _, ok := batch[ck]; ok && seq&1 == 1 {
			// A flush is adding clicks of this link: whether the record
			// has them depends on when the Store applied them.
			select {
			case <-done:
				continue
			case <-ctx.Done():
				return Stats{}, ctx.Err()
			}
		}
		pending = s.clicks.pending(ck)
		if s.clicks.drops(key) != drops {
			// A Delete or Sweep forgot buffered clicks of a link sharing
			// key's counters, perhaps of this one after the Get: read
			// again.
			continue
		}
		s.flushMu.Lock()
		same := s.flushSeq == seq
		s.flushMu.Unlock()
		if same {
			// No flush began or ended meanwhile, and the one running (if
			// any) has no clicks of this link: the record and the buffer
			// agree.
			break
		}
	}
	if s.ended(rec) {
		return Stats{}, ErrGone
	}
	l := rec.Link
	st := Stats{Link: l, Clicks: rec.Clicks + pending, Remaining: -1}
	if l.MaxVisits > 0 {
		st.Remaining = l.MaxVisits - rec.Visits
	}
	return st, nil
}

// statsTries is how many times Stats reads without guarding its link from
// flushes; a retry needs a flush to begin or end during its Store.Get (or
// a drop of buffered clicks under one of 1/64 of the keys), so with the
// default 1 s flush interval a guarded read is rare.
const statsTries = 3

// readHeld is Stats' guarded read: it reads the record under key and the
// clicks buffered for its link while flushes leave every link's clicks
// under key in the buffer, so a link deleted and created anew meanwhile is
// held as well. Drops are not held back: if one raced the read, a second
// Get tells whether the link read is still there. The hold is released
// however the read ends, a panicking
// Store included: a hold left behind would keep the key's clicks from
// every flush until Close.
func (s *Shortener) readHeld(ctx context.Context, key string) (rec Record, pending int64, err error) {
	s.flushMu.Lock()
	if s.held == nil {
		s.held = make(map[string]int)
	}
	s.held[key]++
	// Only a flush that drained before the hold, and so is running now,
	// can still be adding clicks under key.
	var batch map[ClickKey]int64
	var done chan struct{}
	if s.flushSeq&1 == 1 {
		batch, done = s.inflight, s.flushDone
	}
	s.flushMu.Unlock()
	defer func() {
		s.flushMu.Lock()
		// Close is marked before its final flush drains (under flushMu),
		// which takes held keys' clicks too.
		closed := s.closed.Load()
		if s.held[key]--; s.held[key] == 0 {
			delete(s.held, key)
		}
		s.flushMu.Unlock()
		if closed {
			err = ErrClosed // Close's final flush took the clicks
		}
	}()
	drops := s.clicks.drops(key)
	if rec, err = s.store.Get(ctx, key); err != nil {
		return Record{}, 0, err
	}
	if _, ok := batch[rec.Link.ClickKey()]; ok {
		// That flush carries clicks of this link: whether the record has
		// them depends on when the Store applied them. Once it has ended,
		// no flush can move clicks under key, so one more read is final,
		// whichever link it finds.
		select {
		case <-done:
		case <-ctx.Done():
			return Record{}, 0, ctx.Err()
		}
		drops = s.clicks.drops(key)
		if rec, err = s.store.Get(ctx, key); err != nil {
			return Record{}, 0, err
		}
	}
	pending = s.clicks.pending(rec.Link.ClickKey())
	if s.clicks.drops(key) != drops {
		// A Delete or Sweep forgot buffered clicks of a link sharing
		// key's counters, perhaps of this one after the Get. If one more
		// read finds anything but the record the Get read, the link was
		// removed after that Get: the key was free in between, which is
		// as true an answer as any. If it finds the same record (the
		// same link and stored clicks, which no flush moves while key is
		// held), either the drop was another link's, or this link was
		// deleted and made again identical, CreatedAt included (clocks
		// of two servers, or one stepped back), and then rec with the
		// pending read before the drop is the link before its Delete,
		// and after it the one made again: true either way. Comparing
		// CreatedAt alone took such a new link, with another URL, for
		// the old one and returned the old one without its dropped
		// clicks.
		again, err := s.store.Get(ctx, key)
		if err != nil {
			return Record{}, 0, err
		}
		if !sameLink(again.Link, rec.Link) || again.Clicks != rec.Clicks {
			return Record{}, 0, ErrNotFound
		}
	}
	return rec, pending, nil
}

// sameLink reports whether a and b are the same link, field by field.
func sameLink(a, b Link) bool {
	return a.Key == b.Key && a.URL == b.URL && a.Alias == b.Alias && a.MaxVisits == b.MaxVisits &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}

// ShortURL returns the short URL of key: Options.BaseURL + "/" + key.
func (s *Shortener) ShortURL(key string) string {
	return s.base + "/" + key
}

// Flush writes the buffered clicks to the Store with one AddClicks. If that
// fails the clicks stay buffered for the next flush (only those that a
// [*ClicksError] names as not added). The background flusher
// calls it every Options.FlushInterval; it is exported for callers that
// disable the flusher or want the Store current now. Flushes run one at a
// time: a Flush called during another one waits for it (or for ctx). It
// waits for nothing else: the clicks under a key whose Stats is on its
// guarded read (see [Shortener.Stats]) stay buffered for a later flush,
// unless the Shortener is closed.
func (s *Shortener) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	for s.flushSeq&1 == 1 {
		done := s.flushDone
		s.flushMu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.flushMu.Lock()
	}
	keep := s.held
	if s.closed.Load() {
		keep = nil // after Close every click goes; a guarded Stats learns it from closed
	}
	batch := s.clicks.drain(keep)
	if len(batch) == 0 {
		s.flushMu.Unlock()
		return nil
	}
	done := make(chan struct{})
	s.flushSeq++
	s.inflight, s.flushDone = batch, done
	s.flushMu.Unlock()

	// However AddClicks ends, a panic included, the flush ends: left
	// running, it would hold up every later flush, Stats and Close.
	returned := false
	defer func() {
		if !returned {
			s.clicks.restore(batch) // as for an error: counted at least once
		}
		s.flushMu.Lock()
		s.flushSeq++
		s.inflight = nil
		s.flushMu.Unlock()
		close(done)
	}()
	err := s.store.AddClicks(ctx, batch)
	returned = true
	if err != nil {
		s.clicks.restore(unappliedOf(batch, err)) // the rest is in the Store: keep it once
		if ce := (*ClicksError)(nil); errors.As(err, &ce) && ce == nil {
			// A nil *ClicksError, whose Error method would panic in a
			// caller's log: an error naming nothing.
			err = errors.New("shortid: Store.AddClicks returned a nil *ClicksError")
		}
	}
	return err
}

// Sweep removes every link that expired or ran out of visits by the
// Clock's now, and returns how many it removed. Their keys are ErrNotFound
// from then on and their URLs are free for deduplication. The background
// sweeper calls it every Options.SweepInterval; it is exported for callers
// that disable the sweeper, and for tests driving a fake clock.
func (s *Shortener) Sweep(ctx context.Context) (int, error) {
	if s.closed.Load() {
		return 0, ErrClosed
	}
	now := s.clock.Now()
	total := 0
	for {
		links, err := s.store.Sweep(ctx, now, s.sweepBatch)
		total += len(links)
		for _, l := range links {
			s.clicks.drop(l.ClickKey())
		}
		if err != nil || len(links) < s.sweepBatch {
			return total, err
		}
	}
}

// Close is CloseContext with context.Background(): it waits as long as the
// final flush takes.
func (s *Shortener) Close() error {
	return s.CloseContext(context.Background())
}

// CloseContext stops the background flusher and sweeper, then writes every
// buffered click to the Store, giving up when ctx ends. No click of a
// successful Resolve is lost: a Resolve that races with the close either
// counts its click before the final flush or returns ErrClosed (for a link
// with a visit limit, such a failed Resolve may still have used a visit).
// It returns the final flush's error; the clicks of a failed final flush
// stay buffered, and Flush may be called again to retry it. The final
// flush waits only for a flush already running (or for ctx), and takes the
// clicks of every link, so a Stats racing with it may return ErrClosed.
// Later calls of Close or CloseContext return ErrClosed. It does not close
// the Store.
func (s *Shortener) CloseContext(ctx context.Context) error {
	if !s.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	s.stopBg()
	bg := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(bg)
	}()
	select {
	case <-bg:
	case <-ctx.Done():
		// A background goroutine may be in a Store call that ignores its
		// cancelled context. The final flush still runs: it waits for a
		// flush in progress only until ctx ends, and for a sweep not at
		// all; what it cannot write stays buffered for a later Flush.
	}
	s.clicks.close()
	return s.Flush(ctx)
}
