package fanout

import (
	"math"
	"time"

	"github.com/blueprint-go/blueprint/snowflake"
)

// Options configure a [Service]. The zero value means defaults.
type Options struct {
	// Policy decides push or pull; nil means Threshold{} (10k followers).
	Policy Policy
	// IDs issues post IDs; nil means node 0 of a generator on the system
	// clock. Over stores that already hold posts (a restart), its IDs
	// must be above theirs, as they are with the highest post ID stored
	// (or a mark ahead of it) as its snowflake.Options.After: reads show
	// the stored posts from the start, and every post issued after them.
	//
	// A generator without that mark (nil's has none) issues IDs below
	// the stored posts while its clock is behind them (a clock set back,
	// or posts from a clock that ran ahead). Publish then refuses the
	// post, with an error wrapping snowflake.ErrClockBehind, if its ID is
	// not above its author's newest post, or, before the Service has
	// issued an ID, not above every stored post a read has shown and
	// every author's newest post the Service has looked up: a first ID
	// below a post already shown would let a pager or a Refresh skip the
	// posts between them. The generator has used the ID up; a later
	// Publish works once its clock has passed those posts. A stored post
	// above the first ID that the Service had not looked up by then
	// stays out of reads until the IDs issued pass it. Nor does the check
	// know the cursors and Refresh marks clients kept from before a
	// restart: a post issued below one of them is never shown to it. So
	// over stores that hold posts, set After; nil's generator cannot.
	IDs *snowflake.Generator
	// Now is the clock for rate estimates and inactivity; nil means
	// time.Now.
	Now func() time.Time
	// Workers is the size of the fan-out worker pool; 0 (or a negative
	// value) means 2, and it is at most MaxWorkers (a larger value means
	// MaxWorkers): New starts them all.
	Workers int
	// Queue bounds the posts waiting for fan-out; Publish blocks while it
	// is full. 0 (or a negative value) means 4096, and it is at most
	// MaxQueue (a larger value means MaxQueue): its buffer is allocated
	// up front.
	Queue int
	// BatchSize is how many followers one fan-out step reads and writes;
	// 0 means 1000.
	BatchSize int
	// Backfill is how many recent posts of a newly followed author (and of
	// each followee when a timeline is rebuilt) are copied in; 0 means 100.
	Backfill int
	// InactiveAfter is how long after a reader's last read or follow the
	// fan-out stops pushing to them; 0 means 14 days, negative never.
	InactiveAfter time.Duration
	// RateHalfLife is the half-life of the post and read rate estimates;
	// 0 means one hour.
	RateHalfLife time.Duration
	// RepostWindow hides a repost whose original the reader already sees
	// and that is at most this much older than the repost; 0 means 24
	// hours, negative never.
	RepostWindow time.Duration
	// OnFanout, if set, is called by a worker after each post's fan-out
	// with the number of timeline writes and the time it took. It must not
	// block, nor call Service.Close or CloseContext, which wait for the
	// worker it runs on (go svc.Close() does not).
	OnFanout func(id snowflake.ID, writes int, took time.Duration)
	// OnError, if set, is called by a worker when a store call of a fan-out
	// failed: Deliver or Followers twice (they are retried once), or the
	// graph write that switches an edge to pull; and once for each post
	// whose fan-out Service.CloseContext gave up on, with an error that
	// wraps its context's cause (the failures of its store calls after
	// that are part of it). A queued post whose author was turned to pull
	// by then (by the give-up, which turns the author of a post whose
	// followers it had not all listed, or by a store failure) is not
	// reported: nothing of it is left undone, reads pull it. The fan-out
	// has recovered (its readers read the post by pulling, see
	// Service.Publish), so no post is lost, but reads cost more until the
	// store answers again. It must not block, nor call Service.Close or
	// CloseContext, which wait for the worker it runs on (go svc.Close()
	// does not).
	OnError func(err error)
}

// MaxQueue is the largest Options.Queue: a Service allocates room for that
// many posts (64 bytes each, 4 MiB) in New, and reads merge the posts
// waiting in the queue, so a longer one would cost memory up front and
// reads time without making the fan-out faster.
const MaxQueue = 1 << 16

// MaxWorkers is the largest Options.Workers. Workers beyond the CPUs pay
// only while they wait on a remote store, and each costs a goroutine for
// the Service's life: 1,024 of them, against a store that answers a
// Deliver to 128 timelines in a millisecond, carry 130 million timeline
// writes a second.
const MaxWorkers = 1 << 10

// AuthorStats describe an author to a [Policy].
type AuthorStats struct {
	Author    UserID
	Followers int
	PostRate  float64 // posts per second, decayed
	Pushed    bool    // the author's current mode
}

