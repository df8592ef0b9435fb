package firewall

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

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

// SetJoin replaces the join segment's confinement in one batch; on
// failure the previous one stays in force. An empty Ifaces lifts it.
func (e *Enforcer) SetJoin(ctx context.Context, j Join) error {
	if err := validateJoin(j); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	j.Ifaces, j.CoAPPorts = slices.Clone(j.Ifaces), slices.Clone(j.CoAPPorts)
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.installed {
		// As SetSegments: kept for Run to install if the kernel refuses.
		e.join = j
		return e.installLocked()
	}
	had, want := len(e.join.Ifaces) > 0, len(j.Ifaces) > 0
	if !had && !want {
		return nil
	}
	c, err := e.conn()
	if err != nil {
		return err
	}
	switch {
	case had && want:
		err = e.addJoin(c, j, false)
	case had:
		e.delJoin(c)
	default:
		err = e.addJoin(c, j, true)
	}
	if err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("failed to apply the join segment's confinement: %v", err)
	}
	e.join = j
	return nil
}

// installJoin adds the confinement to tables being installed.
func (e *Enforcer) installJoin(c *nftables.Conn) error {
	if len(e.join.Ifaces) == 0 {
		return nil
	}
	return e.addJoin(c, e.join, true)
}

// joinPresent says the confinement is in the table, when there is one:
// someone flushing its chains counts as the tables gone.
func (e *Enforcer) joinPresent() bool {
	if len(e.join.Ifaces) == 0 {
		return true
	}
	c, err := e.conn()
	if err != nil {
		return false
	}
	t := e.table(nftables.TableFamilyINet)
	for _, n := range []string{chainJoinIn, chainJoinFwd, chainJoinLocal} {
		rules, err := c.GetRules(t, &nftables.Chain{Name: n, Table: t})
		if err != nil || len(rules) == 0 {
			return false
		}
	}
	return true
}

func joinIfSet(t *nftables.Table) *nftables.Set {
	return &nftables.Set{Table: t, Name: setJoinIf, KeyType: nftables.TypeIFName, KeyByteOrder: binaryutil.NativeEndian}
}

// addJoin creates the set and chains of j (fresh) or empties and refills
// the existing ones, in c's batch.
func (e *Enforcer) addJoin(c *nftables.Conn, j Join, fresh bool) error {
	t := e.table(nftables.TableFamilyINet)
	set := joinIfSet(t)
	in := &nftables.Chain{Name: chainJoinIn, Table: t}
	fwd := &nftables.Chain{Name: chainJoinFwd, Table: t}
	local := &nftables.Chain{Name: chainJoinLocal, Table: t}
	if fresh {
		if err := c.AddSet(set, nil); err != nil {
			return err
		}
		prio := nftables.ChainPriority(e.opts.Priority)
		accept := nftables.ChainPolicyAccept
		in = c.AddChain(&nftables.Chain{Name: chainJoinIn, Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookInput, Priority: &prio, Policy: &accept})
		fwd = c.AddChain(&nftables.Chain{Name: chainJoinFwd, Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: &prio, Policy: &accept})
		local = c.AddChain(&nftables.Chain{Name: chainJoinLocal, Table: t})
	} else {
		c.FlushSet(set)
		for _, ch := range []*nftables.Chain{in, fwd, local} {
			c.FlushChain(ch)
		}
	}
	var el []nftables.SetElement
	for _, i := range j.Ifaces {
		el = append(el, nftables.SetElement{Key: ifname(i)})
	}
	if err := c.SetAddElements(set, el); err != nil {
		return err
	}
	var ports map[string][]string
	if e.portMode {
		p, err := bridgePorts(e.opts.NetNS, j.Ifaces)
		if err != nil {
			return err
		}
		ports = p
	}
	if err := e.fillJoinBridges(c, j.Ifaces, ports); err != nil {
		return err
	}
	c.AddRule(&nftables.Rule{Table: t, Chain: in, Exprs: exprs{metaLoad(expr.MetaKeyIIFNAME), lookup(setJoinIf), jump(chainJoinLocal)}})
	// No forwarding at all: pledges reach the registrar only through the
	// proxy, and nothing reaches them but the router.
	for _, k := range []expr.MetaKey{expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME} {
		c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: exprs{metaLoad(k), lookup(setJoinIf), &expr.Counter{}, verdict(expr.VerdictDrop)}})
	}
	for _, m := range joinLocal(j) {
		c.AddRule(&nftables.Rule{Table: t, Chain: local, Exprs: append(m, verdict(expr.VerdictAccept))})
	}
	c.AddRule(&nftables.Rule{Table: t, Chain: local, Exprs: exprs{&expr.Counter{}, verdict(expr.VerdictDrop)}})
	return nil
}

