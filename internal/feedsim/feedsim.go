// Package feedsim generates the home-timeline benchmark workload (a
// power-law follower graph and a replay of posts, reads, follows, unfollows
// and deletes) and runs it against a fanout.Service under a given policy,
// measuring what the strategy table of examples/timeline reports. It is
// shared by that simulator and the fanout package's benchmarks.
package feedsim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blueprint-go/blueprint/fanout"
	"github.com/blueprint-go/blueprint/snowflake"
)

// Config sizes the workload. The zero value means the full size of the
// issue: 100k users, Zipf 1.1 popularity, lognormal followees with median
// 100, reads:posts 50:1.
type Config struct {
	Users           int     // 0: 100000
	Zipf            float64 // popularity exponent; 0: 1.1
	MedianFollowees float64 // 0: 100
	Posts           int     // posts in the replay; 0: 20000
	ReadsPerPost    int     // 0: 50
	// History is the number of posts published before the measured
	// replay (their fan-out drained, not measured), so that reads start
	// from a store that is not empty; 0: none.
	History int
	Seed    uint64
	// AllocPages makes the replay's reads allocate each page (Timeline)
	// instead of recycling one (AppendTimeline).
	AllocPages bool
}

func (c *Config) defaults() {
	if c.Users <= 0 {
		c.Users = 100000
	}
	if c.Zipf <= 1 {
		c.Zipf = 1.1
	}
	if c.MedianFollowees <= 0 {
		c.MedianFollowees = 100
	}
	if c.Posts <= 0 {
		c.Posts = 20000
	}
	if c.ReadsPerPost <= 0 {
		c.ReadsPerPost = 50
	}
}

// A World is a generated follower graph: user i+1 follows Followees[i].
// User 1 is the most popular.
type World struct {
	Cfg       Config
	Followees [][]fanout.UserID
	Followers []int // by user index
}

// Generate builds the follower graph: each user follows a lognormal number
// of accounts (median MedianFollowees, sigma 1), chosen with Zipf
// popularity, so follower counts follow a power law.
func Generate(cfg Config) *World {
	cfg.defaults()
	r := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	z := rand.NewZipf(r, cfg.Zipf, 1, uint64(cfg.Users-1))
	w := &World{Cfg: cfg, Followees: make([][]fanout.UserID, cfg.Users), Followers: make([]int, cfg.Users)}
	for i := range cfg.Users {
		k := int(math.Round(cfg.MedianFollowees * math.Exp(r.NormFloat64())))
		k = min(max(k, 1), cfg.Users/4)
		seen := make(map[fanout.UserID]bool, k)
		for tries := 0; len(seen) < k && tries < 4*k; tries++ {
			j := int(z.Uint64())
			if j == i || seen[fanout.UserID(j+1)] {
				continue
			}
			seen[fanout.UserID(j+1)] = true
		}
		f := make([]fanout.UserID, 0, len(seen))
		for u := range seen {
			f = append(f, u)
			w.Followers[u-1]++
		}
		slices.Sort(f)
		w.Followees[i] = f
	}
	return w
}

// Edges returns the number of follow edges.
func (w *World) Edges() int {
	n := 0
	for _, f := range w.Followees {
		n += len(f)
	}
	return n
}

// OpKind is the kind of one replay step.
type OpKind uint8

// The replay's steps.
const (
	OpPost OpKind = iota
	OpRead
	OpDeepRead // the fifth page
	OpFollow
	OpUnfollow
	OpDelete
)

// An Op is one replay step by User (on Other for follows).
type Op struct {
	Kind  OpKind
	User  fanout.UserID
	Other fanout.UserID
}

