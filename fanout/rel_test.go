package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/fanout"
	"github.com/blueprint-go/blueprint/snowflake"
)

// relModel extends model with mutes and blocks: reader sees a's posts if it
// follows a (or is a), has not muted a, and neither blocked the other.
type relModel struct {
	model
	muted   map[[2]fanout.UserID]bool
	blocked map[[2]fanout.UserID]bool
}

func (m *relModel) visible(reader fanout.UserID, before snowflake.ID) []snowflake.ID {
	var out []snowflake.ID
	for _, id := range m.model.visible(reader, before) {
		a := m.posts[id]
		if a != reader && (m.muted[[2]fanout.UserID{reader, a}] || m.blocked[[2]fanout.UserID{reader, a}] || m.blocked[[2]fanout.UserID{a, reader}]) {
			continue
		}
		out = append(out, id)
	}
	return out
}

// callBounded runs f on a goroutine and returns its error, or a failure if
// it panics or does not return within a few seconds: a panic under a lock
// of the Service would otherwise hang the test on a deferred call.
func callBounded(f func() error) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic: %v", r)
			}
		}()
		done <- f()
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		return fmt.Errorf("did not return")
	}
}

// TestUndoWithoutRelation checks that Unmute and Unblock of a user who
// was never muted or blocked, by a user who has muted or blocked no one,
// change nothing and return nil: they used to panic on the user's nil
// relation map, under its stripe lock.
func TestUndoWithoutRelation(t *testing.T) {
	ctx := context.Background()
	svc := fanout.New(fanout.NewMemGraph(), fanout.NewMemPosts(), fanout.NewMemTimelines(fanout.MemTimelinesOptions{}), fanout.Options{})
	defer svc.Close()
	if err := svc.Follow(ctx, 3, 4); err != nil {
		t.Fatal(err)
	}
	p, err := svc.Publish(ctx, 4, "hello")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name         string
		user, target fanout.UserID
		undo         func(ctx context.Context, user, target fanout.UserID) error
	}{
		{"Unmute", 1, 2, svc.Unmute},
		{"Unblock", 1, 2, svc.Unblock},
		{"Unmute a followee", 3, 4, svc.Unmute},
		{"Unblock a followee", 3, 4, svc.Unblock},
	} {
		if err := callBounded(func() error { return c.undo(ctx, c.user, c.target) }); err != nil {
			t.Fatalf("%s(%d, %d) = %v, want nil", c.name, c.user, c.target, err)
		}
	}
	pg, err := svc.Timeline(ctx, 3, "", 5)
	if err != nil || len(pg.Posts) != 1 || pg.Posts[0].ID != p.ID {
		t.Fatalf("Timeline(3) after the undos = %v, %v, want the followee's post", pg.Posts, err)
	}
}

// wrapGraph returns SetSince's ErrNotFollowing wrapped, as a store that
// adds context to its errors may (callers test with errors.Is), and runs
// the armed hook once at the start of a SetSince to Pulling.
type wrapGraph struct {
	*fanout.MemGraph
	beforePulling atomic.Pointer[func()]
}

func (g *wrapGraph) SetSince(ctx context.Context, follower, followee fanout.UserID, since snowflake.ID) error {
	if since == fanout.Pulling {
		if f := g.beforePulling.Swap(nil); f != nil {
			(*f)()
		}
	}
	if err := g.MemGraph.SetSince(ctx, follower, followee, since); err != nil {
		return fmt.Errorf("wrapGraph: set since: %w", err)
	}
	return nil
}

