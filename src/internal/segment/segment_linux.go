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
// there, up, and a port of the bridge. What exists is left as it is.
func (p *Plumber) Ensure(specs []Spec) error {
	for _, s := range specs {
		if err := s.validate(); err != nil {
			return err
		}
	}
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: p.NetNS})
	if err != nil {
		return fmt.Errorf("failed to open rtnetlink: %v", err)
	}
	defer c.Close()
	for _, s := range specs {
		br, err := ensure(c, s.Bridge, "bridge", 0, nil)
		if err != nil {
			return err
		}
		if err := setLink(c, br, 0); err != nil {
			return fmt.Errorf("failed to bring %s up: %v", s.Bridge, err)
		}
		if s.VLAN == 0 {
			continue
		}
		up, err := index(c, s.Uplink)
		if err != nil {
			return fmt.Errorf("uplink %s: %v", s.Uplink, err)
		}
		vid := binary.NativeEndian.AppendUint16(nil, uint16(s.VLAN))
		data, _ := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.IFLA_VLAN_ID, Data: vid}})
		vl, err := ensure(c, s.VLANIface(), "vlan", up, data)
		if err != nil {
			return err
		}
		if err := setLink(c, vl, br); err != nil {
			return fmt.Errorf("failed to make %s a port of %s: %v", s.VLANIface(), s.Bridge, err)
		}
	}
	return nil
}

// index returns the index of the named link.
func index(c *netlink.Conn, name string) (uint32, error) {
	attrs, _ := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.IFLA_IFNAME, Data: append([]byte(name), 0)}})
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request},
		Data:   append(make([]byte, unix.SizeofIfInfomsg), attrs...),
	})
	if err != nil {
		return 0, err
	}
	if len(msgs) != 1 || len(msgs[0].Data) < unix.SizeofIfInfomsg {
		return 0, fmt.Errorf("unexpected answer about link %s", name)
	}
	return binary.NativeEndian.Uint32(msgs[0].Data[4:8]), nil
}

// ensure returns the index of link name, creating it of kind (with parent
// link and kind-specific data) when missing.
func ensure(c *netlink.Conn, name, kind string, link uint32, data []byte) (uint32, error) {
	if i, err := index(c, name); err == nil {
		return i, nil
	} else if !errors.Is(err, unix.ENODEV) {
		return 0, fmt.Errorf("failed to look up %s: %v", name, err)
	}
	info := []netlink.Attribute{{Type: unix.IFLA_INFO_KIND, Data: []byte(kind)}}
	if data != nil {
		info = append(info, netlink.Attribute{Type: unix.NLA_F_NESTED | unix.IFLA_INFO_DATA, Data: data})
	}
	infoB, err := netlink.MarshalAttributes(info)
	if err != nil {
		return 0, err
	}
	attrs := []netlink.Attribute{
		{Type: unix.IFLA_IFNAME, Data: append([]byte(name), 0)},
		{Type: unix.NLA_F_NESTED | unix.IFLA_LINKINFO, Data: infoB},
	}
	if link != 0 {
		attrs = append(attrs, netlink.Attribute{Type: unix.IFLA_LINK, Data: binary.NativeEndian.AppendUint32(nil, link)})
	}
	b, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		return 0, err
	}
	if _, err := c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_NEWLINK, Flags: netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Excl},
		Data:   append(make([]byte, unix.SizeofIfInfomsg), b...),
	}); err != nil {
		return 0, fmt.Errorf("failed to create %s %s: %w", kind, name, err)
	}
	return index(c, name)
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
