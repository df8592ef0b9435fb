package firewall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Enforcer keeps trustjoin's nftables tables in line with the segments and
// devices it was given.
type Enforcer struct {
	log  *slog.Logger
	opts Options

	mu     sync.Mutex
	segs   []Segment
	segGen int
	join   Join // the join segment's confinement (join_linux.go)
	devs   map[string]*devState
	nextN  int
	// Slots are pairs of device chains reached through the slot maps. They
	// are made in chunks ahead of need, so adding a device adds no jump
	// (each jump added makes the kernel validate every chain it can reach,
	// which grows with the number of devices).
	nSlots int
	free   []int
	names  map[string]*dnsName
	groups map[string]bool // group sets that exist
	// installed says the tables are in the kernel as this state describes.
	installed bool
	restores  int // times Run put the tables back
	// tname names the tables; stale names a previous run's, deleted by Run.
	tname, stale string
	// synced is the learned address -> MAC map as last read; pushed what
	// the enforcer mirrored of it into the kernel (learn_linux.go).
	synced map[netip.Addr]string
	pushed map[netip.Addr]pushed
	ready  atomic.Bool
	// portMode: the kernel has no meta ibrname, so the bridge table
	// finds a segment by port; ports is what was last installed.
	portMode bool
	ports    map[string][]string
	// leaseFile is dnsmasq's lease file as last read (learn_linux.go).
	leaseFile struct {
		mod  time.Time
		size int64
		data []byte
	}
	// garbage is what changes left behind for Run to delete once changes
	// pause (cleanDelay): deleting anything costs the kernel an RCU grace
	// period, milliseconds, so no change waits for it. kick wakes Run;
	// changed is when the last change was made.
	garbage []garbage
	kick    chan struct{}
	changed time.Time
	// bg counts conntrack flushes running behind.
	bg sync.WaitGroup
}

// garbage is what one change left behind.
type garbage struct {
	slot int // slot chains to empty and free again; -1: none
	// entry names a device whose entry chains keep only their first
	// rule (the goto its current slot), or lose everything with the
	// device (removed).
	entry   int
	removed bool
	// counters of a removed device.
	counters []string
	// leave: group memberships the device no longer has. Keeping them a
	// while grants nothing the device's own chains refuse: every packet
	// from or to it passes them.
	leave []leave
}

// leave is one element to take out of a group set, unless a device
// still belongs there when Run gets to it.
type leave struct {
	fam   nftables.TableFamily
	group string
	v     int // 0: the group's MAC set; 4, 6: its address sets
	key   []byte
}

// cleanDelay is how long Run waits after the last change before deleting
// what changes left behind, so a burst of changes never waits for it.
const cleanDelay = time.Second

func (e *Enforcer) kickClean() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// cleanLocked deletes the garbage in one batch and frees its slots. If
// the kernel refuses the batch, each change's garbage is tried alone, and
// what is still refused is given up (it is harmless; the next restore
// starts clean).
func (e *Enforcer) cleanLocked() {
	if len(e.garbage) == 0 || !e.installed {
		return
	}
	if err := e.clean(e.garbage); err != nil {
		for _, g := range e.garbage {
			if err := e.clean([]garbage{g}); err != nil {
				e.log.Warn("failed to delete what a change left behind", "slot", g.slot, "err", err)
				continue
			}
			if g.slot >= 0 {
				e.free = append(e.free, g.slot)
			}
		}
		e.garbage = nil
		return
	}
	for _, g := range e.garbage {
		if g.slot >= 0 {
			e.free = append(e.free, g.slot)
		}
	}
	e.garbage = nil
}

func (e *Enforcer) clean(gs []garbage) error {
	c, err := e.conn()
	if err != nil {
		return err
	}
	q, err := e.conn()
	if err != nil {
		return err
	}
	byMAC := e.byMAC()
	removed, pruned := map[int]bool{}, map[int]bool{}
	for _, g := range gs {
		if g.removed {
			removed[g.entry] = true
		}
	}
	for _, g := range gs {
		for _, fam := range families {
			t := e.table(fam)
			if g.slot >= 0 {
				for _, sd := range sides(fam) {
					c.FlushChain(&nftables.Chain{Name: slotChain(g.slot, sd), Table: t})
				}
			}
			for _, n := range g.counters {
				c.DeleteObject(&nftables.CounterObj{Table: t, Name: n})
			}
		}
		for _, l := range g.leave {
			if e.stillIn(l, byMAC) {
				continue
			}
			if err := c.SetDeleteElements(l.set(e.table(l.fam)), []nftables.SetElement{{Key: l.key}}); err != nil {
				return err
			}
		}
		if pruned[g.entry] {
			continue
		}
		pruned[g.entry] = true
		for _, fam := range families {
			t := e.table(fam)
			for _, sd := range sides(fam) {
				ch := &nftables.Chain{Name: entryChain(g.entry, sd), Table: t}
				if removed[g.entry] {
					c.DelChain(ch) // its rules with it
					continue
				}
				// All but the first rule, the goto to the current slot.
				rules, err := q.GetRules(t, ch)
				if err != nil {
					return fmt.Errorf("failed to list chain %s: %v", ch.Name, err)
				}
				for _, r := range rules[min(1, len(rules)):] {
					if err := c.DelRule(r); err != nil {
						return err
					}
				}
			}
		}
	}
	return c.Flush()
}

func (l leave) set(t *nftables.Table) *nftables.Set {
	if l.v == 0 {
		return &nftables.Set{Table: t, Name: l.group, KeyType: nftables.TypeEtherAddr}
	}
	return groupIPSet(t, l.group, l.v)
}

// stillIn says a device has joined the group again since it left.
func (e *Enforcer) stillIn(l leave, byMAC map[string]*devState) bool {
	if l.v != 0 {
		a, _ := netip.AddrFromSlice(l.key)
		return slices.Contains(e.pushed[a].groups, l.group)
	}
	st, ok := byMAC[string(l.key)]
	if !ok {
		return false
	}
	member, _ := e.groupsOf(st.dev)
	return slices.Contains(member, l.group)
}

type devState struct {
	n    int // serial, names the counters
	slot int
	dev  Device
	// quar: its MACs are in the bridge table's quarantine set.
	quar bool
}

// side says which of a device's packets a chain judges.
type side byte