// TestUnmuteRacingUnfollow checks that an Unmute of a followee that the
// user unfollows while Unmute runs (after its read of the user's
// followees, before its edge writes) ends the mute, also on a store that
// wraps ErrNotFollowing: Unmute compared the error with ==, so it failed
// with the store's error and left the mute on.
func TestUnmuteRacingUnfollow(t *testing.T) {
	ctx := context.Background()
	g := &wrapGraph{MemGraph: fanout.NewMemGraph()}
	svc := fanout.New(g, fanout.NewMemPosts(), fanout.NewMemTimelines(fanout.MemTimelinesOptions{}), fanout.Options{})
	defer svc.Close()
	const user, target = 1, 2
	if err := svc.Follow(ctx, user, target); err != nil {
		t.Fatal(err)
	}
	if err := svc.Mute(ctx, user, target); err != nil {
		t.Fatal(err)
	}
	p, err := svc.Publish(ctx, target, "while muted")
	if err != nil {
		t.Fatal(err)
	}
	unfollow := func() {
		if err := svc.Unfollow(ctx, user, target); err != nil {
			t.Error(err)
		}
	}
	g.beforePulling.Store(&unfollow)
	if err := svc.Unmute(ctx, user, target); err != nil {
		t.Fatalf("Unmute racing an Unfollow = %v, want nil", err)
	}
	if err := svc.Follow(ctx, user, target); err != nil {
		t.Fatal(err)
	}
	pg, err := svc.Timeline(ctx, user, "", 5)
	if err != nil || len(pg.Posts) != 1 || pg.Posts[0].ID != p.ID {
		t.Fatalf("Timeline after Unmute and a new Follow = %v, %v, want the post of %d", pg.Posts, err, target)
	}
}

// repostModel extends relModel with reposts: a repost shows if its
// reposter's posts do, its original exists and is by an author the reader
// neither muted nor is blocked with, and with whom the reposter is not
// blocked either way, and, unless hide is false, the reader does not see
// the original already (it follows or is its author; the tests' clock
// stays within RepostWindow).
type repostModel struct {
	relModel
	orig map[snowflake.ID]snowflake.ID // repost → original
	hide bool
}

func (m *repostModel) visible(reader fanout.UserID, before snowflake.ID) []snowflake.ID {
	var out []snowflake.ID
	for _, id := range m.relModel.visible(reader, before) {
		if o, ok := m.orig[id]; ok {
			oa, ok := m.posts[o]
			ro := [2]fanout.UserID{reader, oa}
			ra := [2]fanout.UserID{m.posts[id], oa}
			if !ok || (oa != reader && (m.muted[ro] || m.blocked[ro] || m.blocked[[2]fanout.UserID{oa, reader}])) ||
				m.blocked[ra] || m.blocked[[2]fanout.UserID{ra[1], ra[0]}] ||
				(m.hide && (oa == reader || m.follows[ro])) {
				continue
			}
		}
		out = append(out, id)
	}
	return out
}

