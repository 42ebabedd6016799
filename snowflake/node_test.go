package snowflake_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/blueprint-go/blueprint/snowflake"
)

func TestNodeFromEnv(t *testing.T) {
	l := snowflake.DefaultLayout()
	const name = "BLUEPRINT_SNOWFLAKE_TEST_NODE"
	if _, err := snowflake.NodeFromEnv(name, l); !errors.Is(err, snowflake.ErrNode) {
		t.Errorf("unset: NodeFromEnv = %v, want ErrNode", err)
	}
	for _, c := range []struct {
		val  string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"5", 5, true},
		{"1023", 1023, true},
		{"", 0, false},
		{"1024", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{" 5", 0, false},
		{"5\n", 0, false},
		{"0x10", 0, false},
		{"five", 0, false},
		{"99999999999999999999", 0, false},
	} {
		t.Setenv(name, c.val)
		got, err := snowflake.NodeFromEnv(name, l)
		if c.ok != (err == nil) || got != c.want || (err != nil && !errors.Is(err, snowflake.ErrNode)) {
			t.Errorf("NodeFromEnv(%s=%q) = %d, %v; want %d, ok=%v", name, c.val, got, err, c.want, c.ok)
		}
	}
	if _, err := snowflake.NodeFromEnv(name, snowflake.Layout{}); !errors.Is(err, snowflake.ErrLayout) {
		t.Errorf("zero layout: NodeFromEnv = %v, want ErrLayout", err)
	}
}

func TestNodeFromIP(t *testing.T) {
	l := snowflake.DefaultLayout()
	narrow := l
	narrow.NodeBits, narrow.SeqBits = 4, 18
	for _, c := range []struct {
		ip   string
		l    snowflake.Layout
		want int64
		ok   bool
	}{
		{"10.0.3.7", l, 3<<8 | 7, true},
		{"10.1.255.255", l, 1023, true},
		{"10.1.4.0", l, 0, true},
		{"172.16.0.5", l, 5, true},
		{"172.31.2.1", l, 2<<8 | 1, true},
		{"192.168.1.200", l, 1<<8 | 200, true},
		{"192.168.1.200", narrow, 200 & 15, true},
		{"::ffff:10.0.0.9", l, 9, true},
		{"fd12:3456:789a::1:2", l, 1<<16&1023 | 2, true},
		{"8.8.8.8", l, 0, false},
		{"172.32.0.1", l, 0, false},
		{"127.0.0.1", l, 0, false},
		{"169.254.1.1", l, 0, false},
		{"::1", l, 0, false},
		{"fe80::1", l, 0, false},
		{"2001:db8::1", l, 0, false},
	} {
		got, err := snowflake.NodeFromIP(netip.MustParseAddr(c.ip), c.l)
		if c.ok != (err == nil) || got != c.want || (err != nil && !errors.Is(err, snowflake.ErrNotPrivate)) {
			t.Errorf("NodeFromIP(%s, %d bits) = %d, %v; want %d, ok=%v", c.ip, c.l.NodeBits, got, err, c.want, c.ok)
		}
	}
	wide := l
	wide.TimeBits, wide.NodeBits, wide.SeqBits = 28, 33, 2
	if _, err := snowflake.NodeFromIP(netip.MustParseAddr("10.0.0.1"), wide); !errors.Is(err, snowflake.ErrNode) {
		t.Errorf("IPv4 with 33 node bits: NodeFromIP = %v, want ErrNode", err)
	}
	if got, err := snowflake.NodeFromIP(netip.MustParseAddr("fd00::1:0:5"), wide); err != nil || got != 1<<32|5 {
		t.Errorf("IPv6 with 33 node bits: NodeFromIP = %d, %v; want %d", got, err, int64(1<<32|5))
	}
	if _, err := snowflake.NodeFromIP(netip.Addr{}, l); !errors.Is(err, snowflake.ErrNotPrivate) {
		t.Errorf("NodeFromIP(zero Addr) = %v, want ErrNotPrivate", err)
	}
	if _, err := snowflake.NodeFromIP(netip.MustParseAddr("10.0.0.1"), snowflake.Layout{}); !errors.Is(err, snowflake.ErrLayout) {
		t.Errorf("zero layout: NodeFromIP = %v, want ErrLayout", err)
	}
}

// TestNodeFromInterface covers what does not depend on this host's
// interfaces; the choice of address is tested on fixed lists in
// node_internal_test.go.
func TestNodeFromInterface(t *testing.T) {
	l := snowflake.DefaultLayout()
	if _, err := snowflake.NodeFromInterface("no-such-interface0", l); !errors.Is(err, snowflake.ErrNotPrivate) {
		t.Errorf("NodeFromInterface(missing) = %v, want ErrNotPrivate", err)
	}
	if _, err := snowflake.NodeFromInterface("eth0", snowflake.Layout{}); !errors.Is(err, snowflake.ErrLayout) {
		t.Errorf("zero layout: NodeFromInterface = %v, want ErrLayout", err)
	}
	if _, err := snowflake.NodeFromPrivateIP(snowflake.Layout{}); !errors.Is(err, snowflake.ErrLayout) {
		t.Errorf("zero layout: NodeFromPrivateIP = %v, want ErrLayout", err)
	}
}
