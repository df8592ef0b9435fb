package brski

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"golang.org/x/net/ipv6"
)

// Defaults for what the configuration does not set.
const (
	// DefaultTotalTimeout bounds one pledge connection however busy: a
	// voucher request and enrolment take seconds, so ten minutes is only
	// there to stop a pledge from holding a slot for ever.
	DefaultTotalTimeout = 10 * time.Minute
	// DefaultDialTimeout bounds reaching the registrar for one pledge.
	DefaultDialTimeout = 10 * time.Second
	// rescan is how often listeners follow their interfaces' addresses.
	// An interface without a listener is looked at again sooner, from
	// firstRetry doubling up to rescan: a LAN just up has its link-local
	// address within seconds, and readiness waits for it.
	rescan     = 15 * time.Second
	firstRetry = 500 * time.Millisecond
)

// Config is what the circuit proxy needs from the configuration.
type Config struct {
	// Interfaces are the LAN interfaces pledges join on.
	Interfaces []string
	// Port is the TCP port the proxy listens on (and announces).
	Port int
	// IPv4 also listens on the interfaces' IPv4 addresses.
	IPv4 bool
	// RegistrarHost and RegistrarPort say where the registrar is; the
	// host may be a name, resolved again whenever dialling it fails.
	RegistrarHost string
	RegistrarPort int
	// Admit, if set, is asked before a pledge's connection is relayed
	// (the authorisation hook); an error refuses it. It may take seconds.
	Admit func(ctx context.Context, pledge netip.AddrPort, ifname string) error
	// MaxConnections caps pledge connections in all, MaxPerSource those
	// from one pledge address.
	MaxConnections int
	MaxPerSource   int
	// IdleTimeout closes a connection that carried no byte either way for
	// that long; TotalTimeout closes any connection after that long.
	IdleTimeout  time.Duration
	TotalTimeout time.Duration
	// DialTimeout bounds reaching the registrar for one pledge.
	DialTimeout time.Duration
	// AnnounceInterval is how often the GRASP AN_Proxy flood (and the
	// mDNS announcement) is repeated; zero sends none.
	AnnounceInterval time.Duration
	// MDNS answers _brski-proxy._tcp.local queries on the interfaces.
	MDNS bool
}

// ConfigFrom takes the circuit proxy's settings from the configuration.
func ConfigFrom(b config.BRSKI) Config {
	return Config{
		Interfaces:     b.Interfaces,
		Port:           b.Port,
		IPv4:           b.IPv4,
		RegistrarHost:  b.RegistrarHost,
		RegistrarPort:  b.RegistrarPort,
		MaxConnections: b.MaxConnections,
		MaxPerSource:   b.MaxPerSource,
		IdleTimeout:    b.IdleTimeout,
		TotalTimeout:   DefaultTotalTimeout,
		// RFC 8995 §4.3 asks registrars for 60 s; a proxy is no chattier.
		AnnounceInterval: 60 * time.Second,
		MDNS:             true,
	}
}

// Status is what the proxy reports about itself. It holds no secret.
type Status struct {
	Registrar Registrar `json:"registrar"`
	// Listeners are the addresses the proxy accepts pledges on.
	Listeners []string `json:"listeners"`
	// Problems say, per interface, why the proxy does not listen there.
	Problems []string `json:"problems"`
	Counters Counters `json:"counters"`
	Pledges  []Pledge `json:"pledges"`
}

// Registrar is where pledges are relayed to and how that was learnt.
type Registrar struct {
	Host string `json:"host"`
	Port int    `json:"port"`
	// Address is the last resolved address; empty before the first pledge.
	Address string `json:"address"`
	// Source is "config" (registrar_host), or, when registrar_host is
	// empty, "grasp" (an AN_join_registrar flood) or "mdns".
	Source string `json:"source"`
	// Error is the last failure to resolve or reach the registrar.
	Error string `json:"error"`
}

