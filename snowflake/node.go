package snowflake

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
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
// address counts as IPv4).
//
// Nodes made this way are unique only if the hosts share one subnet no larger
// than 2^NodeBits addresses and are numbered within it: with the default 10
// bits, one IPv4 /22 or smaller. Hosts in different subnets (10.0.1.5 and
// 10.0.5.5 share their low 10 bits) or behind NAT can collide. An IPv6
// address's low bits are unique only where addresses are assigned from such a
// range (statically or by DHCPv6); those formed by SLAAC or at random are not.
//
// It returns an error wrapping [ErrNotPrivate] for any other address, [ErrNode]
// for an IPv4 address when NodeBits exceeds its 32 bits, or [ErrLayout] if l
// is invalid.
func NodeFromIP(ip netip.Addr, l Layout) (int64, error) {
	if err := l.Validate(); err != nil {
		return 0, err
	}
	ip = ip.Unmap()
	if !ip.IsPrivate() {
		return 0, fmt.Errorf("%w: %v", ErrNotPrivate, ip)
	}
	if ip.Is4() && l.NodeBits > 32 {
		return 0, fmt.Errorf("%w: IPv4 address %v has 32 bits, the layout's node field %d",
			ErrNode, ip, l.NodeBits)
	}
	b := ip.As16()
	low := uint64(0)
	for _, c := range b[8:] {
		low = low<<8 | uint64(c)
	}
	return int64(low & uint64(l.MaxNode())), nil
}

// NodeFromPrivateIP returns [NodeFromIP] of this host's private address, on
// the one network interface that is up, is not a loopback and has a global
// unicast address (public or private): its first private IPv4 address, else
// its first private IPv6 address.
//
// A host with more than one such interface, such as a public NIC beside a
// docker0 or CNI bridge (172.17.0.1 on every host), or two private NICs, is
// ambiguous: picking one could give every host the same node. NodeFromPrivateIP
// then returns an error wrapping [ErrAmbiguousNode]; name the interface with
// [NodeFromInterface] or set the node explicitly. It returns an error wrapping
// [ErrNotPrivate] if no interface qualifies or the one that does has no
// private address, or the errors of NodeFromIP.
func NodeFromPrivateIP(l Layout) (int64, error) {
	if err := l.Validate(); err != nil {
		return 0, err
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return 0, fmt.Errorf("%w: listing network interfaces: %w", ErrNotPrivate, err)
	}
	list := make([]netIface, 0, len(ifs))
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			return 0, fmt.Errorf("%w: addresses of %s: %w", ErrNotPrivate, ifc.Name, err)
		}
		list = append(list, netIface{name: ifc.Name, flags: ifc.Flags, addrs: addrs})
	}
	return nodeFromIfaces(list, l)
}

// NodeFromInterface returns [NodeFromIP] of the first private IPv4 address of
// the network interface called name, else of its first private IPv6 address.
// It returns an error wrapping [ErrNotPrivate] if there is no such interface or
// it has no private address, or the errors of NodeFromIP.
func NodeFromInterface(name string, l Layout) (int64, error) {
	if err := l.Validate(); err != nil {
		return 0, err
	}
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return 0, fmt.Errorf("%w: interface %s: %w", ErrNotPrivate, quote(name), err)
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return 0, fmt.Errorf("%w: addresses of %s: %w", ErrNotPrivate, quote(name), err)
	}
	return nodeFromAddrs(name, addrs, l)
}

// netIface is what NodeFromPrivateIP needs of a network interface.
type netIface struct {
	name  string
	flags net.Flags
	addrs []net.Addr
}

// nodeFromIfaces is NodeFromPrivateIP on a given list of interfaces.
func nodeFromIfaces(ifs []netIface, l Layout) (int64, error) {
	var found []netIface
	for _, ifc := range ifs {
		if ifc.flags&net.FlagUp == 0 || ifc.flags&net.FlagLoopback != 0 {
			continue
		}
		for _, a := range ifc.addrs {
			if ip, ok := addrOf(a); ok && ip.IsGlobalUnicast() {
				found = append(found, ifc)
				break
			}
		}
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("%w: no interface that is up has a global address", ErrNotPrivate)
	case 1:
		return nodeFromAddrs(found[0].name, found[0].addrs, l)
	}
	names := make([]string, len(found))
	for i, ifc := range found {
		names[i] = ifc.name
	}
	return 0, fmt.Errorf("%w: interfaces %s have addresses; name one with NodeFromInterface or set the node explicitly",
		ErrAmbiguousNode, strings.Join(names, ", "))
}

// nodeFromAddrs returns NodeFromIP of the first private IPv4 address in addrs,
// else of the first private IPv6 address; name is the interface's, for errors.
func nodeFromAddrs(name string, addrs []net.Addr, l Layout) (int64, error) {
	var v6 netip.Addr
	for _, a := range addrs {
		ip, ok := addrOf(a)
		if !ok || !ip.IsPrivate() {
			continue
		}
		if ip.Is4() {
			return NodeFromIP(ip, l)
		}
		if !v6.IsValid() {
			v6 = ip
		}
	}
	if v6.IsValid() {
		return NodeFromIP(v6, l)
	}
	return 0, fmt.Errorf("%w: interface %s has none", ErrNotPrivate, quote(name))
}

// addrOf returns the IP address of an interface address, unmapped.
func addrOf(a net.Addr) (netip.Addr, bool) {
	var ip net.IP
	switch a := a.(type) {
	case *net.IPNet:
		ip = a.IP
	case *net.IPAddr:
		ip = a.IP
	}
	addr, ok := netip.AddrFromSlice(ip)
	return addr.Unmap(), ok
}
