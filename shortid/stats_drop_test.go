package shortid_test

import (
	"errors"
	"testing"

	"github.com/blueprint-go/blueprint/shortid"
)

// TestGuardedStatsDropOfALinkMadeAgainIdentical deletes "hot" and makes
// it again, with another URL but the same CreatedAt (the fake clock does
// not move: a clock stepped back, or another server's, can do that),
// while a guarded Stats reads it with 5 clicks buffered. Stats must
// return the old link with all 8 clicks, the new one with 0, or
// ErrNotFound; when it compared CreatedAt alone it returned the old link
// with the 5 buffered clicks dropped.
func TestGuardedStatsDropOfALinkMadeAgainIdentical(t *testing.T) {
	s, store := newGatedShortener(t)
	t.Cleanup(func() { s.Close() })
	for range 3 {
		s.Resolve(ctx, "hot")
	}
	if err := s.Flush(ctx); err != nil { // 3 clicks stored
		t.Fatal(err)
	}
	store.afterHeldGet = func(n int) {
		switch {
		case n < statsTries+1:
			s.Resolve(ctx, "cold")
			if err := s.Flush(ctx); err != nil {
				t.Error(err)
			}
			if n == statsTries {
				for range 5 {
					s.Resolve(ctx, "hot") // buffered for the guarded read
				}
			}
		case n == statsTries+1:
			if err := s.Delete(ctx, "hot"); err != nil {
				t.Error(err)
			}
			shorten(t, s, shortid.ShortenRequest{URL: "https://example.com/new-hot", Alias: "hot"})
		}
	}
	st, err := s.Stats(held(ctx), "hot")
	t.Logf("Stats = %+v, %v", st, err)
	if errors.Is(err, shortid.ErrNotFound) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	old := st.Link.URL == "https://example.com/hot"
	if old && st.Clicks != 8 || !old && st.Clicks != 0 {
		t.Fatalf("Stats(hot) = %+v: link %s with %d clicks; want old with 8, new with 0, or ErrNotFound", st, st.Link.URL, st.Clicks)
	}
}
