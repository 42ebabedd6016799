package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/shortid"
)

// modelLink is what the reference model keeps per key.
type modelLink struct {
	link   shortid.Link
	dedup  bool
	visits int64
	clicks int64
	dueAt  time.Time // zero: not due
}

// model is the Store contract written as plainly as possible, on one
// goroutine.
type model struct {
	links map[string]*modelLink
	dedup map[string]string
}

func (m *model) remove(key string) shortid.Link {
	ml := m.links[key]
	delete(m.links, key)
	if ml.dedup && m.dedup[ml.link.URL] == key {
		delete(m.dedup, ml.link.URL)
	}
	return ml.link
}

// testModel runs a random sequence of operations over a small set of keys
// and URLs against the store and against the model, and compares every
// result. The seed is logged; SEED=n reruns one sequence.
func testModel(t *testing.T, s shortid.Store) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("SEED=%q: %v", v, err)
		}
		seed = n
	}
	t.Logf("seed %d (rerun with SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	ctx := context.Background()
	m := &model{links: map[string]*modelLink{}, dedup: map[string]string{}}
	now := base
	const nkeys, nurls, ops = 12, 4, 3000
	key := func() string { return fmt.Sprintf("m%02d", rng.IntN(nkeys)) }
	url := func() string { return fmt.Sprintf("https://example.com/%d", rng.IntN(nurls)) }
	for op := range ops {
		now = now.Add(time.Duration(rng.IntN(3)) * time.Second)
		where := func(format string, args ...any) string {
			return fmt.Sprintf("op %d at +%v: ", op, now.Sub(base)) + fmt.Sprintf(format, args...)
		}
		switch r := rng.IntN(100); {
		case r < 30: // Create
			l := shortid.Link{Key: key(), URL: url(), Alias: rng.IntN(2) == 0, CreatedAt: now}
			if rng.IntN(3) == 0 {
				l.ExpiresAt = now.Add(time.Duration(1+rng.IntN(20)) * time.Second)
			}
			if rng.IntN(3) == 0 {
				l.MaxVisits = int64(1 + rng.IntN(3))
			}
			dedup := rng.IntN(2) == 0
			got, err := s.Create(ctx, l, dedup)
			var want shortid.Link
			var wantErr error
			if _, ok := m.links[l.Key]; ok {
				wantErr = shortid.ErrExists
			} else if other, ok := m.dedup[l.URL]; dedup && ok {
				want = m.links[other].link
			} else {
				want = l
				ml := &modelLink{link: l, dedup: dedup}
				if !l.ExpiresAt.IsZero() {
					ml.dueAt = l.ExpiresAt
				}
				m.links[l.Key] = ml
				if dedup {
					m.dedup[l.URL] = l.Key
				}
			}
			if !errors.Is(err, wantErr) || (wantErr == nil && !sameLink(got, want)) {
				t.Fatalf("%s", where("Create(%+v, dedup=%v) = %+v, %v; want %+v, %v", l, dedup, got, err, want, wantErr))
			}
		case r < 55: // Get
			k := key()
			got, err := s.Get(ctx, k)
			ml, ok := m.links[k]
			if !ok {
				if !errors.Is(err, shortid.ErrNotFound) {
					t.Fatalf("%s", where("Get(%s) = %+v, %v; want ErrNotFound", k, got, err))
				}
				continue
			}
			if err != nil || !sameLink(got.Link, ml.link) || got.Clicks != ml.clicks || got.Visits != ml.visits {
				t.Fatalf("%s", where("Get(%s) = %+v, %v; want %+v clicks %d visits %d", k, got, err, ml.link, ml.clicks, ml.visits))
			}
		case r < 65: // Delete
			k := key()
			err := s.Delete(ctx, k)
			if _, ok := m.links[k]; ok {
				m.remove(k)
				if err != nil {
					t.Fatalf("%s", where("Delete(%s) = %v", k, err))
				}
			} else if !errors.Is(err, shortid.ErrNotFound) {
				t.Fatalf("%s", where("Delete(%s) = %v, want ErrNotFound", k, err))
			}
		case r < 85: // Visit
			k := key()
			got, err := s.Visit(ctx, k, now)
			ml, ok := m.links[k]
			var wantErr error
			switch {
			case !ok:
				wantErr = shortid.ErrNotFound
			case !ml.link.ExpiresAt.IsZero() && !now.Before(ml.link.ExpiresAt):
				wantErr = shortid.ErrGone
			case ml.link.MaxVisits > 0 && ml.visits >= ml.link.MaxVisits:
				wantErr = shortid.ErrGone
			case ml.link.MaxVisits > 0:
				ml.visits++
				if ml.visits == ml.link.MaxVisits && (ml.dueAt.IsZero() || now.Before(ml.dueAt)) {
					ml.dueAt = now
				}
			}
			if !errors.Is(err, wantErr) || (wantErr == nil && (got.Visits != ml.visits || !sameLink(got.Link, ml.link))) {
				t.Fatalf("%s", where("Visit(%s) = %+v, %v; want error %v", k, got, err, wantErr))
			}
		case r < 93: // AddClicks
			// Mostly the links that are there, sometimes a stale
			// creation time for a key.
			clickKey := func() shortid.ClickKey {
				k := key()
				if ml, ok := m.links[k]; ok && rng.IntN(4) > 0 {
					return ml.link.ClickKey()
				}
				return shortid.ClickKey{Key: k, Created: now.Add(-time.Duration(rng.IntN(5)) * time.Second).UnixNano()}
			}
			batch := map[shortid.ClickKey]int64{clickKey(): int64(1 + rng.IntN(5)), clickKey(): 1}
			if err := s.AddClicks(ctx, batch); err != nil {
				t.Fatalf("%s", where("AddClicks: %v", err))
			}
			for ck, n := range batch {
				if ml, ok := m.links[ck.Key]; ok && ml.link.ClickKey() == ck {
					ml.clicks += n
				}
			}
		default: // Sweep
			got, err := s.Sweep(ctx, now, 1000)
			if err != nil {
				t.Fatalf("%s", where("Sweep: %v", err))
			}
			var want []string
			for k, ml := range m.links {
				if !ml.dueAt.IsZero() && !ml.dueAt.After(now) {
					want = append(want, k)
				}
			}
			for _, k := range want {
				m.remove(k)
			}
			var keys []string
			for _, l := range got {
				keys = append(keys, l.Key)
			}
			sort.Strings(keys)
			sort.Strings(want)
			if fmt.Sprint(keys) != fmt.Sprint(want) {
				t.Fatalf("%s", where("Sweep removed %v, want %v", keys, want))
			}
		}
	}
}
