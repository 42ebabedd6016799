package shortid

import (
	"math"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/time/rate"
)

// limiterShards is the number of independently locked parts of a
// clientLimiter. A power of two, so a client's shard is a mask of its hash.
const limiterShards = 16

// apiKeySalt separates the hashes of API keys from the hashes of IP
// addresses, so that a key cannot be chosen to share an address's bucket
// except by a 64-bit hash collision.
const apiKeySalt = 0x9e3779b97f4a7c15

// A clientLimiter holds two token buckets per client (one for creates, one
// for lookups of unknown keys) in a bounded, striped LRU table.
//
// Memory is bounded by maxClients entries: a new client evicts the least
// recently seen one of its shard when the shard is full, and every access
// also drops clients idle for longer than idle from the cold end. No
// goroutine is involved, so there is nothing to stop.
//
// A clientLimiter is safe for concurrent use.
type clientLimiter struct {
	createLimit rate.Limit
	createBurst int
	probeLimit  rate.Limit
	probeBurst  int
	idle        time.Duration
	perShard    int

	shards [limiterShards]limiterShard
}

type limiterShard struct {
	mu      sync.Mutex
	clients map[uint64]*clientEntry
	// lru is the sentinel of a circular list: lru.next is the most
	// recently seen client, lru.prev the least.
	lru clientEntry
	_   [64]byte // keep neighbouring shards' locks off one cache line
}

type clientEntry struct {
	id         uint64
	seen       int64 // Unix nanoseconds of the last access
	prev, next *clientEntry
	create     *rate.Limiter // nil until the client first creates
	probe      *rate.Limiter // nil until the client first misses
}

// bucket selects one of a client's two token buckets.
type bucket uint8

const (
	createBucket bucket = iota
	probeBucket
	// groupProbeBucket is the probe bucket shared by all the /64s of an
	// IPv6 /48, ipv6GroupFactor times the size of a client's.
	groupProbeBucket
)

// ipv6GroupFactor is how many clients' worth of probes the /64s of one IPv6
// /48 may make together. A /48 is a site's allocation and holds 65,536
// /64s, each a client of its own; without a shared bucket its holder could
// probe 65,536 times as fast as anyone else.
const ipv6GroupFactor = 16

// groupSalt separates the identities of /48 groups from those of clients.
const groupSalt = 0x6a09e667f3bcc908

func newClientLimiter(o HandlerOptions) *clientLimiter {
	l := &clientLimiter{
		createLimit: o.CreateLimit,
		createBurst: o.CreateBurst,
		probeLimit:  o.ProbeLimit,
		probeBurst:  o.ProbeBurst,
		idle:        o.IdleTTL,
		perShard:    max(1, (o.MaxClients+limiterShards-1)/limiterShards),
	}
	for i := range l.shards {
		s := &l.shards[i]
		s.clients = make(map[uint64]*clientEntry)
		s.lru.next, s.lru.prev = &s.lru, &s.lru
	}
	return l
}

// allow takes one token from the client's bucket b at now. If the bucket is
// empty it returns false and how long until a token is available.
func (l *clientLimiter) allow(id uint64, b bucket, now time.Time) (bool, time.Duration) {
	limit := l.createLimit
	if b != createBucket {
		limit = l.probeLimit
	}
	if limit == rate.Inf {
		return true, 0
	}
	lim := l.bucketOf(id, b, now)
	if lim.AllowN(now, 1) {
		return true, 0
	}
	return false, tokenDelay(lim, now)
}

// tokenDelay is how long lim needs, from now, to hold one whole token.
func tokenDelay(lim *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - lim.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	r := float64(lim.Limit())
	if r <= 0 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(math.Ceil(missing / r * float64(time.Second)))
}

