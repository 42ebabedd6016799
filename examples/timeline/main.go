// Command timeline replays the home-timeline benchmark workload against
// five strategies on the in-memory fanout backends and prints the strategy
// table:
//
//   - push: fanout.Service pushing every author.
//   - pull: fanout.Service pulling every author. It still keeps write-time
//     state (each author's newest post IDs in memory) that lets a read skip
//     followees with nothing in range, so it is not pure pull.
//   - pure-pull: the textbook fan-out on read (feedsim.PurePull): a post is
//     only stored; every read calls Posts.Recent for the reader and each
//     followee (limit = page size) and heap-merges the results, honouring
//     deletes, unfollows, mutes and blocks. Same graph, same stores.
//   - threshold, per-pair: the two hybrid policies.
//
// Usage:
//
//	go run ./examples/timeline              # about 15 seconds: 5k users
//	go run ./examples/timeline -history 0   # reads start from an empty store
//	go run ./examples/timeline -users 100000 -followees 100 -posts 2000
//
// The third is the graph (100k users, 16.5M follow edges, an
// author with 99k followers): about 3.5 minutes and 9 GB on 2 cores,
// mostly building the graphs and pure push's fan-out (23k timeline writes
// per post). With the
// issue's full replay, -posts 20000, pure push alone ran over 6 minutes (at
// 8 GB). The default is 5k users with a median of 50 followees.
//
// Before the measured replay, -history posts (default 5000, one per user)
// are published and their fan-out drained, as in a service that has run a
// while. With -history 0 the replay's 500 posts are spread over 5000 users,
// so most followees have no post at all and pure pull costs little more
// than pull.
//
// -strategies runs some of them (e.g. -strategies threshold,per-pair),
// -pullcost sets the per-pair policy's PullCost and -readerscale its
// ReaderScale (fanout.PerPair; -1 turns the weighing of heavy readers
// off). The
// replay's reads recycle their page (AppendTimeline) in every row; -alloc
// makes each read allocate its own (Timeline), as before 2026-11-26.
//
// Columns: timeline writes per post (mean, p99, max), entries scanned per
// read, first-page and fifth-page read latency (p50, p99), the first-page
// reads' thread CPU time p99 (Linux; it leaves out the time the reading
// thread waited for a core or a lock), the p99 over every page read (the
// first pages and all five pages of the deep reads), worker time per
// post's fan-out (p99), timeline inserts per second of the worker pool, and
// the duplicates and gaps seen by concurrent pagers (must be 0).
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/blueprint-go/blueprint/fanout"
	"github.com/blueprint-go/blueprint/internal/feedsim"
)

func main() {
	users := flag.Int("users", 5000, "users in the generated graph")
	followees := flag.Float64("followees", 50, "median followees per user")
	posts := flag.Int("posts", 500, "posts in the replay (reads are 50 per post)")
	history := flag.Int("history", 5000, "posts published before the measured replay (fan-out drained)")
	seed := flag.Uint64("seed", 1, "seed of the graph and replay")
	pagers := flag.Int("pagers", 2, "concurrent pagers checking for duplicates and gaps")
	pullCost := flag.Float64("pullcost", 0, "PullCost of the per-pair policy (0: fanout.DefaultPullCost)")
	readerScale := flag.Int("readerscale", 0, "ReaderScale of the per-pair policy (0: fanout.DefaultReaderScale, -1: off)")
	only := flag.String("strategies", "", "comma-separated strategies to run (default all)")
	alloc := flag.Bool("alloc", false, "reads allocate each page (Timeline) instead of recycling one (AppendTimeline)")
	flag.Parse()

	start := time.Now()
	w := feedsim.Generate(feedsim.Config{Users: *users, MedianFollowees: *followees, Posts: *posts, History: *history, Seed: *seed, AllocPages: *alloc})
	ops := w.Replay(*pagers)
	maxF := 0
	for _, n := range w.Followers {
		maxF = max(maxF, n)
	}
	fmt.Printf("graph: %d users, %d edges, max followers %d; replay: %d steps (seed %d, built in %s)\n",
		*users, w.Edges(), maxF, len(ops), *seed, time.Since(start).Round(time.Millisecond))
	fmt.Printf("timeline store: %.1f bytes per entry (1000 full timelines)\n\n", feedsim.EntryBytes(1000))
	fmt.Println(feedsim.Header())
	for _, s := range feedsim.Strategies(*users) {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), s.Name) {
			continue
		}
		if pp, ok := s.Policy.(fanout.PerPair); ok {
			pp.PullCost = *pullCost
			pp.ReaderScale = *readerScale
			s.Policy = pp
		}
		r, err := feedsim.Run(w, ops, s, *pagers)
		if err != nil {
			fmt.Fprintf(os.Stderr, "timeline: %s: %v\n", s.Name, err)
			os.Exit(1)
		}
		fmt.Println(r.Row())
	}
}
