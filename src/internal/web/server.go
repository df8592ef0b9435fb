package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/api"
	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/device"
	"github.com/trustjoin/trustjoin/src/internal/fault"
	"github.com/trustjoin/trustjoin/src/internal/httpd"
)

// Onboarder is what the pages need from the daemon: onboarding, nothing
// else. api.Service is one.
type Onboarder interface {
	Onboard(ctx context.Context, r api.OnboardRequest) (api.Progress, error)
	Progress(ctx context.Context, id string) (api.Progress, error)
	Cancel(ctx context.Context, id string) error
}

// Options configure a Server.
type Options struct {
	Log *slog.Logger
	// Listen are the LAN addresses to serve on (config.LANAddr): every
	// address in any disguise (0.0.0.0, ::, ::ffff:0.0.0.0, ::%eth0) is
	// refused, as it would reach the WAN too. Port 0 picks a free port
	// (tests).
	Listen []netip.AddrPort
	// TokenTTL is how long a link may wait to be opened.
	TokenTTL  time.Duration
	Onboarder Onboarder
	// Legacy, if set, offers the less safe path for devices without DPP:
	// a passphrase of their own, shown once on the phone. Nil (the
	// default, config onboarding.legacy_passphrase '0') hides it.
	Legacy PassphraseIssuer
	// State holds the links, sessions and rate limits; the daemon keeps
	// one across configuration reloads. Nil means a fresh one.
	State *State
}

// State is what the phone pages keep across configuration reloads, so
// that saving a setting in LuCI does not cut off a phone in the middle of
// adding a device: links, sessions and rate limits.
type State struct {
	store        *store
	perIP, badIP *limiter
}

// NewState returns empty state on the clock now (nil means time.Now).
func NewState(now func() time.Time) *State {
	if now == nil {
		now = time.Now
	}
	return &State{store: newStore(now), perIP: newLimiter(now, ipBurst, ipEvery), badIP: newLimiter(now, badBurst, badEvery)}
}

// PassphraseIssuer gives a new device without DPP its own passphrase;
// *device.Owner is one. The pages ask as device.Phone. The passphrase
// goes straight to the phone, never through the local API.
type PassphraseIssuer interface {
	IssuePassphrase(ctx context.Context, name, segment string, by device.Actor) (device.Legacy, error)
}

// A Server serves the phone pages. It is a daemon task and implements
// api.PhoneService for the local API.
type Server struct {
	log    *slog.Logger
	listen []netip.AddrPort
	ob     Onboarder
	legacy PassphraseIssuer
	ttl    time.Duration
	store  *store
	perIP  *limiter
	badIP  *limiter
	ready  chan struct{}

	mu    sync.Mutex
	addrs []netip.AddrPort // as listening, ports resolved
}

// New checks the options and returns a Server.
func New(o Options) (*Server, error) {
	if len(o.Listen) == 0 {
		return nil, errors.New("web: no LAN address to listen on")
	}
	listen := make([]netip.AddrPort, len(o.Listen))
	for i, ap := range o.Listen {
		a, err := config.LANAddr(ap.Addr())
		if err != nil {
			return nil, fmt.Errorf("web: refusing to listen on %s: %v", ap, err)
		}
		listen[i] = netip.AddrPortFrom(a, ap.Port())
	}
	if o.Onboarder == nil {
		return nil, errors.New("web: no onboarding service")
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = 10 * time.Minute
	}
	if o.State == nil {
		o.State = NewState(nil)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Server{
		log: o.Log, listen: listen, ob: o.Onboarder, legacy: o.Legacy, ttl: o.TokenTTL,
		store: o.State.store, perIP: o.State.perIP, badIP: o.State.badIP,
		ready: make(chan struct{}),
	}, nil
}

// String implements the daemon's Task.
func (s *Server) String() string { return "web" }

// Ready implements the daemon's Task: closed once every address listens.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addrs returns the addresses listened on, once Ready.
func (s *Server) Addrs() []netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]netip.AddrPort(nil), s.addrs...)
}

// readHeaderTimeout bounds the wait for a request's headers.
const readHeaderTimeout = 3 * time.Second

// retryListen is how often a LAN address that is not there yet (the bridge
// still coming up at boot) is tried again.
const retryListen = 5 * time.Second

// Run implements the daemon's Task.
func (s *Server) Run(ctx context.Context) error {
	// Short timeouts: a phone on the LAN sends its request at once, and a
	// connection held open for nothing holds a place (connLimits).
	srv := &httpd.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      20 * time.Second,
		IdleTimeout:       20 * time.Second,
		MaxHeaderBytes:    8 << 10,
		// The largest post is a device's QR code and a name.
		MaxBodyBytes: 8 << 10,
	}
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for _, ap := range s.listen {
		warned := false
		for {
			l, err := listenOwn(ap)
			if err == nil {
				ls = append(ls, l)
				break
			}
			if !warned {
				s.log.Warn("phone pages cannot listen yet; trying again", "addr", ap.String(), "err", err)
				warned = true
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(retryListen):
			}
		}
	}
	errC := make(chan error, len(ls))
	limits := newConnLimits(maxConns, maxConnsPerClient, newFDGauge().short)
	srv.ConnState = limits.connState
	s.mu.Lock()
	for _, l := range ls {
		s.addrs = append(s.addrs, l.Addr().(*net.TCPAddr).AddrPort())
		go func(l net.Listener) { errC <- srv.Serve(limits.listener(l)) }(l)
	}
	s.mu.Unlock()
	ls = nil // Serve owns them now; Shutdown closes them.
	s.log.Info("phone pages listening", "addrs", fmt.Sprint(s.Addrs()))
	close(s.ready)
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	case err := <-errC:
		_ = srv.Close()
		return fmt.Errorf("phone pages stopped: %v", err)
	}
}

