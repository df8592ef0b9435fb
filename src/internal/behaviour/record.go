package behaviour

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The prefixes the firewall's log rules give packets, saying what each
// is. A rule in a device's own chains adds a space and the device's id;
// others leave the device to be found by the packet's source MAC.
const (
	// PrefixDrop: a packet from a device that its policy (MUD file or
	// segment) dropped.
	PrefixDrop = "tj-drop"
	// PrefixOpen: the first packet of a connection a device opened (only
	// for devices whose destinations are being learned).
	PrefixOpen = "tj-open"
	// PrefixIn: the first packet of a connection another opened to a
	// device (only for devices being learned; always with the id).
	PrefixIn = "tj-in"
	// PrefixDNS: a DNS answer from the router to a device.
	PrefixDNS = "tj-dns"
)

// Packet is one logged packet: the rule's prefix, the sender's MAC when
// the packet came in from an Ethernet-like interface, and the packet from
// its network header on (as much as the group copies).
type Packet struct {
	Prefix  string
	MAC     net.HardwareAddr
	InDev   uint32
	OutDev  uint32
	Payload []byte
}

// Verdict is what the firewall did with a flow.
type Verdict string

// The verdicts recorded.
const (
	// Dropped: the device sent it and its policy dropped it.
	Dropped Verdict = "dropped"
	// Opened: the device opened a connection (Addr, Port its peer's).
	Opened Verdict = "opened"
	// Inbound: another opened a connection to the device (Addr is the
	// other's, Port the device's).
	Inbound Verdict = "inbound"
)

// Flow is where a device's packet was going.
type Flow struct {
	Verdict Verdict `json:"verdict"`
	Proto   uint8   `json:"proto"`
	// Addr is the other side's address: where the device's packet went,
	// or, Inbound, where the connection came from.
	Addr netip.Addr `json:"address"`
	// Port is the destination port (the device's own, Inbound), or the
	// ICMP type for ICMP.
	Port uint16 `json:"port"`
	// Name is the DNS name the device looked the address up by, if the
	// router answered it.
	Name string `json:"name,omitempty"`
}

// Destination says the flow's destination in plain words: name or
// address, port and protocol.
func (f Flow) Destination() string {
	host := f.Addr.String()
	if f.Name != "" {
		host = f.Name
	}
	switch f.Proto {
	case 1, 58:
		return host + " ICMP type " + strconv.Itoa(int(f.Port))
	case 6:
		return hostPort(host, f.Port) + "/tcp"
	case 17:
		return hostPort(host, f.Port) + "/udp"
	}
	if f.Port != 0 {
		return fmt.Sprintf("%s protocol %d", hostPort(host, f.Port), f.Proto)
	}
	return fmt.Sprintf("%s protocol %d", host, f.Proto)
}

func hostPort(host string, port uint16) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + strconv.Itoa(int(port))
	}
	return host + ":" + strconv.Itoa(int(port))
}

