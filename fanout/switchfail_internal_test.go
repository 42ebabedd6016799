package fanout

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/snowflake"
)

var errPut = errors.New("put failed")

// failPosts fails the next Put once armed.
type failPosts struct {
	Posts
	fail atomic.Bool
}

func (p *failPosts) Put(ctx context.Context, x Post) error {
	if p.fail.CompareAndSwap(true, false) {
		return errPut
	}
	return p.Posts.Put(ctx, x)
}

// TestFailedSwitchingPublish checks that a Publish that switches its
// author from pull to push and then fails (its post's Put, or the ID
// generator) leaves the author in one mode: the switch completed, with a
// watermark, not pushed at Pulling (pushed and pulled at once, paying for
// both) until its next switch to push, which a later Publish does not
// make since the author is pushed already. The follower reads every
// stored post, before and after.
func TestFailedSwitchingPublish(t *testing.T) {
	for _, fail := range []string{"put", "ids"} {
		t.Run(fail, func(t *testing.T) {
			ctx := context.Background()
			ns := new(atomic.Int64)
			ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
			posts := &failPosts{Posts: NewMemPosts()}
			fanned := make(chan snowflake.ID, 16)
			s := New(NewMemGraph(), posts, NewMemTimelines(MemTimelinesOptions{}), Options{
				IDs: nsIDs(t, ns), Now: nsClock{ns}.Now, Policy: Threshold{Followers: 1, Hysteresis: -1},
				OnFanout: func(id snowflake.ID, _ int, _ time.Duration) { fanned <- id },
			})
			defer s.Close()
			const reader, author, other = 1, 2, 3
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			publish := func(text string) (Post, error) {
				ns.Add(int64(time.Millisecond))
				p, err := s.Publish(ctx, author, text)
				if err == nil {
					<-fanned
				}
				return p, err
			}
			must(s.Follow(ctx, reader, author))
			must(s.Follow(ctx, other, author)) // 2 followers: pulled
			_, err := publish("P0")
			must(err)
			must(s.Unfollow(ctx, other, author)) // 1 follower: the next Publish switches to push

			switch fail {
			case "put":
				posts.fail.Store(true)
				if _, err := publish("failed"); !errors.Is(err, errPut) {
					t.Fatalf("Publish with a failing Put = %v, want its error", err)
				}
			case "ids":
				ns.Add(-int64(time.Second)) // the generator's clock is behind its last ID
				if _, err := publish("failed"); !errors.Is(err, snowflake.ErrClockBehind) {
					t.Fatalf("Publish with a clock behind = %v, want ErrClockBehind", err)
				}
				ns.Add(int64(time.Second))
			}
			mode := func(when string) {
				t.Helper()
				var push bool
				var since snowflake.ID
				must(s.user(ctx, author, func(st *userState) { push, since = st.authorPush, st.authorSince }))
				if push && since == Pulling {
					t.Fatalf("%s: author pushed with its watermark at Pulling: pushed and pulled at once", when)
				}
			}
			mode("after the failed Publish")
			p2, err := publish("P2")
			must(err)
			mode("after the next Publish")
			pg, err := s.Timeline(ctx, reader, "", 10)
			must(err)
			var got []string
			for _, p := range pg.Posts {
				got = append(got, p.Text)
			}
			if !slices.Equal(got, []string{"P2", "P0"}) {
				t.Fatalf("feed = %q, want P2, P0", got)
			}
			// P2 was pushed: the reader's timeline holds it.
			held, _, err := s.timelines.Range(ctx, reader, Pulling, 10, nil)
			must(err)
			if !slices.Contains(held, Entry{ID: p2.ID, Author: author}) {
				t.Fatalf("timeline %v lacks the pushed post %d", held, p2.ID)
			}
		})
	}
}
