package snowflake

import (
	"errors"
	"net"
	"testing"
)

func ipNet(s string) net.Addr {
	return &net.IPNet{IP: net.ParseIP(s), Mask: net.CIDRMask(24, 32)}
}

func ipAddr(s string) net.Addr { return &net.IPAddr{IP: net.ParseIP(s)} }

const up = net.FlagUp | net.FlagBroadcast | net.FlagMulticast

func TestNodeFromIfaces(t *testing.T) {
	l := DefaultLayout()
	lo := netIface{"lo", net.FlagUp | net.FlagLoopback, []net.Addr{ipNet("127.0.0.1"), ipNet("::1")}}
	docker0 := netIface{"docker0", up, []net.Addr{ipNet("172.17.0.1"), ipNet("fe80::42:1")}}
	for _, c := range []struct {
		name string
		ifs  []netIface
		want int64
		err  error // nil: want a node
	}{
		{"no interfaces", nil, 0, ErrNotPrivate},
		{"loopback only", []netIface{lo}, 0, ErrNotPrivate},
		{"one private NIC", []netIface{lo, {"eth0", up, []net.Addr{ipNet("10.0.3.7"), ipNet("fe80::1")}}}, 3<<8 | 7, nil},
		{"private IPv4 over an earlier ULA", []netIface{{"eth0", up, []net.Addr{ipNet("fd00::5"), ipAddr("172.20.0.3")}}}, 3, nil},
		{"first private IPv4 of the interface", []netIface{{"eth0", up, []net.Addr{ipNet("10.0.0.7"), ipNet("10.0.0.200")}}}, 7, nil},
		{"IPv6 ULA only", []netIface{lo, {"eth0", up, []net.Addr{ipNet("fe80::9"), ipNet("fd12:3456::2:5")}}}, 2<<16&1023 | 5, nil},
		{"public NIC only", []netIface{lo, {"eth0", up, []net.Addr{ipNet("203.0.113.9")}}}, 0, ErrNotPrivate},
		{"public NIC and docker0", []netIface{lo, {"eth0", up, []net.Addr{ipNet("203.0.113.9")}}, docker0}, 0, ErrAmbiguousNode},
		{"private NIC and docker0", []netIface{{"eth0", up, []net.Addr{ipNet("10.0.3.7")}}, docker0}, 0, ErrAmbiguousNode},
		{"two private NICs", []netIface{{"eth0", up, []net.Addr{ipNet("10.0.3.7")}}, {"eth1", up, []net.Addr{ipNet("192.168.1.7")}}}, 0, ErrAmbiguousNode},
		{"ULA NIC and docker0", []netIface{{"eth0", up, []net.Addr{ipNet("fd00::7")}}, docker0}, 0, ErrAmbiguousNode},
		{"docker0 down", []netIface{{"eth0", up, []net.Addr{ipNet("10.0.3.7")}}, {"docker0", net.FlagBroadcast, docker0.addrs}}, 3<<8 | 7, nil},
		{"second NIC link-local only", []netIface{{"eth0", up, []net.Addr{ipNet("10.0.3.7")}}, {"eth1", up, []net.Addr{ipNet("fe80::2"), ipNet("169.254.0.2")}}}, 3<<8 | 7, nil},
		{"unknown Addr type skipped", []netIface{{"eth0", up, []net.Addr{&net.TCPAddr{IP: net.ParseIP("10.0.0.1")}}}}, 0, ErrNotPrivate},
	} {
		got, err := nodeFromIfaces(c.ifs, l)
		if c.err == nil && (err != nil || got != c.want) || c.err != nil && (!errors.Is(err, c.err) || got != 0) {
			t.Errorf("%s: nodeFromIfaces = %d, %v; want %d, %v", c.name, got, err, c.want, c.err)
		}
	}
}