// ReaderStats describe a reader to a [Policy].
type ReaderStats struct {
	Reader    UserID
	Followees int
	ReadRate  float64 // reads per second, decayed
	Pushed    bool    // the edge's current mode
}

// A Policy decides whether posts are pushed into followers' timelines or
// pulled at read time. PushAuthor is asked at every post; when it says no,
// the fan-out does not even list the author's followers. PushEdge only
// matters for authors that are pushed: it is asked at a follow, for each
// follower a pushed post reaches at fan-out, and for each pushed followee
// of a reader in a policy pass, which runs on a worker at most every 8
// reads of that reader (and RateHalfLife/64 apart). Both get the current
// mode so that they can apply hysteresis.
//
// Implementations must be safe for concurrent use and fast: PushAuthor
// runs under the author's state lock and PushEdge (at fan-out) under the
// reader's, so a Policy must not call back into the Service, which would
// deadlock.
type Policy interface {
	PushAuthor(a AuthorStats) bool
	PushEdge(a AuthorStats, r ReaderStats) bool
}

// Threshold is the classic policy: authors with more than Followers
// followers are pulled, everyone else is pushed, except to readers who
// follow more than MaxFollowees accounts, who pull everything. The zero
// value means defaults.
type Threshold struct {
	// Followers is the threshold; 0 means 10000.
	Followers int
	// Hysteresis is the relative band around both limits inside which the
	// mode does not change, so that an author hovering at the threshold
	// does not flip; 0 means 0.1, negative none.
	Hysteresis float64
	// MaxFollowees is the reader limit; 0 means 5000.
	MaxFollowees int
}

func band(limit int, h float64, def int, pushed bool) float64 {
	l := float64(limit)
	if limit <= 0 {
		l = float64(def)
	}
	if h == 0 {
		h = 0.1
	} else if h < 0 {
		h = 0
	}
	if pushed {
		return l * (1 + h)
	}
	return l * (1 - h)
}

// PushAuthor implements [Policy].
func (p Threshold) PushAuthor(a AuthorStats) bool {
	return float64(a.Followers) <= band(p.Followers, p.Hysteresis, 10000, a.Pushed)
}

// PushEdge implements [Policy].
func (p Threshold) PushEdge(a AuthorStats, r ReaderStats) bool {
	return float64(r.Followees) <= band(p.MaxFollowees, p.Hysteresis, 5000, r.Pushed)
}

// PerPair is the per-edge policy of Silberstein et al., "Feeding Frenzy:
// Selectively Materializing Users' Event Feeds" (SIGMOD 2010). Their cost
// model charges a pushed edge one timeline write per post of the author and
// a pulled edge what pulling the author costs each read of the reader, so
// the cheaper mode of an edge depends on that edge alone, and choosing it
// per edge minimizes the total: push author p to reader c when
//
//	ReadRate(c) · PullCost ≥ PostRate(p)
//
// with PullCost the cost of a pull relative to a push write. The rates are
// decayed running estimates, and an edge only changes mode when one side
// exceeds the other by the factor Hysteresis, so that edges near the
// boundary do not flip.
//
// The paper prices each edge alone, but latency is per read: a read pays
// for every author its reader pulls, so a reader who follows a thousand
// accounts, reading about as often as one who follows a hundred, pulls
// about ten times as many. PerPair therefore weighs the read side of a
// reader who follows F > ReaderScale accounts by F/ReaderScale:
//
//	ReadRate(c) · PullCost · max(1, F/ReaderScale) ≥ PostRate(p)
//
// Of such a reader's edges, those from the least active authors (the
// cheapest to push) switch to push first, and the authors it pulls are
// those posting more than F/ReaderScale times what a light reader's
// threshold is. F changes only with the reader's own follows and
// unfollows, by 1/F each, and neither rate depends on an edge's mode, so
// a switch never changes what the rule is computed from: no feedback
// loop, and Hysteresis keeps edges from flipping on the rates' drift.
// Measured (5k-user simulator, examples/timeline), the weighing raises
// per-pair's timeline writes from 24.3 to 30.7 per post (pure push:
// 1334); on the 20k-user benchmark graph, whose readers follow 165
// accounts on average, it cut the first page's p99 from 13.6-17.6 to
// 11.2-14.0 µs. Authors above MaxFollowers are pulled for every reader
// whatever the weighing: most of a heavy reader's pulls are those. A
// reader above MaxFollowees pulls everything, so there the weighing,
// largest just below that limit, stops at once: such readers read through
// pull whatever their rates.
//
// The zero value means defaults.
type PerPair struct {
	// Hysteresis is the factor by which one side must exceed the other to
	// switch an edge; 0 means 2, values below 1 mean 1.
	Hysteresis float64
	// PullCost is what pulling one author costs a read, in push writes;
	// 0 (or a negative or NaN value) means [DefaultPullCost]. Raising it
	// pushes more: reads merge fewer pulled authors (a shorter latency
	// tail) for more timeline writes per post, the paper's knob for
	// trading system cost for latency.
	PullCost float64
	// MaxFollowers, if positive, pulls authors with more followers than
	// this regardless of rates (bounding the fan-out work per post), with
	// a fixed 10% hysteresis: a pushed author is pulled above
	// 1.1·MaxFollowers followers, and a pulled one pushed again at
	// 0.9·MaxFollowers or fewer.
	MaxFollowers int
	// MaxFollowees is the reader limit (a reader who follows more
	// accounts pulls everything); 0 means 5000. It has the same 10%
	// hysteresis: a pushed edge is pulled when its reader follows more
	// than 1.1·MaxFollowees, a pulled one pushed again only at
	// 0.9·MaxFollowees or fewer.
	MaxFollowees int
	// ReaderScale is the number of followees from which a reader's read
	// rate is weighed by followees/ReaderScale (see above); 0 means
	// [DefaultReaderScale], negative turns the weighing off (the paper's
	// rule).
	ReaderScale int
}

