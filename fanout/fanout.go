package fanout

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blueprint-go/blueprint/snowflake"
)

// Service is a home-timeline service over a [Graph], [Posts] and
// [Timelines]. Publish stores a post and fans it out asynchronously;
// Timeline and Refresh merge the pushed timeline with pulled posts. All
// methods are safe for concurrent use. Close stops the workers after
// draining the queue; CloseContext bounds that wait.
//
// The graph must be changed only through the Service (Follow, Unfollow,
// Block), which caches follower counts and keeps edge watermarks.
type Service struct {
	graph     Graph
	posts     Posts
	timelines Timelines
	opt       Options
	layout    snowflake.Layout
	tau       float64 // rate time constant, seconds

	users   [stripes]userStripe
	sweepAt atomic.Uint32 // the stripe the next read sweeps
	bufs    sync.Pool     // of *readBufs

	pubMu    sync.Mutex
	inflight []snowflake.ID // IDs issued but not yet readable, ascending
	lastID   snowflake.ID
	// first is the first ID issued, 0 until then: a read that began
	// before it hides the posts from first on (see stable). stored is,
	// until then, the highest ID of a post stored before the Service that
	// a fresh read has shown or that is an author's newest: Publish issues
	// no first ID at or below it (see showFresh and noteStored).
	first  snowflake.ID
	stored snowflake.ID

	// pending holds the posts of pushed authors whose fan-out has not
	// finished, ascending by ID: reads merge them for the author's
	// followers, so a post is visible everywhere once its Publish
	// and every Publish that took a lower ID have returned (see stable).
	pendMu   sync.Mutex
	pending  []Entry
	pendVer  atomic.Uint64 // changes of pending, written under pendMu
	pendSnap atomic.Pointer[pendingSnap]

	authors authorLog // changes of authors' read modes, for read plans
	dense   slotTable // every user's authorSlot, densely

	slots   chan struct{} // one per queued post: backpressure
	jobs    chan job      // posts to fan out; room for every slot
	maint   chan job      // rebuilds and policy passes, dropped when full
	closing atomic.Bool   // set by the first Close or CloseContext
	// closeMu orders Publish calls with Close: a Publish holds it read
	// from its check of closing to its send on jobs, and Close closes
	// jobs under it, after setting closing. So under the read lock,
	// jobs is closed only if closing is set.
	closeMu sync.RWMutex
	stopped chan struct{} // closed once the workers have ended, after closing
	// work is the context of the workers' store calls. CloseContext
	// cancels it, with its own context's cause, if that ends first.
	work     context.Context
	stopWork context.CancelCauseFunc
	wg       sync.WaitGroup
}

type userStripe struct {
	mu sync.Mutex
	m  map[UserID]*userState
	// planned lists the users that may hold a plan, for sweep; next is
	// the sweep's position in it.
	planned []UserID
	next    int
	_       [16]byte
}

// userState is what the Service keeps in memory per user, both as reader
// and as author. It is guarded by its stripe's lock.
type userState struct {
	lastRead   int64 // unix nanoseconds of the last read or follow
	dormant    bool  // not pushed to; the next read reactivates
	rebuilding bool
	rebuildQ   bool         // a rebuild is queued in maint
	replanQ    bool         // a plan rebuild is queued in maint
	floor      snowflake.ID // pushed timeline complete only for IDs >= floor
	readRate   rate
	postRate   rate
	reads      uint64
	lastAdjust int64 // unix nanoseconds of the last policy pass over its edges
	followers  int
	followees  int
	counted    bool // followers/followees loaded from the graph

	authorPush  bool
	authorKnown bool
	authorSince snowflake.ID // author's posts >= authorSince are pushed
	guessedPush bool         // a read plan took the author as pushed before its first post
	// switchGen counts the author's switches from pull to push: only the
	// Publish that made the latest one fixes authorSince (see publish).
	switchGen uint64

	// newest bounds the author's post IDs from above once newestKnown:
	// Publish raises it before the post becomes readable, and the first
	// read that needs it loads it from the Posts store (posts stored before
	// this Service). A pulled author with no post above a read's range
	// costs that read no store descent.
	newest      snowflake.ID
	newestKnown bool
	// slot holds newest and the author's recent posts for reads without
	// the lock, in the Service's dense table (see slotTable).
	slot *authorSlot

	rel map[UserID]uint8 // relations to other users

	// The reader's cached read plan. planVer counts the changes of what a
	// plan depends on besides authors (follows, edge watermarks, mutes,
	// blocks); plan is current when built at planVer and when no author
	// it follows changed mode since planSeq (see authorLog).
	plan      *readPlan
	planVer   uint64
	planBuilt uint64
	planSeq   uint64
	planned   bool // in its stripe's planned list
	// forcePull lists followees whose edge is being switched from push to
	// pull: plans treat them as pulled before any fan-out can skip them.
	forcePull []UserID
	// gone says which entries of the user's pushed timeline may be of
	// authors it no longer follows; unfols counts its unfollows, so that
	// a Follow or a rebuild racing one can tell (see goneSet).
	gone   goneSet
	unfols uint64
	// edgeMu serializes the changes of the watermarks of the user's
	// follow edges (see lockEdges). It is taken without the stripe lock.
	edgeMu sync.Mutex
}

// lockEdges locks reader's edge watermarks against other changes and
// returns the unlock. A switch to push writes an edge twice (Pulling, then
// a watermark chosen in between) and a switch to pull once (0), from
// Follow, Unmute, policy passes and fan-outs on any goroutine: a 0 landing
// between a switch's two writes, or a second switch's, would leave the
// edge pushed from a watermark the fan-outs in between did not honour.
// Callers hold no stripe lock.
func (s *Service) lockEdges(ctx context.Context, reader UserID) (func(), error) {
	var mu *sync.Mutex
	if err := s.user(ctx, reader, func(st *userState) { mu = &st.edgeMu }); err != nil {
		return nil, err
	}
	mu.Lock()
	return mu.Unlock, nil
}

// goneMax is how many unfollowed authors a goneSet lists before a read
// checks every old enough entry's author (a short list of IDs is cheaper
// than the followee lookup it saves, which costs a first page about
// 0.5-1 µs on cold plans).
const goneMax = 8

// A goneSet tells a read which entries of a reader's pushed timeline need
// a followee check. Entries reach a pushed timeline only through the
// fan-out, a follow's backfill and a rebuild, all to followers, so an entry
// can be of an author the reader no longer follows only after an unfollow
// (or when the timeline held entries before this Service knew the reader).
// The set lists those authors (all, past goneMax) and an ID below which
// all their entries lie: every post issued after the unfollow removed the
// edge is fanned out without it, and the posts stored before the Service
// lie below the author's newest. A Follow or a rebuild that read the graph
// before an unfollow it raced may still copy the author's newer posts, so
// it raises the bound when it ends (see Service.settleGone). Without an
// unfollow a read checks no entry, and entries newer than the last one it
// checks none either, so a first page seldom pays for the check.
type goneSet struct {
	ids   []UserID
	all   bool
	below snowflake.ID
}

// add notes that the reader no longer follows a, none of whose entries in
// its timeline has an ID at or above below.
func (g *goneSet) add(a UserID, below snowflake.ID) {
	g.below = max(g.below, below)
	switch {
	case g.all || slices.Contains(g.ids, a):
	case len(g.ids) == goneMax:
		g.ids, g.all = nil, true
	default:
		g.ids = append(g.ids, a)
	}
}

// drop notes that the reader follows a again: its entries are visible,
// whatever their age. It copies the list rather than shifting it in place:
// copies of g (a reader's state hands one to each read) share it, and add
// only appends past their length.
func (g *goneSet) drop(a UserID) {
	if i := slices.Index(g.ids, a); i >= 0 {
		g.ids = slices.Delete(slices.Clone(g.ids), i, i+1)
	}
}

