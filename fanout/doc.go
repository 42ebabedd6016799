// Package fanout builds home timelines the way large social networks do: a
// post by an ordinary author is pushed into each follower's capped timeline
// when it is published, a post by an author with very many followers is
// pulled from the author's own list when a follower reads, and the two are
// merged at read time. It is the home-timeline case of blueprint, and fixes
// the holes of the published designs: deletes and unfollows that cost a
// full fan-out or are never applied, offset pages that repeat or skip,
// empty feeds for returning users, and gaps when an author crosses the
// threshold.
//
// A [Service] is made by [New] on three stores and an [Options]; the
// in-memory ones are [NewMemGraph], [NewMemPosts] and [NewMemTimelines]
// (whose [MemTimelinesOptions] cap each timeline), and zero Options mean the
// defaults. New starts the fan-out workers. Then [Service.Follow] adds a
// follow edge, [Service.Publish] stores a post and queues its fan-out, and
// [Service.Timeline] (or [Service.AppendTimeline], into a page the caller
// reuses) reads a page of a user's home timeline. [Service.Close] drains the
// queue and stops the workers, and [Service.CloseContext] gives up on the
// drain when its context ends; Publish returns [ErrClosed] after either,
// and so does a second Close once the workers have stopped.
// Every method of the Service and of the in-memory stores is safe for
// concurrent use; the package's Example shows the whole life cycle.
//
// # Why push and pull
//
// Reads outnumber posts about 50 to 1 (Twitter, 2013), so work done once at
// post time is cheap per read: pushing a post to 200 followers costs 200
// timeline inserts (about 170 ns each through the whole fan-out path in
// memory, most of it the per-follower checks and cache misses), and a read becomes
// one range scan of a single timeline. Pushing does not scale to authors
// with millions of followers: one post would cost seconds of writes, most
// of them to readers who never look. Those authors are pulled: a reader's
// page merges its pushed timeline with the newest posts of the few pulled
// authors it follows (one B-tree descent each). Which authors are pushed is
// a [Policy]: [Threshold] is the classic follower-count rule (10k), and
// [PerPair] decides per follower after Silberstein et al., "Feeding Frenzy:
// Selectively Materializing Users' Event Feeds" (SIGMOD 2010): push when the
// reader's read rate times what a pull costs a read is at least the
// author's post rate times what a push write costs. Measured here, a push
// write costs a fan-out worker about 170 ns and a pulled author with posts
// on the page 70-140 ns of a first page (10-40 ns without), 0.4-0.8 of a
// write; [DefaultPullCost]
// is 1, above that ratio, leaning toward pushes for a shorter read tail,
// and a larger [PerPair].PullCost pushes more still, trading writes for
// reads. Readers who follow a huge number of accounts are served by pull
// in both.
//
// # Reading without holes
//
// [Service.Timeline] is a k-way merge by post ID (snowflake IDs, so ID order
// is time order) of the pushed timeline, each pulled author's posts, and
// posts still in the fan-out queue, with duplicates removed. Cursors are
// opaque and mean "older than this ID", so a page never repeats a post and
// never skips one that existed throughout, whatever happens between pages.
// Every read only shows IDs below the lowest ID still being published, so a
// slow Publish cannot slip a post in behind a page already served. Over
// stores that outlive a Service (a restart), the posts they hold are shown
// from the start: until the Service has issued its first ID (which may
// wait for the generator's clock to catch up with its After mark, see
// Options.IDs), a read shows every stored post but none issued after it
// began. That first ID must be above every post such a read has shown: with
// a generator behind the stored posts (no After mark, as with the default
// one, or a clock set back), Publish returns an error wrapping
// snowflake.ErrClockBehind until its clock passes them, rather than let a
// page or a Refresh of this Service skip them. That covers the posts this
// Service has shown or looked up, not cursors and Refresh marks that clients
// kept from before a restart: with such a generator a post issued below them
// is never shown to that cursor. Over stores that hold posts, give the
// generator the highest stored post ID as its After mark (Options.IDs).
// Reads check a pulled author's newest post and recent posts without its
// lock: Publish updates both after storing the post and before its ID
// becomes readable, so a read never passes over a post below its top.
//
// Completeness rests on watermarks. Each follow edge and each author carries
// the ID from which posts are pushed ([Edge.Since]); older posts are pulled.
// Switching pull to push first marks the edge or author [Pulling] (pushes
// start, reads still pull), then fixes the watermark above every ID issued
// so far; push to pull needs nothing, pulling is a superset. The switches
// of one reader's edges (its follows, unmutes, the policy's passes and the
// fan-outs' switches to pull) take a per-reader lock, so that no switch to
// pull lands between another's two writes. Each timeline
// also has a horizon below which its cap may have trimmed entries, and each
// reader a floor below which its timeline is incomplete (after inactivity),
// so reading past the cap or the floor pulls. The result: a threshold
// crossing, a follow, a rebuild or a trim never opens a gap, and at worst
// costs a duplicate that the merge removes.
//
// Deletes cost one store delete (independent of follower count): reads skip
// posts that no longer exist, and drop their entries lazily. An unfollow is
// visible at once because reads keep only current followees' entries, and
// drop those of unfollowed authors too, unless the reader's read plan (what
// the Service caches per reader about its followees; see Cost) changed
// during the read (a follow again, which may count on them being held,
// changes it first). Entries reach a pushed timeline only through the
// fan-out, backfill and rebuilds, all to followers, so only an unfollow can
// leave a non-followee's entries there: the reader's state lists the authors
// it unfollowed (up to 8; past that, and for a timeline the store held
// before the Service first saw its reader, any author) and an ID above all
// their entries (every post issued after the unfollow removed the edge is
// fanned out without it, and it is above the author's newest post stored
// before the Service; a follow or rebuild that raced the unfollow raises
// it when it ends), and a read checks only the entries of those authors
// below that ID against its followees, so an unfollow long ago costs a first
// page nothing. A follow of a pushed author copies its newest posts
// (Options.Backfill, default 100) that are newer than the oldest entry held.
// Mutes and blocks filter at push and at read; an unmute pulls what the mute
// kept out of the pushed timeline, so every post is back. They hold for
// reposts too: a reader sees no repost of a muted or blocked author's post,
// and a block between a reposter and the original's author hides the
// repost from every reader (checked at read, so an Unblock brings it back;
// Repost refuses new ones). A repost is hidden
// when the reader already sees its original, posted within
// Options.RepostWindow; undoing a repost deletes only the repost. Readers
// who have not read for Options.InactiveAfter are not pushed to; their next
// read is served by pull, marked [Page.Partial], while a worker rebuilds
// their timeline. So is a reader the Service has not served before (its
// state starts dormant; one with nothing at all to read gets an empty page
// and no state), and one whose timeline a fan-out could not write (a store
// error, after a retry); a fan-out that cannot list an author's followers
// turns the author to pull (see Service.Publish). Options.OnError hears of
// each such failure. The rebuild copies the recent posts of every pushed
// followee, including edges and authors still being switched to push: such a
// switch may fix its watermark below the floor (a policy pass chooses it
// before writing it, and the reader may have gone dormant in between).
//
// # Cost
//
// Publish: one store write (Posts.Put; the first time the Service sees the
// author, a few store reads too: its follow counts, its newest post and
// whether the store holds its timeline), a queue send and a copy of the
// author's 16 newest post IDs (which serve pulls of recent posts without a
// store descent), O(log n). Fan-out: one follower page read per BatchSize
// (1000) followers and one [Timelines.Deliver] per 128 of them, on
// Options.Workers goroutines; Publish blocks when Options.Queue posts wait
// (backpressure), and [Service.Close] drains the queue. The fan-out
// allocates nothing per write but the timelines' own growth, and an edge the
// policy switches to pull patches the reader's plan in place of rebuilding
// it, so it leaves little for the collector. Through the whole Service an
// author with 5000 active followers is fanned out at several million
// timeline inserts per second on 2 cores (BenchmarkFanout); about half of
// that is Deliver, a third the per-follower checks (activity, mutes, the
// policy). An edge the policy switches to pull at fan-out is marked in the
// reader's plan under the lock the per-follower check holds anyway, and
// costs the worker a graph write besides: 436-600 ns per switched edge over
// several runs (BenchmarkEdgeSwitch; 1.1 µs before the mark shared that
// lock), most of it the two B-tree descents of the write. A pulled edge
// costs a fan-out that lists it about 25 ns: BenchmarkFanout/per-pair lists
// 5000 followers and writes to the 2500 pushed ones at 196 ns per write in
// its quietest runs, against Threshold's 170-172 for 5000 writes (per-pair's
// figure varies from run to run, up to 308 ns; the README lists both).
//
// Timeline goes through a read plan the Service caches per reader: its
// followees (sorted, for the membership test of the fan-out queue and of
// unfollowed authors' entries), the ones that are pulled, and the pushed
// ones whose watermark is above 1, by watermark. A plan is rebuilt, in O(F)
// for F followees, only after something it was built from changes: the
// reader's follows, unfollows, mutes and blocks and its edges' switches (a
// per-reader version), or the mode of an author it follows (a Service-wide
// log of the last 4096 such changes, checked in O(changes · log F)). After
// the reader's own changes, and a policy pass that switched its edges to
// push, a worker rebuilds the plan of an active reader (one queued at a
// time), so its next read seldom pays for it. An edge switching to pull is
// marked in the reader's state, and its current plan patched in O(marked +
// F/64), before the graph changes, so no fan-out skips a reader whose plan
// still expects the post in its timeline. With a current plan a read costs
// one timeline range (without a search for a first page), a check of an
// entry's author against the followees only if the reader unfollowed that
// author after the entry was issued, a load per pulled followee from a dense
// table (each user's bound on its post IDs and a pointer to its recent
// posts, 16 bytes a user side by side, described below; a followee whose
// newest post is older than the timeline's first 32 entries then waits
// outside the merge's heap, which a first page seldom orders it into: 9 ns
// per such followee rather than 13), a store descent per pulled followee
// with posts in range older than its 16 newest, the posts in the fan-out
// queue (a handful while the workers keep up, a hundred or more when they
// fall behind; filtered to the reader's followees 16 at a time, as far as
// the merge gets), and a k-way merge over the k entries scanned with one
// batched post lookup per chunk. The dense table holds each user's newest
// post bound and 16 newest post IDs behind 16 bytes per user, allocated in
// chunks that never move (1.6 MB at 100k users), so it stays in cache where
// the users' own state does not: at 100k users going through each pulled
// followee's state cost a DRAM miss per followee, and two more for one with
// posts on the page. The queue's filter asks a bit filter in the plan first
// (8 or more bits per followee), which rejects most of the other authors
// with one load. Pushed followees cost nothing until the merge reaches their
// watermark (after a follow or a switch to push) or the reader's floor or
// the timeline's horizon, where they all join as pull sources: a page past
// the cap is a pull. The per-edge policy pass, O(F), runs on a worker at
// most every 8 reads and RateHalfLife/64 per reader. Buffers are recycled,
// so a first page allocates the page and its cursor, and only the cursor
// through [Service.AppendTimeline] into a recycled page. A plan costs 8
// bytes per followee, 1-2 more for its filter, and 24 more per pulled or
// marked one (about 1.6 KB for 165 followees), plus up to 64 bytes for the
// authors the reader unfollowed. It is freed once the reader has not read
// for InactiveAfter (14 days if that is negative): each read looks at one
// other cached plan, round robin over the lock stripes (the user state is
// split into 1024 maps by a hash of the user ID, each with its own lock, as
// are the in-memory stores' maps) and within each, so no goroutine scans for
// idle readers.
//
// Measured on a quiet 2-core machine at 20k users and ~165 followees
// (BenchmarkTimelineFirstPage, plans current, five runs; the README's
// table has two later runs, which read pure pull 25-35% slower and the
// hybrids' p99 lower, as this machine varies by the hour), a first page of
// 20 costs about 4 µs under pure push, 6 µs under pull and both hybrids
// (p99 6-12, 22-28, 10-21 for threshold and 14-20 µs for per-pair), and
// 1-2 allocations: the page and its cursor. The textbook fan-out on read
// (one Posts.Recent per followee and a heap merge, feedsim.PurePull, same
// stores) costs 25-27 µs (p99 122-140 µs): the hybrids' p99 is 1/6 to
// 1/14 of it. Before plans the Service cost 22-26 µs and 5-6
// allocations for every strategy, most of it
// the O(F) followee pass. A plan rebuild costs 10-50 µs; after the
// reader's own follows, unfollows, mutes and blocks a worker pays it, and
// a read only after its followees' mode changes or when it comes before
// the worker: in the simulator 10 of 22,500 reads, too few to reach the
// p99. Per-pair's slowest 1% are the heaviest readers: they
// follow 800-1700 accounts and pulled 400-620 of them (the median read
// pulls 75, threshold's slowest about 100), because the benchmark's
// readers have read once while most authors posted several times, and
// the paper's rule pulls an author who posts more often than the reader
// reads. Each pulled followee costs such a read a load from the dense
// table, about 6-25 ns, nothing more if it posted nothing on the page (a
// read loads all its pulled followees' slots in a loop of their own
// before it looks at them, so that the misses overlap: 6 rather than 9
// ns each in BenchmarkPullCost/pulled-idle).
// [PerPair] therefore weighs the reads of a reader who follows more than
// ReaderScale (100) accounts by followees/100, so that its edges from
// the least active authors are pushed: per-pair's p99 went from 13.6,
// 17.6 and 16.4 µs to 11.2, 14.0 and 11.9 (interleaved, same runs; p50
// 6.0-6.4 µs either way). What is left of a heavy reader's pulls is
// mostly authors above MaxFollowers, pulled for every reader: the 20k
// graph's readers of 300 followees or more (555 on average) follow 154
// of its 244 such authors, the 5k graph's readers of 150 or more (273 on
// average) 84 of 132. The weighing raises per-pair's writes per post in
// the simulator from 24.3 to 30.7 at 5k users and from 251-256 to 332 at
// 100k (pure push: 1334 and 23,340).
//
// Since reads check timeline entries' authors only after an unfollow
// and a first page's timeline range needs no search, pure push's first
// page costs 2.7-3.2 µs (p99 4.4-5.8) where it cost 4.2-4.6 (p99
// 7.1-8.3), interleaved on a busy machine.
//
// In the simulator (examples/timeline: 5k users, a history of 5000 posts,
// fan-out workers and two concurrent pagers on the same 2 cores) the first
// page's median is 3-5 µs for every strategy but pure pull (8.7-12 µs;
// quiet runs on 2026-11-26).
// Its tail was not made of different reads: the 1% slowest had about the
// same pulled followees, sources and scans as the median one. At 100k
// users (examples/timeline -users 100000) they spent half their wall
// time off the CPU, and the p99 of the reads that began while both
// workers were fanning out was 28-31 µs against 11-15 µs for the rest: a
// worker delivering holds one timeline stripe lock or another almost all
// the time, so with 64 stripes about 1 read in 100 found its reader's
// stripe taken (960 such waits in a replay of 100k reads, by the block
// profile), parked, and was woken onto the worker's core, where it ran
// when the worker yielded (36 µs on average). That was the p99, and the
// reason the fan-out delivers 128 timelines per call and yields between.
// The in-memory stores and the Service's user state now have 1024 stripes:
// 52 waits in the same replay, and reads that began beside two busy
// workers have a p99 of 12.2-12.4 µs, as the others. Threshold's fan-out
// got faster too (10.3-11.9M inserts/s against 8.1-8.6M, interleaved), its
// two workers meeting on a lock less often. The slowest 1% then ran on the
// CPU all along and were the heaviest readers, 118-124 pulled followees
// against 56 on average, whose slot loads a read now overlaps (see PerPair
// above). The first page's p99 at 100k users, against textbook pure pull
// in the same process, went from 0.11-0.21 of it (64 stripes, seven runs)
// to 0.067-0.156 (eleven runs, pure pull at 87-171 µs and the hybrids at
// 9.1-21.9 µs; the README lists them).
//
// A read's thread CPU time grows by about 25 ns per pulled followee and 15
// ns per post waiting in the fan-out queue, which under per-pair holds
// 30-150 posts: its fan-out runs at a third of threshold's inserts per
// second because it switches edges as it goes. In the 100k replay a
// quarter of the edges its fan-outs list are switched to pull (48k
// switches against 88k writes in 500 posts): the replay starts with every
// edge pushed and every reader having read once, so an author's second
// post already outweighs most of its followers' reads. A switch costs
// about three timeline writes (470-600 ns against 170, see Cost), most of
// it the graph write's B-tree descents.
//
// # Storage
//
// Storage goes through three small interfaces, [Graph], [Posts] and
// [Timelines]; package storetest checks any implementation. The in-memory
// backends stripe their maps over 1024 locks by xxhash of the key: follow
// edges and per-author post lists live in google/btree trees, and timelines
// in sorted slices of 16-byte [Entry] values with at most a quarter of slack
// (20 bytes an entry when full, 20.8 measured over 1,000 full timelines
// with the slices' and maps' own overhead; Twitter's entries were 20 bytes).
// The Service itself keeps per-user state in memory (activity, rates,
// watermarks, follow counts, newest post IDs, mutes and blocks, read
// plans), so the
// graph must only be changed, and posts only be added, through it. A user
// gets state when it reads with something to read, posts, follows or is
// followed, mutes, blocks or is blocked; undoing a relation that does not
// exist (Unmute, Unblock, Unfollow) makes none. (An Unfollow whose followee
// has no state yet looks the edge up in the graph first: the followee's
// follower count must be cached before the graph changes.)
//
// # Concurrency
//
// Every method of [Service] and of the in-memory stores is safe for
// concurrent use. The Service runs Options.Workers goroutines from New until
// Close (or, after CloseContext gave up, until the store calls they are in
// return); no lock is held while calling a store's methods in a way that
// could deadlock, nor while calling Options.OnFanout or Options.OnError.
// Those run on a worker, and must not call Close or CloseContext, which
// wait for the workers (go svc.Close() does not).
package fanout