// DefaultReaderScale is PerPair's ReaderScale when none is set: the median
// number of followees of the benchmark graph (examples/timeline, after
// Twitter's), so that a median reader is priced as in the paper and only
// heavier ones push more.
const DefaultReaderScale = 100

// DefaultPullCost is PerPair's PullCost when none is set, measured on the
// in-memory stores on 2 cores: a push write costs a fan-out worker about
// 170 ns (BenchmarkFanout's ns/write: 11.6M timeline inserts per second
// on 2 workers), and a pulled author costs a first page about 70-140 ns
// when it has posts on the page (a merge source served from its recent
// posts, reached from the dense table) and 10-40 ns when it has none (a
// load from the dense table and a heap entry; BenchmarkPullCost, 25 ns
// also when 100k authors' state is out of cache). Near the boundary of
// the rule, where the author posts about as often as the reader reads,
// most reads find a post of it on the page, so one pull costs 0.4-0.8
// push (0.3-0.6 when a write cost 230 ns, before the fan-out's lock
// stripes went from 64 to 1024). The default stays at 1, above that,
// leaning toward pushing:
// PerPair's read tail, not its writes, is what falls short of the targets
// on a large graph, and a larger PullCost pulls fewer authors per read.
// The ratio moves with the load: under a competing process the fan-out's
// cost per write doubled.
const DefaultPullCost = 1.0

// PushAuthor implements [Policy].
func (p PerPair) PushAuthor(a AuthorStats) bool {
	return p.MaxFollowers <= 0 || float64(a.Followers) <= band(p.MaxFollowers, 0.1, 0, a.Pushed)
}

// PushEdge implements [Policy].
func (p PerPair) PushEdge(a AuthorStats, r ReaderStats) bool {
	if float64(r.Followees) > band(p.MaxFollowees, 0.1, 5000, r.Pushed) {
		return false
	}
	h := p.Hysteresis
	if h == 0 {
		h = 2
	}
	h = math.Max(h, 1)
	c := p.PullCost
	if !(c > 0) {
		c = DefaultPullCost
	}
	if rs := p.ReaderScale; rs >= 0 {
		if rs == 0 {
			rs = DefaultReaderScale
		}
		if r.Followees > rs {
			c *= float64(r.Followees) / float64(rs)
		}
	}
	read := r.ReadRate * math.Min(c, math.MaxFloat64) // no Inf·0

	if r.Pushed {
		return read*h >= a.PostRate
	}
	return read >= a.PostRate*h && read > 0
}

// rate is a decayed event rate: each event adds 1/tau, and the value decays
// with exp(-dt/tau), so a steady stream of k events per second reads k.
type rate struct {
	v  float64
	at int64 // unix nanoseconds of v
}

func (r *rate) at0(now int64, tau float64) float64 {
	if r.at == 0 || now <= r.at {
		return r.v
	}
	return r.v * math.Exp(-float64(now-r.at)/1e9/tau)
}

func (r *rate) event(now int64, tau float64) {
	r.v = r.at0(now, tau) + 1/tau
	r.at = max(now, r.at)
}

func (o *Options) defaults() {
	if o.Policy == nil {
		o.Policy = Threshold{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	o.Workers = min(o.Workers, MaxWorkers)
	if o.Queue <= 0 {
		o.Queue = 4096
	}
	o.Queue = min(o.Queue, MaxQueue)
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.Backfill <= 0 {
		o.Backfill = 100
	}
	if o.InactiveAfter == 0 {
		o.InactiveAfter = 14 * 24 * time.Hour
	}
	if o.RateHalfLife <= 0 {
		o.RateHalfLife = time.Hour
	}
	if o.RepostWindow == 0 {
		o.RepostWindow = 24 * time.Hour
	}
}