// Replay returns the seeded replay: Posts posts by authors drawn half by
// popularity and half uniformly, ReadsPerPost reads per post (one in ten a
// deep read), and per 100 posts 2 follows, 1 unfollow and 1 delete.
// Readers in reserved (the concurrent pagers) never follow or unfollow.
func (w *World) Replay(reserved int) []Op {
	cfg := w.Cfg
	r := rand.New(rand.NewPCG(cfg.Seed, 0x0e7a))
	z := rand.NewZipf(r, cfg.Zipf, 1, uint64(cfg.Users-1))
	user := func() fanout.UserID { return fanout.UserID(1 + r.IntN(cfg.Users)) }
	var ops []Op
	for i := range cfg.Posts {
		a := user()
		if r.IntN(2) == 0 {
			a = fanout.UserID(1 + z.Uint64())
		}
		ops = append(ops, Op{Kind: OpPost, User: a})
		for range cfg.ReadsPerPost {
			k := OpRead
			if r.IntN(10) == 0 {
				k = OpDeepRead
			}
			ops = append(ops, Op{Kind: k, User: user()})
		}
		switch i % 100 {
		case 10, 60:
			if u := user(); int(u) > reserved {
				ops = append(ops, Op{Kind: OpFollow, User: u, Other: fanout.UserID(1 + z.Uint64())})
			}
		case 30:
			if u := user(); int(u) > reserved && len(w.Followees[u-1]) > 0 {
				f := w.Followees[u-1]
				ops = append(ops, Op{Kind: OpUnfollow, User: u, Other: f[r.IntN(len(f))]})
			}
		case 80:
			ops = append(ops, Op{Kind: OpDelete})
		}
	}
	return ops
}

// HistoryAuthors returns the authors of the Config.History posts published
// before the replay, drawn like the replay's.
func (w *World) HistoryAuthors() []fanout.UserID {
	cfg := w.Cfg
	r := rand.New(rand.NewPCG(cfg.Seed, 0x415))
	z := rand.NewZipf(r, cfg.Zipf, 1, uint64(cfg.Users-1))
	authors := make([]fanout.UserID, cfg.History)
	for i := range authors {
		authors[i] = fanout.UserID(1 + r.IntN(cfg.Users))
		if r.IntN(2) == 0 {
			authors[i] = fanout.UserID(1 + z.Uint64())
		}
	}
	return authors
}

// A Strategy is a named policy of fanout.Service, or the PurePull
// baseline.
type Strategy struct {
	Name   string
	Policy fanout.Policy
	// PurePull runs the replay on PurePull instead of a Service (Policy
	// is unused).
	PurePull bool
}

// pushAll is the pure-push policy: every author, every edge.
type pushAll struct{}

// PushAuthor pushes every author.
func (pushAll) PushAuthor(fanout.AuthorStats) bool { return true }

// PushEdge pushes every edge.
func (pushAll) PushEdge(fanout.AuthorStats, fanout.ReaderStats) bool { return true }

// pullAll is the Service pulling every author.
type pullAll struct{}

// PushAuthor pulls every author.
func (pullAll) PushAuthor(fanout.AuthorStats) bool { return false }

// PushEdge pulls every edge.
func (pullAll) PushEdge(fanout.AuthorStats, fanout.ReaderStats) bool { return false }

// Strategies returns the strategies compared: pure push, the Service
// pulling every author ("pull"), the textbook fan-out on read (PurePull,
// "pure-pull"), the threshold hybrid (threshold scaled to the graph: 10k
// at 100k users) and the per-pair hybrid below the same follower cap.
func Strategies(users int) []Strategy {
	th := max(10000*users/100000, 10)
	return []Strategy{
		{Name: "push", Policy: pushAll{}},
		{Name: "pull", Policy: pullAll{}},
		{Name: "pure-pull", PurePull: true},
		{Name: "threshold", Policy: fanout.Threshold{Followers: th}},
		{Name: "per-pair", Policy: fanout.PerPair{MaxFollowers: th}},
	}
}

