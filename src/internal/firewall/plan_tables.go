package firewall

import (
	"time"

	"github.com/trustjoin/trustjoin/src/internal/behaviour"
)

// planTables plans (re)creating both tables from the state in one batch:
// base chains and maps, segments, the join confinement, groups and name
// sets. Devices and their slots follow in batches of their own
// (planSlots, planDevice), so no batch grows with the number of devices.
// existing are the families whose table is already there (a restore
// after someone flushed it): deleted and made again in the same batch.
func (s *state) planTables(existing []family, joinPorts map[string][]string, now time.Time) *batch {
	b := newBatch(s.table)
	for _, f := range existing {
		b.delTable(f)
	}
	s.planBase(b)
	s.planSegmentChains(b, s.segs, s.segGen)
	if len(s.join.Ifaces) > 0 {
		s.planJoin(b, s.join, joinPorts, true)
	}
	for _, g := range sortedKeys(s.groups) {
		planGroup(b, g)
	}
	for _, n := range sortedKeys(s.names) {
		s.planNameSets(b, n, s.names[n], false, now)
	}
	return b
}

// planSlots adds the (empty) chains of slots from..to-1.
func (s *state) planSlots(b *batch, from, to int) {
	for _, fam := range families {
		for n := from; n < to; n++ {
			for _, sd := range sides(fam) {
				b.addChain(fam, slotChain(n, sd))
			}
		}
	}
}

// ibrKey is what finds a bridged packet's segment: its bridge, or in
// port mode its port.
func (s *state) ibrKey() loadKind {
	if s.portMode {
		return lIIFName
	}
	return lIBRName
}

// planBase adds both tables with their base chains and the maps and sets
// these use.
func (s *state) planBase(b *batch) {
	for _, fam := range families {
		b.addTable(fam)
		for _, sd := range sides(fam) {
			if name, ok := macMap(fam, sd); ok {
				b.addSet(devMap(fam, name), nil)
			}
		}
		if fam == famBridge {
			s.planBridgeBase(b)
			continue
		}
		s.planINetBase(b)
	}
}

// planBridgeBase: the bridge table's forward chain, which judges traffic
// between ports of one bridge.
func (s *state) planBridgeBase(b *batch) {
	const f = famBridge
	b.addSet(quarMACSet(), nil)
	b.addSet(ifMap(f, setSegBr), nil)
	b.addBaseChain(f, chainForward, hookForward, s.prio)
	// Pledges on a join bridge reach the router, never each other.
	b.addSet(ifSet(f, setJoinBr), nil)
	add := func(r rule) { b.addRule(f, chainForward, r) }
	add(mkRule(drop, lookup(s.ibrKey(), setJoinBr), anonymousCounter()))
	// Quarantined devices first: not even ARP.
	add(mkRule(drop, etherIn(true, setQuarMAC)))
	add(mkRule(drop, etherIn(false, setQuarMAC)))
	add(mkRule(verdict{}, vmap(s.ibrKey(), setSegBr)))
	// What neighbours need of each other whatever their policies (no
	// conntrack on a bridge): ARP, neighbour discovery, DHCP. Here once
	// rather than in every device's chains, which the kernel would check
	// on every change.
	for _, m := range [][]term{
		etherType(ethARP),
		icmpType(6, 133, 137),
		udpPort(67, 68),
		udpPort(546, 547),
	} {
		add(mkRule(accept, m))
	}
	add(mkRule(verdict{}, etherVmap(true, setDevOut)))
	add(mkRule(verdict{}, etherVmap(false, setDevIn)))
}

