package brski

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"golang.org/x/net/ipv6"
)

// StatelessConfig is what the constrained, stateless join proxy needs.
type StatelessConfig struct {
	Interfaces []string
	// Port is the join port pledges send DTLS datagrams to.
	Port int
	// RegistrarHost and JPYPort say where the registrar takes JPY
	// messages (the draft has no default port).
	RegistrarHost string
	JPYPort       int
	// DiscoveryPort is where pledges ask CoAP discovery
	// (/.well-known/core?brski-jp); zero answers none.
	DiscoveryPort int
	// KeyRotation is how often the header key is replaced, KeyGrace how
	// long the previous one still opens headers: a header is accepted
	// back for at most their sum.
	KeyRotation, KeyGrace time.Duration
	// Admit, if set, is asked about each pledge address before its
	// datagrams are relayed (the authorisation hook); an error refuses it.
	// The answer is kept for a while (gate.go). It may take seconds.
	Admit func(ctx context.Context, pledge netip.AddrPort, ifname string) error
}

// StatelessConfigFrom takes the stateless proxy's settings from the
// configuration.
func StatelessConfigFrom(b config.BRSKI) StatelessConfig {
	return StatelessConfig{
		Interfaces:    b.Interfaces,
		Port:          b.StatelessPort,
		RegistrarHost: b.RegistrarHost,
		JPYPort:       b.JPYPort,
		DiscoveryPort: CoAPPort,
		// Daily, as the draft recommends (§4.5.5): each rotation changes
		// every pledge's header, which the registrar takes for a new
		// connection. Answers to a pledge's last datagrams under the old
		// key still get through for the grace period.
		KeyRotation: 24 * time.Hour,
		KeyGrace:    5 * time.Minute,
	}
}

// StatelessStatus is what the stateless proxy reports.
type StatelessStatus struct {
	Listeners []string          `json:"listeners"`
	Problems  []string          `json:"problems"`
	Registrar string            `json:"registrar"`
	Counters  StatelessCounters `json:"counters"`
}

// StatelessCounters are datagram totals since the proxy started.
type StatelessCounters struct {
	ToRegistrar uint64 `json:"to_registrar"`
	ToPledge    uint64 `json:"to_pledge"`
	// Discoveries counts answers sent from the CoAP discovery port: the
	// join port to matching requests, and to unicast ones whatever RFC
	// 7252 asks (an empty link-format document, 4.04, a Reset…).
	Discoveries uint64 `json:"discoveries"`
	// Dropped: not from the registrar, not a JPY message, a header that
	// fails authentication (not the proxy's, or its key is gone), or
	// anything else.
	DroppedSource    uint64 `json:"dropped_source"`
	DroppedMalformed uint64 `json:"dropped_malformed"`
	DroppedHeader    uint64 `json:"dropped_header"`
	DroppedOther     uint64 `json:"dropped_other"`
	// RefusedHook counts pledges the authorisation hook refused,
	// DroppedHook the datagrams dropped from them while the refusal holds.
	RefusedHook uint64 `json:"refused_hook"`
	DroppedHook uint64 `json:"dropped_hook"`
}

// Stateless is the constrained join proxy in stateless mode
// (draft-ietf-anima-constrained-join-proxy §4.4): it keeps nothing per
// pledge, the pledge's address travels sealed in each JPY header; only
// the authorisation hook's answers are kept, for a while (gate.go).
type Stateless struct {
	cfg   StatelessConfig
	log   *slog.Logger
	net   network
	keys  *headerKeys
	ready chan struct{}

	mu        sync.Mutex
	byIndex   map[int]net.PacketConn
	listening map[string]string
	problems  map[string]string
	registrar netip.AddrPort

	disco *ipv6.PacketConn // CoAP discovery, nil when off
	gate  *gate            // the authorisation hook's answers, nil without one

	toRegistrar, toPledge, discoveries, dropSource, dropMalformed, dropHeader, dropOther atomic.Uint64
	refusedHook, dropHook                                                                atomic.Uint64
}

// NewStateless returns the stateless proxy for cfg, with a fresh key.
func NewStateless(log *slog.Logger, cfg StatelessConfig) (*Stateless, error) {
	keys, err := newHeaderKeys(cfg.KeyRotation, cfg.KeyGrace, time.Now)
	if err != nil {
		return nil, err
	}
	return &Stateless{
		cfg: cfg, log: log, net: hostNetwork{}, keys: keys, ready: make(chan struct{}),
		byIndex: map[int]net.PacketConn{}, listening: map[string]string{}, problems: map[string]string{},
	}, nil
}