// check reports whether a read must check that e's author is followed.
func (g *goneSet) check(e Entry) bool {
	return e.ID < g.below && (g.all || slices.Contains(g.ids, e.Author))
}

// settleGone ends a Follow or a rebuild of user's timeline that read the
// graph when user had made unfols unfollows: if an unfollow came since, the
// entries it copied may be of an author no longer followed, and issued
// after that unfollow's bound, so the bound rises above them.
func (s *Service) settleGone(ctx context.Context, user UserID, unfols uint64) {
	last := s.lastIssued()
	s.user(ctx, user, func(st *userState) {
		if st.unfols != unfols {
			st.gone.below = max(st.gone.below, last+1)
			st.planVer++
		}
	})
}

const (
	relMuted     uint8 = 1 << iota // this user muted the other
	relBlocked                     // this user blocked the other
	relBlockedBy                   // the other blocked this user
)

type job struct {
	post    Post
	rebuild UserID
	adjust  UserID
	replan  UserID
}

// New returns a Service on the given stores and starts its workers. It
// panics if a store is nil or the ID generator cannot be created.
func New(g Graph, p Posts, t Timelines, opts Options) *Service {
	if g == nil || p == nil || t == nil {
		panic("fanout: nil store")
	}
	opts.defaults()
	if opts.IDs == nil {
		gen, err := snowflake.NewGenerator(0, snowflake.Options{})
		if err != nil {
			panic(err)
		}
		opts.IDs = gen
	}
	s := &Service{
		graph: g, posts: p, timelines: t, opt: opts,
		layout:  opts.IDs.Layout(),
		tau:     opts.RateHalfLife.Seconds() / math.Ln2,
		slots:   make(chan struct{}, opts.Queue),
		jobs:    make(chan job, opts.Queue),
		maint:   make(chan job, maintQueue),
		stopped: make(chan struct{}),
	}
	s.work, s.stopWork = context.WithCancelCause(context.Background())
	for range opts.Workers {
		s.wg.Add(1)
		go s.worker()
	}
	return s
}

// Close is CloseContext with context.Background(): it waits as long as the
// queued fan-outs take, however long a store call hangs. A second Close
// waits as long too, and returns ErrClosed. Like CloseContext, it must not
// be called from Options.OnFanout or Options.OnError.
func (s *Service) Close() error {
	return s.CloseContext(context.Background())
}

// CloseContext stops accepting posts (Publish returns ErrClosed from now
// on), waits for the Publish calls in progress, then for every queued
// fan-out to finish, and stops the workers. It returns nil once they have
// stopped, or ctx's error as soon as ctx is done. It does not close the
// stores, and reads keep working after it.
//
// Only the first call of Close or CloseContext closes the Service. Any
// later one, also while the first is draining, waits until the workers
// have stopped and returns ErrClosed (so ErrClosed from them means that
// the Service is stopped), or ctx's error if ctx is done first. After a
// CloseContext gave up, the workers stop once the store calls they are in
// have returned.
//
// Neither Close nor CloseContext, first or later, may be called from
// Options.OnFanout or Options.OnError: those run on a worker, which they
// wait for, so the call would not return before its ctx is done (Close's
// never). A callback that closes the Service calls go svc.Close().
//
// If ctx ends first, the context of the workers' store calls is cancelled
// (with ctx's cause), and the workers make no new store call: a call in
// progress returns as soon as its store honours the cancellation, and a
// worker stays in the background until it does. The fan-outs not done by
// then are dropped, as when a store fails (see Publish), and no post is lost
// to reads: a follower the fan-out had listed but not delivered to goes
// dormant, so its next read pulls the post; if some followers were not
// listed yet, the author turns to pull for every reader (so its posts
// still queued are pulled, not dropped). Each dropped post, or the part of
// it not done, is reported to Options.OnError once, with an error that
// wraps ctx's cause (context.DeadlineExceeded for a deadline) and the
// error of a store call in progress that failed otherwise than with the
// cancellation, if any; such a call is not retried. Queued rebuilds and
// policy passes are dropped too, as by Close, and every goroutine of the
// Service ends once the store calls in progress (and any Publish still in
// a store call) have returned.
func (s *Service) CloseContext(ctx context.Context) error {
	if !s.closing.CompareAndSwap(false, true) {
		// Closed by another call: wait for its drain.
		if err := s.waitStopped(ctx); err != nil {
			return err
		}
		return ErrClosed
	}
	go func() {
		// The write lock waits for the Publish calls in progress, so that
		// none stores a post it cannot queue.
		s.closeMu.Lock()
		close(s.jobs)
		s.closeMu.Unlock()
		s.wg.Wait()
		close(s.stopped)
	}()
	if err := s.waitStopped(ctx); err != nil {
		s.stopWork(context.Cause(ctx))
		return err
	}
	s.stopWork(ErrClosed)
	return nil
}

// waitStopped waits until the workers have stopped after a Close and
// returns nil, or ctx's error if ctx is done first.
func (s *Service) waitStopped(ctx context.Context) error {
	select {
	case <-s.stopped:
		return nil
	case <-ctx.Done():
		select {
		case <-s.stopped: // stopped just in time
			return nil
		default:
			return ctx.Err()
		}
	}
}

// user runs f on u's state under its stripe lock, loading the follow
// counts from the graph first if they are not cached.
func (s *Service) user(ctx context.Context, u UserID, f func(st *userState)) error {
	return s.state(ctx, u, true, f)
}

// errNothing is what state returns, not creating it, for a user with no
// state who follows no one, has no posts and no stored timeline.
var errNothing = errors.New("fanout: nothing to read")

// state is user, except that unless create it returns errNothing rather
// than make the state of a user with nothing to read (see errNothing):
// reads of user IDs that do not exist leave nothing behind.
func (s *Service) state(ctx context.Context, u UserID, create bool, f func(st *userState)) error {
	us := &s.users[stripeOf(int64(u))]
	us.mu.Lock()
	st := us.m[u]
	if st == nil || !st.counted {
		us.mu.Unlock()
		fr, fe, err := s.graph.Counts(ctx, u)
		if err != nil {
			return err
		}
		var gone goneSet
		nothing := false
		if st == nil {
			// A timeline held before this Service (a store that
			// outlives it) may hold authors unfollowed since: up to
			// its newest entry, check them all.
			var buf [1]Entry
			held, _, err := s.timelines.Range(ctx, u, Pulling, 1, buf[:0])
			if err != nil {
				return err
			}
			if len(held) > 0 {
				gone = goneSet{all: true, below: held[0].ID + 1}
			}
			if !create && fe == 0 && len(held) == 0 {
				var ids [1]snowflake.ID
				posts, err := s.posts.Recent(ctx, u, Pulling, 1, ids[:0])
				if err != nil {
					return err
				}
				nothing = len(posts) == 0
			}
		}
		us.mu.Lock()
		st = us.m[u]
		if st == nil && nothing {
			us.mu.Unlock()
			return errNothing
		}
		if st == nil {
			st = &userState{dormant: true, slot: s.dense.take(), gone: gone}
			setIn(&us.m, u, st)
		}
		if !st.counted {
			st.followers, st.followees, st.counted = fr, fe, true
		}
	}
	f(st)
	us.mu.Unlock()
	return nil
}

func (s *Service) now() int64 { return s.opt.Now().UnixNano() }

