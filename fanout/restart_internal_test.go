package fanout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/snowflake"
)

// restartWorld is a Service restarted over stores that a first Service
// filled: its generator's After is the last ID the first one issued, and
// its clock reads a minute behind that mark, so its Next returns
// ErrClockBehind until the clock is moved on.
type restartWorld struct {
	t      *testing.T
	ctx    context.Context
	g      Graph
	posts  Posts
	tl     *MemTimelines
	ns     *atomic.Int64 // the clock of both generators and Services
	mark   time.Time     // the time of the last ID the first Service issued
	s      *Service
	fanned chan snowflake.ID
}

// newRestartWorld runs a first Service on fresh stores through first,
// closes it, and starts the second one with policy, on the stores wrap
// returns if wrap is not nil.
func newRestartWorld(t *testing.T, policy Policy, first func(s *Service), wrap func(Posts, Timelines) (Posts, Timelines)) *restartWorld {
	t.Helper()
	return newRestartWorldAfter(t, policy, first, wrap, true)
}

// newRestartWorldAfter is newRestartWorld, with a second generator that
// has no After mark unless after is set: it issues IDs below the stored
// posts until its clock passes them.
func newRestartWorldAfter(t *testing.T, policy Policy, first func(s *Service), wrap func(Posts, Timelines) (Posts, Timelines), after bool) *restartWorld {
	t.Helper()
	w := &restartWorld{t: t, ctx: context.Background(), g: NewMemGraph(), posts: NewMemPosts(),
		tl: NewMemTimelines(MemTimelinesOptions{}), ns: new(atomic.Int64), fanned: make(chan snowflake.ID, 64)}
	w.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	old := New(w.g, w.posts, w.tl, Options{IDs: nsIDs(t, w.ns), Now: nsClock{w.ns}.Now, Policy: policy})
	first(old)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	last := old.lastIssued()
	w.mark = old.layout.Decompose(last).Time
	w.ns.Store(w.mark.Add(-time.Minute).UnixNano()) // the restarted clock is behind
	opts := snowflake.Options{Clock: nsClock{w.ns}}
	if after {
		opts.After = last
	}
	gen, err := snowflake.NewGenerator(1, opts)
	w.must(err)
	var p Posts = w.posts
	var tl Timelines = w.tl
	if wrap != nil {
		p, tl = wrap(p, tl)
	}
	w.s = New(w.g, p, tl, Options{IDs: gen, Now: nsClock{w.ns}.Now, Policy: policy,
		OnFanout: func(id snowflake.ID, _ int, _ time.Duration) { w.fanned <- id }})
	t.Cleanup(func() { w.s.Close() })
	return w
}

func (w *restartWorld) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

// catchUp moves the clock past the mark: Next works again.
func (w *restartWorld) catchUp() { w.ns.Store(w.mark.Add(time.Second).UnixNano()) }

// publish publishes and, if it worked, waits for the fan-out.
func (w *restartWorld) publish(u UserID, text string) error {
	w.t.Helper()
	w.ns.Add(int64(time.Millisecond))
	_, err := w.s.Publish(w.ctx, u, text)
	if err == nil {
		<-w.fanned
	}
	return err
}

// feed returns the texts of u's first page.
func (w *restartWorld) feed(u UserID) []string {
	w.t.Helper()
	pg, err := w.s.Timeline(w.ctx, u, "", 20)
	w.must(err)
	got := []string{}
	for _, p := range pg.Posts {
		got = append(got, p.Text)
	}
	return got
}

// TestFailedSwitchAfterRestart checks that a Publish that switches its
// author from pull to push and fails to get an ID before the Service has
// issued any does not count the author's posts stored before the Service
// as pushed: its watermark was set above every ID issued so far, which
// was none (1), and the post stored before the restart, in no timeline,
// was never pulled again.
func TestFailedSwitchAfterRestart(t *testing.T) {
	const author, r1, r2, other = 1, 2, 3, 4
	w := newRestartWorld(t, Threshold{Followers: 1, Hysteresis: -1}, func(s *Service) {
		if _, err := s.Publish(context.Background(), author, "before restart"); err != nil {
			t.Fatal(err)
		}
	}, nil)
	w.must(w.s.Follow(w.ctx, r1, author))
	w.must(w.s.Follow(w.ctx, r2, author)) // 2 followers: pulled
	if err := w.publish(author, "a"); !errors.Is(err, snowflake.ErrClockBehind) {
		t.Fatalf("Publish with the clock behind = %v, want ErrClockBehind", err)
	}
	w.must(w.s.Unfollow(w.ctx, r2, author)) // 1 follower: the next Publish switches to push
	if err := w.publish(author, "b"); !errors.Is(err, snowflake.ErrClockBehind) {
		t.Fatalf("switching Publish with the clock behind = %v, want ErrClockBehind", err)
	}
	w.catchUp()
	w.must(w.publish(other, "x"))
	if got := w.feed(r1); !slices.Equal(got, []string{"before restart"}) {
		t.Fatalf("feed after the failed switch = %q, want [before restart]", got)
	}
	w.must(w.publish(author, "c"))
	if got := w.feed(r1); !slices.Equal(got, []string{"c", "before restart"}) {
		t.Fatalf("feed after the next post = %q, want [c before restart]", got)
	}
}

