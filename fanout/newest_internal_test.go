package fanout

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/blueprint-go/blueprint/snowflake"
)

// TestNewestTable checks the dense table's slots: each new slot is zero and
// distinct from every other, also across chunks and when taken
// concurrently, and slots taken one after another are adjacent within a
// chunk.
func TestNewestTable(t *testing.T) {
	var tab slotTable
	const per, goroutines = 3 * slotChunk / 2, 4
	got := make([][]*authorSlot, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range per {
				p := tab.take()
				if v := p.seen.Load(); v != 0 || p.recent.Load() != nil {
					t.Errorf("new slot holds %d", v)
				}
				p.seen.Store(int64(g + 1))
				got[g] = append(got[g], p)
			}
		})
	}
	wg.Wait()
	seen := map[*authorSlot]bool{}
	for g, ps := range got {
		for _, p := range ps {
			if seen[p] {
				t.Fatal("slot handed out twice")
			}
			seen[p] = true
			if v := p.seen.Load(); v != int64(g+1) {
				t.Fatalf("slot of goroutine %d holds %d: slots overlap", g+1, v)
			}
		}
	}
	var seq slotTable
	a, b := seq.take(), seq.take()
	if d := uintptr(unsafe.Pointer(b)) - uintptr(unsafe.Pointer(a)); d != unsafe.Sizeof(authorSlot{}) {
		t.Fatalf("consecutive slots %d bytes apart, want %d", d, unsafe.Sizeof(authorSlot{}))
	}
}