// stable returns the highest ID below which every issued post is readable:
// a read shows no higher one, so that a Publish still running, or one
// that has not taken its ID yet, cannot add a post below a page already
// served. IDs are issued in increasing order under pubMu, so every ID
// issued after this call is above it.
//
// Before the Service has issued any ID, fresh is set and the ID returned
// is Pulling-1. Every post the stores hold then is from before the
// Service (a restart), complete, and below every ID the generator will
// issue (see Options.IDs), though the Service cannot tell that mark (the
// generator does not say, and Next may fail with ErrClockBehind for a
// while after a restart): returning 0 showed readers nothing until the
// first ID. A fresh read leaves out the posts from the first ID issued on
// (s.first) wherever it meets them, so it shows only posts from before
// the Service, below every post issued. And Publish issues no first ID at
// or below a post a fresh read has shown (see showFresh): a page's cursor
// or a Refresh's since at such a post would lie above the last ID issued,
// which bounds every later read, and the posts between them would be
// skipped. Nor at or below an author's newest post the Service has
// learnt of (see noteStored), which reads would hide, until the IDs
// issued pass it, where they show it now.
func (s *Service) stable() (id snowflake.ID, fresh bool) {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	if len(s.inflight) > 0 {
		return s.inflight[0] - 1, false
	}
	if s.lastID == 0 {
		return Pulling - 1, true
	}
	return s.lastID, false
}

// showFresh reports whether a fresh read (see stable) may show the post
// id, and if so notes it as shown: it is not if the Service has issued an
// ID at or below id since the read began (a post from before the Service
// may lie above the first ID issued, if the generator is behind it; see
// Options.IDs), and once noted, Publish issues no first ID at or below it.
// A read calls it only for a post above the highest one noted for it
// (once, mostly: it shows its posts newest first): the first ID, issued
// before that note or after, is above the noted post, so the read's posts
// below it need no check.
func (s *Service) showFresh(id snowflake.ID) bool {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	if s.lastID != 0 && id >= s.first {
		return false
	}
	s.stored = max(s.stored, id)
	return true
}

// noteStored notes id, an author's newest post loaded from the store, as
// stored before the Service if the Service has issued no ID yet: the first
// ID must be above it (see stable).
func (s *Service) noteStored(id snowflake.ID) {
	s.pubMu.Lock()
	if s.lastID == 0 {
		s.stored = max(s.stored, id)
	}
	s.pubMu.Unlock()
}

// lastIssued returns the highest ID issued so far.
func (s *Service) lastIssued() snowflake.ID {
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	return s.lastID
}

func (s *Service) authorStats(u UserID, st *userState, now int64) AuthorStats {
	return AuthorStats{Author: u, Followers: st.followers, PostRate: st.postRate.at0(now, s.tau), Pushed: st.authorPush}
}

// Publish stores a post by author and queues its fan-out, blocking while
// the queue is full (until ctx is done). Posts become readable in ID
// order: while a Publish that took a lower ID is still running on another
// goroutine, reads stop below that ID, so that a page never passes a post
// that appears later beneath it. So the post is in the author's own
// timeline, and in every follower's, once Publish has returned and so has
// every Publish that took a lower ID (at once if none is running): until
// the fan-out reaches a follower, reads merge it from the queue.
//
// The fan-out runs on a worker and reports no error: if the store fails
// to write a follower's timeline (twice), the follower is marked for a
// rebuild, as after inactivity, and its next read pulls the post; if it
// fails to list the author's followers, the author turns to pull (the
// policy may push it again from its next post). No post is lost either
// way, nor when CloseContext gives up on the fan-out, which it drops in
// the same way.
//
// If the post cannot be stored (or the ID generator fails), Publish
// returns the error and nothing is published; a change of the author
// between push and pull that the call made (the policy decides it from the
// author's followers and post rate before the post is stored) stands, as
// complete as after a post. So does Publish, with an error wrapping
// snowflake.ErrClockBehind, when the generator's ID is not above the
// posts stored before the Service that it must follow (see Options.IDs).
func (s *Service) Publish(ctx context.Context, author UserID, text string) (Post, error) {
	return s.publish(ctx, Post{Author: author, Text: text})
}

// Repost publishes a repost of the post original by user. A repost of a
// repost reposts the original. Undo it with Delete of the returned post,
// which never touches the original. It returns ErrNotFound if the post
// reposted (for a repost, its original) does not exist.
//
// It returns ErrBlocked if user and the original's author have blocked
// each other (either one the other): a block keeps each one's posts from
// the other's followers through reposts, too. A repost made before such a
// block is hidden from every reader while the block lasts (see Timeline).
func (s *Service) Repost(ctx context.Context, user UserID, original snowflake.ID) (Post, error) {
	if user <= 0 {
		return Post{}, ErrInvalidUser
	}
	ps, err := s.posts.GetMany(ctx, []snowflake.ID{original}, nil)
	if err != nil {
		return Post{}, err
	}
	if len(ps) == 0 {
		return Post{}, ErrNotFound
	}
	root := ps[0]
	if root.RepostOf != 0 {
		if ps, err = s.posts.GetMany(ctx, []snowflake.ID{root.RepostOf}, ps[:0]); err != nil {
			return Post{}, err
		}
		if len(ps) == 0 {
			return Post{}, ErrNotFound // the original is deleted
		}
		root = ps[0]
	}
	if s.hasRel(user, root.Author, relBlocked|relBlockedBy) {
		return Post{}, ErrBlocked
	}
	return s.publish(ctx, Post{Author: user, RepostOf: root.ID})
}

func (s *Service) publish(ctx context.Context, p Post) (Post, error) {
	if p.Author <= 0 {
		return Post{}, ErrInvalidUser
	}
	if s.closing.Load() {
		return Post{}, ErrClosed // without waiting behind Close's lock
	}
	// Holding the read lock for the whole call makes Close wait for
	// Publish calls in progress, so that none stores a post it cannot fan
	// out.
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closing.Load() {
		return Post{}, ErrClosed // Close may have closed jobs
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return Post{}, ctx.Err()
	}
	release := true
	defer func() {
		if release {
			<-s.slots
		}
	}()
	now := s.now()
	// The author's mode as reads see it depends on whether it has posts
	// stored before this Service, so learn its newest post first.
	newest, err := s.newestOf(ctx, p.Author)
	if err != nil {
		return Post{}, err
	}
	var switching bool
	var gen uint64 // the switch to push this call made, if switching
	if err := s.user(ctx, p.Author, func(st *userState) {
		was := st.watermark()
		st.postRate.event(now, s.tau)
		want := s.opt.Policy.PushAuthor(s.authorStats(p.Author, st, now))
		switch {
		case !st.authorKnown:
			st.authorKnown = true
			st.authorPush = want
			// Posts stored before this Service were never pushed: they
			// are pulled from below the first post it pushes.
			st.authorSince = 0
			if st.newest > 0 {
				st.authorSince = st.newest + 1
			}
			// Plans took the author as pulled, or as pushed from 0 if
			// guessedPush (see planWatermark).
			if (st.watermark() != Pulling) != st.guessedPush || st.authorSince != 0 {
				s.authors.note(p.Author)
			}
			return
		case want && !st.authorPush:
			// Pull to push: push from now on, pull until a watermark is
			// fixed below.
			st.authorPush, st.authorSince, switching = true, Pulling, true
			st.switchGen++
			gen = st.switchGen
		case !want && st.authorPush:
			st.authorPush = false
		}
		if st.watermark() != was {
			s.authors.note(p.Author)
		}
	}); err != nil {
		return Post{}, err
	}

	s.pubMu.Lock()
	id, err := s.opt.IDs.Next()
	if err == nil {
		err = s.checkID(id, newest)
	}
	if err != nil {
		since := s.lastID + 1
		s.pubMu.Unlock()
		if switching {
			// Complete the switch all the same (see below), above every
			// ID issued so far.
			s.user(ctx, p.Author, func(st *userState) { s.fixSwitch(p.Author, st, gen, since) })
		}
		return Post{}, err
	}
	s.inflight = append(s.inflight, id)
	if s.lastID == 0 {
		s.first = id
	}
	s.lastID = id
	s.pubMu.Unlock()

	p.ID = id
	err = s.posts.Put(ctx, p)
	var pushed bool
	s.user(ctx, p.Author, func(st *userState) {
		if switching {
			// Also if Put failed: every ID from id on was issued after
			// the switch, stored or not. Left at Pulling, the author
			// would be pushed and pulled at once until its next switch
			// to push, which no Publish makes of a pushed author.
			s.fixSwitch(p.Author, st, gen, id)
		}
		if err != nil {
			return
		}
		st.slot.recent.Store(st.slot.recent.Load().with(id, st.newest))
		st.newest = max(st.newest, id)
		if st.newestKnown {
			st.slot.seen.Store(int64(st.newest) + 1)
		}
		pushed = st.authorPush
	})
	if pushed {
		s.addPending(Entry{ID: id, Author: p.Author})
	}
	s.pubMu.Lock()
	if i, ok := slices.BinarySearch(s.inflight, id); ok {
		s.inflight = slices.Delete(s.inflight, i, i+1)
	}
	s.pubMu.Unlock()
	if err != nil {
		return Post{}, err
	}

	// Never blocks: only posts go to jobs, each holding one of its
	// Queue slots.
	s.jobs <- job{post: p}
	release = false
	return p, nil
}

