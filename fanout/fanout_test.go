package fanout_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/blueprint-go/blueprint/fanout"
	"github.com/blueprint-go/blueprint/snowflake"
)

// clock is a manual clock for the ID generator and the Service.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := new(clock)
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time        { return time.Unix(0, c.ns.Load()) }
func (c *clock) Sleep(d time.Duration) { c.ns.Add(int64(max(d, time.Millisecond))) }
func (c *clock) Add(d time.Duration)   { c.ns.Add(int64(d)) }

type env struct {
	svc   *fanout.Service
	tl    *fanout.MemTimelines
	clk   *clock
	ctx   context.Context
	t     testing.TB
	fanMu sync.Mutex
	fans  map[snowflake.ID]int
	// fanned is signalled (without blocking) after each fan-out is
	// recorded in fans, for wait.
	fanned chan struct{}
}

func newEnv(t testing.TB, cap int, opts fanout.Options) *env {
	t.Helper()
	e := &env{clk: newClock(), ctx: context.Background(), t: t, fans: map[snowflake.ID]int{},
		fanned: make(chan struct{}, 1)}
	gen, err := snowflake.NewGenerator(1, snowflake.Options{Clock: e.clk})
	if err != nil {
		t.Fatal(err)
	}
	opts.IDs = gen
	opts.Now = e.clk.Now
	opts.OnFanout = func(id snowflake.ID, writes int, _ time.Duration) {
		e.fanMu.Lock()
		e.fans[id] = writes
		e.fanMu.Unlock()
		select {
		case e.fanned <- struct{}{}:
		default: // a signal is pending: wait looks at fans again anyway
		}
	}
	e.tl = fanout.NewMemTimelines(fanout.MemTimelinesOptions{Cap: cap})
	e.svc = fanout.New(fanout.NewMemGraph(), fanout.NewMemPosts(), e.tl, opts)
	t.Cleanup(func() { e.svc.Close() })
	return e
}

func (e *env) post(u fanout.UserID, text string) fanout.Post {
	e.t.Helper()
	e.clk.Add(time.Millisecond)
	p, err := e.svc.Publish(e.ctx, u, text)
	if err != nil {
		e.t.Fatalf("Publish(%d): %v", u, err)
	}
	return p
}

func (e *env) follow(a, b fanout.UserID) {
	e.t.Helper()
	if err := e.svc.Follow(e.ctx, a, b); err != nil {
		e.t.Fatalf("Follow(%d, %d): %v", a, b, err)
	}
}

// feed reads all of u's timeline in pages of n and returns the texts.
func (e *env) feed(u fanout.UserID, n int) []string {
	e.t.Helper()
	return feedTexts(e.t, e.svc, u, n)
}

// feedTexts reads all of u's timeline from svc in pages of n and returns
// the texts.
func feedTexts(t testing.TB, svc *fanout.Service, u fanout.UserID, n int) []string {
	t.Helper()
	var out []string
	cur := ""
	for {
		pg, err := svc.Timeline(context.Background(), u, cur, n)
		if err != nil {
			t.Fatalf("Timeline(%d): %v", u, err)
		}
		for _, p := range pg.Posts {
			out = append(out, p.Text)
		}
		if pg.Next == "" {
			return out
		}
		cur = pg.Next
	}
}

// writes returns the number of timeline writes of p's fan-out.
func (e *env) writes(p fanout.Post) int {
	e.fanMu.Lock()
	defer e.fanMu.Unlock()
	return e.fans[p.ID]
}

// wait waits until the fan-out of every post in ps has run: it looks at
// fans each time OnFanout signals, failing after 10 seconds.
func (e *env) wait(ps ...fanout.Post) {
	e.t.Helper()
	timeout := time.After(10 * time.Second)
	for _, p := range ps {
		for {
			e.fanMu.Lock()
			_, ok := e.fans[p.ID]
			e.fanMu.Unlock()
			if ok {
				break
			}
			select {
			case <-e.fanned:
			case <-timeout:
				e.t.Fatalf("fan-out of %d did not finish", p.ID)
			}
		}
	}
}

func TestPushPullMerge(t *testing.T) {
	e := newEnv(t, 800, fanout.Options{Policy: fanout.Threshold{Followers: 3, Hysteresis: -1}})
	const celeb, alice, bob = 100, 1, 2
	for u := fanout.UserID(10); u < 15; u++ {
		e.follow(u, celeb) // 5 followers: pulled
	}
	e.follow(bob, alice) // 1 follower: pushed
	e.follow(bob, celeb)
	e.feed(bob, 5) // bob reads: active
	var ps []fanout.Post
	for i := range 3 {
		ps = append(ps, e.post(alice, fmt.Sprint("a", i)), e.post(celeb, fmt.Sprint("c", i)))
	}
	ps = append(ps, e.post(bob, "own"))
	if got, want := e.feed(bob, 2), []string{"own", "c2", "a2", "c1", "a1", "c0", "a0"}; !slices.Equal(got, want) {
		t.Fatalf("bob's feed = %v, want %v", got, want)
	}
	e.wait(ps...)
	if w := e.writes(ps[0]); w != 1 {
		t.Errorf("alice's post written to %d timelines, want 1 (bob)", w)
	}
	if w := e.writes(ps[1]); w != 0 {
		t.Errorf("celebrity's post written to %d timelines, want 0 (pulled)", w)
	}
	st, _ := e.tl.Stat(e.ctx, bob)
	if st.Len != 3 {
		t.Errorf("bob's pushed timeline holds %d entries, want alice's 3", st.Len)
	}
}

