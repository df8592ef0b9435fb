package firewall

import (
	"encoding/binary"
	"net"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// neighbours returns the addresses the kernel's neighbour (ARP and ND)
// tables hold for the given MACs: a device's flows opened before its
// addresses were learned are still found by them.
func neighbours(netns int, macs []net.HardwareAddr) ([]netip.Addr, error) {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: netns})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// struct ndmsg: family, 3 pad bytes, ifindex, state, flags, type.
	req := netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETNEIGH, Flags: netlink.Request | netlink.Dump},
		Data:   make([]byte, unix.SizeofNdMsg),
	}
	msgs, err := c.Execute(req)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, m := range msgs {
		if len(m.Data) < unix.SizeofNdMsg {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[unix.SizeofNdMsg:])
		if err != nil {
			continue
		}
		ad.ByteOrder = binary.NativeEndian
		var dst netip.Addr
		var ll []byte
		for ad.Next() {
			switch ad.Type() {
			case unix.NDA_DST:
				dst, _ = netip.AddrFromSlice(ad.Bytes())
			case unix.NDA_LLADDR:
				ll = ad.Bytes()
			}
		}
		if !dst.IsValid() {
			continue
		}
		for _, mac := range macs {
			if string(mac) == string(ll) {
				out = append(out, dst)
				break
			}
		}
	}
	return out, nil
}