// checkID returns an error wrapping snowflake.ErrClockBehind if the
// generator's ID id is not above the posts stored before the Service that
// it must follow, under pubMu: the first ID must be above s.stored (every
// post a fresh read has shown and every author's newest post learnt, see
// stable), and every ID above its author's newest post (newest), so that
// the author's posts stay in the order of their IDs. Such an ID is not
// issued: the generator (with no After mark, or one below the stored
// posts) is behind them, and reads stay as they are until it passes them.
func (s *Service) checkID(id, newest snowflake.ID) error {
	if s.lastID == 0 && id <= s.stored {
		return fmt.Errorf("%w: ID %d is not above post %d, stored before the Service (see fanout.Options.IDs)",
			snowflake.ErrClockBehind, id, s.stored)
	}
	if id <= newest {
		return fmt.Errorf("%w: ID %d is not above the author's post %d (see fanout.Options.IDs)",
			snowflake.ErrClockBehind, id, newest)
	}
	return nil
}

// fixSwitch ends author's switch from pull to push number gen (see
// userState.switchGen) at the watermark since, above every ID issued
// before the switch, under the lock of author's state st. Only the latest
// switch is fixed: if the author went back to pull and to push again
// meanwhile, a post published while pulled may lie between this switch's
// since and the latest one's, never pushed, and a watermark below it would
// hide it from reads. The Publish that made the latest switch fixes the
// watermark (until then the author is at Pulling, and reads pull it). It
// notes the change for read plans.
//
// The watermark is also above the author's newest post (Publish learned
// it before the switch): since is only above the IDs this Service issued,
// and a Service restarted over its stores may fail to issue its first ID
// (ErrClockBehind while its clock is behind the generator's After), which
// left the watermark at 1 and every post stored before it counted as
// pushed, in no timeline and never pulled. A higher watermark costs reads
// only pulls of posts also pushed, which the merge drops as duplicates.
func (s *Service) fixSwitch(author UserID, st *userState, gen uint64, since snowflake.ID) {
	if st.switchGen != gen {
		return
	}
	was := st.watermark()
	st.authorSince = max(since, st.newest+1)
	if st.watermark() != was {
		s.authors.note(author)
	}
}

func (s *Service) worker() {
	defer s.wg.Done()
	ctx := s.work
	var fb fanoutBufs
	for {
		var j job
		select {
		case m := <-s.maint:
			if ctx.Err() != nil {
				continue // CloseContext gave up: drop it, as Close does
			}
			switch {
			case m.rebuild != 0:
				s.rebuild(ctx, m.rebuild)
			case m.replan != 0:
				s.replan(ctx, m.replan)
			default:
				s.adjustEdges(ctx, m.adjust)
			}
			continue
		case p, ok := <-s.jobs:
			if !ok {
				return
			}
			j = p
		}
		start := time.Now()
		n := s.fanout(ctx, j.post, &fb)
		<-s.slots
		if s.opt.OnFanout != nil {
			s.opt.OnFanout(j.post.ID, n, time.Since(start))
		}
	}
}

// fanout pushes p to every follower whose edge is pushed, who is active and
// who has not blocked or muted the author, BatchSize followers at a time. It
// returns the number of timeline writes.
func (s *Service) fanout(ctx context.Context, p Post, b *fanoutBufs) int {
	var push bool
	var as AuthorStats
	var ast *userState
	now := s.now()
	s.user(ctx, p.Author, func(st *userState) {
		push = st.authorPush
		as = s.authorStats(p.Author, st, now)
		ast = st
	})
	writes := 0
	var cut cutShort // what CloseContext's give-up left undone, reported once
	if push {
		e := Entry{ID: p.ID, Author: p.Author}
		edges, to, flips := b.edges[:0], b.to[:0], b.flips[:0]
		defer func() { b.edges, b.to, b.flips = edges[:0], to[:0], flips[:0] }()
		var after UserID
		for {
			var err error
			edges, err = s.followers(ctx, p.Author, after, edges[:0])
			if err != nil {
				// The followers not reached yet are unknown: see
				// pullAuthor.
				s.pullAuthor(ctx, p.Author)
				if cut.gaveUp(ctx, err) {
					cut.unlisted, cut.after = true, after
				} else {
					s.storeError(fmt.Errorf("fanout: followers of author %d after %d, for post %d: %w", p.Author, after, p.ID, err))
				}
				break
			}
			if len(edges) == 0 {
				break
			}
			to, flips = to[:0], flips[:0]
			for _, ed := range edges {
				if ed.Since == 0 {
					continue
				}
				switch v, st := s.receives(ed.Follower, as, ast, ed.Since != Pulling, now); v {
				case deliver:
					to = append(to, ed.Follower)
				case toPull:
					flips = append(flips, flip{ed.Follower, st})
				}
			}
			// Deliver in chunks, yielding after each: a read that waited
			// on one of Deliver's locks is woken onto the worker's core
			// and runs only when the worker yields (or at the runtime's
			// 10 ms preemption), so a read's wait behind a fan-out is
			// bounded by a chunk's inserts (about 30 µs) rather than a
			// batch's.
			for rest := to; len(rest) > 0; {
				n := min(len(rest), deliverChunk)
				if s.deliver(ctx, e, rest[:n], &cut) {
					writes += n
				}
				rest = rest[n:]
				runtime.Gosched()
			}
			if len(to) == 0 {
				runtime.Gosched()
			}
			// receives marked the flips' edges pulled in their readers'
			// plans; until the graph says so too, reads find p in the
			// pending list.
			for _, f := range flips {
				s.pulledEdge(ctx, f.reader, f.st, p.Author, &cut)
			}
			after = edges[len(edges)-1].Follower
			if len(edges) < s.opt.BatchSize || after == math.MaxInt64 {
				// At MaxInt64 no follower is left, and a store that
				// computes after+1 would wrap to the first one.
				break
			}
		}
	}
	s.removePending(p.ID)
	s.reportCut(ctx, p, &cut)
	return writes
}

// The fan-out's store calls go through followers, deliver and writePulled
// (from pulledEdge), which make none once ctx is done (CloseContext gave
// up), and then fail with ctx's cause: the fan-out drops what is left of
// the post as after any failure, and the failures count in its cutShort
// rather than reach Options.OnError one by one.

// followers lists the next BatchSize followers of author after after
// into dst, and once more if that fails.
func (s *Service) followers(ctx context.Context, author, after UserID, dst []Edge) ([]Edge, error) {
	var err error
	for range 2 {
		if ctx.Err() != nil {
			return dst[:0], cmp.Or(err, context.Cause(ctx))
		}
		var edges []Edge
		if edges, err = s.graph.Followers(ctx, author, after, s.opt.BatchSize, dst[:0]); err == nil {
			return edges, nil
		}
	}
	return dst[:0], err
}

