// Package storetest is a conformance suite for implementations of
// [shortid.Store]. A backend passes it by calling [Run] from one of its tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) shortid.Store { return newTestBackend(t) })
//	}
//
// newStore must return an empty store for every call; the suite creates one
// per subtest and runs concurrency cases under whatever -race setting the
// test binary uses. [RunCounter] does the same for a [shortid.Counter]. It
// depends on the standard library only.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/shortid"
)

// base is the time every case starts from. It has a nanosecond part so that
// stores that round times lose in the comparisons.
var base = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

// Run runs the whole suite against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) shortid.Store) {
	cases := []struct {
		name string
		run  func(t *testing.T, s shortid.Store)
	}{
		{"CreateGet", testCreateGet},
		{"CreateExists", testCreateExists},
		{"Missing", testMissing},
		{"Dedup", testDedup},
		{"DedupFreedByDelete", testDedupFreedByDelete},
		{"DedupFreedBySweep", testDedupFreedBySweep},
		{"DedupFreedBySweepOfExhausted", testDedupFreedBySweepOfExhausted},
		{"CreateExpired", testCreateExpired},
		{"VisitMaxVisits", testVisitMaxVisits},
		{"VisitExpiry", testVisitExpiry},
		{"Sweep", testSweep},
		{"SweepLimit", testSweepLimit},
		{"AddClicks", testAddClicks},
		{"ConcurrentSameKey", testConcurrentSameKey},
		{"ConcurrentSameURL", testConcurrentSameURL},
		{"ConcurrentDeleteAndDedup", testConcurrentDeleteAndDedup},
		{"ConcurrentVisits", testConcurrentVisits},
		{"ConcurrentClicks", testConcurrentClicks},
		{"ConcurrentChurn", testConcurrentChurn},
		{"Model", testModel},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newStore(t))
		})
	}
}

func link(key, url string) shortid.Link {
	return shortid.Link{Key: key, URL: url, CreatedAt: base}
}

// ck names the link that link(key, ...) creates.
func ck(key string) shortid.ClickKey {
	return link(key, "").ClickKey()
}

func sameLink(a, b shortid.Link) bool {
	return a.Key == b.Key && a.URL == b.URL && a.Alias == b.Alias &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.ExpiresAt.IsZero() == b.ExpiresAt.IsZero() && a.MaxVisits == b.MaxVisits
}

func mustCreate(t *testing.T, s shortid.Store, l shortid.Link, dedup bool) shortid.Link {
	t.Helper()
	got, err := s.Create(context.Background(), l, dedup)
	if err != nil {
		t.Fatalf("Create(%q, %q, dedup=%v) error: %v", l.Key, l.URL, dedup, err)
	}
	return got
}

func mustGet(t *testing.T, s shortid.Store, key string) shortid.Record {
	t.Helper()
	r, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q) error: %v", key, err)
	}
	return r
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s error = %v, want %v", what, err, want)
	}
}

func testCreateGet(t *testing.T, s shortid.Store) {
	ctx := context.Background()
	in := shortid.Link{
		Key: "abc_XYZ-9", URL: "https://example.com/a?b=c#d", Alias: true,
		CreatedAt: base, ExpiresAt: base.Add(time.Hour), MaxVisits: 5,
	}
	got := mustCreate(t, s, in, false)
	if !sameLink(got, in) {
		t.Fatalf("Create returned %+v, want %+v", got, in)
	}
	r := mustGet(t, s, in.Key)
	if !sameLink(r.Link, in) || r.Clicks != 0 || r.Visits != 0 {
		t.Fatalf("Get = %+v, want %+v with zero counters", r, in)
	}
	plain := link("plain1", "https://example.com/")
	mustCreate(t, s, plain, true)
	if r := mustGet(t, s, "plain1"); !sameLink(r.Link, plain) || !r.Link.ExpiresAt.IsZero() {
		t.Fatalf("Get(plain1) = %+v, want %+v", r.Link, plain)
	}
	if _, err := s.Get(ctx, "ABC_xyz-9"); !errors.Is(err, shortid.ErrNotFound) {
		t.Fatalf("Get with other case = %v, want ErrNotFound: keys are case-sensitive", err)
	}
}