// Counters are totals since the proxy started.
type Counters struct {
	Accepted uint64 `json:"accepted"`
	Active   int    `json:"active"`
	// RefusedTotal counts connections refused by max_connections,
	// RefusedPerSource those refused by max_per_source.
	RefusedTotal     uint64 `json:"refused_total"`
	RefusedPerSource uint64 `json:"refused_per_source"`
	// RefusedHook counts connections the authorisation hook refused.
	RefusedHook uint64 `json:"refused_hook,omitempty"`
	// RegistrarFailures counts pledges dropped because the registrar could
	// not be reached.
	RegistrarFailures uint64 `json:"registrar_failures"`
	IdleClosed        uint64 `json:"idle_closed"`
	TotalTimeouts     uint64 `json:"total_timeouts"`
	// Announcements counts GRASP AN_Proxy floods sent.
	Announcements uint64 `json:"announcements"`
	// GRASPIgnored counts GRASP messages heard but not used: from a join
	// interface or a non-link-local sender, malformed, or announcing no
	// usable registrar.
	GRASPIgnored     uint64 `json:"grasp_ignored"`
	BytesToRegistrar uint64 `json:"bytes_to_registrar"`
	BytesToPledge    uint64 `json:"bytes_to_pledge"`
}

// Pledge is one pledge connection in flight.
type Pledge struct {
	Source           string    `json:"source"`
	Interface        string    `json:"interface"`
	Since            time.Time `json:"since"`
	BytesToRegistrar uint64    `json:"bytes_to_registrar"`
	BytesToPledge    uint64    `json:"bytes_to_pledge"`
}

// network is how the proxy reaches the operating system's sockets and
// interfaces; tests swap it to work inside network namespaces.
type network interface {
	Listen(ctx context.Context, network, address string) (net.Listener, error)
	ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error)
	Dial(ctx context.Context, network, address string) (net.Conn, error)
	Interface(name string) (*net.Interface, []netip.Addr, error)
	Interfaces() ([]net.Interface, error)
	// ListenShared is ListenPacket on a port other sockets may share.
	ListenShared(ctx context.Context, network, address string) (net.PacketConn, error)
}

type hostNetwork struct{}

func (hostNetwork) Listen(ctx context.Context, network, address string) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(ctx, network, address)
}

func (hostNetwork) ListenPacket(ctx context.Context, network, address string) (net.PacketConn, error) {
	var lc net.ListenConfig
	return lc.ListenPacket(ctx, network, address)
}

func (hostNetwork) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}

func (hostNetwork) Interfaces() ([]net.Interface, error) { return net.Interfaces() }

func (hostNetwork) ListenShared(ctx context.Context, network, address string) (net.PacketConn, error) {
	lc := net.ListenConfig{Control: shareAddr}
	return lc.ListenPacket(ctx, network, address)
}

