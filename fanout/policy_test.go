package fanout_test

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/fanout"
	"github.com/blueprint-go/blueprint/snowflake"
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

// ReaderScale weighs the read side of a reader who follows more than
// ReaderScale accounts by followees/ReaderScale: it decides as the
// unweighed rule (ReaderScale -1) at PullCost times that factor, and
// leaves readers at or below ReaderScale alone. 0 means
// DefaultReaderScale.
func TestPerPairReaderScaleProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 1))
	rate := func() float64 { return math.Exp(r.NormFloat64() * 3) }
	for range 10000 {
		h := []float64{0, 1, 2, 8}[r.IntN(4)]
		c := math.Exp(r.NormFloat64())
		sc := []int{0, 1, 30, 100, 1000}[r.IntN(5)]
		a := fanout.AuthorStats{PostRate: rate()}
		rs := fanout.ReaderStats{ReadRate: rate(), Followees: r.IntN(4000), Pushed: r.IntN(2) == 0}
		got := fanout.PerPair{Hysteresis: h, PullCost: c, ReaderScale: sc}.PushEdge(a, rs)
		eff := sc
		if eff == 0 {
			eff = fanout.DefaultReaderScale
		}
		want := fanout.PerPair{Hysteresis: h, PullCost: c * max(1, float64(rs.Followees)/float64(eff)), ReaderScale: -1}.PushEdge(a, rs)
		if got != want {
			t.Fatalf("ReaderScale %d, PullCost %v, %+v, %+v: %v, weighed rule says %v", sc, c, a, rs, got, want)
		}
	}
}

// TestPerPairHeavyReaderStable runs a heavy reader (24 followees,
// ReaderScale 6: its reads weigh 4 times) and a light one (6 of the same
// authors) through 20 minutes of steady traffic: authors post at a
// quarter, 3 times and 20 times the readers' read rate. The light reader
// pulls the authors posting more than twice its read rate (the paper's
// rule, hysteresis 2); the heavy one pushes the 3× tier too and pulls only
// the 20× one: its cheapest pulled edges were pushed. No edge switches
// after the rates settled (half-life 2 minutes; the warm-up is 6), and
// each edge switches at most once in the whole run.
func TestPerPairHeavyReaderStable(t *testing.T) {
	const heavy, light = 1, 2
	tiers := []float64{0.25, 3, 20} // post rate / read rate
	const perTier = 8
	readEvery := 10 * time.Second
	ctx := context.Background()
	clk := newClock()
	gen, err := snowflake.NewGenerator(1, snowflake.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	g := fanout.NewMemGraph()
	svc := fanout.New(g, fanout.NewMemPosts(), fanout.NewMemTimelines(fanout.MemTimelinesOptions{}), fanout.Options{
		Policy: fanout.PerPair{ReaderScale: 6}, IDs: gen, Now: clk.Now, RateHalfLife: 2 * time.Minute,
	})
	defer svc.Close()
	type author struct {
		id    fanout.UserID
		tier  int
		every time.Duration
		next  time.Duration
	}
	var authors []author
	for tier, f := range tiers {
		for j := range perTier {
			every := time.Duration(float64(readEvery) / f)
			a := author{id: fanout.UserID(100 + 10*tier + j), tier: tier, every: every, next: every * time.Duration(j+1) / perTier}
			authors = append(authors, a)
			if err := svc.Follow(ctx, heavy, a.id); err != nil {
				t.Fatal(err)
			}
			if j < 2 {
				if err := svc.Follow(ctx, light, a.id); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// Readers who have read before the authors start posting: with no
	// read at all, a read rate of 0 pulls every edge at the first post.
	for _, u := range []fanout.UserID{heavy, light} {
		if _, err := svc.Timeline(ctx, u, "", 20); err != nil {
			t.Fatal(err)
		}
	}
	modes := func(reader fanout.UserID) map[fanout.UserID]bool {
		es, err := g.Followees(ctx, reader, nil)
		if err != nil {
			t.Fatal(err)
		}
		m := map[fanout.UserID]bool{}
		for _, e := range es {
			m[e.Followee] = e.Since != 0
		}
		return m
	}
	last := map[fanout.UserID]map[fanout.UserID]bool{heavy: modes(heavy), light: modes(light)}
	switches := map[[2]fanout.UserID]int{}
	const step = 250 * time.Millisecond
	const warm, total = 6 * time.Minute, 20 * time.Minute
	for now := time.Duration(0); now < total; now += step {
		clk.Add(step)
		for i := range authors {
			for a := &authors[i]; a.next <= now; a.next += a.every {
				if _, err := svc.Publish(ctx, a.id, ""); err != nil {
					t.Fatal(err)
				}
			}
		}
		if now%readEvery == 0 {
			for _, u := range []fanout.UserID{heavy, light} {
				if _, err := svc.Timeline(ctx, u, "", 20); err != nil {
					t.Fatal(err)
				}
			}
		}
		if now%(5*time.Second) != 0 {
			continue
		}
		for _, u := range []fanout.UserID{heavy, light} {
			m := modes(u)
			for a, pushed := range m {
				if pushed != last[u][a] {
					switches[[2]fanout.UserID{u, a}]++
					if now >= warm {
						t.Errorf("at %v: reader %d's edge from %d (post rate %v× its reads) switched to pushed=%v after the warm-up",
							now, u, a, tiers[(a-100)/10], pushed)
					}
				}
			}
			last[u] = m
		}
	}
	for k, n := range switches {
		if n > 1 {
			t.Errorf("reader %d's edge from %d switched %d times", k[0], k[1], n)
		}
	}
	for _, c := range []struct {
		reader fanout.UserID
		want   []bool // pushed, by tier
	}{
		{light, []bool{true, false, false}},
		{heavy, []bool{true, true, false}},
	} {
		for a, pushed := range last[c.reader] {
			if tier := (a - 100) / 10; pushed != c.want[tier] {
				t.Errorf("reader %d (%d followees): edge from %d (post rate %v× its reads) pushed=%v, want %v",
					c.reader, len(last[c.reader]), a, tiers[tier], pushed, c.want[tier])
			}
		}
	}
}
