package brski

import (
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// The stateless proxy reads and writes link-local datagrams with their
// interface index, by recvfrom and sendto themselves: package net turns
// an index into a zone name and back through an interface table it
// fetches again, a netlink dump, whenever the name or index is not in it,
// and a numeric zone never is, so every datagram would cost a dump of all
// the router's interfaces.

// recvFrom reads one datagram into b and returns its length, its sender
// and the sender's interface index (zero for addresses without scope).
func recvFrom(c *net.UDPConn, b []byte) (int, netip.AddrPort, int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, netip.AddrPort{}, 0, err
	}
	var (
		n    int
		from unix.Sockaddr
		rerr error
	)
	err = rc.Read(func(fd uintptr) bool {
		n, from, rerr = unix.Recvfrom(int(fd), b, 0)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return 0, netip.AddrPort{}, 0, err
	}
	switch sa := from.(type) {
	case *unix.SockaddrInet6:
		return n, netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port)), int(sa.ZoneId), nil
	case *unix.SockaddrInet4:
		return n, netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), 0, nil
	}
	return n, netip.AddrPort{}, 0, nil
}

// sendTo writes b to ap, on interface ifindex when ap needs one (IPv6
// link-local); c is an IPv6 socket.
func sendTo(c *net.UDPConn, b []byte, ap netip.AddrPort, ifindex int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16(), ZoneId: uint32(ifindex)}
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), b, 0, sa)
		return serr != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	return serr
}