func (hostNetwork) Interface(name string) (*net.Interface, []netip.Addr, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, nil, err
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, nil, fmt.Errorf("failed to list the addresses of %s: %w", name, err)
	}
	var out []netip.Addr
	for _, a := range addrs {
		if p, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(p.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return ifi, out, nil
}

// Proxy is the RFC 8995 §4 circuit proxy: a task relaying pledges' TCP
// connections to the registrar, and only there.
type Proxy struct {
	cfg   Config
	log   *slog.Logger
	net   network
	ready chan struct{}
	// relays tracks pledge connections in flight.
	relays sync.WaitGroup

	mu        sync.Mutex
	listening map[string][]string // interface → addresses
	problems  map[string]string   // interface → why it has no listener
	perSource map[netip.Addr]int
	pledges   map[*conn]struct{}
	counters  Counters
	registrar Registrar
	regAddr   netip.AddrPort
	mdns      *ipv6.PacketConn   // nil without MDNS
	grasp     *graspRegistrar    // the last AN_join_registrar flood
	mdnsAddrs map[int]listenAddr // interface index → link-local listener
	ifnames   map[int]string

	toRegistrar, toPledge atomic.Uint64
}

// NewProxy returns the circuit proxy for cfg.
func NewProxy(log *slog.Logger, cfg Config) *Proxy {
	if cfg.TotalTimeout <= 0 {
		cfg.TotalTimeout = DefaultTotalTimeout
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	p := &Proxy{
		cfg:       cfg,
		log:       log,
		net:       hostNetwork{},
		ready:     make(chan struct{}),
		listening: map[string][]string{},
		problems:  map[string]string{},
		perSource: map[netip.Addr]int{},
		pledges:   map[*conn]struct{}{},
		mdnsAddrs: map[int]listenAddr{},
		ifnames:   map[int]string{},
		registrar: Registrar{Host: cfg.RegistrarHost, Port: cfg.RegistrarPort, Source: "config"},
	}
	if cfg.RegistrarHost == "" {
		p.registrar = Registrar{Source: "mdns"} // looked for when the first pledge comes
	}
	return p
}

// String implements daemon.Task.
func (*Proxy) String() string { return "brski join proxy" }

// Ready implements daemon.Task: closed once every interface has a listener.
func (p *Proxy) Ready() <-chan struct{} { return p.ready }

// Status returns a snapshot of the proxy's state.
func (p *Proxy) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := Status{Registrar: p.registrar, Counters: p.counters, Listeners: []string{}, Problems: []string{}, Pledges: []Pledge{}}
	st.Counters.BytesToRegistrar = p.toRegistrar.Load()
	st.Counters.BytesToPledge = p.toPledge.Load()
	for _, addrs := range p.listening {
		st.Listeners = append(st.Listeners, addrs...)
	}
	slices.Sort(st.Listeners)
	for ifname, why := range p.problems {
		st.Problems = append(st.Problems, ifname+": "+why)
	}
	slices.Sort(st.Problems)
	for c := range p.pledges {
		st.Pledges = append(st.Pledges, Pledge{
			Source: c.src.String(), Interface: c.ifname, Since: c.since,
			BytesToRegistrar: c.up.Load(), BytesToPledge: c.down.Load(),
		})
	}
	// sort.Slice, not slices.SortFunc: each struct type given to the
	// latter adds 12 kB of sorting code to the binary.
	sort.Slice(st.Pledges, func(i, j int) bool { return st.Pledges[i].Since.Before(st.Pledges[j].Since) })
	return st
}

// Run implements daemon.Task: it listens on every configured interface
// until ctx is cancelled, then closes every pledge connection.
func (p *Proxy) Run(ctx context.Context) error {
	if len(p.cfg.Interfaces) == 0 {
		return errors.New("brski join proxy: no interface to listen on")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if p.cfg.MDNS {
		// Without mDNS pledges still find the proxy by GRASP: a port
		// 5353 that another responder will not share is no reason to
		// stop.
		stop, err := p.startMDNS(ctx)
		if err != nil {
			p.log.Warn("brski join proxy answers no mDNS queries", "err", err)
			p.mu.Lock()
			p.problems["mDNS"] = err.Error()
			p.mu.Unlock()
		} else {
			defer stop()
		}
	}
	if p.cfg.RegistrarHost == "" {
		stop, err := p.startGRASPListener(ctx)
		if err != nil {
			p.log.Warn("brski join proxy hears no GRASP registrar announcements", "err", err)
			p.mu.Lock()
			p.problems["GRASP"] = err.Error()
			p.mu.Unlock()
		} else {
			defer stop()
		}
	}
	var wg sync.WaitGroup
	for _, ifname := range p.cfg.Interfaces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.serveInterface(ctx, ifname)
		}()
	}
	wg.Wait()
	// Relays end with ctx; they outlive their listener when an address
	// changes, so they are waited for here.
	p.relays.Wait()
	return nil
}

// A listenAddr is one address to listen on.
type listenAddr struct {
	// bind carries the interface's index as zone: unlike its name, the
	// index never needs a lookup that could go stale.
	bind, show string
	ll         netip.Addr // link-local, announced by GRASP; invalid for IPv4
	zone       string
}

