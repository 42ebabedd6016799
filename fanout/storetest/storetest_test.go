package storetest_test

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/blueprint-go/blueprint/fanout"
	"github.com/blueprint-go/blueprint/fanout/storetest"
	"github.com/blueprint-go/blueprint/snowflake"
)

// Subtly wrong stores, each breaking one promise of its interface's doc
// that the Service relies on or may rely on. The suite must fail each.

type unsortedFollowees struct{ *fanout.MemGraph }

func (g unsortedFollowees) Followees(ctx context.Context, user fanout.UserID, dst []fanout.Edge) ([]fanout.Edge, error) {
	n := len(dst)
	dst, err := g.MemGraph.Followees(ctx, user, dst)
	slices.Reverse(dst[n:])
	return dst, err
}

type noFolloweeCount struct{ *fanout.MemGraph }

func (g noFolloweeCount) Counts(ctx context.Context, user fanout.UserID) (int, int, error) {
	fr, _, err := g.MemGraph.Counts(ctx, user)
	return fr, 0, err
}

type setSinceFollows struct{ *fanout.MemGraph }

func (g setSinceFollows) SetSince(ctx context.Context, follower, followee fanout.UserID, since snowflake.ID) error {
	err := g.MemGraph.SetSince(ctx, follower, followee, since)
	if err == fanout.ErrNotFollowing {
		g.MemGraph.Follow(ctx, fanout.Edge{Follower: follower, Followee: followee, Since: since})
	}
	return err
}

type dropsDst struct{ *fanout.MemGraph }

func (g dropsDst) Followees(ctx context.Context, user fanout.UserID, dst []fanout.Edge) ([]fanout.Edge, error) {
	return g.MemGraph.Followees(ctx, user, nil)
}

type followersNoLimit struct{ *fanout.MemGraph }

func (g followersNoLimit) Followers(ctx context.Context, user, after fanout.UserID, limit int, dst []fanout.Edge) ([]fanout.Edge, error) {
	if limit > 0 {
		limit = 1 << 20
	}
	return g.MemGraph.Followers(ctx, user, after, limit, dst)
}

type followersFromStart struct{ *fanout.MemGraph }

func (g followersFromStart) Followers(ctx context.Context, user, after fanout.UserID, limit int, dst []fanout.Edge) ([]fanout.Edge, error) {
	return g.MemGraph.Followers(ctx, user, 0, limit, dst)
}

type putKeepsOld struct{ *fanout.MemPosts }

func (p putKeepsOld) Put(ctx context.Context, post fanout.Post) error {
	if got, _ := p.GetMany(ctx, []snowflake.ID{post.ID}, nil); len(got) > 0 {
		return nil
	}
	return p.MemPosts.Put(ctx, post)
}

type addReplaces struct{ *fanout.MemTimelines }

func (t addReplaces) Add(ctx context.Context, user fanout.UserID, entries ...fanout.Entry) error {
	for _, e := range entries {
		t.MemTimelines.Remove(ctx, user, e.ID)
	}
	return t.MemTimelines.Add(ctx, user, entries...)
}

var mutants = map[string]func(t *testing.T){
	"unsorted-followees": func(t *testing.T) {
		storetest.RunGraph(t, func() fanout.Graph { return unsortedFollowees{fanout.NewMemGraph()} })
	},
	"no-followee-count": func(t *testing.T) {
		storetest.RunGraph(t, func() fanout.Graph { return noFolloweeCount{fanout.NewMemGraph()} })
	},
	"setsince-follows": func(t *testing.T) {
		storetest.RunGraph(t, func() fanout.Graph { return setSinceFollows{fanout.NewMemGraph()} })
	},
	"drops-dst": func(t *testing.T) {
		storetest.RunGraph(t, func() fanout.Graph { return dropsDst{fanout.NewMemGraph()} })
	},
	"followers-no-limit": func(t *testing.T) {
		storetest.RunGraph(t, func() fanout.Graph { return followersNoLimit{fanout.NewMemGraph()} })
	},
	"followers-from-start": func(t *testing.T) {
		storetest.RunGraph(t, func() fanout.Graph { return followersFromStart{fanout.NewMemGraph()} })
	},
	"put-keeps-old": func(t *testing.T) {
		storetest.RunPosts(t, func() fanout.Posts { return putKeepsOld{fanout.NewMemPosts()} })
	},
	"add-replaces": func(t *testing.T) {
		storetest.RunTimelines(t, func(c int) fanout.Timelines {
			return addReplaces{fanout.NewMemTimelines(fanout.MemTimelinesOptions{Cap: c})}
		})
	},
}

const mutantEnv = "FANOUT_STORETEST_MUTANT"

// TestMutant runs the suite against the wrong store named by
// $FANOUT_STORETEST_MUTANT; TestSuiteCatchesMutants runs it so, in a
// process of its own, and expects it to fail.
func TestMutant(t *testing.T) {
	name := os.Getenv(mutantEnv)
	if name == "" {
		t.Skip("run by TestSuiteCatchesMutants")
	}
	mutants[name](t)
}

// TestSuiteCatchesMutants checks that the suite fails each subtly wrong
// store above.
func TestSuiteCatchesMutants(t *testing.T) {
	if os.Getenv(mutantEnv) != "" {
		t.Skip()
	}
	for name := range mutants {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMutant$", "-test.short", "-test.count=1", "-test.timeout=60s")
		cmd.Env = append(os.Environ(), mutantEnv+"="+name)
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("the suite passes the store %q:\n%s", name, out)
		}
	}
}