// planINetBase: the inet table's forward and input chains.
func (s *state) planINetBase(b *batch) {
	const f = famINet
	b.addSet(devMap(f, setIP4Dev), nil)
	b.addSet(devMap(f, setIP6Dev), nil)
	b.addSet(ifSet(f, setLAN), nil)
	b.addSet(ifSet(f, setQuar), nil)
	b.addSet(learnedMap(4, s.learnTimeout), nil)
	b.addSet(learnedMap(6, s.learnTimeout), nil)
	b.addSet(ifMap(f, setSegFwd), nil)

	b.addBaseChain(f, chainForward, hookForward, s.prio)
	fwd := func(r rule) { b.addRule(f, chainForward, r) }
	// A quarantine segment forwards nothing, not even replies.
	quar := mkRule(drop, lookup(lIIFName, setQuar))
	fwd(quar)
	// Flows already judged pass at once: the per-packet cost of
	// established traffic is two rules, however many devices there are.
	// Whatever changes a device's confinement flushes its flows from
	// conntrack, so they are judged again.
	est := mkRule(accept, ctState(ctEstablished|ctRelated))
	fwd(est)
	// Traffic to a device is found by its address, learned from the
	// device's own packets (see plan_learn.go).
	fwd(mkRule(verdict{}, etherVmap(true, setDevOut)))
	fwd(mkRule(verdict{}, ipFamily(f, 4), addrVmap(4, false, setIP4Dev)))
	fwd(mkRule(verdict{}, ipFamily(f, 6), addrVmap(6, false, setIP6Dev)))
	fwd(mkRule(verdict{}, vmap(lIIFName, setSegFwd)))

	b.addBaseChain(f, chainInput, hookInput, s.prio)
	in := func(r rule) { b.addRule(f, chainInput, r) }
	// Addresses are learned from what LAN hosts send the router too
	// (DHCP, DNS): a device's address is known before it sends anything
	// further. Only governed devices' go further (see plan_learn.go).
	lan := lookup(lIIFName, setLAN)
	newFlow := ctState(ctNew)
	in(mkRule(verdict{}, newFlow, lan, learn(f, 4)))
	in(mkRule(verdict{}, newFlow, lan, learn(f, 6)))
	// DHCP, DNS and neighbour discovery to the router are every device's,
	// even in quarantine (RFC 8520 §8 allows them by default).
	for _, m := range [][]term{
		udpPort(67, 67),
		udpPort(547, 547),
		udpPort(53, 53),
		tcpPort(53),
		icmpType(6, 133, 137),
	} {
		in(mkRule(accept, m))
	}
	// Quarantine on the router: nothing beyond the above.
	in(quar)
	in(est)
	// A map of its own, to chains holding only what can reach the router:
	// the kernel checks every chain a base chain can reach whenever a jump
	// is added, so the same chains from two base chains would cost every
	// change twice.
	in(mkRule(verdict{}, etherVmap(true, setDevLocal)))

	if s.logGroup != 0 {
		// The router's DNS answers to devices, whole: they tell package
		// behaviour which name a device looked each address up by.
		b.addBaseChain(f, chainOutput, hookOutput, s.prio)
		b.addRule(f, chainOutput, mkRule(verdict{}, lookup(lOIFName, setLAN), l4proto(protoUDP), port(53, 53, false, true),
			logged(s.logGroup+1, behaviour.PrefixDNS, logDNSRate, 0)))
	}
}

// planSegmentChains adds the segment chains of generation gen and points
// the interface maps at them.
func (s *state) planSegmentChains(b *batch, segs []Segment, gen int) {
	ifacesOf := map[string][]string{}
	var lan, quar []string
	for _, g := range segs {
		ifacesOf[g.Name] = g.Ifaces
		lan = append(lan, g.Ifaces...)
		if g.Quarantine {
			quar = append(quar, g.Ifaces...)
		}
	}
	b.addElems(ifSet(famINet, setLAN), ifnames(lan...))
	b.addElems(ifSet(famINet, setQuar), ifnames(quar...))
	for i, g := range segs {
		name := segChainName(gen, i)
		// inet forward: what the segment may open connections to.
		b.addChain(famINet, name)
		var allowed []string
		if !g.Quarantine {
			if !g.Isolate {
				allowed = append(allowed, g.Ifaces...)
			}
			for _, r := range g.Reach {
				allowed = append(allowed, ifacesOf[r]...)
			}
		}
		reach := reachSet(name)
		b.addSet(reach, ifnames(allowed...))
		if !g.Quarantine {
			b.addRule(famINet, name, mkRule(ret, lookup(lOIFName, reach.name)))
			if g.Internet {
				b.addRule(famINet, name, mkRule(ret, notIn(lOIFName, setLAN)))
			}
			// What the segment forbids its devices (the base chain drops
			// everything of a quarantine segment before it gets here).
			for _, r := range s.logDrop("") {
				b.addRule(famINet, name, r)
			}
		}
		b.addRule(famINet, name, mkRule(drop))
		// bridge forward: talking inside the segment.
		b.addChain(famBridge, name)
		if g.Isolate || g.Quarantine {
			if !g.Quarantine {
				for _, r := range s.logDrop("") {
					b.addRule(famBridge, name, r)
				}
			}
			b.addRule(famBridge, name, mkRule(drop))
		}
		var fwd, br []elem
		for _, i := range g.Ifaces {
			fwd = append(fwd, elem{key: ifname(i), jump: name})
			if !s.portMode {
				br = append(br, elem{key: ifname(i), jump: name})
				continue
			}
			for _, p := range s.ports[i] {
				br = append(br, elem{key: ifname(p), jump: name})
			}
		}
		b.addElems(ifMap(famINet, setSegFwd), fwd)
		b.addElems(ifMap(famBridge, setSegBr), br)
	}
}

