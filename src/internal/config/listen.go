package config

import (
	"fmt"
	"net/netip"
)

// cgnat is RFC 6598's shared address space: an ISP's side of the WAN.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// LANAddr normalises an address something is to listen on and checks it
// can only be a LAN address of the router: written plainly (an IPv4
// address in IPv6 form, ::ffff:192.168.1.1, becomes 192.168.1.1), neither
// every address in disguise (0.0.0.0, ::, ::ffff:0.0.0.0, ::%eth0) nor a
// multicast or broadcast one, and in the ranges a LAN uses: private IPv4
// (RFC 1918), IPv6 unique local (fc00::/7), link-local (IPv6 with its
// interface, fe80::1%br-lan) or loopback. A public address, or one of an
// ISP's shared range, may be the WAN's.
func LANAddr(a netip.Addr) (netip.Addr, error) {
	if !a.IsValid() {
		return a, fmt.Errorf("no address")
	}
	zone := a.Zone()
	plain := a.WithZone("").Unmap()
	switch {
	case plain.IsUnspecified():
		return a, fmt.Errorf("%s would listen on every interface, the WAN too: name a LAN address", a)
	case plain.IsMulticast(), plain == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return a, fmt.Errorf("%s is not an address of the router", a)
	case zone != "" && !plain.IsLinkLocalUnicast():
		return a, fmt.Errorf("%s: an interface (%%%s) goes with link-local addresses only (fe80::…)", a, zone)
	case zone != "" && !validIfname(zone):
		return a, fmt.Errorf("%s: %q is not an interface name", a, zone)
	case plain.Is6() && plain.IsLinkLocalUnicast() && zone == "":
		return a, fmt.Errorf("%s: a link-local address needs its interface, like fe80::1%%br-lan", a)
	case plain.IsPrivate(), plain.IsLoopback(), plain.IsLinkLocalUnicast():
		if cgnat.Contains(plain) {
			break
		}
		return plain.WithZone(zone), nil
	}
	return a, fmt.Errorf("%s is not a LAN address (a public one may be the WAN's): name a private one such as 192.168.1.1, or an IPv6 unique local (fd…) or link-local one", a)
}

// ListenAddr parses and checks one "list listen" value of the web
// section: a LAN address (LANAddr) and a port.
func ListenAddr(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Port() == 0 {
		return ap, fmt.Errorf("invalid address %q (want ip:port, e.g. 192.168.1.1:8099)", s)
	}
	a, err := LANAddr(ap.Addr())
	if err != nil {
		return ap, fmt.Errorf("%q: %v", s, err)
	}
	return netip.AddrPortFrom(a, ap.Port()), nil
}
