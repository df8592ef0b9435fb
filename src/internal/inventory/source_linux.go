package inventory

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/dnsmasq"

	"github.com/mdlayher/netlink"
	"github.com/mdlayher/wifi"
	"golang.org/x/sys/unix"
)

// SystemSource reads the router's kernel: links, neighbours and bridge
// FDBs over rtnetlink (in NetNS, if set), stations over nl80211, and the
// lease file.
type SystemSource struct {
	// Leases is dnsmasq's lease file; empty: none.
	Leases string
	// NetNS is a network namespace file descriptor; 0 is the process's
	// own. nl80211 is always asked in the process's own.
	NetNS int
	// NoWifi leaves nl80211 out (tests in a namespace).
	NoWifi bool
	// Fresh is how lately a neighbour entry must have been confirmed to
	// count; default 5 minutes, as long as a bridge keeps what it learned.
	Fresh time.Duration
}

type systemSource = SystemSource

// Snapshot implements Source.
func (s SystemSource) Snapshot(ctx context.Context) (Snapshot, error) {
	var snap Snapshot
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: s.NetNS})
	if err != nil {
		return snap, fmt.Errorf("failed to open rtnetlink: %v", err)
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	byIndex, err := links(c)
	if err != nil {
		return snap, err
	}
	var wireless map[int]bool
	if !s.NoWifi {
		if snap.Stations, wireless, err = stations(byIndex); err != nil {
			return snap, err
		}
	}
	for i, l := range byIndex {
		l.Wireless = wireless[i]
		snap.Links = append(snap.Links, l)
	}
	fresh := s.Fresh
	if fresh <= 0 {
		fresh = 5 * time.Minute
	}
	if snap.Neighbours, err = neighbours(c, byIndex, fresh); err != nil {
		return snap, err
	}
	if snap.FDB, err = fdb(c, byIndex); err != nil {
		return snap, err
	}
	if s.Leases != "" {
		f, err := os.Open(s.Leases)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return snap, fmt.Errorf("failed to read leases: %v", err)
		default:
			snap.Leases = dnsmasq.ParseLeases(f, time.Now())
			f.Close()
		}
	}
	return snap, nil
}

// links dumps the links: index -> name, master's name, MAC.
func links(c *netlink.Conn) (map[int]Link, error) {
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump},
		Data:   make([]byte, unix.SizeofIfInfomsg),
	})
	if err != nil {
		return nil, fmt.Errorf("failed to list links: %v", err)
	}
	masters := map[int]int{}
	out := map[int]Link{}
	for _, m := range msgs {
		if len(m.Data) < unix.SizeofIfInfomsg {
			continue
		}
		idx := int(binary.NativeEndian.Uint32(m.Data[4:8]))
		ad, err := netlink.NewAttributeDecoder(m.Data[unix.SizeofIfInfomsg:])
		if err != nil {
			continue
		}
		ad.ByteOrder = binary.NativeEndian
		var l Link
		for ad.Next() {
			switch ad.Type() {
			case unix.IFLA_IFNAME:
				l.Name = ad.String()
			case unix.IFLA_MASTER:
				masters[idx] = int(ad.Uint32())
			case unix.IFLA_ADDRESS:
				l.MAC = net.HardwareAddr(ad.Bytes())
			}
		}
		out[idx] = l
	}
	for idx, m := range masters {
		l := out[idx]
		l.Master = out[m].Name
		out[idx] = l
	}
	return out, nil
}

// stations lists the stations of every access point and per-station
// interface: mac80211 dumps only the stations of the interface asked, and
// a station hostapd moved to a VLAN interface is that interface's.
func stations(byIndex map[int]Link) ([]Station, map[int]bool, error) {
	c, err := wifi.New()
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			// No nl80211 at all: a router without Wi-Fi.
			return nil, nil, nil
		}
		return nil, nil, fmt.Errorf("failed to open nl80211: %v", err)
	}
	defer c.Close()
	ifis, err := c.Interfaces()
	if err != nil {
		return nil, nil, fmt.Errorf("failed to list Wi-Fi interfaces: %v", err)
	}
	wireless := map[int]bool{}
	// The access point of each radio, for its per-station interfaces.
	aps := map[int][]string{}
	for _, ifi := range ifis {
		if ifi.Type == wifi.InterfaceTypeAP {
			aps[ifi.PHY] = append(aps[ifi.PHY], ifi.Name)
		}
	}
	var out []Station
	for _, ifi := range ifis {
		wireless[ifi.Index] = true
		if ifi.Type != wifi.InterfaceTypeAP && ifi.Type != wifi.InterfaceTypeAPVLAN {
			continue
		}
		sts, err := c.StationInfo(ifi)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // gone since it was listed, or no stations
			}
			return nil, nil, fmt.Errorf("failed to list the stations of %s: %v", ifi.Name, err)
		}
		name := ifi.Name
		if l, ok := byIndex[ifi.Index]; ok {
			name = l.Name
		}
		var ap string
		if ifi.Type == wifi.InterfaceTypeAPVLAN && len(aps[ifi.PHY]) == 1 {
			ap = aps[ifi.PHY][0]
		}
		for _, st := range sts {
			out = append(out, Station{MAC: st.HardwareAddr, Iface: name, AP: ap})
		}
	}
	return out, wireless, nil
}