func testCreateExists(t *testing.T, s shortid.Store) {
	ctx := context.Background()
	first := link("taken", "https://one.example/")
	mustCreate(t, s, first, false)
	for _, dedup := range []bool{false, true} {
		_, err := s.Create(ctx, link("taken", "https://two.example/"), dedup)
		wantErr(t, fmt.Sprintf("second Create(dedup=%v)", dedup), err, shortid.ErrExists)
	}
	if r := mustGet(t, s, "taken"); !sameLink(r.Link, first) {
		t.Fatalf("after failed creates Get = %+v, want %+v", r.Link, first)
	}
	// The failed dedup create must not have left a dedup entry behind.
	got := mustCreate(t, s, link("fresh", "https://two.example/"), true)
	if got.Key != "fresh" {
		t.Fatalf("dedup Create after failed one returned key %q, want fresh", got.Key)
	}
}

func testMissing(t *testing.T, s shortid.Store) {
	ctx := context.Background()
	_, err := s.Get(ctx, "nope")
	wantErr(t, "Get", err, shortid.ErrNotFound)
	wantErr(t, "Delete", s.Delete(ctx, "nope"), shortid.ErrNotFound)
	_, err = s.Visit(ctx, "nope", base)
	wantErr(t, "Visit", err, shortid.ErrNotFound)
	if err := s.AddClicks(ctx, map[shortid.ClickKey]int64{ck("nope"): 3}); err != nil {
		t.Fatalf("AddClicks to a missing key: %v", err)
	}
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, shortid.ErrNotFound) {
		t.Fatalf("AddClicks created a link: Get = %v", err)
	}
	mustCreate(t, s, link("once", "https://example.com/"), false)
	if err := s.Delete(ctx, "once"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantErr(t, "second Delete", s.Delete(ctx, "once"), shortid.ErrNotFound)
	_, err = s.Get(ctx, "once")
	wantErr(t, "Get after Delete", err, shortid.ErrNotFound)
}

func testDedup(t *testing.T, s shortid.Store) {
	ctx := context.Background()
	const u = "https://example.com/page"
	a := mustCreate(t, s, link("aaaa", u), true)
	got := mustCreate(t, s, link("bbbb", u), true)
	if !sameLink(got, a) {
		t.Fatalf("dedup Create returned %+v, want the existing %+v", got, a)
	}
	_, err := s.Get(ctx, "bbbb")
	wantErr(t, "Get of the deduplicated key", err, shortid.ErrNotFound)
	// Without dedup the same URL gets a link of its own, and does not
	// take over the dedup entry.
	if c := mustCreate(t, s, link("cccc", u), false); c.Key != "cccc" {
		t.Fatalf("Create without dedup returned key %q, want cccc", c.Key)
	}
	if got := mustCreate(t, s, link("dddd", u), true); got.Key != "aaaa" {
		t.Fatalf("dedup Create after a plain one returned %q, want aaaa", got.Key)
	}
	// Deleting the non-dedup link leaves the dedup entry alone.
	if err := s.Delete(ctx, "cccc"); err != nil {
		t.Fatal(err)
	}
	if got := mustCreate(t, s, link("eeee", u), true); got.Key != "aaaa" {
		t.Fatalf("dedup Create after deleting another link returned %q, want aaaa", got.Key)
	}
	// Another URL is another entry.
	if got := mustCreate(t, s, link("ffff", u+"/"), true); got.Key != "ffff" {
		t.Fatalf("dedup Create of another URL returned %q, want ffff", got.Key)
	}
}

func testDedupFreedByDelete(t *testing.T, s shortid.Store) {
	ctx := context.Background()
	const u = "https://example.com/x"
	mustCreate(t, s, link("first", u), true)
	if err := s.Delete(ctx, "first"); err != nil {
		t.Fatal(err)
	}
	if got := mustCreate(t, s, link("second", u), true); got.Key != "second" {
		t.Fatalf("dedup Create after Delete returned %q, want second", got.Key)
	}
}

func testDedupFreedBySweep(t *testing.T, s shortid.Store) {
	ctx := context.Background()
	const u = "https://example.com/ttl"
	l := link("short", u)
	l.ExpiresAt = base.Add(time.Minute)
	mustCreate(t, s, l, true)
	if got := mustCreate(t, s, link("other", u), true); got.Key != "short" {
		t.Fatalf("dedup Create before expiry returned %q, want short", got.Key)
	}
	swept, err := s.Sweep(ctx, base.Add(time.Minute), 10)
	if err != nil || len(swept) != 1 || swept[0].Key != "short" {
		t.Fatalf("Sweep = %v, %v; want [short]", swept, err)
	}
	if got := mustCreate(t, s, link("later", u), true); got.Key != "later" {
		t.Fatalf("dedup Create after Sweep returned %q, want later", got.Key)
	}
}

