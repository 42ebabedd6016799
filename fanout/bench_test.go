package fanout_test

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/fanout"
	"github.com/blueprint-go/blueprint/internal/feedsim"
	"github.com/blueprint-go/blueprint/snowflake"
)

var (
	worldOnce sync.Once
	world     *feedsim.World
)

// benchWorld is the seeded power-law graph of the benchmarks: 20k users
// (the simulator, examples/timeline, runs the full 100k).
func benchWorld() *feedsim.World {
	worldOnce.Do(func() {
		world = feedsim.Generate(feedsim.Config{Users: 20000, MedianFollowees: 100, Seed: 1})
	})
	return world
}

// loaded builds a Service on the bench world under policy, with every
// reader active and posts published round-robin by authors weighted like
// the replay, fan-out drained.
func loaded(b *testing.B, policy fanout.Policy, posts int) (*fanout.Service, *feedsim.World) {
	b.Helper()
	ctx := context.Background()
	w := benchWorld()
	g := benchGraph(w)
	gen, _ := snowflake.NewGenerator(1, snowflake.Options{})
	svc := fanout.New(g, fanout.NewMemPosts(), fanout.NewMemTimelines(fanout.MemTimelinesOptions{}),
		fanout.Options{Policy: policy, IDs: gen})
	for u := 1; u <= len(w.Followees); u++ {
		svc.Timeline(ctx, fanout.UserID(u), "", 1)
	}
	ops := w.Replay(0)
	n := 0
	for _, op := range ops {
		if op.Kind == feedsim.OpPost {
			svc.Publish(ctx, op.User, "")
			if n++; n == posts {
				break
			}
		}
	}
	svc.Close() // drain the fan-out; reads keep working
	// One read each builds the readers' plans (changed by the posts'
	// authors crossing into pull), as in a service that has run a while.
	for u := 1; u <= len(w.Followees); u++ {
		svc.Timeline(ctx, fanout.UserID(u), "", 1)
	}
	return svc, w
}

// benchGraph loads w's follow edges into a MemGraph.
func benchGraph(w *feedsim.World) *fanout.MemGraph {
	ctx := context.Background()
	g := fanout.NewMemGraph()
	for i, f := range w.Followees {
		for _, u := range f {
			g.Follow(ctx, fanout.Edge{Follower: fanout.UserID(i + 1), Followee: u, Since: 1})
		}
	}
	return g
}

// timeliner is what BenchmarkTimelineFirstPage reads from.
type timeliner interface {
	Timeline(ctx context.Context, user fanout.UserID, cursor string, limit int) (fanout.Page, error)
}

// loadedPurePull is loaded for the pure-pull baseline: the same graph and
// posts, nothing but the posts stored.
func loadedPurePull(posts int) (*feedsim.PurePull, *feedsim.World) {
	ctx := context.Background()
	w := benchWorld()
	gen, _ := snowflake.NewGenerator(1, snowflake.Options{})
	pp := feedsim.NewPurePull(benchGraph(w), fanout.NewMemPosts(), gen)
	n := 0
	for _, op := range w.Replay(0) {
		if op.Kind == feedsim.OpPost {
			pp.Publish(ctx, op.User, "")
			if n++; n == posts {
				break
			}
		}
	}
	return pp, w
}

// BenchmarkTimelineFirstPage reads the first 20 entries of home timelines
// under each strategy (20000 posts by authors weighted like the replay,
// spread over 20k users), with every reader's plan current; pure-pull is
// the textbook fan-out on read, feedsim.PurePull, on the same stores. It reports
// the median and 99th percentile of the reads' wall times too.
func BenchmarkTimelineFirstPage(b *testing.B) {
	for _, s := range feedsim.Strategies(20000) {
		b.Run(s.Name, func(b *testing.B) {
			var svc timeliner
			var w *feedsim.World
			if s.PurePull {
				svc, w = loadedPurePull(20000)
			} else {
				svc, w = loaded(b, s.Policy, 20000)
			}
			ctx := context.Background()
			u := 0
			took := make([]time.Duration, 0, 1<<20)
			// The previous sub-benchmark's world is garbage now: collect
			// it before timing, not during this one's reads.
			runtime.GC()
			b.ReportAllocs()
			for b.Loop() {
				u = (u + 7919) % len(w.Followees)
				t := time.Now()
				if _, err := svc.Timeline(ctx, fanout.UserID(u+1), "", 20); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(t))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2]), "p50-ns")
			b.ReportMetric(float64(took[len(took)*99/100]), "p99-ns")
		})
	}
}