// listenOwn listens on ap if its address is one of the router's own, on
// one of its interfaces: with net.ipv4.ip_nonlocal_bind set, the kernel
// would otherwise let the pages listen on an address the router does not
// have (yet).
func listenOwn(ap netip.AddrPort) (net.Listener, error) {
	if !own(ap.Addr()) {
		return nil, fmt.Errorf("%s is not an address of this router (yet)", ap.Addr())
	}
	return net.Listen("tcp", ap.String())
}

// own reports whether a is assigned to one of the host's interfaces (the
// one its zone names, if it has one).
func own(a netip.Addr) bool {
	ifs, err := net.Interfaces()
	if err != nil {
		return false
	}
	plain := a.WithZone("")
	for _, ifi := range ifs {
		if a.Zone() != "" && ifi.Name != a.Zone() {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, x := range addrs {
			if n, ok := x.(*net.IPNet); ok {
				if b, ok := netip.AddrFromSlice(n.IP); ok && b.Unmap() == plain {
					return true
				}
			}
		}
	}
	return false
}

// PhoneStart implements api.PhoneService.
func (s *Server) PhoneStart(context.Context) (api.PhoneSession, error) {
	addrs := s.Addrs()
	if len(addrs) == 0 {
		return api.PhoneSession{}, fault.New(fault.Unavailable, "the phone pages are not listening yet (is the LAN address %s up?)", s.listen[0])
	}
	se, token := s.store.mint(s.ttl)
	u := "http://" + hostPort(addrs[0]) + "/p/" + token
	qr, err := qrDataURL(u)
	if err != nil {
		s.store.revoke(se.id)
		return api.PhoneSession{}, fmt.Errorf("failed to draw the QR code: %v", err)
	}
	s.log.Info("phone link created", "session", se.id, "token", shortHash(se.tokenHash), "expires", se.expires)
	return api.PhoneSession{
		ID: se.id, URL: u, ExpiresAt: se.expires,
		QR: qr,
	}, nil
}

// PhoneRevoke implements api.PhoneService.
func (s *Server) PhoneRevoke(_ context.Context, id string) error {
	if !s.store.revoke(id) {
		return fault.New(fault.NotFound, "no phone link %q (it may have expired long ago)", id)
	}
	s.log.Info("phone link revoked", "session", id)
	return nil
}

// hostPort writes an address as a URL host, leaving out port 80.
func hostPort(ap netip.AddrPort) string {
	h := ap.Addr().String()
	if ap.Addr().Is6() {
		h = "[" + h + "]"
	}
	if ap.Port() == 80 {
		return h
	}
	return fmt.Sprintf("%s:%d", h, ap.Port())
}

// clientIP is the peer's address: no proxy is trusted.
func clientIP(r *httpd.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return ap.Addr().Unmap().String()
}

// client is who a request counts against in the rate limits: its
// address, or its /64 for IPv6 (clientKey).
func client(r *httpd.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return clientKey(ap.Addr())
}

// knownHost reports whether the request names the router by one of the
// addresses it serves on: a page reached under another name (DNS
// rebinding) is refused.
func (s *Server) knownHost(host string) bool {
	for _, ap := range s.Addrs() {
		if strings.EqualFold(host, hostPort(ap)) || strings.EqualFold(host, fmt.Sprintf("%s:%d", hostName(ap), ap.Port())) {
			return true
		}
	}
	return false
}

func hostName(ap netip.AddrPort) string {
	if ap.Addr().Is6() {
		return "[" + ap.Addr().String() + "]"
	}
	return ap.Addr().String()
}

// gzipped reports whether b is gzip data, for the embedded assets.
func gzipped(b []byte) bool { return bytes.HasPrefix(b, []byte{0x1f, 0x8b}) }

// WithPhone returns s with the local API's phone calls answered by p.
func WithPhone(s api.Service, p *Server) api.Service { return withPhone{Service: s, p: p} }

type withPhone struct {
	api.Service
	p *Server
}

var _ api.PhoneService = withPhone{}

func (w withPhone) PhoneStart(ctx context.Context) (api.PhoneSession, error) {
	return w.p.PhoneStart(ctx)
}

func (w withPhone) PhoneRevoke(ctx context.Context, id string) error {
	return w.p.PhoneRevoke(ctx, id)
}
