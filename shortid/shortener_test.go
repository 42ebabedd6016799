package shortid_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/shortid"
)

var ctx = context.Background()

func shorten(t *testing.T, s *shortid.Shortener, req shortid.ShortenRequest) shortid.Link {
	t.Helper()
	l, err := s.Shorten(ctx, req)
	if err != nil {
		t.Fatalf("Shorten(%+v): %v", req, err)
	}
	return l
}

func TestShortenAndResolve(t *testing.T) {
	s, clock := newTestShortener(t, shortid.Options{})
	l := shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/a"})
	if len(l.Key) != 7 || l.Alias || l.URL != "https://example.com/a" ||
		!l.CreatedAt.Equal(clock.Now()) || !l.ExpiresAt.IsZero() || l.MaxVisits != 0 {
		t.Fatalf("Shorten = %+v", l)
	}
	got, err := s.Resolve(ctx, l.Key)
	if err != nil || got.URL != l.URL || got.Key != l.Key {
		t.Fatalf("Resolve(%q) = %+v, %v; want %+v", l.Key, got, err, l)
	}
	if u := s.ShortURL(l.Key); u != "https://sho.rt/"+l.Key {
		t.Fatalf("ShortURL = %q", u)
	}
	st, err := s.Stats(ctx, l.Key)
	if err != nil || st.Clicks != 1 || st.Remaining != -1 || st.Link.Key != l.Key {
		t.Fatalf("Stats = %+v, %v; want 1 click, unlimited", st, err)
	}
}

func TestResolveUnknownKeys(t *testing.T) {
	s, _ := newTestShortener(t, shortid.Options{})
	for _, key := range []string{"", "nope123", "../etc", "a/b", "a b", strings.Repeat("a", 65), "\x00"} {
		if _, err := s.Resolve(ctx, key); !errors.Is(err, shortid.ErrNotFound) {
			t.Errorf("Resolve(%q) = %v, want ErrNotFound", key, err)
		}
		if _, err := s.Stats(ctx, key); !errors.Is(err, shortid.ErrNotFound) {
			t.Errorf("Stats(%q) = %v, want ErrNotFound", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, shortid.ErrNotFound) {
			t.Errorf("Delete(%q) = %v, want ErrNotFound", key, err)
		}
	}
}

func TestAliases(t *testing.T) {
	s, _ := newTestShortener(t, shortid.Options{})
	bad := []struct {
		alias string
		want  error
	}{
		{"ab", shortid.ErrInvalidAlias},
		{strings.Repeat("a", 65), shortid.ErrInvalidAlias},
		{"a/b", shortid.ErrInvalidAlias},
		{"a.b.c", shortid.ErrInvalidAlias},
		{"has space", shortid.ErrInvalidAlias},
		{"ünïcode", shortid.ErrInvalidAlias},
		{"%41bc", shortid.ErrInvalidAlias},
		{"abc\n", shortid.ErrInvalidAlias},
		{"../../x", shortid.ErrInvalidAlias},
		{"api", shortid.ErrReservedAlias},
		{"ADMIN", shortid.ErrReservedAlias},
		{"Health", shortid.ErrReservedAlias},
		{"stats", shortid.ErrReservedAlias},
	}
	for _, c := range bad {
		_, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/", Alias: c.alias})
		if !errors.Is(err, c.want) || !errors.Is(err, shortid.ErrInvalidAlias) {
			t.Errorf("Shorten(alias %q) = %v, want %v", c.alias, err, c.want)
		}
	}
	for _, alias := range []string{"abc", "my-link_2026", strings.Repeat("Z", 64), "API-docs"} {
		l := shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/" + alias, Alias: alias})
		if l.Key != alias || !l.Alias {
			t.Fatalf("Shorten(alias %q) = %+v", alias, l)
		}
		if r, err := s.Resolve(ctx, alias); err != nil || r.URL != l.URL {
			t.Fatalf("Resolve(%q) = %+v, %v", alias, r, err)
		}
	}
	// Taken, even for the same URL, and keys are case-sensitive.
	_, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/abc", Alias: "abc"})
	if !errors.Is(err, shortid.ErrAliasTaken) {
		t.Fatalf("second Shorten(alias abc) = %v, want ErrAliasTaken", err)
	}
	shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/", Alias: "ABC"})
	if r, _ := s.Resolve(ctx, "abc"); r.URL != "https://example.com/abc" {
		t.Fatalf("alias abc changed to %q", r.URL)
	}
	// Custom reserved words replace the default ones.
	c, _ := newTestShortener(t, shortid.Options{Reserved: []string{"Secret"}})
	if _, err := c.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/", Alias: "SECRET"}); !errors.Is(err, shortid.ErrReservedAlias) {
		t.Fatalf("custom reserved word: %v", err)
	}
	shorten(t, c, shortid.ShortenRequest{URL: "https://example.com/", Alias: "api"})
}

