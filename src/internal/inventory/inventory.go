package inventory

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/dnsmasq"
)

// Kind says how an unknown device is on the network.
type Kind string

// The kinds of unknown device.
const (
	// SharedPassword: a Wi-Fi station the household did not onboard, on
	// an access point's own interface (no per-device VLAN): it joined with
	// the shared password.
	SharedPassword Kind = "shared-password"
	// Unrecognised: a Wi-Fi station in a segment's VLAN that is none of
	// the household's devices: it used a per-device credential that is
	// not its own, or its device changed its MAC.
	Unrecognised Kind = "unrecognised-station"
	// Wired: a device behind a cable (or a Wi-Fi bridge) the household
	// did not onboard.
	Wired Kind = "wired"
	// WrongSegment: one of the household's devices, seen on a segment
	// that is not its own (with the shared password, or plugged in).
	WrongSegment Kind = "wrong-segment"
)

// Known is one of the household's devices, by one of its MACs.
type Known struct {
	MAC     net.HardwareAddr
	ID      string
	Name    string
	Segment string
}

// Unknown is a device the household should know about.
type Unknown struct {
	MAC  string `json:"mac"`
	Kind Kind   `json:"kind"`
	// Iface is where it was seen: the access point or per-station
	// interface, or the bridge port.
	Iface string `json:"iface"`
	// Segment is the segment of where it was seen; empty is the
	// household's own network (the shared password's).
	Segment string `json:"segment,omitempty"`
	// Device, Name and Expected name the household's device and its
	// segment, for WrongSegment.
	Device   string `json:"device,omitempty"`
	Name     string `json:"name,omitempty"`
	Expected string `json:"expected_segment,omitempty"`
	// Addresses and Hostname are what the neighbour table and dnsmasq's
	// leases say of it.
	Addresses []string `json:"addresses,omitempty"`
	Hostname  string   `json:"hostname,omitempty"`
	// SeenBy names the sources that saw it: nl80211, fdb, neighbour.
	SeenBy    []string  `json:"seen_by"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Handled says what the household did about it (block, guest), if
	// anything; filled in by who keeps that.
	Handled string `json:"handled,omitempty"`
}

// Station is a Wi-Fi station associated on an interface.
type Station struct {
	MAC   net.HardwareAddr
	Iface string
	// AP is the access point whose per-station interface Iface is, if
	// known. A station on the shared password gets such an interface too
	// (per_sta_vif), which hostapd bridges into no segment: it is on its
	// access point's network.
	AP string
}

// Neighbour is a neighbour-table (ARP, NDP) entry with a link-layer
// address that was confirmed lately.
type Neighbour struct {
	MAC   net.HardwareAddr
	Iface string
	Addr  netip.Addr
}

// FDBEntry is a MAC a bridge learned on one of its ports.
type FDBEntry struct {
	MAC    net.HardwareAddr
	Port   string
	Bridge string
}

// Link is a network interface of the router.
type Link struct {
	Name string
	// Master is the bridge it is a port of, if any.
	Master string
	MAC    net.HardwareAddr
	// Wireless: an nl80211 interface (its stations are listed by nl80211;
	// the bridge learning them is not news).
	Wireless bool
}

// Lease is a DHCP lease of dnsmasq's.
type Lease = dnsmasq.Lease

// Snapshot is what the router sees at one moment.
type Snapshot struct {
	Links      []Link
	Stations   []Station
	Neighbours []Neighbour
	FDB        []FDBEntry
	Leases     []Lease
}

// Classify lists the unknown devices of a snapshot. watch maps the
// interfaces to look at to their segment ("" for the household's own
// network); a port or per-station interface belongs to its bridge's.
// Nothing seen elsewhere (the WAN side) is listed, nor the router's own
// addresses, nor multicast ones.
func Classify(s Snapshot, known []Known, watch map[string]string) []Unknown {
	links := map[string]Link{}
	own := map[string]bool{}
	for _, l := range s.Links {
		links[l.Name] = l
		own[string(l.MAC)] = true
	}
	segmentOf := func(iface string) (string, bool) {
		for i := 0; i < 4 && iface != ""; i++ {
			if seg, ok := watch[iface]; ok {
				return seg, true
			}
			iface = links[iface].Master
		}
		return "", false
	}
	byMAC := map[string]Known{}
	for _, k := range known {
		byMAC[string(k.MAC)] = k
	}
	out := map[string]*Unknown{}
	skip := func(mac net.HardwareAddr) bool {
		return len(mac) != 6 || mac[0]&1 == 1 || own[string(mac)] || isZero(mac)
	}
	// note records that a source saw mac on iface; the first source to
	// see it decides where it is (stations first: nl80211 knows best).
	note := func(mac net.HardwareAddr, iface, source string, station bool) *Unknown {
		seg, ok := segmentOf(iface)
		if !ok || skip(mac) {
			return nil
		}
		if u, ok := out[string(mac)]; ok {
			if !slices.Contains(u.SeenBy, source) {
				u.SeenBy = append(u.SeenBy, source)
			}
			return u
		}
		u := &Unknown{MAC: mac.String(), Iface: iface, Segment: seg, SeenBy: []string{source}}
		k, isKnown := byMAC[string(mac)]
		switch {
		case isKnown && k.Segment == seg:
			return nil
		case isKnown:
			u.Kind, u.Device, u.Name, u.Expected = WrongSegment, k.ID, k.Name, k.Segment
		case station && seg == "":
			u.Kind = SharedPassword
		case station:
			u.Kind = Unrecognised
		default:
			u.Kind = Wired
		}
		out[string(mac)] = u
		return u
	}
	stations := map[string]bool{}
	for _, st := range s.Stations {
		stations[string(st.MAC)] = true
		iface := st.Iface
		if _, ok := segmentOf(iface); !ok && st.AP != "" {
			iface = st.AP
		}
		note(st.MAC, iface, "nl80211", true)
	}
	for _, f := range s.FDB {
		if links[f.Port].Wireless || stations[string(f.MAC)] {
			continue
		}
		note(f.MAC, f.Port, "fdb", false)
	}
	addrs := map[string][]netip.Addr{}
	for _, n := range s.Neighbours {
		if skip(n.MAC) {
			continue
		}
		addrs[string(n.MAC)] = append(addrs[string(n.MAC)], n.Addr)
		if stations[string(n.MAC)] || links[n.Iface].Wireless {
			continue
		}
		note(n.MAC, n.Iface, "neighbour", false)
	}
	for _, l := range s.Leases {
		u, ok := out[string(l.MAC)]
		if !ok {
			continue
		}
		if l.Hostname != "" && l.Hostname != "*" {
			u.Hostname = l.Hostname
		}
		if !slices.Contains(addrs[string(l.MAC)], l.Addr) {
			addrs[string(l.MAC)] = append(addrs[string(l.MAC)], l.Addr)
		}
	}
	list := make([]Unknown, 0, len(out))
	for mac, u := range out {
		as := addrs[mac]
		// sort.Slice, not slices.SortFunc: a struct element type adds
		// some 12 kB of sorting code to the binary.
		sort.Slice(as, func(i, j int) bool { return as[i].Less(as[j]) })
		for _, a := range slices.Compact(as) {
			u.Addresses = append(u.Addresses, a.String())
		}
		list = append(list, *u)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].MAC < list[j].MAC })
	return list
}

func isZero(mac net.HardwareAddr) bool {
	for _, b := range mac {
		if b != 0 {
			return false
		}
	}
	return true
}

// Source takes snapshots of what the router sees.
type Source interface {
	Snapshot(ctx context.Context) (Snapshot, error)
}

// Options configure an Inventory.
type Options struct {
	Log *slog.Logger
	// Interval between scans; default 30 s.
	Interval time.Duration
	// Watch maps the interfaces to look at to their segment ("" the
	// household's own network): the segments' interfaces and bridges, and
	// the access points' own interfaces or their bridges.
	Watch map[string]string
	// Known lists the household's devices holding a credential, by MAC.
	Known func() []Known
	// Source takes the snapshots; nil is the system's (Linux).
	Source Source
	// OnNew is told of each device newly listed, at most once a day per
	// MAC and kind. It must not block for long.
	OnNew func(Unknown)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// reportEvery is how often one device may be news.
const reportEvery = 24 * time.Hour

// maxReported bounds the memory of what was reported.
const maxReported = 1024

// An Inventory lists the unknown devices. It is a daemon task.
type Inventory struct {
	o     Options
	ready chan struct{}
	once  sync.Once

	mu sync.Mutex
	// listed are the devices listed now; pending those seen by one scan.
	listed, pending map[string]Unknown
	// reported says when a MAC and kind was last news.
	reported map[string]time.Time
	err      error
}

// New returns an Inventory.
func New(o Options) *Inventory {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Interval <= 0 {
		o.Interval = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Source == nil {
		o.Source = systemSource{}
	}
	if o.Known == nil {
		o.Known = func() []Known { return nil }
	}
	return &Inventory{o: o, ready: make(chan struct{}), listed: map[string]Unknown{},
		pending: map[string]Unknown{}, reported: map[string]time.Time{}}
}

// String implements the daemon's Task.
func (inv *Inventory) String() string { return "inventory" }

// Ready is closed after the first scan.
func (inv *Inventory) Ready() <-chan struct{} { return inv.ready }

// Run scans every Interval until ctx is cancelled. A scan that fails is
// logged (once until one succeeds) and tried again at the next.
func (inv *Inventory) Run(ctx context.Context) error {
	t := time.NewTicker(inv.o.Interval)
	defer t.Stop()
	failing := false
	for {
		if _, err := inv.Scan(ctx); err != nil && ctx.Err() == nil {
			if !failing {
				inv.o.Log.Warn("failed to look for unknown devices", "err", err)
			}
			failing = true
		} else {
			failing = false
		}
		inv.once.Do(func() { close(inv.ready) })
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func key(u Unknown) string { return u.MAC + " " + string(u.Kind) }

// Scan takes a snapshot, updates the list and returns it.
func (inv *Inventory) Scan(ctx context.Context) ([]Unknown, error) {
	s, err := inv.o.Source.Snapshot(ctx)
	if err != nil {
		inv.mu.Lock()
		inv.err = err
		inv.mu.Unlock()
		return nil, fmt.Errorf("failed to see the network: %v", err)
	}
	found := Classify(s, inv.o.Known(), inv.o.Watch)
	now := inv.o.Now()
	var news []Unknown
	inv.mu.Lock()
	inv.err = nil
	listed, pending := map[string]Unknown{}, map[string]Unknown{}
	for _, u := range found {
		k := key(u)
		u.LastSeen = now
		switch prev, ok := inv.listed[k]; {
		case ok:
			u.FirstSeen = prev.FirstSeen
			listed[k] = u
		default:
			if p, ok := inv.pending[k]; ok {
				u.FirstSeen = p.FirstSeen
				listed[k] = u
				if at, ok := inv.reported[k]; !ok || now.Sub(at) >= reportEvery {
					inv.reported[k] = now
					news = append(news, u)
				}
				continue
			}
			u.FirstSeen = now
			pending[k] = u
		}
	}
	inv.listed, inv.pending = listed, pending
	if len(inv.reported) > maxReported {
		for k, at := range inv.reported {
			if now.Sub(at) >= reportEvery || len(inv.reported) > maxReported {
				delete(inv.reported, k)
			}
		}
	}
	out := inv.listLocked()
	inv.mu.Unlock()
	for _, u := range news {
		inv.o.Log.Info("unknown device", "mac", u.MAC, "kind", u.Kind, "iface", u.Iface, "segment", u.Segment)
		if inv.o.OnNew != nil {
			inv.o.OnNew(u)
		}
	}
	return out, nil
}

// List returns the devices listed now, by MAC, and the last scan's
// failure if it failed.
func (inv *Inventory) List() ([]Unknown, error) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	return inv.listLocked(), inv.err
}

func (inv *Inventory) listLocked() []Unknown {
	out := make([]Unknown, 0, len(inv.listed))
	for _, u := range inv.listed {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].MAC != out[j].MAC {
			return out[i].MAC < out[j].MAC
		}
		return out[i].Kind < out[j].Kind
	})
	return out
}

// Describe says what an unknown device is, in plain words.
func Describe(u Unknown) string {
	where := "the household network"
	if u.Segment != "" {
		where = "segment " + u.Segment
	}
	var b strings.Builder
	switch u.Kind {
	case SharedPassword:
		fmt.Fprintf(&b, "%s is on Wi-Fi (%s) with the shared password", u.MAC, u.Iface)
	case Unrecognised:
		fmt.Fprintf(&b, "%s is on Wi-Fi in %s (%s) but is none of the household's devices", u.MAC, where, u.Iface)
	case Wired:
		fmt.Fprintf(&b, "%s is wired into %s (%s)", u.MAC, where, u.Iface)
	case WrongSegment:
		exp := "the household network"
		if u.Expected != "" {
			exp = "segment " + u.Expected
		}
		fmt.Fprintf(&b, "device %s (%s) is on %s (%s), not %s", u.Name, u.MAC, where, u.Iface, exp)
	}
	if u.Hostname != "" {
		fmt.Fprintf(&b, ", calls itself %q", u.Hostname)
	}
	return b.String()
}