const (
	sideOut    side = 'o' // from the device, forwarded (or bridged)
	sideIn     side = 'i' // to the device
	sideRouter side = 'l' // from the device to the router itself (inet input)
)

// sides are the sides a table judges.
func sides(fam nftables.TableFamily) []side {
	if fam == nftables.TableFamilyBridge {
		return []side{sideOut, sideIn}
	}
	return []side{sideOut, sideIn, sideRouter}
}

// macMap names the map that finds a device's chain of a side by MAC in
// a table; ok is false where the side is found by address instead
// (routed traffic to a device: ip4dev, ip6dev, see ipDiff).
func macMap(fam nftables.TableFamily, sd side) (name string, ok bool) {
	switch sd {
	case sideIn:
		return setDevIn, fam == nftables.TableFamilyBridge
	case sideRouter:
		return setDevLocal, true
	}
	return setDevOut, true
}

func slotChain(slot int, sd side) string { return "d" + strconv.Itoa(slot) + string(sd) }

func (s *devState) chain(sd side) string { return slotChain(s.slot, sd) }

// entryChain is a device's own chain, which the maps jump to: it holds
// one goto to the device's current slot, so a new policy is a new rule at
// its head, and no map element has to change (or be deleted).
func entryChain(n int, sd side) string { return "e" + strconv.Itoa(n) + string(sd) }

// allName counts every packet the device's chains judge, dropName those
// they drop: one counter per chain rather than one per rule, so a change
// gives the kernel fewer expressions to check.
func (s *devState) allName() string  { return "c" + strconv.Itoa(s.n) + "t" }
func (s *devState) dropName() string { return "c" + strconv.Itoa(s.n) + "x" }

const slotChunk = 32

// addSlots makes the (empty) chains of slots from..to-1.
func (e *Enforcer) addSlots(c *nftables.Conn, from, to int) error {
	for _, fam := range families {
		t := e.table(fam)
		for s := from; s < to; s++ {
			for _, sd := range sides(fam) {
				c.AddChain(&nftables.Chain{Name: slotChain(s, sd), Table: t})
			}
		}
	}
	return nil
}

// ifSet is a set of interface names.
func ifSet(t *nftables.Table, name string) *nftables.Set {
	return &nftables.Set{Table: t, Name: name, KeyType: nftables.TypeIFName, KeyByteOrder: binaryutil.NativeEndian}
}

// devMap is a verdict map from MACs (dev_out, dev_in) or addresses
// (ip4dev, ip6dev) to device chains.
func devMap(t *nftables.Table, name string) *nftables.Set {
	k := nftables.TypeEtherAddr
	switch name {
	case setIP4Dev:
		k = nftables.TypeIPAddr
	case setIP6Dev:
		k = nftables.TypeIP6Addr
	}
	return &nftables.Set{Table: t, Name: name, IsMap: true, KeyType: k, DataType: nftables.TypeVerdict}
}

type dnsName struct {
	refs    int
	ans     answer
	fetched time.Time // zero: never resolved
	tried   time.Time // last question
}

// New returns an Enforcer; nothing reaches the kernel before SetSegments,
// Apply or Run.
func New(log *slog.Logger, opts Options) *Enforcer {
	opts.defaults()
	return &Enforcer{log: log, opts: opts, devs: map[string]*devState{},
		names: map[string]*dnsName{}, groups: map[string]bool{}, kick: make(chan struct{}, 1),
		synced: map[netip.Addr]string{}, pushed: map[netip.Addr]pushed{}}
}

// Ready says the tables are installed.
func (e *Enforcer) Ready() bool { return e.ready.Load() }

func (e *Enforcer) conn() (*nftables.Conn, error) {
	c, err := nftables.New(connOptions(e.opts.NetNS)...)
	if err != nil {
		return nil, fmt.Errorf("failed to open nftables netlink: %v", err)
	}
	return c, nil
}

func (e *Enforcer) table(fam nftables.TableFamily) *nftables.Table {
	return &nftables.Table{Name: e.tname, Family: fam}
}

// pickName chooses the tables' name at the first install. Tables a
// previous run left keep confining devices until this run has restored
// them (Run deletes them), so a restart opens no window: the new tables
// take the other of two names.
func (e *Enforcer) pickName(c *nftables.Conn) {
	exists := func(name string) bool {
		for _, fam := range families {
			if t, err := c.ListTableOfFamily(name, fam); err == nil && t != nil {
				return true
			}
		}
		return false
	}
	a, b := e.opts.Table, e.opts.Table+"_b"
	switch {
	case exists(a):
		e.tname, e.stale = b, a
	case exists(b):
		e.tname, e.stale = a, b
	default:
		e.tname = a
	}
}

// dropStale deletes the tables of a previous run.
func (e *Enforcer) dropStale() {
	if e.stale == "" {
		return
	}
	c, err := e.conn()
	if err != nil {
		return
	}
	for _, fam := range families {
		if t, err := c.ListTableOfFamily(e.stale, fam); err == nil && t != nil {
			c.DelTable(&nftables.Table{Name: e.stale, Family: fam})
		}
	}
	if err := c.Flush(); err != nil {
		e.log.Warn("failed to delete the previous run's tables", "table", e.stale, "err", err)
		return
	}
	e.log.Info("deleted the previous run's tables", "table", e.stale)
	e.stale = ""
}

// connOptions: a batch is acknowledged message by message, and the
// acknowledgements of a large one overflow the default receive buffer
// (ENOBUFS; google/nftables v0.3.0 does not size it), so it is forced
// larger, as nft does; the daemon has CAP_NET_ADMIN.
func connOptions(netns int) []nftables.ConnOption {
	opts := []nftables.ConnOption{nftables.WithSockOptions(func(c *netlink.Conn) error {
		rc, err := c.SyscallConn()
		if err != nil {
			return nil
		}
		_ = rc.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 8<<20)
		})
		return nil
	})}
	if netns != 0 {
		opts = append(opts, nftables.WithNetNSFd(netns))
	}
	return opts
}

var families = []nftables.TableFamily{nftables.TableFamilyINet, nftables.TableFamilyBridge}

func (e *Enforcer) segment(name string) (Segment, bool) {
	for _, s := range e.segs {
		if s.Name == name {
			return s, true
		}
	}
	return Segment{}, false
}

