package firewall

import (
	"context"
	"log/slog"
	"os/exec"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/mud"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

// open segments: both bridges reach each other and the internet, so only
// MUD policies decide.
var openSegs = []Segment{
	{Name: "home", Ifaces: []string{"br0"}, Internet: true, Reach: []string{"lab"}},
	{Name: "lab", Ifaces: []string{"br1"}, Internet: true, Reach: []string{"home"}},
}

func newEnforcer(t *testing.T, fd int, resolver string) *Enforcer {
	e := New(testLogger(t), Options{Table: "tjfw", NetNS: fd, Resolver: resolver, CheckInterval: 100 * time.Millisecond})
	t.Cleanup(func() {
		_ = exec0("ip", "netns", "exec", nsRouter, "nft", "flush", "ruleset")
	})
	return e
}

// openEnforcer builds the test network and an enforcer on it with the
// open segments installed; it returns the router namespace's fd too.
func openEnforcer(t *testing.T, resolver string) (*Enforcer, int) {
	t.Helper()
	fd := topology(t)
	e := newEnforcer(t, fd, resolver)
	if err := e.SetSegments(context.Background(), openSegs); err != nil {
		t.Fatal(err)
	}
	return e, fd
}

func dev(ns string, p *mud.Policy, mfr string) Device {
	return Device{ID: ns, MACs: macsOf(ns), Segment: "home", Policy: p, Manufacturer: mfr}
}

func TestMUDPolicies(t *testing.T) {
	fd := topology(t)
	resolver := dnsServer(t, map[string]string{
		"cloud-service.example.com": "10.77.9.2",
		"www.nist.local":            "10.77.9.2",
	})
	const (
		inet2 = "10.77.9.2"
		inet3 = "10.77.9.3"
		d1    = "10.77.1.11"
		d2    = "10.77.1.12"
		d3    = "10.77.2.13"
	)
	cloud := loadMUD(t, "mudmaker/cloud-service.json")
	dnsTest := loadMUD(t, "nist_nist-mud/test__unittest__mud-dns-test__mudfile-dns-test.json")
	direction := loadMUD(t, "nist_nist-mud/test__unittest__mud-tcp-direction-test__mudfile-tcp-direction-test.json")
	sameMfr := loadMUD(t, "nist_nist-mud/test__unittest__mud-same-manufacturer-test__mudfile-same-manufacturer-test.json")
	local := loadMUD(t, "nist_nist-mud/test__unittest__mud-local-networks-test__mudfile-local-networks-test.json")

	tests := []struct {
		name    string
		devices []Device
		flows   []flow
	}{
		{
			name:    "no policy: segment default only",
			devices: []Device{dev(nsD1, nil, "")},
			flows: []flow{
				{nsD1, "tcp", inet2 + ":443", true},
				{nsD1, "tcp", inet3 + ":22", true},
				{nsD1, "udp", inet2 + ":9999", true},
				{nsD1, "tcp", d2 + ":80", true},
				{nsD3, "tcp", d1 + ":80", true},
			},
		},
		{
			name:    "dns name, any protocol (mudmaker cloud-service)",
			devices: []Device{dev(nsD1, cloud, "iot-device.example.com")},
			flows: []flow{
				{nsD1, "tcp", inet2 + ":443", true},
				{nsD1, "tcp", inet2 + ":22", true},
				{nsD1, "udp", inet2 + ":9999", true},
				{nsD1, "tcp", inet3 + ":443", false},
				{nsD1, "udp", inet3 + ":9999", false},
				{nsD1, "tcp", d3 + ":80", false},
				{nsD1, "tcp", d2 + ":80", false},
				{nsD2, "tcp", d1 + ":80", false},
				{nsD3, "tcp", d1 + ":80", false},
				{nsInet + "@" + inet2, "tcp", d1 + ":80", true}, // the name may open connections to the device
				{nsInet + "@" + inet3, "tcp", d1 + ":80", false},
				{nsInet + "@" + inet3, "udp", d1 + ":9999", false},
				{nsD1, "udp", "10.77.1.1:53", true},
				{nsD1, "tcp", "10.77.1.1:22", false},
				{nsD2, "tcp", inet3 + ":443", true}, // the neighbour has no policy
			},
		},
		{
			name:    "dns name, tcp port, device opens (nist dns-test)",
			devices: []Device{dev(nsD1, dnsTest, "mud-dns-test.antd.nist.gov")},
			flows: []flow{
				{nsD1, "tcp", inet2 + ":80", true},
				{nsD1, "tcp", inet2 + ":443", false},
				{nsD1, "tcp", inet3 + ":80", false},
				{nsD1, "udp", inet2 + ":9999", false},
				{nsInet + "@" + inet2, "tcp", d1 + ":80", false}, // the device opens, not the name
				{nsD1, "tcp", "10.77.1.1:80", false},             // the router is not that name
				{nsD1, "udp", "10.77.1.1:53", true},              // its DNS is everyone's
			},
		},
		{
			name:    "direction-initiated, local-networks (nist tcp-direction)",
			devices: []Device{dev(nsD1, direction, "tcpdirectiontest.nist.local")},
			flows: []flow{
				{nsD1, "tcp", d3 + ":800", true},   // routed, device opens
				{nsD1, "tcp", d2 + ":800", true},   // bridged, device opens
				{nsD1, "tcp", d3 + ":8000", false}, // port 8000 only the other side opens
				{nsD1, "tcp", inet2 + ":800", false},
				{nsD3, "tcp", d1 + ":8000", true}, // routed, peer opens
				{nsD2, "tcp", d1 + ":8000", true}, // bridged, peer opens
				{nsD3, "tcp", d1 + ":800", false},
				{nsD2, "tcp", d1 + ":800", false},
				{nsInet, "tcp", d1 + ":8000", false}, // not a local network
				{nsD1, "tcp", "10.77.1.1:800", true}, // the router is on the local network
				{nsD1, "tcp", "10.77.1.1:80", false},
			},
		},
		{
			name: "same-manufacturer on one bridge (nist same-manufacturer)",
			devices: []Device{
				dev(nsD1, sameMfr, "same-manufacturer-test.nist.local"),
				dev(nsD2, sameMfr, "same-manufacturer-test.nist.local"),
				dev(nsD3, sameMfr, "other.example"),
			},
			flows: []flow{
				{nsD1, "tcp", d2 + ":80", true},
				{nsD2, "tcp", d1 + ":8000", true},
				{nsD1, "udp", d2 + ":9999", true},
				{nsD1, "tcp", d3 + ":80", false},
				{nsD3, "tcp", d1 + ":80", false},
				{nsD1, "tcp", inet2 + ":80", false},
			},
		},
		{
			name: "same-manufacturer across segments (routed)",
			devices: []Device{
				dev(nsD1, sameMfr, "same-manufacturer-test.nist.local"),
				dev(nsD2, sameMfr, "other.example"),
				dev(nsD3, sameMfr, "same-manufacturer-test.nist.local"),
			},
			flows: []flow{
				{nsD1, "tcp", d3 + ":80", true},
				{nsD3, "tcp", d1 + ":800", true},
				{nsD1, "tcp", d2 + ":80", false},
				{nsD2, "tcp", d1 + ":80", false},
				{nsD2, "tcp", d3 + ":80", false},
			},
		},
		{
			name:    "local-networks and a name (nist local-networks)",
			devices: []Device{dev(nsD1, local, "local-networks-test.nist.local")},
			flows: []flow{
				{nsD1, "tcp", inet2 + ":800", true},
				{nsD1, "tcp", inet2 + ":80", false},
				{nsD3, "tcp", d1 + ":80", true},
				{nsD2, "tcp", d1 + ":80", true},
				{nsInet, "tcp", d1 + ":80", false},
				{nsD1, "tcp", d3 + ":80", false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnforcer(t, fd, resolver)
			if err := e.SetSegments(ctx, openSegs); err != nil {
				t.Fatal(err)
			}
			for _, d := range tt.devices {
				if d.ID == nsD3 {
					d.Segment = "lab"
				}
				if err := e.Apply(ctx, d); err != nil {
					t.Fatal(err)
				}
			}
			prime(t)
			learnNow(e)
			if out, err := exec.Command("ip", "netns", "exec", nsRouter, "nft", "list", "ruleset").CombinedOutput(); err != nil {
				t.Fatalf("nft cannot list the ruleset: %v\n%s", err, out)
			}
			checkFlows(t, tt.flows)
			if t.Failed() {
				out, _ := exec.Command("ip", "netns", "exec", nsRouter, "nft", "list", "ruleset").CombinedOutput()
				t.Logf("ruleset:\n%s", out)
			}
			// A device that opened an allowed flow has accepted packets;
			// every device here has had something judged.
			opened := map[string]bool{}
			for _, f := range tt.flows {
				if f.ok {
					opened[f.from] = true
				}
			}
			for _, d := range tt.devices {
				c, err := e.Counters(d.ID)
				if err != nil {
					t.Fatal(err)
				}
				if opened[d.ID] && c.AcceptedPackets == 0 {
					t.Errorf("%s opened an allowed flow, but its accepted counter is zero: %+v", d.ID, c)
				}
				if c.AcceptedPackets+c.DroppedPackets == 0 {
					t.Errorf("%s: nothing counted: %+v", d.ID, c)
				}
			}
		})
	}
}

// learnNow does what Run does every CheckInterval: mirror the addresses
// the router learned from devices' packets.
func learnNow(e *Enforcer) {
	e.mu.Lock()
	e.syncLocked()
	e.mu.Unlock()
}
