package fanout_test

import (
	"math/rand/v2"
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

// TestPlanProperty checks the cached read plans: readers read often (so
// their plans are reused), while follows, unfollows, mutes, blocks, posts,
// deletes and inactivity change what the plans depend on, and authors and
// edges cross the policy's limits both ways. Every page must equal the
// brute-force model.
func TestPlanProperty(t *testing.T) {
	policies := []struct {
		name string
		p    fanout.Policy
	}{
		{"threshold", fanout.Threshold{Followers: 2, Hysteresis: -1, MaxFollowees: 4}},
		{"perpair", fanout.PerPair{Hysteresis: 1.2, MaxFollowees: 4, MaxFollowers: 3}},
	}
	for _, pc := range policies {
		t.Run(pc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed(t), 11))
			e := newEnv(t, 5, fanout.Options{Policy: pc.p, InactiveAfter: time.Minute, RateHalfLife: 10 * time.Second,
				Backfill: 2, BatchSize: 2, Workers: 2})
			const users = 9
			m := &relModel{
				model:   model{posts: map[snowflake.ID]fanout.UserID{}, follows: map[[2]fanout.UserID]bool{}},
				muted:   map[[2]fanout.UserID]bool{},
				blocked: map[[2]fanout.UserID]bool{},
			}
			var ids []snowflake.ID
			user := func() fanout.UserID { return fanout.UserID(1 + r.IntN(users)) }
			op := func() {
				a, b := user(), user()
				ab := [2]fanout.UserID{a, b}
				switch k := r.IntN(24); {
				case k < 7:
					p := e.post(a, "")
					m.posts[p.ID] = p.Author
					ids = append(ids, p.ID)
				case k < 9 && len(ids) > 0:
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
						if err != fanout.ErrBlocked {
							t.Fatalf("Follow(%d, %d) across a block = %v, want ErrBlocked", a, b, err)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					m.follows[ab] = true
				case k < 15 && m.follows[ab]:
					if err := e.svc.Unfollow(e.ctx, a, b); err != nil {
						t.Fatal(err)
					}
					delete(m.follows, ab)
				case k == 15 && a != b:
					if err := e.svc.Mute(e.ctx, a, b); err != nil {
						t.Fatal(err)
					}
					m.muted[ab] = true
				case k == 18 && m.muted[ab]:
					// Every post of b is back, also those a push skipped
					// while muted.
					if err := e.svc.Unmute(e.ctx, a, b); err != nil {
						t.Fatal(err)
					}
					delete(m.muted, ab)
				case k == 16 && a != b:
					if err := e.svc.Block(e.ctx, a, b); err != nil {
						t.Fatal(err)
					}
					m.blocked[ab] = true
					delete(m.follows, ab)
					delete(m.follows, [2]fanout.UserID{b, a})
				case k == 17 && m.blocked[ab]:
					if err := e.svc.Unblock(e.ctx, a, b); err != nil {
						t.Fatal(err)
					}
					delete(m.blocked, ab)
				case k < 22:
					// Reads keep the plans cached and drive the per-pair rates.
					if _, err := e.svc.Timeline(e.ctx, a, "", 3); err != nil {
						t.Fatal(err)
					}
				default:
					e.clk.Add(time.Duration(r.IntN(30)) * time.Second)
				}
			}
			rounds := 300
			if testing.Short() {
				rounds = 60
			}
			for range rounds {
				for range r.IntN(8) {
					op()
				}
				reader := user()
				pageAgainstModel(t, e, m, r, reader, 4, 3, op)
			}
		})
	}
}