func (e *Enforcer) quarantined(d Device) bool {
	if d.Quarantined {
		return true
	}
	s, ok := e.segment(d.Segment)
	return ok && s.Quarantine
}

// SetSegments replaces the segments, in one batch.
func (e *Enforcer) SetSegments(ctx context.Context, segs []Segment) error {
	if err := validateSegments(segs); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.installed {
		// Kept even if the kernel refuses the tables now: Run installs
		// them with these segments when it tries again.
		e.segs = segs
		return e.installLocked()
	}
	c, err := e.conn()
	if err != nil {
		return err
	}
	// Device chains depend on segments only through quarantine: rebuild
	// those whose confinement changes in the same batch.
	oldSegs, oldGen := e.segs, e.segGen
	was := map[string]bool{}
	for id, st := range e.devs {
		was[id] = e.quarantined(st.dev)
	}
	e.delSegments(c, oldSegs, oldGen)
	e.segs, e.segGen = segs, oldGen+1
	if err := e.addSegments(c); err != nil {
		e.segs, e.segGen = oldSegs, oldGen
		return err
	}
	next := map[string]*devState{}
	for id, st := range e.devs {
		if was[id] == e.quarantined(st.dev) {
			continue
		}
		n := *st
		n.quar = e.quarantined(st.dev)
		if _, err := e.addDevice(c, &n, st); err != nil {
			e.segs, e.segGen = oldSegs, oldGen
			return err
		}
		next[id] = &n
	}
	if err := c.Flush(); err != nil {
		e.segs, e.segGen = oldSegs, oldGen
		return fmt.Errorf("failed to apply segments: %v", err)
	}
	maps.Copy(e.devs, next)
	return nil
}

// installLocked (re)creates both tables from the state: one batch for the
// tables, segments, groups and names, then one per device, so no batch
// grows with the number of devices.
func (e *Enforcer) installLocked() error {
	err := e.installTables()
	if err != nil && !e.portMode && errors.Is(err, unix.EOPNOTSUPP) {
		e.log.Info("kernel without nft_meta_bridge (kmod-nft-bridge): bridge segments by port")
		e.portMode = true
		err = e.installTables()
	}
	if err != nil {
		return err
	}
	// The new tables have every slot empty and have learned nothing.
	e.synced, e.pushed = map[netip.Addr]string{}, map[netip.Addr]pushed{}
	for _, g := range e.garbage {
		if g.slot >= 0 {
			e.free = append(e.free, g.slot)
		}
	}
	e.garbage = nil
	// Slots in chunks, devices one by one: no batch grows with their number.
	for from := 0; from < e.nSlots; from += slotChunk {
		c, err := e.conn()
		if err != nil {
			return err
		}
		if err := e.addSlots(c, from, min(from+slotChunk, e.nSlots)); err != nil {
			return err
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("failed to restore device slots: %v", err)
		}
	}
	e.installed = true
	e.ready.Store(true)
	var errs []error
	for _, st := range e.devs {
		c, err := e.conn()
		if err != nil {
			return err
		}
		st.quar = e.quarantined(st.dev)
		if _, err := e.addDevice(c, st, nil); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := c.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("failed to restore device %s: %v", st.dev.ID, err))
		}
	}
	return errors.Join(errs...)
}