// TestNewestSlots checks that every user state's slot holds its newest
// post bound (newest+1 once known, 0 before) after a workload of posts by
// pushed and pulled authors, reads and follows, some of them on authors
// with posts stored before the Service.
func TestNewestSlots(t *testing.T) {
	ctx := context.Background()
	gen, _ := snowflake.NewGenerator(1, snowflake.Options{})
	posts := NewMemPosts()
	// Posts stored before the Service by authors 7 and 8.
	old := map[UserID]snowflake.ID{}
	for _, a := range []UserID{7, 8, 7} {
		id, _ := gen.Next()
		if err := posts.Put(ctx, Post{ID: id, Author: a}); err != nil {
			t.Fatal(err)
		}
		old[a] = id
	}
	s := New(NewMemGraph(), posts, NewMemTimelines(MemTimelinesOptions{}),
		Options{Policy: Threshold{Followers: 2, Hysteresis: -1}, IDs: gen})
	defer s.Close()
	newest := map[UserID]snowflake.ID{}
	for a, id := range old {
		newest[a] = id
	}
	for r := UserID(20); r < 26; r++ {
		for a := UserID(1); a <= 8; a += UserID(1 + r%3) {
			if err := s.Follow(ctx, r, a); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 40 {
		a := UserID(1 + i%6)
		p, err := s.Publish(ctx, a, "")
		if err != nil {
			t.Fatal(err)
		}
		newest[a] = p.ID
		if _, err := s.Timeline(ctx, UserID(20+i%6), "", 5); err != nil {
			t.Fatal(err)
		}
	}
	checked := 0
	for i := range s.users {
		us := &s.users[i]
		us.mu.Lock()
		for u, st := range us.m {
			want := int64(0)
			if st.newestKnown {
				want = int64(st.newest) + 1
				if st.newest != newest[u] {
					t.Errorf("user %d: newest %d, want %d", u, st.newest, newest[u])
				}
			}
			if got := st.slot.seen.Load(); got != want {
				t.Errorf("user %d: slot %d, want %d", u, got, want)
			}
			if rp := st.slot.recent.Load(); rp != nil {
				if ids := rp.ids(); len(ids) == 0 || ids[len(ids)-1] != st.newest {
					t.Errorf("user %d: recent posts %v, newest %d", u, ids, st.newest)
				}
			}
			checked++
		}
		us.mu.Unlock()
	}
	if checked < 14 {
		t.Fatalf("only %d user states", checked)
	}
}

// TestPulledPostVisibleOnReturn checks the ordering rule of the dense table
// (see refNewest) under concurrency: readers whose plans are current read
// while pulled authors post, and each finds the newest post whose Publish
// has returned, however recently its author's slot was raised.
func TestPulledPostVisibleOnReturn(t *testing.T) {
	ctx := context.Background()
	s := New(NewMemGraph(), NewMemPosts(), NewMemTimelines(MemTimelinesOptions{}),
		Options{Policy: Threshold{Followers: 1, Hysteresis: -1}})
	defer s.Close()
	const authors, readers = 4, 3
	for r := UserID(100); r < 100+readers; r++ {
		for a := UserID(1); a <= authors; a++ {
			if err := s.Follow(ctx, r, a); err != nil {
				t.Fatal(err)
			}
		}
	}
	var last atomic.Int64 // the newest post whose Publish returned
	publish := func(a UserID) {
		p, err := s.Publish(ctx, a, "")
		if err != nil {
			t.Fatal(err)
		}
		last.Store(int64(p.ID))
	}
	for a := UserID(1); a <= authors; a++ { // pulled from the first post on
		publish(a)
	}
	rounds := 2000
	if testing.Short() {
		rounds = 300
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	reads := make([]int, readers)
	for i := range readers {
		wg.Go(func() {
			r := UserID(100 + i)
			for !done.Load() {
				id := snowflake.ID(last.Load())
				pg, err := s.Timeline(ctx, r, encodeCursor(id+1), 1)
				if err != nil {
					t.Error(err)
					return
				}
				if len(pg.Posts) != 1 || pg.Posts[0].ID != id {
					t.Errorf("reader %d missed post %d, published: got %v", r, id, pg.Posts)
					return
				}
				reads[i]++
			}
		})
	}
	for i := range rounds {
		publish(UserID(1 + i%authors))
	}
	done.Store(true)
	wg.Wait()
	t.Logf("reads: %v", reads)
}

// TestRecentPosts checks an author's recent posts as IDs arrive in any
// order (concurrent posts by one author reach it in the order their
// Publish takes the lock): the list holds exactly the IDs published at or
// above from, ascending, at most recentKept of them.
func TestRecentPosts(t *testing.T) {
	r := rand.New(rand.NewPCG(testSeed(t), 5))
	for range 200 {
		const stored = 1000 // the newest post stored before the Service
		var rp *recentPosts
		var all []snowflake.ID
		next := snowflake.ID(stored + 1)
		for range 1 + r.IntN(3*recentKept) {
			next += snowflake.ID(1 + r.IntN(3))
			id := next
			if r.IntN(4) == 0 && len(all) > 0 { // an earlier ID arriving late
				id = next - snowflake.ID(1+r.IntN(2))
				if slices.Contains(all, id) {
					continue
				}
			}
			rp = rp.with(id, stored)
			all = append(all, id)
			if rp.from <= stored {
				t.Fatalf("from %d: covers posts stored before the Service", rp.from)
			}
			var want []snowflake.ID
			for _, x := range all {
				if x >= rp.from {
					want = append(want, x)
				}
			}
			slices.Sort(want)
			// The list keeps the newest recentKept IDs: fewer would send
			// pulls to the store, which the slot exists to avoid.
			if got := rp.ids(); !slices.Equal(got, want) || len(got) != min(len(all), recentKept) {
				t.Fatalf("after %v: ids %v from %d, want %v", all, got, rp.from, want)
			}
		}
	}
}

// testSeed is the seed of a property test, as seed in the external tests:
// $SEED if set, else a fresh one, logged so that a failure can be replayed
// with SEED=n go test ... A SEED that does not parse fails the test.
func testSeed(t *testing.T) uint64 {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("SEED"); v != "" {
		var err error
		if s, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("SEED=%q: %v", v, err)
		}
	}
	t.Logf("SEED=%d", s)
	return s
}