// addresses returns where to listen on ifname: its IPv6 link-local
// addresses (RFC 8995 §4.1) and, with IPv4 on, its IPv4 addresses.
func (p *Proxy) addresses(ifname string) ([]listenAddr, error) {
	ifi, addrs, err := p.net.Interface(ifname)
	if err != nil {
		return nil, err
	}
	idx := strconv.Itoa(ifi.Index)
	p.mu.Lock()
	p.ifnames[ifi.Index] = ifname
	p.mu.Unlock()
	var out []listenAddr
	for _, a := range addrs {
		switch {
		case a.Is6() && a.IsLinkLocalUnicast():
			out = append(out, listenAddr{
				bind: netip.AddrPortFrom(a.WithZone(idx), uint16(p.cfg.Port)).String(),
				show: netip.AddrPortFrom(a.WithZone(ifname), uint16(p.cfg.Port)).String(),
				ll:   a, zone: idx,
			})
		case a.Is4() && p.cfg.IPv4 && !a.IsLoopback():
			ap := netip.AddrPortFrom(a, uint16(p.cfg.Port)).String()
			out = append(out, listenAddr{bind: ap, show: ap})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no IPv6 link-local address (yet)")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].bind < out[j].bind }) // not slices.SortFunc: see Status

	return out, nil
}

// serveInterface keeps listeners on ifname's addresses, following them as
// they change, and announces them with GRASP.
func (p *Proxy) serveInterface(ctx context.Context, ifname string) {
	var (
		current []listenAddr
		lns     []net.Listener
		wg      sync.WaitGroup
	)
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
		wg.Wait()
		lns, current = nil, nil
	}
	defer closeAll()
	var retry retryTimer
	defer retry.stop()
	var announce <-chan time.Time
	announced := false
	if p.cfg.AnnounceInterval > 0 {
		at := time.NewTicker(p.cfg.AnnounceInterval)
		defer at.Stop()
		announce = at.C
	}
	for {
		addrs, err := p.addresses(ifname)
		if err == nil && !slices.Equal(addrs, current) {
			closeAll()
			for _, a := range addrs {
				network := "tcp6"
				if !a.ll.IsValid() {
					network = "tcp4"
				}
				ln, lerr := p.net.Listen(ctx, network, a.bind)
				if lerr != nil {
					err = fmt.Errorf("failed to listen on %s: %w", a.show, lerr)
					break
				}
				lns = append(lns, ln)
				wg.Add(1)
				go func() {
					defer wg.Done()
					p.accept(ctx, ln, ifname)
				}()
			}
			for _, a := range addrs {
				if err == nil {
					err = p.mdnsJoin(a)
				}
			}
			if err != nil {
				closeAll()
			} else {
				current = addrs
				p.log.Info("brski join proxy listening", "interface", ifname, "addresses", shown(addrs))
				announced = false
			}
		}
		p.setListening(ifname, shown(current), err)
		if announce != nil && !announced && current != nil {
			// At once, and again at each rescan until it works (a link
			// just up may not route multicast yet).
			announced = p.announce(ctx, ifname, current)
		}
		select {
		case <-ctx.Done():
			return
		case <-retry.next(current != nil):
		case <-announce:
			announced = p.announce(ctx, ifname, current)
		}
	}
}

// retryTimer paces looking at an interface again: every rescan while it
// has a listener, and sooner, backing off, while it has none.
type retryTimer struct {
	t       *time.Timer
	backoff time.Duration
}

// next returns the channel that fires when it is time to look again.
func (r *retryTimer) next(listening bool) <-chan time.Time {
	d := rescan
	if !listening {
		r.backoff = min(max(2*r.backoff, firstRetry), rescan)
		d = r.backoff
	} else {
		r.backoff = 0
	}
	r.stop()
	r.t = time.NewTimer(d)
	return r.t.C
}

func (r *retryTimer) stop() {
	if r.t != nil {
		r.t.Stop()
	}
}

func shown(addrs []listenAddr) []string {
	var out []string
	for _, a := range addrs {
		out = append(out, a.show)
	}
	return out
}

// announce sends the AN_Proxy flood for each link-local listener to
// ff02::13, from that link-local address (RFC 8995 §4.1.1).
func (p *Proxy) announce(ctx context.Context, ifname string, addrs []listenAddr) bool {
	ok := true
	for _, a := range addrs {
		if !a.ll.IsValid() {
			continue
		}
		if err := p.mdnsAnnounce(a, ifname); err != nil {
			p.log.Warn("brski join proxy failed to announce itself by mDNS", "interface", ifname, "err", err)
			ok = false
		}
		// Counted before sending, so whoever sees the flood sees it
		// counted.
		p.count(func(k *Counters) { k.Announcements++ })
		if err := p.sendFlood(ctx, a); err != nil {
			p.count(func(k *Counters) { k.Announcements-- })
			p.log.Warn("brski join proxy failed to announce itself", "interface", ifname, "err", err)
			ok = false
		}
	}
	return ok
}

func (p *Proxy) sendFlood(ctx context.Context, a listenAddr) error {
	f, err := ProxyFlood(a.ll, uint16(p.cfg.Port))
	if err != nil {
		return err
	}
	b, err := f.Marshal()
	if err != nil {
		return err
	}
	pc, err := p.net.ListenPacket(ctx, "udp6", netip.AddrPortFrom(a.ll.WithZone(a.zone), 0).String())
	if err != nil {
		return fmt.Errorf("failed to open a GRASP socket: %w", err)
	}
	defer pc.Close()
	dst := &net.UDPAddr{IP: AllGRASPNeighbors.AsSlice(), Port: GRASPPort, Zone: a.zone}
	if _, err := pc.WriteTo(b, dst); err != nil {
		return fmt.Errorf("failed to send the GRASP flood: %w", err)
	}
	return nil
}

func (p *Proxy) setListening(ifname string, addrs []string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if p.problems[ifname] != err.Error() {
			p.log.Warn("brski join proxy cannot listen", "interface", ifname, "err", err)
		}
		p.problems[ifname] = err.Error()
	} else {
		delete(p.problems, ifname)
	}
	if len(addrs) > 0 {
		p.listening[ifname] = addrs
	} else {
		delete(p.listening, ifname)
	}
	if len(p.listening) == len(p.cfg.Interfaces) {
		select {
		case <-p.ready:
		default:
			close(p.ready)
		}
	}
}

