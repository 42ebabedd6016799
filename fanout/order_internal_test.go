package fanout

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/blueprint-go/blueprint/snowflake"
)

// TestPulledPostVisibleAtTop: a read's first page shows the newest post
// below its top (stable()), not only posts whose Publish returned.
func TestPulledPostVisibleAtTop(t *testing.T) {
	ctx := context.Background()
	s := New(NewMemGraph(), NewMemPosts(), NewMemTimelines(MemTimelinesOptions{}),
		Options{Policy: Threshold{Followers: 1, Hysteresis: -1}})
	defer s.Close()
	const authors = 4
	for a := UserID(1); a <= authors; a++ {
		for r := UserID(100); r < 103; r++ { // 3 followers: pulled
			if err := s.Follow(ctx, r, a); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Publish(ctx, a, ""); err != nil {
			t.Fatal(err)
		}
	}
	var done atomic.Bool
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for i := 0; !done.Load(); i++ {
				if _, err := s.Publish(ctx, UserID(1+(i*2+g)%authors), ""); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	misses := 0
	for range 3000 {
		top, _ := s.stable()
		var want snowflake.ID
		for a := UserID(1); a <= authors; a++ {
			ids, _ := s.posts.Recent(ctx, a, top+1, 1, nil)
			if len(ids) > 0 {
				want = max(want, ids[0])
			}
		}
		pg, err := s.Timeline(ctx, 100, encodeCursor(top+1), 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(pg.Posts) != 1 || pg.Posts[0].ID != want {
			misses++
		}
	}
	done.Store(true)
	wg.Wait()
	if misses > 0 {
		t.Fatalf("%d of 3000 reads missed the newest post below their top", misses)
	}
}