// A timelineService is what the replay drives: fanout.Service or
// PurePull.
type timelineService interface {
	Publish(ctx context.Context, author fanout.UserID, text string) (fanout.Post, error)
	Timeline(ctx context.Context, user fanout.UserID, cursor string, limit int) (fanout.Page, error)
	AppendTimeline(ctx context.Context, dst []fanout.Post, user fanout.UserID, cursor string, limit int) (fanout.Page, error)
	Follow(ctx context.Context, follower, followee fanout.UserID) error
	Unfollow(ctx context.Context, follower, followee fanout.UserID) error
	Delete(ctx context.Context, author fanout.UserID, id snowflake.ID) error
	Close() error
}

// Result is one row of the strategy table.
type Result struct {
	Strategy              string
	Posts, Reads          int
	WritesMean, WritesP99 float64
	WritesMax             int
	ScannedPerRead        float64
	FirstP50, FirstP99    time.Duration
	// FirstCPUP99 is the 99th percentile of the first-page reads' thread
	// CPU time (Linux only): without the time the reading thread waited
	// for a core, it tells the read's cost from the machine's load.
	FirstCPUP99      time.Duration
	DeepP50, DeepP99 time.Duration
	// AllP99 is the 99th percentile over every page read of the replay:
	// the first-page reads and each of the five pages of a deep read.
	AllP99                     time.Duration
	FanoutP50, FanoutP99       time.Duration // worker time per post
	InsertsPerSec              float64       // timeline inserts per second of worker time, times workers
	Sessions, Duplicates, Gaps int
	Elapsed                    time.Duration
}

func pct[T int | time.Duration](xs []T, p float64) T {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[min(len(xs)-1, int(p*float64(len(xs))))]
}

