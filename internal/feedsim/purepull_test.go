package feedsim

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/blueprint-go/blueprint/fanout"
	"github.com/blueprint-go/blueprint/snowflake"
)

// TestPurePullProperty drives PurePull with random posts, follows,
// unfollows, deletes, mutes and blocks, and checks every page of every
// reader against a model: the newest posts of the reader and its followees,
// without deleted posts and hidden authors, paged without repeats or gaps.
func TestPurePullProperty(t *testing.T) {
	seed := uint64(rand.Int64())
	if v, err := strconv.ParseUint(os.Getenv("SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("SEED=%d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	ctx := context.Background()
	gen, err := snowflake.NewGenerator(1, snowflake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pp := NewPurePull(fanout.NewMemGraph(), fanout.NewMemPosts(), gen)
	const users = 12
	follows := map[[2]fanout.UserID]bool{}
	hidden := map[[2]fanout.UserID]bool{}  // muted or blocked
	blocked := map[[2]fanout.UserID]bool{} // both ways
	var posts []fanout.Post                // live ones
	user := func() fanout.UserID { return fanout.UserID(1 + r.IntN(users)) }
	expect := func(reader fanout.UserID) []snowflake.ID {
		var ids []snowflake.ID
		for _, p := range posts {
			if (p.Author == reader || follows[[2]fanout.UserID{reader, p.Author}]) && !hidden[[2]fanout.UserID{reader, p.Author}] {
				ids = append(ids, p.ID)
			}
		}
		slices.Reverse(ids)
		return ids
	}
	for step := range 600 {
		a, b := user(), user()
		switch k := r.IntN(10); {
		case k < 4:
			p, err := pp.Publish(ctx, a, "")
			if err != nil {
				t.Fatal(err)
			}
			posts = append(posts, p)
		case k < 6 && a != b:
			err := pp.Follow(ctx, a, b)
			if blocked[[2]fanout.UserID{a, b}] {
				if !errors.Is(err, fanout.ErrBlocked) {
					t.Fatalf("step %d: follow across a block: %v", step, err)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			follows[[2]fanout.UserID{a, b}] = true
		case k == 6 && a != b:
			err := pp.Unfollow(ctx, a, b)
			if want := follows[[2]fanout.UserID{a, b}]; want != (err == nil) || !want && !errors.Is(err, fanout.ErrNotFollowing) {
				t.Fatalf("step %d: unfollow %d %d (following %v): %v", step, a, b, want, err)
			}
			delete(follows, [2]fanout.UserID{a, b})
		case k == 7 && len(posts) > 0:
			i := r.IntN(len(posts))
			if err := pp.Delete(ctx, posts[i].Author+1, posts[i].ID); !errors.Is(err, fanout.ErrNotFound) {
				t.Fatalf("step %d: delete by another author: %v", step, err)
			}
			if err := pp.Delete(ctx, posts[i].Author, posts[i].ID); err != nil {
				t.Fatal(err)
			}
			posts = slices.Delete(posts, i, i+1)
		case k == 8 && a != b && r.IntN(4) == 0:
			if r.IntN(2) == 0 {
				pp.Mute(a, b)
				hidden[[2]fanout.UserID{a, b}] = true
			} else {
				if err := pp.Block(ctx, a, b); err != nil {
					t.Fatal(err)
				}
				hidden[[2]fanout.UserID{a, b}], hidden[[2]fanout.UserID{b, a}] = true, true
				blocked[[2]fanout.UserID{a, b}], blocked[[2]fanout.UserID{b, a}] = true, true
				delete(follows, [2]fanout.UserID{a, b})
				delete(follows, [2]fanout.UserID{b, a})
			}
		default:
			limit := 1 + r.IntN(7)
			want := expect(a)
			var got []snowflake.ID
			var page []fanout.Post
			cur := ""
			for {
				// Half the reads recycle their page.
				var pg fanout.Page
				var err error
				if step%2 == 1 {
					pg, err = pp.AppendTimeline(ctx, page[:0], a, cur, limit)
					page = pg.Posts
				} else {
					pg, err = pp.Timeline(ctx, a, cur, limit)
				}
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range pg.Posts {
					got = append(got, p.ID)
				}
				if pg.Next == "" {
					break
				}
				cur = pg.Next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: reader %d limit %d: got %v, want %v", step, a, limit, got, want)
			}
		}
	}
}

func TestPurePullBadInput(t *testing.T) {
	ctx := context.Background()
	gen, _ := snowflake.NewGenerator(1, snowflake.Options{})
	pp := NewPurePull(fanout.NewMemGraph(), fanout.NewMemPosts(), gen)
	for _, c := range []struct {
		user   fanout.UserID
		cursor string
		limit  int
		want   error
	}{
		{0, "", 20, fanout.ErrInvalidUser},
		{1, "", 0, fanout.ErrInvalidLimit},
		{1, "", fanout.MaxLimit + 1, fanout.ErrInvalidLimit},
		{1, "!!", 20, fanout.ErrBadCursor},
		{1, "-5", 20, fanout.ErrBadCursor},
	} {
		if _, err := pp.Timeline(ctx, c.user, c.cursor, c.limit); !errors.Is(err, c.want) {
			t.Errorf("Timeline(%d, %q, %d) = %v, want %v", c.user, c.cursor, c.limit, err, c.want)
		}
	}
	if _, err := pp.Publish(ctx, 0, ""); !errors.Is(err, fanout.ErrInvalidUser) {
		t.Errorf("Publish by 0: %v", err)
	}
}