// deliver adds e to the timelines of users, and once more if that fails
// (Deliver is idempotent). If it fails again, the users go dormant, as
// after inactivity (see lost). It reports whether e was delivered.
//
// A fan-out that cannot write a post's entry where reads expect it (here,
// in pulledEdge and in pullAuthor) makes the reads pull the post instead,
// before the post leaves the pending list, from which reads merge it
// meanwhile (see Service.read): no post is lost, and the merge removes
// the duplicate if a failed call wrote the entry after all.
func (s *Service) deliver(ctx context.Context, e Entry, users []UserID, cut *cutShort) bool {
	var err error
	for range 2 {
		if ctx.Err() != nil {
			err = cmp.Or(err, context.Cause(ctx))
			break
		}
		if err = s.timelines.Deliver(ctx, e, users); err == nil {
			return true
		}
	}
	for _, u := range users {
		s.lost(u)
	}
	if cut.gaveUp(ctx, err) {
		cut.lost += len(users)
	} else {
		s.storeError(fmt.Errorf("fanout: deliver post %d to %d timelines: %w", e.ID, len(users), err))
	}
	return false
}

// cutShort is what CloseContext's give-up left undone of one post's
// fan-out, for one report to Options.OnError.
type cutShort struct {
	lost     int    // followers listed and not reached: dormant, they pull the post
	unlisted bool   // the followers after after were not listed: the author is pulled
	after    UserID // the last follower listed, or 0
	err      error  // a store call's own failure meanwhile, if any
}

// gaveUp reports whether the failure err of a fan-out's store call (or
// ctx's cause, if it made none) is CloseContext's give-up: then c
// reports it, and the caller counts what was not done in c.
func (c *cutShort) gaveUp(ctx context.Context, err error) bool {
	if ctx.Err() == nil {
		return false
	}
	if c.err == nil && err != nil && !errors.Is(err, ctx.Err()) && !errors.Is(err, context.Cause(ctx)) {
		c.err = err // not the cancellation itself
	}
	return true
}

// reportCut tells Options.OnError, once, what CloseContext's give-up left
// undone of post p (c), if anything.
func (s *Service) reportCut(ctx context.Context, p Post, c *cutShort) {
	if c.lost == 0 && !c.unlisted {
		return
	}
	what := fmt.Sprintf("not delivered to %d followers", c.lost)
	switch {
	case c.unlisted && c.after == 0:
		what = "not fanned out"
	case c.unlisted && c.lost == 0:
		what = fmt.Sprintf("not fanned out to its followers after %d", c.after)
	case c.unlisted:
		what += fmt.Sprintf(" nor to those after %d", c.after)
	}
	err := fmt.Errorf("fanout: close gave up: post %d by author %d %s: %w", p.ID, p.Author, what, context.Cause(ctx))
	if c.err != nil {
		err = fmt.Errorf("%w (store: %w)", err, c.err)
	}
	s.storeError(err)
}

// storeError passes err, a store failure a fan-out recovered from, to
// Options.OnError.
func (s *Service) storeError(err error) {
	if s.opt.OnError != nil {
		s.opt.OnError(err)
	}
}

// lost marks reader dormant, whose timeline may lack an entry the
// fan-out owed it: its next read raises its floor above every ID issued
// so far, pulls below it and has a worker rebuild the timeline, as for a
// reader back from inactivity.
func (s *Service) lost(reader UserID) {
	s.peek(reader, func(st *userState) {
		st.dormant = true
		st.plan = nil // as in receives
	})
}

// pullAuthor turns author to pull after a fan-out could not list all of
// its followers: the ones it did not reach are not known, so reads pull
// the author from every reader until a Publish switches it back to push
// (if the policy says so), with a watermark above every ID issued so far.
// Noting the change makes every plan that has the author pushed stale.
func (s *Service) pullAuthor(ctx context.Context, author UserID) {
	s.user(ctx, author, func(st *userState) {
		if st.authorPush {
			st.authorPush = false
			s.authors.note(author)
		}
	})
}

// fanoutBufs are a worker's buffers, recycled from post to post: a batch's
// edges and recipients are 32 KB at the default BatchSize.
type fanoutBufs struct {
	edges []Edge
	to    []UserID
	flips []flip
}

// A flip is an edge into a reader that a fan-out switches to pull.
type flip struct {
	reader UserID
	st     *userState
}

// deliverChunk is how many timelines one Deliver call writes at most.
const deliverChunk = 128

type verdict uint8

const (
	skip    verdict = iota // not now: dormant, muted or blocked
	deliver                // push the post
	toPull                 // the policy moved this edge to pull
)

// receives decides whether a pushed edge from author a to reader gets the
// post now, marking the reader dormant if it has not read for
// InactiveAfter. If mayFlip, it asks the policy whether the edge should
// now be pulled (Feeding Frenzy decides at post time as well as at read
// time); if so, it marks the edge pulled in the reader's plans under the
// lock it holds anyway, and the caller must finish the switch with
// pulledEdge, to which it returns the reader's state. ast is the author's
// state.
func (s *Service) receives(reader UserID, a AuthorStats, ast *userState, mayFlip bool, now int64) (verdict, *userState) {
	us := &s.users[stripeOf(int64(reader))]
	us.mu.Lock()
	defer us.mu.Unlock()
	st := us.m[reader]
	if st == nil || st.dormant {
		return skip, nil
	}
	if s.opt.InactiveAfter > 0 && now-st.lastRead > int64(s.opt.InactiveAfter) {
		st.dormant = true
		st.plan = nil // its memory is better spent on active readers
		return skip, nil
	}
	if st.rel[a.Author] != 0 {
		return skip, nil
	}
	if mayFlip && !s.opt.Policy.PushEdge(a, ReaderStats{Reader: reader, Followees: st.followees, ReadRate: st.readRate.at0(now, s.tau), Pushed: true}) {
		markPull(st, a.Author, ast)
		return toPull, st
	}
	return deliver, nil
}

// adjustEvery and adjustGap bound how often the policy is asked about each
// edge of a reader: every adjustEvery reads, and at most once per adjustGap
// of RateHalfLife (about a minute at the default hour), starting that long
// after its first read. The rate estimates
// move by at most a few percent in that time, well inside the hysteresis
// that keeps an edge from flipping, so asking more often would change
// nothing. The pass costs O(followees) and runs on a worker, never on the
// read that asks for it.
const (
	adjustEvery = 8
	adjustGap   = 64 // adjustment interval is RateHalfLife / adjustGap
)

// readerState is what one read or follow needs of the reader's state.
type readerState struct {
	floor      snowflake.ID
	rebuilding bool
	followees  int
	readRate   float64
	newest     snowflake.ID // bound on the reader's own post IDs; Pulling-1 if unknown
	self       *userState

	// plan is the reader's current read plan, or nil if one must be
	// built at planVer and planSeq from rel and forcePull (copies).
	// planVer is the version a current plan was built at, too.
	plan      *readPlan
	planVer   uint64
	planSeq   uint64
	rel       map[UserID]uint8
	forcePull []UserID
	gone      goneSet
}