// BenchmarkDeliver measures raw fan-out: one entry into 1000 timelines per
// op, so inserts/s = 1000 / (ns/op) * 1e9.
func BenchmarkDeliver(b *testing.B) {
	ctx := context.Background()
	tl := fanout.NewMemTimelines(fanout.MemTimelinesOptions{})
	to := make([]fanout.UserID, 1000)
	for i := range to {
		to[i] = fanout.UserID(i*31 + 1)
	}
	var id atomic.Int64 // shared by the parallel goroutines
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tl.Deliver(ctx, fanout.Entry{ID: snowflake.ID(id.Add(1)), Author: 1}, to)
		}
	})
}

// BenchmarkFanout measures the whole fan-out path (Publish, the worker
// pool, the per-follower checks and Deliver): each op publishes one post
// by an author with 5000 active followers. The inserts/s metric counts
// timeline writes per second of wall time including the final drain;
// ns/write is a worker's time per timeline write (the cost of one push,
// the write side of PerPair's cost ratio).
//
// "threshold" pushes to every follower. Under "per-pair" half of them
// have never read (they are active from a follow): a warm-up post
// switches their edges to pull, and the fan-out lists and skips them at
// every post after it; the other half read once and, at a PullCost of 1e6,
// stay pushed at any post rate the benchmark reaches. The edge switches
// themselves are measured by the simulator (examples/timeline).
func BenchmarkFanout(b *testing.B) {
	for _, c := range []struct {
		name   string
		policy fanout.Policy
	}{
		{"threshold", fanout.Threshold{}},
		{"per-pair", fanout.PerPair{PullCost: 1e6}},
	} {
		b.Run(c.name, func(b *testing.B) {
			benchFanout(b, c.policy, c.name == "per-pair")
		})
	}
}

func benchFanout(b *testing.B, policy fanout.Policy, halfIdle bool) {
	ctx := context.Background()
	const followers = 5000
	g := fanout.NewMemGraph()
	for f := 2; f <= followers+1; f++ {
		g.Follow(ctx, fanout.Edge{Follower: fanout.UserID(f), Followee: 1, Since: 1})
	}
	var writes, busy, posts atomic.Int64
	svc := fanout.New(g, fanout.NewMemPosts(), fanout.NewMemTimelines(fanout.MemTimelinesOptions{}), fanout.Options{
		Policy: policy,
		OnFanout: func(_ snowflake.ID, n int, took time.Duration) {
			writes.Add(int64(n))
			busy.Add(int64(took))
			posts.Add(1)
		},
	})
	for f := 2; f <= followers+1; f++ {
		if halfIdle && f%2 == 1 {
			// Active, but with no read: a read rate of 0.
			if err := svc.Follow(ctx, fanout.UserID(f), followers+2); err != nil {
				b.Fatal(err)
			}
			continue
		}
		svc.Timeline(ctx, fanout.UserID(f), "", 1)
	}
	if halfIdle {
		if _, err := svc.Publish(ctx, 1, ""); err != nil {
			b.Fatal(err)
		}
		for posts.Load() < 1 {
			time.Sleep(time.Millisecond)
		}
		writes.Store(0)
		busy.Store(0)
	}
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if _, err := svc.Publish(ctx, 1, ""); err != nil {
			b.Fatal(err)
		}
	}
	svc.Close()
	b.ReportMetric(float64(writes.Load())/time.Since(start).Seconds(), "inserts/s")
	if writes.Load() > 0 {
		b.ReportMetric(float64(busy.Load())/float64(writes.Load()), "ns/write")
	}
}