// listKeys is a KeySource that hands out fixed keys, then fails.
type listKeys struct {
	mu   sync.Mutex
	keys []string
}

func (k *listKeys) AppendKey(_ context.Context, dst []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.keys) == 0 {
		return dst, errors.New("out of keys")
	}
	key := k.keys[0]
	k.keys = k.keys[1:]
	return append(dst, key...), nil
}

func TestGeneratedKeySkipsTakenAndReserved(t *testing.T) {
	keys := &listKeys{keys: []string{"Healthz", "abcdefg", "hijklmn", "abcdefg"}}
	s, _ := newTestShortener(t, shortid.Options{Keys: keys})
	shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/alias", Alias: "abcdefg"})
	l := shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/gen"})
	if l.Key != "hijklmn" {
		t.Fatalf("generated key = %q, want hijklmn (Healthz reserved, abcdefg taken by the alias)", l.Key)
	}
	if r, _ := s.Resolve(ctx, "abcdefg"); r.URL != "https://example.com/alias" {
		t.Fatalf("the alias now resolves to %q", r.URL)
	}
	// A KeySource error is returned as is.
	keys.keys = nil
	if _, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/x"}); err == nil || err.Error() != "out of keys" {
		t.Fatalf("Shorten with an exhausted KeySource = %v", err)
	}
	// A KeySource that hands out bad keys is refused.
	for _, bad := range []string{"a/b", "a.b", "", strings.Repeat("a", shortid.MaxAliasLength+1)} {
		keys.keys = []string{bad}
		if _, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/x"}); !errors.Is(err, shortid.ErrInvalidKeySource) {
			t.Fatalf("Shorten with generated key %q = %v, want ErrInvalidKeySource", bad, err)
		}
	}
	// One that only hands out taken keys gives up.
	keys.keys = nil
	for range 100 {
		keys.keys = append(keys.keys, "hijklmn")
	}
	if _, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/y"}); !errors.Is(err, shortid.ErrNoFreeKey) {
		t.Fatalf("Shorten with only taken keys = %v, want ErrNoFreeKey", err)
	}
}

// TestHandlerRoutesAlwaysReserved checks that the Handler's own route name
// "shorten" is neither a generated key nor an alias, whatever
// Options.Reserved says: a link under it could never be followed through
// the Handler, whose POST /shorten route answers GET /shorten with 405.
func TestHandlerRoutesAlwaysReserved(t *testing.T) {
	for _, reserved := range [][]string{{}, {"secret"}} {
		keys := &listKeys{keys: []string{"shorten", "Shorten", "abcdefg"}}
		s, _ := newTestShortener(t, shortid.Options{Reserved: reserved, Keys: keys})
		if l := shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/gen"}); l.Key != "abcdefg" {
			t.Errorf("Reserved %q: generated key = %q, want abcdefg (shorten and Shorten are routes)", reserved, l.Key)
		}
		for _, alias := range []string{"shorten", "SHORTEN"} {
			_, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/", Alias: alias})
			if !errors.Is(err, shortid.ErrReservedAlias) || !errors.Is(err, shortid.ErrInvalidAlias) {
				t.Errorf("Reserved %q: Shorten(alias %q) = %v, want ErrReservedAlias", reserved, alias, err)
			}
		}
	}
}