func (e *Enforcer) installTables() error {
	c, err := e.conn()
	if err != nil {
		return err
	}
	if e.tname == "" {
		e.pickName(c)
	}
	for _, fam := range families {
		if t, err := c.ListTableOfFamily(e.tname, fam); err == nil && t != nil {
			c.DelTable(e.table(fam))
		}
	}
	e.segGen++
	if err := e.addBase(c); err != nil {
		return err
	}
	if err := e.addSegments(c); err != nil {
		return err
	}
	if err := e.installJoin(c); err != nil {
		return err
	}
	for g := range e.groups {
		if err := e.addGroup(c, g); err != nil {
			return err
		}
	}
	for n, dn := range e.names {
		if err := e.addNameSets(c, n, dn, false); err != nil {
			return err
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("failed to install the %s tables: %w", e.tname, err)
	}
	return nil
}

func (e *Enforcer) addBase(c *nftables.Conn) error {
	prio := nftables.ChainPriority(e.opts.Priority)
	accept := nftables.ChainPolicyAccept
	for _, fam := range families {
		t := c.AddTable(e.table(fam))
		var maps []*nftables.Set
		for _, sd := range sides(fam) {
			if name, ok := macMap(fam, sd); ok {
				maps = append(maps, devMap(t, name))
			}
		}
		if fam == nftables.TableFamilyINet {
			maps = append(maps, devMap(t, setIP4Dev), devMap(t, setIP6Dev))
		}
		for _, s := range maps {
			if err := c.AddSet(s, nil); err != nil {
				return err
			}
		}
		segMaps := []string{setSegBr}
		if fam == nftables.TableFamilyBridge {
			if err := c.AddSet(&nftables.Set{Table: t, Name: setQuarMAC, KeyType: nftables.TypeEtherAddr}, nil); err != nil {
				return err
			}
		}
		if fam == nftables.TableFamilyINet {
			segMaps = []string{setSegFwd}
			for _, n := range []string{setLAN, setQuar} {
				if err := c.AddSet(ifSet(t, n), nil); err != nil {
					return err
				}
			}
			for _, v := range []int{4, 6} {
				s := learnedMap(t, v)
				s.Timeout, s.Dynamic, s.Size = e.opts.LearnTimeout, true, 65535
				if err := c.AddSet(s, nil); err != nil {
					return err
				}
			}
		}
		for _, n := range segMaps {
			if err := c.AddSet(&nftables.Set{Table: t, Name: n, IsMap: true, KeyByteOrder: binaryutil.NativeEndian, KeyType: nftables.TypeIFName, DataType: nftables.TypeVerdict}, nil); err != nil {
				return err
			}
		}
		fwd := c.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: &prio, Policy: &accept})
		if fam == nftables.TableFamilyBridge {
			// Pledges on a join bridge reach the router, never each other.
			if err := c.AddSet(ifSet(t, setJoinBr), nil); err != nil {
				return err
			}
			brKey := expr.MetaKeyBRIIIFNAME
			if e.portMode {
				brKey = expr.MetaKeyIIFNAME
			}
			c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: exprs{metaLoad(brKey), lookup(setJoinBr), &expr.Counter{}, verdict(expr.VerdictDrop)}})
			// Quarantined devices first: not even ARP.
			c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: exprs{ether(true), lookup(setQuarMAC), verdict(expr.VerdictDrop)}})
			c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: exprs{ether(false), lookup(setQuarMAC), verdict(expr.VerdictDrop)}})
			key := expr.MetaKeyBRIIIFNAME
			if e.portMode {
				key = expr.MetaKeyIIFNAME
			}
			c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: exprs{metaLoad(key), vmap(setSegBr)}})
			// What neighbours need of each other whatever their policies
			// (no conntrack on a bridge): ARP, neighbour discovery, DHCP.
			// Here once rather than in every device's chains, which the
			// kernel would check on every change.
			for _, m := range []exprs{
				metaEq(expr.MetaKeyPROTOCOL, be16(unix.ETH_P_ARP)),
				concat(l4proto(unix.IPPROTO_ICMPV6), exprs{payload(expr.PayloadBaseTransportHeader, 0, 1),
					&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: []byte{133}, ToData: []byte{137}}}),
				concat(l4proto(unix.IPPROTO_UDP), portMatch(67, 68, false, false)),
				concat(l4proto(unix.IPPROTO_UDP), portMatch(546, 547, false, false)),
			} {
				c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: append(m, verdict(expr.VerdictAccept))})
			}
			c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: exprs{ether(true), vmap(setDevOut)}})
			c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: exprs{ether(false), vmap(setDevIn)}})
			continue
		}
		// A quarantine segment forwards nothing, not even replies.
		quar := exprs{metaLoad(expr.MetaKeyIIFNAME), lookup(setQuar), verdict(expr.VerdictDrop)}
		c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: quar})
		// Flows already judged pass at once: the per-packet cost of
		// established traffic is two rules, however many devices there
		// are. Whatever changes a device's confinement flushes its flows
		// from conntrack, so they are judged again.
		est := append(ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), verdict(expr.VerdictAccept))
		c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: est})
		// Traffic to a device is found by its address, which Run learns
		// from the device's own packets (see sync).
		c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: exprs{ether(true), vmap(setDevOut)}})
		c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: concat(family(fam, 4), exprs{addr(4, false), vmap(setIP4Dev)})})
		c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: concat(family(fam, 6), exprs{addr(6, false), vmap(setIP6Dev)})})
		c.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: exprs{metaLoad(expr.MetaKeyIIFNAME), vmap(setSegFwd)}})
		in := c.AddChain(&nftables.Chain{Name: "input", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookInput, Priority: &prio, Policy: &accept})
		// Addresses are learned from what LAN hosts send the router too
		// (DHCP, DNS): a device's address is known before it sends
		// anything further. Only governed devices' go further (see sync).
		lan := exprs{metaLoad(expr.MetaKeyIIFNAME), lookup(setLAN)}
		newFlow := ctState(expr.CtStateBitNEW)
		c.AddRule(&nftables.Rule{Table: t, Chain: in, Exprs: concat(newFlow, lan, learn(fam, 4))})
		c.AddRule(&nftables.Rule{Table: t, Chain: in, Exprs: concat(newFlow, lan, learn(fam, 6))})
		// DHCP, DNS and neighbour discovery to the router are every
		// device's, even in quarantine (RFC 8520 §8 allows them by default).
		for _, m := range []exprs{
			concat(l4proto(unix.IPPROTO_UDP), portMatch(67, 67, false, false)),
			concat(l4proto(unix.IPPROTO_UDP), portMatch(547, 547, false, false)),
			concat(l4proto(unix.IPPROTO_UDP), portMatch(53, 53, false, false)),
			concat(l4proto(unix.IPPROTO_TCP), portMatch(53, 53, false, false)),
			concat(l4proto(unix.IPPROTO_ICMPV6), exprs{payload(expr.PayloadBaseTransportHeader, 0, 1),
				&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: []byte{133}, ToData: []byte{137}}}),
		} {
			c.AddRule(&nftables.Rule{Table: t, Chain: in, Exprs: append(m, verdict(expr.VerdictAccept))})
		}
		// Quarantine on the router: nothing beyond the above.
		c.AddRule(&nftables.Rule{Table: t, Chain: in, Exprs: quar})
		c.AddRule(&nftables.Rule{Table: t, Chain: in, Exprs: est})
		// A map of its own, to chains holding only what can reach the
		// router: the kernel checks every chain a base chain can reach
		// whenever a jump is added, so the same chains from two base
		// chains would cost every change twice.
		c.AddRule(&nftables.Rule{Table: t, Chain: in, Exprs: exprs{ether(true), vmap(setDevLocal)}})
	}
	return nil
}

func (e *Enforcer) segChain(i int) string {
	return "s" + strconv.Itoa(e.segGen) + "_" + strconv.Itoa(i)
}

