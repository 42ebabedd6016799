// Package shortid is the URL-shortener case of blueprint: the base-62 codec,
// short codes that are unique yet not guessable, and the shortener service
// built on them.
//
// # Base-62 codes
//
// [Encode], [AppendEncode] and [Decode] convert between uint64 and base 62 in
// [Base62Alphabet] (0-9, a-z, A-Z), so 0 is "0", 61 is "Z", 62 is "10" and
// math.MaxUint64 is "lYGhA16ahyf", eleven characters. Seven characters hold
// 62^7 ≈ 3.5·10^12 codes, 19 times the 1.8·10^11 links a shortener taking
// 100 million links a day stores in five years (eight characters: 1,200
// times).
//
// Decoding is strict so that every number has exactly one code: an empty
// code, a byte outside the alphabet, a leading zero ("007") and a value past
// math.MaxUint64 are errors that match [ErrInvalidCode]. A [Codec] does the
// same for any alphabet of 2 to 94 printable ASCII characters.
//
// Encoding cuts the number into five-digit chunks converted with 32-bit
// multiply-shift division, so no dependency chain is longer than five
// multiplies; decoding is a branch-free multiply-add loop that validates the
// whole code with one test at the end, and only 11-digit codes, the only
// ones that can overflow, pay for an overflow check. On a 2-core AMD EPYC,
// AppendEncode takes about 9 ns and Decode about 5.5 ns over codes of 1 to 11
// digits, and neither allocates (BenchmarkBase62Encode and
// BenchmarkBase62Decode in the benchmarks module set them beside
// github.com/jxskiss/base62, which checks neither overflow nor leading
// zeros).
//
// # Unguessable codes
//
// Counting links 1, 2, 3 and printing the count in base 62 gives unique
// codes, but anyone can enumerate them. Random codes cannot be enumerated
// but may collide. A [Sequence] has both properties: the code of counter
// value c is P(c) written as a fixed number of digits, where P is a
// pseudo-random permutation of [0, 62^k) keyed by a secret. Because P is a
// permutation, distinct counter values give distinct codes; because it is
// pseudo-random, consecutive counter values give codes that differ in
// almost every position, and without the key the codes of other links
// cannot be predicted from one's own.
//
// P follows the generalized Feistel construction of Black and Rogaway,
// "Ciphers with Arbitrary Finite Domains" (CT-RSA 2002), arranged as in
// NIST SP 800-38G FF1: the value splits into a first half A of u = ⌊k/2⌋
// digits and a second half B of k-u digits, and each round replaces the pair
// with (B, (A + F_i(B)) mod 62^m), m alternating between u and k-u. The
// domain is then exactly [0, 62^k), so no cycle walking is needed, and
// modular subtraction inverts each round, so [Sequence.Reverse] recovers the
// counter value from a code with the key. The round function F_i is
// SipHash-2-4 (Aumasson and Bernstein, INDOCRYPT 2012), a pseudo-random
// function with a 128-bit key, of the half and the round number. Luby and
// Rackoff proved four Feistel rounds of a random function a strong
// pseudo-random permutation; with halves as small as 62^3 the published
// attacks on small-domain Feistel ciphers gain from every missing round, so
// a Sequence runs eight, as FF3-1 does. A code costs eight SipHash calls on
// a single block: about 110 ns and no allocation, for [Sequence.AppendKey]
// and [Sequence.Reverse] alike.
//
// Counter values come from a [Counter], which leases them in blocks (default
// 1024), so a fleet of servers sharing one counter row pays one round trip
// per block. [MemCounter] is the in-memory counter.
//
// # Key rotation
//
// A [Key] has a version, a secret and the first counter value it encodes
// (Since); each key owns the counter values from its Since up to the next
// key's. To rotate, add a key whose Since lies beyond every value leased so
// far, and deploy the ring everywhere before the counter gets there. Codes
// of one key never repeat; a code of the new key may equal one issued under
// an old key (probability: old codes / 62^k per code), and the service's
// atomic create refuses that clash and takes the next counter value, so
// stored codes stay unique. Reverse decrypts a code under each key and
// returns the oldest key whose range contains the result, which is the
// issuing key except with the same small probability; it is exact with a
// single key.
//
// [Random] draws codes uniformly from crypto/rand instead, for callers who
// want no counter: about 30 ns a code, reading 512 random bytes at a time.
// It relies on the service retrying the rare collision: with n links stored
// among 62^k codes a new code clashes with probability n/62^k: 5·10^-2
// for 1.8·10^11 links of seven characters, 8·10^-4 of eight.
//
// # The shortener service
//
// A [Shortener], made by [New] over a [Store], creates links
// ([Shortener.Shorten]), resolves them and counts the click
// ([Shortener.Resolve]), deletes them and reports their [Stats]. Everything
// it persists goes through the Store; everything that depends on time reads
// Options.Clock, so tests drive TTLs by moving a fake clock. New links take
// their codes from a [KeySource] such as a [Sequence], and the Store's
// atomic create is what keeps stored codes unique across key rotations,
// aliases and random draws.
//
// Target URLs are refused with [ErrInvalidURL], wrapped with the rule they
// broke, unless they are absolute http or https URLs with a host, at most
// Options.MaxURLLength (2048) bytes, without control characters, spaces,
// backslashes or user information ("http://sho.rt@evil.example/" is a
// classic phishing trick), and not pointing at the shortener itself
// (Options.BaseURL and OwnHosts: a redirect loop). Unless
// Options.AllowPrivate is set, hosts in private, loopback, link-local,
// carrier-grade NAT and other special-purpose networks are refused too,
// spelled however a browser would accept them: the host is parsed as the
// WHATWG URL Standard parses IPv4 (so 2130706433, 0x7f.1 and 0177.0.0.1 are
// all 127.0.0.1), IPv4-mapped, IPv4-compatible, NAT64 and 6to4 IPv6
// addresses are checked by the IPv4 address they carry, and "localhost"
// with its subdomains (RFC 6761) is loopback; Teredo, discard-only and the
// 6to4 relay prefix are refused as well. Host names must be ASCII: a
// browser maps a Unicode host through IDNA (UTS #46), which folds thousands
// of compatibility characters into ASCII letters ("ˡocalhost" is localhost,
// "sʰo.rt" is sho.rt), and the standard library has no such mapping, so
// clients send internationalized names in their punycode form
// ("xn--bcher-kva.example"). Host names that resolve to
// private addresses are out of reach of a check that does not resolve
// names; a shortener only redirects, it never fetches. Accepted URLs are
// normalized for deduplication: lower-case scheme and host, no default port,
// no trailing dot, IPv4 in dotted decimal, "/" for an empty path; the path,
// query and fragment are kept byte for byte.
//
// A plain request (no alias, TTL or visit limit) for a URL that already has
// a plain link returns that link, so a page shared a million times takes
// one key. A request with an alias, TTL or visit limit always creates a new
// link and never returns, changes or removes another one. Aliases are 3 to
// 64 characters of [0-9A-Za-z_-], must not be one of Options.Reserved
// (compared without case, [ErrReservedAlias]) nor "shorten", the
// [Handler]'s create route, which no new alias or generated code is,
// whatever Options.Reserved says (a link a Store held under "shorten"
// before it was reserved stays, and the Shortener reaches it, but GET
// /shorten does not: see [Handler]), and share one key space with
// generated codes: the Store's atomic create decides, so concurrent creates
// of one alias give one winner and [ErrAliasTaken] for the rest, and a
// generated code that an alias already took is skipped for the next one.
//
// A link past its TTL, or whose last allowed visit was used, resolves as
// [ErrGone] (HTTP 410) rather than [ErrNotFound] (404) until the sweeper
// removes it ([Shortener.Sweep], every Options.SweepInterval); that also
// frees its key and its URL. The visit limit is enforced by the Store's
// conditional [Store.Visit], so N allowed visits give exactly N successful
// Resolves however many race.
//
// A redirect must not wait for a write. At the seed's 100 million new links
// a day and 100 reads per write, 116,000 redirects a second would each
// become a counter update; instead clicks go to 64 in-memory counters and
// reach the Store as one [Store.AddClicks] batch per Options.FlushInterval
// (1s), with one entry per link clicked in that second. A click goes to its
// key's home counter, or, when another core holds that one, to one of the
// next 15 at random, so a viral link resolved from every core does not
// queue on one lock. Clicks are counted per [ClickKey], the key and the
// link's CreatedAt, and the Store skips a count whose link is gone or was
// created at another time: a Resolve that read a link just before it was
// deleted cannot give its click to a new link under the same alias.
// [Shortener.Stats] adds the buffered clicks to the stored ones, so it is
// exact; a crash loses at most one interval of clicks (more for a link
// whose clicks a slow Stats kept back from a flush, see Concurrency), and
// [Shortener.Close] loses none: a Resolve racing with Close either counts
// before the final flush or fails with [ErrClosed]. [Shortener.CloseContext]
// bounds that final flush, and Flush may retry it.
//
// Costs, measured on a 2-core machine that five other builds and test runs
// were sharing (load average 6-8, so the figures are high and noisy by up
// to a factor of two; BenchmarkShorten and BenchmarkResolve*):
//
//   - Resolve of a plain link is one Store.Get and one counter increment,
//     O(1) without allocation: 130-300 ns per call on the [MemStore] over
//     100,000 links, whether from one goroutine or from all cores, and
//     about 160-200 ns with every core resolving the same link. A link
//     with a visit limit adds one Store.Visit. [Shortener.Lookup] is the
//     Store.Get alone: it counts no click and uses up no visit. The
//     [Handler] answers a HEAD with one Store.Get too, plus, for a link
//     with a visit limit, the Store.Visit and the click of a Resolve.
//   - Shorten is the validation (about 200 ns, no allocation for a URL that
//     is already normal), one key from the [KeySource] (about 150 ns, on the
//     stack) and one Store.Create. Its only allocation is the key string.
//     On a MemStore that grows as it fills, rehashing its maps is about a
//     quarter of the cost: 1-1.6 µs per Shorten with the growth, 1-1.1 µs in
//     a store sized with [NewMemStoreSize] (a quiet machine runs both well
//     under 1 µs), and 0.6 µs for a URL that is already shortened.
//   - Stats is one Store.Get plus a look at 16 counters. It reads again
//     when a flush began or ended during its Get, when the flush running
//     carries clicks of its link (after that flush), or when a Delete or
//     Sweep dropped buffered clicks of a key sharing its counters (one key
//     in 64) meanwhile: after three such reads its fourth is guarded, one
//     Get plus one for each of the last two causes, so at most six Gets in
//     all. It holds no lock while it reads the Store; it waits only for a
//     flush that is writing clicks of its own link, and no flush waits for
//     it.
//   - Delete is one Store.Get and one Store.Delete.
//
// Key uniqueness across processes needs care: without Options.Keys each
// Shortener draws its own random secret, so Shorteners sharing one Store
// (or one Shortener across restarts) encrypt the shared counter under
// different keys, and their codes stay unique only because the Store's
// atomic create refuses a clash and the next value is tried. In production
// pass a [Sequence] with a fixed secret shared by all instances
// (SequenceOptions.Keys): codes are then unique by construction.
//
// # HTTP
//
// A [Handler] puts a Shortener on the web: POST /shorten creates a link, GET
// /{key} redirects, GET /{key}/stats reports, and every error is a JSON
// object. Redirects are 302 by default, sent with Cache-Control: no-store.
// A temporary redirect brings the browser back to the server on every
// click, which is what makes click counts and visit limits exact and a
// deleted link stop at once. Browsers cache 301 and 308, some for ever:
// fewer requests, lost clicks. When HandlerOptions.Redirect asks for one
// of them, the handler bounds the cache with a max-age of
// HandlerOptions.PermanentMaxAge (a day by default), cut to the link's
// remaining lifetime, and still sends no-store for links with a visit
// limit (see "Redirect status" on [Handler]).
//
// A link with a visit limit shows its target only to a visit: a HEAD of it
// uses a visit, as the GET it stands for would, and its stats, open to
// anyone who knows the key, leave the target out (see "Visit limits" on
// [Handler]); other HEADs count no click.
//
// Every client, named by its API key or else its IP address (an IPv6 client
// by its /64), has a token bucket for creates and one for failed lookups.
// A client that guesses keys runs out of the second and then gets 429 for
// its misses; its hits still redirect, so a guesser cannot lock out others
// behind the same address (the key space, not the limit, is what keeps
// keys from being enumerated: see [Handler]). Clients live in a bounded LRU
// table that needs no goroutine; a redirect does not consult it, so it
// costs nothing beyond Resolve.
//
// # Storage
//
// A [Store] has six methods, each atomic on its own, so that Redis (a Lua
// script per method, a sorted set for expiry) or SQL (a transaction per
// method, an index on the due time) can implement it: Create is a
// create-if-absent of the key and, for a deduplicated link, of its URL's
// dedup entry, together; Visit is a conditional increment; Sweep is a range
// delete over the due-time index; Get, Delete and AddClicks are what they
// say. The package [github.com/blueprint-go/blueprint/shortid/storetest]
// checks any implementation against this contract, concurrency included.
//
// [MemStore] is the in-memory Store: links in 64 maps striped by an xxhash
// of the key, dedup entries in maps keyed by the 64-bit xxhash of the URL
// (confirmed against the URL itself), links with a TTL or a visit
// limit in a google/btree ordered by due time. A plain link costs about
// 280 bytes beyond its URL (1M links: BenchmarkMemStoreMemory), nearly all
// of it the two hash-map slots; keying dedup entries by hash costs 16 of
// those bytes (the URL's string header in the entry) and saves hashing the
// URL twice per Create. [CachedStore] puts a bounded LRU in front of
// any Store (cache-aside, kept current by every write through it), and
// [ShardedStore] spreads links over several Stores by jump consistent hash
// of the key, keeping each URL's dedup entry as a pointer on the URL's own
// shard. Both pass the same conformance suite, alone and stacked.
//
// # Concurrency
//
// Every function and type of the package is safe for concurrent use:
//
//   - A [Codec] is immutable, a [Sequence] hands out counter values with an
//     atomic add and leases new blocks under a one-slot semaphore that
//     respects the caller's context, and a [Random] takes bytes from its
//     buffer under a mutex and refills it under a similar semaphore, outside
//     the mutex. A slow Counter or random source therefore delays only the
//     callers that need its result, and they give up when their context
//     ends.
//   - A [Shortener] holds no lock across a Store call. Its click counters
//     are striped mutexes; a flush publishes the batch it is writing, so
//     Stats waits only for a flush carrying clicks of its own link (or for
//     its context), and flushes run one at a time. A Stats whose reads keep
//     losing the race with flushes reads once more with its key held: until
//     that read ends, flushes leave the key's clicks buffered and write
//     every other key's, so no flush, Close included, waits for a Store
//     call of Stats. A Delete drops a link's buffered clicks only after
//     the Store removed it, and a Stats that a drop under a key sharing its
//     counters overtook between its Get and its look at the buffer reads
//     again, so a Stats racing a Delete reports the link with all its
//     clicks or ErrNotFound. N allowed visits give exactly N successful
//     Resolves, and every successful Resolve's click is counted once.
//   - A [MemStore] makes each method atomic with 64 striped read-write
//     locks; Create and Delete take the key's and the URL's stripes in index
//     order, and the due-time index has its own mutex.
//   - A [CachedStore] writes through to its Store and then evicts the keys
//     it wrote; a Get that read before such a write does not cache what it
//     read. Its LRU parts each have a mutex.
//   - A [ShardedStore] is safe for concurrent use if its shards are. A
//     deduplicated Create spans two shards in two atomic steps, the link
//     first and its URL's pointer second, so the pointer shard's own
//     create-if-absent picks one winner and a pointer left without its link
//     is recognized as stale and replaced; a create that finds the pointer
//     changed under it eight times gives up with [ErrContended].
//   - A [Handler] serves any number of requests at once; its client table
//     is a locked LRU that is consulted only while a client is throttled.
package shortid