// testDedupFreedBySweepOfExhausted uses up a deduplicated link's visits:
// Sweep removes it with its dedup entry, and the URL is free again.
func testDedupFreedBySweepOfExhausted(t *testing.T, s shortid.Store) {
	ctx := context.Background()
	const u = "https://example.com/once"
	l := link("once", u)
	l.MaxVisits = 1
	mustCreate(t, s, l, true)
	if _, err := s.Visit(ctx, "once", base.Add(time.Second)); err != nil {
		t.Fatalf("Visit: %v", err)
	}
	swept, err := s.Sweep(ctx, base.Add(2*time.Second), 10)
	if err != nil || len(swept) != 1 || swept[0].Key != "once" {
		t.Fatalf("Sweep = %v, %v; want [once]", swept, err)
	}
	if got := mustCreate(t, s, link("fresh", u), true); got.Key != "fresh" {
		t.Fatalf("dedup Create after sweeping an exhausted link returned %q, want fresh", got.Key)
	}
}

// testCreateExpired creates links that expired before they were created,
// one at the Unix epoch: they are stored as given, gone at once and swept
// by the next Sweep.
func testCreateExpired(t *testing.T, s shortid.Store) {
	ctx := context.Background()
	for _, exp := range []time.Time{base.Add(-time.Second), time.Unix(0, 0).UTC()} {
		l := link("late", "https://example.com/late")
		l.ExpiresAt = exp
		if got := mustCreate(t, s, l, true); !sameLink(got, l) {
			t.Fatalf("Create(expired at %v) = %+v, want %+v", exp, got, l)
		}
		if r := mustGet(t, s, "late"); !sameLink(r.Link, l) {
			t.Fatalf("Get = %+v, want %+v", r.Link, l)
		}
		_, err := s.Visit(ctx, "late", base)
		wantErr(t, fmt.Sprintf("Visit of a link expired at %v", exp), err, shortid.ErrGone)
		swept, err := s.Sweep(ctx, base, 10)
		if err != nil || len(swept) != 1 || swept[0].Key != "late" {
			t.Fatalf("Sweep = %v, %v; want [late]", swept, err)
		}
		_, err = s.Get(ctx, "late")
		wantErr(t, "Get after Sweep", err, shortid.ErrNotFound)
	}
}

func testVisitMaxVisits(t *testing.T, s shortid.Store) {
	ctx := context.Background()
	l := link("thrice", "https://example.com/")
	l.MaxVisits = 3
	mustCreate(t, s, l, false)
	for i := int64(1); i <= 3; i++ {
		r, err := s.Visit(ctx, "thrice", base.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatalf("visit %d: %v", i, err)
		}
		if r.Visits != i || !sameLink(r.Link, l) {
			t.Fatalf("visit %d returned %+v, want Visits=%d", i, r, i)
		}
	}
	_, err := s.Visit(ctx, "thrice", base.Add(4*time.Second))
	wantErr(t, "fourth Visit", err, shortid.ErrGone)
	if r := mustGet(t, s, "thrice"); r.Visits != 3 {
		t.Fatalf("Visits after exhaustion = %d, want 3", r.Visits)
	}
	// Exhausted at base+3s: due for sweeping from then on, not before.
	if swept, err := s.Sweep(ctx, base.Add(2*time.Second), 10); err != nil || len(swept) != 0 {
		t.Fatalf("Sweep before exhaustion = %v, %v; want nothing", swept, err)
	}
	swept, err := s.Sweep(ctx, base.Add(3*time.Second), 10)
	if err != nil || len(swept) != 1 || swept[0].Key != "thrice" {
		t.Fatalf("Sweep = %v, %v; want [thrice]", swept, err)
	}
	_, err = s.Get(ctx, "thrice")
	wantErr(t, "Get after Sweep", err, shortid.ErrNotFound)

	// Visit on a link without MaxVisits consumes nothing.
	mustCreate(t, s, link("free", "https://example.com/"), false)
	for range 3 {
		if r, err := s.Visit(ctx, "free", base); err != nil || r.Visits != 0 {
			t.Fatalf("Visit(free) = %+v, %v; want Visits 0", r, err)
		}
	}
}

