package shortid

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestMemStoreSweepSkipsVanishedItems lists due items whose links are gone
// (as when a Delete races the sweep) ahead of real ones: Sweep must still
// remove limit links, since fewer than limit means none is left.
func TestMemStoreSweepSkipsVanishedItems(t *testing.T) {
	ctx := context.Background()
	s := NewMemStore()
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, k := range []string{"a1", "a2", "a3"} {
		if _, err := s.Create(ctx, Link{Key: k, URL: "https://example.com/" + k, CreatedAt: at, ExpiresAt: at.Add(time.Minute)}, false); err != nil {
			t.Fatal(err)
		}
	}
	s.dueMu.Lock()
	for _, k := range []string{"v1", "v2"} {
		s.due.ReplaceOrInsert(dueItem{at.UnixNano(), k}) // due earlier, link gone
	}
	s.dueMu.Unlock()
	got, err := s.Sweep(ctx, at.Add(time.Hour), 3)
	if err != nil || len(got) != 3 {
		t.Fatalf("Sweep(limit 3) removed %d links, %v; want 3", len(got), err)
	}
}

// TestMemStoreTimes checks that the Unix epoch is a time like any other
// and that times a MemStore cannot hold are refused, not wrapped.
func TestMemStoreTimes(t *testing.T) {
	ctx := context.Background()
	s := NewMemStore()
	epoch := time.Unix(0, 0).UTC()
	if _, err := s.Create(ctx, Link{Key: "epoch", URL: "https://example.com/", CreatedAt: epoch, ExpiresAt: epoch}, false); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Get(ctx, "epoch")
	if err != nil || !rec.Link.ExpiresAt.Equal(epoch) || !rec.Link.CreatedAt.Equal(epoch) {
		t.Fatalf("Get = %+v, %v; want both times at the epoch", rec, err)
	}
	if _, err := s.Visit(ctx, "epoch", epoch.Add(time.Second)); !errors.Is(err, ErrGone) {
		t.Fatalf("Visit after an epoch expiry = %v, want ErrGone", err)
	}
	for _, tm := range []time.Time{
		time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, noTime),
	} {
		_, err := s.Create(ctx, Link{Key: "far", URL: "https://example.com/far", ExpiresAt: tm}, false)
		if !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("Create(ExpiresAt %v) = %v, want ErrInvalidRequest", tm, err)
		}
		_, err = s.Create(ctx, Link{Key: "far", URL: "https://example.com/far", CreatedAt: tm}, false)
		if !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("Create(CreatedAt %v) = %v, want ErrInvalidRequest", tm, err)
		}
	}
}

// TestDedupIndexCollisions stores URLs whose hashes are forced equal: each
// must still find its own key, and deleting one must keep the others.
func TestDedupIndexCollisions(t *testing.T) {
	d := dedupIndex{byHash: map[uint64]dedupEntry{}}
	const h = 42
	urls := []string{"https://a.example/", "https://b.example/", "https://c.example/"}
	for i, u := range urls {
		if _, ok := d.get(h, u); ok {
			t.Fatalf("get(%s) before put found an entry", u)
		}
		d.put(h, u, fmt.Sprint("k", i))
	}
	check := func(live map[string]string) {
		t.Helper()
		for _, u := range urls {
			k, ok := d.get(h, u)
			if want, live := live[u]; ok != live || k != want {
				t.Fatalf("get(%s) = %q, %v; want %q, %v", u, k, ok, want, live)
			}
		}
	}
	check(map[string]string{urls[0]: "k0", urls[1]: "k1", urls[2]: "k2"})
	d.del(h, urls[1], "other") // names another key: keeps the entry
	check(map[string]string{urls[0]: "k0", urls[1]: "k1", urls[2]: "k2"})
	d.del(h, urls[0], "k0") // the one in byHash
	check(map[string]string{urls[1]: "k1", urls[2]: "k2"})
	d.put(h, urls[0], "k3") // back into the free byHash slot
	check(map[string]string{urls[0]: "k3", urls[1]: "k1", urls[2]: "k2"})
	d.del(h, urls[2], "k2") // one in spill
	check(map[string]string{urls[0]: "k3", urls[1]: "k1"})
}
