// Package storetest is a conformance suite for implementations of the
// fanout storage interfaces ([fanout.Graph], [fanout.Posts] and
// [fanout.Timelines]). A backend's tests call RunGraph, RunPosts and
// RunTimelines with a constructor of empty stores; each subtest gets a fresh
// one. The suites check results, ordering, sentinel errors and behaviour
// under concurrent use (run them with -race).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/blueprint-go/blueprint/fanout"
	"github.com/blueprint-go/blueprint/snowflake"
)

// RunGraph runs the Graph suite against stores made by newGraph.
func RunGraph(t *testing.T, newGraph func() fanout.Graph) {
	ctx := context.Background()
	t.Run("FollowUnfollow", func(t *testing.T) {
		g := newGraph()
		added, err := g.Follow(ctx, fanout.Edge{Follower: 1, Followee: 2, Since: 5})
		if err != nil || !added {
			t.Fatalf("Follow(1→2) = %v, %v, want true, nil", added, err)
		}
		added, err = g.Follow(ctx, fanout.Edge{Follower: 1, Followee: 2, Since: 7})
		if err != nil || added {
			t.Fatalf("second Follow(1→2) = %v, %v, want false, nil", added, err)
		}
		fe, _ := g.Followees(ctx, 1, nil)
		if len(fe) != 1 || fe[0] != (fanout.Edge{Follower: 1, Followee: 2, Since: 7}) {
			t.Fatalf("Followees(1) = %v, want one edge with Since 7", fe)
		}
		fr, _ := g.Followers(ctx, 2, 0, 10, nil)
		if len(fr) != 1 || fr[0].Since != 7 {
			t.Fatalf("Followers(2) = %v, want one edge with Since 7", fr)
		}
		if n1, n2, err := g.Counts(ctx, 2); n1 != 1 || n2 != 0 || err != nil {
			t.Fatalf("Counts(2) = %d, %d, %v, want 1, 0, nil", n1, n2, err)
		}
		removed, err := g.Unfollow(ctx, 1, 2)
		if err != nil || !removed {
			t.Fatalf("Unfollow = %v, %v, want true, nil", removed, err)
		}
		removed, err = g.Unfollow(ctx, 1, 2)
		if err != nil || removed {
			t.Fatalf("second Unfollow = %v, %v, want false, nil", removed, err)
		}
		if n1, n2, _ := g.Counts(ctx, 1); n1 != 0 || n2 != 0 {
			t.Fatalf("Counts(1) after unfollow = %d, %d, want 0, 0", n1, n2)
		}
	})
	// Followees come in Followee order whatever the order of the
	// follows, and Counts counts both directions: the Service binary
	// searches a reader's followees, and takes a reader whose count of
	// followees is 0 (and who has no posts and no timeline) for one with
	// nothing to read.
	t.Run("FolloweesOrderAndCounts", func(t *testing.T) {
		g := newGraph()
		want := []fanout.UserID{2, 5, 40, 300, 7000}
		for _, f := range []fanout.UserID{300, 5, 7000, 2, 40} {
			if _, err := g.Follow(ctx, fanout.Edge{Follower: 1, Followee: f, Since: 1}); err != nil {
				t.Fatal(err)
			}
		}
		fe, err := g.Followees(ctx, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []fanout.UserID
		for _, e := range fe {
			got = append(got, e.Followee)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Followees(1) = %v, want %v", got, want)
		}
		if n1, n2, err := g.Counts(ctx, 1); n1 != 0 || n2 != len(want) || err != nil {
			t.Fatalf("Counts(1) = %d, %d, %v, want 0, %d, nil", n1, n2, err, len(want))
		}
	})
	// The list methods append to dst: what it holds stays in front.
	t.Run("AppendToDst", func(t *testing.T) {
		g := newGraph()
		g.Follow(ctx, fanout.Edge{Follower: 1, Followee: 2, Since: 1})
		mark := fanout.Edge{Follower: 8, Followee: 9, Since: 3}
		want := []fanout.Edge{mark, {Follower: 1, Followee: 2, Since: 1}}
		if got, err := g.Followees(ctx, 1, []fanout.Edge{mark}); err != nil || !slices.Equal(got, want) {
			t.Fatalf("Followees(1, dst [%v]) = %v, %v, want %v", mark, got, err, want)
		}
		if got, err := g.Followers(ctx, 2, 0, 10, []fanout.Edge{mark}); err != nil || !slices.Equal(got, want) {
			t.Fatalf("Followers(2, dst [%v]) = %v, %v, want %v", mark, got, err, want)
		}
	})
	t.Run("SetSince", func(t *testing.T) {
		g := newGraph()
		if err := g.SetSince(ctx, 1, 2, 9); !errors.Is(err, fanout.ErrNotFollowing) {
			t.Fatalf("SetSince without edge = %v, want ErrNotFollowing", err)
		}
		// It made no edge, in either direction: a follower listed by
		// Followers receives the followee's fan-outs.
		fe, _ := g.Followees(ctx, 1, nil)
		fr, _ := g.Followers(ctx, 2, 0, 10, nil)
		n1, _, _ := g.Counts(ctx, 2)
		if len(fe) != 0 || len(fr) != 0 || n1 != 0 {
			t.Fatalf("after SetSince without edge: followees %v, followers %v, follower count %d; want none", fe, fr, n1)
		}
		g.Follow(ctx, fanout.Edge{Follower: 1, Followee: 2})
		if err := g.SetSince(ctx, 1, 2, 9); err != nil {
			t.Fatal(err)
		}
		fe, _ = g.Followees(ctx, 1, nil)
		fr, _ = g.Followers(ctx, 2, 0, 1, nil)
		if fe[0].Since != 9 || fr[0].Since != 9 {
			t.Fatalf("Since after SetSince = %d / %d, want 9 in both directions", fe[0].Since, fr[0].Since)
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		g := newGraph()
		if _, err := g.Follow(ctx, fanout.Edge{Follower: 0, Followee: 2}); !errors.Is(err, fanout.ErrInvalidUser) {
			t.Errorf("Follow(0→2) = %v, want ErrInvalidUser", err)
		}
		if _, err := g.Follow(ctx, fanout.Edge{Follower: 3, Followee: 3}); !errors.Is(err, fanout.ErrSelf) {
			t.Errorf("Follow(3→3) = %v, want ErrSelf", err)
		}
		if _, err := g.Followers(ctx, 2, 0, 0, nil); !errors.Is(err, fanout.ErrInvalidLimit) {
			t.Errorf("Followers(limit 0) = %v, want ErrInvalidLimit", err)
		}
		if _, err := g.Followees(ctx, -1, nil); !errors.Is(err, fanout.ErrInvalidUser) {
			t.Errorf("Followees(-1) = %v, want ErrInvalidUser", err)
		}
	})
	t.Run("FollowerPages", func(t *testing.T) {
		g := newGraph()
		const n = 257
		for i := n; i >= 1; i-- {
			g.Follow(ctx, fanout.Edge{Follower: fanout.UserID(i * 3), Followee: 1})
		}
		var got []fanout.UserID
		var after fanout.UserID
		// A page holds at most limit edges, and pages move on: a store
		// ignoring after would page forever.
		for pages := 0; ; pages++ {
			page, err := g.Followers(ctx, 1, after, 50, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 50 || pages > n/50 {
				t.Fatalf("Followers(after %d, limit 50): %d edges on page %d, want at most 50 and %d pages", after, len(page), pages+1, n/50+1)
			}
			for _, e := range page {
				got = append(got, e.Follower)
			}
			if len(page) < 50 {
				break
			}
			after = page[len(page)-1].Follower
		}
		if len(got) != n || !slices.IsSorted(got) || got[0] != 3 {
			t.Fatalf("paged followers: %d, sorted %v, first %d; want %d ascending from 3", len(got), slices.IsSorted(got), got[0], n)
		}
	})
	// A follower whose ID is math.MaxInt64 ends the paging: Followers
	// after it returns nothing. A store computing after+1 wraps to
	// math.MinInt64 and lists every follower again, and a fan-out paging
	// through the followers never ends.
	t.Run("FollowerPagesAtMaxID", func(t *testing.T) {
		g := newGraph()
		for _, f := range []fanout.UserID{5, math.MaxInt64 - 1, math.MaxInt64} {
			if _, err := g.Follow(ctx, fanout.Edge{Follower: f, Followee: 1, Since: 1}); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := g.Followers(ctx, 1, math.MaxInt64, 10, nil); err != nil || len(got) != 0 {
			t.Fatalf("Followers(after MaxInt64) = %v, %v, want none", got, err)
		}
		got, err := g.Followers(ctx, 1, math.MaxInt64-1, 10, nil)
		if err != nil || len(got) != 1 || got[0].Follower != math.MaxInt64 {
			t.Fatalf("Followers(after MaxInt64-1) = %v, %v, want the follower MaxInt64", got, err)
		}
		var all []fanout.UserID
		var after fanout.UserID
		for range 10 {
			page, err := g.Followers(ctx, 1, after, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			all = append(all, page[0].Follower)
			after = page[0].Follower
		}
		if want := []fanout.UserID{5, math.MaxInt64 - 1, math.MaxInt64}; !slices.Equal(all, want) {
			t.Fatalf("followers paged one at a time = %v, want %v", all, want)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		g := newGraph()
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 200 {
					f := fanout.UserID(w*1000 + i + 2)
					g.Follow(ctx, fanout.Edge{Follower: f, Followee: 1, Since: 1})
					if i%2 == 1 {
						g.Unfollow(ctx, f, 1)
					}
					g.Followers(ctx, 1, 0, 100, nil)
				}
			}()
		}
		wg.Wait()
		if n, _, _ := g.Counts(ctx, 1); n != 400 {
			t.Fatalf("followers after concurrent follows = %d, want 400", n)
		}
	})
	// A Follow and an Unfollow of one edge on two goroutines must change
	// both directions at once: else the followee may keep a follower that
	// no longer follows it (and receive its fan-outs).
	t.Run("FollowUnfollowRace", func(t *testing.T) {
		g := newGraph()
		rounds := 2000
		if testing.Short() {
			rounds = 500
		}
		for i := range rounds {
			f, e := fanout.UserID(2*i+1), fanout.UserID(2*i+2)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); g.Follow(ctx, fanout.Edge{Follower: f, Followee: e, Since: 1}) }()
			go func() { defer wg.Done(); g.Unfollow(ctx, f, e) }()
			wg.Wait()
			out, _ := g.Followees(ctx, f, nil)
			in, _ := g.Followers(ctx, e, 0, 10, nil)
			if len(out) != len(in) {
				t.Fatalf("after a racing Follow and Unfollow of %d→%d: followees %v, followers %v", f, e, out, in)
			}
		}
	})
}

func id(n int) snowflake.ID { return snowflake.ID(n) }

// RunPosts runs the Posts suite against stores made by newPosts.
func RunPosts(t *testing.T, newPosts func() fanout.Posts) {
	ctx := context.Background()
	t.Run("PutGetRecentDelete", func(t *testing.T) {
		p := newPosts()
		for i := 1; i <= 10; i++ {
			author := fanout.UserID(1 + i%2)
			if err := p.Put(ctx, fanout.Post{ID: id(i * 10), Author: author, Text: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := p.GetMany(ctx, []snowflake.ID{30, 999, 10}, nil)
		if len(got) != 2 || got[0].ID != 30 || got[1].ID != 10 || got[0].Text != "3" {
			t.Fatalf("GetMany(30, 999, 10) = %v, want posts 30 and 10 in that order", got)
		}
		ids, _ := p.Recent(ctx, 1, 80, 3, nil) // author 1 has 20,40,60,80,100
		if !slices.Equal(ids, []snowflake.ID{60, 40, 20}) {
			t.Fatalf("Recent(1, before 80, 3) = %v, want [60 40 20]", ids)
		}
		del, err := p.Delete(ctx, 40)
		if err != nil || del.ID != 40 || del.Author != 1 {
			t.Fatalf("Delete(40) = %v, %v", del, err)
		}
		if _, err := p.Delete(ctx, 40); !errors.Is(err, fanout.ErrNotFound) {
			t.Fatalf("second Delete(40) = %v, want ErrNotFound", err)
		}
		ids, _ = p.Recent(ctx, 1, 1<<62, 10, nil)
		if !slices.Equal(ids, []snowflake.ID{100, 80, 60, 20}) {
			t.Fatalf("Recent(1) after delete = %v, want [100 80 60 20]", ids)
		}
	})
	// Put of an ID already stored replaces the post, and the list methods
	// append to dst.
	t.Run("PutReplacesAppendToDst", func(t *testing.T) {
		p := newPosts()
		p.Put(ctx, fanout.Post{ID: 5, Author: 1, Text: "old"})
		if err := p.Put(ctx, fanout.Post{ID: 5, Author: 1, Text: "new"}); err != nil {
			t.Fatal(err)
		}
		mark := fanout.Post{ID: 99, Author: 9}
		got, err := p.GetMany(ctx, []snowflake.ID{5}, []fanout.Post{mark})
		if want := []fanout.Post{mark, {ID: 5, Author: 1, Text: "new"}}; err != nil || !slices.Equal(got, want) {
			t.Fatalf("GetMany(5, dst [%v]) after a second Put = %v, %v, want %v", mark, got, err, want)
		}
		ids, err := p.Recent(ctx, 1, 1<<62, 10, []snowflake.ID{99})
		if want := []snowflake.ID{99, 5}; err != nil || !slices.Equal(ids, want) {
			t.Fatalf("Recent(1, dst [99]) = %v, %v, want %v", ids, err, want)
		}
	})
	// Recent below the lowest ID lists nothing: before-1 wraps at
	// math.MinInt64 to the top, where a store would list every post.
	t.Run("RecentAtExtremes", func(t *testing.T) {
		p := newPosts()
		for _, n := range []snowflake.ID{1, 7, math.MaxInt64 - 1} {
			if err := p.Put(ctx, fanout.Post{ID: n, Author: 3}); err != nil {
				t.Fatal(err)
			}
		}
		for _, before := range []snowflake.ID{math.MinInt64, -1, 0, 1} {
			if ids, err := p.Recent(ctx, 3, before, 10, nil); err != nil || len(ids) != 0 {
				t.Fatalf("Recent(before %d) = %v, %v, want none", before, ids, err)
			}
		}
		if ids, _ := p.Recent(ctx, 3, math.MaxInt64, 10, nil); !slices.Equal(ids, []snowflake.ID{math.MaxInt64 - 1, 7, 1}) {
			t.Fatalf("Recent(before MaxInt64) = %v, want every post", ids)
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		p := newPosts()
		if err := p.Put(ctx, fanout.Post{ID: 0, Author: 1}); !errors.Is(err, fanout.ErrInvalidPost) {
			t.Errorf("Put(ID 0) = %v, want ErrInvalidPost", err)
		}
		if err := p.Put(ctx, fanout.Post{ID: 5, Author: 0}); !errors.Is(err, fanout.ErrInvalidUser) {
			t.Errorf("Put(author 0) = %v, want ErrInvalidUser", err)
		}
		if _, err := p.Recent(ctx, 1, 10, 0, nil); !errors.Is(err, fanout.ErrInvalidLimit) {
			t.Errorf("Recent(limit 0) = %v, want ErrInvalidLimit", err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		p := newPosts()
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 300 {
					n := id(w*10000 + i + 1)
					p.Put(ctx, fanout.Post{ID: n, Author: 7})
					if i%3 == 0 {
						p.Delete(ctx, n)
					}
					p.Recent(ctx, 7, 1<<62, 20, nil)
				}
			}()
		}
		wg.Wait()
		ids, _ := p.Recent(ctx, 7, 1<<62, 5000, nil)
		if len(ids) != 800 {
			t.Fatalf("posts left = %d, want 800", len(ids))
		}
	})
}

// RunTimelines runs the Timelines suite against stores made by
// newTimelines, which must return a store capped at cap entries per user.
func RunTimelines(t *testing.T, newTimelines func(cap int) fanout.Timelines) {
	ctx := context.Background()
	e := func(n int) fanout.Entry { return fanout.Entry{ID: id(n), Author: 9} }
	t.Run("AddRangeRemove", func(t *testing.T) {
		tl := newTimelines(100)
		// Out of order, with a duplicate.
		if err := tl.Add(ctx, 1, e(30), e(10), e(20), e(30)); err != nil {
			t.Fatal(err)
		}
		got, _, _ := tl.Range(ctx, 1, 1<<62, 10, nil)
		if want := []fanout.Entry{e(30), e(20), e(10)}; !slices.Equal(got, want) {
			t.Fatalf("Range = %v, want %v", got, want)
		}
		got, _, _ = tl.Range(ctx, 1, 30, 1, nil)
		if !slices.Equal(got, []fanout.Entry{e(20)}) {
			t.Fatalf("Range(before 30, 1) = %v, want [20]", got)
		}
		tl.Remove(ctx, 1, 20, 999)
		st, _ := tl.Stat(ctx, 1)
		if st.Len != 2 || st.Oldest != 10 || st.Horizon != 0 {
			t.Fatalf("Stat after Remove = %+v, want Len 2, Oldest 10, Horizon 0", st)
		}
		if st, _ := tl.Stat(ctx, 2); st != (fanout.TimelineStat{}) {
			t.Fatalf("Stat of an empty timeline = %+v, want zero", st)
		}
	})
	// Adding an entry whose ID is held changes nothing, whatever its
	// Author, and Range appends to dst.
	t.Run("AddHeldIDAppendToDst", func(t *testing.T) {
		tl := newTimelines(10)
		if err := tl.Add(ctx, 1, e(30)); err != nil {
			t.Fatal(err)
		}
		if err := tl.Add(ctx, 1, fanout.Entry{ID: 30, Author: 8}); err != nil {
			t.Fatal(err)
		}
		if err := tl.Deliver(ctx, fanout.Entry{ID: 30, Author: 7}, []fanout.UserID{1}); err != nil {
			t.Fatal(err)
		}
		mark := fanout.Entry{ID: 77, Author: 3}
		got, _, err := tl.Range(ctx, 1, 1<<62, 10, []fanout.Entry{mark})
		if want := []fanout.Entry{mark, e(30)}; err != nil || !slices.Equal(got, want) {
			t.Fatalf("Range(dst [%v]) after adding ID 30 three times = %v, %v, want %v", mark, got, err, want)
		}
	})
	// Range below the lowest ID lists nothing, and at the top every
	// entry, down to ID 1.
	t.Run("RangeAtExtremes", func(t *testing.T) {
		tl := newTimelines(10)
		top := fanout.Entry{ID: math.MaxInt64 - 1, Author: 9}
		if err := tl.Add(ctx, 1, e(1), top); err != nil {
			t.Fatal(err)
		}
		for _, before := range []snowflake.ID{math.MinInt64, 0, 1} {
			if got, _, err := tl.Range(ctx, 1, before, 10, nil); err != nil || len(got) != 0 {
				t.Fatalf("Range(before %d) = %v, %v, want none", before, got, err)
			}
		}
		if got, _, _ := tl.Range(ctx, 1, math.MaxInt64, 10, nil); !slices.Equal(got, []fanout.Entry{top, e(1)}) {
			t.Fatalf("Range(before MaxInt64) = %v, want both entries", got)
		}
	})
	t.Run("Cap", func(t *testing.T) {
		tl := newTimelines(50)
		for i := 1; i <= 500; i++ {
			tl.Add(ctx, 1, e(i))
		}
		st, _ := tl.Stat(ctx, 1)
		if st.Len != 50 || st.Oldest != 451 || st.Horizon != 451 {
			t.Fatalf("Stat after 500 adds at cap 50 = %+v, want Len 50, Oldest 451, Horizon 451", st)
		}
		tl.Add(ctx, 1, e(5)) // older than all: trimmed at once
		got, hz, _ := tl.Range(ctx, 1, 1<<62, 100, nil)
		if len(got) != 50 || got[49] != e(451) || hz < 451 {
			t.Fatalf("Range after adding an old entry: %d entries, oldest %v, horizon %d", len(got), got[len(got)-1], hz)
		}
	})
	t.Run("Deliver", func(t *testing.T) {
		tl := newTimelines(10)
		// Users 1..1000, every third left out, in a scrambled order and
		// one of them twice: each listed user gets the entry once, the
		// others nothing.
		var users []fanout.UserID
		for i := range 1000 {
			if u := fanout.UserID(i*7919%1000 + 1); u%3 != 0 {
				users = append(users, u)
			}
		}
		users = append(users, users[10])
		if err := tl.Deliver(ctx, e(42), users); err != nil {
			t.Fatal(err)
		}
		for u := fanout.UserID(1); u <= 1000; u++ {
			want := []fanout.Entry{e(42)}
			if u%3 == 0 {
				want = nil
			}
			if got, _, _ := tl.Range(ctx, u, 1<<62, 5, nil); !slices.Equal(got, want) {
				t.Fatalf("user %d after Deliver: %v, want %v", u, got, want)
			}
		}
		if err := tl.Deliver(ctx, e(43), []fanout.UserID{1, 0}); !errors.Is(err, fanout.ErrInvalidUser) {
			t.Fatalf("Deliver to user 0 = %v, want ErrInvalidUser", err)
		}
		if got, _, _ := tl.Range(ctx, 1, 1<<62, 5, nil); !slices.Equal(got, []fanout.Entry{e(42)}) {
			t.Fatalf("user 1 after a rejected Deliver: %v, want only the first entry", got)
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		tl := newTimelines(10)
		if err := tl.Add(ctx, 1, fanout.Entry{ID: 0, Author: 1}); !errors.Is(err, fanout.ErrInvalidPost) {
			t.Errorf("Add(ID 0) = %v, want ErrInvalidPost", err)
		}
		if _, _, err := tl.Range(ctx, 1, 10, 0, nil); !errors.Is(err, fanout.ErrInvalidLimit) {
			t.Errorf("Range(limit 0) = %v, want ErrInvalidLimit", err)
		}
		if _, err := tl.Stat(ctx, 0); !errors.Is(err, fanout.ErrInvalidUser) {
			t.Errorf("Stat(0) = %v, want ErrInvalidUser", err)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		tl := newTimelines(64)
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 500 {
					tl.Deliver(ctx, e(w*100000+i+1), []fanout.UserID{1, 2, fanout.UserID(w + 3)})
					got, _, _ := tl.Range(ctx, 1, 1<<62, 20, nil)
					for j := 1; j < len(got); j++ {
						if got[j].ID >= got[j-1].ID {
							t.Errorf("Range not descending: %v", got)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		if st, _ := tl.Stat(ctx, 1); st.Len != 64 {
			t.Fatalf("Len after concurrent delivery = %d, want 64", st.Len)
		}
		if st, _ := tl.Stat(ctx, 3); st.Len != 64 || st.Oldest != id(500-64+1) {
			t.Fatalf("Stat(3) = %+v, want the newest 64 of 500", st)
		}
	})
}
