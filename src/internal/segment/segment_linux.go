package segment

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Plumber creates bridges and VLAN interfaces over rtnetlink.
type Plumber struct {
	// NetNS is a network namespace file descriptor; 0 is the process's own.
	NetNS int
}

// Ensure brings every spec about: bridge there and up; VLAN interface
// there, up, and a port of the bridge. What exists and is right is left
// as it is; a link of the right name but the wrong kind (or VLAN id, or
// parent), or a missing uplink, is an error before anything is changed.
// It returns the links it created, in order, also when the kernel refuses
// something part way: nothing is ever deleted, neither here nor when a
// spec goes away (deleting is netifd's or the user's).
func (p *Plumber) Ensure(specs []Spec) (created []string, err error) {
	for _, s := range specs {
		if err := s.validate(); err != nil {
			return nil, err
		}
	}
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: p.NetNS})
	if err != nil {
		return nil, fmt.Errorf("failed to open rtnetlink: %v", err)
	}
	defer c.Close()
	// Look before touching anything: specs that cannot be brought about
	// (an uplink missing, a link of the wrong kind in the way) change
	// nothing. Only the kernel refusing what looked possible stops half way.
	for _, s := range specs {
		br, _, err := find(c, s.Bridge, "bridge", 0, 0)
		if err != nil {
			return nil, err
		}
		if s.VLAN == 0 {
			continue
		}
		up, err := get(c, s.Uplink)
		if err != nil {
			return nil, fmt.Errorf("bridge %s: uplink %v", s.Bridge, err)
		}
		vl, ok, err := find(c, s.VLANIface(), "vlan", up.index, s.VLAN)
		if err != nil {
			return nil, err
		}
		// Another bridge's port (netifd's br-lan, say) is not taken from it.
		if ok && vl.master != 0 && vl.master != br.index {
			return nil, fmt.Errorf("%s is a port of %s, not of %s: trustjoin leaves it alone", s.VLANIface(), nameOf(c, vl.master), s.Bridge)
		}
	}
	for _, s := range specs {
		br, made, err := ensure(c, s.Bridge, "bridge", 0, 0)
		if made {
			created = append(created, s.Bridge)
		}
		if err != nil {
			return created, err
		}
		if err := setLink(c, br, 0); err != nil {
			return created, fmt.Errorf("failed to bring %s up: %v", s.Bridge, err)
		}
		if s.VLAN == 0 {
			continue
		}
		up, err := get(c, s.Uplink)
		if err != nil {
			return created, fmt.Errorf("bridge %s: uplink %v", s.Bridge, err)
		}
		vl, made, err := ensure(c, s.VLANIface(), "vlan", up.index, s.VLAN)
		if made {
			created = append(created, s.VLANIface())
		}
		if err != nil {
			return created, err
		}
		if err := setLink(c, vl, br); err != nil {
			return created, fmt.Errorf("failed to make %s a port of %s: %v", s.VLANIface(), s.Bridge, err)
		}
	}
	return created, nil
}

// link is what Ensure needs to know of an existing link.
type link struct {
	index  uint32
	kind   string // IFLA_INFO_KIND: "bridge", "vlan"; empty for a physical one
	parent uint32 // IFLA_LINK: the lower link of a VLAN interface
	master uint32 // IFLA_MASTER: the bridge of a port
	vlan   int    // IFLA_VLAN_ID
}

// errNoLink is a link that is not there.
var errNoLink = errors.New("no such interface")

// get looks up the named link; a missing one is errNoLink.
func get(c *netlink.Conn, name string) (link, error) {
	attrs, _ := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.IFLA_IFNAME, Data: append([]byte(name), 0)}})
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request},
		Data:   append(make([]byte, unix.SizeofIfInfomsg), attrs...),
	})
	if errors.Is(err, unix.ENODEV) {
		return link{}, fmt.Errorf("%s: %w", name, errNoLink)
	}
	if err != nil {
		return link{}, err
	}
	if len(msgs) != 1 || len(msgs[0].Data) < unix.SizeofIfInfomsg {
		return link{}, fmt.Errorf("unexpected answer about link %s", name)
	}
	l := link{index: binary.NativeEndian.Uint32(msgs[0].Data[4:8])}
	ad, err := netlink.NewAttributeDecoder(msgs[0].Data[unix.SizeofIfInfomsg:])
	if err != nil {
		return link{}, fmt.Errorf("link %s: %v", name, err)
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.IFLA_LINK:
			l.parent = ad.Uint32()
		case unix.IFLA_MASTER:
			l.master = ad.Uint32()
		case unix.IFLA_LINKINFO:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					switch nad.Type() {
					case unix.IFLA_INFO_KIND:
						l.kind = nad.String()
					case unix.IFLA_INFO_DATA:
						if l.kind != "vlan" {
							continue
						}
						nad.Nested(func(vad *netlink.AttributeDecoder) error {
							for vad.Next() {
								if vad.Type() == unix.IFLA_VLAN_ID {
									l.vlan = int(vad.Uint16())
								}
							}
							return nil
						})
					}
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return link{}, fmt.Errorf("link %s: %v", name, err)
	}
	return l, nil
}