// BenchmarkEdgeSwitch measures what the fan-out pays for each edge the
// policy switches to pull as it goes, as under PerPair when an author
// starts posting more often than its followers read: 1000 readers who
// have never read (active from a follow) follow 64 authors on pushed
// edges, and each op publishes a post by the next author, whose fan-out
// switches its 1000 edges to pull. After every author has posted, the
// edges are set back to pushed with the timer stopped. ns/switch is the
// worker's time per switched edge.
func BenchmarkEdgeSwitch(b *testing.B) {
	ctx := context.Background()
	const authors, readers = 64, 1000
	g := fanout.NewMemGraph()
	reset := func() {
		for r := range readers {
			for a := 1; a <= authors; a++ {
				g.Follow(ctx, fanout.Edge{Follower: fanout.UserID(1000 + r), Followee: fanout.UserID(a), Since: 1})
			}
		}
	}
	reset()
	var busy, posts atomic.Int64
	svc := fanout.New(g, fanout.NewMemPosts(), fanout.NewMemTimelines(fanout.MemTimelinesOptions{}), fanout.Options{
		Policy: fanout.PerPair{},
		OnFanout: func(_ snowflake.ID, _ int, took time.Duration) {
			busy.Add(int64(took))
			posts.Add(1)
		},
	})
	for r := range readers {
		if err := svc.Follow(ctx, fanout.UserID(1000+r), 1000+readers); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	n := int64(0)
	for b.Loop() {
		if _, err := svc.Publish(ctx, fanout.UserID(1+n%authors), ""); err != nil {
			b.Fatal(err)
		}
		if n++; n%authors == 0 {
			b.StopTimer()
			for posts.Load() < n {
				time.Sleep(100 * time.Microsecond)
			}
			reset()
			b.StartTimer()
		}
	}
	svc.Close()
	b.ReportMetric(float64(busy.Load())/float64(posts.Load()*readers), "ns/switch")
}

// BenchmarkPullCost measures what a pulled followee costs a first page of
// 20, the read side of PerPair's cost ratio: 512 readers each follow 20
// active authors (the same for all, posting in turn, so that each has posts
// on every first page) and 80 idle ones (drawn from 20,000; their one post
// each is older than any first page). Against "pushed" (every edge
// pushed), "pulled-active" pulls the 20 active authors and "pulled-idle"
// the 80 idle ones; the difference per author is the cost of one pulled
// followee with and without posts in range. The "-cold" pair repeats
// pushed and pulled-idle with 4096 readers drawing their idle followees
// from 100,000, as in the simulator's large graph: there the idle
// authors' state (30 MB and more) is rarely in cache when a read checks
// them. BenchmarkFanout's ns/write is the other side.
func BenchmarkPullCost(b *testing.B) {
	const active, idle = 20, 80
	for _, c := range []struct {
		name          string
		readers, pool int
		pulled        func(a fanout.UserID) bool
	}{
		{"pushed", 512, 20000, func(fanout.UserID) bool { return false }},
		{"pulled-active", 512, 20000, func(a fanout.UserID) bool { return a <= active }},
		{"pulled-idle", 512, 20000, func(a fanout.UserID) bool { return a > active }},
		{"pushed-cold", 4096, 100000, func(fanout.UserID) bool { return false }},
		{"pulled-idle-cold", 4096, 100000, func(a fanout.UserID) bool { return a > active }},
	} {
		b.Run(c.name, func(b *testing.B) {
			readers, pool := c.readers, c.pool
			idleOf := func(r, j int) fanout.UserID { return fanout.UserID(1 + active + (r*idle+j*7919)%pool) }
			ctx := context.Background()
			svc := fanout.New(fanout.NewMemGraph(), fanout.NewMemPosts(), fanout.NewMemTimelines(fanout.MemTimelinesOptions{}),
				fanout.Options{Policy: pullIf(c.pulled)})
			for a := 1; a <= active+pool; a++ {
				svc.Timeline(ctx, fanout.UserID(a), "", 1) // active, in ID order
			}
			for r := range readers {
				reader := fanout.UserID(1000000 + r)
				for a := 1; a <= active; a++ {
					if err := svc.Follow(ctx, reader, fanout.UserID(a)); err != nil {
						b.Fatal(err)
					}
				}
				for j := range idle {
					if err := svc.Follow(ctx, reader, idleOf(r, j)); err != nil {
						b.Fatal(err)
					}
				}
			}
			for a := 1 + active; a <= active+pool; a++ {
				svc.Publish(ctx, fanout.UserID(a), "")
			}
			for i := range 40 * active {
				svc.Publish(ctx, fanout.UserID(1+i%active), "")
			}
			svc.Close() // drain the fan-out; reads keep working
			for r := range readers {
				svc.Timeline(ctx, fanout.UserID(1000000+r), "", 1)
			}
			r := 0
			b.ReportAllocs()
			for b.Loop() {
				r = (r + 97) % readers
				pg, err := svc.Timeline(ctx, fanout.UserID(1000000+r), "", 20)
				if err != nil || len(pg.Posts) != 20 {
					b.Fatalf("Timeline: %d posts, %v", len(pg.Posts), err)
				}
			}
		})
	}
}

// pullIf is a policy that pushes every author to every reader except the
// authors for which it returns true, which are pulled by everyone.
type pullIf func(a fanout.UserID) bool

func (pullIf) PushAuthor(fanout.AuthorStats) bool { return true }

func (p pullIf) PushEdge(a fanout.AuthorStats, _ fanout.ReaderStats) bool { return !p(a.Author) }