// AppendTimeline pages exactly like Timeline, appending each page after
// what dst holds, and rejects what Timeline rejects.
func TestAppendTimeline(t *testing.T) {
	e := newEnv(t, 800, fanout.Options{Policy: fanout.Threshold{Followers: 3, Hysteresis: -1}})
	const celeb, alice, bob = 100, 1, 2
	for u := fanout.UserID(10); u < 15; u++ {
		e.follow(u, celeb) // pulled
	}
	e.follow(bob, alice) // pushed
	e.follow(bob, celeb)
	e.feed(bob, 5)
	var ps []fanout.Post
	for i := range 7 {
		ps = append(ps, e.post(alice, fmt.Sprint("a", i)), e.post(celeb, fmt.Sprint("c", i)))
	}
	e.wait(ps...)
	mark := fanout.Post{Text: "kept"}
	buf := make([]fanout.Post, 0, 8)
	cur, pages := "", 0
	for {
		want, err := e.svc.Timeline(e.ctx, bob, cur, 3)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.AppendTimeline(e.ctx, append(buf[:0], mark), bob, cur, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Posts) == 0 || got.Posts[0] != mark || !slices.Equal(got.Posts[1:], want.Posts) || got.Next != want.Next {
			t.Fatalf("page %d: AppendTimeline = %v (next %q), want [kept] + %v (next %q)", pages, got.Posts, got.Next, want.Posts, want.Next)
		}
		buf = got.Posts
		pages++
		if want.Next == "" {
			break
		}
		cur = want.Next
	}
	if pages != 5 {
		t.Fatalf("14 posts in pages of 3 took %d pages, want 5", pages)
	}
	if _, err := e.svc.AppendTimeline(e.ctx, buf, bob, "x", 3); !errors.Is(err, fanout.ErrBadCursor) {
		t.Errorf("AppendTimeline(cursor x) = %v, want ErrBadCursor", err)
	}
	for _, n := range []int{0, fanout.MaxLimit + 1} {
		if _, err := e.svc.AppendTimeline(e.ctx, buf, bob, "", n); !errors.Is(err, fanout.ErrInvalidLimit) {
			t.Errorf("AppendTimeline(limit %d) = %v, want ErrInvalidLimit", n, err)
		}
	}
	if _, err := e.svc.AppendTimeline(e.ctx, buf, 0, "", 3); !errors.Is(err, fanout.ErrInvalidUser) {
		t.Errorf("AppendTimeline(user 0) = %v, want ErrInvalidUser", err)
	}
}