// TestRestartShowsStoredPosts checks that a Service restarted over stores
// that hold posts shows them before it issues its first ID, also while
// its generator's clock is behind (Publish fails with ErrClockBehind):
// reads stopped below the last ID issued, which was none, so every reader
// saw an empty timeline until the first Publish that worked.
func TestRestartShowsStoredPosts(t *testing.T) {
	const pushed, pulled, r1, r2 = 1, 2, 3, 4
	w := newRestartWorld(t, Threshold{Followers: 1, Hysteresis: -1}, func(s *Service) {
		ctx := context.Background()
		for _, e := range []struct{ r, a UserID }{{r1, pushed}, {r1, pulled}, {r2, pulled}} {
			if err := s.Follow(ctx, e.r, e.a); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []Post{{Author: pushed, Text: "pushed"}, {Author: pulled, Text: "pulled"}, {Author: r1, Text: "own"}} {
			if _, err := s.Publish(ctx, p.Author, p.Text); err != nil {
				t.Fatal(err)
			}
		}
	}, nil)
	want := []string{"own", "pulled", "pushed"}
	for i := range 2 { // the first read is served by pull, the second from the timeline
		if got := w.feed(r1); !slices.Equal(got, want) {
			t.Fatalf("read %d before any Publish = %q, want %q", i, got, want)
		}
	}
	if got := w.feed(r2); !slices.Equal(got, []string{"pulled"}) {
		t.Fatalf("r2's feed before any Publish = %q, want [pulled]", got)
	}
	if err := w.publish(pushed, "late"); !errors.Is(err, snowflake.ErrClockBehind) {
		t.Fatalf("Publish with the clock behind = %v, want ErrClockBehind", err)
	}
	if got := w.feed(r1); !slices.Equal(got, want) {
		t.Fatalf("feed during ErrClockBehind = %q, want %q", got, want)
	}
	w.catchUp()
	w.must(w.publish(pushed, "new"))
	want = append([]string{"new"}, want...)
	if got := w.feed(r1); !slices.Equal(got, want) {
		t.Fatalf("feed after the first Publish = %q, want %q", got, want)
	}
}

// pullEverything pulls every author for every reader.
type pullEverything struct{}

func (pullEverything) PushAuthor(AuthorStats) bool            { return false }
func (pullEverything) PushEdge(AuthorStats, ReaderStats) bool { return false }

// heldPuts is a Posts whose Put of a post by author held waits until
// release is closed, after closing entered.
type heldPuts struct {
	Posts
	held             UserID
	entered, release chan struct{}
}

func (p *heldPuts) Put(ctx context.Context, x Post) error {
	if x.Author == p.held {
		close(p.entered)
		<-p.release
	}
	return p.Posts.Put(ctx, x)
}

// hookedRange is a Timelines that runs hook (once, if set) when user's
// timeline is ranged.
type hookedRange struct {
	Timelines
	user UserID
	hook atomic.Pointer[func()]
}

func (t *hookedRange) Range(ctx context.Context, u UserID, before snowflake.ID, limit int, dst []Entry) ([]Entry, snowflake.ID, error) {
	if u == t.user {
		if f := t.hook.Swap(nil); f != nil {
			(*f)()
		}
	}
	return t.Timelines.Range(ctx, u, before, limit, dst)
}

// TestFreshReadHidesIssuedPosts checks the other side of
// TestRestartShowsStoredPosts: a read that began before the Service issued
// any ID, and so does not stop below the last one, still shows no post
// below which one still being published could appear. The read's pushed
// timeline is ranged while the first post issued (by a) waits in its Put
// and the second (by b) has been published; the page must not show the
// second, or the first would appear between its posts.
func TestFreshReadHidesIssuedPosts(t *testing.T) {
	const a, b, reader = 1, 2, 3
	held := &heldPuts{held: a, entered: make(chan struct{}), release: make(chan struct{})}
	hooked := &hookedRange{user: reader}
	w := newRestartWorld(t, pullEverything{}, func(s *Service) {
		ctx := context.Background()
		for _, f := range []UserID{a, b} {
			if err := s.Follow(ctx, reader, f); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Publish(ctx, a, "old"); err != nil {
			t.Fatal(err)
		}
	}, func(p Posts, tl Timelines) (Posts, Timelines) {
		held.Posts, hooked.Timelines = p, tl
		return held, hooked
	})
	w.catchUp() // Next works: the first ID is issued during the read
	released := false
	release := func() {
		if !released {
			released = true
			close(held.release)
		}
	}
	t.Cleanup(release) // before the Service is closed
	if got := w.feed(reader); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("feed before any Publish = %q, want [old]", got)
	}
	first := make(chan error, 1)
	hook := func() {
		go func() {
			_, err := w.s.Publish(w.ctx, a, "first")
			first <- err
		}()
		<-held.entered // "first" has its ID and waits in Put
		w.must(w.publish(b, "second"))
	}
	hooked.hook.Store(&hook)
	if got := w.feed(reader); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("feed of a read that began before the first ID = %q, want [old]", got)
	}
	if hooked.hook.Load() != nil {
		t.Fatal("the read did not range the reader's timeline")
	}
	release()
	w.must(<-first)
	<-w.fanned
	if got := w.feed(reader); !slices.Equal(got, []string{"second", "first", "old"}) {
		t.Fatalf("feed after both posts = %q, want [second first old]", got)
	}
}

