package fanout

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/blueprint-go/blueprint/snowflake"
)

// TestNewestTable checks the dense table's slots: each new slot is zero and
// distinct from every other, also across chunks and when taken
// concurrently, and slots taken one after another are adjacent within a
// chunk.
func TestNewestTable(t *testing.T) {
	var tab newestTable
	const per, goroutines = 3 * newestChunk / 2, 4
	got := make([][]*atomic.Int64, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range per {
				p := tab.take()
				if v := p.Load(); v != 0 {
					t.Errorf("new slot holds %d", v)
				}
				p.Store(int64(g + 1))
				got[g] = append(got[g], p)
			}
		})
	}
	wg.Wait()
	seen := map[*atomic.Int64]bool{}
	for g, ps := range got {
		for _, p := range ps {
			if seen[p] {
				t.Fatal("slot handed out twice")
			}
			seen[p] = true
			if v := p.Load(); v != int64(g+1) {
				t.Fatalf("slot of goroutine %d holds %d: slots overlap", g+1, v)
			}
		}
	}
	var seq newestTable
	a, b := seq.take(), seq.take()
	if d := uintptr(unsafe.Pointer(b)) - uintptr(unsafe.Pointer(a)); d != 8 {
		t.Fatalf("consecutive slots %d bytes apart, want 8", d)
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
			if got := st.seen.Load(); got != want {
				t.Errorf("user %d: slot %d, want %d", u, got, want)
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