// String implements daemon.Task.
func (*Stateless) String() string { return "brski stateless join proxy" }

// Ready implements daemon.Task: closed once every interface has a socket.
func (s *Stateless) Ready() <-chan struct{} { return s.ready }

// Status returns a snapshot of the stateless proxy's state.
func (s *Stateless) Status() StatelessStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := StatelessStatus{Listeners: []string{}, Problems: []string{}}
	if s.registrar.IsValid() {
		st.Registrar = s.registrar.String()
	}
	for _, a := range s.listening {
		st.Listeners = append(st.Listeners, a)
	}
	slices.Sort(st.Listeners)
	for ifname, why := range s.problems {
		st.Problems = append(st.Problems, ifname+": "+why)
	}
	slices.Sort(st.Problems)
	st.Counters = StatelessCounters{
		ToRegistrar: s.toRegistrar.Load(), ToPledge: s.toPledge.Load(), Discoveries: s.discoveries.Load(),
		DroppedSource: s.dropSource.Load(), DroppedMalformed: s.dropMalformed.Load(),
		DroppedHeader: s.dropHeader.Load(), DroppedOther: s.dropOther.Load(),
		RefusedHook: s.refusedHook.Load(), DroppedHook: s.dropHook.Load(),
	}
	return st
}

// resolveRegistrar finds the registrar's JPY endpoint; a link-local
// address's zone is turned into the interface index.
func (s *Stateless) resolveRegistrar(ctx context.Context) (netip.AddrPort, error) {
	s.mu.Lock()
	ap := s.registrar
	s.mu.Unlock()
	if ap.IsValid() {
		return ap, nil
	}
	if s.cfg.RegistrarHost == "" {
		return ap, errors.New("no registrar_host configured")
	}
	addr, err := netip.ParseAddr(s.cfg.RegistrarHost)
	if err != nil {
		addrs, lerr := net.DefaultResolver.LookupNetIP(ctx, "ip", s.cfg.RegistrarHost)
		if lerr != nil || len(addrs) == 0 {
			return ap, fmt.Errorf("failed to resolve registrar %q: %v", s.cfg.RegistrarHost, lerr)
		}
		addr = addrs[0].Unmap()
	}
	if z := addr.Zone(); z != "" {
		if _, err := strconv.Atoi(z); err != nil {
			ifi, _, err := s.net.Interface(z)
			if err != nil {
				return ap, fmt.Errorf("registrar %s: %w", addr, err)
			}
			addr = addr.WithZone(strconv.Itoa(ifi.Index))
		}
	}
	ap = netip.AddrPortFrom(addr, uint16(s.cfg.JPYPort))
	s.mu.Lock()
	s.registrar = ap
	s.mu.Unlock()
	return ap, nil
}

// Run implements daemon.Task.
func (s *Stateless) Run(ctx context.Context) error {
	if len(s.cfg.Interfaces) == 0 {
		return errors.New("brski stateless join proxy: no interface to listen on")
	}
	// Towards the registrar: one socket for every pledge (draft §4.5.3).
	up, err := s.net.ListenPacket(ctx, "udp", ":0")
	if err != nil {
		return fmt.Errorf("brski stateless join proxy: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// In this order whatever way Run returns: stop, close the sockets
	// the goroutines read, then wait for them.
	defer wg.Wait()
	defer up.Close()
	if s.cfg.Admit != nil {
		s.gate = &gate{
			admit: s.cfg.Admit, now: time.Now, pledges: map[gateKey]*gateEntry{},
			relay: func(ctx context.Context, idx int, from netip.AddrPort, b []byte) { s.forward(ctx, idx, from, b, up) },
			refused: func(from netip.AddrPort, ifname string, err error) {
				s.refusedHook.Add(1)
				s.log.Info("brski stateless join proxy refused a pledge", "source", from, "interface", ifname, "err", err)
			},
		}
		defer s.gate.wait() // after cancel, before the socket closes
	}
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.fromRegistrar(up)
	}()
	if s.cfg.DiscoveryPort > 0 {
		// Pledges told the join port some other way still work: a CoAP
		// port that is taken is reported, not fatal.
		if dc, err := s.startDiscovery(ctx); err != nil {
			s.log.Warn("brski stateless join proxy answers no CoAP discovery", "err", err)
			s.mu.Lock()
			s.problems["CoAP discovery"] = err.Error()
			s.mu.Unlock()
		} else {
			defer dc.Close() // before wg.Wait, after cancel
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.answerDiscovery()
			}()
		}
	}
	for _, ifname := range s.cfg.Interfaces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveInterface(ctx, ifname, up)
		}()
	}
	<-ctx.Done()
	return nil
}