// TestPlanProperty checks the cached read plans: readers read often (so
// their plans are reused), while follows, unfollows, mutes, blocks (and
// unmutes and unblocks of users never muted or blocked), posts, reposts,
// deletes and inactivity change what the plans depend on, and authors and
// edges cross the policy's limits both ways, under ordinary, extreme and
// nonsensical options and policies. Every page must equal the brute-force
// model.
func TestPlanProperty(t *testing.T) {
	cases := []struct {
		name string
		opts fanout.Options
	}{
		{"threshold", fanout.Options{Policy: fanout.Threshold{Followers: 2, Hysteresis: -1, MaxFollowees: 4}, InactiveAfter: time.Minute,
			RateHalfLife: 10 * time.Second, Backfill: 2, BatchSize: 2, Workers: 2}},
		{"small", fanout.Options{Policy: fanout.Threshold{Followers: 3, MaxFollowees: 5}, InactiveAfter: time.Minute, Backfill: 3, BatchSize: 2}},
		{"perpair", fanout.Options{Policy: fanout.PerPair{Hysteresis: 1.2, MaxFollowees: 4, MaxFollowers: 3}, InactiveAfter: time.Minute,
			RateHalfLife: 10 * time.Second, Backfill: 2, BatchSize: 2, Workers: 2}},
		{"extreme", fanout.Options{Policy: fanout.PerPair{PullCost: math.NaN(), Hysteresis: math.Inf(1), MaxFollowees: -1},
			InactiveAfter: 1, Backfill: math.MaxInt, BatchSize: math.MaxInt, RateHalfLife: 1, RepostWindow: math.MinInt64, Workers: math.MaxInt, Queue: 1}},
		{"nan", fanout.Options{Policy: fanout.Threshold{Followers: math.MaxInt, Hysteresis: math.NaN(), MaxFollowees: math.MinInt},
			InactiveAfter: math.MaxInt64, Backfill: -5, BatchSize: -5, RateHalfLife: math.MaxInt64, RepostWindow: math.MaxInt64, Workers: -1, Queue: -1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed(t), 13))
			e := newEnv(t, 5, c.opts)
			const users = 8
			m := &repostModel{
				relModel: relModel{
					model:   model{posts: map[snowflake.ID]fanout.UserID{}, follows: map[[2]fanout.UserID]bool{}},
					muted:   map[[2]fanout.UserID]bool{},
					blocked: map[[2]fanout.UserID]bool{},
				},
				orig: map[snowflake.ID]snowflake.ID{},
				hide: c.opts.RepostWindow >= 0,
			}
			var ids []snowflake.ID
			user := func() fanout.UserID { return fanout.UserID(1 + r.IntN(users)) }
			op := func() {
				a, b := user(), user()
				ab := [2]fanout.UserID{a, b}
				switch k := r.IntN(24); {
				case k < 7:
					p := e.post(a, "")
					m.posts[p.ID] = a
					ids = append(ids, p.ID)
				case k < 9 && len(ids) > 0:
					id := ids[r.IntN(len(ids))]
					if _, ok := m.posts[id]; !ok {
						return
					}
					root := id
					if o, ok := m.orig[id]; ok {
						root = o
					}
					p, err := e.svc.Repost(e.ctx, a, id)
					ra, ok := m.posts[root]
					switch {
					case !ok:
						if !errors.Is(err, fanout.ErrNotFound) {
							t.Fatalf("Repost(%d, %d) of a deleted original = %v, want ErrNotFound", a, id, err)
						}
						return
					case m.blocked[[2]fanout.UserID{a, ra}] || m.blocked[[2]fanout.UserID{ra, a}]:
						if !errors.Is(err, fanout.ErrBlocked) {
							t.Fatalf("Repost(%d, %d) across a block = %v, want ErrBlocked", a, id, err)
						}
						return
					case err != nil:
						t.Fatal(err)
					}
					id = root
					m.posts[p.ID], m.orig[p.ID] = a, id
					ids = append(ids, p.ID)
				case k < 10 && len(ids) > 0:
					id := ids[r.IntN(len(ids))]
					if au, ok := m.posts[id]; ok {
						if err := e.svc.Delete(e.ctx, au, id); err != nil {
							t.Fatal(err)
						}
						delete(m.posts, id)
					}
				case k < 13 && a != b:
					err := e.svc.Follow(e.ctx, a, b)
					if m.blocked[ab] || m.blocked[[2]fanout.UserID{b, a}] {
						if !errors.Is(err, fanout.ErrBlocked) {
							t.Fatalf("Follow(%d, %d) across a block = %v, want ErrBlocked", a, b, err)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					m.follows[ab] = true
				case k < 14 && m.follows[ab]:
					if err := e.svc.Unfollow(e.ctx, a, b); err != nil {
						t.Fatal(err)
					}
					delete(m.follows, ab)
				case k < 16 && a != b:
					if err := e.svc.Mute(e.ctx, a, b); err != nil {
						t.Fatal(err)
					}
					m.muted[ab] = true
				case k < 18 && a != b:
					if err := e.svc.Unmute(e.ctx, a, b); err != nil {
						t.Fatal(err)
					}
					delete(m.muted, ab)
				case k < 19 && a != b:
					if err := e.svc.Block(e.ctx, a, b); err != nil {
						t.Fatal(err)
					}
					m.blocked[ab] = true
					delete(m.follows, ab)
					delete(m.follows, [2]fanout.UserID{b, a})
				case k < 20 && a != b:
					if err := e.svc.Unblock(e.ctx, a, b); err != nil {
						t.Fatal(err)
					}
					delete(m.blocked, ab)
				case k < 22:
					if _, err := e.svc.Timeline(e.ctx, a, "", 3); err != nil {
						t.Fatal(err)
					}
				default:
					e.clk.Add(time.Duration(r.IntN(30)) * time.Second)
				}
			}
			rounds := 250
			if testing.Short() {
				rounds = 60
			}
			for range rounds {
				for range r.IntN(6) {
					op()
				}
				pageAgainstModel(t, e, m, r, user(), 4, 3, op)
			}
		})
	}
}