// addSegments adds the segment chains of the current generation and points
// the interface maps at them.
func (e *Enforcer) addSegments(c *nftables.Conn) error {
	ti, tb := e.table(nftables.TableFamilyINet), e.table(nftables.TableFamilyBridge)
	ifacesOf := map[string][]string{}
	var lan []nftables.SetElement
	for _, s := range e.segs {
		ifacesOf[s.Name] = s.Ifaces
		for _, i := range s.Ifaces {
			lan = append(lan, nftables.SetElement{Key: ifname(i)})
		}
	}
	if err := c.SetAddElements(ifSet(ti, setLAN), lan); err != nil {
		return err
	}
	var quar []nftables.SetElement
	for _, s := range e.segs {
		if s.Quarantine {
			for _, i := range s.Ifaces {
				quar = append(quar, nftables.SetElement{Key: ifname(i)})
			}
		}
	}
	if len(quar) > 0 {
		if err := c.SetAddElements(ifSet(ti, setQuar), quar); err != nil {
			return err
		}
	}
	if e.portMode {
		p, err := bridgePorts(e.opts.NetNS, e.portBridges())
		if err != nil {
			return err
		}
		e.ports = p
	}
	for i, s := range e.segs {
		name := e.segChain(i)
		// inet forward: what the segment may open connections to.
		ch := c.AddChain(&nftables.Chain{Name: name, Table: ti})
		reach := &nftables.Set{Table: ti, Name: name + "r", KeyType: nftables.TypeIFName, KeyByteOrder: binaryutil.NativeEndian}
		var allowed []nftables.SetElement
		if !s.Quarantine {
			if !s.Isolate {
				for _, i := range s.Ifaces {
					allowed = append(allowed, nftables.SetElement{Key: ifname(i)})
				}
			}
			for _, r := range s.Reach {
				for _, i := range ifacesOf[r] {
					allowed = append(allowed, nftables.SetElement{Key: ifname(i)})
				}
			}
		}
		if err := c.AddSet(reach, allowed); err != nil {
			return err
		}
		if !s.Quarantine {
			c.AddRule(&nftables.Rule{Table: ti, Chain: ch, Exprs: exprs{metaLoad(expr.MetaKeyOIFNAME), lookup(reach.Name), verdict(expr.VerdictReturn)}})
			if s.Internet {
				c.AddRule(&nftables.Rule{Table: ti, Chain: ch, Exprs: exprs{metaLoad(expr.MetaKeyOIFNAME),
					&expr.Lookup{SourceRegister: 1, SetName: setLAN, Invert: true}, verdict(expr.VerdictReturn)}})
			}
		}
		c.AddRule(&nftables.Rule{Table: ti, Chain: ch, Exprs: exprs{verdict(expr.VerdictDrop)}})
		// bridge forward: talking inside the segment.
		bch := c.AddChain(&nftables.Chain{Name: name, Table: tb})
		if s.Isolate || s.Quarantine {
			c.AddRule(&nftables.Rule{Table: tb, Chain: bch, Exprs: exprs{verdict(expr.VerdictDrop)}})
		}
		var fwd, br []nftables.SetElement
		for _, i := range s.Ifaces {
			fwd = append(fwd, nftables.SetElement{Key: ifname(i), VerdictData: jump(name)})
			if e.portMode {
				for _, p := range e.ports[i] {
					br = append(br, nftables.SetElement{Key: ifname(p), VerdictData: jump(name)})
				}
			} else {
				br = append(br, nftables.SetElement{Key: ifname(i), VerdictData: jump(name)})
			}
		}
		for _, x := range []struct {
			t   *nftables.Table
			set string
			el  []nftables.SetElement
		}{{ti, setSegFwd, fwd}, {tb, setSegBr, br}} {
			if len(x.el) == 0 {
				continue
			}
			if err := c.SetAddElements(&nftables.Set{Table: x.t, Name: x.set, IsMap: true, KeyByteOrder: binaryutil.NativeEndian, KeyType: nftables.TypeIFName, DataType: nftables.TypeVerdict}, x.el); err != nil {
				return err
			}
		}
	}
	return nil
}

// delSegments removes the chains of generation gen, emptying the maps
// that jump to them first.
func (e *Enforcer) delSegments(c *nftables.Conn, segs []Segment, gen int) {
	ti, tb := e.table(nftables.TableFamilyINet), e.table(nftables.TableFamilyBridge)
	for _, s := range []*nftables.Set{{Table: ti, Name: setSegFwd}, {Table: tb, Name: setSegBr}, {Table: ti, Name: setLAN}, {Table: ti, Name: setQuar}} {
		c.FlushSet(s)
	}
	for i := range segs {
		name := "s" + strconv.Itoa(gen) + "_" + strconv.Itoa(i)
		c.FlushChain(&nftables.Chain{Name: name, Table: ti})
		c.FlushChain(&nftables.Chain{Name: name, Table: tb})
		c.DelChain(&nftables.Chain{Name: name, Table: ti})
		c.DelChain(&nftables.Chain{Name: name, Table: tb})
		c.DelSet(&nftables.Set{Table: ti, Name: name + "r"})
	}
}

func (e *Enforcer) addGroup(c *nftables.Conn, g string) error {
	for _, fam := range families {
		if err := c.AddSet(&nftables.Set{Table: e.table(fam), Name: g, KeyType: nftables.TypeEtherAddr}, nil); err != nil {
			return err
		}
	}
	// Routed traffic is matched by the members' learned addresses.
	for _, v := range []int{4, 6} {
		if err := c.AddSet(groupIPSet(e.table(nftables.TableFamilyINet), g, v), nil); err != nil {
			return err
		}
	}
	// Members are added by their devices.
	return nil
}