// serveInterface waits for ifname's link-local address, then relays its
// pledges' datagrams until ctx ends.
func (s *Stateless) serveInterface(ctx context.Context, ifname string, up net.PacketConn) {
	var retry retryTimer
	defer retry.stop()
	for {
		pc, idx, err := s.listen(ctx, ifname)
		if err == nil {
			stop := context.AfterFunc(ctx, func() { pc.Close() })
			s.fromPledges(ctx, pc, idx, ifname, up)
			stop()
			pc.Close()
			s.setListening(ifname, idx, nil, "", errors.New("socket closed"))
			retry.backoff = 0 // it worked: look again soon
		} else {
			s.setListening(ifname, 0, nil, "", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-retry.next(false):
		}
	}
}

func (s *Stateless) listen(ctx context.Context, ifname string) (net.PacketConn, int, error) {
	ifi, addrs, err := s.net.Interface(ifname)
	if err != nil {
		return nil, 0, err
	}
	for _, a := range addrs {
		if !a.Is6() || !a.IsLinkLocalUnicast() {
			continue
		}
		bind := netip.AddrPortFrom(a.WithZone(strconv.Itoa(ifi.Index)), uint16(s.cfg.Port))
		pc, err := s.net.ListenPacket(ctx, "udp6", bind.String())
		if err != nil {
			return nil, 0, fmt.Errorf("failed to listen on %s: %w", bind, err)
		}
		s.mu.Lock()
		disco := s.disco
		s.mu.Unlock()
		if disco != nil {
			group := &net.UDPAddr{IP: AllCoAPNodes[:]}
			if err := disco.JoinGroup(ifi, group); err != nil && !errors.Is(err, syscall.EADDRINUSE) {
				pc.Close()
				return nil, 0, fmt.Errorf("failed to join ff02::fd for CoAP discovery: %w", err)
			}
		}
		// Logged before readiness is signalled, so the log reads in the
		// order things happened.
		s.log.Info("brski stateless join proxy listening", "interface", ifname, "address", bind)
		s.setListening(ifname, ifi.Index, pc, netip.AddrPortFrom(a.WithZone(ifname), uint16(s.cfg.Port)).String(), nil)
		return pc, ifi.Index, nil
	}
	return nil, 0, errors.New("no IPv6 link-local address (yet)")
}

func (s *Stateless) setListening(ifname string, idx int, pc net.PacketConn, shown string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pc != nil {
		s.byIndex[idx] = pc
		s.listening[ifname] = shown
		delete(s.problems, ifname)
	} else {
		delete(s.byIndex, idx)
		delete(s.listening, ifname)
		s.problems[ifname] = err.Error()
	}
	if len(s.listening) == len(s.cfg.Interfaces) {
		select {
		case <-s.ready:
		default:
			close(s.ready)
		}
	}
}

// maxDatagram bounds what is relayed: cBRSKI keeps DTLS records under
// 1024 bytes, so anything filling the buffer was truncated.
const maxDatagram = 2048

func (s *Stateless) fromPledges(ctx context.Context, pc net.PacketConn, idx int, ifname string, up net.PacketConn) {
	buf := make([]byte, maxDatagram)
	for {
		n, from, _, err := recvFrom(pc.(*net.UDPConn), buf)
		if err != nil {
			return
		}
		if n == len(buf) {
			s.dropOther.Add(1)
			continue
		}
		if s.gate != nil {
			switch s.gate.check(ctx, idx, ifname, from, buf[:n]) {
			case gateHeld:
				continue
			case gateRefused:
				s.dropHook.Add(1)
				continue
			case gateFull:
				s.dropOther.Add(1)
				continue
			}
		}
		s.forward(ctx, idx, from, buf[:n], up)
	}
}

// forward relays pledge datagram b, received on interface idx, to the
// registrar in a JPY message.
func (s *Stateless) forward(ctx context.Context, idx int, from netip.AddrPort, b []byte, up net.PacketConn) {
	h, err := s.keys.seal(idx, from)
	if err != nil {
		s.dropOther.Add(1)
		s.log.Debug("brski stateless join proxy dropped a datagram", "source", from, "err", err)
		return
	}
	msg := MarshalJPY(h, b)
	// Counted before sending, so whoever sees the datagram sees it
	// counted.
	s.toRegistrar.Add(1)
	reg, err := s.resolveRegistrar(ctx)
	if err == nil {
		zone, _ := strconv.Atoi(reg.Addr().Zone()) // an index, see resolveRegistrar
		err = sendTo(up.(*net.UDPConn), msg, netip.AddrPortFrom(reg.Addr().WithZone(""), reg.Port()), zone)
	}
	if err != nil {
		s.toRegistrar.Add(^uint64(0))
		s.dropOther.Add(1)
		s.log.Warn("brski stateless join proxy cannot reach the registrar", "err", err)
		s.mu.Lock()
		s.registrar = netip.AddrPort{} // resolve again next time
		s.mu.Unlock()
	}
}

func (s *Stateless) fromRegistrar(up net.PacketConn) {
	buf := make([]byte, maxDatagram+maxJPYHeader+16)
	for {
		n, from, fromIdx, err := recvFrom(up.(*net.UDPConn), buf)
		if err != nil {
			return
		}
		s.mu.Lock()
		reg := s.registrar
		s.mu.Unlock()
		// A link-local registrar is only itself on its own link.
		regIdx, _ := strconv.Atoi(reg.Addr().Zone())
		if !reg.IsValid() || from.Addr() != reg.Addr().WithZone("").Unmap() || from.Port() != reg.Port() ||
			regIdx != 0 && fromIdx != regIdx {
			s.dropSource.Add(1)
			continue
		}
		h, content, err := DecodeJPY(buf[:n])
		if err != nil {
			s.dropMalformed.Add(1)
			continue
		}
		idx, dst, err := s.keys.open(h)
		if err != nil {
			s.dropHeader.Add(1)
			continue
		}
		s.mu.Lock()
		pc := s.byIndex[idx]
		s.mu.Unlock()
		if pc == nil {
			s.dropOther.Add(1)
			continue
		}
		s.toPledge.Add(1)
		if err := sendTo(pc.(*net.UDPConn), content, dst, idx); err != nil {
			s.toPledge.Add(^uint64(0))
			s.dropOther.Add(1)
		}
	}
}

func (s *Stateless) startDiscovery(ctx context.Context) (net.PacketConn, error) {
	dc, err := s.net.ListenPacket(ctx, "udp6", fmt.Sprintf("[::]:%d", s.cfg.DiscoveryPort))
	if err != nil {
		return nil, err
	}
	c := ipv6.NewPacketConn(dc)
	if err := c.SetControlMessage(ipv6.FlagInterface|ipv6.FlagDst, true); err != nil {
		dc.Close()
		return nil, err
	}
	s.mu.Lock()
	s.disco = c
	s.mu.Unlock()
	return dc, nil
}

// answerDiscovery answers pledges' CoAP discovery on the join interfaces,
// from the link-local address the pledge will then use (draft §5.2).
func (s *Stateless) answerDiscovery() {
	buf := make([]byte, 1500)
	for {
		n, cm, from, err := s.disco.ReadFrom(buf)
		if err != nil {
			return
		}
		if cm == nil {
			continue
		}
		s.mu.Lock()
		_, ours := s.byIndex[cm.IfIndex]
		s.mu.Unlock()
		if !ours {
			continue
		}
		var id [2]byte
		rand.Read(id[:])
		multicast := cm.Dst != nil && cm.Dst.IsMulticast()
		answer, ok := discoveryAnswer(buf[:n], s.cfg.Port, multicast, binary.BigEndian.Uint16(id[:]))
		if !ok {
			continue
		}
		// Counted before sending, so whoever sees the answer sees it
		// counted.
		s.discoveries.Add(1)
		if _, err := s.disco.WriteTo(answer, &ipv6.ControlMessage{IfIndex: cm.IfIndex}, from); err != nil {
			s.discoveries.Add(^uint64(0))
			s.log.Debug("brski stateless join proxy could not answer discovery", "pledge", from, "err", err)
		}
	}
}
