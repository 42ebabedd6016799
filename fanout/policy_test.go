package fanout_test

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/blueprint-go/blueprint/fanout"
)

func TestThresholdHysteresis(t *testing.T) {
	p := fanout.Threshold{} // 10k, 10%
	for _, c := range []struct {
		followers int
		pushed    bool
		want      bool
	}{
		{9000, false, true}, {9500, false, false}, {10500, true, true}, {11500, true, false}, {10000, true, true},
	} {
		if got := p.PushAuthor(fanout.AuthorStats{Followers: c.followers, Pushed: c.pushed}); got != c.want {
			t.Errorf("Threshold.PushAuthor(%d followers, pushed %v) = %v, want %v", c.followers, c.pushed, got, c.want)
		}
	}
	if p.PushEdge(fanout.AuthorStats{}, fanout.ReaderStats{Followees: 6000, Pushed: true}) {
		t.Error("a reader following 6000 accounts is pushed to")
	}
}

func TestPerPairRates(t *testing.T) {
	p := fanout.PerPair{} // hysteresis 2
	a := fanout.AuthorStats{PostRate: 1}
	for _, c := range []struct {
		read   float64
		pushed bool
		want   bool
	}{
		{1.5, false, false}, {2.5, false, true}, {0.6, true, true}, {0.4, true, false}, {0, false, false},
	} {
		if got := p.PushEdge(a, fanout.ReaderStats{ReadRate: c.read, Pushed: c.pushed}); got != c.want {
			t.Errorf("PerPair.PushEdge(read %v/s vs post 1/s, pushed %v) = %v, want %v", c.read, c.pushed, got, c.want)
		}
	}
	if !p.PushAuthor(fanout.AuthorStats{Followers: 1e6}) || (fanout.PerPair{MaxFollowers: 100}).PushAuthor(fanout.AuthorStats{Followers: 200}) {
		t.Error("PerPair.PushAuthor ignores MaxFollowers")
	}
	// A pull four times as dear as a push write: a reader reading a
	// quarter as often as the author posts is worth pushing to (after
	// hysteresis 2 either way).
	dear := fanout.PerPair{PullCost: 4}
	for _, c := range []struct {
		read   float64
		pushed bool
		want   bool
	}{
		{0.4, false, false}, {0.6, false, true}, {0.15, true, true}, {0.1, true, false}, {0, false, false}, {0, true, false},
	} {
		if got := dear.PushEdge(a, fanout.ReaderStats{ReadRate: c.read, Pushed: c.pushed}); got != c.want {
			t.Errorf("PerPair{PullCost: 4}.PushEdge(read %v/s vs post 1/s, pushed %v) = %v, want %v", c.read, c.pushed, got, c.want)
		}
	}
}

// PullCost scales the reader's side of the rule: PullCost c at read rate r
// decides as PullCost 1 at read rate c·r, and 0, negative and NaN mean
// DefaultPullCost.
func TestPerPairPullCostProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 0))
	rate := func() float64 {
		if r.IntN(8) == 0 {
			return 0
		}
		return math.Exp(r.NormFloat64() * 3)
	}
	for range 10000 {
		h := []float64{0, 0.5, 1, 1.5, 2, 8}[r.IntN(6)]
		c := math.Exp(r.NormFloat64() * 2)
		a := fanout.AuthorStats{PostRate: rate(), Followers: r.IntN(100)}
		rs := fanout.ReaderStats{ReadRate: rate(), Followees: r.IntN(100), Pushed: r.IntN(2) == 0}
		scaled := rs
		scaled.ReadRate *= c
		got := fanout.PerPair{Hysteresis: h, PullCost: c}.PushEdge(a, rs)
		if want := (fanout.PerPair{Hysteresis: h, PullCost: 1}).PushEdge(a, scaled); got != want {
			t.Fatalf("PullCost %v, hysteresis %v, %+v, %+v: %v, but PullCost 1 at %v× the read rate says %v", c, h, a, rs, got, c, want)
		}
		def := fanout.PerPair{Hysteresis: h, PullCost: fanout.DefaultPullCost}.PushEdge(a, rs)
		for _, zero := range []float64{0, -1, math.NaN()} {
			if got := (fanout.PerPair{Hysteresis: h, PullCost: zero}).PushEdge(a, rs); got != def {
				t.Fatalf("PullCost %v decides %v, DefaultPullCost %v", zero, got, def)
			}
		}
		if rs.ReadRate == 0 && (fanout.PerPair{Hysteresis: h, PullCost: math.Inf(1)}).PushEdge(a, rs) && !rs.Pushed {
			t.Fatalf("a reader who never reads is pushed to at PullCost +Inf")
		}
	}
}

// A reader following more than MaxFollowees accounts is served by pull:
// after one read its edges are pulled and posts are not written to it.
func TestHugeFolloweeReaderPulls(t *testing.T) {
	e := newEnv(t, 800, fanout.Options{Policy: fanout.Threshold{MaxFollowees: 3, Hysteresis: -1}})
	for a := fanout.UserID(10); a < 15; a++ {
		e.follow(1, a)
	}
	e.follow(2, 10)
	for range 8 { // the policy is asked every few reads
		e.svc.Timeline(e.ctx, 1, "", 5)
		e.svc.Timeline(e.ctx, 2, "", 5)
	}
	var want []string
	for i := range 5 {
		p := e.post(fanout.UserID(10+i), strconv.Itoa(i))
		want = append([]string{p.Text}, want...)
		e.wait(p)
		if i == 0 && e.writes(p) != 1 {
			t.Fatalf("post by 10 written to %d timelines, want 1 (only the small reader)", e.writes(p))
		}
		if i > 0 && e.writes(p) != 0 {
			t.Fatalf("post by %d written to %d timelines, want 0", 10+i, e.writes(p))
		}
	}
	if got := e.feed(1, 2); len(got) != 5 || got[0] != want[0] {
		t.Fatalf("huge reader's feed = %v, want %v", got, want)
	}
}
