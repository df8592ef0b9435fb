package firewall

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// TTL bounds: a zero TTL would make the set flap, a huge one keep a moved
// service's old address allowed for days.
const (
	minTTL = 30 * time.Second
	maxTTL = 24 * time.Hour
)

// resolve asks server for the A and AAAA records of name, following the
// CNAME chain the resolver returns in its answer. The TTL is the smallest
// in the answers, clamped.
func resolve(ctx context.Context, server, name string) (answer, error) {
	var a answer
	var ttl uint32 = ^uint32(0)
	for _, t := range []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA} {
		addrs, tt, err := query(ctx, server, name, t)
		if err != nil {
			return answer{}, err
		}
		a.addrs = append(a.addrs, addrs...)
		if len(addrs) > 0 && tt < ttl {
			ttl = tt
		}
	}
	a.ttl = time.Duration(ttl) * time.Second
	if len(a.addrs) == 0 {
		a.ttl = minTTL
	}
	a.ttl = min(max(a.ttl, minTTL), maxTTL)
	return a, nil
}

func query(ctx context.Context, server, name string, t dnsmessage.Type) ([]netip.Addr, uint32, error) {
	fqdn := strings.TrimSuffix(name, ".") + "."
	n, err := dnsmessage.NewName(fqdn)
	if err != nil {
		return nil, 0, fmt.Errorf("bad DNS name %q: %v", name, err)
	}
	var idb [2]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, 0, err
	}
	id := binary.BigEndian.Uint16(idb[:])
	msg := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: n, Type: t, Class: dnsmessage.ClassINET}},
	}
	b, err := msg.Pack()
	if err != nil {
		return nil, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", server)
	if err != nil {
		return nil, 0, fmt.Errorf("failed to reach resolver %s: %v", server, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write(b); err != nil {
		return nil, 0, fmt.Errorf("failed to ask %s about %s: %v", server, name, err)
	}
	buf := make([]byte, 4096)
	for {
		nr, err := conn.Read(buf)
		if err != nil {
			return nil, 0, fmt.Errorf("no answer from %s about %s: %v", server, name, err)
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:nr])
		if err != nil || h.ID != id || !h.Response {
			continue // not ours: keep waiting for the real answer
		}
		if h.RCode == dnsmessage.RCodeNameError {
			return nil, 0, nil
		}
		if h.RCode != dnsmessage.RCodeSuccess {
			return nil, 0, fmt.Errorf("resolver %s answered %v for %s", server, h.RCode, name)
		}
		if err := p.SkipAllQuestions(); err != nil {
			return nil, 0, fmt.Errorf("bad answer about %s: %v", name, err)
		}
		var out []netip.Addr
		var ttl uint32 = ^uint32(0)
		for {
			rh, err := p.AnswerHeader()
			if err == dnsmessage.ErrSectionDone {
				break
			}
			if err != nil {
				return nil, 0, fmt.Errorf("bad answer about %s: %v", name, err)
			}
			switch rh.Type {
			case dnsmessage.TypeA:
				r, err := p.AResource()
				if err != nil {
					return nil, 0, err
				}
				out = append(out, netip.AddrFrom4(r.A))
			case dnsmessage.TypeAAAA:
				r, err := p.AAAAResource()
				if err != nil {
					return nil, 0, err
				}
				out = append(out, netip.AddrFrom16(r.AAAA))
			default:
				if err := p.SkipAnswer(); err != nil {
					return nil, 0, err
				}
				continue
			}
			ttl = min(ttl, rh.TTL)
		}
		return out, ttl, nil
	}
}
