package shortid

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func testLimiter(maxClients int) *clientLimiter {
	return newClientLimiter(HandlerOptions{
		CreateLimit: rate.Every(time.Second), CreateBurst: 2,
		ProbeLimit: rate.Every(5 * time.Second), ProbeBurst: 1,
		MaxClients: maxClients, IdleTTL: time.Minute,
	})
}

func TestClientLimiterBuckets(t *testing.T) {
	l := testLimiter(100)
	now := time.Unix(1e9, 0)
	// Two creates, then a wait of one second for the third.
	for i := range 2 {
		if ok, _ := l.allow(1, createBucket, now); !ok {
			t.Fatalf("create %d refused", i)
		}
	}
	if ok, wait := l.allow(1, createBucket, now); ok || wait != time.Second {
		t.Errorf("third create = %v, wait %v; want refused, 1s", ok, wait)
	}
	if ok, wait := l.allow(1, createBucket, now.Add(400*time.Millisecond)); ok || wait != 600*time.Millisecond {
		t.Errorf("create after 0.4s = %v, wait %v; want refused, 0.6s", ok, wait)
	}
	// The probe bucket is separate.
	if ok, _ := l.allow(1, probeBucket, now); !ok {
		t.Fatal("first probe refused")
	}
	if ok, wait := l.allow(1, probeBucket, now); ok || wait != 5*time.Second {
		t.Errorf("second probe = %v, wait %v; want refused, 5s", ok, wait)
	}
	if ok, wait := l.allow(1, probeBucket, now.Add(2*time.Second)); ok || wait != 3*time.Second {
		t.Errorf("probe after 2s = %v, %v; want refused, 3s", ok, wait)
	}
	if ok, _ := l.allow(2, probeBucket, now); !ok {
		t.Error("another client is refused")
	}
	if ok, _ := l.allow(1, probeBucket, now.Add(5*time.Second)); !ok {
		t.Error("still refused after the refill")
	}
	if n := l.len(); n != 2 {
		t.Errorf("table holds %d clients, want 2", n)
	}
}

func TestClientLimiterInfiniteAddsNothing(t *testing.T) {
	l := newClientLimiter(HandlerOptions{CreateLimit: rate.Inf, ProbeLimit: rate.Inf, MaxClients: 10})
	for id := range uint64(1000) {
		if ok, _ := l.allow(id, probeBucket, time.Now()); !ok {
			t.Fatal("refused under rate.Inf")
		}
	}
	if n := l.len(); n != 0 {
		t.Errorf("rate.Inf stored %d clients", n)
	}
}

func TestClientLimiterLRU(t *testing.T) {
	// One entry per shard: ids that share a shard evict each other, and
	// the one used most recently survives.
	l := testLimiter(limiterShards * 2)
	now := time.Unix(1e9, 0)
	a, b, c := uint64(0), uint64(limiterShards), uint64(2*limiterShards) // same shard
	l.allow(a, probeBucket, now)                                         // a: empty
	l.allow(b, probeBucket, now)
	l.allow(a, createBucket, now) // a is now the most recent
	l.allow(c, probeBucket, now)  // evicts b
	if ok, _ := l.allow(a, probeBucket, now); ok {
		t.Error("a was evicted; want b evicted")
	}
	if ok, _ := l.allow(b, probeBucket, now); !ok {
		t.Error("b kept its empty bucket; want it evicted and fresh")
	}
	if n := l.len(); n > limiterShards*2 {
		t.Errorf("table holds %d, want ≤ %d", n, limiterShards*2)
	}
}

func TestAddrID(t *testing.T) {
	same := [][2]string{
		{"2001:db8::1", "2001:db8::ffff:1"},
		{"2001:db8:0:7::1", "2001:db8:0:7:8000::"},
		{"192.0.2.1", "::ffff:192.0.2.1"},
		{"fe80::1%eth0", "fe80::2"},
	}
	for _, p := range same {
		if id64(p[0]) != id64(p[1]) {
			t.Errorf("%s and %s are different clients, want one", p[0], p[1])
		}
	}
	differ := [][2]string{
		{"2001:db8:0:7::1", "2001:db8:0:8::1"},
		{"192.0.2.1", "192.0.2.2"},
		{"::", "0.0.0.0"},
	}
	for _, p := range differ {
		if id64(p[0]) == id64(p[1]) {
			t.Errorf("%s and %s are one client, want two", p[0], p[1])
		}
	}
	// An unparsable RemoteAddr still names a client, consistently.
	h := &Handler{}
	r1, r2 := httptest.NewRequest("GET", "/", nil), httptest.NewRequest("GET", "/", nil)
	r1.RemoteAddr, r2.RemoteAddr = "@unix-socket", "@unix-socket"
	if h.clientID(r1) != h.clientID(r2) {
		t.Error("the same odd RemoteAddr gives two clients")
	}
}

