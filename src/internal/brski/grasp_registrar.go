package brski

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/net/ipv6"
)

// Registrar discovery by GRASP (RFC 8995 §4.3): with no registrar_host,
// the proxy also listens on the upstream interfaces for M_FLOOD
// AN_join_registrar and takes the TCP locator of the latest one. Floods
// are unauthenticated: they are taken only from link-local senders on
// interfaces that are not join interfaces, like mDNS answers.

// graspRegistrar is the registrar learnt from a flood.
type graspRegistrar struct {
	addr    netip.AddrPort // zone = interface index when link-local
	shown   string
	expires time.Time // zero: for ever
}

func (p *Proxy) startGRASPListener(ctx context.Context) (func(), error) {
	pc, err := p.net.ListenShared(ctx, "udp6", fmt.Sprintf("[::]:%d", GRASPPort))
	if err != nil {
		return nil, err
	}
	c := ipv6.NewPacketConn(pc)
	if err := c.SetControlMessage(ipv6.FlagInterface, true); err != nil {
		pc.Close()
		return nil, err
	}
	ifs, err := p.net.Interfaces()
	if err != nil {
		pc.Close()
		return nil, err
	}
	joined := 0
	for _, ifi := range ifs {
		if !p.upstream(ifi) {
			continue
		}
		if err := c.JoinGroup(&ifi, &net.UDPAddr{IP: AllGRASPNeighbors.AsSlice()}); err == nil || errors.Is(err, syscall.EADDRINUSE) {
			joined++
		}
	}
	if joined == 0 {
		pc.Close()
		return nil, errors.New("no upstream interface to hear GRASP on")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.readRegistrarFloods(c)
	}()
	return func() { pc.Close(); <-done }, nil
}

// upstream reports whether registrars are looked for on ifi.
func (p *Proxy) upstream(ifi net.Interface) bool {
	return ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0 && ifi.Flags&net.FlagLoopback == 0 &&
		!slices.Contains(p.cfg.Interfaces, ifi.Name)
}

func (p *Proxy) readRegistrarFloods(c *ipv6.PacketConn) {
	buf := make([]byte, maxGRASP+1)
	for {
		n, cm, from, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok || cm == nil {
			continue
		}
		src := ua.AddrPort().Addr().WithZone("")
		ifs, _ := p.net.Interfaces()
		var ifi *net.Interface
		for i := range ifs {
			if ifs[i].Index == cm.IfIndex {
				ifi = &ifs[i]
			}
		}
		if ifi == nil || !p.upstream(*ifi) || !src.IsLinkLocalUnicast() {
			p.count(func(k *Counters) { k.GRASPIgnored++ })
			continue
		}
		f, err := DecodeFlood(buf[:n])
		if err != nil {
			p.log.Debug("brski join proxy ignored a GRASP message", "from", src, "err", err)
			p.count(func(k *Counters) { k.GRASPIgnored++ })
			continue
		}
		used := false
		for _, o := range f.Objectives {
			l := o.Locator
			if o.Name != ObjectiveRegistrar || o.Flags&fSynch == 0 || l == nil || l.Option != oIPv6Locator || l.Proto != 6 || l.Port == 0 {
				continue
			}
			addr, shown := l.Addr, l.Addr
			if addr.IsLinkLocalUnicast() {
				addr, shown = addr.WithZone(strconv.Itoa(ifi.Index)), addr.WithZone(ifi.Name)
			}
			r := graspRegistrar{addr: netip.AddrPortFrom(addr, l.Port), shown: netip.AddrPortFrom(shown, l.Port).String()}
			if f.TTL > 0 {
				r.expires = time.Now().Add(time.Duration(f.TTL) * time.Millisecond)
			}
			p.mu.Lock()
			p.grasp = &r
			if !p.regAddr.IsValid() {
				p.registrar = Registrar{Host: l.Addr.String(), Port: int(l.Port), Source: "grasp"}
			}
			p.mu.Unlock()
			used = true
			break
		}
		if !used {
			p.count(func(k *Counters) { k.GRASPIgnored++ })
		}
	}
}

// fromGRASP returns the registrar learnt from a flood still valid.
func (p *Proxy) fromGRASP() (graspRegistrar, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.grasp == nil || !p.grasp.expires.IsZero() && time.Now().After(p.grasp.expires) {
		return graspRegistrar{}, false
	}
	return *p.grasp, true
}
