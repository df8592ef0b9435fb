package behaviour

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// nfnetlink_log (NFLOG), from linux/netfilter/nfnetlink_log.h: a socket
// bound to a log group receives the packets nftables rules log to it
// ("log group N prefix P").
const (
	nfnlSubsysULOG = 4
	msgPacket      = 0
	msgConfig      = 1

	cfgCmd     = 1 // NFULA_CFG_CMD: struct nfulnl_msg_config_cmd (u8)
	cfgMode    = 2 // NFULA_CFG_MODE: __be32 copy_range, u8 copy_mode, u8 pad
	cfgNLBuf   = 3 // NFULA_CFG_NLBUFSIZ: __be32
	cfgTimeout = 4 // NFULA_CFG_TIMEOUT: __be32, hundredths of a second
	cfgQThresh = 5 // NFULA_CFG_QTHRESH: __be32

	cmdBind   = 1
	cmdUnbind = 2
	copyPkt   = 2

	attrHWAddr  = 8  // NFULA_HWADDR: __be16 len, u16 pad, u8 addr[8]
	attrPayload = 9  // NFULA_PAYLOAD
	attrPrefix  = 10 // NFULA_PREFIX: NUL-terminated
	attrInDev   = 4  // NFULA_IFINDEX_INDEV: __be32
	attrOutDev  = 5  // NFULA_IFINDEX_OUTDEV: __be32
)

// nflog is a socket bound to one NFLOG group.
type nflog struct {
	c     *netlink.Conn
	group uint16
}

// openNFLOG binds group in the network namespace netns (0: the
// process's own), copying at most copyRange bytes of each packet. The
// kernel batches up to qthresh packets, or what came within flush, into
// one read, which is what keeps watching cheap under a flood.
func openNFLOG(netns int, group uint16, copyRange uint32, qthresh uint32, flush time.Duration) (*nflog, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netns})
	if err != nil {
		return nil, fmt.Errorf("failed to open nfnetlink: %v", err)
	}
	n := &nflog{c: c, group: group}
	// Room for bursts: what does not fit is lost (and counted), never
	// blocking the packets themselves.
	_ = c.SetReadBuffer(1 << 20)
	mode := binary.BigEndian.AppendUint32(nil, copyRange)
	mode = append(mode, copyPkt, 0)
	steps := [][]attr{
		{{cfgCmd, []byte{cmdBind}}},
		{{cfgMode, mode}},
		{{cfgQThresh, binary.BigEndian.AppendUint32(nil, qthresh)}},
		{{cfgTimeout, binary.BigEndian.AppendUint32(nil, uint32(flush/(10*time.Millisecond)))}},
		{{cfgNLBuf, binary.BigEndian.AppendUint32(nil, 64<<10)}},
	}
	for i, s := range steps {
		if err := n.config(s); err != nil {
			c.Close()
			if i == 0 && errors.Is(err, unix.EPERM) {
				// The kernel says EPERM when another socket has the group.
				return nil, fmt.Errorf("NFLOG group %d is taken by another program (or trustjoin lacks CAP_NET_ADMIN)", group)
			}
			return nil, fmt.Errorf("failed to set up NFLOG group %d: %v", group, err)
		}
	}
	return n, nil
}

type attr struct {
	typ  uint16
	data []byte
}

func (n *nflog) config(attrs []attr) error {
	ae := netlink.NewAttributeEncoder()
	for _, a := range attrs {
		ae.Bytes(a.typ, a.data)
	}
	b, err := ae.Encode()
	if err != nil {
		return err
	}
	// struct nfgenmsg: family, version, res_id (the group, big-endian).
	hdr := []byte{unix.AF_UNSPEC, 0, 0, 0}
	binary.BigEndian.PutUint16(hdr[2:], n.group)
	_, err = n.c.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(nfnlSubsysULOG<<8 | msgConfig), Flags: netlink.Request | netlink.Acknowledge},
		Data:   append(hdr, b...),
	})
	return err
}

// close unbinds the group, so another run can take it at once.
func (n *nflog) close() error {
	_ = n.config([]attr{{cfgCmd, []byte{cmdUnbind}}})
	return n.c.Close()
}

// errLost says the socket overflowed: packets were logged faster than
// they were read, and some were lost.
var errLost = errors.New("NFLOG packets lost")

// read returns the next batch of packets. It unblocks with an error once
// ctx is cancelled.
func (n *nflog) read(ctx context.Context) ([]Packet, error) {
	stop := context.AfterFunc(ctx, func() { n.c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	msgs, err := n.c.Receive()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, unix.ENOBUFS) {
			return nil, errLost
		}
		return nil, err
	}
	out := make([]Packet, 0, len(msgs))
	for _, m := range msgs {
		if m.Header.Type != netlink.HeaderType(nfnlSubsysULOG<<8|msgPacket) || len(m.Data) < 4 {
			continue
		}
		p, ok := parsePacket(m.Data[4:])
		if ok {
			out = append(out, p)
		}
	}
	return out, nil
}

func parsePacket(b []byte) (Packet, bool) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return Packet{}, false
	}
	ad.ByteOrder = binary.BigEndian
	var p Packet
	for ad.Next() {
		switch ad.Type() {
		case attrPrefix:
			p.Prefix = trimNUL(ad.Bytes())
		case attrHWAddr:
			if v := ad.Bytes(); len(v) >= 4 {
				l := int(binary.BigEndian.Uint16(v[0:2]))
				if l == 6 && len(v) >= 4+l {
					p.MAC = append(net.HardwareAddr(nil), v[4:4+l]...)
				}
			}
		case attrInDev:
			p.InDev = ad.Uint32()
		case attrOutDev:
			p.OutDev = ad.Uint32()
		case attrPayload:
			p.Payload = append([]byte(nil), ad.Bytes()...)
		}
	}
	return p, ad.Err() == nil
}

func trimNUL(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