// touch records activity by reader. A dormant reader becomes active with a
// floor above every post issued so far (older posts are pulled), and a
// rebuild of its timeline is queued. A read also gets the reader's plan if
// it is still current, and may queue a policy pass over its edges.
func (s *Service) touch(ctx context.Context, reader UserID, read bool) (rs readerState, err error) {
	now := s.now()
	var adjust, rebuild bool
	if read {
		// One step of the sweep, in the next stripe in turn.
		us := &s.users[s.sweepAt.Add(1)%stripes]
		us.mu.Lock()
		s.sweep(us, reader, now)
		us.mu.Unlock()
	}
	// A read of a user with nothing to read leaves no state (see state).
	err = s.state(ctx, reader, !read, func(st *userState) {
		if st.dormant {
			st.dormant = false
			// Above every ID issued so far, not just the readable ones:
			// a post issued before this point may have skipped the
			// dormant reader already.
			st.floor = s.lastIssued() + 1
			st.rebuilding = true
		}
		st.lastRead = now
		if read {
			st.readRate.event(now, s.tau)
			switch {
			case st.lastAdjust == 0:
				// The first pass comes adjustGap after the first read:
				// the edges' modes were just chosen when they were
				// followed, from the same estimates.
				st.lastAdjust = now
			case st.reads%adjustEvery == 0 && now-st.lastAdjust >= int64(s.opt.RateHalfLife)/adjustGap:
				adjust = true
				st.lastAdjust = now
			}
			st.reads++
		}
		if st.rebuilding && !st.rebuildQ {
			st.rebuildQ, rebuild = true, true
		}
		rs.floor, rs.rebuilding, rs.followees = st.floor, st.rebuilding, st.followees
		rs.readRate = st.readRate.at0(now, s.tau)
		if !read {
			return
		}
		rs.newest, rs.self = st.newest, st
		if !st.newestKnown {
			rs.newest = Pulling - 1
		}
		if st.plan != nil && st.planBuilt == st.planVer {
			if seq, ok := s.authors.unchanged(st.planSeq, st.plan.ids); ok {
				st.planSeq = seq
				rs.plan, rs.planVer = st.plan, st.planVer
				return
			}
		}
		st.planInputs(&rs, s.authors.seq.Load())
	})
	if err == nil && rebuild && !s.queueJob(job{rebuild: reader}) {
		s.user(ctx, reader, func(st *userState) { st.rebuildQ = false })
	}
	if err == nil && adjust {
		s.queueJob(job{adjust: reader})
	}
	return
}

// planIdle is how long after its last read or follow a reader's plan is
// freed when Options.InactiveAfter is negative (readers never go dormant).
const planIdle = 14 * 24 * time.Hour

// sweep looks at the next user of stripe us (whose lock the caller holds)
// that holds a plan, round robin: if it has not read for InactiveAfter
// (planIdle if that is negative), its plan is freed and it goes dormant, as
// when a fan-out finds it inactive. Fan-outs only find readers with a
// pushed followee who posts; the sweep finds the others, at O(1) per read
// and without a goroutine: each read sweeps the next stripe in turn, so a
// stripe's P plans are all looked at within P rounds of the stripes, and
// the Service's plans, spread evenly, within about as many reads.
func (s *Service) sweep(us *userStripe, self UserID, now int64) {
	if len(us.planned) == 0 {
		return
	}
	idle := s.opt.InactiveAfter
	if idle < 0 {
		idle = planIdle
	}
	i := us.next % len(us.planned)
	u := us.planned[i]
	st := us.m[u]
	if st.plan != nil {
		if u == self || now-st.lastRead <= int64(idle) {
			us.next = i + 1
			return
		}
		st.plan = nil
		if s.opt.InactiveAfter > 0 {
			st.dormant = true
		}
	}
	st.planned = false
	last := len(us.planned) - 1
	us.planned[i] = us.planned[last]
	us.planned = us.planned[:last]
	us.next = i
}

// storePlan caches p as reader's plan if nothing it depends on changed
// since rs was taken and the reader did not go dormant meanwhile (a
// dormant reader's plan would never be freed).
func (s *Service) storePlan(ctx context.Context, reader UserID, rs *readerState, p *readPlan) {
	s.user(ctx, reader, func(st *userState) {
		if st.planVer == rs.planVer && !st.dormant {
			st.plan, st.planBuilt, st.planSeq = p, rs.planVer, rs.planSeq
			if !st.planned {
				us := &s.users[stripeOf(int64(reader))]
				us.planned = append(us.planned, reader)
				st.planned = true
			}
		}
	})
}

// changed invalidates u's read plan.
func (s *Service) changed(ctx context.Context, u UserID) {
	s.user(ctx, u, func(st *userState) { st.planVer++ })
}

// queueReplan asks a worker to rebuild u's read plan after a change of
// its own follows, mutes or blocks, if u is active and held one: the O(F)
// rebuild is then paid by a worker rather than by u's next read (or by
// the change, which would make a burst of n follows cost O(n·F)). At most
// one is queued per reader; if the queue is full, the next read builds
// the plan.
func (s *Service) queueReplan(ctx context.Context, u UserID) {
	var q bool
	s.user(ctx, u, func(st *userState) {
		if !st.replanQ && !st.dormant && st.plan != nil {
			st.replanQ, q = true, true
		}
	})
	if q && !s.queueJob(job{replan: u}) {
		s.user(ctx, u, func(st *userState) { st.replanQ = false })
	}
}

// replan rebuilds u's read plan if u is active and holds a stale one. A
// plan a change raced is simply not stored (see storePlan): the next read
// builds it.
func (s *Service) replan(ctx context.Context, u UserID) {
	var rs readerState
	var stale bool
	if s.user(ctx, u, func(st *userState) {
		st.replanQ = false // a change from now on may queue another
		if stale = !st.dormant && st.plan != nil && st.planBuilt != st.planVer; stale {
			st.planInputs(&rs, s.authors.seq.Load())
		}
	}) != nil || !stale {
		return
	}
	bufs := s.getBufs()
	s.buildPlan(ctx, u, &rs, bufs)
	s.bufs.Put(bufs)
}

// planInputs sets in rs what buildPlan needs of st, under st's lock: the
// plan version, the author log position seq, and copies of what a plan
// keeps.
func (st *userState) planInputs(rs *readerState, seq uint64) {
	rs.planVer, rs.planSeq = st.planVer, seq
	rs.rel = nil
	if len(st.rel) > 0 {
		rs.rel = maps.Clone(st.rel)
	}
	rs.forcePull = slices.Clone(st.forcePull)
	rs.gone = st.gone // later changes do not touch its part (see drop)
}

// pullEdge switches reader's edge from author to pull. Reader's plans treat
// the edge as pulled before the graph says so: from then on a fan-out may
// skip reader, and no read may expect the post in its timeline. A current
// plan is patched rather than rebuilt, in O(marked + F/64): under
// the per-pair policy edges flip often. The caller holds reader's
// lockEdges.
func (s *Service) pullEdge(ctx context.Context, reader, author UserID) {
	var ast *userState
	s.user(ctx, author, func(st *userState) { ast = st })
	s.user(ctx, reader, func(st *userState) { markPull(st, author, ast) })
	// No fan-out skipped reader for the mark: if the write fails, the
	// edge stays pushed, and the fan-outs deliver.
	_ = s.writePulled(ctx, reader, author, false)
}

// markPull is pullEdge's first step, under the reader's lock: plans treat
// the edge from author (whose state is ast) as pulled from now on.
func markPull(st *userState, author UserID, ast *userState) {
	st.forcePull = append(st.forcePull, author)
	current := st.plan != nil && st.planBuilt == st.planVer
	st.planVer++
	if current && ast != nil {
		if p := st.plan.pulling(author, ast); p != nil {
			st.plan, st.planBuilt = p, st.planVer
		}
	}
}

// pulledEdge finishes a fan-out's switch to pull after markPull, under
// the edge lock of reader, whose state is st (see lockEdges).
//
// The fan-out skipped reader: if the graph write fails, the edge stays
// pushed, and reader goes dormant (see lost) before the mark is dropped.
func (s *Service) pulledEdge(ctx context.Context, reader UserID, st *userState, author UserID, cut *cutShort) {
	st.edgeMu.Lock()
	err := s.writePulled(ctx, reader, author, true)
	st.edgeMu.Unlock()
	switch {
	case err == nil:
	case cut.gaveUp(ctx, err):
		cut.lost++
	default:
		s.storeError(fmt.Errorf("fanout: switch the edge from %d to %d to pull: %w", author, reader, err))
	}
}

