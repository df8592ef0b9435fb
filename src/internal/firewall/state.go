package firewall

import (
	"cmp"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/config"
)

// state is what the planner knows of trustjoin's tables. Every batch is
// planned from it, without touching the kernel; it changes only through
// a plan's commit, once the kernel has taken the batch, so a refused
// batch leaves it (and the kernel) as they were. Facts read from the
// kernel (learned addresses, bridge ports) are handed in by the applier.
type state struct {
	table        string // both tables' name
	prio         int    // the base chains' priority
	learnTimeout time.Duration
	slack        time.Duration // how long a name's addresses outlive its TTL
	controllers  []config.Controller
	// chunk is how many slots are made at a time (see slots).
	chunk int
	// logGroup is the NFLOG group drops and connections are logged to,
	// logGroup+1 the one DNS answers are; 0: nothing is logged.
	logGroup uint16
	// learning are the devices whose connections are logged (their
	// destinations are being learned).
	learning map[string]bool

	// portMode: the kernel has no meta ibrname, so the bridge table
	// finds a segment by port; ports are the segment and join bridges'
	// ports as last read, bridge -> sorted port names.
	portMode bool
	ports    map[string][]string

	segs   []Segment
	segGen int
	join   Join // the join segment's confinement (plan_join.go)
	devs   map[string]*devState
	owner  map[string]string // MAC -> the ID of the device that has it
	nextN  int
	// Slots are pairs of device chains reached through the devices'
	// entry chains. They are made in chunks ahead of need, so adding a
	// device adds no jump to an existing chain (each jump added makes the
	// kernel validate every chain it can reach, which grows with the
	// number of devices).
	nSlots int
	free   []int
	names  map[string]*dnsName
	groups map[string]bool // group sets that exist
	// synced is the learned address -> MAC map as last read (bySrc
	// indexes it by MAC); pushed what was mirrored of it into the kernel
	// (plan_learn.go).
	synced map[netip.Addr]string
	bySrc  map[string][]netip.Addr
	pushed map[netip.Addr]pushed
	// garbage is what changes left behind, for a cleaning batch once
	// changes pause (plan_device.go).
	garbage []garbage
}

const slotChunk = 32

func newState(o Options) *state {
	return &state{table: o.Table, prio: o.Priority, learnTimeout: o.LearnTimeout,
		slack: 4*o.CheckInterval + 5*time.Second, controllers: o.Controllers, chunk: slotChunk,
		logGroup: o.LogGroup, learning: map[string]bool{},
		devs: map[string]*devState{}, owner: map[string]string{}, names: map[string]*dnsName{}, groups: map[string]bool{},
		synced: map[netip.Addr]string{}, bySrc: map[string][]netip.Addr{}, pushed: map[netip.Addr]pushed{}}
}

// forgetLearned: new tables have learned nothing.
func (s *state) forgetLearned() {
	s.synced, s.bySrc, s.pushed = map[netip.Addr]string{}, map[string][]netip.Addr{}, map[netip.Addr]pushed{}
}

type devState struct {
	n    int // serial, names the entry chains and counters
	slot int
	dev  Device
	// quar: confined as quarantined (its MACs are in the bridge table's
	// quarantine set).
	quar bool
	// learn: its chains log the first packet of each connection.
	learn bool
}

// side says which of a device's packets a chain judges.
type side byte

const (
	sideOut    side = 'o' // from the device, forwarded (or bridged)
	sideIn     side = 'i' // to the device
	sideRouter side = 'l' // from the device to the router itself (inet input)
)

// sides are the sides a table judges.
func sides(fam family) []side {
	if fam == famBridge {
		return []side{sideOut, sideIn}
	}
	return []side{sideOut, sideIn, sideRouter}
}

// macMap names the map that finds a device's chain of a side by MAC in
// a table; ok is false where the side is found by address instead
// (routed traffic to a device: ip4dev, ip6dev, see planAddrs).
func macMap(fam family, sd side) (name string, ok bool) {
	switch sd {
	case sideIn:
		return setDevIn, fam == famBridge
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
// still belongs there when the cleaning batch is planned.
type leave struct {
	fam   family
	group string
	v     int // 0: the group's MAC set; 4, 6: its address sets
	key   []byte
}

func (l leave) set() *setSpec {
	if l.v == 0 {
		return etherSet(l.fam, l.group)
	}
	return groupIPSet(l.group, l.v)
}

// pushed is what was put in the kernel for one learned address.
type pushed struct {
	entry  int // the device's serial: its entry chains
	groups []string
}

func (p pushed) equal(q pushed) bool { return p.entry == q.entry && slices.Equal(p.groups, q.groups) }

// dnsName is one DNS name the policies use, and what the resolver said.
type dnsName struct {
	refs    int
	ans     answer
	fetched time.Time // zero: never resolved
	tried   time.Time // last question
}

func (s *state) segment(name string) (Segment, bool) {
	i := slices.IndexFunc(s.segs, func(g Segment) bool { return g.Name == name })
	if i < 0 {
		return Segment{}, false
	}
	return s.segs[i], true
}

// quarantinedIn says d is confined as quarantined among segs: marked so,
// or in a quarantine segment.
func quarantinedIn(segs []Segment, d Device) bool {
	if d.Quarantined {
		return true
	}
	i := slices.IndexFunc(segs, func(g Segment) bool { return g.Name == d.Segment })
	return i >= 0 && segs[i].Quarantine
}

func (s *state) quarantined(d Device) bool { return quarantinedIn(s.segs, d) }

// sortedDevs lists the devices in the order they first arrived.
func (s *state) sortedDevs() []*devState {
	out := make([]*devState, 0, len(s.devs))
	for _, st := range s.devs {
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b *devState) int { return cmp.Compare(a.n, b.n) })
	return out
}

// byMAC indexes the devices by MAC.
func (s *state) byMAC() map[string]*devState {
	m := make(map[string]*devState, len(s.devs))
	for _, st := range s.devs {
		for _, mac := range st.dev.MACs {
			m[string(mac)] = st
		}
	}
	return m
}

// hasMAC says macs holds m.
func hasMAC(macs []net.HardwareAddr, m net.HardwareAddr) bool {
	return slices.ContainsFunc(macs, func(x net.HardwareAddr) bool { return string(x) == string(m) })
}

// portBridges are the bridges whose ports the bridge table names in port
// mode: the segments' and the join segment's.
func (s *state) portBridges() []string {
	var all []string
	for _, g := range s.segs {
		all = append(all, g.Ifaces...)
	}
	return append(all, s.join.Ifaces...)
}

// sortedKeys lists a map's keys in order, so plans are the same every
// time.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
