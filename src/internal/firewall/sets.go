package firewall

import (
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/behaviour"
	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// Names of the objects in trustjoin's tables.
const (
	setDevOut   = "dev_out"   // MAC -> jump to the device's "from" chain
	setDevIn    = "dev_in"    // MAC -> jump to the device's "to" chain (bridge)
	setDevLocal = "dev_local" // MAC -> jump to the device's "to the router" chain (inet input)
	setIP4Dev   = "ip4dev"    // learned IPv4 address -> jump to its device's "to" chain
	setIP6Dev   = "ip6dev"    // learned IPv6 address -> jump to its device's "to" chain
	setIP4MAC   = "ip4mac"    // learned IPv4 address -> MAC
	setIP6MAC   = "ip6mac"    // learned IPv6 address -> MAC
	setLAN      = "lan"       // every segment interface
	setSegFwd   = "seg_fwd"   // ingress interface -> segment chain (inet forward)
	setQuar     = "quar"      // every interface of a quarantine segment
	setQuarMAC  = "quar_mac"  // every MAC of a quarantined device (bridge)
	setSegBr    = "seg_br"    // bridge -> segment chain (bridge forward)

	chainForward = "forward"
	chainInput   = "input"
)

// ifSet is a set of interface names.
func ifSet(fam family, name string) *setSpec {
	return &setSpec{fam: fam, name: name, key: kIfname}
}

// ifMap maps interface names to segment chains (seg_fwd, seg_br).
func ifMap(fam family, name string) *setSpec {
	return &setSpec{fam: fam, name: name, key: kIfname, data: kVerdict}
}

// devMap is a verdict map from MACs (dev_out, dev_in, dev_local) or
// addresses (ip4dev, ip6dev) to device chains.
func devMap(fam family, name string) *setSpec {
	k := kEther
	switch name {
	case setIP4Dev:
		k = kIPv4
	case setIP6Dev:
		k = kIPv6
	}
	return &setSpec{fam: fam, name: name, key: k, data: kVerdict}
}

// ipDevMap is the verdict map of learned addresses of version v.
func ipDevMap(v int) *setSpec {
	if v == 6 {
		return devMap(famINet, setIP6Dev)
	}
	return devMap(famINet, setIP4Dev)
}

func etherSet(fam family, name string) *setSpec {
	return &setSpec{fam: fam, name: name, key: kEther}
}

func quarMACSet() *setSpec { return etherSet(famBridge, setQuarMAC) }

func learnedMapName(v int) string {
	if v == 6 {
		return setIP6MAC
	}
	return setIP4MAC
}

// learnedMap is the map of learned addresses of version v to MACs,
// which the data path fills (learn) and forgets after timeout.
func learnedMap(v int, timeout time.Duration) *setSpec {
	k := kIPv4
	if v == 6 {
		k = kIPv6
	}
	return &setSpec{fam: famINet, name: learnedMapName(v), key: k, data: kEther,
		timeout: true, dynamic: true, defTimeout: timeout, size: 65535}
}

// groupSet names the MAC set of the devices of one manufacturer or model
// (MUD's manufacturer, same-manufacturer and model matches).
func groupSet(kind mud.PeerKind, value string) string {
	if kind == mud.PeerModel {
		return short("gm", value)
	}
	return short("gf", strings.ToLower(value))
}

// groupIPSet is the set of a group's members' learned addresses.
func groupIPSet(g string, v int) *setSpec {
	if v == 6 {
		return &setSpec{fam: famINet, name: g + "6", key: kIPv6}
	}
	return &setSpec{fam: famINet, name: g + "4", key: kIPv4}
}

// nameSet is the set of the addresses of a MUD DNS name.
func nameSet(name string, v int) *setSpec {
	n := short("n", strings.ToLower(name))
	if v == 6 {
		return &setSpec{fam: famINet, name: n + "6", key: kIPv6, timeout: true}
	}
	return &setSpec{fam: famINet, name: n + "4", key: kIPv4, timeout: true}
}

// reachSet is the set of interfaces segment chain name may open
// connections to.
func reachSet(chain string) *setSpec { return ifSet(famINet, chain+"r") }

func segChainName(gen, i int) string { return "s" + strconv.Itoa(gen) + "_" + strconv.Itoa(i) }

// short names a set after a string too long or too odd for a set name.
func short(prefix, s string) string {
	h := fnv.New32a()
	h.Write([]byte(s))
	return prefix + hex8(h.Sum32())
}

func hex8(v uint32) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b)
}

// Logging, for package behaviour: at most this many packets a second per
// rule (a device's drops in one chain, its connections in one chain, the
// DNS answers of all devices together), bursts of twice that; of drops
// and connections only the headers.
const (
	chainOutput = "output"
	logRate     = 50
	logDNSRate  = 200
	logSnap     = 128
)

// logDrop is the rule logging what the rules after it drop: id is the
// device's ("" for a segment's rule, which leaves the device to be found
// by the packet's MAC). Nothing when nothing is logged.
func (s *state) logDrop(id string) []rule {
	if s.logGroup == 0 {
		return nil
	}
	prefix := behaviour.PrefixDrop
	if id != "" {
		prefix += " " + id
	}
	return []rule{mkRule(verdict{}, unicast(), logged(s.logGroup, prefix, logRate, logSnap))}
}

// logOpen is the rule logging the first packet of each connection a
// device being learned opens (or, inbound, another opens to it).
func (s *state) logOpen(id string, inbound bool) rule {
	prefix := behaviour.PrefixOpen
	if inbound {
		prefix = behaviour.PrefixIn
	}
	return mkRule(verdict{}, ctState(ctNew), logged(s.logGroup, prefix+" "+id, logRate, logSnap))
}