// writePulled writes reader's edge from author to the graph as pulled and
// then drops the mark markPull set, marking reader dormant first if
// lostOnError and the write failed. It returns the write's error (none if
// reader no longer follows author). The caller holds reader's lockEdges.
func (s *Service) writePulled(ctx context.Context, reader, author UserID, lostOnError bool) error {
	err := context.Cause(ctx) // no store call once ctx is done
	if err == nil {
		err = s.graph.SetSince(ctx, reader, author, 0)
	}
	if errors.Is(err, ErrNotFollowing) {
		err = nil // unfollowed meanwhile: nothing to switch
	}
	if lostOnError && err != nil {
		s.lost(reader)
	}
	// Plans built from now on read the edge as pulled from the graph.
	s.user(ctx, reader, func(st *userState) {
		if i := slices.Index(st.forcePull, author); i >= 0 {
			st.forcePull = slices.Delete(st.forcePull, i, i+1)
		}
	})
	return err
}

// maintQueue bounds the queued rebuilds and policy passes. Each reader has
// at most one rebuild queued, and a policy pass at most every 8 reads.
const maintQueue = 1024

// queueJob queues a rebuild or an adjustment for the workers and reports
// whether it did: not if the queue is full (the next read asks again) or
// the Service is closed. It never blocks, and never takes the room of a
// post: those have a queue of their own.
func (s *Service) queueJob(j job) bool {
	// maint is never closed: a job that gets past this check while Close
	// stops the workers stays in it, undone, as a queued one would.
	if s.closing.Load() {
		return false
	}
	select {
	case s.maint <- j:
		return true
	default:
		return false
	}
}

// rebuild copies the recent posts of u's pushed followees below its floor
// into its timeline, then lowers the floor to where the copy is complete.
func (s *Service) rebuild(ctx context.Context, u UserID) {
	var floor snowflake.ID
	var todo bool
	var unfols uint64
	s.user(ctx, u, func(st *userState) {
		floor, todo = st.floor, st.rebuilding && !st.dormant
		st.rebuildQ = false // a read from now on may queue another
		unfols = st.unfols
	})
	if !todo {
		return
	}
	defer s.settleGone(ctx, u, unfols)
	edges, err := s.graph.Followees(ctx, u, nil)
	if err != nil {
		return
	}
	var newFloor snowflake.ID
	var ids []snowflake.ID
	var entries []Entry
	for i, e := range edges {
		if i%64 == 63 {
			runtime.Gosched() // see fanout
		}
		// A pulled edge or author is pulled anyway. An edge or author
		// being switched to push is copied: the switch may fix its
		// watermark below the floor (a policy pass chooses it before the
		// edge goes to the graph, and the reader may have been dormant
		// meanwhile), and the fan-outs skipped the dormant reader.
		if e.Since == 0 || !s.authorPushed(ctx, e.Followee) {
			continue
		}
		ids, err = s.posts.Recent(ctx, e.Followee, floor, s.opt.Backfill, ids[:0])
		if err != nil {
			return
		}
		entries = entries[:0]
		for _, id := range ids {
			entries = append(entries, Entry{ID: id, Author: e.Followee})
		}
		if len(entries) > 0 && s.timelines.Add(ctx, u, entries...) != nil {
			return
		}
		if len(ids) == s.opt.Backfill {
			newFloor = max(newFloor, ids[len(ids)-1])
		}
	}
	s.user(ctx, u, func(st *userState) {
		if st.floor == floor && st.rebuilding {
			st.floor = newFloor
			st.rebuilding = false
		}
	})
}

// authorPushed reports whether author's posts are pushed (or being
// switched to push).
func (s *Service) authorPushed(ctx context.Context, author UserID) bool {
	var push bool
	s.user(ctx, author, func(st *userState) { push = st.authorPush })
	return push
}

// Follow makes follower follow followee. If followee is pushed (by the
// policy's PushAuthor, and PushEdge for this pair), its recent posts (up to
// Options.Backfill, only newer than the oldest entry held) are copied into
// follower's timeline; older ones are pulled on read. A pulled followee's
// posts are all pulled on read, and nothing is copied. If follower holds a
// read plan (it read lately), a worker rebuilds it, in O(its followees);
// so do Unfollow, Mute, Unmute, Block and Unblock.
func (s *Service) Follow(ctx context.Context, follower, followee UserID) error {
	if err := validEdge(follower, followee); err != nil {
		return err
	}
	defer s.queueReplan(ctx, follower)
	var blocked bool
	if err := s.user(ctx, follower, func(st *userState) { blocked = st.rel[followee]&(relBlocked|relBlockedBy) != 0 }); err != nil {
		return err
	}
	if blocked {
		return ErrBlocked
	}
	rs, err := s.touch(ctx, follower, false)
	if err != nil {
		return err
	}
	now := s.now()
	var as AuthorStats
	if err := s.user(ctx, followee, func(st *userState) { as = s.authorStats(followee, st, now) }); err != nil {
		return err
	}
	push := s.opt.Policy.PushEdge(as, ReaderStats{Reader: follower, Followees: rs.followees + 1, ReadRate: rs.readRate, Pushed: true})
	since := snowflake.ID(0)
	if push {
		since = Pulling
	}
	unlock, err := s.lockEdges(ctx, follower)
	if err != nil {
		return err
	}
	defer unlock()
	// A follow again may turn a pushed edge to pull: reader's plans treat
	// it as pulled first, as in pullEdge.
	var unfols uint64
	s.user(ctx, follower, func(st *userState) {
		st.forcePull = append(st.forcePull, followee)
		st.planVer++
		unfols = st.unfols
	})
	added, err := s.graph.Follow(ctx, Edge{Follower: follower, Followee: followee, Since: since})
	defer s.settleGone(ctx, follower, unfols)
	s.user(ctx, follower, func(st *userState) {
		if i := slices.Index(st.forcePull, followee); i >= 0 {
			st.forcePull = slices.Delete(st.forcePull, i, i+1)
		}
		// Its entries are visible again, unless an unfollow came after
		// the edge was written (it took the edge away again).
		if added && st.unfols == unfols {
			st.gone.drop(followee)
		}
		if added {
			st.followees++
		}
		st.planVer++
		blocked = st.rel[followee]&(relBlocked|relBlockedBy) != 0
	})
	if err != nil {
		return err
	}
	if added {
		s.user(ctx, followee, func(st *userState) { st.followers++ })
	}
	if blocked {
		// A Block landed after the check above. It sets the relation
		// before it unfollows, so either it removed the edge written
		// here or this check sees it: undo the edge.
		if err := s.Unfollow(ctx, follower, followee); err != nil && err != ErrNotFollowing {
			return err
		}
		return ErrBlocked
	}
	if !push {
		return nil
	}
	if !as.Pushed {
		// A pulled author's posts are all pulled on read: copying them
		// would only fill the cap. The edge is pushed from here on, as
		// after adjustEdges, for when the author turns pushed: every ID
		// issued later is fanned out with the edge in the graph.
		err = s.graph.SetSince(ctx, follower, followee, s.lastIssued()+1)
		s.changed(ctx, follower)
		return err
	}
	err = s.backfill(ctx, follower, followee)
	s.changed(ctx, follower)
	return err
}

// backfill copies followee's recent posts into follower's timeline and then
// fixes the edge's watermark; the edge is at Pulling meanwhile.
func (s *Service) backfill(ctx context.Context, follower, followee UserID) error {
	stat, err := s.timelines.Stat(ctx, follower)
	if err != nil {
		return err
	}
	ids, err := s.posts.Recent(ctx, followee, Pulling, s.opt.Backfill, nil)
	if err != nil {
		return err
	}
	since := snowflake.ID(1)
	if len(ids) == s.opt.Backfill {
		since = ids[len(ids)-1]
	}
	if stat.Len > 0 && stat.Oldest >= since {
		since = stat.Oldest + 1
	}
	entries := make([]Entry, 0, len(ids))
	for _, id := range ids {
		if id >= since {
			entries = append(entries, Entry{ID: id, Author: followee})
		}
	}
	if len(entries) > 0 {
		if err := s.timelines.Add(ctx, follower, entries...); err != nil {
			return err
		}
	}
	return s.graph.SetSince(ctx, follower, followee, since)
}

