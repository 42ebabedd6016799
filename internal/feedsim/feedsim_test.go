package feedsim

import (
	"testing"

	"github.com/blueprint-go/blueprint/fanout"
)

// TestHybridWrites replays a small world under pure push and the two
// hybrids, and checks the write target: each hybrid writes at most
// a tenth of what pure push writes per post, also with PerPair's weighing
// of heavy readers (fanout.PerPair.ReaderScale), which pushes more of
// their edges. The concurrent pagers must see no duplicate and no gap.
func TestHybridWrites(t *testing.T) {
	cfg := Config{Users: 2000, MedianFollowees: 40, Posts: 150, History: 2000, Seed: 7}
	if testing.Short() {
		cfg = Config{Users: 1000, MedianFollowees: 30, Posts: 60, History: 1000, Seed: 7}
	}
	w := Generate(cfg)
	ops := w.Replay(1)
	byName := map[string]Result{}
	for _, s := range Strategies(cfg.Users) {
		if s.Name != "push" && s.Name != "threshold" && s.Name != "per-pair" {
			continue
		}
		r, err := Run(w, ops, s, 1)
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if r.Duplicates != 0 || r.Gaps != 0 {
			t.Errorf("%s: %d duplicates, %d gaps", s.Name, r.Duplicates, r.Gaps)
		}
		t.Logf("%s: %.1f writes/post", s.Name, r.WritesMean)
		byName[s.Name] = r
	}
	unweighed := Strategy{Name: "per-pair-paper", Policy: fanout.PerPair{MaxFollowers: max(10000*cfg.Users/100000, 10), ReaderScale: -1}}
	r, err := Run(w, ops, unweighed, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %.1f writes/post", unweighed.Name, r.WritesMean)
	push := byName["push"].WritesMean
	if push == 0 {
		t.Fatal("pure push wrote nothing")
	}
	for _, name := range []string{"threshold", "per-pair"} {
		if got := byName[name].WritesMean; got > push/10 {
			t.Errorf("%s writes %.1f per post, more than a tenth of pure push's %.1f", name, got, push)
		}
	}
	if byName["per-pair"].WritesMean < r.WritesMean {
		t.Errorf("weighing heavy readers pushed less: %.1f writes/post, %.1f without", byName["per-pair"].WritesMean, r.WritesMean)
	}
}