// TestUnfollowBeforeFirstID checks that an unfollow made before the
// Service issued its first ID hides the unfollowed author's posts that a
// follow copied into the timeline: they were stored before the Service,
// above the last ID issued (none), so the read checked none of them.
func TestUnfollowBeforeFirstID(t *testing.T) {
	const author, reader = 1, 2
	w := newRestartWorld(t, Threshold{Followers: 10}, func(s *Service) {
		if _, err := s.Publish(context.Background(), author, "old"); err != nil {
			t.Fatal(err)
		}
	}, nil)
	// The author is known, and pushed, from a Publish that failed.
	if err := w.publish(author, "late"); !errors.Is(err, snowflake.ErrClockBehind) {
		t.Fatalf("Publish with the clock behind = %v, want ErrClockBehind", err)
	}
	w.must(w.s.Follow(w.ctx, reader, author)) // copies "old" into the timeline
	held, _, err := w.tl.Range(w.ctx, reader, Pulling, 10, nil)
	w.must(err)
	if len(held) != 1 {
		t.Fatalf("timeline after the follow = %v, want the backfilled post", held)
	}
	w.must(w.s.Unfollow(w.ctx, reader, author))
	for _, when := range []string{"before the first ID", "after it"} {
		if got := w.feed(reader); len(got) != 0 {
			t.Fatalf("feed after the unfollow, %s = %q, want none", when, got)
		}
		w.catchUp()
		w.must(w.publish(3, "x"))
	}
}

// TestRestartBelowStoredPosts checks that a Service whose generator issues
// IDs below the posts its stores held (no After, its clock set back) does
// not let a pager or a Refresh skip them. Its reads are fresh until it
// issues an ID, and show every stored post; a first ID below them made
// the next page stop below that ID (the last issued), above none of the
// older stored posts: the second page from a cursor at s20 showed only
// the new post, not s19..s0, and a Refresh from s39 never saw it. Publish
// now refuses such an ID, and reads stay fresh until the clock passes the
// posts shown.
func TestRestartBelowStoredPosts(t *testing.T) {
	const author, other, reader = 1, 2, 3
	var stored []string
	w := newRestartWorldAfter(t, nil, func(s *Service) {
		ctx := context.Background()
		for _, f := range []UserID{author, other} {
			if err := s.Follow(ctx, reader, f); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 40 {
			text := fmt.Sprintf("s%d", i)
			if _, err := s.Publish(ctx, author, text); err != nil {
				t.Fatal(err)
			}
			stored = append([]string{text}, stored...)
		}
	}, nil, false)
	texts := func(pg Page) []string {
		got := []string{}
		for _, p := range pg.Posts {
			got = append(got, p.Text)
		}
		return got
	}
	pg1, err := w.s.Timeline(w.ctx, reader, "", 20)
	w.must(err)
	if got := texts(pg1); !slices.Equal(got, stored[:20]) {
		t.Fatalf("page 1 = %q, want %q", got, stored[:20])
	}
	s39 := pg1.Posts[0].ID
	if err := w.publish(other, "x"); !errors.Is(err, snowflake.ErrClockBehind) {
		t.Fatalf("Publish of an ID below the posts shown = %v, want ErrClockBehind", err)
	}
	pg2, err := w.s.Timeline(w.ctx, reader, pg1.Next, 20)
	w.must(err)
	if got := texts(pg2); !slices.Equal(got, stored[20:]) {
		t.Fatalf("page 2 = %q, want %q", got, stored[20:])
	}
	w.catchUp()
	w.must(w.publish(other, "x"))
	var all []string
	for cursor := ""; ; {
		pg, err := w.s.Timeline(w.ctx, reader, cursor, 20)
		w.must(err)
		all = append(all, texts(pg)...)
		if cursor = pg.Next; cursor == "" {
			break
		}
	}
	if want := append([]string{"x"}, stored...); !slices.Equal(all, want) {
		t.Fatalf("pages after the clock caught up = %q, want %q", all, want)
	}
	pg, err := w.s.Refresh(w.ctx, reader, s39, 20)
	w.must(err)
	if got := texts(pg); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("Refresh from s39 = %q, want [x]", got)
	}
}

