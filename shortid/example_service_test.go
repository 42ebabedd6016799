package shortid_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/blueprint-go/blueprint/shortid"
)

// The first five minutes: a Shortener on the in-memory store, a link, a
// redirect, the click count.
func ExampleShortener() {
	ctx := context.Background()
	s, err := shortid.New(shortid.NewMemStore(), shortid.Options{BaseURL: "https://sho.rt"})
	if err != nil {
		panic(err)
	}

	link, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://go.dev/doc/effective_go", Alias: "effective"})
	if err != nil {
		panic(err)
	}
	fmt.Println(s.ShortURL(link.Key))

	target, err := s.Resolve(ctx, "effective") // what GET /effective redirects to
	if err != nil {
		panic(err)
	}
	fmt.Println(target.URL)

	stats, err := s.Stats(ctx, "effective")
	if err != nil {
		panic(err)
	}
	fmt.Println("clicks:", stats.Clicks)

	// A URL the Shortener refuses: this error is the point.
	_, err = s.Shorten(ctx, shortid.ShortenRequest{URL: "javascript:alert(1)"})
	fmt.Println(errors.Is(err, shortid.ErrInvalidURL), err)

	// Close flushes the buffered clicks to the Store.
	if err := s.Close(); err != nil {
		panic(err)
	}
	// Output:
	// https://sho.rt/effective
	// https://go.dev/doc/effective_go
	// clicks: 1
	// true shortid: invalid url: scheme "javascript" not allowed
}

// stepClock is a Clock that tests move by hand.
type stepClock struct{ now time.Time }

func (c *stepClock) Now() time.Time { return c.now }

// Links with a TTL or a visit limit are gone (not just not found) once used
// up, until the sweeper removes them.
func ExampleShortener_expiry() {
	ctx := context.Background()
	clock := &stepClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, err := shortid.New(shortid.NewMemStore(), shortid.Options{Clock: clock, SweepInterval: -1})
	if err != nil {
		panic(err)
	}

	day, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/sale", TTL: 24 * time.Hour})
	if err != nil {
		panic(err)
	}
	once, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/invite", MaxVisits: 1})
	if err != nil {
		panic(err)
	}

	// Resolve's errors are printed: they are what this example shows.
	_, err = s.Resolve(ctx, once.Key)
	fmt.Println("first visit:", err)
	_, err = s.Resolve(ctx, once.Key)
	fmt.Println("second visit:", err)

	clock.now = clock.now.Add(24 * time.Hour)
	_, err = s.Resolve(ctx, day.Key)
	fmt.Println("after a day:", err)

	n, err := s.Sweep(ctx)
	if err != nil {
		panic(err)
	}
	_, err = s.Resolve(ctx, day.Key)
	fmt.Println("swept", n, "then:", err)

	if err := s.Close(); err != nil {
		panic(err)
	}
	// Output:
	// first visit: <nil>
	// second visit: shortid: gone
	// after a day: shortid: gone
	// swept 2 then: shortid: not found
}

// A plain request for a URL that already has a plain link gets that link;
// a request with options always gets a new one.
func ExampleShortener_dedup() {
	ctx := context.Background()
	s, err := shortid.New(shortid.NewMemStore(), shortid.Options{})
	if err != nil {
		panic(err)
	}

	a, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/page"})
	if err != nil {
		panic(err)
	}
	b, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "HTTPS://EXAMPLE.COM:443/page"})
	if err != nil {
		panic(err)
	}
	c, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/page", TTL: time.Hour})
	if err != nil {
		panic(err)
	}
	fmt.Println(a.Key == b.Key, a.Key == c.Key, b.URL)

	if err := s.Close(); err != nil {
		panic(err)
	}
	// Output: true false https://example.com/page
}

// A store of four shards, each behind its own LRU cache, passes the same
// conformance suite as a single MemStore and drops in unchanged.
func ExampleNewShardedStore() {
	shards := make([]shortid.Store, 4)
	for i := range shards {
		shards[i] = shortid.NewCachedStore(shortid.NewMemStore(), 10_000)
	}
	s, err := shortid.New(shortid.NewShardedStore(shards), shortid.Options{})
	if err != nil {
		panic(err)
	}

	l, err := s.Shorten(context.Background(), shortid.ShortenRequest{URL: "https://example.com/", Alias: "home"})
	if err != nil {
		panic(err)
	}
	got, err := s.Resolve(context.Background(), l.Key)
	if err != nil {
		panic(err)
	}
	fmt.Println(got.URL)

	if err := s.Close(); err != nil {
		panic(err)
	}
	// Output: https://example.com/
}