// Unfollow ends follower's follow of followee. The followee's posts vanish
// from follower's timeline at once (filtered on read, removed lazily).
func (s *Service) Unfollow(ctx context.Context, follower, followee UserID) error {
	if err := validEdge(follower, followee); err != nil {
		return err
	}
	// Load the cached counts before the graph changes; a follower with
	// nothing to read follows no one, and gets no state for asking.
	switch err := s.state(ctx, follower, false, func(*userState) {}); {
	case errors.Is(err, errNothing):
		return ErrNotFollowing
	case err != nil:
		return err
	}
	defer s.queueReplan(ctx, follower)
	// The followee's count must be cached before the graph changes, which
	// makes its state: for a followee without state, only once the graph
	// shows the edge (the followee's first follower from follower on, one
	// B-tree descent), so that an Unfollow of someone never followed
	// leaves nothing behind.
	if !s.peek(followee, nil) {
		var buf [1]Edge
		e, err := s.graph.Followers(ctx, followee, follower-1, 1, buf[:0])
		if err != nil {
			return err
		}
		if len(e) == 0 || e[0].Follower != follower {
			return ErrNotFollowing
		}
	}
	// The followee's newest post bounds its posts stored before the
	// Service, which a follow or a rebuild may have copied into the
	// timeline: before the Service issues its first ID, they lie above
	// every ID issued.
	newest, err := s.newestOf(ctx, followee)
	if err != nil {
		return err
	}
	removed, err := s.graph.Unfollow(ctx, follower, followee)
	if err != nil {
		return err
	}
	if !removed {
		return ErrNotFollowing
	}
	// Every post issued from here on is fanned out without the edge.
	last := max(s.lastIssued(), newest)
	s.user(ctx, follower, func(st *userState) {
		st.followees--
		st.planVer++
		st.gone.add(followee, last+1)
		st.unfols++
	})
	s.user(ctx, followee, func(st *userState) { st.followers-- })
	return nil
}

// Delete removes author's post id. It is gone from every timeline at once:
// reads skip posts that no longer exist, and drop their entries lazily. The
// cost at call time does not depend on the number of followers. Deleting a
// repost never touches the original.
func (s *Service) Delete(ctx context.Context, author UserID, id snowflake.ID) error {
	ps, err := s.posts.GetMany(ctx, []snowflake.ID{id}, nil)
	if err != nil {
		return err
	}
	if len(ps) == 0 || ps[0].Author != author {
		return ErrNotFound
	}
	_, err = s.posts.Delete(ctx, id)
	return err
}

// Mute hides target's posts and reposts from user, at insert and at read.
func (s *Service) Mute(ctx context.Context, user, target UserID) error {
	err := s.setRel(ctx, user, target, relMuted, true)
	s.queueReplan(ctx, user)
	return err
}

// Unmute undoes Mute: all of target's posts are back, also those posted
// while muted. If user follows target on a pushed edge, whose fan-out
// skipped user meanwhile, the edge's watermark moves above every ID issued
// so far, as after a fresh follow, so that the muted period is pulled. It
// costs O(followees of user).
func (s *Service) Unmute(ctx context.Context, user, target UserID) error {
	if err := validEdge(user, target); err != nil {
		return err
	}
	if !s.hasRel(user, target, relMuted) {
		return nil // nothing to undo, and no state made for it
	}
	defer s.queueReplan(ctx, user)
	unlock, err := s.lockEdges(ctx, user)
	if err != nil {
		return err
	}
	defer unlock()
	edges, err := s.graph.Followees(ctx, user, nil)
	if err != nil {
		return err
	}
	i, found := slices.BinarySearchFunc(edges, target, func(e Edge, u UserID) int { return cmpID(snowflake.ID(e.Followee), snowflake.ID(u)) })
	if !found || edges[i].Since == 0 {
		return s.setRel(ctx, user, target, relMuted, false)
	}
	// Reads still filter target: the edge goes Pulling first (reads pull
	// it once unmuted), then the mute ends, so that every post issued
	// after last meets an unmuted reader at fan-out and may be pushed.
	if err := s.graph.SetSince(ctx, user, target, Pulling); err != nil && !errors.Is(err, ErrNotFollowing) {
		return err
	}
	if err := s.setRel(ctx, user, target, relMuted, false); err != nil {
		return err
	}
	last := s.lastIssued()
	if err := s.graph.SetSince(ctx, user, target, last+1); err != nil && !errors.Is(err, ErrNotFollowing) {
		return err
	}
	s.changed(ctx, user)
	return nil
}

// Block hides each of user and target from the other, removes the follows
// between them, and refuses new ones with ErrBlocked. Reposts obey it too:
// neither sees a repost of the other's posts, nor the other's reposts; no
// reader sees a repost by one of them of the other's post (Repost refuses
// new ones with ErrBlocked). Unblock brings back what the block hid, but
// not the follows.
func (s *Service) Block(ctx context.Context, user, target UserID) error {
	if err := s.setRel(ctx, user, target, relBlocked, true); err != nil {
		return err
	}
	defer s.queueReplan(ctx, user)
	defer s.queueReplan(ctx, target)
	s.user(ctx, target, func(st *userState) { setRel(st, user, relBlockedBy, true) })
	for _, p := range [][2]UserID{{user, target}, {target, user}} {
		if err := s.Unfollow(ctx, p[0], p[1]); err != nil && err != ErrNotFollowing {
			return err
		}
	}
	return nil
}

// Unblock undoes Block (but not the unfollows).
func (s *Service) Unblock(ctx context.Context, user, target UserID) error {
	if err := validEdge(user, target); err != nil {
		return err
	}
	if !s.hasRel(user, target, relBlocked) {
		return nil // nothing to undo, and no state made for it
	}
	if err := s.setRel(ctx, user, target, relBlocked, false); err != nil {
		return err
	}
	err := s.user(ctx, target, func(st *userState) { setRel(st, user, relBlockedBy, false) })
	s.queueReplan(ctx, user)
	s.queueReplan(ctx, target)
	return err
}

// peek runs f on u's state under its stripe lock if the Service holds it,
// without making it, and reports whether it does.
func (s *Service) peek(u UserID, f func(st *userState)) bool {
	us := &s.users[stripeOf(int64(u))]
	us.mu.Lock()
	defer us.mu.Unlock()
	st := us.m[u]
	if st != nil && f != nil {
		f(st)
	}
	return st != nil
}

// hasRel reports whether u holds any of the relation bits with other,
// without making u's state: mutes and blocks live only there.
func (s *Service) hasRel(u, other UserID, bit uint8) bool {
	has := false
	s.peek(u, func(st *userState) { has = st.rel[other]&bit != 0 })
	return has
}

func (s *Service) setRel(ctx context.Context, user, target UserID, bit uint8, on bool) error {
	if err := validEdge(user, target); err != nil {
		return err
	}
	return s.user(ctx, user, func(st *userState) { setRel(st, target, bit, on) })
}

func setRel(st *userState, other UserID, bit uint8, on bool) {
	st.planVer++ // plans carry a copy of rel
	if on {
		if st.rel == nil {
			st.rel = make(map[UserID]uint8)
		}
		st.rel[other] |= bit
		return
	}
	// st.rel is nil for a user who never muted or blocked, nor was
	// blocked: no write to it, only delete, which a nil map allows.
	if r := st.rel[other] &^ bit; r != 0 {
		st.rel[other] = r
	} else {
		delete(st.rel, other)
	}
}
