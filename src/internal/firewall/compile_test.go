package firewall

import (
	"net"
	"net/netip"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// testState is a planner state as New makes it.
func testState(o Options) *state {
	o.defaults()
	return newState(o)
}

// TestCompileCounts checks how many rules each kind of ACE becomes; the
// netns tests check what they do to packets.
func TestCompileCounts(t *testing.T) {
	e := testState(Options{})
	st := &devState{n: 1, dev: Device{ID: "x", MACs: []net.HardwareAddr{{2, 0, 0, 0, 0, 1}}, Manufacturer: "maker.example"}}
	tcp80 := &mud.Ports{Lo: 80, Hi: 80}
	tests := []struct {
		name                  string
		r                     mud.Rule
		fromDev               bool
		inet, router, bridged int // forwarded, to the router (from the device only), bridged
	}{
		{"eth match not understood grants nothing", mud.Rule{Protocol: -1, Accept: true}, true, 0, 0, 0},
		{"match-all drop stays", mud.Rule{Protocol: -1}, true, 1, 1, 1},
		{"EAPOL ethertype: bridge only", mud.Rule{Protocol: -1, EtherType: 0x888e, Accept: true}, true, 0, 0, 1},
		{"IPv4 ethertype", mud.Rule{Protocol: -1, EtherType: 0x0800, Accept: true}, true, 1, 1, 1},
		{"address", mud.Rule{Family: 4, Protocol: protoTCP, DstNet: netip.MustParsePrefix("192.0.2.0/24"), DstPorts: tcp80, Accept: true}, true, 1, 1, 1},
		{"dns name: internet only", mud.Rule{Family: 4, Protocol: protoTCP, DstDNS: "cloud.example", Accept: true}, true, 1, 0, 0},
		{"device may open", mud.Rule{Family: 4, Protocol: protoTCP, DstPorts: tcp80, Direction: mud.FromDevice, Accept: true}, true, 1, 1, 1},
		{"peer opens: replies only, via conntrack / not-SYN", mud.Rule{Family: 4, Protocol: protoTCP, SrcPorts: tcp80, Direction: mud.ToDevice, Accept: true}, true, 0, 0, 1},
		{"direction ignored for udp", mud.Rule{Family: 4, Protocol: protoUDP, SrcPorts: tcp80, Direction: mud.ToDevice, Accept: true}, true, 1, 1, 1},
		{"local-networks from device: the segments, or the router", mud.Rule{Family: 4, Protocol: -1, Peer: mud.PeerLocalNetworks, Accept: true}, true, 1, 1, 1},
		{"local-networks to device", mud.Rule{Family: 4, Protocol: -1, Peer: mud.PeerLocalNetworks, Accept: true}, false, 1, 0, 1},
		{"same-manufacturer without family: v4 and v6, never the router", mud.Rule{Protocol: -1, Peer: mud.PeerSameManufacturer, Accept: true}, true, 2, 0, 1},
		{"my-controller: nothing configured", mud.Rule{Family: 4, Protocol: -1, Peer: mud.PeerMyController, Accept: true}, true, 0, 0, 0},
		{"dns controller: the router's DNS, allowed anyway", mud.Rule{Family: 4, Protocol: protoUDP, Peer: mud.PeerController, PeerValue: "urn:ietf:params:mud:dns", Accept: true}, true, 0, 0, 0},
		{"other controller: nothing", mud.Rule{Family: 4, Protocol: -1, Peer: mud.PeerController, PeerValue: "https://ctl.example", Accept: true}, true, 0, 0, 0},
	}
	for _, tt := range tests {
		sd := sideIn
		if tt.fromDev {
			sd = sideOut
		}
		inet := len(e.compile(famINet, st, tt.r, sd))
		br := len(e.compile(famBridge, st, tt.r, sd))
		router := 0
		if tt.fromDev {
			router = len(e.compile(famINet, st, tt.r, sideRouter))
		}
		if inet != tt.inet || router != tt.router || br != tt.bridged {
			t.Errorf("%s: %d inet, %d to the router and %d bridge rules, want %d, %d and %d", tt.name, inet, router, br, tt.inet, tt.router, tt.bridged)
		}
	}
}

// TestCompileControllers: controller and my-controller matches become one
// rule per configured address of the ACE's family (both families when it
// has none); never the router's.
func TestCompileControllers(t *testing.T) {
	ctl := []config.Controller{
		{Name: "hub", Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.20/32"), netip.MustParsePrefix("2001:db8::20/128")},
			MUDURLs: []string{"https://maker.example/bulb.json"}},
		{Name: "relay", Addresses: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}, Classes: []string{"https://maker.example/relay"}},
	}
	e := testState(Options{Controllers: ctl})
	bulb := &devState{n: 1, dev: Device{ID: "bulb", MACs: []net.HardwareAddr{{2, 0, 0, 0, 0, 1}}, Policy: &mud.Policy{URL: "https://maker.example/bulb.json"}}}
	plug := &devState{n: 2, dev: Device{ID: "plug", MACs: []net.HardwareAddr{{2, 0, 0, 0, 0, 2}}, Policy: &mud.Policy{URL: "https://maker.example/plug.json"}}}
	tests := []struct {
		name         string
		st           *devState
		r            mud.Rule
		inet, router int
	}{
		{"my-controller, v4 ACE: the hub's v4 address", bulb, mud.Rule{Family: 4, Protocol: -1, Peer: mud.PeerMyController, Accept: true}, 1, 0},
		{"my-controller, no family: both of the hub's", bulb, mud.Rule{Protocol: -1, Peer: mud.PeerMyController, Accept: true}, 2, 0},
		{"my-controller of another MUD URL: nothing", plug, mud.Rule{Family: 4, Protocol: -1, Peer: mud.PeerMyController, Accept: true}, 0, 0},
		{"controller class: the relay's prefix", plug, mud.Rule{Family: 4, Protocol: protoTCP, Peer: mud.PeerController, PeerValue: "https://maker.example/relay", Accept: true}, 1, 0},
		{"controller class, v6 ACE: the relay has no v6", plug, mud.Rule{Family: 6, Protocol: -1, Peer: mud.PeerController, PeerValue: "https://maker.example/relay", Accept: true}, 0, 0},
		{"unknown class: nothing", plug, mud.Rule{Family: 4, Protocol: -1, Peer: mud.PeerController, PeerValue: "https://other.example/x", Accept: true}, 0, 0},
	}
	for _, tt := range tests {
		inet := len(e.compile(famINet, tt.st, tt.r, sideOut))
		router := len(e.compile(famINet, tt.st, tt.r, sideRouter))
		if inet != tt.inet || router != tt.router {
			t.Errorf("%s: %d rules, %d to the router, want %d and %d", tt.name, inet, router, tt.inet, tt.router)
		}
	}
}