func TestClientIDNormalised(t *testing.T) {
	h, err := NewHandler(mustShortener(t), HandlerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	custom := ""
	hc, err := NewHandler(mustShortener(t), HandlerOptions{ClientIP: func(*http.Request) string { return custom }})
	if err != nil {
		t.Fatal(err)
	}
	id := func(h *Handler, remote string) uint64 {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		return h.clientID(r)
	}
	same := [][]string{
		{"198.51.100.1:1", "198.51.100.1:2", "198.51.100.1", " 198.51.100.1 ", "[::ffff:198.51.100.1]:3"},
		{"[2001:db8::1]", "[2001:db8::2]:80", "2001:db8::ffff", " [2001:db8::3] ", "[2001:db8::4%eth0]:1"},
	}
	for _, group := range same {
		want := id(h, group[0])
		for _, a := range group[1:] {
			if got := id(h, a); got != want {
				t.Errorf("RemoteAddr %q and %q are different clients", group[0], a)
			}
			custom = a
			if got := id(hc, "192.0.2.99:1"); got != want {
				t.Errorf("ClientIP %q is not the client of %q", a, group[0])
			}
		}
	}
	if id(h, "198.51.100.1:1") == id(h, "198.51.100.2:1") {
		t.Error("two IPv4 addresses share a client")
	}
	if id(h, "[2001:db8:0:1::1]:1") == id(h, "[2001:db8:0:2::1]:1") {
		t.Error("two IPv6 /64s share a client")
	}
	// ClientIP answering junk falls back to RemoteAddr instead of putting
	// every such request into one bucket.
	for _, junk := range []string{"", "  ", "unknown", "[198.51.100.1]", "2001:db8::1]"} {
		custom = junk
		if a, b := id(hc, "192.0.2.1:5"), id(hc, "192.0.2.2:5"); a == b {
			t.Errorf("ClientIP %q: different remote addresses share a client", junk)
		} else if a != id(h, "192.0.2.1:9") {
			t.Errorf("ClientIP %q: client is not the remote address", junk)
		}
	}
}

func id64(addr string) uint64 {
	id, _ := addrIDs(netip.MustParseAddr(addr))
	return id
}

func TestHandlerIPv6GroupProbeLimit(t *testing.T) {
	f := newHandlerFixture(t, HandlerOptions{ProbeLimit: rate.Every(time.Hour), ProbeBurst: 1})
	miss := func(remote string) int { return f.do(http.MethodGet, "/nosuch", "", from(remote)).Code }
	// Each /64 of 2001:db8:1::/48 is a client with a burst of one; together
	// they have ipv6GroupFactor.
	for i := range ipv6GroupFactor {
		if c := miss(fmt.Sprintf("[2001:db8:1:%x::1]:1", i)); c != http.StatusNotFound {
			t.Fatalf("miss %d from its own /64: %d, want 404", i, c)
		}
	}
	if c := miss("[2001:db8:1:ffff::1]:1"); c != http.StatusTooManyRequests {
		t.Errorf("miss from a fresh /64 of a spent /48: %d, want 429", c)
	}
	if c := miss("[2001:db8:2::1]:1"); c != http.StatusNotFound {
		t.Errorf("miss from another /48: %d, want 404", c)
	}
	// IPv4 clients have no group.
	for i := range ipv6GroupFactor + 1 {
		if c := miss(fmt.Sprintf("198.51.100.%d:1", i)); c != http.StatusNotFound {
			t.Fatalf("IPv4 miss %d: %d, want 404", i, c)
		}
	}
	if _, g := addrIDs(netip.MustParseAddr("::ffff:198.51.100.1")); g != 0 {
		t.Error("a v4-mapped address has a /48 group")
	}
}
