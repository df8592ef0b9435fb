//go:build !linux

package brski

import (
	"net"
	"net/netip"
	"strconv"
)

func recvFrom(c *net.UDPConn, b []byte) (int, netip.AddrPort, int, error) {
	n, from, err := c.ReadFromUDPAddrPort(b)
	if err != nil {
		return 0, from, 0, err
	}
	idx := 0
	if z := from.Addr().Zone(); z != "" {
		if ifi, err := net.InterfaceByName(z); err == nil {
			idx = ifi.Index
		} else {
			idx, _ = strconv.Atoi(z)
		}
	}
	return n, netip.AddrPortFrom(from.Addr().WithZone("").Unmap(), from.Port()), idx, nil
}

func sendTo(c *net.UDPConn, b []byte, ap netip.AddrPort, ifindex int) error {
	if ifindex != 0 {
		ap = netip.AddrPortFrom(ap.Addr().WithZone(strconv.Itoa(ifindex)), ap.Port())
	}
	_, err := c.WriteToUDPAddrPort(b, ap)
	return err
}
