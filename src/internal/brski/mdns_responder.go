package brski

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/ipv6"
)

// The proxy's own DNS-SD announcement, _brski-proxy._tcp.local (RFC 8995
// Appendix B), answered only on the join interfaces. No TXT keys: RFC 8995
// defines none.

const proxyService = "_brski-proxy._tcp.local."

// startMDNS opens the shared mDNS socket; interfaces join its group as
// they get listeners.
func (p *Proxy) startMDNS(ctx context.Context) (func(), error) {
	pc, err := p.net.ListenShared(ctx, "udp6", fmt.Sprintf("[::]:%d", mdnsPort))
	if err != nil {
		return nil, err
	}
	c := ipv6.NewPacketConn(pc)
	if err := c.SetControlMessage(ipv6.FlagInterface, true); err != nil {
		pc.Close()
		return nil, err
	}
	p.mu.Lock()
	p.mdns = c
	p.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.answerMDNS(c)
	}()
	return func() { pc.Close(); <-done }, nil
}

// mdnsJoin makes the interface of a link-local listener a = ll%index hear
// mDNS queries, and records its address for the answers.
func (p *Proxy) mdnsJoin(a listenAddr) error {
	p.mu.Lock()
	c := p.mdns
	p.mu.Unlock()
	if c == nil || !a.ll.IsValid() {
		return nil
	}
	idx, _ := strconv.Atoi(a.zone)
	ifi := &net.Interface{Index: idx}
	if err := c.JoinGroup(ifi, &net.UDPAddr{IP: mdnsGroup.AsSlice()}); err != nil && !errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("failed to join ff02::fb: %w", err)
	}
	p.mu.Lock()
	p.mdnsAddrs[idx] = a
	p.mu.Unlock()
	return nil
}

// mdnsAnswer builds the records for the listener a; legacy unicast
// answers echo the query's id and question (RFC 6762 §6.7).
func (p *Proxy) mdnsAnswer(a listenAddr, ifname string, id uint16, qs []dnsmessage.Question, ttl uint32) ([]byte, error) {
	svc, err := dnsmessage.NewName(proxyService)
	if err != nil {
		return nil, err
	}
	inst, err := dnsmessage.NewName("trustjoin-" + ifname + "." + proxyService)
	if err != nil {
		return nil, err
	}
	host, err := dnsmessage.NewName("trustjoin-brski-" + ifname + ".local.")
	if err != nil {
		return nil, err
	}
	hdr := func(n dnsmessage.Name, t dnsmessage.Type, flush bool) dnsmessage.ResourceHeader {
		class := dnsmessage.ClassINET
		if flush && ttl > 10 {
			class |= 1 << 15 // cache-flush: these records are ours alone
		}
		return dnsmessage.ResourceHeader{Name: n, Type: t, Class: class, TTL: ttl}
	}
	m := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, Response: true, Authoritative: true},
		Questions: qs,
		Answers:   []dnsmessage.Resource{{Header: hdr(svc, dnsmessage.TypePTR, false), Body: &dnsmessage.PTRResource{PTR: inst}}},
		Additionals: []dnsmessage.Resource{
			{Header: hdr(inst, dnsmessage.TypeSRV, true), Body: &dnsmessage.SRVResource{Target: host, Port: uint16(p.cfg.Port)}},
			{Header: hdr(inst, dnsmessage.TypeTXT, true), Body: &dnsmessage.TXTResource{TXT: []string{""}}},
			{Header: hdr(host, dnsmessage.TypeAAAA, true), Body: &dnsmessage.AAAAResource{AAAA: a.ll.As16()}},
		},
	}
	return m.Pack()
}

func (p *Proxy) answerMDNS(c *ipv6.PacketConn) {
	buf := make([]byte, 9000)
	for {
		n, cm, from, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		if cm == nil {
			continue
		}
		p.mu.Lock()
		a, ours := p.mdnsAddrs[cm.IfIndex]
		p.mu.Unlock()
		ua, ok := from.(*net.UDPAddr)
		if !ours || !ok {
			continue
		}
		var q dnsmessage.Message
		if q.Unpack(buf[:n]) != nil || q.Header.Response {
			continue
		}
		ifname := p.ifname(cm.IfIndex)
		// Our names: the service (PTR), the instance (SRV, TXT), the
		// host (AAAA); one answer carries them all.
		names := map[string]bool{
			strings.ToLower(proxyService):                               true,
			strings.ToLower("trustjoin-" + ifname + "." + proxyService): true,
			strings.ToLower("trustjoin-brski-" + ifname + ".local."):    true,
		}
		asked, unicast := false, ua.Port != mdnsPort
		for _, qq := range q.Questions {
			if names[strings.ToLower(qq.Name.String())] {
				asked = true
				unicast = unicast || qq.Class&(1<<15) != 0 // QU
			}
		}
		if !asked {
			continue
		}
		var b []byte
		var dst net.Addr
		if ua.Port != mdnsPort {
			b, err = p.mdnsAnswer(a, ifname, q.Header.ID, q.Questions, 10)
			dst = from
		} else {
			b, err = p.mdnsAnswer(a, ifname, 0, nil, 120)
			dst = &net.UDPAddr{IP: mdnsGroup.AsSlice(), Port: mdnsPort}
			if unicast {
				dst = from
			}
		}
		if err != nil {
			continue
		}
		if _, err := c.WriteTo(b, &ipv6.ControlMessage{IfIndex: cm.IfIndex}, dst); err != nil {
			p.log.Debug("brski join proxy could not answer mDNS", "to", dst, "err", err)
		}
	}
}

// mdnsAnnounce sends the records unasked (RFC 6762 §8.3), which RFC 8995
// Appendix B says pledges should listen for.
func (p *Proxy) mdnsAnnounce(a listenAddr, ifname string) error {
	p.mu.Lock()
	c := p.mdns
	p.mu.Unlock()
	if c == nil || !a.ll.IsValid() {
		return nil
	}
	b, err := p.mdnsAnswer(a, ifname, 0, nil, 120)
	if err != nil {
		return err
	}
	idx, _ := strconv.Atoi(a.zone)
	_, err = c.WriteTo(b, &ipv6.ControlMessage{IfIndex: idx}, &net.UDPAddr{IP: mdnsGroup.AsSlice(), Port: mdnsPort})
	return err
}

func (p *Proxy) ifname(idx int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n, ok := p.ifnames[idx]; ok {
		return n
	}
	return strconv.Itoa(idx)
}