// Run replays ops on a fresh in-memory Service with policy s and measures
// it. pagers goroutines page through the feeds of users 1..pagers (which
// the replay never makes follow or unfollow) while it runs, counting
// duplicates and gaps.
func Run(w *World, ops []Op, s Strategy, pagers int) (Result, error) {
	ctx := context.Background()
	res := Result{Strategy: s.Name}
	g := fanout.NewMemGraph()
	for i, f := range w.Followees {
		for _, u := range f {
			if _, err := g.Follow(ctx, fanout.Edge{Follower: fanout.UserID(i + 1), Followee: u, Since: 1}); err != nil {
				return res, err
			}
		}
	}
	// Simulated time: one millisecond per replay step.
	var simNow atomic.Int64
	simNow.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, simNow.Load()) }
	gen, err := snowflake.NewGenerator(1, snowflake.Options{})
	if err != nil {
		return res, err
	}
	var fanMu sync.Mutex
	var writes []int
	var took []time.Duration
	workers := runtime.GOMAXPROCS(0)
	var svc timelineService
	if s.PurePull {
		svc = NewPurePull(g, fanout.NewMemPosts(), gen)
	} else {
		svc = fanout.New(g, fanout.NewMemPosts(), fanout.NewMemTimelines(fanout.MemTimelinesOptions{}), fanout.Options{
			Policy: s.Policy, IDs: gen, Now: now, Workers: workers,
			OnFanout: func(_ snowflake.ID, n int, d time.Duration) {
				fanMu.Lock()
				writes = append(writes, n)
				took = append(took, d)
				fanMu.Unlock()
			},
		})
	}
	// Everyone reads once: active, empty timelines.
	for u := 1; u <= w.Cfg.Users; u++ {
		if _, err := svc.AppendTimeline(ctx, nil, fanout.UserID(u), "", 1); err != nil {
			return res, err
		}
	}

	var postsMu sync.Mutex
	posts := map[fanout.UserID][]snowflake.ID{}
	deleted := map[snowflake.ID]bool{}
	var all []fanout.Post
	var lastID atomic.Int64

	// The history: published, fan-out drained, then forgotten by the
	// measurements.
	for _, a := range w.HistoryAuthors() {
		simNow.Add(int64(time.Millisecond))
		p, err := svc.Publish(ctx, a, "")
		if err != nil {
			return res, err
		}
		posts[p.Author] = append(posts[p.Author], p.ID)
		all = append(all, p)
		lastID.Store(int64(p.ID))
	}
	for !s.PurePull {
		fanMu.Lock()
		done := len(writes) >= w.Cfg.History
		if done {
			writes, took = nil, nil
		}
		fanMu.Unlock()
		if done {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// Collect the garbage of the set-up, and of any strategy run before
	// this one in the process, now: a collection running during the
	// replay would take one of the two cores from this strategy for work
	// that is not its own (at 100k users the previous strategy leaves
	// gigabytes).
	runtime.GC()

	stop := make(chan struct{})
	var pwg sync.WaitGroup
	var dups, gaps, sessions atomic.Int64
	for p := range pagers {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			reader := fanout.UserID(p + 1)
			// The pager recycles its buffers: garbage it made would be
			// collected during the measured reads, costing them GC
			// assists.
			seen := map[snowflake.ID]bool{}
			var buf []fanout.Post
			authors := append(slices.Clone(w.Followees[reader-1]), reader)
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := snowflake.ID(lastID.Load())
				clear(seen)
				cur := ""
				lowest := fanout.Pulling
				for range 10 {
					pg, err := svc.AppendTimeline(ctx, buf[:0], reader, cur, 20)
					if err != nil {
						return
					}
					buf = pg.Posts
					for _, q := range pg.Posts {
						if seen[q.ID] {
							dups.Add(1)
						}
						seen[q.ID] = true
						lowest = min(lowest, q.ID)
					}
					if pg.Next == "" {
						lowest = 0
						break
					}
					cur = pg.Next
				}
				// Every post of a followee that existed at the start, is
				// still there, and lies in the range paged must have come.
				postsMu.Lock()
				for _, a := range authors {
					for _, id := range posts[a] {
						if id >= lowest && id <= start && !deleted[id] && !seen[id] {
							gaps.Add(1)
						}
					}
				}
				postsMu.Unlock()
				sessions.Add(1)
				time.Sleep(200 * time.Microsecond)
			}
		}()
	}

	r := rand.New(rand.NewPCG(w.Cfg.Seed, 0xde1))
	var first, firstCPU, deep, pages []time.Duration
	// The replay's reads recycle one page (AppendTimeline), as a server
	// that encodes each page before it reads the next would; with
	// Config.AllocPages each read allocates its own (Timeline).
	var page []fanout.Post
	read := func(u fanout.UserID, cursor string) (fanout.Page, error) {
		if w.Cfg.AllocPages {
			return svc.Timeline(ctx, u, cursor, 20)
		}
		pg, err := svc.AppendTimeline(ctx, page[:0], u, cursor, 20)
		if err == nil {
			page = pg.Posts
		}
		return pg, err
	}
	// The replay stays on one thread, so that thread CPU time is the
	// reads'.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var scanned int
	t0 := time.Now()
	for _, op := range ops {
		simNow.Add(int64(time.Millisecond))
		switch op.Kind {
		case OpPost:
			p, err := svc.Publish(ctx, op.User, "")
			if err != nil {
				return res, err
			}
			postsMu.Lock()
			posts[p.Author] = append(posts[p.Author], p.ID)
			all = append(all, p)
			postsMu.Unlock()
			lastID.Store(int64(p.ID))
			res.Posts++
		case OpRead:
			c, t := threadCPU(), time.Now()
			pg, err := read(op.User, "")
			first = append(first, time.Since(t))
			firstCPU = append(firstCPU, threadCPU()-c)
			pages = append(pages, first[len(first)-1])
			if err != nil {
				return res, err
			}
			scanned += pg.Scanned
			res.Reads++
		case OpDeepRead:
			t := time.Now()
			pg, err := read(op.User, "")
			pages = append(pages, time.Since(t))
			for i := 0; i < 4 && err == nil && pg.Next != ""; i++ {
				scanned += pg.Scanned
				t = time.Now()
				pg, err = read(op.User, pg.Next)
				took := time.Since(t)
				pages = append(pages, took)
				if i == 3 {
					deep = append(deep, took)
				}
			}
			if err != nil {
				return res, err
			}
			scanned += pg.Scanned
			res.Reads++
		case OpFollow:
			if op.User != op.Other {
				if err := svc.Follow(ctx, op.User, op.Other); err != nil {
					return res, err
				}
			}
		case OpUnfollow:
			if err := svc.Unfollow(ctx, op.User, op.Other); err != nil && err != fanout.ErrNotFollowing {
				return res, err
			}
		case OpDelete:
			if len(all) > 0 {
				p := all[r.IntN(len(all))]
				postsMu.Lock()
				deleted[p.ID] = true
				postsMu.Unlock()
				if err := svc.Delete(ctx, p.Author, p.ID); err != nil && err != fanout.ErrNotFound {
					return res, err
				}
			}
		}
	}
	if err := svc.Close(); err != nil {
		return res, err
	}
	res.Elapsed = time.Since(t0)
	close(stop)
	pwg.Wait()

	total := 0
	var busy time.Duration
	for i, n := range writes {
		total += n
		busy += took[i]
	}
	if len(writes) > 0 {
		res.WritesMean = float64(total) / float64(len(writes))
	}
	res.WritesP99 = float64(pct(writes, 0.99))
	res.WritesMax = pct(writes, 1)
	res.FanoutP50, res.FanoutP99 = pct(took, 0.5), pct(took, 0.99)
	if busy > 0 {
		res.InsertsPerSec = float64(total) / busy.Seconds() * float64(workers)
	}
	if res.Reads > 0 {
		res.ScannedPerRead = float64(scanned) / float64(res.Reads)
	}
	res.FirstP50, res.FirstP99 = pct(first, 0.5), pct(first, 0.99)
	res.FirstCPUP99 = pct(firstCPU, 0.99)
	res.DeepP50, res.DeepP99 = pct(deep, 0.5), pct(deep, 0.99)
	res.AllP99 = pct(pages, 0.99)
	res.Sessions, res.Duplicates, res.Gaps = int(sessions.Load()), int(dups.Load()), int(gaps.Load())
	return res, nil
}