// delJoin removes the confinement, in c's batch.
func (e *Enforcer) delJoin(c *nftables.Conn) {
	t := e.table(nftables.TableFamilyINet)
	// The jump goes first, so the chain it names is no longer in use.
	for _, n := range []string{chainJoinIn, chainJoinFwd, chainJoinLocal} {
		c.FlushChain(&nftables.Chain{Name: n, Table: t})
	}
	for _, n := range []string{chainJoinIn, chainJoinFwd, chainJoinLocal} {
		c.DelChain(&nftables.Chain{Name: n, Table: t})
	}
	c.DelSet(joinIfSet(t))
	c.FlushSet(ifSet(e.table(nftables.TableFamilyBridge), setJoinBr))
}

// fillJoinBridges refills the bridge table's set of join bridges (in port
// mode, of their ports, from ports), in c's batch.
func (e *Enforcer) fillJoinBridges(c *nftables.Conn, ifaces []string, ports map[string][]string) error {
	set := ifSet(e.table(nftables.TableFamilyBridge), setJoinBr)
	c.FlushSet(set)
	var el []nftables.SetElement
	for _, i := range ifaces {
		if !e.portMode {
			el = append(el, nftables.SetElement{Key: ifname(i)})
			continue
		}
		for _, p := range ports[i] {
			el = append(el, nftables.SetElement{Key: ifname(p)})
		}
	}
	if len(el) == 0 {
		return nil
	}
	return c.SetAddElements(set, el)
}

// joinLocal lists what a pledge may send to the router; everything else
// is dropped.
func joinLocal(j Join) []exprs {
	inet := nftables.TableFamilyINet
	udp, tcp := l4proto(unix.IPPROTO_UDP), l4proto(unix.IPPROTO_TCP)
	dport := func(p int) exprs { return portMatch(uint16(p), uint16(p), false, false) }
	// The router's link-local address on the interface the packet came
	// in on, not one of its other addresses.
	ll := concat(family(inet, 6), prefixMatch(linkLocal, false), fibDaddrIifLocal())
	to6 := func(a netip.Addr) exprs { return concat(family(inet, 6), exprs{addr(6, false), cmpEq(a.AsSlice())}) }
	icmp6 := func(m expr.Any) exprs {
		return concat(l4proto(unix.IPPROTO_ICMPV6), exprs{payload(expr.PayloadBaseTransportHeader, 0, 1), m})
	}
	out := []exprs{
		ctState(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
		// MLD (130-132) and neighbour discovery (133-136), MLDv2 reports.
		icmp6(&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: []byte{130}, ToData: []byte{136}}),
		icmp6(cmpEq([]byte{143})),
		concat(udp, dport(67)),
		concat(udp, dport(547)),
		concat(udp, dport(53)),
		concat(tcp, dport(53)),
		concat(to6(allMDNS), udp, dport(5353)),
		concat(ll, tcp, dport(j.ProxyPort)),
	}
	if j.IPv4 {
		out = append(out, concat(family(inet, 4), tcp, dport(j.ProxyPort), fibDaddrIifLocal()))
	}
	for _, p := range j.CoAPPorts {
		out = append(out, concat(to6(allCoAPNodes), udp, dport(p)), concat(ll, udp, dport(p)))
	}
	return out
}

// fibDaddrIifLocal matches packets addressed to one of the router's
// addresses on the interface they arrived on.
func fibDaddrIifLocal() exprs {
	return exprs{&expr.Fib{Register: 1, FlagDADDR: true, FlagIIF: true, ResultADDRTYPE: true},
		cmpEq(binary.NativeEndian.AppendUint32(nil, unix.RTN_LOCAL))}
}
