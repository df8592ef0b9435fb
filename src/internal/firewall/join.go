package firewall

import (
	"fmt"
	"net/netip"
)

// Join confines the BRSKI join segment: devices not yet enrolled
// (pledges) may reach the router's join proxy and what every device
// needs to get on the link, nothing else.
type Join struct {
	// Ifaces carry the join segment; empty lifts the confinement.
	Ifaces []string
	// ProxyPort is the join proxy's TCP port (brski.port), reachable on
	// the router's link-local address of the interface a pledge is on.
	ProxyPort int
	// IPv4 also opens the proxy port on the interface's IPv4 addresses.
	IPv4 bool
	// CoAPPorts are the UDP ports of the constrained join proxy and its
	// discovery (brski.stateless_port, 5683), to ff02::fd and the
	// router's link-local address; empty when it is off.
	CoAPPorts []int
}

// validateJoin checks a confinement before anything reaches the kernel.
func validateJoin(j Join) error {
	seen := map[string]bool{}
	for _, i := range j.Ifaces {
		if i == "" || len(i) >= 16 {
			return fmt.Errorf("join segment: bad interface name %q", i)
		}
		if seen[i] {
			return fmt.Errorf("join segment: interface %s named twice", i)
		}
		seen[i] = true
	}
	if len(j.Ifaces) == 0 {
		return nil
	}
	if j.ProxyPort < 1 || j.ProxyPort > 65535 {
		return fmt.Errorf("join segment: proxy port %d out of range", j.ProxyPort)
	}
	for _, p := range j.CoAPPorts {
		if p < 1 || p > 65535 {
			return fmt.Errorf("join segment: CoAP port %d out of range", p)
		}
	}
	return nil
}

// The join segment's confinement lives in the inet table beside the
// segments, in base chains of its own at the same priority: a packet must
// pass both, so neither can loosen the other. Plain set lookups and one
// jump, no verdict maps: nft can always print it. The bridge table's
// forward chain drops whatever a join bridge would forward between its
// ports, so pledges do not reach each other either.
const (
	setJoinIf      = "join_if"    // the join segment's interfaces
	setJoinBr      = "join_br"    // the same in the bridge table (their ports in port mode)
	chainJoinIn    = "join_in"    // input hook: pledges to the router
	chainJoinFwd   = "join_fwd"   // forward hook: nothing to or from pledges
	chainJoinLocal = "join_local" // what pledges may reach on the router
)

var (
	allMDNS      = netip.MustParseAddr("ff02::fb")
	allCoAPNodes = netip.MustParseAddr("ff02::fd")
	linkLocal    = netip.MustParsePrefix("fe80::/10")
)

// planJoinChange plans replacing the join confinement on installed
// tables with j, in one batch; nil when nothing changes. ports are the
// join bridges' ports (port mode only).
func (s *state) planJoinChange(j Join, ports map[string][]string) *batch {
	had, want := len(s.join.Ifaces) > 0, len(j.Ifaces) > 0
	b := newBatch(s.table)
	switch {
	case had && want:
		s.planJoin(b, j, ports, false)
	case had:
		planDelJoin(b)
	case want:
		s.planJoin(b, j, ports, true)
	default:
		return nil
	}
	return b
}

// planJoin creates the set and chains of j (fresh) or empties and refills
// the existing ones.
func (s *state) planJoin(b *batch, j Join, ports map[string][]string, fresh bool) {
	const f = famINet
	set := ifSet(f, setJoinIf)
	if fresh {
		b.addSet(set, nil)
		b.addBaseChain(f, chainJoinIn, hookInput, s.prio)
		b.addBaseChain(f, chainJoinFwd, hookForward, s.prio)
		b.addChain(f, chainJoinLocal)
	} else {
		b.flushSet(set)
		for _, ch := range []string{chainJoinIn, chainJoinFwd, chainJoinLocal} {
			b.flushChain(f, ch)
		}
	}
	b.addElems(set, ifnames(j.Ifaces...))
	s.planJoinBridges(b, j.Ifaces, ports)
	b.addRule(f, chainJoinIn, mkRule(jumpTo(chainJoinLocal), lookup(lIIFName, setJoinIf)))
	// No forwarding at all: pledges reach the registrar only through the
	// proxy, and nothing reaches them but the router.
	for _, k := range []loadKind{lIIFName, lOIFName} {
		b.addRule(f, chainJoinFwd, mkRule(drop, lookup(k, setJoinIf), anonymousCounter()))
	}
	for _, m := range joinLocal(j) {
		b.addRule(f, chainJoinLocal, mkRule(accept, m))
	}
	b.addRule(f, chainJoinLocal, mkRule(drop, anonymousCounter()))
}

// planDelJoin removes the confinement.
func planDelJoin(b *batch) {
	// The jump goes first, so the chain it names is no longer in use.
	for _, n := range []string{chainJoinIn, chainJoinFwd, chainJoinLocal} {
		b.flushChain(famINet, n)
	}
	for _, n := range []string{chainJoinIn, chainJoinFwd, chainJoinLocal} {
		b.delChain(famINet, n)
	}
	b.delSet(ifSet(famINet, setJoinIf))
	b.flushSet(ifSet(famBridge, setJoinBr))
}

// planJoinBridges refills the bridge table's set of join bridges (in
// port mode, of their ports, from ports).
func (s *state) planJoinBridges(b *batch, ifaces []string, ports map[string][]string) {
	set := ifSet(famBridge, setJoinBr)
	b.flushSet(set)
	if !s.portMode {
		b.addElems(set, ifnames(ifaces...))
		return
	}
	var all []string
	for _, i := range ifaces {
		all = append(all, ports[i]...)
	}
	b.addElems(set, ifnames(all...))
}

// joinLocal lists what a pledge may send to the router; everything else
// is dropped.
func joinLocal(j Join) [][]term {
	const f = famINet
	// The router's link-local address on the interface the packet came
	// in on, not one of its other addresses.
	ll := terms(ipFamily(f, 6), addrIn(linkLocal, false), fibLocal())
	to6 := func(a netip.Addr) []term { return terms(ipFamily(f, 6), addrIs(a, false)) }
	out := [][]term{
		ctState(ctEstablished | ctRelated),
		// MLD (130-132) and neighbour discovery (133-136), MLDv2 reports.
		icmpType(6, 130, 136),
		icmpType(6, 143, 143),
		udpPort(67, 67),
		udpPort(547, 547),
		udpPort(53, 53),
		tcpPort(53),
		terms(to6(allMDNS), udpPort(5353, 5353)),
		terms(ll, tcpPort(j.ProxyPort)),
	}
	if j.IPv4 {
		out = append(out, terms(ipFamily(f, 4), tcpPort(j.ProxyPort), fibLocal()))
	}
	for _, p := range j.CoAPPorts {
		out = append(out, terms(to6(allCoAPNodes), udpPort(p, p)), terms(ll, udpPort(p, p)))
	}
	return out
}