func TestDeleteAndUnfollowVisibleAtOnce(t *testing.T) {
	e := newEnv(t, 800, fanout.Options{})
	e.follow(2, 1)
	e.follow(2, 3)
	p1 := e.post(1, "x")
	p2 := e.post(1, "y")
	p3 := e.post(3, "z")
	e.wait(p1, p2, p3)
	if err := e.svc.Delete(e.ctx, 1, p1.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Delete(e.ctx, 3, p2.ID); !errors.Is(err, fanout.ErrNotFound) {
		t.Fatalf("Delete by another user = %v, want ErrNotFound", err)
	}
	if got := e.feed(2, 10); !slices.Equal(got, []string{"z", "y"}) {
		t.Fatalf("feed after delete = %v, want [z y]", got)
	}
	if err := e.svc.Unfollow(e.ctx, 2, 1); err != nil {
		t.Fatal(err)
	}
	if got := e.feed(2, 10); !slices.Equal(got, []string{"z"}) {
		t.Fatalf("feed after unfollow = %v, want [z]", got)
	}
	// Both were cleaned from the stored timeline lazily by the reads.
	if st, _ := e.tl.Stat(e.ctx, 2); st.Len != 1 {
		t.Fatalf("stored entries after cleanup = %d, want 1", st.Len)
	}
	if err := e.svc.Unfollow(e.ctx, 2, 1); !errors.Is(err, fanout.ErrNotFollowing) {
		t.Fatalf("second Unfollow = %v, want ErrNotFollowing", err)
	}
}

func TestFollowBackfill(t *testing.T) {
	e := newEnv(t, 800, fanout.Options{Backfill: 3})
	var ps []fanout.Post
	for i := range 5 {
		ps = append(ps, e.post(1, fmt.Sprint(i)))
	}
	e.wait(ps...)
	e.follow(2, 1)
	if st, _ := e.tl.Stat(e.ctx, 2); st.Len != 3 || st.Oldest != ps[2].ID {
		t.Fatalf("after follow: %+v, want the 3 newest posts backfilled", st)
	}
	// Older posts are pulled: the feed has all five.
	if got := e.feed(2, 2); !slices.Equal(got, []string{"4", "3", "2", "1", "0"}) {
		t.Fatalf("feed = %v", got)
	}
}

func TestPastTheCapPulls(t *testing.T) {
	e := newEnv(t, 4, fanout.Options{})
	e.follow(2, 1)
	e.follow(2, 3)
	e.feed(2, 1)
	var ps []fanout.Post
	var want []string
	for i := range 20 {
		p := e.post(fanout.UserID(1+2*(i%2)), strconv.Itoa(i))
		ps = append(ps, p)
		want = append([]string{p.Text}, want...)
	}
	e.wait(ps...)
	if st, _ := e.tl.Stat(e.ctx, 2); st.Len != 4 {
		t.Fatalf("stored entries = %d, want the cap 4", st.Len)
	}
	if got := e.feed(2, 3); !slices.Equal(got, want) {
		t.Fatalf("feed = %v, want %v", got, want)
	}
}

func TestMuteBlock(t *testing.T) {
	e := newEnv(t, 800, fanout.Options{})
	e.follow(2, 1)
	e.follow(2, 3)
	// Fan-out done before the mute: the posts are in 2's timeline, and
	// the mute hides them at read.
	e.wait(e.post(1, "one"), e.post(3, "three"))
	if err := e.svc.Mute(e.ctx, 2, 1); err != nil {
		t.Fatal(err)
	}
	if got := e.feed(2, 5); !slices.Equal(got, []string{"three"}) {
		t.Fatalf("feed with 1 muted = %v", got)
	}
	e.svc.Unmute(e.ctx, 2, 1)
	if got := e.feed(2, 5); len(got) != 2 {
		t.Fatalf("feed after unmute = %v", got)
	}
	if err := e.svc.Block(e.ctx, 3, 2); err != nil {
		t.Fatal(err)
	}
	if got := e.feed(2, 5); !slices.Equal(got, []string{"one"}) {
		t.Fatalf("feed after 3 blocked 2 = %v", got)
	}
	if err := e.svc.Follow(e.ctx, 2, 3); !errors.Is(err, fanout.ErrBlocked) {
		t.Fatalf("Follow of a blocker = %v, want ErrBlocked", err)
	}
	e.svc.Unblock(e.ctx, 3, 2)
	e.follow(2, 3)
	if got := e.feed(2, 5); len(got) != 2 {
		t.Fatalf("feed after unblock and follow = %v", got)
	}
}

func TestReposts(t *testing.T) {
	e := newEnv(t, 800, fanout.Options{RepostWindow: time.Hour})
	e.follow(9, 1)
	e.follow(9, 2)
	orig := e.post(1, "orig")
	other := e.post(3, "other") // 9 does not follow 3
	rp, err := e.svc.Repost(e.ctx, 2, orig.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rp.RepostOf != orig.ID || rp.Author != 2 {
		t.Fatalf("Repost = %+v", rp)
	}
	rp2, _ := e.svc.Repost(e.ctx, 2, other.ID)
	// 9 sees the original of 1 already: its repost is hidden; the repost
	// of 3's post is shown.
	pg, _ := e.svc.Timeline(e.ctx, 9, "", 10)
	var ids []snowflake.ID
	for _, p := range pg.Posts {
		ids = append(ids, p.ID)
	}
	if want := []snowflake.ID{rp2.ID, orig.ID}; !slices.Equal(ids, want) {
		t.Fatalf("feed ids = %v, want %v", ids, want)
	}
	// Undoing a repost never removes the original.
	if err := e.svc.Delete(e.ctx, 2, rp2.ID); err != nil {
		t.Fatal(err)
	}
	if got := e.feed(3, 10); !slices.Equal(got, []string{"other"}) {
		t.Fatalf("author's own feed after undo = %v", got)
	}
	// A repost of a deleted original disappears.
	rp3, _ := e.svc.Repost(e.ctx, 2, other.ID)
	e.svc.Delete(e.ctx, 3, other.ID)
	pg, _ = e.svc.Timeline(e.ctx, 9, "", 10)
	for _, p := range pg.Posts {
		if p.ID == rp3.ID {
			t.Fatal("repost of a deleted post shown")
		}
	}
	if _, err := e.svc.Repost(e.ctx, 2, 12345); !errors.Is(err, fanout.ErrNotFound) {
		t.Fatalf("Repost of a missing post = %v, want ErrNotFound", err)
	}
}

func TestInactiveReaderRebuild(t *testing.T) {
	synctest.Test(t, testInactiveReaderRebuild)
}

func testInactiveReaderRebuild(t *testing.T) {
	e := newEnv(t, 800, fanout.Options{InactiveAfter: time.Minute})
	e.follow(2, 1)
	e.clk.Add(2 * time.Minute)
	var ps []fanout.Post
	for i := range 3 {
		ps = append(ps, e.post(1, strconv.Itoa(i)))
	}
	e.wait(ps...)
	for _, p := range ps {
		if e.writes(p) != 0 {
			t.Fatalf("post pushed to an inactive reader")
		}
	}
	pg, err := e.svc.Timeline(e.ctx, 2, "", 5)
	if err != nil || len(pg.Posts) != 3 || !pg.Partial {
		t.Fatalf("first read after inactivity: %d posts, partial %v, %v; want 3, true", len(pg.Posts), pg.Partial, err)
	}
	// The rebuild runs on the workers; once they are idle, reads are no
	// longer partial.
	synctest.Wait()
	pg, _ = e.svc.Timeline(e.ctx, 2, "", 5)
	if pg.Partial || len(pg.Posts) != 3 {
		t.Fatalf("after rebuild: partial %v, %d posts", pg.Partial, len(pg.Posts))
	}
	if st, _ := e.tl.Stat(e.ctx, 2); st.Len != 3 {
		t.Fatalf("rebuilt timeline holds %d entries, want 3", st.Len)
	}
	p := e.post(1, "new")
	e.wait(p)
	if e.writes(p) != 1 {
		t.Fatal("active again, but not pushed to")
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, 800, fanout.Options{})
	ctx := e.ctx
	if _, err := e.svc.Publish(ctx, 0, "x"); !errors.Is(err, fanout.ErrInvalidUser) {
		t.Errorf("Publish(0) = %v", err)
	}
	if err := e.svc.Follow(ctx, 1, 1); !errors.Is(err, fanout.ErrSelf) {
		t.Errorf("Follow(1, 1) = %v", err)
	}
	// Every relation of a user to itself is refused with ErrSelf, which
	// is ErrSelfFollow (deprecated) under its former name.
	for name, f := range map[string]func(context.Context, fanout.UserID, fanout.UserID) error{
		"Follow": e.svc.Follow, "Unfollow": e.svc.Unfollow, "Mute": e.svc.Mute, "Unmute": e.svc.Unmute,
		"Block": e.svc.Block, "Unblock": e.svc.Unblock,
	} {
		if err := f(ctx, 2, 2); !errors.Is(err, fanout.ErrSelf) || !errors.Is(err, fanout.ErrSelfFollow) {
			t.Errorf("%s(2, 2) = %v, want ErrSelf", name, err)
		}
	}
	if _, err := e.svc.Timeline(ctx, 1, "", 0); !errors.Is(err, fanout.ErrInvalidLimit) {
		t.Errorf("Timeline(limit 0) = %v", err)
	}
	if _, err := e.svc.Timeline(ctx, 1, "", fanout.MaxLimit+1); !errors.Is(err, fanout.ErrInvalidLimit) {
		t.Errorf("Timeline(limit too big) = %v", err)
	}
	for _, c := range []string{"x", "AAAAAAAAAAAA", "AQAAAAAAAAAA", "____________", "AQAAAAAAAAAB!"} {
		if _, err := e.svc.Timeline(ctx, 1, c, 5); !errors.Is(err, fanout.ErrBadCursor) {
			t.Errorf("Timeline(cursor %q) = %v, want ErrBadCursor", c, err)
		}
	}
	if _, err := e.svc.Refresh(ctx, 1, -1, 5); !errors.Is(err, fanout.ErrBadCursor) {
		t.Errorf("Refresh(-1) = %v", err)
	}
	if _, err := e.svc.Timeline(ctx, -3, "", 5); !errors.Is(err, fanout.ErrInvalidUser) {
		t.Errorf("Timeline(user -3) = %v", err)
	}
}

func TestCloseDrains(t *testing.T) {
	e := newEnv(t, 800, fanout.Options{Queue: 2, Workers: 1})
	for u := fanout.UserID(2); u < 50; u++ {
		e.follow(u, 1)
	}
	var ps []fanout.Post
	for i := range 30 {
		ps = append(ps, e.post(1, strconv.Itoa(i)))
	}
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if w := e.writes(p); w != 48 {
			t.Fatalf("post %d written to %d timelines after Close, want 48", p.ID, w)
		}
	}
	if _, err := e.svc.Publish(e.ctx, 1, "late"); !errors.Is(err, fanout.ErrClosed) {
		t.Fatalf("Publish after Close = %v, want ErrClosed", err)
	}
	if err := e.svc.Close(); !errors.Is(err, fanout.ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
	// Reads still work from the stores.
	if got := e.feed(2, 100); len(got) != 30 {
		t.Fatalf("feed after Close has %d posts, want 30", len(got))
	}
}

func TestBackpressure(t *testing.T) {
	block := make(chan struct{})
	e := newEnv(t, 800, fanout.Options{Queue: 1, Workers: 1})
	_ = block
	e.follow(2, 1)
	// Fill the queue faster than one worker drains it; a cancelled
	// context must stop a blocked Publish without publishing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	published := 0
	for range 200 {
		if _, err := e.svc.Publish(ctx, 1, "x"); err == nil {
			published++
		} else if !errors.Is(err, context.Canceled) {
			t.Fatalf("Publish = %v", err)
		}
	}
	e.svc.Close()
	if got := len(e.feed(1, fanout.MaxLimit)); got != published {
		t.Fatalf("author sees %d posts, %d were published", got, published)
	}
}

func TestRefresh(t *testing.T) {
	e := newEnv(t, 800, fanout.Options{})
	e.follow(2, 1)
	first := e.post(1, "0")
	for i := 1; i <= 7; i++ {
		e.post(1, strconv.Itoa(i))
	}
	var got []string
	since := first.ID
	for {
		pg, err := e.svc.Refresh(e.ctx, 2, since, 3)
		if err != nil {
			t.Fatal(err)
		}
		for i := len(pg.Posts) - 1; i >= 0; i-- {
			got = append(got, pg.Posts[i].Text)
		}
		if len(pg.Posts) > 0 {
			since = pg.Posts[0].ID
		}
		if !pg.More {
			break
		}
	}
	if want := []string{"1", "2", "3", "4", "5", "6", "7"}; !slices.Equal(got, want) {
		t.Fatalf("refreshed = %v, want %v", got, want)
	}
}

// seed returns the seed of a property test: $SEED if set, else a fresh
// one, logged so that a failure can be replayed with SEED=n go test ...
// A SEED that does not parse fails the test.
func seed(t *testing.T) uint64 {
	t.Helper()
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("SEED"); v != "" {
		var err error
		if s, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("SEED=%q: %v", v, err)
		}
	}
	t.Logf("SEED=%d", s)
	return s
}

// model is the reference: which posts exist and who follows whom.
// visibler is a brute-force model of what a reader sees: the IDs of its
// visible posts older than before, newest first.
type visibler interface {
	visible(reader fanout.UserID, before snowflake.ID) []snowflake.ID
}

// pageAgainstModel pages reader's whole timeline with random limits in
// [1, maxLimit], checking every page against the model and that no post
// repeats; between pages it runs op with probability 1/opEvery.
func pageAgainstModel(t *testing.T, e *env, m visibler, r *rand.Rand, reader fanout.UserID, maxLimit, opEvery int, op func()) {
	t.Helper()
	cur, before := "", fanout.Pulling
	seen := map[snowflake.ID]bool{}
	for {
		limit := 1 + r.IntN(maxLimit)
		pg, err := e.svc.Timeline(e.ctx, reader, cur, limit)
		if err != nil {
			t.Fatal(err)
		}
		want := m.visible(reader, before)
		want = want[:min(limit, len(want))]
		var got []snowflake.ID
		for _, p := range pg.Posts {
			got = append(got, p.ID)
			if seen[p.ID] {
				t.Fatalf("post %d repeated", p.ID)
			}
			seen[p.ID] = true
		}
		if !slices.Equal(got, want) {
			t.Fatalf("reader %d page before %d: got %v, want %v", reader, before, got, want)
		}
		if pg.Next == "" {
			return
		}
		cur, before = pg.Next, got[len(got)-1]
		if r.IntN(opEvery) == 0 {
			op()
		}
	}
}

type model struct {
	posts   map[snowflake.ID]fanout.UserID
	follows map[[2]fanout.UserID]bool
}

func (m *model) visible(reader fanout.UserID, before snowflake.ID) []snowflake.ID {
	var out []snowflake.ID
	for id, a := range m.posts {
		if id < before && (a == reader || m.follows[[2]fanout.UserID{reader, a}]) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

// TestPagingProperty interleaves random posts, deletes, follows, unfollows,
// reads by others and clock jumps (inactivity) with paging, under small
// thresholds and a tiny cap so that authors and edges flip between push and
// pull, and checks every page against the model exactly.
func TestPagingProperty(t *testing.T) {
	policies := map[string]fanout.Policy{
		"threshold": fanout.Threshold{Followers: 3, MaxFollowees: 5},
		"perpair":   fanout.PerPair{MaxFollowees: 5},
	}
	for name, pol := range policies {
		t.Run(name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed(t), 7))
			e := newEnv(t, 6, fanout.Options{Policy: pol, InactiveAfter: time.Minute, Backfill: 3, BatchSize: 2, Workers: 2})
			const users = 10
			m := &model{posts: map[snowflake.ID]fanout.UserID{}, follows: map[[2]fanout.UserID]bool{}}
			var ids []snowflake.ID
			user := func() fanout.UserID { return fanout.UserID(1 + r.IntN(users)) }
			op := func() {
				switch k := r.IntN(20); {
				case k < 8:
					p := e.post(user(), "")
					m.posts[p.ID] = p.Author
					ids = append(ids, p.ID)
				case k < 10 && len(ids) > 0:
					id := ids[r.IntN(len(ids))]
					if a, ok := m.posts[id]; ok {
						if err := e.svc.Delete(e.ctx, a, id); err != nil {
							t.Fatal(err)
						}
						delete(m.posts, id)
					}
				case k < 14:
					a, b := user(), user()
					if a != b {
						e.follow(a, b)
						m.follows[[2]fanout.UserID{a, b}] = true
					}
				case k < 16:
					a, b := user(), user()
					if m.follows[[2]fanout.UserID{a, b}] {
						if err := e.svc.Unfollow(e.ctx, a, b); err != nil {
							t.Fatal(err)
						}
						delete(m.follows, [2]fanout.UserID{a, b})
					}
				case k < 18:
					e.svc.Timeline(e.ctx, user(), "", 3)
				default:
					e.clk.Add(time.Duration(r.IntN(40)) * time.Second)
				}
			}
			rounds := 150
			if testing.Short() {
				rounds = 40
			}
			for range rounds {
				for range r.IntN(6) {
					op()
				}
				reader := user()
				pageAgainstModel(t, e, m, r, reader, 5, 2, op)
			}
		})
	}
}