// TestNewRefusesKeyAlphabet checks that New refuses a Sequence or Random
// drawing on characters a key may not hold ('.' and '~' are unreserved in
// URLs, so NewCodec takes them): Shorten used to fail on the keys that
// held one, a third of them with this alphabet, as internal errors.
func TestNewRefusesKeyAlphabet(t *testing.T) {
	const ok = "abcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, alphabet := range []string{ok + ".", ok + "~", "01+"} {
		seq, err := shortid.NewSequence(shortid.NewMemCounter(0), shortid.SequenceOptions{Alphabet: alphabet, Length: 6})
		if err != nil {
			t.Fatal(err)
		}
		rnd, err := shortid.NewRandom(shortid.RandomOptions{Alphabet: alphabet})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []shortid.KeySource{seq, rnd} {
			if _, err := shortid.New(shortid.NewMemStore(), shortid.Options{Keys: k}); !errors.Is(err, shortid.ErrInvalidAlphabet) {
				t.Errorf("New with a %T over %q = %v, want ErrInvalidAlphabet", k, alphabet, err)
			}
		}
	}
	seq, err := shortid.NewSequence(shortid.NewMemCounter(0), shortid.SequenceOptions{Alphabet: ok})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := newTestShortener(t, shortid.Options{Keys: seq})
	for i := range 200 {
		shorten(t, s, shortid.ShortenRequest{URL: fmt.Sprintf("https://example.com/%d", i)})
	}
}

func TestDedup(t *testing.T) {
	s, _ := newTestShortener(t, shortid.Options{})
	a := shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/page"})
	for _, u := range []string{"https://example.com/page", "HTTPS://EXAMPLE.COM:443/page", "https://example.com./page"} {
		if l := shorten(t, s, shortid.ShortenRequest{URL: u}); l.Key != a.Key {
			t.Errorf("plain Shorten(%q) = %q, want the existing %q", u, l.Key, a.Key)
		}
	}
	if l := shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/page?"}); l.Key == a.Key {
		t.Errorf("a different URL reused key %q", a.Key)
	}
	// Requests with options never return, change or remove another link.
	seen := map[string]bool{a.Key: true}
	for _, req := range []shortid.ShortenRequest{
		{URL: "https://example.com/page", TTL: time.Hour},
		{URL: "https://example.com/page", TTL: time.Hour},
		{URL: "https://example.com/page", MaxVisits: 5},
		{URL: "https://example.com/page", Alias: "page"},
	} {
		l := shorten(t, s, req)
		if seen[l.Key] {
			t.Fatalf("Shorten(%+v) returned the existing key %q", req, l.Key)
		}
		seen[l.Key] = true
	}
	if l := shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/page"}); l.Key != a.Key {
		t.Fatalf("plain Shorten after optioned ones = %q, want %q", l.Key, a.Key)
	}
	// Delete frees the URL.
	if err := s.Delete(ctx, a.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(ctx, a.Key); !errors.Is(err, shortid.ErrNotFound) {
		t.Fatalf("Resolve after Delete = %v", err)
	}
	if err := s.Delete(ctx, a.Key); !errors.Is(err, shortid.ErrNotFound) {
		t.Fatalf("second Delete = %v", err)
	}
	if l := shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/page"}); l.Key == a.Key || seen[l.Key] {
		t.Fatalf("plain Shorten after Delete = %q, want a new key", l.Key)
	}
}

func TestInvalidRequests(t *testing.T) {
	s, _ := newTestShortener(t, shortid.Options{})
	for _, req := range []shortid.ShortenRequest{
		{URL: "https://example.com/", TTL: -time.Second},
		{URL: "https://example.com/", TTL: shortid.MaxTTL + 1},
		{URL: "https://example.com/", MaxVisits: -1},
	} {
		if _, err := s.Shorten(ctx, req); !errors.Is(err, shortid.ErrInvalidRequest) {
			t.Errorf("Shorten(%+v) = %v, want ErrInvalidRequest", req, err)
		}
	}
	shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/", TTL: shortid.MaxTTL})
}