// find returns link name and whether it exists; an existing link must be
// of kind (a VLAN interface: with parent link and id vid).
func find(c *netlink.Conn, name, kind string, parent uint32, vid int) (link, bool, error) {
	l, err := get(c, name)
	switch {
	case errors.Is(err, errNoLink):
		return link{}, false, nil
	case err != nil:
		return link{}, false, fmt.Errorf("failed to look up %s: %v", name, err)
	case l.kind != kind:
		return link{}, true, fmt.Errorf("%s exists but is not a %s (kind %q): trustjoin leaves it alone", name, kind, l.kind)
	case kind == "vlan" && (l.vlan != vid || l.parent != parent):
		return link{}, true, fmt.Errorf("%s exists but is not VLAN %d on %s (it is VLAN %d on %s): trustjoin leaves it alone",
			name, vid, nameOf(c, parent), l.vlan, nameOf(c, l.parent))
	}
	return l, true, nil
}

// nameOf names link i, for messages.
func nameOf(c *netlink.Conn, i uint32) string {
	msg := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(msg[4:8], i)
	msgs, err := c.Execute(netlink.Message{Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request}, Data: msg})
	if err == nil && len(msgs) == 1 && len(msgs[0].Data) > unix.SizeofIfInfomsg {
		if ad, err := netlink.NewAttributeDecoder(msgs[0].Data[unix.SizeofIfInfomsg:]); err == nil {
			for ad.Next() {
				if ad.Type() == unix.IFLA_IFNAME {
					return ad.String()
				}
			}
		}
	}
	return fmt.Sprintf("ifindex %d", i)
}

// ensure returns the index of link name, creating it (see find) when
// missing, and whether it did.
func ensure(c *netlink.Conn, name, kind string, parent uint32, vid int) (uint32, bool, error) {
	if l, ok, err := find(c, name, kind, parent, vid); ok || err != nil {
		return l.index, false, err
	}
	info := []netlink.Attribute{{Type: unix.IFLA_INFO_KIND, Data: []byte(kind)}}
	if kind == "vlan" {
		data, _ := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.IFLA_VLAN_ID, Data: binary.NativeEndian.AppendUint16(nil, uint16(vid))}})
		info = append(info, netlink.Attribute{Type: unix.NLA_F_NESTED | unix.IFLA_INFO_DATA, Data: data})
	}
	infoB, err := netlink.MarshalAttributes(info)
	if err != nil {
		return 0, false, err
	}
	attrs := []netlink.Attribute{
		{Type: unix.IFLA_IFNAME, Data: append([]byte(name), 0)},
		{Type: unix.NLA_F_NESTED | unix.IFLA_LINKINFO, Data: infoB},
	}
	if parent != 0 {
		attrs = append(attrs, netlink.Attribute{Type: unix.IFLA_LINK, Data: binary.NativeEndian.AppendUint32(nil, parent)})
	}
	b, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		return 0, false, err
	}
	if _, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_NEWLINK, Flags: netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Excl},
		Data:   append(make([]byte, unix.SizeofIfInfomsg), b...),
	}); err != nil {
		return 0, false, fmt.Errorf("failed to create %s %s: %w", kind, name, err)
	}
	l, err := get(c, name)
	if err != nil {
		return 0, true, fmt.Errorf("created %s but cannot find it: %v", name, err)
	}
	return l.index, true, nil
}

// setLink brings link i up and, with master, makes it a port of master.
func setLink(c *netlink.Conn, i, master uint32) error {
	msg := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(msg[4:8], i)
	binary.NativeEndian.PutUint32(msg[8:12], unix.IFF_UP)  // flags
	binary.NativeEndian.PutUint32(msg[12:16], unix.IFF_UP) // change
	if master != 0 {
		b, _ := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.IFLA_MASTER, Data: binary.NativeEndian.AppendUint32(nil, master)}})
		msg = append(msg, b...)
	}
	_, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_NEWLINK, Flags: netlink.Request | netlink.Acknowledge},
		Data:   msg,
	})
	return err
}
