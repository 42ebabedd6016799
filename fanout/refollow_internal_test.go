package fanout

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blueprint-go/blueprint/snowflake"
)

// heldLookup holds the first GetMany once armed, until release is closed:
// a read's post lookup, which comes after its merge has decided which
// timeline entries are of unfollowed authors, and before it drops them.
type heldLookup struct {
	Posts
	armed   atomic.Bool
	held    chan struct{}
	release chan struct{}
}

func (p *heldLookup) GetMany(ctx context.Context, ids []snowflake.ID, dst []Post) ([]Post, error) {
	if p.armed.CompareAndSwap(true, false) {
		close(p.held)
		<-p.release
	}
	return p.Posts.GetMany(ctx, ids, dst)
}

// refollowWorld is a reader who follows a and b on pushed edges, holds
// b's oldest post and three of a's in its timeline, and has unfollowed a:
// its next read finds a's entries to drop.
type refollowWorld struct {
	t      *testing.T
	ctx    context.Context
	s      *Service
	posts  *heldLookup
	tl     *MemTimelines
	ns     *atomic.Int64
	fanned chan snowflake.ID
}

const rfReader, rfA, rfB UserID = 1, 10, 20

func newRefollowWorld(t *testing.T) *refollowWorld {
	w := &refollowWorld{t: t, ctx: context.Background(), ns: new(atomic.Int64), fanned: make(chan snowflake.ID, 16),
		posts: &heldLookup{Posts: NewMemPosts(), held: make(chan struct{}), release: make(chan struct{})},
		tl:    NewMemTimelines(MemTimelinesOptions{})}
	w.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	gen, err := snowflake.NewGenerator(1, snowflake.Options{Clock: w})
	if err != nil {
		t.Fatal(err)
	}
	w.s = New(NewMemGraph(), w.posts, w.tl, Options{IDs: gen, Now: w.Now, InactiveAfter: time.Minute,
		OnFanout: func(id snowflake.ID, _ int, _ time.Duration) { w.fanned <- id }})
	t.Cleanup(func() { w.s.Close() })
	for _, f := range []UserID{rfB, rfA} {
		if err := w.s.Follow(w.ctx, rfReader, f); err != nil {
			t.Fatal(err)
		}
	}
	w.publish(rfB, "b-old") // the oldest entry held is b's
	for _, text := range []string{"a1", "a2", "a3"} {
		w.publish(rfA, text)
	}
	if err := w.s.Unfollow(w.ctx, rfReader, rfA); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *refollowWorld) Now() time.Time        { return time.Unix(0, w.ns.Load()) }
func (w *refollowWorld) Sleep(d time.Duration) { w.ns.Add(int64(max(d, time.Millisecond))) }

// publish posts text as u a millisecond later and waits for its fan-out.
func (w *refollowWorld) publish(u UserID, text string) {
	w.t.Helper()
	w.ns.Add(int64(time.Millisecond))
	p, err := w.s.Publish(w.ctx, u, text)
	if err != nil {
		w.t.Fatal(err)
	}
	if id := <-w.fanned; id != p.ID {
		w.t.Fatalf("fan-out of %d, want %d", id, p.ID)
	}
}

// readHeld starts a read of the reader and returns once it holds after
// its merge; closing w.posts.release lets it go, and it sends its error on
// the returned channel.
func (w *refollowWorld) readHeld() chan error {
	w.posts.armed.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := w.s.Timeline(w.ctx, rfReader, "", 10)
		done <- err
	}()
	<-w.posts.held
	return done
}

func (w *refollowWorld) feed() []string {
	w.t.Helper()
	var out []string
	cur := ""
	for {
		pg, err := w.s.Timeline(w.ctx, rfReader, cur, 3)
		if err != nil {
			w.t.Fatal(err)
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

// TestReadDropsUnfollowedEntries checks that a read still removes the
// entries of an author the reader unfollowed from its timeline when
// nothing races it.
func TestReadDropsUnfollowedEntries(t *testing.T) {
	w := newRefollowWorld(t)
	if got, want := w.feed(), []string{"b-old"}; !slices.Equal(got, want) {
		t.Fatalf("feed after the unfollow = %v, want %v", got, want)
	}
	if st, err := w.tl.Stat(w.ctx, rfReader); err != nil || st.Len != 1 {
		t.Fatalf("timeline after a read = %+v, %v, want only b's entry left", st, err)
	}
}

// TestRefollowDuringReadKeepsEntries checks that a read which finds the
// entries of an unfollowed author, while the reader follows that author
// again, does not remove them: the follow's backfill found them held and
// fixed the edge's watermark below them, so that reads took them from the
// timeline, and the read removing them when it ended lost them for good.
func TestRefollowDuringReadKeepsEntries(t *testing.T) {
	w := newRefollowWorld(t)
	read := w.readHeld()
	if err := w.s.Follow(w.ctx, rfReader, rfA); err != nil {
		t.Fatal(err)
	}
	close(w.posts.release)
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	if got, want := w.feed(), []string{"a3", "a2", "a1", "b-old"}; !slices.Equal(got, want) {
		t.Fatalf("feed after the follow again = %v, want %v", got, want)
	}
}

// TestRefollowAndRebuildDuringReadKeepsEntries is
// TestRefollowDuringReadKeepsEntries with the reader going dormant while
// the read holds, so that the follow again reactivates it and its
// timeline is rebuilt, copying the author's posts, before the read ends:
// the rebuild lowered the reader's floor, counting on them being held.
func TestRefollowAndRebuildDuringReadKeepsEntries(t *testing.T) {
	w := newRefollowWorld(t)
	read := w.readHeld()
	w.ns.Add(int64(2 * time.Minute))
	w.publish(rfB, "b-new") // its fan-out finds the reader inactive: dormant
	// The follow's reactivation queues no rebuild: this test runs it.
	w.s.user(w.ctx, rfReader, func(st *userState) {
		if !st.dormant {
			t.Fatal("reader not dormant")
		}
		st.rebuildQ = true
	})
	if err := w.s.Follow(w.ctx, rfReader, rfA); err != nil {
		t.Fatal(err)
	}
	w.s.rebuild(w.ctx, rfReader)
	w.s.user(w.ctx, rfReader, func(st *userState) {
		if st.rebuilding {
			t.Fatal("reader still rebuilding")
		}
	})
	close(w.posts.release)
	if err := <-read; err != nil {
		t.Fatal(err)
	}
	if got, want := w.feed(), []string{"b-new", "a3", "a2", "a1", "b-old"}; !slices.Equal(got, want) {
		t.Fatalf("feed after the follow again = %v, want %v", got, want)
	}
}
