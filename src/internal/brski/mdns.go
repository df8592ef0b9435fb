package brski

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Registrar discovery by DNS-SD over mDNS (RFC 8995 Appendix B): a
// one-shot query for _brski-registrar._tcp.local sent from an ephemeral
// port, so responders answer by unicast (RFC 6762 §6.7) and the proxy
// never competes with the router's own mDNS responder for port 5353.

const (
	registrarService = "_brski-registrar._tcp.local."
	mdnsPort         = 5353
	// mdnsWait is how long answers are collected per interface.
	mdnsWait = 2 * time.Second
)

var mdnsGroup = netip.MustParseAddr("ff02::fb")

// discoverRegistrar looks for a registrar on every multicast interface
// except the join interfaces: an unenrolled device there must not be able
// to pose as the registrar.
func (p *Proxy) discoverRegistrar(ctx context.Context) (netip.AddrPort, string, error) {
	ifs, err := p.net.Interfaces()
	if err != nil {
		return netip.AddrPort{}, "", fmt.Errorf("failed to list interfaces: %w", err)
	}
	var tried []string
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 || ifi.Flags&net.FlagLoopback != 0 ||
			slices.Contains(p.cfg.Interfaces, ifi.Name) {
			continue
		}
		tried = append(tried, ifi.Name)
		ap, err := p.queryRegistrar(ctx, ifi)
		if err == nil {
			return ap, ifi.Name, nil
		}
		p.log.Debug("no registrar found by mDNS", "interface", ifi.Name, "err", err)
	}
	if len(tried) == 0 {
		return netip.AddrPort{}, "", errors.New("no registrar_host configured and no upstream interface to look for one by mDNS")
	}
	return netip.AddrPort{}, "", fmt.Errorf("no registrar_host configured and no %s answered on %s", registrarService, strings.Join(tried, ", "))
}

func (p *Proxy) queryRegistrar(ctx context.Context, ifi net.Interface) (netip.AddrPort, error) {
	_, addrs, err := p.net.Interface(ifi.Name)
	if err != nil {
		return netip.AddrPort{}, err
	}
	zone := strconv.Itoa(ifi.Index)
	var ll netip.Addr
	for _, a := range addrs {
		if a.Is6() && a.IsLinkLocalUnicast() {
			ll = a
			break
		}
	}
	if !ll.IsValid() {
		return netip.AddrPort{}, errors.New("no IPv6 link-local address")
	}
	pc, err := p.net.ListenPacket(ctx, "udp6", netip.AddrPortFrom(ll.WithZone(zone), 0).String())
	if err != nil {
		return netip.AddrPort{}, err
	}
	defer pc.Close()
	var idb [2]byte
	rand.Read(idb[:])
	id := binary.BigEndian.Uint16(idb[:])
	q, err := mdnsQuery(id, registrarService)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if _, err := pc.WriteTo(q, &net.UDPAddr{IP: mdnsGroup.AsSlice(), Zone: zone, Port: mdnsPort}); err != nil {
		return netip.AddrPort{}, fmt.Errorf("failed to send the mDNS query: %w", err)
	}
	deadline := time.Now().Add(mdnsWait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	pc.SetReadDeadline(deadline)
	buf := make([]byte, 9000)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("no usable answer: %w", err)
		}
		if ap, err := serviceFromAnswer(buf[:n], registrarService, id); err == nil {
			if ap.Addr().Is6() && ap.Addr().IsLinkLocalUnicast() {
				ap = netip.AddrPortFrom(ap.Addr().WithZone(zone), ap.Port())
			}
			return ap, nil
		}
	}
}

func mdnsQuery(id uint16, service string) ([]byte, error) {
	name, err := dnsmessage.NewName(service)
	if err != nil {
		return nil, err
	}
	m := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id},
		Questions: []dnsmessage.Question{{Name: name, Type: dnsmessage.TypePTR, Class: dnsmessage.ClassINET}},
	}
	return m.Pack()
}

// serviceFromAnswer follows service's PTR → SRV → AAAA/A in one mDNS
// answer to query id (or an unsolicited one, id 0).
func serviceFromAnswer(b []byte, service string, id uint16) (netip.AddrPort, error) {
	var m dnsmessage.Message
	if err := m.Unpack(b); err != nil {
		return netip.AddrPort{}, fmt.Errorf("malformed mDNS answer: %w", err)
	}
	if !m.Header.Response || m.Header.ID != id && m.Header.ID != 0 {
		return netip.AddrPort{}, errors.New("not an answer to our query")
	}
	records := append(m.Answers, m.Additionals...)
	var instance string
	for _, r := range records {
		if ptr, ok := r.Body.(*dnsmessage.PTRResource); ok && strings.EqualFold(r.Header.Name.String(), service) {
			instance = ptr.PTR.String()
			break
		}
	}
	if instance == "" {
		return netip.AddrPort{}, errors.New("no " + service + " PTR record")
	}
	var target string
	var port uint16
	for _, r := range records {
		if srv, ok := r.Body.(*dnsmessage.SRVResource); ok && strings.EqualFold(r.Header.Name.String(), instance) {
			target, port = srv.Target.String(), srv.Port
			break
		}
	}
	if target == "" || port == 0 {
		return netip.AddrPort{}, fmt.Errorf("no SRV record for %s", instance)
	}
	var v4 netip.Addr
	for _, r := range records {
		if !strings.EqualFold(r.Header.Name.String(), target) {
			continue
		}
		switch body := r.Body.(type) {
		case *dnsmessage.AAAAResource:
			return netip.AddrPortFrom(netip.AddrFrom16(body.AAAA), port), nil
		case *dnsmessage.AResource:
			v4 = netip.AddrFrom4(body.A)
		}
	}
	if v4.IsValid() {
		return netip.AddrPortFrom(v4, port), nil
	}
	return netip.AddrPort{}, fmt.Errorf("no address record for %s", target)
}
