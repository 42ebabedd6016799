package snowflake

import (
	"errors"
	"net"
	"testing"
)

func TestNodeFromAddrs(t *testing.T) {
	l := DefaultLayout()
	ipNet := func(s string) net.Addr { return &net.IPNet{IP: net.ParseIP(s), Mask: net.CIDRMask(8, 32)} }
	ipAddr := func(s string) net.Addr { return &net.IPAddr{IP: net.ParseIP(s)} }
	for _, c := range []struct {
		name  string
		addrs []net.Addr
		want  int64
		ok    bool
	}{
		{"none", nil, 0, false},
		{"public and loopback only", []net.Addr{ipNet("127.0.0.1"), ipNet("8.8.4.4"), ipNet("::1")}, 0, false},
		{"first private IPv4", []net.Addr{ipNet("127.0.0.1"), ipNet("10.0.0.7"), ipNet("192.168.0.9")}, 7, true},
		{"IPv4 over an earlier IPv6", []net.Addr{ipNet("fd00::5"), ipAddr("172.20.0.3")}, 3, true},
		{"IPv6 when no IPv4", []net.Addr{ipNet("8.8.8.8"), ipNet("fd00::2:5"), ipNet("fd00::6")}, 2<<16&1023 | 5, true},
		{"unknown Addr type skipped", []net.Addr{&net.TCPAddr{IP: net.ParseIP("10.0.0.1")}}, 0, false},
	} {
		got, err := nodeFromAddrs(c.addrs, l)
		if c.ok != (err == nil) || got != c.want || (err != nil && !errors.Is(err, ErrNotPrivate)) {
			t.Errorf("%s: nodeFromAddrs = %d, %v; want %d, ok=%v", c.name, got, err, c.want, c.ok)
		}
	}
}
