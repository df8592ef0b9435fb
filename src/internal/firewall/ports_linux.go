package firewall

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// bridgePorts lists, for each of the given bridges, the names of its
// ports, from an rtnetlink link dump. The bridge table needs them when
// the kernel lacks nft_meta_bridge (meta ibrname): then a bridged
// packet's segment is found by the port it arrived on.
func bridgePorts(netns int, bridges []string) (map[string][]string, error) {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: netns})
	if err != nil {
		return nil, fmt.Errorf("failed to open rtnetlink: %v", err)
	}
	defer c.Close()
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump},
		Data:   make([]byte, unix.SizeofIfInfomsg),
	})
	if err != nil {
		return nil, fmt.Errorf("failed to list links: %v", err)
	}
	type link struct {
		name   string
		master uint32
	}
	links := map[uint32]link{}
	for _, m := range msgs {
		if len(m.Data) < unix.SizeofIfInfomsg {
			continue
		}
		idx := binary.NativeEndian.Uint32(m.Data[4:8])
		ad, err := netlink.NewAttributeDecoder(m.Data[unix.SizeofIfInfomsg:])
		if err != nil {
			continue
		}
		var l link
		for ad.Next() {
			switch ad.Type() {
			case unix.IFLA_IFNAME:
				l.name = ad.String()
			case unix.IFLA_MASTER:
				l.master = ad.Uint32()
			}
		}
		links[idx] = l
	}
	out := map[string][]string{}
	for _, l := range links {
		if l.master == 0 {
			continue
		}
		if m, ok := links[l.master]; ok && slices.Contains(bridges, m.name) {
			out[m.name] = append(out[m.name], l.name)
		}
	}
	for _, p := range out {
		slices.Sort(p)
	}
	return out, nil
}
