package fanout

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/blueprint-go/blueprint/snowflake"
)

// states counts the users the Service holds state for.
func (s *Service) states() int {
	n := 0
	for i := range s.users {
		us := &s.users[i]
		us.mu.Lock()
		n += len(us.m)
		us.mu.Unlock()
	}
	return n
}

// TestReadOfUnknownUserLeavesNoState checks that reads (Timeline and
// Refresh) of user IDs the Service has never seen, who follow no one and
// have no posts and no stored timeline, return an empty page and leave no
// state behind (each used to keep about 330 bytes for the Service's
// lifetime), and that users with something to read get their state and
// pages as before: posts of their own stored before the Service, a stored
// timeline, followees in a stored graph, or a follow after such a read.
func TestReadOfUnknownUserLeavesNoState(t *testing.T) {
	ctx := context.Background()
	gen, err := snowflake.NewGenerator(1, snowflake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g, ps, tl := NewMemGraph(), NewMemPosts(), NewMemTimelines(MemTimelinesOptions{})
	const poster, heldTL, follower, followee = 50, 60, 70, 71
	put := func(a UserID) snowflake.ID {
		id, err := gen.Next()
		if err != nil {
			t.Fatal(err)
		}
		if err := ps.Put(ctx, Post{ID: id, Author: a}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	own := put(poster)
	held := put(followee)
	if err := tl.Add(ctx, heldTL, Entry{ID: held, Author: followee}); err != nil {
		t.Fatal(err)
	}
	followed := put(followee)
	if _, err := g.Follow(ctx, Edge{Follower: follower, Followee: followee, Since: 1}); err != nil {
		t.Fatal(err)
	}
	s := New(g, ps, tl, Options{IDs: gen})
	defer s.Close()

	for u := UserID(1000); u < 2000; u++ {
		pg, err := s.Timeline(ctx, u, "", 20)
		if err != nil || len(pg.Posts) != 0 || pg.Next != "" || pg.Partial {
			t.Fatalf("Timeline(%d) = %+v, %v, want an empty page", u, pg, err)
		}
		if pg, err := s.Refresh(ctx, u, 0, 20); err != nil || len(pg.Posts) != 0 || pg.More {
			t.Fatalf("Refresh(%d) = %+v, %v, want an empty page", u, pg, err)
		}
	}
	if n := s.states(); n != 0 {
		t.Fatalf("after reads of 1000 unknown users the Service holds %d users' state, want none", n)
	}

	// Reads show stored posts once the Service has issued a higher ID.
	if _, err := s.Publish(ctx, 99, ""); err != nil {
		t.Fatal(err)
	}
	ids := func(u UserID) []snowflake.ID {
		t.Helper()
		pg, err := s.Timeline(ctx, u, "", 20)
		if err != nil {
			t.Fatal(err)
		}
		var out []snowflake.ID
		for _, p := range pg.Posts {
			out = append(out, p.ID)
		}
		return out
	}
	if got := ids(poster); !slices.Equal(got, []snowflake.ID{own}) {
		t.Fatalf("user with a post stored before the Service reads %v, want its post %d", got, own)
	}
	if got := ids(follower); !slices.Equal(got, []snowflake.ID{followed, held}) {
		t.Fatalf("user following %d in the stored graph reads %v, want %v", followee, got, []snowflake.ID{followed, held})
	}
	if got := ids(heldTL); len(got) != 0 {
		t.Fatalf("user with a stored timeline of an unfollowed author reads %v, want nothing", got)
	}
	for _, u := range []UserID{poster, heldTL, follower} {
		if !s.peek(u, nil) {
			t.Fatalf("user %d has no state after its read", u)
		}
	}

	// A user first read with nothing, then following someone, reads it.
	if err := s.Follow(ctx, 1500, followee); err != nil {
		t.Fatal(err)
	}
	if got := ids(1500); !slices.Contains(got, followed) {
		t.Fatalf("user 1500 after following %d reads %v, want %d", followee, got, followed)
	}
}

// TestUndoOfNothingLeavesNoState checks that Unmute and Unblock of a
// relation that does not exist, and Unfollow by a user who follows no one,
// change nothing and leave no state behind (each call kept about 330
// bytes for the Service's lifetime for both users), and that the undo of
// a relation that does exist still works.
func TestUndoOfNothingLeavesNoState(t *testing.T) {
	ctx := context.Background()
	s := New(NewMemGraph(), NewMemPosts(), NewMemTimelines(MemTimelinesOptions{}), Options{})
	defer s.Close()
	for u := UserID(1000); u < 1300; u += 3 {
		if err := s.Unmute(ctx, u, u+1); err != nil {
			t.Fatalf("Unmute(%d, %d) = %v, want nil", u, u+1, err)
		}
		if err := s.Unblock(ctx, u+1, u+2); err != nil {
			t.Fatalf("Unblock(%d, %d) = %v, want nil", u+1, u+2, err)
		}
		if err := s.Unfollow(ctx, u+2, u); !errors.Is(err, ErrNotFollowing) {
			t.Fatalf("Unfollow(%d, %d) = %v, want ErrNotFollowing", u+2, u, err)
		}
	}
	if n := s.states(); n != 0 {
		t.Fatalf("after undoing relations that do not exist the Service holds %d users' state, want none", n)
	}

	// A user with state but no such relation: nothing for the target.
	if err := s.Mute(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.Unblock(ctx, 1, 3); err != nil {
		t.Fatal(err)
	}
	if n := s.states(); n != 1 {
		t.Fatalf("after Mute(1, 2) and Unblock(1, 3) the Service holds %d users' state, want 1", n)
	}

	// Relations that exist are undone.
	if err := s.Unmute(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.Block(ctx, 4, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.Unblock(ctx, 4, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.Follow(ctx, 4, 5); err != nil {
		t.Fatalf("Follow after Unblock = %v", err)
	}
	if err := s.Unfollow(ctx, 4, 5); err != nil {
		t.Fatalf("Unfollow of a follow = %v", err)
	}
	for _, u := range []UserID{1, 4, 5} {
		var rel map[UserID]uint8
		s.peek(u, func(st *userState) { rel = st.rel })
		for other, r := range rel {
			t.Errorf("user %d still has relation %b with %d", u, r, other)
		}
	}
}

// TestUnfollowOfNonFolloweeLeavesNoState unfollows, by a user who follows
// someone, users it does not follow: each must be ErrNotFollowing and
// leave no state (each kept about 330 bytes). An Unfollow of a followee
// the Service has no state for (a graph stored before it) still works,
// with the counts right.
func TestUnfollowOfNonFolloweeLeavesNoState(t *testing.T) {
	ctx := context.Background()
	g := NewMemGraph()
	if _, err := g.Follow(ctx, Edge{Follower: 7, Followee: 8, Since: 1}); err != nil {
		t.Fatal(err)
	}
	s := New(g, NewMemPosts(), NewMemTimelines(MemTimelinesOptions{}), Options{})
	defer s.Close()
	if err := s.Follow(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	before := s.states()
	for u := UserID(1000); u < 1100; u++ {
		if err := s.Unfollow(ctx, 1, u); !errors.Is(err, ErrNotFollowing) {
			t.Fatalf("Unfollow(1, %d) = %v, want ErrNotFollowing", u, err)
		}
	}
	if n := s.states(); n != before {
		t.Fatalf("Unfollows of users not followed made %d users' state (had %d)", n, before)
	}
	if err := s.Unfollow(ctx, 7, 8); err != nil {
		t.Fatalf("Unfollow of a stored edge = %v", err)
	}
	var fr, fe int
	s.user(ctx, 8, func(st *userState) { fr = st.followers })
	s.user(ctx, 7, func(st *userState) { fe = st.followees })
	if fr != 0 || fe != 0 {
		t.Fatalf("after the Unfollow: followers of 8 = %d, followees of 7 = %d; want 0, 0", fr, fe)
	}
}