// TestCompileGatewayAndNoACL: the gateway controller is the router (rules
// only in the chain of what the device sends the router), and a policy
// naming no access list leaves the segment's default (no drop at all).
func TestCompileGatewayAndNoACL(t *testing.T) {
	e := testState(Options{})
	st := &devState{n: 1, dev: Device{ID: "x", MACs: []net.HardwareAddr{{2, 0, 0, 0, 0, 1}}}}
	gw := mud.Rule{Family: 4, Protocol: 1, Peer: mud.PeerController, PeerValue: mud.ControllerGateway, Accept: true}
	inet := len(e.compile(famINet, st, gw, sideOut))
	router := len(e.compile(famINet, st, gw, sideRouter))
	br := len(e.compile(famBridge, st, gw, sideOut))
	if inet != 0 || router != 1 || br != 0 {
		t.Errorf("gateway: %d forwarded, %d to the router, %d bridged rules, want 0, 1, 0", inet, router, br)
	}

	st.dev.Policy = &mud.Policy{URL: "https://maker.example/none", NamesNoACL: true}
	for _, fam := range families {
		for sd, rs := range e.devChains(fam, st) {
			for _, r := range rs {
				if r.verdict.kind == vDrop {
					t.Errorf("family %v, side %c: a policy naming no access list drops", fam, sd)
				}
			}
		}
	}
}