// EntryBytes measures the heap bytes per entry of a MemTimelines holding
// users timelines filled to its cap of 800 entries.
func EntryBytes(users int) float64 {
	ctx := context.Background()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tl := fanout.NewMemTimelines(fanout.MemTimelinesOptions{})
	to := make([]fanout.UserID, users)
	for i := range to {
		to[i] = fanout.UserID(i + 1)
	}
	for id := 1; id <= 1000; id++ {
		tl.Deliver(ctx, fanout.Entry{ID: snowflake.ID(id), Author: 1}, to)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	n := 0
	for _, u := range to {
		st, _ := tl.Stat(ctx, u)
		n += st.Len
	}
	runtime.KeepAlive(tl)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// Header and Row format the strategy table.
func Header() string {
	return fmt.Sprintf("%-10s %9s %9s %8s %9s %9s %9s %9s %9s %9s %9s %9s %9s %8s %6s %5s",
		"strategy", "wr/post", "wr p99", "wr max", "scan/rd", "1st p50", "1st p99", "1st cpu99", "deep p50", "deep p99", "all p99", "fan p99", "ins/s", "sessions", "dups", "gaps")
}

// Row formats r as one line of the table.
func (r Result) Row() string {
	return fmt.Sprintf("%-10s %9.1f %9.0f %8d %9.1f %9s %9s %9s %9s %9s %9s %9s %8.2fM %8d %6d %5d",
		r.Strategy, r.WritesMean, r.WritesP99, r.WritesMax, r.ScannedPerRead,
		r.FirstP50.Round(100*time.Nanosecond), r.FirstP99.Round(100*time.Nanosecond), r.FirstCPUP99.Round(100*time.Nanosecond),
		r.DeepP50.Round(100*time.Nanosecond), r.DeepP99.Round(100*time.Nanosecond), r.AllP99.Round(100*time.Nanosecond),
		r.FanoutP99.Round(time.Microsecond), r.InsertsPerSec/1e6, r.Sessions, r.Duplicates, r.Gaps)
}