func TestNewOptions(t *testing.T) {
	for _, base := range []string{"sho.rt", "ftp://sho.rt", "https://u@sho.rt", "https://sho.rt/?q", "https://sho.rt/#f", "https://", "http://[::1"} {
		if _, err := shortid.New(shortid.NewMemStore(), shortid.Options{BaseURL: base}); !errors.Is(err, shortid.ErrInvalidURL) {
			t.Errorf("New(BaseURL %q) = %v, want ErrInvalidURL", base, err)
		}
	}
	if _, err := shortid.New(shortid.NewMemStore(), shortid.Options{OwnHosts: []string{"a b"}}); !errors.Is(err, shortid.ErrInvalidURL) {
		t.Errorf("New(OwnHosts a b) = %v, want ErrInvalidURL", err)
	}
	s, err := shortid.New(shortid.NewMemStore(), shortid.Options{BaseURL: "https://sho.rt/s/", FlushInterval: -1, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if u := s.ShortURL("abc"); u != "https://sho.rt/s/abc" {
		t.Errorf("ShortURL = %q", u)
	}
	defer func() {
		if recover() == nil {
			t.Error("New(nil store) did not panic")
		}
	}()
	shortid.New(nil, shortid.Options{})
}

func TestTTL(t *testing.T) {
	s, clock := newTestShortener(t, shortid.Options{})
	plain := shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/"})
	l := shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/", TTL: time.Hour})
	if !l.ExpiresAt.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("ExpiresAt = %v, want now+1h", l.ExpiresAt)
	}
	clock.Advance(time.Hour - time.Nanosecond)
	if _, err := s.Resolve(ctx, l.Key); err != nil {
		t.Fatalf("Resolve 1ns before expiry: %v", err)
	}
	if n, _ := s.Sweep(ctx); n != 0 {
		t.Fatalf("Sweep before expiry removed %d", n)
	}
	clock.Advance(time.Nanosecond)
	if _, err := s.Resolve(ctx, l.Key); !errors.Is(err, shortid.ErrGone) {
		t.Fatalf("Resolve at expiry = %v, want ErrGone", err)
	}
	if _, err := s.Stats(ctx, l.Key); !errors.Is(err, shortid.ErrGone) {
		t.Fatalf("Stats at expiry = %v, want ErrGone", err)
	}
	if n, err := s.Sweep(ctx); n != 1 || err != nil {
		t.Fatalf("Sweep = %d, %v; want 1", n, err)
	}
	if _, err := s.Resolve(ctx, l.Key); !errors.Is(err, shortid.ErrNotFound) {
		t.Fatalf("Resolve after Sweep = %v, want ErrNotFound", err)
	}
	if r, err := s.Resolve(ctx, plain.Key); err != nil || r.URL != plain.URL {
		t.Fatalf("the plain link of the same URL: %+v, %v", r, err)
	}
}

func TestMaxVisits(t *testing.T) {
	s, _ := newTestShortener(t, shortid.Options{})
	l := shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/", MaxVisits: 3})
	for i := int64(1); i <= 3; i++ {
		if _, err := s.Resolve(ctx, l.Key); err != nil {
			t.Fatalf("visit %d: %v", i, err)
		}
		if i < 3 {
			st, err := s.Stats(ctx, l.Key)
			if err != nil || st.Remaining != 3-i || st.Clicks != i {
				t.Fatalf("Stats after %d visits = %+v, %v", i, st, err)
			}
		}
	}
	if _, err := s.Resolve(ctx, l.Key); !errors.Is(err, shortid.ErrGone) {
		t.Fatalf("fourth Resolve = %v, want ErrGone", err)
	}
	if _, err := s.Stats(ctx, l.Key); !errors.Is(err, shortid.ErrGone) {
		t.Fatalf("Stats when exhausted = %v, want ErrGone", err)
	}
	if n, _ := s.Sweep(ctx); n != 1 {
		t.Fatalf("Sweep removed %d, want 1", n)
	}
	if _, err := s.Resolve(ctx, l.Key); !errors.Is(err, shortid.ErrNotFound) {
		t.Fatalf("Resolve after Sweep = %v, want ErrNotFound", err)
	}
}

func TestConcurrentSameAlias(t *testing.T) {
	s, _ := newTestShortener(t, shortid.Options{})
	const g = 8
	var wins, taken atomic.Int32
	var wg sync.WaitGroup
	for i := range g {
		wg.Go(func() {
			_, err := s.Shorten(ctx, shortid.ShortenRequest{URL: fmt.Sprintf("https://example.com/%d", i), Alias: "launch"})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, shortid.ErrAliasTaken):
				taken.Add(1)
			default:
				t.Errorf("Shorten: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || taken.Load() != g-1 {
		t.Fatalf("%d winners and %d ErrAliasTaken, want 1 and %d", wins.Load(), taken.Load(), g-1)
	}
}

func TestConcurrentSameURL(t *testing.T) {
	store := &createLog{Store: shortid.NewMemStore()}
	s, err := shortid.New(store, shortid.Options{FlushInterval: -1, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const g = 8
	keys := make([]string, g)
	var wg sync.WaitGroup
	for i := range g {
		wg.Go(func() {
			l, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/same"})
			if err != nil {
				t.Errorf("Shorten: %v", err)
			}
			keys[i] = l.Key
		})
	}
	wg.Wait()
	for _, k := range keys {
		if k != keys[0] {
			t.Fatalf("concurrent Shorten of one URL gave keys %v", keys)
		}
	}
	// Only the winner's link is stored: of every key the racing Creates
	// tried, only keys[0] names a link.
	tried := store.tried()
	if len(tried) < g {
		t.Fatalf("%d Creates for %d Shortens", len(tried), g)
	}
	for _, k := range tried {
		_, err := store.Get(ctx, k)
		if k == keys[0] && err != nil {
			t.Fatalf("the winner %s is not stored: %v", k, err)
		}
		if k != keys[0] && !errors.Is(err, shortid.ErrNotFound) {
			t.Fatalf("a losing candidate %s is stored (Get: %v)", k, err)
		}
	}
	// Deleting the winner frees the URL: the next Shorten makes a new link.
	if err := s.Delete(ctx, keys[0]); err != nil {
		t.Fatal(err)
	}
	l, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/same"})
	if err != nil || l.Key == keys[0] {
		t.Fatalf("Shorten after deleting the winner = %+v, %v; want a new key", l, err)
	}
	if got, err := s.Resolve(ctx, l.Key); err != nil || got.URL != "https://example.com/same" {
		t.Fatalf("Resolve(%s) = %+v, %v", l.Key, got, err)
	}
}

// createLog records the keys of every Create.
type createLog struct {
	shortid.Store
	mu   sync.Mutex
	keys []string
}

func (c *createLog) Create(ctx context.Context, l shortid.Link, dedup bool) (shortid.Link, error) {
	c.mu.Lock()
	c.keys = append(c.keys, l.Key)
	c.mu.Unlock()
	return c.Store.Create(ctx, l, dedup)
}

func (c *createLog) tried() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.keys)
}

func TestConcurrentMaxVisitsExact(t *testing.T) {
	store := shortid.NewMemStore()
	s, err := shortid.New(store, shortid.Options{FlushInterval: time.Millisecond, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	const max, g, tries = 100, 8, 50
	l := shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/", MaxVisits: max})
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range g {
		wg.Go(func() {
			for range tries {
				_, err := s.Resolve(ctx, l.Key)
				switch {
				case err == nil:
					ok.Add(1)
				case !errors.Is(err, shortid.ErrGone):
					t.Errorf("Resolve: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if ok.Load() != max {
		t.Fatalf("%d Resolves succeeded, want exactly %d", ok.Load(), max)
	}
	if r, _ := store.Get(ctx, l.Key); r.Clicks != max || r.Visits != max {
		t.Fatalf("stored clicks %d and visits %d, want %d", r.Clicks, r.Visits, max)
	}
}

// TestClicksExactAfterClose resolves from many goroutines while the flusher
// runs and while Close happens; every successful Resolve must be counted.
func TestClicksExactAfterClose(t *testing.T) {
	store := shortid.NewMemStore()
	s, err := shortid.New(store, shortid.Options{FlushInterval: time.Millisecond, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	const nkeys, g = 10, 8
	keys := make([]string, nkeys)
	for i := range keys {
		keys[i] = shorten(t, s, shortid.ShortenRequest{URL: fmt.Sprintf("https://example.com/%d", i)}).Key
	}
	perKey := make([]atomic.Int64, nkeys)
	var started sync.WaitGroup
	var wg sync.WaitGroup
	for w := range g {
		started.Add(1)
		wg.Go(func() {
			for i := 0; ; i++ {
				if i == 1000 {
					started.Done()
				}
				k := (w + i) % nkeys
				_, err := s.Resolve(ctx, keys[k])
				if errors.Is(err, shortid.ErrClosed) {
					if i < 1000 {
						started.Done()
					}
					return
				}
				if err != nil {
					t.Errorf("Resolve: %v", err)
					return
				}
				perKey[k].Add(1)
			}
		})
	}
	started.Wait() // every goroutine has resolved 1000 times; now close under load
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, k := range keys {
		r, err := store.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if r.Clicks != perKey[i].Load() {
			t.Errorf("key %d: %d clicks stored, %d Resolves succeeded", i, r.Clicks, perKey[i].Load())
		}
	}
}

func TestStatsCountsPendingClicks(t *testing.T) {
	store := shortid.NewMemStore()
	s, err := shortid.New(store, shortid.Options{FlushInterval: -1, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/"})
	clicks := func() int64 {
		t.Helper()
		st, err := s.Stats(ctx, l.Key)
		if err != nil {
			t.Fatal(err)
		}
		return st.Clicks
	}
	for range 3 {
		s.Resolve(ctx, l.Key)
	}
	if r, _ := store.Get(ctx, l.Key); r.Clicks != 0 || clicks() != 3 {
		t.Fatalf("before Flush: stored %d, Stats %d; want 0 and 3", r.Clicks, clicks())
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s.Resolve(ctx, l.Key)
	if r, _ := store.Get(ctx, l.Key); r.Clicks != 3 || clicks() != 4 {
		t.Fatalf("after Flush: stored %d, Stats %d; want 3 and 4", r.Clicks, clicks())
	}
}

// flakyStore fails AddClicks while fail is set.
type flakyStore struct {
	shortid.Store
	fail atomic.Bool
}

func (f *flakyStore) AddClicks(ctx context.Context, c map[shortid.ClickKey]int64) error {
	if f.fail.Load() {
		return errors.New("store down")
	}
	return f.Store.AddClicks(ctx, c)
}

func TestFailedFlushKeepsClicks(t *testing.T) {
	store := &flakyStore{Store: shortid.NewMemStore()}
	s, err := shortid.New(store, shortid.Options{FlushInterval: -1, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l := shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/"})
	s.Resolve(ctx, l.Key)
	s.Resolve(ctx, l.Key)
	store.fail.Store(true)
	if err := s.Flush(ctx); err == nil {
		t.Fatal("Flush to a failing store succeeded")
	}
	if st, _ := s.Stats(ctx, l.Key); st.Clicks != 2 {
		t.Fatalf("Stats after a failed flush = %d clicks, want 2", st.Clicks)
	}
	store.fail.Store(false)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if r, _ := store.Get(ctx, l.Key); r.Clicks != 2 {
		t.Fatalf("stored clicks = %d, want 2", r.Clicks)
	}
}

func TestClosed(t *testing.T) {
	s, _ := newTestShortener(t, shortid.Options{})
	l := shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, shortid.ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
	if _, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/"}); !errors.Is(err, shortid.ErrClosed) {
		t.Errorf("Shorten = %v", err)
	}
	if _, err := s.Resolve(ctx, l.Key); !errors.Is(err, shortid.ErrClosed) {
		t.Errorf("Resolve = %v", err)
	}
	if _, err := s.Stats(ctx, l.Key); !errors.Is(err, shortid.ErrClosed) {
		t.Errorf("Stats = %v", err)
	}
	if err := s.Delete(ctx, l.Key); !errors.Is(err, shortid.ErrClosed) {
		t.Errorf("Delete = %v", err)
	}
	if _, err := s.Sweep(ctx); !errors.Is(err, shortid.ErrClosed) {
		t.Errorf("Sweep = %v", err)
	}
}

func TestDeleteDropsPendingClicks(t *testing.T) {
	s, _ := newTestShortener(t, shortid.Options{})
	shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/1", Alias: "promo"})
	s.Resolve(ctx, "promo")
	if err := s.Delete(ctx, "promo"); err != nil {
		t.Fatal(err)
	}
	shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/2", Alias: "promo"})
	s.Flush(ctx)
	if st, _ := s.Stats(ctx, "promo"); st.Clicks != 0 {
		t.Fatalf("a re-created alias inherited %d clicks", st.Clicks)
	}
}

func TestDefaultKeysUseTheStoreCounter(t *testing.T) {
	store := shortid.NewMemStore()
	s, err := shortid.New(store, shortid.Options{FlushInterval: -1, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if next, _ := store.Lease(ctx, 0); next != 0 {
		t.Fatalf("store counter at %d before any Shorten", next)
	}
	shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/"})
	if next, _ := store.Lease(ctx, 0); next == 0 {
		t.Fatal("the default key source did not lease from the store's counter")
	}
}

// TestResolveRacingDeleteDoesNotCountForNewLink holds a Resolve between its
// Get and its click while the link is deleted and its alias created again:
// the late click belongs to the deleted link and must not reach the new one.
func TestResolveRacingDeleteDoesNotCountForNewLink(t *testing.T) {
	clock := newFakeClock()
	store := &countingStore{Store: shortid.NewMemStore()}
	s, err := shortid.New(store, shortid.Options{Clock: clock, FlushInterval: -1, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/1", Alias: "promo"})
	store.holdGet = make(chan chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := s.Resolve(ctx, "promo"); err != nil {
			t.Errorf("held Resolve: %v", err)
		}
	})
	release := <-store.holdGet // the Resolve has read the old link
	store.holdGet = nil
	if err := s.Delete(ctx, "promo"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/2", Alias: "promo"})
	close(release)
	wg.Wait()
	if st, err := s.Stats(ctx, "promo"); err != nil || st.Clicks != 0 {
		t.Fatalf("Stats before Flush = %+v, %v; want 0 clicks", st, err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Stats(ctx, "promo"); err != nil || st.Clicks != 0 {
		t.Fatalf("Stats after Flush = %+v, %v; want 0 clicks: the new link got the old one's click", st, err)
	}
}

// TestSlowFlushBlocksNothingElse holds a flush inside the Store's AddClicks
// and checks that Delete and Stats of other links go on, that Stats of a
// link in the held batch waits (bounded by its context), and that the
// counts are exact once the flush ends.
func TestSlowFlushBlocksNothingElse(t *testing.T) {
	store := &addHookStore{Store: shortid.NewMemStore()}
	s, err := shortid.New(store, shortid.Options{Clock: newFakeClock(), FlushInterval: -1, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, a := range []string{"hot", "cold", "gone"} {
		shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/" + a, Alias: a})
	}
	s.Resolve(ctx, "hot")
	s.Resolve(ctx, "hot")
	entered, release := make(chan struct{}), make(chan struct{})
	store.hook = func() {
		close(entered)
		<-release
	}
	flushed := make(chan error, 1)
	go func() { flushed <- s.Flush(ctx) }()
	<-entered // the batch with "hot" is applied but AddClicks has not returned
	store.hook = nil
	s.Resolve(ctx, "cold")
	if err := s.Delete(ctx, "gone"); err != nil {
		t.Fatalf("Delete during a held flush: %v", err)
	}
	if st, err := s.Stats(ctx, "cold"); err != nil || st.Clicks != 1 {
		t.Fatalf("Stats(cold) during a held flush = %+v, %v; want 1 click", st, err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := s.Stats(short, "hot"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stats(hot) during a held flush of its clicks = %v, want to wait until the deadline", err)
	}
	close(release)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if st, err := s.Stats(ctx, "hot"); err != nil || st.Clicks != 2 {
		t.Fatalf("Stats(hot) after the flush = %+v, %v; want 2 clicks", st, err)
	}
}

// TestCloseContextGivesUpOnAHungStore closes over a Store whose AddClicks
// hangs: CloseContext returns at its deadline and a later Flush delivers.
func TestCloseContextGivesUpOnAHungStore(t *testing.T) {
	store := &ctxStore{Store: shortid.NewMemStore()}
	s, err := shortid.New(store, shortid.Options{FlushInterval: -1, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	l := shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/"})
	s.Resolve(ctx, l.Key)
	store.hang.Store(true)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := s.CloseContext(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CloseContext over a hung store = %v, want DeadlineExceeded", err)
	}
	store.hang.Store(false)
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush after a failed final flush: %v", err)
	}
	if r, _ := store.Get(ctx, l.Key); r.Clicks != 1 {
		t.Fatalf("stored clicks after the retried flush = %d, want 1", r.Clicks)
	}
}

// ctxStore's AddClicks blocks until its context ends while hang is set.
type ctxStore struct {
	shortid.Store
	hang atomic.Bool
}

func (c *ctxStore) AddClicks(ctx context.Context, clicks map[shortid.ClickKey]int64) error {
	if c.hang.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	return c.Store.AddClicks(ctx, clicks)
}

func TestLookupCountsNothing(t *testing.T) {
	clock := newFakeClock()
	s, err := shortid.New(shortid.NewMemStore(), shortid.Options{BaseURL: "https://sho.rt", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	l, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/l", MaxVisits: 2, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		got, err := s.Lookup(ctx, l.Key)
		if err != nil || got.URL != l.URL || got.Key != l.Key {
			t.Fatalf("Lookup = %+v, %v", got, err)
		}
	}
	st, err := s.Stats(ctx, l.Key)
	if err != nil || st.Clicks != 0 || st.Remaining != 2 {
		t.Fatalf("after Lookups: %+v, %v; want 0 clicks, 2 remaining", st, err)
	}
	for range 2 {
		if _, err := s.Resolve(ctx, l.Key); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Lookup(ctx, l.Key); !errors.Is(err, shortid.ErrGone) {
		t.Errorf("Lookup of a used-up link: %v, want shortid.ErrGone", err)
	}
	m, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/m", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if _, err := s.Lookup(ctx, m.Key); !errors.Is(err, shortid.ErrGone) {
		t.Errorf("Lookup of an expired link: %v, want shortid.ErrGone", err)
	}
	for _, k := range []string{"nosuch", "a.b", ""} {
		if _, err := s.Lookup(ctx, k); !errors.Is(err, shortid.ErrNotFound) {
			t.Errorf("Lookup(%q): %v, want shortid.ErrNotFound", k, err)
		}
	}
	s.Close()
	if _, err := s.Lookup(ctx, l.Key); !errors.Is(err, shortid.ErrClosed) {
		t.Errorf("Lookup after Close: %v, want shortid.ErrClosed", err)
	}
}

func TestShortenCreated(t *testing.T) {
	clock := newFakeClock()
	s, err := shortid.New(shortid.NewMemStore(), shortid.Options{BaseURL: "https://sho.rt", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	plain := shortid.ShortenRequest{URL: "https://example.com/p"}
	first, created, err := s.ShortenCreated(ctx, plain)
	if err != nil || !created {
		t.Fatalf("first = %+v, %v, %v; want created", first, created, err)
	}
	clock.Advance(time.Hour)
	again, created, err := s.ShortenCreated(ctx, plain)
	if err != nil || created || again != first {
		t.Errorf("again = %+v, %v, %v; want the first link, not created", again, created, err)
	}
	viaShorten, err := s.Shorten(ctx, plain)
	if err != nil || viaShorten != first {
		t.Errorf("Shorten = %+v, %v; want the first link", viaShorten, err)
	}
	for _, req := range []shortid.ShortenRequest{
		{URL: plain.URL, TTL: time.Minute},
		{URL: plain.URL, MaxVisits: 1},
		{URL: plain.URL, Alias: "mine"},
		{URL: "https://example.com/other"},
	} {
		if l, created, err := s.ShortenCreated(ctx, req); err != nil || !created || l.Key == first.Key {
			t.Errorf("%+v: %+v, %v, %v; want a new link", req, l, created, err)
		}
	}
	if _, created, err := s.ShortenCreated(ctx, shortid.ShortenRequest{URL: plain.URL, Alias: "mine"}); created || !errors.Is(err, shortid.ErrAliasTaken) {
		t.Errorf("taken alias: %v, %v; want not created, ErrAliasTaken", created, err)
	}
	if _, created, err := s.ShortenCreated(ctx, shortid.ShortenRequest{URL: "ftp://x"}); created || err == nil {
		t.Errorf("bad URL: %v, %v; want not created and an error", created, err)
	}
}

// TestClicksOfAliasRecreatedAtAnEarlierTime checks the clicks of a link
// whose key an older link used, when the new link's CreatedAt is the
// earlier one: two Shorteners share a store and the second one's clock is
// behind (or stepped back). The buffer used to keep the old link's counter
// and drop the new link's clicks until two flushes had passed.
func TestClicksOfAliasRecreatedAtAnEarlierTime(t *testing.T) {
	store := shortid.NewMemStore()
	ahead, behind := newFakeClock(), newFakeClock()
	ahead.Advance(time.Second)
	mk := func(c shortid.Clock) *shortid.Shortener {
		s, err := shortid.New(store, shortid.Options{Clock: c, FlushInterval: -1, SweepInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := mk(ahead), mk(behind)
	req := shortid.ShortenRequest{URL: "https://example.com/", Alias: "launch"}
	shorten(t, a, req)
	if _, err := b.Resolve(ctx, "launch"); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, "launch"); err != nil {
		t.Fatal(err)
	}
	shorten(t, b, req)
	for range 2 {
		if _, err := b.Resolve(ctx, "launch"); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := b.Stats(ctx, "launch"); err != nil || st.Clicks != 2 {
		t.Fatalf("Stats of the new link = %+v, %v; want 2 clicks", st, err)
	}
	for range 2 {
		if err := b.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if r, err := store.Get(ctx, "launch"); err != nil || r.Clicks != 2 {
		t.Fatalf("stored clicks of the new link = %d, %v; want 2", r.Clicks, err)
	}
}