// addNameSets creates the sets of one DNS name and, when it has been
// resolved, fills them; refill empties them first in the same batch so
// the swap is atomic.
func (e *Enforcer) addNameSets(c *nftables.Conn, name string, dn *dnsName, refill bool) error {
	t := e.table(nftables.TableFamilyINet)
	for _, v := range []int{4, 6} {
		s := &nftables.Set{Table: t, Name: nameSet(name, v), KeyType: nftables.TypeIPAddr, HasTimeout: true}
		if v == 6 {
			s.KeyType = nftables.TypeIP6Addr
		}
		if err := c.AddSet(s, nil); err != nil {
			return err
		}
		if refill {
			c.FlushSet(s)
		}
		if dn.fetched.IsZero() {
			continue
		}
		// Elements live for the TTL plus the time it takes to ask again.
		left := time.Until(dn.fetched.Add(dn.ans.ttl + e.refreshSlack()))
		if left <= time.Second {
			continue
		}
		var el []nftables.SetElement
		for _, a := range dn.ans.addrs {
			if (v == 4) == a.Is4() {
				el = append(el, nftables.SetElement{Key: a.AsSlice(), Timeout: left})
			}
		}
		if len(el) > 0 {
			if err := c.SetAddElements(s, el); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *Enforcer) refreshSlack() time.Duration { return 4*e.opts.CheckInterval + 5*time.Second }

// hasMAC says macs holds m.
func hasMAC(macs []net.HardwareAddr, m net.HardwareAddr) bool {
	return slices.ContainsFunc(macs, func(x net.HardwareAddr) bool { return string(x) == string(m) })
}

// addDevice adds (or, being there, rewrites) one device's chains, counters
// and map entries; old is its previous state when it changes. It adds
// only: what the old state leaves behind is returned for Run to delete.
func (e *Enforcer) addDevice(c *nftables.Conn, st *devState, old *devState) (garbage, error) {
	fresh := old == nil
	left := garbage{slot: -1, entry: st.n}
	for _, fam := range families {
		t := e.table(fam)
		if fresh {
			c.AddObj(&nftables.CounterObj{Table: t, Name: st.allName()})
			c.AddObj(&nftables.CounterObj{Table: t, Name: st.dropName()})
		}
		chains := e.devChains(fam, st)
		for _, sd := range sides(fam) {
			// The slot's chains exist (addSlots); adding them again would
			// cost the kernel a chain update, milliseconds.
			slot := &nftables.Chain{Name: st.chain(sd), Table: t}
			if !fresh && old.slot == st.slot {
				// Rewriting in place costs the kernel an RCU grace period
				// (milliseconds): Apply moves a device to a clean slot
				// instead, only SetSegments and restores come here.
				c.FlushChain(slot)
			}
			for _, r := range chains[sd] {
				c.AddRule(&nftables.Rule{Table: t, Chain: slot, Exprs: r})
			}
			entry := &nftables.Chain{Name: entryChain(st.n, sd), Table: t}
			gotoSlot := exprs{&expr.Verdict{Kind: expr.VerdictGoto, Chain: st.chain(sd)}}
			switch {
			case fresh:
				c.AddChain(entry)
				c.AddRule(&nftables.Rule{Table: t, Chain: entry, Exprs: gotoSlot})
			case old.slot != st.slot:
				// The new rule goes first, so it alone is reached from the
				// moment the batch is in.
				c.InsertRule(&nftables.Rule{Table: t, Chain: entry, Exprs: gotoSlot})
			}
		}
		var del, add []nftables.SetElement
		if !fresh {
			for _, m := range old.dev.MACs {
				if !hasMAC(st.dev.MACs, m) {
					del = append(del, nftables.SetElement{Key: m})
				}
			}
		}
		for _, m := range st.dev.MACs {
			if !fresh && hasMAC(old.dev.MACs, m) {
				continue
			}
			add = append(add, nftables.SetElement{Key: m})
		}
		for _, sd := range sides(fam) {
			name, ok := macMap(fam, sd)
			if !ok {
				continue
			}
			set := devMap(t, name)
			// A MAC the device gave up goes at once: another device may
			// claim it next.
			if len(del) > 0 {
				if err := c.SetDeleteElements(set, del); err != nil {
					return left, err
				}
			}
			if len(add) > 0 {
				el := slices.Clone(add)
				for i := range el {
					el[i].VerdictData = jump(entryChain(st.n, sd))
				}
				if err := c.SetAddElements(set, el); err != nil {
					return left, err
				}
			}
		}
		if fam == nftables.TableFamilyBridge {
			quar := &nftables.Set{Table: t, Name: setQuarMAC, KeyType: nftables.TypeEtherAddr}
			var in, out []nftables.SetElement
			for _, m := range st.dev.MACs {
				if st.quar {
					in = append(in, nftables.SetElement{Key: m})
				}
			}
			if !fresh && old.quar {
				for _, m := range old.dev.MACs {
					if !st.quar || !hasMAC(st.dev.MACs, m) {
						out = append(out, nftables.SetElement{Key: m})
					}
				}
			}
			// Released at once: deleting costs this change an RCU grace
			// period, but a released device must not wait for Run.
			if len(out) > 0 {
				if err := c.SetDeleteElements(quar, out); err != nil {
					return left, err
				}
			}
			if len(in) > 0 {
				if err := c.SetAddElements(quar, in); err != nil {
					return left, err
				}
			}
		}
		// Group membership: join the new groups (again: adding is
		// harmless), leave the old ones later.
		member, _ := e.groupsOf(st.dev)
		if !fresh {
			oldMember, _ := e.groupsOf(old.dev)
			for _, g := range oldMember {
				for _, m := range old.dev.MACs {
					kept := hasMAC(st.dev.MACs, m)
					switch {
					case kept && slices.Contains(member, g):
					case kept:
						left.leave = append(left.leave, leave{fam: fam, group: g, key: m})
					default:
						// A MAC no longer governed leaves at once.
						if err := c.SetDeleteElements(&nftables.Set{Table: t, Name: g, KeyType: nftables.TypeEtherAddr}, []nftables.SetElement{{Key: m}}); err != nil {
							return left, err
						}
					}
				}
			}
		}
		for _, g := range member {
			var el []nftables.SetElement
			for _, m := range st.dev.MACs {
				el = append(el, nftables.SetElement{Key: m})
			}
			if err := c.SetAddElements(&nftables.Set{Table: t, Name: g, KeyType: nftables.TypeEtherAddr}, el); err != nil {
				return left, err
			}
		}
	}
	return left, nil
}

// Apply installs or updates one device in one batch; on failure the
// previous state stays in force.
func (e *Enforcer) Apply(ctx context.Context, d Device) error {
	if err := validateDevice(d); err != nil {
		return err
	}
	d.MACs = slices.Clone(d.MACs)
	// Names are resolved before the batch, so the policy works from its
	// first packet; outside the lock, so a slow resolver holds up only
	// this call; a name already known costs nothing.
	e.mu.Lock()
	var unknown []string
	for _, n := range policyNames(d.Policy) {
		if _, ok := e.names[n]; !ok {
			unknown = append(unknown, n)
		}
	}
	e.mu.Unlock()
	answers := e.resolveAll(ctx, unknown)
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.installed {
		if err := e.installLocked(); err != nil {
			return err
		}
	}
	for id, o := range e.devs {
		if id == d.ID {
			continue
		}
		for _, m := range o.dev.MACs {
			for _, n := range d.MACs {
				if string(m) == string(n) {
					return fmt.Errorf("device %s: MAC %v already belongs to device %s", d.ID, n, id)
				}
			}
		}
	}
	old := e.devs[d.ID]
	st := &devState{dev: d, quar: e.quarantined(d)}
	// A device always gets a clean slot; a changed device's old slot is
	// emptied later, off the caller's path (see clean).
	newSlots := 0
	if old != nil {
		st.n = old.n
	} else {
		e.nextN++
		st.n = e.nextN
	}
	if len(e.free) == 0 {
		newSlots = slotChunk
	} else {
		st.slot = e.free[len(e.free)-1]
	}
	newNames := policyNames(d.Policy)
	for _, n := range newNames {
		if _, ok := e.names[n]; !ok {
			dn := &dnsName{tried: time.Now()}
			if a, ok := answers[n]; ok {
				dn.ans, dn.fetched = a, dn.tried
			}
			e.names[n] = dn
		}
	}
	c, err := e.conn()
	if err != nil {
		return err
	}
	if newSlots > 0 {
		if err := e.addSlots(c, e.nSlots, e.nSlots+newSlots); err != nil {
			return err
		}
		st.slot = e.nSlots
	}
	member, used := e.groupsOf(d)
	var newGroups []string
	for _, g := range append(member, used...) {
		if !e.groups[g] && !slices.Contains(newGroups, g) {
			newGroups = append(newGroups, g)
			if err := e.addGroup(c, g); err != nil {
				return err
			}
		}
	}
	for _, n := range newNames {
		if dn := e.names[n]; dn.refs == 0 {
			if err := e.addNameSets(c, n, dn, false); err != nil {
				return err
			}
		}
	}
	left, err := e.addDevice(c, st, old)
	if err != nil {
		return fmt.Errorf("device %s: %v", d.ID, err)
	}
	// Its learned addresses follow it to its new chain and groups.
	byMAC := e.byMAC()
	if old != nil {
		for _, m := range old.dev.MACs {
			delete(byMAC, string(m))
		}
	}
	for _, m := range d.MACs {
		byMAC[string(m)] = st
	}
	var oldMACs [][]byte
	if old != nil {
		for _, m := range old.dev.MACs {
			oldMACs = append(oldMACs, m)
		}
	}
	for _, m := range d.MACs {
		oldMACs = append(oldMACs, m)
	}
	nextIPs, err := e.ipDiff(c, e.addrsOf(oldMACs...), byMAC, &left)
	if err != nil {
		return fmt.Errorf("device %s: %v", d.ID, err)
	}
	if err := c.Flush(); err != nil {
		// Names never referenced stay out of the state.
		for _, n := range newNames {
			if e.names[n].refs == 0 {
				delete(e.names, n)
			}
		}
		return fmt.Errorf("failed to apply the policy of device %s: %v", d.ID, err)
	}
	if newSlots > 0 {
		for s := e.nSlots + newSlots - 1; s > e.nSlots; s-- {
			e.free = append(e.free, s)
		}
		e.nSlots += newSlots
	} else {
		e.free = e.free[:len(e.free)-1]
	}
	if old != nil {
		left.slot = old.slot
		e.garbage = append(e.garbage, left)
	}
	e.changed = time.Now()
	e.kickClean()
	e.commitPushed(nextIPs)
	for _, g := range newGroups {
		e.groups[g] = true
	}
	for _, n := range newNames {
		e.names[n].refs++
	}
	if old != nil {
		for _, n := range policyNames(old.dev.Policy) {
			e.names[n].refs--
		}
	}
	e.devs[d.ID] = st
	// Flows opened under the old rules must be judged again (quarantine
	// takes effect on the next packet, even for offloaded flows).
	if old != nil && !sameConfinement(old.dev, d) {
		e.flushFlowsLocked(st.dev, e.quarantined(d))
	}
	return nil
}

func sameConfinement(a, b Device) bool {
	return a.Quarantined == b.Quarantined && a.Segment == b.Segment && a.Policy == b.Policy
}

// Remove takes a device out; its traffic falls back to its segment.
func (e *Enforcer) Remove(ctx context.Context, id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, ok := e.devs[id]
	if !ok {
		return nil
	}
	if e.installed {
		c, err := e.conn()
		if err != nil {
			return err
		}
		var el []nftables.SetElement
		for _, m := range st.dev.MACs {
			el = append(el, nftables.SetElement{Key: m})
		}
		member, _ := e.groupsOf(st.dev)
		for _, fam := range families {
			t := e.table(fam)
			for _, sd := range sides(fam) {
				name, ok := macMap(fam, sd)
				if !ok {
					continue
				}
				if err := c.SetDeleteElements(devMap(t, name), el); err != nil {
					return err
				}
			}
			for _, g := range member {
				if err := c.SetDeleteElements(&nftables.Set{Table: t, Name: g, KeyType: nftables.TypeEtherAddr}, el); err != nil {
					return err
				}
			}
			if st.quar && fam == nftables.TableFamilyBridge {
				if err := c.SetDeleteElements(&nftables.Set{Table: t, Name: setQuarMAC, KeyType: nftables.TypeEtherAddr}, el); err != nil {
					return err
				}
			}
		}
		byMAC := e.byMAC()
		var macs [][]byte
		for _, m := range st.dev.MACs {
			delete(byMAC, string(m))
			macs = append(macs, m)
		}
		nextIPs, err := e.ipDiff(c, e.addrsOf(macs...), byMAC, nil)
		if err != nil {
			return err
		}
		if err := c.Flush(); err != nil {
			return fmt.Errorf("failed to remove device %s: %v", id, err)
		}
		e.commitPushed(nextIPs)
	}
	for _, n := range policyNames(st.dev.Policy) {
		e.names[n].refs--
	}
	delete(e.devs, id)
	// Its chains and counters go later, off the caller's path.
	e.garbage = append(e.garbage, garbage{slot: st.slot, entry: st.n, removed: true, counters: []string{st.allName(), st.dropName()}})
	e.changed = time.Now()
	e.kickClean()
	e.flushFlowsLocked(st.dev, false)
	return nil
}

// Counters returns what the firewall accepted and dropped for a device,
// in both tables together.
func (e *Enforcer) Counters(id string) (Counters, error) {
	e.mu.Lock()
	st, ok := e.devs[id]
	e.mu.Unlock()
	if !ok {
		return Counters{}, fmt.Errorf("no device %s", id)
	}
	c, err := e.conn()
	if err != nil {
		return Counters{}, err
	}
	var out, all Counters
	for _, fam := range families {
		// Dropped first: read after, the total cannot be behind it.
		for _, n := range []string{st.dropName(), st.allName()} {
			objs, err := c.GetObj(&nftables.CounterObj{Table: e.table(fam), Name: n})
			if err != nil {
				return Counters{}, fmt.Errorf("failed to read counter %s of device %s: %v", n, id, err)
			}
			for _, o := range objs {
				co, ok := o.(*nftables.CounterObj)
				if !ok || co.Name != n {
					continue
				}
				if n == st.allName() {
					all.AcceptedPackets += co.Packets
					all.AcceptedBytes += co.Bytes
				} else {
					out.DroppedPackets += co.Packets
					out.DroppedBytes += co.Bytes
				}
			}
		}
	}
	out.AcceptedPackets = all.AcceptedPackets - min(all.AcceptedPackets, out.DroppedPackets)
	out.AcceptedBytes = all.AcceptedBytes - min(all.AcceptedBytes, out.DroppedBytes)
	return out, nil
}

// resolveAll asks the resolver about names, several at a time, within a
// bounded time; names it could not resolve are missing from the answer.
func (e *Enforcer) resolveAll(ctx context.Context, names []string) map[string]answer {
	out := map[string]answer{}
	if len(names) == 0 {
		return out
	}
	if e.opts.Resolver == "" {
		e.log.Warn("no resolver configured: MUD rules naming hosts grant nothing", "names", names)
		return out
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			a, err := resolve(ctx, e.opts.Resolver, n)
			if err != nil {
				e.log.Warn("failed to resolve a MUD name", "name", n, "err", err)
				return
			}
			mu.Lock()
			out[n] = a
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// Run keeps the tables in place and the DNS sets fresh until ctx ends.
func (e *Enforcer) Run(ctx context.Context) error {
	e.mu.Lock()
	if !e.installed {
		if err := e.installLocked(); err != nil {
			e.mu.Unlock()
			return err
		}
	}
	// The daemon restored its devices before starting Run: the previous
	// run's tables have done their part.
	e.dropStale()
	e.mu.Unlock()
	tick := time.NewTicker(e.opts.CheckInterval)
	defer tick.Stop()
	clean := time.NewTimer(cleanDelay)
	defer clean.Stop()
	for {
		select {
		case <-ctx.Done():
			e.bg.Wait()
			return nil
		case <-e.kick:
			clean.Reset(cleanDelay)
			continue
		case <-clean.C:
			e.mu.Lock()
			if time.Since(e.changed) >= cleanDelay {
				e.cleanLocked()
			} else {
				clean.Reset(cleanDelay - time.Since(e.changed))
			}
			e.mu.Unlock()
			continue
		case <-tick.C:
		}
		e.mu.Lock()
		if time.Since(e.changed) >= cleanDelay {
			e.cleanLocked()
		}
		if !e.present() {
			e.log.Warn("trustjoin's nftables tables vanished (fw4 flush?): restoring", "table", e.tname)
			e.restores++
			e.installed = false
			if err := e.installLocked(); err != nil {
				e.log.Error("failed to restore the tables", "err", err)
			}
		}
		if e.installed && e.portMode {
			e.refreshPortsLocked()
		}
		if e.installed {
			e.syncLocked()
		}
		e.mu.Unlock()
		e.refresh(ctx)
	}
}

// present says both tables are there with their base rules: deleting
// either table, or flushing it, counts as gone.
func (e *Enforcer) present() bool {
	c, err := e.conn()
	if err != nil {
		return false
	}
	for _, fam := range families {
		t := e.table(fam)
		rules, err := c.GetRules(t, &nftables.Chain{Name: "forward", Table: t})
		if err != nil || len(rules) == 0 {
			return false
		}
	}
	return e.joinPresent()
}

// retryAfter spaces out questions about a name the resolver did not
// answer.
const retryAfter = 10 * time.Second

// refresh asks again about names whose TTL ran out (outside the lock) and
// swaps the answers in; a failed question keeps the old answer until it
// expires.
func (e *Enforcer) refresh(ctx context.Context) {
	e.mu.Lock()
	var due []string
	now := time.Now()
	for n, dn := range e.names {
		switch {
		case dn.refs == 0:
			delete(e.names, n)
		case now.Sub(dn.tried) < retryAfter:
		case dn.fetched.IsZero() || now.Sub(dn.fetched) >= dn.ans.ttl:
			due = append(due, n)
			dn.tried = now
		}
	}
	e.mu.Unlock()
	if len(due) == 0 {
		return
	}
	answers := e.resolveAll(ctx, due)
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.installed {
		return
	}
	for n, a := range answers {
		dn, ok := e.names[n]
		if !ok {
			continue
		}
		dn.ans, dn.fetched = a, time.Now()
		c, err := e.conn()
		if err != nil {
			return
		}
		if err := e.addNameSets(c, n, dn, true); err == nil {
			if err := c.Flush(); err != nil {
				e.log.Warn("failed to refresh a MUD name's addresses", "name", n, "err", err)
			}
		}
	}
}

// portBridges are the bridges whose ports the bridge table names in port
// mode: the segments' and the join segment's.
func (e *Enforcer) portBridges() []string {
	var all []string
	for _, s := range e.segs {
		all = append(all, s.Ifaces...)
	}
	return append(all, e.join.Ifaces...)
}

// refreshPortsLocked follows ports joining and leaving the segment
// bridges when the bridge table finds segments by port.
func (e *Enforcer) refreshPortsLocked() {
	p, err := bridgePorts(e.opts.NetNS, e.portBridges())
	if err != nil {
		e.log.Warn("failed to list bridge ports", "err", err)
		return
	}
	if maps.EqualFunc(p, e.ports, slices.Equal) {
		return
	}
	c, err := e.conn()
	if err != nil {
		return
	}
	tb := e.table(nftables.TableFamilyBridge)
	m := &nftables.Set{Table: tb, Name: setSegBr, IsMap: true, KeyByteOrder: binaryutil.NativeEndian, KeyType: nftables.TypeIFName, DataType: nftables.TypeVerdict}
	c.FlushSet(m)
	var el []nftables.SetElement
	for i, s := range e.segs {
		for _, br := range s.Ifaces {
			for _, port := range p[br] {
				el = append(el, nftables.SetElement{Key: ifname(port), VerdictData: jump(e.segChain(i))})
			}
		}
	}
	if len(el) > 0 {
		if err := c.SetAddElements(m, el); err != nil {
			return
		}
	}
	if err := e.fillJoinBridges(c, e.join.Ifaces, p); err != nil {
		return
	}
	if err := c.Flush(); err != nil {
		e.log.Warn("failed to update bridge ports", "err", err)
		return
	}
	e.ports = p
}
