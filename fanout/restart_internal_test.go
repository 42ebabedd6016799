package fanout

import (
	"context"
	"errors"
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
// closes it, and starts the second one with policy.
func newRestartWorld(t *testing.T, policy Policy, first func(s *Service)) *restartWorld {
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
	gen, err := snowflake.NewGenerator(1, snowflake.Options{Clock: nsClock{w.ns}, After: last})
	w.must(err)
	w.s = New(w.g, w.posts, w.tl, Options{IDs: gen, Now: nsClock{w.ns}.Now, Policy: policy,
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
	})
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