func (p *Proxy) accept(ctx context.Context, ln net.Listener, ifname string) {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				p.log.Warn("brski join proxy stopped accepting", "address", ln.Addr(), "err", err)
			}
			return
		}
		tc, ok := c.(*net.TCPConn)
		if !ok {
			c.Close()
			continue
		}
		// The zone is the interface accepted on: the peer is on its link.
		ra := tc.RemoteAddr().(*net.TCPAddr).AddrPort()
		src := ra
		if ra.Addr().Is6() && ra.Addr().IsLinkLocalUnicast() {
			src = netip.AddrPortFrom(ra.Addr().WithZone(ifname), ra.Port())
		}
		pc, why := p.admit(src, ifname, tc)
		if pc == nil {
			p.log.Debug("brski join proxy refused a pledge", "source", src, "reason", why)
			refuse(tc)
			continue
		}
		p.relays.Add(1)
		go func() {
			defer p.relays.Done()
			defer p.release(pc)
			p.relay(ctx, pc)
		}()
	}
}

// admit applies the caps and, if there is room, records the connection.
func (p *Proxy) admit(src netip.AddrPort, ifname string, tc *net.TCPConn) (*conn, string) {
	key := src.Addr().Unmap()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.counters.Active >= p.cfg.MaxConnections {
		p.counters.RefusedTotal++
		return nil, "max_connections reached"
	}
	if p.perSource[key] >= p.cfg.MaxPerSource {
		p.counters.RefusedPerSource++
		return nil, "max_per_source reached"
	}
	p.counters.Active++
	p.counters.Accepted++
	p.perSource[key]++
	c := &conn{src: src, key: key, ifname: ifname, since: time.Now(), pledge: tc}
	c.last.Store(c.since.UnixNano())
	p.pledges[c] = struct{}{}
	return c, ""
}

func (p *Proxy) release(c *conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counters.Active--
	if p.perSource[c.key]--; p.perSource[c.key] <= 0 {
		delete(p.perSource, c.key)
	}
	delete(p.pledges, c)
}

