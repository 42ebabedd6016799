package main

import (
	"context"
	"fmt"
	"time"

	"github.com/blueprint-go/blueprint/shortid"
)

// tourShortener creates, deduplicates, aliases, expires and resolves links
// on the in-memory store, then reads their click counts.
func tourShortener(out *tourWriter) error {
	ctx := context.Background()
	clock := &tourClock{now: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	// A fixed secret keeps the tour's codes the same from run to run; a
	// real deployment leaves Keys empty or loads its secret from a vault.
	keys, err := shortid.NewSequence(shortid.NewMemCounter(0), shortid.SequenceOptions{
		Keys: []shortid.Key{{Version: 1, Secret: []byte("blueprint tour secret, not for production")}},
	})
	if err != nil {
		return err
	}
	store := shortid.NewMemStore()
	s, err := shortid.New(store, shortid.Options{
		BaseURL: "https://sho.rt", Keys: keys, Clock: clock, FlushInterval: -1, SweepInterval: -1,
	})
	if err != nil {
		return err
	}
	defer s.Close()

	blog, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://go.dev/blog/"})
	if err != nil {
		return err
	}
	step(out, "shorten https://go.dev/blog/", s.ShortURL(blog.Key))
	again, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "HTTPS://GO.DEV:443/blog/"})
	if err != nil {
		return err
	}
	step(out, "shorten HTTPS://GO.DEV:443/blog/", s.ShortURL(again.Key)+" (deduplicated)")

	alias, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://go.dev/tour/", Alias: "gopher"})
	if err != nil {
		return err
	}
	step(out, "alias gopher for https://go.dev/tour/", s.ShortURL(alias.Key))
	_, err = s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/", Alias: "gopher"})
	step(out, "alias gopher again", errText(err))
	for _, bad := range []string{"javascript:alert(1)", "http://0x7f.1/admin", "https://sho.rt/gopher"} {
		_, err := s.Shorten(ctx, shortid.ShortenRequest{URL: bad})
		step(out, "shorten "+bad, errText(err))
	}

	for range 3 {
		if _, err := s.Resolve(ctx, blog.Key); err != nil {
			return err
		}
	}
	st, err := s.Stats(ctx, blog.Key)
	if err != nil {
		return err
	}
	step(out, "resolve "+blog.Key+" 3 times, stats", fmt.Sprintf("%d clicks (buffered, not yet stored)", st.Clicks))

	sale, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/sale", TTL: time.Hour})
	if err != nil {
		return err
	}
	_, err = s.Resolve(ctx, sale.Key)
	step(out, "resolve "+sale.Key+" (TTL 1h)", errText(err))
	clock.now = clock.now.Add(time.Hour)
	_, err = s.Resolve(ctx, sale.Key)
	step(out, "one hour later, resolve "+sale.Key, errText(err))
	n, err := s.Sweep(ctx)
	if err != nil {
		return err
	}
	_, err = s.Resolve(ctx, sale.Key)
	step(out, fmt.Sprintf("sweep (%d removed), resolve %s", n, sale.Key), errText(err))

	invite, err := s.Shorten(ctx, shortid.ShortenRequest{URL: "https://example.com/invite", MaxVisits: 2})
	if err != nil {
		return err
	}
	for i := 1; i <= 3; i++ {
		_, err := s.Resolve(ctx, invite.Key)
		step(out, fmt.Sprintf("visit %d of %s (max 2 visits)", i, invite.Key), errText(err))
	}

	if err := s.Close(); err != nil {
		return err
	}
	rec, err := store.Get(ctx, blog.Key)
	if err != nil {
		return err
	}
	step(out, "after Close, stored clicks of "+blog.Key, fmt.Sprintf("%d clicks stored", rec.Clicks))
	return nil
}

// step prints what was done and what came of it, in two columns.
func step(out *tourWriter, did, got string) {
	out.Step("%-38s -> %s", did, got)
}

// errText prints a nil error as "ok".
func errText(err error) string {
	if err == nil {
		return "ok"
	}
	return fmt.Sprint(err)
}
