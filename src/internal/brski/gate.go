package brski

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// How long the stateless proxy keeps the authorisation hook's answer
// about a pledge address, and how many addresses it keeps answers for.
// A refusal is kept shorter than a consent, so a pledge the householder
// has just allowed is not kept out for long.
const (
	gateAllowFor  = 10 * time.Minute
	gateRefuseFor = time.Minute
	gateMax       = 256
)

// gate asks the authorisation hook once per pledge address for the
// stateless proxy, which has no connection to hang the answer on: a
// pledge's DTLS handshake is many datagrams, and the hook may take
// seconds. While the hook decides, the pledge's latest datagram is held
// and relayed if it is allowed; DTLS retransmits the rest.
type gate struct {
	admit   func(ctx context.Context, pledge netip.AddrPort, ifname string) error
	relay   func(ctx context.Context, idx int, from netip.AddrPort, b []byte)
	refused func(from netip.AddrPort, ifname string, err error)
	now     func() time.Time

	wg      sync.WaitGroup
	mu      sync.Mutex
	pledges map[gateKey]*gateEntry
}

type gateKey struct {
	idx  int
	addr netip.Addr
}

type gateEntry struct {
	decided bool
	allowed bool
	until   time.Time
	// held is the latest datagram while the hook decides.
	held     []byte
	heldFrom netip.AddrPort
}

// gateVerdict is what becomes of one datagram.
type gateVerdict int

const (
	gatePass    gateVerdict = iota // relay it now
	gateHeld                       // kept until the hook answers
	gateRefused                    // the hook refused this pledge
	gateFull                       // too many pledges already
)

// check says what to do with datagram b from pledge from on interface
// idx (ifname). The first datagram of an address not seen lately starts
// the hook in the background (under ctx).
func (g *gate) check(ctx context.Context, idx int, ifname string, from netip.AddrPort, b []byte) gateVerdict {
	k := gateKey{idx, from.Addr()}
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.pledges[k]
	if e != nil && e.decided && now.After(e.until) {
		delete(g.pledges, k)
		e = nil
	}
	switch {
	case e == nil:
		if len(g.pledges) >= gateMax {
			g.expire(now)
			if len(g.pledges) >= gateMax {
				return gateFull
			}
		}
		e = &gateEntry{held: append([]byte(nil), b...), heldFrom: from}
		g.pledges[k] = e
		g.wg.Add(1)
		go g.ask(ctx, k, e, ifname, from)
		return gateHeld
	case !e.decided:
		e.held, e.heldFrom = append(e.held[:0], b...), from
		return gateHeld
	case e.allowed:
		return gatePass
	default:
		return gateRefused
	}
}

func (g *gate) ask(ctx context.Context, k gateKey, e *gateEntry, ifname string, from netip.AddrPort) {
	defer g.wg.Done()
	err := g.admit(ctx, from, ifname)
	if ctx.Err() != nil {
		return
	}
	g.mu.Lock()
	e.decided, e.allowed = true, err == nil
	e.until = g.now().Add(gateAllowFor)
	if err != nil {
		e.until = g.now().Add(gateRefuseFor)
	}
	held, heldFrom := e.held, e.heldFrom
	e.held = nil
	g.mu.Unlock()
	if err != nil {
		g.refused(from, ifname, err)
		return
	}
	if held != nil {
		g.relay(ctx, k.idx, heldFrom, held)
	}
}

// expire forgets decided answers past their time; g.mu is held.
func (g *gate) expire(now time.Time) {
	for k, e := range g.pledges {
		if e.decided && now.After(e.until) {
			delete(g.pledges, k)
		}
	}
}

// wait returns once no hook question is outstanding (their ctx ended).
func (g *gate) wait() { g.wg.Wait() }
