package firewall

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// ErrInvalid marks settings refused before anything reached the kernel;
// other errors are the kernel's, and Run tries again.
var ErrInvalid = errors.New("invalid firewall settings")

// Segment is a network segment as the firewall sees it: the interfaces
// that carry it and its policy.
type Segment struct {
	Name string
	// Ifaces are the VLAN interfaces or bridges carrying the segment; a
	// packet's segment is the one of the interface it arrives on.
	Ifaces []string
	// Internet allows traffic towards anything that is not a segment
	// interface.
	Internet bool
	// Reach names the other segments this one may open connections to.
	Reach []string
	// Isolate forbids traffic between devices inside the segment.
	Isolate bool
	// Quarantine confines the segment to DHCP and DNS on the router.
	Quarantine bool
}

// FromConfig turns a config segment into a firewall segment carried by
// ifaces (the daemon knows which bridge or VLAN interface that is).
func FromConfig(s config.Segment, ifaces ...string) Segment {
	return Segment{Name: s.Name, Ifaces: ifaces, Internet: s.Internet,
		Reach: s.Reach, Isolate: s.Isolate, Quarantine: s.Quarantine}
}

// Device is one device to confine.
type Device struct {
	ID   string
	MACs []net.HardwareAddr
	// Segment names the device's segment; a quarantine segment confines
	// it like Quarantined.
	Segment     string
	Quarantined bool
	// Policy is its verified MUD policy; nil leaves only its segment's
	// default.
	Policy *mud.Policy
	// Manufacturer is the authority of its MUD URL, for the
	// same-manufacturer and manufacturer matches of other devices.
	Manufacturer string
}

// Counters are what one device's policy judged: packets it accepted
// (those opening flows, and bridged traffic, which has no conntrack:
// established flows pass without being looked at again) and packets it
// dropped. DHCP, DNS and neighbour discovery to the router, allowed for
// every device, are not counted.
type Counters struct {
	AcceptedPackets, AcceptedBytes uint64
	DroppedPackets, DroppedBytes   uint64
}

// Options configure an Enforcer.
type Options struct {
	// Table names both tables (inet and bridge); default "trustjoin".
	Table string
	// Priority of the base chains; must be negative to run before fw4
	// (priority 0) and its flow offload rule. Default -110.
	Priority int
	// Resolver is the DNS server (host:port) MUD names are resolved with,
	// normally the router's own dnsmasq, "127.0.0.1:53". Empty: names
	// stay unresolved and rules using them grant nothing.
	Resolver string
	// NetNS is a network namespace file descriptor to work in; 0 is the
	// process's own. Tests use it.
	NetNS int
	// CheckInterval is how often Run checks the tables are still there;
	// default 500ms.
	CheckInterval time.Duration
	// LearnTimeout is how long a device's address stays known after its
	// last packet; default 1h.
	LearnTimeout time.Duration
	// DHCPLeases is dnsmasq's lease file; empty: none. A governed
	// device's leased IPv4 address is its own, whatever packets claim.
	DHCPLeases string
	// Controllers give MUD's "controller" and "my-controller" matches
	// their addresses; without one, such a match grants nothing.
	Controllers []config.Controller
	// LogGroup is the NFLOG group devices' dropped packets and, for
	// devices being learned, their connections are logged to (headers
	// only); LogGroup+1 is the group of the router's DNS answers to
	// devices (whole). 0: nothing is logged.
	LogGroup uint16
}

func (o *Options) defaults() {
	if o.Table == "" {
		o.Table = "trustjoin"
	}
	if o.Priority == 0 {
		o.Priority = -110
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = 500 * time.Millisecond
	}
	if o.LearnTimeout <= 0 {
		o.LearnTimeout = time.Hour
	}
}

// validate checks segments before anything reaches the kernel.
func validateSegments(segs []Segment) error {
	names := map[string]bool{}
	ifaces := map[string]string{}
	for _, s := range segs {
		if s.Name == "" {
			return fmt.Errorf("segment without a name")
		}
		if names[s.Name] {
			return fmt.Errorf("segment %q defined twice", s.Name)
		}
		names[s.Name] = true
		for _, i := range s.Ifaces {
			if i == "" || len(i) >= 16 {
				return fmt.Errorf("segment %q: bad interface name %q", s.Name, i)
			}
			if o, ok := ifaces[i]; ok {
				return fmt.Errorf("interface %s is in segments %q and %q", i, o, s.Name)
			}
			ifaces[i] = s.Name
		}
	}
	for _, s := range segs {
		for _, r := range s.Reach {
			if !names[r] {
				return fmt.Errorf("segment %q reaches unknown segment %q", s.Name, r)
			}
		}
	}
	return nil
}

func validateDevice(d Device) error {
	if d.ID == "" {
		return fmt.Errorf("device without an id")
	}
	if len(d.MACs) == 0 {
		return fmt.Errorf("device %s: no MAC address", d.ID)
	}
	for _, m := range d.MACs {
		if len(m) != 6 {
			return fmt.Errorf("device %s: MAC %v is not 6 bytes", d.ID, m)
		}
	}
	return nil
}

// names lists the DNS names a policy's rules use.
func policyNames(p *mud.Policy) []string {
	if p == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, r := range p.FromDevice {
		add(r.DstDNS)
		add(r.SrcDNS)
	}
	for _, r := range p.ToDevice {
		add(r.DstDNS)
		add(r.SrcDNS)
	}
	return out
}

// answer is what the resolver said about one name.
type answer struct {
	addrs []netip.Addr
	ttl   time.Duration
}