// bucketOf finds or adds the client id, marks it seen at now, evicts idle
// and surplus clients of its shard, and returns its bucket b.
func (l *clientLimiter) bucketOf(id uint64, b bucket, now time.Time) *rate.Limiter {
	s := &l.shards[id&(limiterShards-1)]
	nanos := now.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clients[id]
	if c == nil {
		c = &clientEntry{id: id}
		s.clients[id] = c
	} else {
		c.unlink()
	}
	c.seen = nanos
	c.pushFront(&s.lru)
	// Evict from the cold end: anything over capacity, then anything idle.
	// Each access removes at most a few entries beyond the one it added,
	// amortized O(1).
	for len(s.clients) > l.perShard {
		s.evict(s.lru.prev)
	}
	cutoff := nanos - int64(l.idle)
	for n := 0; n < 4 && s.lru.prev != c && s.lru.prev.seen < cutoff; n++ {
		s.evict(s.lru.prev)
	}
	switch b {
	case createBucket:
		if c.create == nil {
			c.create = rate.NewLimiter(l.createLimit, l.createBurst)
		}
		return c.create
	case probeBucket:
		if c.probe == nil {
			c.probe = rate.NewLimiter(l.probeLimit, l.probeBurst)
		}
		return c.probe
	default:
		if c.probe == nil {
			c.probe = rate.NewLimiter(l.probeLimit*ipv6GroupFactor, l.probeBurst*ipv6GroupFactor)
		}
		return c.probe
	}
}

// len returns the number of clients held, for tests.
func (l *clientLimiter) len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.clients)
		s.mu.Unlock()
	}
	return n
}

func (s *limiterShard) evict(c *clientEntry) {
	c.unlink()
	delete(s.clients, c.id)
}

func (c *clientEntry) unlink() {
	c.prev.next, c.next.prev = c.next, c.prev
	c.prev, c.next = nil, nil
}

func (c *clientEntry) pushFront(head *clientEntry) {
	c.prev, c.next = head, head.next
	head.next.prev = c
	head.next = c
}

// clientID identifies the client of r for rate limiting: by the API key
// header when one is configured, present and accepted by ValidAPIKey,
// otherwise by IP address, with
// IPv6 addresses grouped by their /64 prefix (one customer's allocation).
// Identities are 64-bit hashes, so the table holds no client strings.
//
// The address comes from ClientIP when set, else from r.RemoteAddr, and is
// normalised first: surrounding spaces, a port and IPv6 brackets and zones
// are dropped, and an IPv4-mapped IPv6 address counts as the IPv4 address,
// so one client cannot spread over many buckets by varying how its address
// is written. When ClientIP returns something that is not an address
// (including ""), the client is identified by r.RemoteAddr instead, not
// put in one bucket with every other such request.
func (h *Handler) clientID(r *http.Request) uint64 {
	id, _ := h.clientIDs(r)
	return id
}

// clientIDs is clientID and, for an IPv6 client, the identity of its /48
// (else 0).
func (h *Handler) clientIDs(r *http.Request) (id, group uint64) {
	if h.apiKeyHeader != "" {
		if v := r.Header[h.apiKeyHeader]; len(v) > 0 && v[0] != "" && h.validAPIKey(v[0]) {
			return xxhash.Sum64String(v[0]) ^ apiKeySalt, 0
		}
	}
	if h.clientIP != nil {
		if a, ok := parseClientAddr(h.clientIP(r)); ok {
			return addrIDs(a)
		}
	}
	if a, ok := parseClientAddr(r.RemoteAddr); ok {
		return addrIDs(a)
	}
	// Not an address at all (a custom listener, a test): the string is the
	// best identity there is.
	return xxhash.Sum64String(strings.TrimSpace(r.RemoteAddr)), 0
}

// parseClientAddr reads an IP address written as "ip", "ip:port",
// "[ipv6]" or "[ipv6]:port", with surrounding spaces.
func parseClientAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a, true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// addrIDs is the identity of address a, the address itself for IPv4 and
// its /64 prefix for IPv6, and for IPv6 the identity of its /48 (else 0).
func addrIDs(a netip.Addr) (id, group uint64) {
	a = a.Unmap().WithZone("")
	if !a.Is6() {
		b := a.As16()
		return xxhash.Sum64(b[:]), 0
	}
	p64, _ := a.Prefix(64)
	p48, _ := a.Prefix(48)
	b64, b48 := p64.Addr().As16(), p48.Addr().As16()
	return xxhash.Sum64(b64[:]), xxhash.Sum64(b48[:]) ^ groupSalt
}