// planDelSegments removes the chains of generation gen, emptying the
// maps that jump to them first.
func planDelSegments(b *batch, segs []Segment, gen int) {
	for _, set := range []*setSpec{ifMap(famINet, setSegFwd), ifMap(famBridge, setSegBr), ifSet(famINet, setLAN), ifSet(famINet, setQuar)} {
		b.flushSet(set)
	}
	for i := range segs {
		name := segChainName(gen, i)
		b.flushChain(famINet, name)
		b.flushChain(famBridge, name)
		b.delChain(famINet, name)
		b.delChain(famBridge, name)
		b.delSet(reachSet(name))
	}
}

// planSegments plans replacing the segments on installed tables, in one
// batch. Device chains depend on segments only through quarantine: those
// whose confinement changes are rebuilt in the same batch.
func (s *state) planSegments(segs []Segment) (*batch, func()) {
	b := newBatch(s.table)
	planDelSegments(b, s.segs, s.segGen)
	s.planSegmentChains(b, segs, s.segGen+1)
	next := map[string]*devState{}
	for _, st := range s.sortedDevs() {
		q := quarantinedIn(segs, st.dev)
		if q == quarantinedIn(s.segs, st.dev) {
			continue
		}
		n := *st
		n.quar = q
		s.planDevice(b, &n, st)
		next[st.dev.ID] = &n
	}
	return b, func() {
		s.segs, s.segGen = segs, s.segGen+1
		for id, st := range next {
			s.devs[id] = st
		}
	}
}

// planPorts plans pointing the bridge table at the ports p of the
// segment and join bridges (port mode).
func (s *state) planPorts(p map[string][]string) (*batch, func()) {
	b := newBatch(s.table)
	m := ifMap(famBridge, setSegBr)
	b.flushSet(m)
	var el []elem
	for i, g := range s.segs {
		for _, br := range g.Ifaces {
			for _, port := range p[br] {
				el = append(el, elem{key: ifname(port), jump: segChainName(s.segGen, i)})
			}
		}
	}
	b.addElems(m, el)
	s.planJoinBridges(b, s.join.Ifaces, p)
	return b, func() { s.ports = p }
}

// planGroup adds the sets of one group (a manufacturer or a model): its
// members' MACs in both tables, their learned addresses in the inet
// table. Members are added by their devices.
func planGroup(b *batch, g string) {
	for _, fam := range families {
		b.addSet(etherSet(fam, g), nil)
	}
	// Routed traffic is matched by the members' learned addresses.
	b.addSet(groupIPSet(g, 4), nil)
	b.addSet(groupIPSet(g, 6), nil)
}

// planNameSets adds the sets of one DNS name and, when it has been
// resolved, fills them; refill empties them first in the same batch, so
// the swap is atomic.
func (s *state) planNameSets(b *batch, name string, dn *dnsName, refill bool, now time.Time) {
	for _, v := range []int{4, 6} {
		set := nameSet(name, v)
		b.addSet(set, nil)
		if refill {
			b.flushSet(set)
		}
		if dn.fetched.IsZero() {
			continue
		}
		// Elements live for the TTL plus the time it takes to ask again.
		left := dn.fetched.Add(dn.ans.ttl + s.slack).Sub(now)
		if left <= time.Second {
			continue
		}
		var el []elem
		for _, a := range dn.ans.addrs {
			if (v == 4) == a.Is4() {
				el = append(el, elem{key: a.AsSlice(), timeout: left})
			}
		}
		b.addElems(set, el)
	}
}
