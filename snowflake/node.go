package snowflake

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
)

// NodeFromEnv returns the node number held in the environment variable name,
// as a decimal without sign, checked against l. It returns an error wrapping
// [ErrNode] if the variable is unset, empty, malformed or out of range, or
// [ErrLayout] if l is invalid.
func NodeFromEnv(name string, l Layout) (int64, error) {
	if err := l.Validate(); err != nil {
		return 0, err
	}
	s, ok := os.LookupEnv(name)
	if !ok || s == "" {
		return 0, fmt.Errorf("%w: $%s is not set", ErrNode, name)
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil || int64(n) > l.MaxNode() {
		return 0, fmt.Errorf("%w: $%s=%s is not a number in [0, %d]", ErrNode, name, quote(s), l.MaxNode())
	}
	return int64(n), nil
}

// NodeFromIP returns the low NodeBits bits of ip, which must be a private
// address (10/8, 172.16/12, 192.168/16 or fc00::/7; an IPv4-mapped IPv6
// address counts as IPv4). Nodes are unique only among hosts whose addresses
// differ in those bits: with the default 10 bits, hosts in one /22 IPv4
// subnet. It returns an error wrapping [ErrNotPrivate] for any other address,
// or [ErrLayout] if l is invalid.
func NodeFromIP(ip netip.Addr, l Layout) (int64, error) {
	if err := l.Validate(); err != nil {
		return 0, err
	}
	ip = ip.Unmap()
	if !ip.IsPrivate() {
		return 0, fmt.Errorf("%w: %v", ErrNotPrivate, ip)
	}
	b := ip.As16()
	low := uint64(0)
	for _, c := range b[8:] {
		low = low<<8 | uint64(c)
	}
	return int64(low & uint64(l.MaxNode())), nil
}

// NodeFromPrivateIP returns [NodeFromIP] of this host's first private
// interface address, IPv4 preferred over IPv6. It returns an error wrapping
// [ErrNotPrivate] if the host has none, or [ErrLayout] if l is invalid.
func NodeFromPrivateIP(l Layout) (int64, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return 0, fmt.Errorf("%w: listing interface addresses: %w", ErrNotPrivate, err)
	}
	return nodeFromAddrs(addrs, l)
}

// nodeFromAddrs is NodeFromPrivateIP on a given list of addresses.
func nodeFromAddrs(addrs []net.Addr, l Layout) (int64, error) {
	if err := l.Validate(); err != nil {
		return 0, err
	}
	var v6 netip.Addr
	for _, a := range addrs {
		var ip net.IP
		switch a := a.(type) {
		case *net.IPNet:
			ip = a.IP
		case *net.IPAddr:
			ip = a.IP
		}
		addr, ok := netip.AddrFromSlice(ip)
		if !ok || !addr.Unmap().IsPrivate() {
			continue
		}
		if addr.Unmap().Is4() {
			return NodeFromIP(addr, l)
		}
		if !v6.IsValid() {
			v6 = addr
		}
	}
	if v6.IsValid() {
		return NodeFromIP(v6, l)
	}
	return 0, fmt.Errorf("%w: no interface has one", ErrNotPrivate)
}
