package mud

import (
	"fmt"
	"strconv"
	"strings"
)

// Describe says in words what r matches, for a rule of the given policy
// (traffic from or to the device), for people judging a MUD file.
func (r Rule) Describe(policy Direction) string {
	from := policy != ToDevice
	var b []string
	switch {
	case r.EtherType != 0 && r.Family == 0:
		b = append(b, fmt.Sprintf("ethertype %#04x", r.EtherType))
	case r.Family != 0:
		b = append(b, "IPv"+strconv.Itoa(r.Family))
	}
	b = append(b, r.protocol())
	peerWord, ownWord := "to", "from"
	peerNet, ownNet, peerDNS := r.DstNet, r.SrcNet, r.DstDNS
	peerPorts, ownPorts := r.DstPorts, r.SrcPorts
	if !from {
		peerWord, ownWord = "from", "to"
		peerNet, ownNet, peerDNS = r.SrcNet, r.DstNet, r.SrcDNS
		peerPorts, ownPorts = r.SrcPorts, r.DstPorts
	}
	var peer []string
	if p := r.peer(); p != "" {
		peer = append(peer, p)
	}
	if peerDNS != "" {
		peer = append(peer, peerDNS)
	}
	if peerNet.IsValid() {
		peer = append(peer, peerNet.String())
	}
	switch {
	case len(peer) > 0:
		b = append(b, peerWord, strings.Join(peer, " at "))
		if peerPorts != nil {
			b = append(b, peerPorts.describe())
		}
	case peerPorts != nil:
		b = append(b, peerWord, peerPorts.describe())
	default:
		b = append(b, peerWord, "anywhere")
	}
	if ownNet.IsValid() || ownPorts != nil {
		b = append(b, ownWord+" the device's")
		if ownNet.IsValid() {
			b = append(b, "address in "+ownNet.String())
		}
		if ownPorts != nil {
			b = append(b, ownPorts.describe())
		}
	}
	s := strings.Join(b, " ")
	switch r.Direction {
	case FromDevice:
		s += "; only the device opens connections"
	case ToDevice:
		s += "; only the other side opens connections"
	}
	return s
}

func (r Rule) protocol() string {
	switch r.Protocol {
	case -1:
		return "any protocol"
	case 6:
		return "TCP"
	case 17:
		return "UDP"
	case 1, 58:
		s := "ICMP"
		if r.Protocol == 58 {
			s = "ICMPv6"
		}
		if r.ICMP != nil {
			if r.ICMP.Type >= 0 {
				s += " type " + strconv.Itoa(r.ICMP.Type)
				if n := icmpNames[r.Protocol][r.ICMP.Type]; n != "" {
					s += " (" + n + ")"
				}
			}
			if r.ICMP.Code >= 0 {
				s += " code " + strconv.Itoa(r.ICMP.Code)
			}
		}
		return s
	}
	return "protocol " + strconv.Itoa(r.Protocol)
}

var icmpNames = map[int]map[int]string{
	1: {0: "echo reply", 3: "destination unreachable", 5: "redirect", 8: "echo request", 11: "time exceeded", 13: "timestamp"},
	58: {1: "destination unreachable", 2: "packet too big", 3: "time exceeded", 128: "echo request", 129: "echo reply",
		133: "router solicitation", 134: "router advertisement", 135: "neighbour solicitation", 136: "neighbour advertisement"},
}

func (r Rule) peer() string {
	switch r.Peer {
	case PeerManufacturer:
		return "devices made by " + r.PeerValue
	case PeerSameManufacturer:
		return "devices of the same manufacturer"
	case PeerModel:
		return "devices of the model " + r.PeerValue
	case PeerLocalNetworks:
		return "the local networks"
	case PeerMyController:
		return "the controllers configured for this device's MUD URL (my-controller)"
	case PeerController:
		switch r.PeerValue {
		case ControllerGateway:
			return "the router (the gateway)"
		case ControllerDNS:
			return "DNS servers (controller " + r.PeerValue + "; the router's own is open to every device)"
		case ControllerNTP:
			return "NTP servers (controller " + r.PeerValue + "; the router's own is open to every device)"
		}
		return "the controllers configured for class " + r.PeerValue
	}
	return ""
}

func (p *Ports) describe() string {
	switch {
	case p.Neq:
		return "any port but " + strconv.Itoa(int(p.Lo))
	case p.Lo == p.Hi:
		return "port " + strconv.Itoa(int(p.Lo))
	}
	return fmt.Sprintf("ports %d-%d", p.Lo, p.Hi)
}
