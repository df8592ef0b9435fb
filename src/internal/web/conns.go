package web

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/httpd"
)

// Connection bounds. A phone's browser opens up to six connections to a
// host; a flood from many addresses is held to maxConns in all, so the
// daemon's memory and descriptors stay bounded whatever comes in.
const (
	maxConnsPerClient = 8
	maxConns          = 128
	// fdReserve descriptors are kept free for what must not fail under a
	// flood: the API socket's connections, the registry and the PSK files
	// written when a device connects, hostapd's control sockets.
	fdReserve = 64
	// fdRecount is how often the open descriptors are counted again;
	// between counts, the pages' own connections are counted as they
	// come and go.
	fdRecount = 250 * time.Millisecond
)

// clientKey is who a connection or request counts against: an IPv4
// address, or an IPv6 /64 (one host on a LAN may hold a whole /64 of
// addresses and pick a new one for each connection).
func clientKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return p.String()
	}
	return a.String()
}

// connLimits admits a connection only within the bounds: maxPer per
// client, max in all (over every address the pages listen on), and while
// the process has descriptors to spare. When all max are taken, a client
// holding no more than its share may still come in: the oldest connection
// of the client holding the most goes, so strangers filling the table
// never lock a new phone out.
type connLimits struct {
	max, maxPer int
	// short reports whether descriptors are running out, given how many
	// connections are held.
	short func(held int) bool

	mu     sync.Mutex
	total  int
	byKey  map[string][]*limitConn // oldest first
	onDrop func()                  // tests: a connection was refused or evicted
}

func newConnLimits(max, maxPer int, short func(int) bool) *connLimits {
	return &connLimits{max: max, maxPer: maxPer, short: short, byKey: map[string][]*limitConn{}}
}

// listener returns l with every connection admitted by the limits first;
// refused ones are reset at once.
func (cl *connLimits) listener(l net.Listener) net.Listener { return &limitListener{l, cl} }

type limitListener struct {
	net.Listener
	cl *connLimits
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if lc := l.cl.admit(c); lc != nil {
			return lc, nil
		}
		if tc, ok := c.(*net.TCPConn); ok {
			// A reset: no TIME_WAIT left behind for a refusal.
			tc.SetLinger(0)
		}
		c.Close()
		if l.cl.onDrop != nil {
			l.cl.onDrop()
		}
	}
}

func (cl *connLimits) admit(c net.Conn) *limitConn {
	key := "?"
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		key = clientKey(ap.Addr())
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.short != nil && cl.short(cl.total) {
		return nil
	}
	mine := len(cl.byKey[key])
	if mine >= cl.maxPer {
		// A client at its share whose browser keeps idle keep-alives
		// (several tabs, a phone behind one address) gives up its oldest
		// idle one; one busy with requests on all of them is refused.
		victim := cl.oldestIdle(key)
		if victim == nil {
			return nil
		}
		cl.evict(victim)
		mine--
	}
	if cl.total >= cl.max {
		var heavy string
		for k, cs := range cl.byKey {
			if len(cs) > len(cl.byKey[heavy]) {
				heavy = k
			}
		}
		if len(cl.byKey[heavy]) <= mine+1 {
			return nil
		}
		victim := cl.oldestIdle(heavy)
		if victim == nil {
			victim = cl.byKey[heavy][0]
		}
		cl.evict(victim)
	}
	lc := &limitConn{Conn: c, cl: cl, key: key}
	cl.byKey[key] = append(cl.byKey[key], lc)
	cl.total++
	return lc
}

// oldestIdle is key's oldest connection waiting for a next request, or
// nil; cl.mu is held.
func (cl *connLimits) oldestIdle(key string) *limitConn {
	for _, c := range cl.byKey[key] {
		if c.idle {
			return c
		}
	}
	return nil
}

// evict forgets lc and closes it; cl.mu is held.
func (cl *connLimits) evict(lc *limitConn) {
	cl.untrack(lc)
	// Closed outside the bookkeeping: its server goroutine sees the
	// error and ends.
	go lc.Conn.Close()
	if cl.onDrop != nil {
		go cl.onDrop()
	}
}

// connState is the server's ConnState hook: it tells which admitted
// connections are idle keep-alives, the first to give way.
func (cl *connLimits) connState(c net.Conn, st httpd.ConnState) {
	lc, ok := c.(*limitConn)
	if !ok {
		return
	}
	cl.mu.Lock()
	lc.idle = st == httpd.StateIdle
	cl.mu.Unlock()
}

// untrack forgets lc; cl.mu is held.
func (cl *connLimits) untrack(lc *limitConn) {
	if lc.gone {
		return
	}
	lc.gone = true
	cs := cl.byKey[lc.key]
	for i, c := range cs {
		if c == lc {
			cs = append(cs[:i:i], cs[i+1:]...)
			break
		}
	}
	if len(cs) == 0 {
		delete(cl.byKey, lc.key)
	} else {
		cl.byKey[lc.key] = cs
	}
	cl.total--
}

// held is the number of connections admitted and not yet closed.
func (cl *connLimits) held() int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.total
}

// limitConn is an admitted connection; closing it frees its place.
type limitConn struct {
	net.Conn
	cl   *connLimits
	key  string
	gone bool // guarded by cl.mu
	idle bool // guarded by cl.mu: between requests
}

func (c *limitConn) Close() error {
	c.cl.mu.Lock()
	c.cl.untrack(c)
	c.cl.mu.Unlock()
	return c.Conn.Close()
}

// fdGauge tells whether the process's descriptors run short: fewer than
// fdReserve left under its limit. It counts them (openFDs) at most every
// fdRecount and in between adds the listener's own change since.
type fdGauge struct {
	mu      sync.Mutex
	now     func() time.Time
	limit   int
	count   int // open at the last count
	heldAt  int // the listener's connections at the last count
	counted time.Time
}

func newFDGauge() *fdGauge {
	limit, ok := fdLimit()
	if !ok {
		return nil
	}
	return &fdGauge{now: time.Now, limit: limit}
}

func (g *fdGauge) short(held int) bool {
	if g == nil {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if now := g.now(); now.Sub(g.counted) >= fdRecount {
		n, ok := openFDs()
		if !ok {
			return false
		}
		g.count, g.heldAt, g.counted = n, held, now
	}
	// The connection being admitted holds one more.
	return g.count+(held-g.heldAt)+1 > g.limit-fdReserve
}