// TestRestartBelowUnreadPosts checks TestRestartBelowStoredPosts' refusal
// without a read: the first ID must be above every author's newest post
// the Service has learnt of (here the author's own, loaded by its
// Publish), which reads would otherwise hide until the IDs issued passed
// it.
func TestRestartBelowUnreadPosts(t *testing.T) {
	const author, other, reader = 1, 2, 3
	w := newRestartWorldAfter(t, nil, func(s *Service) {
		ctx := context.Background()
		if err := s.Follow(ctx, reader, author); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Publish(ctx, author, "old"); err != nil {
			t.Fatal(err)
		}
	}, nil, false)
	for _, u := range []UserID{author, other} {
		if err := w.publish(u, "new"); !errors.Is(err, snowflake.ErrClockBehind) {
			t.Fatalf("Publish by %d below the author's post = %v, want ErrClockBehind", u, err)
		}
	}
	if got := w.feed(reader); !slices.Equal(got, []string{"old"}) {
		t.Fatalf("feed after the refused posts = %q, want [old]", got)
	}
	w.catchUp()
	w.must(w.publish(author, "new"))
	if got := w.feed(reader); !slices.Equal(got, []string{"new", "old"}) {
		t.Fatalf("feed after the clock caught up = %q, want [new old]", got)
	}
}

// TestRestartBelowAuthorsPost checks that Publish issues no ID at or below
// its author's newest post also after the first ID, which was above every
// post the Service had learnt of, not the author's: the author's posts
// stay in ID order.
func TestRestartBelowAuthorsPost(t *testing.T) {
	const author, other, reader = 1, 2, 3
	w := newRestartWorldAfter(t, nil, func(s *Service) {
		ctx := context.Background()
		if err := s.Follow(ctx, reader, author); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Publish(ctx, author, "old"); err != nil {
			t.Fatal(err)
		}
	}, nil, false)
	w.must(w.publish(other, "x")) // below "old", which no one has read
	if err := w.publish(author, "new"); !errors.Is(err, snowflake.ErrClockBehind) {
		t.Fatalf("Publish below the author's post = %v, want ErrClockBehind", err)
	}
	w.catchUp()
	w.must(w.publish(author, "new"))
	if got := w.feed(reader); !slices.Equal(got, []string{"new", "old"}) {
		t.Fatalf("feed after the clock caught up = %q, want [new old]", got)
	}
}

// TestShowFreshBoundsFirstID checks showFresh on its own (reads reach it
// with posts whose authors' newest post loadNewest has mostly noted
// already): the first ID must be above a post a fresh read has shown, and
// once it is issued, a fresh read shows no post at or above it.
func TestShowFreshBoundsFirstID(t *testing.T) {
	ctx := context.Background()
	ns := new(atomic.Int64)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ns.Store(start.UnixNano())
	s := New(NewMemGraph(), NewMemPosts(), NewMemTimelines(MemTimelinesOptions{}), Options{IDs: nsIDs(t, ns), Now: nsClock{ns}.Now})
	t.Cleanup(func() { s.Close() })
	ahead := new(atomic.Int64)
	ahead.Store(start.Add(time.Minute).UnixNano())
	shown, err := nsIDs(t, ahead).Next()
	if err != nil {
		t.Fatal(err)
	}
	if !s.showFresh(shown) {
		t.Fatal("showFresh before any ID = false, want true")
	}
	if _, err := s.Publish(ctx, 1, "behind"); !errors.Is(err, snowflake.ErrClockBehind) {
		t.Fatalf("Publish below a post shown = %v, want ErrClockBehind", err)
	}
	ns.Store(start.Add(2 * time.Minute).UnixNano())
	p, err := s.Publish(ctx, 1, "ahead")
	if err != nil {
		t.Fatal(err)
	}
	if p.ID <= shown {
		t.Fatalf("first ID %d, want above %d", p.ID, shown)
	}
	if s.showFresh(p.ID) || !s.showFresh(shown) {
		t.Fatalf("showFresh(first, below it) = %v, %v; want false, true", s.showFresh(p.ID), s.showFresh(shown))
	}
}