// TestConcurrentPaging pages while other goroutines post, delete, follow and
// unfollow, and checks that no page repeats a post and that every post
// visible from start to end of the paging was returned.
//
// Under the per-pair policy with a short rate half-life the reader's edges
// flip between push and pull while it pages, and so do its read plans.
func TestConcurrentPaging(t *testing.T) {
	for _, pc := range []struct {
		name string
		opts fanout.Options
	}{
		{"threshold", fanout.Options{Policy: fanout.Threshold{Followers: 4}}},
		{"perpair", fanout.Options{Policy: fanout.PerPair{Hysteresis: 1.1}, RateHalfLife: time.Second}},
	} {
		t.Run(pc.name, func(t *testing.T) { concurrentPaging(t, pc.opts) })
	}
}

func concurrentPaging(t *testing.T, opts fanout.Options) {
	r := rand.New(rand.NewPCG(seed(t), 9))
	opts.Backfill, opts.BatchSize = 4, 3
	e := newEnv(t, 8, opts)
	const reader = 1
	var stable []snowflake.ID
	for u := fanout.UserID(2); u <= 8; u++ {
		e.follow(reader, u)
		for k := fanout.UserID(9); k < 9+u; k++ {
			e.follow(k, u) // various follower counts around the threshold
		}
		for range 10 {
			stable = append(stable, e.post(u, "").ID)
		}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 3 {
		wg.Add(1)
		rr := rand.New(rand.NewPCG(uint64(w), r.Uint64()))
		go func() {
			defer wg.Done()
			for range 400 {
				select {
				case <-stop:
					return
				default:
				}
				u := fanout.UserID(2 + rr.IntN(7))
				switch rr.IntN(5) {
				case 0:
					p, err := e.svc.Publish(e.ctx, u, "")
					if err == nil && rr.IntN(2) == 0 {
						e.svc.Delete(e.ctx, u, p.ID)
					}
				case 1:
					e.svc.Follow(e.ctx, fanout.UserID(20+rr.IntN(10)), u)
				case 2:
					e.svc.Unfollow(e.ctx, fanout.UserID(20+rr.IntN(10)), u)
				case 3:
					e.clk.Add(time.Duration(rr.IntN(50)) * time.Millisecond)
				case 4:
					e.svc.Timeline(e.ctx, fanout.UserID(20+rr.IntN(10)), "", 5)
				}
			}
		}()
	}
	var writersDone atomic.Bool
	go func() { wg.Wait(); writersDone.Store(true) }()
	sessions := 0
	for ; sessions < 20 || !writersDone.Load(); sessions++ {
		seen := map[snowflake.ID]bool{}
		cur := ""
		last := fanout.Pulling
		for {
			pg, err := e.svc.Timeline(e.ctx, reader, cur, 1+r.IntN(6))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pg.Posts {
				if seen[p.ID] || p.ID >= last {
					t.Fatalf("post %d repeated or out of order", p.ID)
				}
				seen[p.ID] = true
				last = p.ID
			}
			if pg.Next == "" {
				break
			}
			cur = pg.Next
		}
		for _, id := range stable {
			if !seen[id] {
				t.Fatalf("stable post %d skipped", id)
			}
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d paging sessions", sessions)
}

// TestPostsBeforeService checks that posts already in the store when the
// Service starts are read once it has issued IDs above them (the Service
// learns each author's newest post from the store), together with the
// new ones.
func TestPostsBeforeService(t *testing.T) {
	ctx := context.Background()
	gen, err := snowflake.NewGenerator(1, snowflake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g, ps := fanout.NewMemGraph(), fanout.NewMemPosts()
	for _, a := range []fanout.UserID{1, 3} {
		if _, err := g.Follow(ctx, fanout.Edge{Follower: 2, Followee: a, Since: 1}); err != nil {
			t.Fatal(err)
		}
	}
	var old []string
	for i := range 3 {
		id, err := gen.Next()
		if err != nil {
			t.Fatal(err)
		}
		text := "old" + strconv.Itoa(i)
		if err := ps.Put(ctx, fanout.Post{ID: id, Author: 1, Text: text}); err != nil {
			t.Fatal(err)
		}
		old = append([]string{text}, old...)
	}
	svc := fanout.New(g, ps, fanout.NewMemTimelines(fanout.MemTimelinesOptions{}), fanout.Options{IDs: gen})
	defer svc.Close()
	for _, a := range []fanout.UserID{1, 3} {
		if _, err := svc.Publish(ctx, a, "new"+strconv.Itoa(int(a))); err != nil {
			t.Fatal(err)
		}
	}
	want := append([]string{"new3", "new1"}, old...)
	if got := feedTexts(t, svc, 2, 10); !slices.Equal(got, want) {
		t.Fatalf("after publishing = %v, want %v", got, want)
	}
}

// TestTimelineBeforeService starts a Service on stores that outlived an
// earlier one: reader 2's timeline holds entries of author 3, whom it no
// longer follows (the earlier Service saw the unfollow, this one did not).
// Reads must leave them out, and the reader's own followees' entries in.
func TestTimelineBeforeService(t *testing.T) {
	ctx := context.Background()
	gen, err := snowflake.NewGenerator(1, snowflake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g, ps, tl := fanout.NewMemGraph(), fanout.NewMemPosts(), fanout.NewMemTimelines(fanout.MemTimelinesOptions{})
	if _, err := g.Follow(ctx, fanout.Edge{Follower: 2, Followee: 1, Since: 1}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 6 {
		id, err := gen.Next()
		if err != nil {
			t.Fatal(err)
		}
		a := fanout.UserID(1 + 2*(i%2)) // 1 and 3 in turn
		text := fmt.Sprintf("%d-%d", a, i)
		if err := ps.Put(ctx, fanout.Post{ID: id, Author: a, Text: text}); err != nil {
			t.Fatal(err)
		}
		if err := tl.Add(ctx, 2, fanout.Entry{ID: id, Author: a}); err != nil {
			t.Fatal(err)
		}
		if a == 1 {
			want = append([]string{text}, want...)
		}
	}
	svc := fanout.New(g, ps, tl, fanout.Options{IDs: gen})
	defer svc.Close()
	// Reads show posts up to the newest published through the Service.
	if _, err := svc.Publish(ctx, 1, "new"); err != nil {
		t.Fatal(err)
	}
	want = append([]string{"new"}, want...)
	if got := feedTexts(t, svc, 2, 10); !slices.Equal(got, want) {
		t.Fatalf("feed = %v, want %v (no posts of 3, unfollowed before the Service)", got, want)
	}
}

// gatedTimelines holds every Deliver until gate is closed, so that posts
// pile up in the fan-out queue.
type gatedTimelines struct {
	*fanout.MemTimelines
	gate chan struct{}
}

func (g gatedTimelines) Deliver(ctx context.Context, e fanout.Entry, users []fanout.UserID) error {
	<-g.gate
	return g.MemTimelines.Deliver(ctx, e, users)
}

// TestQueuedPostsPaged pages through a timeline served from a long fan-out
// queue (the worker is stuck on its first delivery), mixed with authors the
// reader does not follow, in pages of random sizes: the queue is filtered a
// chunk at a time, and nothing may repeat or go missing, before the
// fan-out, after a delete and an unfollow, and after the fan-out.
func TestQueuedPostsPaged(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 7))
	ctx := context.Background()
	clk := newClock()
	gen, err := snowflake.NewGenerator(1, snowflake.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	tl := gatedTimelines{fanout.NewMemTimelines(fanout.MemTimelinesOptions{}), make(chan struct{})}
	g := fanout.NewMemGraph()
	svc := fanout.New(g, fanout.NewMemPosts(), tl, fanout.Options{IDs: gen, Now: clk.Now, Workers: 1})
	released := false
	release := func() {
		if !released {
			close(tl.gate)
			released = true
		}
	}
	defer func() { release(); svc.Close() }()
	const reader = 100
	if _, err := svc.Timeline(ctx, reader, "", 1); err != nil {
		t.Fatal(err)
	}
	for a := fanout.UserID(1); a <= 4; a++ {
		if err := svc.Follow(ctx, reader, a); err != nil {
			t.Fatal(err)
		}
		// Every author has a follower, so that each fan-out delivers.
		if err := svc.Follow(ctx, 50+a, a); err != nil {
			t.Fatal(err)
		}
	}
	var want []fanout.Post // newest first
	for range 150 {
		clk.Add(time.Millisecond)
		a := fanout.UserID(1 + r.IntN(8)) // 5..8 are not followed
		p, err := svc.Publish(ctx, a, "")
		if err != nil {
			t.Fatal(err)
		}
		if a <= 4 {
			want = append([]fanout.Post{p}, want...)
		}
	}
	check := func(when string) {
		t.Helper()
		var got []fanout.Post
		cur := ""
		for {
			pg, err := svc.Timeline(ctx, reader, cur, 1+r.IntN(20))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, pg.Posts...)
			if pg.Next == "" {
				break
			}
			cur = pg.Next
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d posts, want %d", when, len(got), len(want))
		}
		for i := range got {
			if got[i].ID != want[i].ID {
				t.Fatalf("%s: post %d is %d, want %d", when, i, got[i].ID, want[i].ID)
			}
		}
	}
	if st, _ := tl.Stat(ctx, reader); st.Len != 0 {
		t.Fatalf("timeline holds %d entries before the fan-out ran", st.Len)
	}
	check("queued")
	// A delete and an unfollow show at once, also in the queue.
	del := want[len(want)/2]
	if err := svc.Delete(ctx, del.Author, del.ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.Unfollow(ctx, reader, 4); err != nil {
		t.Fatal(err)
	}
	want = slices.DeleteFunc(want, func(p fanout.Post) bool { return p.ID == del.ID || p.Author == 4 })
	check("queued, after delete and unfollow")
	release()
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	check("fanned out")
}

// A follow of a pulled author copies nothing: its posts are pulled at read
// time, so copies would only fill the cap.
func TestFollowPulledAuthorNoBackfill(t *testing.T) {
	synctest.Test(t, testFollowPulledAuthorNoBackfill)
}

func testFollowPulledAuthorNoBackfill(t *testing.T) {
	e := newEnv(t, 800, fanout.Options{Policy: fanout.Threshold{Followers: 2, Hysteresis: -1}})
	const author = 100
	for f := fanout.UserID(101); f <= 103; f++ {
		e.follow(f, author)
	}
	var ps []fanout.Post
	for i := range 50 {
		ps = append(ps, e.post(author, fmt.Sprint(i)))
	}
	e.wait(ps...)
	e.follow(1, author)
	if st, _ := e.tl.Stat(e.ctx, 1); st.Len != 0 {
		t.Fatalf("after follow of a pulled author: %+v, want an empty timeline", st)
	}
	if got := e.feed(1, 7); len(got) != 50 || got[0] != "49" || got[49] != "0" {
		t.Fatalf("feed has %d posts (%v), want all 50 pulled", len(got), got)
	}
	e.settle(1)
	// The edge is pushed once the author is: after dropping below the
	// threshold, new posts reach the timeline, and nothing is lost.
	for f := fanout.UserID(101); f <= 103; f++ {
		if err := e.svc.Unfollow(e.ctx, f, author); err != nil {
			t.Fatal(err)
		}
	}
	p := e.post(author, "50")
	e.wait(p)
	if st, _ := e.tl.Stat(e.ctx, 1); st.Len != 1 || st.Oldest != p.ID {
		t.Fatalf("after the author turned pushed: %+v, want its new post", st)
	}
	if got := e.feed(1, 9); len(got) != 51 || got[0] != "50" || got[50] != "0" {
		t.Fatalf("feed has %d posts, want 51", len(got))
	}
}

// settle waits until u's rebuild after inactivity is done (see
// settleReader).
func (e *env) settle(u fanout.UserID) {
	e.t.Helper()
	settleReader(e.t, e.ctx, e.svc, u)
}

// settleReader reads u's timeline and, if the page is Partial (a rebuild
// was queued), waits with synctest.Wait for the workers to go idle and
// checks that the rebuild is done: the next page is not Partial. The test
// must run in a synctest bubble.
func settleReader(t testing.TB, ctx context.Context, svc *fanout.Service, u fanout.UserID) {
	t.Helper()
	pg, err := svc.Timeline(ctx, u, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !pg.Partial {
		return
	}
	synctest.Wait()
	if pg, err = svc.Timeline(ctx, u, "", 1); err != nil {
		t.Fatal(err)
	}
	if pg.Partial {
		t.Fatalf("rebuild of %d not done with the workers idle", u)
	}
}

// Pulled followees whose posts are all older than the first chunk of the
// pushed timeline wait outside the merge until it gets there: a page that
// goes that deep, in one read or over several, still finds every post of
// theirs in order.
func TestPulledBelowPushedTimeline(t *testing.T) {
	for _, limit := range []int{7, 50, 200} {
		e := newEnv(t, 800, fanout.Options{Policy: fanout.Threshold{Followers: 3, Hysteresis: -1}})
		const alice, reader = 1, 2
		for u := fanout.UserID(10); u < 15; u++ {
			e.follow(u, 100) // 5 followers: author 100 is pulled
			e.follow(u, 101) // and so is 101
		}
		e.follow(reader, alice) // pushed
		e.follow(reader, 100)
		e.follow(reader, 101)
		e.feed(reader, 5) // active
		var want []string
		var ps []fanout.Post
		for i := range 6 {
			a := fanout.UserID(100 + i%2)
			ps = append(ps, e.post(a, fmt.Sprint("old", i)))
			want = append(want, fmt.Sprint("old", i))
		}
		for i := range 70 { // more than two chunks of the merge
			ps = append(ps, e.post(alice, fmt.Sprint("a", i)))
			want = append(want, fmt.Sprint("a", i))
		}
		e.wait(ps...)
		slices.Reverse(want)
		if got := e.feed(reader, limit); !slices.Equal(got, want) {
			t.Fatalf("limit %d: feed = %v, want %v", limit, got, want)
		}
	}
}

// TestUnfollowMany unfollows a reader's followees one by one, past the
// number of unfollowed authors its state lists (8) before reads check
// every entry's author, and follows some again: after each step the feed
// holds exactly the posts of the current followees, whether they are
// pushed into the timeline or pulled.
func TestUnfollowMany(t *testing.T) {
	for _, pol := range []fanout.Policy{fanout.Threshold{}, fanout.Threshold{Followers: 1}} {
		e := newEnv(t, 800, fanout.Options{Policy: pol})
		const reader = 1
		var authors []fanout.UserID
		for a := fanout.UserID(10); a < 22; a++ {
			authors = append(authors, a)
			e.follow(reader, a)
			e.follow(2, a) // a second follower, for Followers: 1
		}
		following := map[fanout.UserID]bool{}
		var posts []fanout.Post
		publish := func() {
			for _, a := range authors {
				p := e.post(a, fmt.Sprintf("%d-%d", a, len(posts)))
				posts = append(posts, p)
				e.wait(p)
			}
		}
		check := func(step string) {
			t.Helper()
			var want []string
			for i := len(posts) - 1; i >= 0; i-- {
				if following[posts[i].Author] {
					want = append(want, posts[i].Text)
				}
			}
			if got := e.feed(reader, 7); !slices.Equal(got, want) {
				t.Fatalf("%T%+v, %s: feed = %v, want %v", pol, pol, step, got, want)
			}
		}
		for _, a := range authors {
			following[a] = true
		}
		publish()
		check("following all")
		for i, a := range authors {
			if err := e.svc.Unfollow(e.ctx, reader, a); err != nil {
				t.Fatal(err)
			}
			following[a] = false
			check(fmt.Sprintf("after unfollowing %d", a))
			if i%4 == 3 {
				publish()
				check("after more posts")
			}
		}
		for _, a := range authors[:6:6] {
			e.follow(reader, a)
			following[a] = true
			check(fmt.Sprintf("after following %d again", a))
		}
		publish()
		check("after more posts")
		if err := e.svc.Unfollow(e.ctx, reader, authors[0]); err != nil {
			t.Fatal(err)
		}
		following[authors[0]] = false
		check("after unfollowing the first again")
	}
}