func (p *Proxy) count(f func(*Counters)) {
	p.mu.Lock()
	f(&p.counters)
	p.mu.Unlock()
}

// resolve returns the registrar's address, resolving the configured host
// (or discovering one by mDNS) again when fresh is set (after a failure)
// or nothing is known yet.
func (p *Proxy) resolve(ctx context.Context, fresh bool) (netip.AddrPort, error) {
	p.mu.Lock()
	if !fresh && p.regAddr.IsValid() {
		defer p.mu.Unlock()
		return p.regAddr, nil
	}
	host, port := p.cfg.RegistrarHost, p.cfg.RegistrarPort
	p.mu.Unlock()
	if host == "" {
		// A flood heard is used first, but not again after a failure:
		// then mDNS is asked.
		if g, ok := p.fromGRASP(); ok && !fresh {
			p.mu.Lock()
			p.regAddr = g.addr
			p.registrar = Registrar{Host: g.addr.Addr().WithZone("").String(), Port: int(g.addr.Port()), Address: g.shown, Source: "grasp"}
			p.mu.Unlock()
			return g.addr, nil
		}
		if fresh {
			p.mu.Lock()
			p.grasp = nil
			p.mu.Unlock()
		}
		ap, ifname, err := p.discoverRegistrar(ctx)
		if err != nil {
			return netip.AddrPort{}, err
		}
		shown := ap
		if ap.Addr().Zone() != "" {
			shown = netip.AddrPortFrom(ap.Addr().WithZone(ifname), ap.Port())
		}
		p.mu.Lock()
		p.regAddr = ap
		p.registrar = Registrar{Host: shown.Addr().String(), Port: int(ap.Port()), Address: shown.String(), Source: "mdns"}
		p.mu.Unlock()
		p.log.Info("brski join proxy found a registrar by mDNS", "registrar", shown)
		return ap, nil
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		addrs, lerr := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if lerr != nil {
			return netip.AddrPort{}, fmt.Errorf("failed to resolve registrar %q: %w", host, lerr)
		}
		if len(addrs) == 0 {
			return netip.AddrPort{}, fmt.Errorf("registrar %q has no address", host)
		}
		addr = addrs[0].Unmap()
	}
	ap := netip.AddrPortFrom(addr, uint16(port))
	p.mu.Lock()
	p.regAddr = ap
	p.registrar.Address = ap.String()
	p.mu.Unlock()
	return ap, nil
}

// dialRegistrar connects to the registrar, resolving it again once if the
// known address fails.
func (p *Proxy) dialRegistrar(ctx context.Context) (*net.TCPConn, error) {
	var last error
	for _, fresh := range []bool{false, true} {
		ap, err := p.resolve(ctx, fresh)
		if err != nil {
			last = err
			break
		}
		c, err := p.net.Dial(ctx, "tcp", ap.String())
		if err == nil {
			p.mu.Lock()
			p.registrar.Error = ""
			p.mu.Unlock()
			return c.(*net.TCPConn), nil
		}
		last = fmt.Errorf("failed to reach registrar %s: %w", ap, err)
	}
	p.mu.Lock()
	p.registrar.Error = last.Error()
	p.counters.RegistrarFailures++
	p.mu.Unlock()
	return nil, last
}

// A pledge is told apart why the proxy let it go, as far as TCP can say
// it once the connection is accepted (the kernel accepts before the proxy
// can look at the source): a connection over a cap is reset at once, so
// the pledge's next read or write fails with "connection reset", the
// refusal TCP has; when the registrar cannot be reached the pledge gets
// an orderly end of stream instead, after the dial failed, as it would
// from a registrar that closed.

// refuse resets c: it is closed with SO_LINGER 0, which sends RST.
func refuse(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}

// hangUp closes c in order: FIN first, then whatever the pledge sent
// meanwhile (its ClientHello) is read and dropped until it closes too or
// drainTimeout passes, so closing with unread bytes does not turn the FIN
// into a reset.
func hangUp(c *net.TCPConn) {
	c.CloseWrite()
	c.SetReadDeadline(time.Now().Add(drainTimeout))
	io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	c.Close()
}