func testVisitExpiry(t *testing.T, s shortid.Store) {
	ctx := context.Background()
	for _, max := range []int64{0, 10} {
		key := fmt.Sprintf("exp%d", max)
		l := link(key, "https://example.com/")
		l.ExpiresAt = base.Add(time.Hour)
		l.MaxVisits = max
		mustCreate(t, s, l, false)
		if _, err := s.Visit(ctx, key, base.Add(time.Hour-time.Nanosecond)); err != nil {
			t.Fatalf("Visit(%s) 1ns before expiry: %v", key, err)
		}
		_, err := s.Visit(ctx, key, base.Add(time.Hour))
		wantErr(t, "Visit("+key+") at expiry", err, shortid.ErrGone)
		if r := mustGet(t, s, key); r.Visits > 1 {
			t.Fatalf("a gone Visit consumed a visit: Visits = %d", r.Visits)
		}
	}
}

func testSweep(t *testing.T, s shortid.Store) {
	ctx := context.Background()
	for i, d := range []time.Duration{3, 1, 2, 5} {
		l := link(fmt.Sprintf("k%d", i), "https://example.com/")
		l.ExpiresAt = base.Add(d * time.Minute)
		mustCreate(t, s, l, false)
	}
	mustCreate(t, s, link("forever", "https://example.com/"), false)
	if swept, err := s.Sweep(ctx, base, 10); err != nil || len(swept) != 0 {
		t.Fatalf("Sweep(base) = %v, %v; want nothing", swept, err)
	}
	swept, err := s.Sweep(ctx, base.Add(3*time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, l := range swept {
		keys = append(keys, l.Key)
	}
	sort.Strings(keys)
	if fmt.Sprint(keys) != "[k0 k1 k2]" {
		t.Fatalf("Sweep(+3m) removed %v, want [k0 k1 k2]", keys)
	}
	for _, k := range keys {
		_, err := s.Get(ctx, k)
		wantErr(t, "Get("+k+") after Sweep", err, shortid.ErrNotFound)
	}
	for _, k := range []string{"k3", "forever"} {
		mustGet(t, s, k)
	}
	if swept, err := s.Sweep(ctx, base.Add(3*time.Minute), 10); err != nil || len(swept) != 0 {
		t.Fatalf("second Sweep = %v, %v; want nothing", swept, err)
	}
	// Deleted links leave the expiry index too.
	if err := s.Delete(ctx, "k3"); err != nil {
		t.Fatal(err)
	}
	if swept, err := s.Sweep(ctx, base.Add(time.Hour), 10); err != nil || len(swept) != 0 {
		t.Fatalf("Sweep after Delete = %v, %v; want nothing", swept, err)
	}
	mustGet(t, s, "forever")
}

func testSweepLimit(t *testing.T, s shortid.Store) {
	ctx := context.Background()
	const n = 25
	for i := range n {
		l := link(fmt.Sprintf("lim%02d", i), "https://example.com/")
		l.ExpiresAt = base.Add(time.Duration(i+1) * time.Second)
		mustCreate(t, s, l, false)
	}
	total := 0
	for round := 0; ; round++ {
		swept, err := s.Sweep(ctx, base.Add(time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(swept) > 10 {
			t.Fatalf("Sweep returned %d links, limit 10", len(swept))
		}
		total += len(swept)
		if len(swept) < 10 || round > n {
			break
		}
	}
	if total != n {
		t.Fatalf("swept %d links in total, want %d", total, n)
	}
}

func testAddClicks(t *testing.T, s shortid.Store) {
	ctx := context.Background()
	mustCreate(t, s, link("c1", "https://example.com/1"), false)
	mustCreate(t, s, link("c2", "https://example.com/2"), true)
	if err := s.AddClicks(ctx, map[shortid.ClickKey]int64{ck("c1"): 5, ck("c2"): 1, ck("gone"): 7}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddClicks(ctx, map[shortid.ClickKey]int64{ck("c1"): 2}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddClicks(ctx, nil); err != nil {
		t.Fatalf("AddClicks(nil): %v", err)
	}
	if r := mustGet(t, s, "c1"); r.Clicks != 7 {
		t.Fatalf("Clicks(c1) = %d, want 7", r.Clicks)
	}
	if r := mustGet(t, s, "c2"); r.Clicks != 1 {
		t.Fatalf("Clicks(c2) = %d, want 1", r.Clicks)
	}
	// Clicks of a deleted link do not reach a later link under its key.
	old := ck("c1")
	if err := s.Delete(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	again := link("c1", "https://example.com/again")
	again.CreatedAt = base.Add(time.Second)
	mustCreate(t, s, again, false)
	if err := s.AddClicks(ctx, map[shortid.ClickKey]int64{old: 3}); err != nil {
		t.Fatal(err)
	}
	if r := mustGet(t, s, "c1"); r.Clicks != 0 {
		t.Fatalf("a re-created key got %d clicks of the deleted link, want 0", r.Clicks)
	}
	if err := s.AddClicks(ctx, map[shortid.ClickKey]int64{again.ClickKey(): 4}); err != nil {
		t.Fatal(err)
	}
	if r := mustGet(t, s, "c1"); r.Clicks != 4 {
		t.Fatalf("Clicks(re-created c1) = %d, want 4", r.Clicks)
	}
}

func testConcurrentSameKey(t *testing.T, s shortid.Store) {
	const g = 8
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range g {
		wg.Go(func() {
			_, err := s.Create(context.Background(), link("race", fmt.Sprintf("https://example.com/%d", i)), i%2 == 0)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, shortid.ErrExists):
				t.Errorf("Create: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent creates of one key succeeded, want 1", wins.Load())
	}
}

func testConcurrentSameURL(t *testing.T, s shortid.Store) {
	const g = 8
	const u = "https://example.com/same"
	keys := make([]string, g)
	var wg sync.WaitGroup
	for i := range g {
		wg.Go(func() {
			l, err := s.Create(context.Background(), link(fmt.Sprintf("same%d", i), u), true)
			if err != nil {
				t.Errorf("Create: %v", err)
			}
			keys[i] = l.Key
		})
	}
	wg.Wait()
	for _, k := range keys {
		if k != keys[0] {
			t.Fatalf("concurrent dedup creates returned keys %v, want one key", keys)
		}
	}
	live := 0
	for i := range g {
		if _, err := s.Get(context.Background(), fmt.Sprintf("same%d", i)); err == nil {
			live++
		}
	}
	if live != 1 {
		t.Fatalf("%d links stored for one URL, want 1", live)
	}
}

// testConcurrentDeleteAndDedup deletes a deduplicated link while other
// goroutines create links for its URL with dedup: every Create returns a
// link of that URL that existed, and afterwards exactly one link holds the
// URL's dedup entry (a further dedup Create returns it).
func testConcurrentDeleteAndDedup(t *testing.T, s shortid.Store) {
	const g, rounds = 4, 50
	const u = "https://example.com/contested"
	ctx := context.Background()
	for r := range rounds {
		first := fmt.Sprintf("r%d-first", r)
		mustCreate(t, s, link(first, u), true)
		keys := make([]string, g)
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := s.Delete(ctx, first); err != nil {
				t.Errorf("Delete: %v", err)
			}
		})
		for i := range g {
			wg.Go(func() {
				l, err := s.Create(ctx, link(fmt.Sprintf("r%d-%d", r, i), u), true)
				if err != nil || l.URL != u {
					t.Errorf("dedup Create = %+v, %v; want a link of %s", l, err, u)
				}
				keys[i] = l.Key
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		probe := mustCreate(t, s, link(fmt.Sprintf("r%d-probe", r), u), true)
		if probe.Key == first {
			t.Fatalf("round %d: dedup Create returned the deleted link %s", r, first)
		}
		if _, err := s.Get(ctx, probe.Key); err != nil {
			t.Fatalf("round %d: dedup Create returned %s, which Get does not find: %v", r, probe.Key, err)
		}
		// At most one racing Create stored its link (one that came after
		// the Delete), and if one did, the probe found it.
		var live []string
		for i := range g {
			if k := fmt.Sprintf("r%d-%d", r, i); mustExist(s, k) {
				live = append(live, k)
			}
		}
		switch {
		case len(live) > 1:
			t.Fatalf("round %d: links %v stored for one URL, want at most 1", r, live)
		case len(live) == 1 && probe.Key != live[0]:
			t.Fatalf("round %d: dedup Create returned %s, want the stored %s", r, probe.Key, live[0])
		case len(live) == 0 && probe.Key != fmt.Sprintf("r%d-probe", r):
			t.Fatalf("round %d: dedup Create returned %s, but no racing link is stored", r, probe.Key)
		}
		if err := s.Delete(ctx, probe.Key); err != nil {
			t.Fatalf("round %d: Delete(%s): %v", r, probe.Key, err)
		}
	}
}

// mustExist reports whether Get finds key.
func mustExist(s shortid.Store, key string) bool {
	_, err := s.Get(context.Background(), key)
	return err == nil
}

func testConcurrentVisits(t *testing.T, s shortid.Store) {
	const max, g, tries = 50, 8, 20
	l := link("limited", "https://example.com/")
	l.MaxVisits = max
	mustCreate(t, s, l, false)
	var ok, gone atomic.Int32
	var wg sync.WaitGroup
	for range g {
		wg.Go(func() {
			for range tries {
				_, err := s.Visit(context.Background(), "limited", base)
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, shortid.ErrGone):
					gone.Add(1)
				default:
					t.Errorf("Visit: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != max || gone.Load() != g*tries-max {
		t.Fatalf("%d visits succeeded and %d were gone, want %d and %d", ok.Load(), gone.Load(), max, g*tries-max)
	}
}

func testConcurrentClicks(t *testing.T, s shortid.Store) {
	const g, rounds = 8, 50
	mustCreate(t, s, link("k1", "https://example.com/1"), false)
	mustCreate(t, s, link("k2", "https://example.com/2"), false)
	var wg sync.WaitGroup
	for range g {
		wg.Go(func() {
			for range rounds {
				if err := s.AddClicks(context.Background(), map[shortid.ClickKey]int64{ck("k1"): 1, ck("k2"): 2}); err != nil {
					t.Errorf("AddClicks: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if r := mustGet(t, s, "k1"); r.Clicks != g*rounds {
		t.Fatalf("Clicks(k1) = %d, want %d", r.Clicks, g*rounds)
	}
	if r := mustGet(t, s, "k2"); r.Clicks != 2*g*rounds {
		t.Fatalf("Clicks(k2) = %d, want %d", r.Clicks, 2*g*rounds)
	}
}

// testConcurrentChurn creates, deduplicates, deletes and sweeps over a small
// set of keys and URLs from many goroutines, then checks that every dedup
// answer named a link of the right URL and that the store is consistent.
func testConcurrentChurn(t *testing.T, s shortid.Store) {
	const g, ops, nkeys, nurls = 8, 200, 16, 4
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range g {
		wg.Go(func() {
			for i := range ops {
				key := fmt.Sprintf("churn%d", (w*31+i*7)%nkeys)
				u := fmt.Sprintf("https://example.com/%d", (w+i)%nurls)
				switch i % 4 {
				case 0, 1:
					l := link(key, u)
					if i%8 == 1 {
						l.ExpiresAt = base.Add(time.Duration(i) * time.Millisecond)
					}
					got, err := s.Create(ctx, l, true)
					if err != nil && !errors.Is(err, shortid.ErrExists) {
						t.Errorf("Create: %v", err)
					}
					if err == nil && got.URL != u {
						t.Errorf("dedup Create(%q) returned a link to %q", u, got.URL)
					}
				case 2:
					if err := s.Delete(ctx, key); err != nil && !errors.Is(err, shortid.ErrNotFound) {
						t.Errorf("Delete: %v", err)
					}
				case 3:
					if _, err := s.Sweep(ctx, base.Add(100*time.Millisecond), 4); err != nil {
						t.Errorf("Sweep: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	// After the dust settles, each URL still deduplicates to at most one
	// live link, and that link is for the URL.
	for u := range nurls {
		url := fmt.Sprintf("https://example.com/%d", u)
		got, err := s.Create(ctx, link(fmt.Sprintf("final%d", u), url), true)
		if err != nil {
			t.Fatalf("final Create: %v", err)
		}
		if got.URL != url {
			t.Fatalf("final dedup Create(%q) returned %+v", url, got)
		}
		r := mustGet(t, s, got.Key)
		if r.Link.URL != url {
			t.Fatalf("Get(%q).URL = %q, want %q", got.Key, r.Link.URL, url)
		}
	}
	if _, err := s.Sweep(ctx, base.Add(time.Hour), 1<<20); err != nil {
		t.Fatal(err)
	}
}