// ndmsg is struct ndmsg: family, 3 pad bytes, ifindex, state, flags,
// type.
func ndmsg(family byte) []byte {
	b := make([]byte, unix.SizeofNdMsg)
	b[0] = family
	return b
}

type neigh struct {
	family  byte
	ifindex int
	state   uint16
	flags   uint8
	mac     net.HardwareAddr
	dst     netip.Addr
	master  int
	// confirmed is how long ago the entry was last confirmed.
	confirmed time.Duration
	hasCache  bool
}

func dumpNeigh(c *netlink.Conn, family byte) ([]neigh, error) {
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETNEIGH, Flags: netlink.Request | netlink.Dump},
		Data:   ndmsg(family),
	})
	if err != nil {
		return nil, err
	}
	var out []neigh
	for _, m := range msgs {
		if len(m.Data) < unix.SizeofNdMsg {
			continue
		}
		n := neigh{
			family:  m.Data[0],
			ifindex: int(binary.NativeEndian.Uint32(m.Data[4:8])),
			state:   binary.NativeEndian.Uint16(m.Data[8:10]),
			flags:   m.Data[10],
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[unix.SizeofNdMsg:])
		if err != nil {
			continue
		}
		ad.ByteOrder = binary.NativeEndian
		for ad.Next() {
			switch ad.Type() {
			case unix.NDA_DST:
				n.dst, _ = netip.AddrFromSlice(ad.Bytes())
			case unix.NDA_LLADDR:
				n.mac = net.HardwareAddr(ad.Bytes())
			case unix.NDA_MASTER:
				n.master = int(ad.Uint32())
			case unix.NDA_CACHEINFO:
				// struct nda_cacheinfo: confirmed, used, updated, refcnt,
				// ages in clock ticks (USER_HZ, 100 a second).
				if b := ad.Bytes(); len(b) >= 4 {
					n.confirmed = time.Duration(binary.NativeEndian.Uint32(b[0:4])) * 10 * time.Millisecond
					n.hasCache = true
				}
			}
		}
		out = append(out, n)
	}
	return out, nil
}

// neighbours lists the IPv4 and IPv6 neighbours with a link-layer address
// that answered lately: an entry a departed device left behind is not it.
func neighbours(c *netlink.Conn, byIndex map[int]Link, fresh time.Duration) ([]Neighbour, error) {
	var out []Neighbour
	for _, fam := range []byte{unix.AF_INET, unix.AF_INET6} {
		ns, err := dumpNeigh(c, fam)
		if err != nil {
			return nil, fmt.Errorf("failed to list neighbours: %v", err)
		}
		for _, n := range ns {
			const live = unix.NUD_REACHABLE | unix.NUD_STALE | unix.NUD_DELAY | unix.NUD_PROBE
			if n.state&live == 0 || len(n.mac) != 6 || !n.dst.IsValid() {
				continue
			}
			if n.hasCache && n.confirmed > fresh {
				continue
			}
			out = append(out, Neighbour{MAC: n.mac, Iface: byIndex[n.ifindex].Name, Addr: n.dst.Unmap()})
		}
	}
	return out, nil
}

// fdb lists what bridges learned on their ports, without their own
// (permanent) entries and without the ports' own hardware lists.
func fdb(c *netlink.Conn, byIndex map[int]Link) ([]FDBEntry, error) {
	ns, err := dumpNeigh(c, unix.AF_BRIDGE)
	if err != nil {
		return nil, fmt.Errorf("failed to list bridge forwarding entries: %v", err)
	}
	var out []FDBEntry
	for _, n := range ns {
		if n.state&(unix.NUD_PERMANENT|unix.NUD_NOARP) != 0 || n.flags&unix.NTF_SELF != 0 || len(n.mac) != 6 {
			continue
		}
		port := byIndex[n.ifindex]
		bridge := port.Master
		if n.master != 0 {
			bridge = byIndex[n.master].Name
		}
		out = append(out, FDBEntry{MAC: n.mac, Port: port.Name, Bridge: bridge})
	}
	return out, nil
}

// MACOf returns the link-layer address the kernel's neighbour table holds
// for addr on interface ifname (a bridge's name for a bridged host). A
// host that just sent the router a packet is there: answering it, or its
// own neighbour solicitation, put it there. No entry is an error.
func (s SystemSource) MACOf(addr netip.Addr, ifname string) (net.HardwareAddr, error) {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: s.NetNS})
	if err != nil {
		return nil, fmt.Errorf("failed to open rtnetlink: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	byIndex, err := links(c)
	if err != nil {
		return nil, err
	}
	family := byte(unix.AF_INET6)
	if addr.Unmap().Is4() {
		family = unix.AF_INET
	}
	ns, err := dumpNeigh(c, family)
	if err != nil {
		return nil, fmt.Errorf("failed to list neighbours: %v", err)
	}
	want := addr.WithZone("").Unmap()
	for _, n := range ns {
		const known = unix.NUD_REACHABLE | unix.NUD_STALE | unix.NUD_DELAY | unix.NUD_PROBE | unix.NUD_PERMANENT
		if n.state&known == 0 || len(n.mac) != 6 || n.dst.Unmap() != want || byIndex[n.ifindex].Name != ifname {
			continue
		}
		return n.mac, nil
	}
	return nil, fmt.Errorf("no neighbour entry for %s on %s", want, ifname)
}