// drainTimeout bounds how long hangUp waits for the pledge to close.
const drainTimeout = 2 * time.Second

// conn is one pledge connection in flight.
type conn struct {
	src       netip.AddrPort
	key       netip.Addr
	ifname    string
	since     time.Time
	pledge    *net.TCPConn
	registrar *net.TCPConn

	up, down atomic.Uint64
	last     atomic.Int64 // UnixNano of the last byte either way
	closed   atomic.Bool
	idled    atomic.Bool
}

func (c *conn) abort() {
	if c.closed.CompareAndSwap(false, true) {
		c.pledge.Close()
		if c.registrar != nil {
			c.registrar.Close()
		}
	}
}

func (p *Proxy) relay(ctx context.Context, c *conn) {
	if p.cfg.Admit != nil {
		if err := p.cfg.Admit(ctx, c.src, c.ifname); err != nil {
			p.count(func(k *Counters) { k.RefusedHook++ })
			p.log.Info("brski join proxy refused a pledge", "source", c.src, "err", err)
			refuse(c.pledge)
			return
		}
	}
	dctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	rc, err := p.dialRegistrar(dctx)
	cancel()
	if err != nil {
		p.log.Warn("brski join proxy dropped a pledge", "source", c.src, "err", err)
		hangUp(c.pledge)
		return
	}
	c.registrar = rc
	tctx, cancel := context.WithTimeout(ctx, p.cfg.TotalTimeout)
	defer cancel()
	stop := context.AfterFunc(tctx, c.abort)
	defer stop()
	p.log.Debug("brski join proxy relaying a pledge", "source", c.src, "registrar", rc.RemoteAddr())

	done := make(chan struct{})
	go func() {
		defer close(done)
		p.pipe(c, rc, c.pledge, &c.up, &p.toRegistrar)
	}()
	p.pipe(c, c.pledge, rc, &c.down, &p.toPledge)
	<-done
	c.abort()
	switch {
	case c.idled.Load():
		p.count(func(k *Counters) { k.IdleClosed++ })
	case errors.Is(tctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		p.count(func(k *Counters) { k.TotalTimeouts++ })
	}
}

// pipe copies src to dst until src ends, then half-closes dst so the peer
// sees the end too. An idle direction waits for data holding nothing: the
// copy (relayReady) takes a buffer or a splice pipe only for the bytes
// already there.
func (p *Proxy) pipe(c *conn, dst, src *net.TCPConn, n, total *atomic.Uint64) {
	raw, err := src.SyscallConn()
	if err != nil {
		c.abort()
		return
	}
	// Counted before relaying, so whoever sees the bytes sees them
	// counted; bytes announced but not relayed (the copy failed) are taken
	// back.
	count := func(k int64) {
		if k > 0 {
			c.last.Store(time.Now().UnixNano())
		}
		n.Add(uint64(k))
		total.Add(uint64(k))
	}
	idle := p.cfg.IdleTimeout
	for {
		src.SetReadDeadline(time.Unix(0, c.last.Load()).Add(idle))
		ready, err := waitReadable(raw)
		if err == nil {
			// No write deadline: a write stuck on a peer that reads
			// nothing leaves the other direction idle, which aborts both.
			err = relayReady(dst, src, ready, count)
		}
		switch {
		case err == io.EOF:
			dst.CloseWrite()
			return
		case err != nil && p.idleOrAbort(c, err):
			return
		}
	}
}

// idleOrAbort handles a failed wait or read: a deadline reached while the
// other direction was busy lets the pipe go on; otherwise the connection is
// closed. It reports whether the pipe must stop.
func (p *Proxy) idleOrAbort(c *conn, err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if time.Since(time.Unix(0, c.last.Load())) < p.cfg.IdleTimeout {
			return false
		}
		c.idled.Store(true)
	}
	c.abort()
	return true
}

// String is for logs.
func (r Registrar) String() string {
	if r.Address != "" {
		return r.Address
	}
	return net.JoinHostPort(r.Host, strconv.Itoa(r.Port))
}