// Entry is one destination in a device's history.
type Entry struct {
	Flow
	Count uint64    `json:"count"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// History is what one device did lately.
type History struct {
	// Dropped, Opened and Inbound count every packet recorded since the
	// daemon started (or the device's history was cleared).
	Dropped uint64 `json:"dropped"`
	Opened  uint64 `json:"opened"`
	Inbound uint64 `json:"inbound,omitempty"`
	// Entries are the latest destinations, newest first.
	Entries []Entry `json:"entries,omitempty"`
}

// Mode is a segment's watch policy.
type Mode string

// The watch policies.
const (
	Off        Mode = "off"
	Notify     Mode = "notify"
	Quarantine Mode = "quarantine"
)

// Policy says when a device's drops are news.
type Policy struct {
	Mode Mode
	// Threshold is how many distinct forbidden destinations (a DNS name
	// with all its addresses is one; each port is one) a device must try
	// within Window. At most Keep.
	Threshold int
	Window    time.Duration
}

// Trip is a device found trying too many forbidden destinations.
type Trip struct {
	Device string
	Policy Policy
	// Tried are the distinct destinations within the window, newest
	// first.
	Tried []Flow
}

// Reason says why, in plain words, for the device's history and the
// household.
func (t Trip) Reason() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tried %d forbidden destinations within %v:", len(t.Tried), t.Policy.Window)
	for i, f := range t.Tried {
		if i == 5 {
			fmt.Fprintf(&b, " and %d more", len(t.Tried)-i)
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(" " + f.Destination())
	}
	return b.String()
}

// Options configure a Recorder.
type Options struct {
	Log *slog.Logger
	// Device finds the household's device with a MAC address.
	Device func(mac net.HardwareAddr) (id string, ok bool)
	// Policy is a device's watch policy (its segment's).
	Policy func(id string) Policy
	// OnTrip is told when a device trips its policy (not Off); it is
	// told again only after Clear or once the window has passed without
	// the device tripping.
	OnTrip func(Trip)
	// OnOpen is told of each connection a device opened, or another
	// opened to it (the firewall logs them for devices being learned).
	OnOpen func(id string, f Flow, at time.Time)
	// Keep is how many destinations per device the history holds, for
	// drops and for opened connections each; default 16.
	Keep int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// nameTTL is how long an address stays known by the name a device looked
// it up by: devices keep answers past their TTL, and connect later.
const nameTTL = 15 * time.Minute

// maxNames bounds the names remembered, for every device together.
const maxNames = 2048

// Memory is kept small: a router may have hundreds of devices, each with
// a full history. A slot is an Entry in 56 bytes rather than 128: the
// address as 16 bytes, times as seconds since the recorder started.
type slot struct {
	addr        [16]byte
	name        string
	count       uint32
	first, last uint32
	port        uint16
	proto       uint8
	verdict     uint8
	is4         bool
}

var verdicts = [...]Verdict{Dropped, Opened, Inbound}

func verdictCode(v Verdict) uint8 {
	switch v {
	case Opened:
		return 1
	case Inbound:
		return 2
	}
	return 0
}

func (r *Recorder) slotOf(f Flow, at time.Time) slot {
	return slot{addr: f.Addr.As16(), is4: f.Addr.Is4(), name: f.Name, port: f.Port, proto: f.Proto,
		verdict: verdictCode(f.Verdict), count: 1, first: r.secs(at), last: r.secs(at)}
}

func (s slot) flow() Flow {
	a := netip.AddrFrom16(s.addr)
	if s.is4 {
		a = a.Unmap()
	}
	return Flow{Verdict: verdicts[s.verdict], Proto: s.proto, Addr: a, Port: s.port, Name: s.name}
}

func (s slot) same(o slot) bool {
	return s.addr == o.addr && s.is4 == o.is4 && s.name == o.name && s.port == o.port && s.proto == o.proto && s.verdict == o.verdict
}

// secs is at in seconds since the recorder started.
func (r *Recorder) secs(at time.Time) uint32 {
	d := at.Sub(r.epoch)
	if d < 0 {
		return 0
	}
	return uint32(d / time.Second)
}

func (r *Recorder) time(secs uint32) time.Time { return r.epoch.Add(time.Duration(secs) * time.Second) }

type nameKey struct{ client, addr [16]byte }

type named struct {
	name    string
	expires uint32
}

type device struct {
	dropped, opened, inbound uint64
	drops, opens             []slot
	// tripped is when the device last tripped (seconds since the
	// recorder started, plus one: zero is never); it trips again only
	// once its window has passed.
	tripped uint32
}

// A Recorder keeps each device's history and watches it.
type Recorder struct {
	o Options

	// epoch is when the recorder started, to the second.
	epoch time.Time

	mu    sync.Mutex
	devs  map[string]*device
	names map[nameKey]named
	// unattributed counts logged packets from no known device.
	unattributed uint64
}

// NewRecorder returns a Recorder.
func NewRecorder(o Options) *Recorder {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Keep <= 0 {
		o.Keep = 16
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Policy == nil {
		o.Policy = func(string) Policy { return Policy{Mode: Off} }
	}
	return &Recorder{o: o, epoch: o.Now().Truncate(time.Second), devs: map[string]*device{}, names: map[nameKey]named{}}
}

// Handle records one logged packet.
func (r *Recorder) Handle(p Packet) {
	h, ok := parseIP(p.Payload)
	if !ok {
		return
	}
	now := r.o.Now()
	switch p.Prefix {
	case PrefixDNS:
		if h.proto != 17 || h.srcPort != 53 {
			return
		}
		if a, ok := parseDNS(h.l4); ok {
			r.learnNames(h.dst, a, now)
		}
		return
	}
	kind, id, _ := strings.Cut(p.Prefix, " ")
	var v Verdict
	switch kind {
	case PrefixDrop:
		v = Dropped
	case PrefixOpen:
		v = Opened
	case PrefixIn:
		v = Inbound
	default:
		return
	}
	if id == "" && v != Inbound && r.o.Device != nil && p.MAC != nil {
		if d, ok := r.o.Device(p.MAC); ok {
			id = d
		}
	}
	if id == "" {
		r.count()
		return
	}
	if v == Inbound {
		r.Record(id, h.dst, Flow{Verdict: v, Proto: h.proto, Addr: h.src, Port: h.port}, now)
		return
	}
	r.Record(id, h.src, Flow{Verdict: v, Proto: h.proto, Addr: h.dst, Port: h.port}, now)
}

func (r *Recorder) count() {
	r.mu.Lock()
	r.unattributed++
	r.mu.Unlock()
}

func (r *Recorder) learnNames(client netip.Addr, a answer, now time.Time) {
	ttl := max(time.Duration(a.ttl)*time.Second, nameTTL)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.names)+len(a.addrs) > maxNames {
		for k, n := range r.names {
			if r.secs(now) >= n.expires {
				delete(r.names, k)
			}
		}
		// Still full: forget half, whatever they are; a name missing
		// only makes a history show an address.
		for k := range r.names {
			if len(r.names) <= maxNames/2 {
				break
			}
			delete(r.names, k)
		}
	}
	for _, addr := range a.addrs {
		r.names[nameKey{client.As16(), addr.As16()}] = named{name: a.name, expires: r.secs(now.Add(ttl))}
	}
}

// Record adds a flow of a device, from address src, to its history, and
// watches it. The flow's name is filled in from the DNS answers seen.
func (r *Recorder) Record(id string, src netip.Addr, f Flow, at time.Time) {
	r.mu.Lock()
	if n, ok := r.names[nameKey{src.As16(), f.Addr.As16()}]; ok && r.secs(at) < n.expires {
		f.Name = n.name
	}
	d := r.devs[id]
	if d == nil {
		d = &device{}
		r.devs[id] = d
	}
	var trip *Trip
	if f.Verdict == Dropped {
		d.dropped++
		d.drops = r.add(d.drops, f, at)
		trip = r.watch(id, d, at)
	} else {
		if f.Verdict == Opened {
			d.opened++
		} else {
			d.inbound++
		}
		d.opens = r.add(d.opens, f, at)
	}
	r.mu.Unlock()
	if trip != nil {
		r.o.Log.Warn("device keeps trying forbidden destinations", "device", id, "mode", trip.Policy.Mode, "reason", trip.Reason())
		if r.o.OnTrip != nil {
			r.o.OnTrip(*trip)
		}
	}
	if f.Verdict != Dropped && r.o.OnOpen != nil {
		r.o.OnOpen(id, f, at)
	}
}

// add counts f in entries, replacing the least recent destination when
// there is no room.
func (r *Recorder) add(es []slot, f Flow, at time.Time) []slot {
	e := r.slotOf(f, at)
	for i := range es {
		if es[i].same(e) {
			if es[i].count < ^uint32(0) {
				es[i].count++
			}
			es[i].last = e.last
			return es
		}
	}
	if len(es) < r.o.Keep {
		if es == nil {
			es = make([]slot, 0, min(4, r.o.Keep))
		}
		return append(es, e)
	}
	old := 0
	for i := range es {
		if es[i].last < es[old].last {
			old = i
		}
	}
	es[old] = e
	return es
}

// watch says whether the device trips its policy now.
func (r *Recorder) watch(id string, d *device, now time.Time) *Trip {
	p := r.o.Policy(id)
	if p.Mode == Off || p.Mode == "" || p.Threshold <= 0 {
		return nil
	}
	nowS := r.secs(now)
	window := uint32(p.Window / time.Second)
	if d.tripped != 0 && nowS-(d.tripped-1) < window {
		return nil
	}
	seen := map[string]bool{}
	var tried []Flow
	recent := slices.Clone(d.drops)
	// sort.SliceStable, not slices.SortStableFunc: each struct type given
	// to the latter adds some 10 kB of sorting code to the binary.
	sort.SliceStable(recent, func(i, j int) bool { return recent[i].last > recent[j].last })
	for _, e := range recent {
		if nowS-e.last >= window {
			break
		}
		f := e.flow()
		k := destinationKey(f)
		if !seen[k] {
			seen[k] = true
			tried = append(tried, f)
		}
	}
	if len(tried) < p.Threshold {
		return nil
	}
	d.tripped = nowS + 1
	return &Trip{Device: id, Policy: p, Tried: tried}
}

// destinationKey: a name with all its addresses is one destination, so
// a camera retrying one name its MUD file lacks, over the many addresses
// of a CDN, counts once.
func destinationKey(f Flow) string {
	host := f.Addr.String()
	if f.Name != "" {
		host = "name " + f.Name
	}
	return fmt.Sprintf("%s %d %d", host, f.Proto, f.Port)
}

// History returns a device's history.
func (r *Recorder) History(id string) History {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.devs[id]
	if d == nil {
		return History{}
	}
	h := History{Dropped: d.dropped, Opened: d.opened, Inbound: d.inbound}
	for _, s := range append(slices.Clone(d.drops), d.opens...) {
		h.Entries = append(h.Entries, Entry{Flow: s.flow(), Count: uint64(s.count), First: r.time(s.first), Last: r.time(s.last)})
	}
	sort.SliceStable(h.Entries, func(i, j int) bool { return h.Entries[i].Last.After(h.Entries[j].Last) })
	return h
}

// Clear forgets a device's history: it was released from quarantine (so
// old drops do not trip it again at once), moved or removed.
func (r *Recorder) Clear(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.devs, id)
}

// Unattributed counts logged packets from no known device.
func (r *Recorder) Unattributed() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.unattributed
}
