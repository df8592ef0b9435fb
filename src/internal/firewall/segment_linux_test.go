package firewall

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"github.com/ti-mo/conntrack"
	"golang.org/x/sys/unix"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/mud"
)

func TestSegments(t *testing.T) {
	fd := topology(t)
	const (
		inet2 = "10.77.9.2:80"
		d1    = "10.77.1.11:80"
		d2    = "10.77.1.12:80"
		d3    = "10.77.2.13:80"
	)
	tests := []struct {
		name  string
		segs  []Segment
		flows []flow
	}{
		{
			name: "iot isolated without internet, trusted reaches iot",
			segs: []Segment{
				{Name: "iot", Ifaces: []string{"br0"}, Isolate: true},
				{Name: "trusted", Ifaces: []string{"br1"}, Internet: true, Reach: []string{"iot"}},
			},
			flows: []flow{
				{nsD1, "tcp", inet2, false},
				{nsD1, "udp", "10.77.9.2:9999", false},
				{nsD3, "tcp", inet2, true},
				{nsD1, "tcp", d2, false}, // bridged, isolated
				{nsD2, "udp", "10.77.1.11:9999", false},
				{nsD3, "tcp", d1, true}, // trusted opens, replies come back
				{nsD1, "tcp", d3, false},
				{nsD1, "udp", "10.77.1.1:53", true}, // the router's DNS
			},
		},
		{
			name: "iot not isolated, no reach",
			segs: []Segment{
				{Name: "iot", Ifaces: []string{"br0"}, Internet: true},
				{Name: "trusted", Ifaces: []string{"br1"}, Internet: true},
			},
			flows: []flow{
				{nsD1, "tcp", d2, true},
				{nsD1, "tcp", inet2, true},
				{nsD1, "tcp", d3, false},
				{nsD3, "tcp", d1, false},
			},
		},
		{
			name: "quarantine segment: DHCP and DNS on the router only",
			segs: []Segment{
				{Name: "quarantine", Ifaces: []string{"br0"}, Internet: true, Quarantine: true},
				{Name: "trusted", Ifaces: []string{"br1"}, Internet: true, Reach: []string{"quarantine"}},
			},
			flows: []flow{
				{nsD1, "udp", "10.77.1.1:53", true},
				{nsD1, "tcp", "10.77.1.1:22", false},
				{nsD1, "tcp", inet2, false},
				{nsD1, "tcp", d2, false},
				{nsD1, "tcp", d3, false},
				{nsD3, "tcp", d1, false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnforcer(t, fd, "")
			// No device is known: the segment applies from the first packet.
			if err := e.SetSegments(context.Background(), tt.segs); err != nil {
				t.Fatal(err)
			}
			checkFlows(t, tt.flows)
		})
	}
}

func TestSegmentsReplaced(t *testing.T) {
	fd := topology(t)
	e := newEnforcer(t, fd, "")
	ctx := context.Background()
	closed := []Segment{{Name: "iot", Ifaces: []string{"br0"}}, {Name: "trusted", Ifaces: []string{"br1"}}}
	if err := e.SetSegments(ctx, closed); err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(ctx, dev(nsD1, nil, "")); err != nil {
		t.Fatal(err)
	}
	checkFlows(t, []flow{{nsD1, "tcp", "10.77.9.2:80", false}, {nsD3, "tcp", "10.77.9.2:80", false}})
	if err := e.SetSegments(ctx, openSegs); err != nil {
		t.Fatal(err)
	}
	checkFlows(t, []flow{{nsD1, "tcp", "10.77.9.2:80", true}, {nsD3, "tcp", "10.77.1.11:80", true}})
	for _, bad := range [][]Segment{
		{{Name: "a", Ifaces: []string{"br0"}}, {Name: "a", Ifaces: []string{"br1"}}},
		{{Name: "a", Ifaces: []string{"br0"}}, {Name: "b", Ifaces: []string{"br0"}}},
		{{Name: "a", Ifaces: []string{"br0"}, Reach: []string{"nowhere"}}},
		{{Name: "a", Ifaces: []string{"an-interface-name-too-long"}}},
	} {
		if err := e.SetSegments(ctx, bad); err == nil {
			t.Errorf("SetSegments(%+v) accepted", bad)
		}
	}
	// The refused segments changed nothing.
	checkFlows(t, []flow{{nsD1, "tcp", "10.77.9.2:80", true}})
}

func TestSegmentMove(t *testing.T) {
	fd := topology(t)
	e := newEnforcer(t, fd, "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	segs := []Segment{
		{Name: "iot", Ifaces: []string{"br0"}},
		{Name: "trusted", Ifaces: []string{"br1"}, Internet: true},
	}
	if err := e.SetSegments(ctx, segs); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	d := dev(nsD2, nil, "")
	d.Segment = "iot"
	if err := e.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	checkFlows(t, []flow{{nsD2, "tcp", "10.77.9.2:80", false}, {nsD2, "tcp", "10.77.2.13:80", false}, {nsD2, "tcp", "10.77.1.11:80", true}})

	// The device joins the trusted VLAN (here: its port moves bridge and
	// it gets an address there), and the daemon says so.
	nsRun(t, nsRouter, "ip", "link", "set", "p2", "master", "br1")
	nsRun(t, nsD2, "ip", "addr", "flush", "dev", "eth0")
	nsRun(t, nsD2, "ip", "addr", "add", "10.77.2.12/24", "dev", "eth0")
	nsRun(t, nsD2, "ip", "route", "add", "default", "via", "10.77.2.1")
	d.Segment = "trusted"
	if err := e.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	waitPorts(t, e, "br1", "p2")
	checkFlows(t, []flow{{nsD2, "tcp", "10.77.9.2:80", true}, {nsD2, "tcp", "10.77.2.13:80", true}, {nsD2, "tcp", "10.77.1.11:80", false}})
}

// waitPorts waits until the enforcer has seen port in bridge (only needed
// when the kernel lacks meta ibrname).
func waitPorts(t *testing.T, e *Enforcer, br, port string) {
	for range 50 {
		e.mu.Lock()
		ok := !e.st.portMode || strings.Contains(strings.Join(e.st.ports[br], ","), port)
		e.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("port %s of %s never seen", port, br)
}

func TestQuarantine(t *testing.T) {
	e, fd := openEnforcer(t, "")
	ctx := context.Background()
	d, conn := governedConn(t, e)
	if n := flows(t, fd, "10.77.1.11", 443); n == 0 {
		t.Fatal("no conntrack entry for the open connection")
	}
	d = quarantineOpen(t, e, fd, d, conn)
	checkFlows(t, []flow{
		{nsD1, "udp", "10.77.1.1:53", true},
		{nsD1, "tcp", "10.77.1.1:22", false},
		{nsD1, "tcp", "10.77.9.2:443", false},
		{nsD1, "tcp", "10.77.1.12:80", false},
		{nsD2, "tcp", "10.77.1.11:80", false},
		{nsD3, "tcp", "10.77.1.11:80", false},
		{nsD2, "tcp", "10.77.9.2:443", true},
	})
	c, err := e.Counters(d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.DroppedPackets == 0 || c.AcceptedPackets == 0 {
		t.Errorf("counters %+v: want both accepted (DNS) and dropped packets", c)
	}
	// Every device's counters at once, as a device list shows them.
	all, err := e.AllCounters()
	if err != nil {
		t.Fatal(err)
	}
	if a := all[d.ID]; len(all) != 1 || a.DroppedPackets < c.DroppedPackets || a.AcceptedPackets < c.AcceptedPackets {
		t.Errorf("all counters %+v: want %s's, at least %+v", all, d.ID, c)
	}
	// What `trustjoin mud show` prints: the device's chains with its
	// counters as the kernel has them.
	rules, err := e.Rules(d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`counter c\d+x \{\n\t\tpackets [1-9]\d* bytes [1-9]`).MatchString(rules) {
		t.Errorf("Rules shows no dropped packets in its counters:\n%s", rules)
	}

	d.Quarantined = false
	if err := e.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	checkFlows(t, []flow{{nsD1, "tcp", "10.77.9.2:443", true}, {nsD2, "tcp", "10.77.1.11:80", true}})

	// Removing the device leaves its traffic to its segment.
	if err := e.Remove(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Counters(d.ID); err == nil {
		t.Error("counters of a removed device")
	}
	checkFlows(t, []flow{{nsD1, "tcp", "10.77.9.2:443", true}})
}

// governedConn applies d1 as a device without policy and opens a TCP
// connection from it to 10.77.9.2:443, closed when the test ends.
func governedConn(t *testing.T, e *Enforcer) (Device, net.Conn) {
	t.Helper()
	d := dev(nsD1, nil, "")
	if err := e.Apply(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	conn, err := dialTCP(nsD1, "10.77.9.2:443")
	if err != nil {
		t.Fatalf("before quarantine: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return d, conn
}

// quarantineOpen quarantines d (nsD1), whose connection conn to
// 10.77.9.2:443 is open, and checks that its conntrack entries are gone
// and the connection cut on its next packet. It returns d as applied.
func quarantineOpen(t *testing.T, e *Enforcer, fd int, d Device, conn net.Conn) Device {
	t.Helper()
	learnNow(e)
	d.Quarantined = true
	if err := e.Apply(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if n := flows(t, fd, "10.77.1.11", 443); n != 0 {
		t.Errorf("%d conntrack entries of the device survived quarantine", n)
	}
	if err := echo(conn); err == nil {
		t.Error("the open connection still works in quarantine")
	}
	return d
}

// flows counts conntrack entries from addr to port in the router.
func flows(t *testing.T, fd int, addr string, port uint16) int {
	return len(flowsOf(t, fd, addr, port))
}

// flowsOf lists the router's conntrack entries from addr to port.
func flowsOf(t *testing.T, fd int, addr string, port uint16) []conntrack.Flow {
	t.Helper()
	c, err := conntrack.Dial(&netlink.Config{NetNS: fd})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fs, err := c.Dump(nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []conntrack.Flow
	for _, f := range fs {
		if f.TupleOrig.IP.SourceAddress == netip.MustParseAddr(addr) && f.TupleOrig.Proto.DestinationPort == port {
			out = append(out, f)
		}
	}
	return out
}

func TestRecovery(t *testing.T) {
	fd := topology(t)
	resolver := dnsServer(t, map[string]string{"cloud-service.example.com": "10.77.9.2"})
	e := newEnforcer(t, fd, resolver)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := e.SetSegments(ctx, openSegs); err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(ctx, dev(nsD1, loadMUD(t, "mudmaker/cloud-service.json"), "iot-device.example.com")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	want := []flow{
		{nsD1, "tcp", "10.77.9.2:443", true},
		{nsD1, "tcp", "10.77.9.3:443", false},
		{nsD2, "tcp", "10.77.1.11:80", false},
	}
	checkFlows(t, want)
	for _, how := range [][]string{
		{"nft", "flush", "ruleset"},                // fw4 flush, firewall stop
		{"nft", "delete", "table", "inet", "tjfw"}, // someone else's cleanup
		{"nft", "flush", "table", "bridge", "tjfw"},
	} {
		e.mu.Lock()
		before := e.restores
		e.mu.Unlock()
		nsRun(t, nsRouter, how...)
		ok := false
		for range 100 {
			time.Sleep(100 * time.Millisecond)
			e.mu.Lock()
			ok = e.restores > before && e.present()
			e.mu.Unlock()
			if ok {
				break
			}
		}
		if !ok {
			t.Fatalf("%v: tables not restored", how)
		}
		checkFlows(t, want)
	}
	if !e.Ready() {
		t.Error("not ready")
	}
}

func TestApplyRefusesBadDevices(t *testing.T) {
	e, _ := openEnforcer(t, "")
	ctx := context.Background()
	if err := e.Apply(ctx, Device{ID: "a", MACs: macsOf(nsD1), Quarantined: true}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []Device{
		{ID: "", MACs: macsOf(nsD2)},
		{ID: "b"},
		{ID: "b", MACs: macsOf(nsD1)}, // a's MAC
		{ID: "b", MACs: append(macsOf(nsD2), []byte{1, 2, 3})},
	} {
		if err := e.Apply(ctx, d); err == nil {
			t.Errorf("Apply(%+v) accepted", d)
		}
	}
	// a is still quarantined, b never arrived.
	checkFlows(t, []flow{{nsD1, "tcp", "10.77.9.2:80", false}, {nsD2, "tcp", "10.77.9.2:80", true}})
	if _, err := e.Counters("b"); err == nil {
		t.Error("b has counters")
	}
}

// TestNamesFollowTTL: a MUD name's addresses carry the answer's TTL as
// their timeout, and a new answer replaces them when the TTL runs out.
func TestNamesFollowTTL(t *testing.T) {
	fd := topology(t)
	resolver, set := dnsServerSet(t, map[string]string{"cloud-service.example.com": "10.77.9.2"})
	e := newEnforcer(t, fd, resolver)
	ctx := context.Background()
	if err := e.SetSegments(ctx, openSegs); err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(ctx, dev(nsD1, loadMUD(t, "mudmaker/cloud-service.json"), "iot-device.example.com")); err != nil {
		t.Fatal(err)
	}
	c, err := e.k.conn()
	if err != nil {
		t.Fatal(err)
	}
	els, err := c.GetSetElements(nfSet(e.table(famINet), nameSet("cloud-service.example.com", 4)))
	if err != nil {
		t.Fatal(err)
	}
	if len(els) != 1 || netip.AddrFrom4([4]byte(els[0].Key)) != netip.MustParseAddr("10.77.9.2") {
		t.Fatalf("set holds %+v, want 10.77.9.2", els)
	}
	// The test server's TTL is 300 s; the element lives that long plus the
	// time it takes to ask again.
	if to := els[0].Timeout; to < 300*time.Second || to > 300*time.Second+e.st.slack+time.Second {
		t.Errorf("element timeout %v, want the 300s TTL plus at most %v", to, e.st.slack)
	}
	checkFlows(t, []flow{{nsD1, "tcp", "10.77.9.2:443", true}, {nsD1, "tcp", "10.77.9.3:443", false}})

	// The service moves; once the TTL has run out the new answer replaces
	// the old atomically.
	set("cloud-service.example.com", "10.77.9.3")
	e.refresh(ctx) // TTL not over: nothing changes
	checkFlows(t, []flow{{nsD1, "tcp", "10.77.9.2:443", true}, {nsD1, "tcp", "10.77.9.3:443", false}})
	e.mu.Lock()
	dn := e.st.names["cloud-service.example.com"]
	dn.fetched, dn.tried = time.Now().Add(-301*time.Second), time.Now().Add(-301*time.Second)
	e.mu.Unlock()
	e.refresh(ctx)
	checkFlows(t, []flow{{nsD1, "tcp", "10.77.9.2:443", false}, {nsD1, "tcp", "10.77.9.3:443", true}})
}

// TestApplyAllOrNothing: when the kernel refuses a batch, the device keeps
// its previous confinement and the enforcer its previous state.
func TestApplyAllOrNothing(t *testing.T) {
	e, _ := openEnforcer(t, "")
	ctx := context.Background()
	d := dev(nsD1, nil, "maker.example")
	if err := e.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	checkFlows(t, []flow{{nsD1, "tcp", "10.77.9.2:80", true}})
	before, err := e.Counters(d.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Behind the enforcer's back, a set its next batch touches goes away
	// (nothing refers to the device's own manufacturer set).
	nsRun(t, nsRouter, "nft", "delete", "set", "inet", "tjfw", groupSet("manufacturer", "maker.example"))
	e.mu.Lock()
	free, slot := len(e.st.free), e.st.devs[d.ID].slot
	e.mu.Unlock()
	d.Quarantined = true
	if err := e.Apply(ctx, d); err == nil {
		t.Fatal("Apply succeeded without the set")
	}
	checkFlows(t, []flow{{nsD1, "tcp", "10.77.9.2:80", true}, {nsD1, "udp", "10.77.9.2:9999", true}})
	e.mu.Lock()
	if e.st.devs[d.ID].dev.Quarantined || e.st.devs[d.ID].slot != slot || len(e.st.free) != free || len(e.st.garbage) != 0 {
		t.Errorf("state changed by a failed Apply: %+v, %d free (was %d), %d garbage", e.st.devs[d.ID], len(e.st.free), free, len(e.st.garbage))
	}
	e.mu.Unlock()
	after, err := e.Counters(d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.AcceptedPackets <= before.AcceptedPackets {
		t.Errorf("accepted counter %d -> %d: the old chain is not counting", before.AcceptedPackets, after.AcceptedPackets)
	}
}

// TestCorpusApplies: every corpus MUD file the parser accepts becomes
// rules the kernel takes, and a device with it drops what it does not
// allow.
func TestCorpusApplies(t *testing.T) {
	fd := topology(t)
	e := newEnforcer(t, fd, dnsServer(t, map[string]string{}))
	ctx := context.Background()
	if err := e.SetSegments(ctx, openSegs); err != nil {
		t.Fatal(err)
	}
	pols := corpusPolicies(t)
	for i, p := range pols {
		d := dev(nsD1, p, "maker.example")
		if err := e.Apply(ctx, d); err != nil {
			t.Errorf("%s: %v", p.URL, err)
		}
		if i%10 == 0 {
			// Nothing in the corpus allows this port to this host.
			checkFlows(t, []flow{{nsD1, "tcp", "10.77.9.3:22", false}})
		}
	}
	t.Logf("%d corpus policies applied", len(pols))
}

// TestSilentResolver: names that cannot be resolved grant nothing, and
// the rest of the policy still applies.
func TestSilentResolver(t *testing.T) {
	fd := topology(t)
	dead, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	e := newEnforcer(t, fd, dead.LocalAddr().String())
	ctx := context.Background()
	if err := e.SetSegments(ctx, openSegs); err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(ctx, dev(nsD1, loadMUD(t, "mudmaker/cloud-service.json"), "iot-device.example.com")); err != nil {
		t.Fatal(err)
	}
	checkFlows(t, []flow{
		{nsD1, "tcp", "10.77.9.2:443", false},
		{nsD1, "udp", "10.77.1.1:53", true},
		{nsD2, "tcp", "10.77.9.2:443", true},
	})
}

// TestRestart: a new daemon run installs fresh tables beside the old ones,
// which keep confining devices until it has restored them and Run starts.
func TestRestart(t *testing.T) {
	fd := topology(t)
	resolver := dnsServer(t, map[string]string{"cloud-service.example.com": "10.77.9.2"})
	ctx := context.Background()
	d := dev(nsD1, loadMUD(t, "mudmaker/cloud-service.json"), "iot-device.example.com")
	want := []flow{{nsD1, "tcp", "10.77.9.2:443", true}, {nsD1, "tcp", "10.77.9.3:443", false}}
	var prev string
	for run := range 3 {
		e := newEnforcer(t, fd, resolver)
		if err := e.SetSegments(ctx, openSegs); err != nil {
			t.Fatal(err)
		}
		if run > 0 {
			// Restored segments, device not yet: the old tables still hold it.
			checkFlows(t, want)
			if e.st.table == prev {
				t.Fatalf("run %d reuses the tables %s", run, prev)
			}
		}
		if err := e.Apply(ctx, d); err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- e.Run(rctx) }()
		ok := false
		for range 50 {
			out, _ := exec.Command("ip", "netns", "exec", nsRouter, "nft", "list", "tables").CombinedOutput()
			if strings.Count(string(out), "table") == 2 && strings.Contains(string(out), " "+e.st.table+"\n") {
				ok = true
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
		<-done
		if !ok {
			out, _ := exec.Command("ip", "netns", "exec", nsRouter, "nft", "list", "tables").CombinedOutput()
			t.Fatalf("run %d: tables %s, want only %s", run, out, e.st.table)
		}
		checkFlows(t, want)
		prev = e.st.table
	}
}

// TestIPv6: the IPv6 ACLs of a corpus file, both directions, with the
// device's address learned from its packets.
func TestIPv6(t *testing.T) {
	fd := topology(t)
	resolver := dnsServer(t, map[string]string{"cloud-service.example.com": "10.77.9.2,fd77:9::2"})
	e := newEnforcer(t, fd, resolver)
	ctx := context.Background()
	if err := e.SetSegments(ctx, openSegs); err != nil {
		t.Fatal(err)
	}
	if err := e.Apply(ctx, dev(nsD1, loadMUD(t, "mudmaker/cloud-service.json"), "iot-device.example.com")); err != nil {
		t.Fatal(err)
	}
	prime(t)
	learnNow(e)
	checkFlows(t, []flow{
		{nsD1, "tcp", "[fd77:9::2]:443", true},
		{nsD1, "udp", "[fd77:9::2]:9999", true},
		{nsD1, "tcp", "[fd77:9::3]:443", false},
		{nsD1, "tcp", "[fd77:2::13]:80", false},
		{nsInet + "@fd77:9::2", "tcp", "[fd77:1::11]:80", true},
		{nsInet + "@fd77:9::3", "tcp", "[fd77:1::11]:80", false},
		{nsD2, "tcp", "[fd77:9::3]:443", true},
		{nsD1, "udp", "[fd77:1::1]:53", true},
	})
}

// TestChangesOnlyAdd: a new policy is one rule added at the head of the
// device's entry chain, and in force at once; what it left behind (the
// old slot, the old goto, the old model group) goes when Run cleans,
// except what the device has since taken back.
func TestChangesOnlyAdd(t *testing.T) {
	e, _ := openEnforcer(t, "")
	ctx := context.Background()
	web := &mud.Policy{URL: "https://maker.example/web", FromDevice: []mud.Rule{{Family: 4, Protocol: unix.IPPROTO_TCP,
		DstNet: netip.MustParsePrefix("10.77.9.2/32"), DstPorts: &mud.Ports{Lo: 80, Hi: 80}, Accept: true}}}
	tls := &mud.Policy{URL: "https://maker.example/tls", FromDevice: []mud.Rule{{Family: 4, Protocol: unix.IPPROTO_TCP,
		DstNet: netip.MustParsePrefix("10.77.9.2/32"), DstPorts: &mud.Ports{Lo: 443, Hi: 443}, Accept: true}}}
	d := dev(nsD1, web, "maker.example")
	if err := e.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	ti := e.table(famINet)
	rulesIn := func(chain string) int {
		t.Helper()
		c, err := e.k.conn()
		if err != nil {
			t.Fatal(err)
		}
		rs, err := c.GetRules(ti, &nftables.Chain{Name: chain, Table: ti})
		if err != nil {
			t.Fatal(err)
		}
		return len(rs)
	}
	entryRules := func() int { return rulesIn(entryChain(e.st.devs[d.ID].n, sideOut)) }
	slotRules := func(slot int) int { return rulesIn(slotChain(slot, sideOut)) }
	inGroup := func(url string) bool {
		t.Helper()
		c, err := e.k.conn()
		if err != nil {
			t.Fatal(err)
		}
		els, err := c.GetSetElements(&nftables.Set{Table: ti, Name: groupSet(mud.PeerModel, url), KeyType: nftables.TypeEtherAddr})
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(els, func(el nftables.SetElement) bool { return string(el.Key) == string(macs[nsD1]) })
	}
	clean := func() {
		e.mu.Lock()
		e.changed = time.Time{}
		e.cleanLocked()
		e.mu.Unlock()
	}
	first := e.st.devs[d.ID].slot
	checkFlows(t, []flow{{nsD1, "tcp", "10.77.9.2:80", true}, {nsD1, "tcp", "10.77.9.2:443", false}})

	d.Policy = tls
	if err := e.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	checkFlows(t, []flow{{nsD1, "tcp", "10.77.9.2:80", false}, {nsD1, "tcp", "10.77.9.2:443", true}})
	if n := entryRules(); n != 2 {
		t.Errorf("entry chain has %d rules after a change, want 2 (the new goto first, the old one left)", n)
	}
	if !inGroup(web.URL) || !inGroup(tls.URL) {
		t.Errorf("in the old group %v, in the new %v: want both until Run cleans", inGroup(web.URL), inGroup(tls.URL))
	}
	clean()
	if n := entryRules(); n != 1 {
		t.Errorf("entry chain has %d rules after cleaning, want 1", n)
	}
	if n := slotRules(first); n != 0 {
		t.Errorf("the old slot keeps %d rules after cleaning", n)
	}
	if !slices.Contains(e.st.free, first) {
		t.Errorf("the old slot %d is not free again: %v", first, e.st.free)
	}
	if inGroup(web.URL) || !inGroup(tls.URL) {
		t.Errorf("after cleaning: in the old group %v, in the new %v", inGroup(web.URL), inGroup(tls.URL))
	}
	checkFlows(t, []flow{{nsD1, "tcp", "10.77.9.2:80", false}, {nsD1, "tcp", "10.77.9.2:443", true}})

	// Back and forth before Run cleans: the group it came back to stays.
	d.Policy = web
	if err := e.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	d.Policy = tls
	if err := e.Apply(ctx, d); err != nil {
		t.Fatal(err)
	}
	clean()
	if inGroup(web.URL) || !inGroup(tls.URL) {
		t.Errorf("after back and forth: in the old group %v, in the new %v", inGroup(web.URL), inGroup(tls.URL))
	}
	if n := entryRules(); n != 1 {
		t.Errorf("entry chain has %d rules after cleaning, want 1", n)
	}
	checkFlows(t, []flow{{nsD1, "tcp", "10.77.9.2:80", false}, {nsD1, "tcp", "10.77.9.2:443", true}})

	// Removed: its entry chains go too, once Run sees changes pause.
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.Run(rctx) }()
	defer func() { cancel(); <-done }()
	if err := e.Remove(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	n := e.st.nextN
	left := func() (names []string) {
		c, err := e.k.conn()
		if err != nil {
			t.Fatal(err)
		}
		chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range chains {
			if ch.Table.Name == ti.Name && (ch.Name == entryChain(n, sideOut) || ch.Name == entryChain(n, sideIn) || ch.Name == entryChain(n, sideRouter)) {
				names = append(names, ch.Name)
			}
		}
		return names
	}
	if len(left()) == 0 {
		t.Error("a removed device's chains went at once: deleting belongs to Run")
	}
	for end := time.Now().Add(10 * cleanDelay); len(left()) > 0 && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	if l := left(); len(l) > 0 {
		t.Errorf("chains %v of a removed device are still there", l)
	}
}

// TestControllers: a device reaches the controller its MUD file names by
// class or as my-controller, at the addresses the administrator gave, and
// nothing else those rules could be read to allow.
func TestControllers(t *testing.T) {
	e, _ := openEnforcer(t, "")
	ctl := []config.Controller{
		{Name: "hub", Addresses: []netip.Prefix{netip.MustParsePrefix(addrs[nsD3] + "/32")}, MUDURLs: []string{"https://maker.example/bulb.json"}},
		{Name: "relay", Addresses: []netip.Prefix{netip.MustParsePrefix("10.77.9.2/32")}, Classes: []string{"https://maker.example/relay"}},
	}
	e.st.controllers = ctl
	ctx := context.Background()
	tcp := func(port uint16) *mud.Ports { return &mud.Ports{Lo: port, Hi: port} }
	bulb := &mud.Policy{URL: "https://maker.example/bulb.json", FromDevice: []mud.Rule{
		{Family: 4, Protocol: unix.IPPROTO_TCP, Peer: mud.PeerMyController, DstPorts: tcp(80), Accept: true},
		{Family: 4, Protocol: unix.IPPROTO_TCP, Peer: mud.PeerController, PeerValue: "https://maker.example/relay", DstPorts: tcp(443), Accept: true},
	}}
	if err := e.Apply(ctx, dev(nsD1, bulb, "maker.example")); err != nil {
		t.Fatal(err)
	}
	checkFlows(t, []flow{
		{nsD1, "tcp", addrs[nsD3] + ":80", true},  // its controller (the hub), routed
		{nsD1, "tcp", addrs[nsD2] + ":80", false}, // another host on its bridge
		{nsD1, "tcp", addrs[nsD3] + ":443", false},
		{nsD1, "tcp", "10.77.9.2:443", true},  // the relay class
		{nsD1, "tcp", "10.77.9.3:443", false}, // not the relay
		{nsD1, "tcp", "10.77.9.2:80", false},
	})
}

// TestLearnedAddressKept: once the router has learned which device uses an
// address, another device sending from that address does not take it
// over: traffic to the address keeps meeting the first device's chain.
func TestLearnedAddressKept(t *testing.T) {
	e, _ := openEnforcer(t, "")
	ctx := context.Background()
	for _, ns := range []string{nsD1, nsD2} {
		if err := e.Apply(ctx, dev(ns, nil, "")); err != nil {
			t.Fatal(err)
		}
	}
	victim := netip.MustParseAddr(addrs[nsD1])
	owner := func() string { return learnedOwner(t, e, victim) }
	if err := udpEcho(nsD1, "10.77.1.1:53"); err != nil {
		t.Fatal(err)
	}
	if got := owner(); got != macs[nsD1].String() {
		t.Fatalf("%v learned as %s's, want %s", victim, got, macs[nsD1])
	}
	// d2 claims d1's address and sends from it, to the router and through it.
	nsRun(t, nsD2, "ip", "addr", "add", addrs[nsD1]+"/32", "dev", "eth0")
	_ = udpEchoWithin(nsD2+"@"+addrs[nsD1], "10.77.1.1:53", 2*flowTimeout)
	_ = udpEchoWithin(nsD2+"@"+addrs[nsD1], "10.77.9.2:9999", 2*flowTimeout)
	if got := owner(); got != macs[nsD1].String() {
		t.Errorf("after another device sent from it, %v is learned as %s's, want still %s", victim, got, macs[nsD1])
	}
	// The control: had the router not known the address yet, d2's packets
	// would have taught it (so the check above can fail).
	nsRun(t, nsRouter, "nft", "delete", "element", "inet", e.table(famINet).Name, setIP4MAC, "{ "+addrs[nsD1]+" }")
	_ = udpEchoWithin(nsD2+"@"+addrs[nsD1], "10.77.1.1:53", 2*flowTimeout)
	if got := owner(); got != macs[nsD2].String() {
		t.Errorf("an address nobody held, sent from by d2, is learned as %q's, want %s", got, macs[nsD2])
	}
	// dnsmasq leased that address to d1: the lease wins over d2's claim.
	leases := filepath.Join(t.TempDir(), "dhcp.leases")
	line := fmt.Sprintf("%d %s %s d1 *\n", time.Now().Add(time.Hour).Unix(), macs[nsD1], addrs[nsD1])
	if err := os.WriteFile(leases, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.opts.DHCPLeases = leases
	e.mu.Unlock()
	if got := owner(); got != macs[nsD1].String() {
		t.Errorf("with d1's lease, %v is learned as %s's, want %s", victim, got, macs[nsD1])
	}
	// And d2 sending from it again changes nothing.
	_ = udpEchoWithin(nsD2+"@"+addrs[nsD1], "10.77.1.1:53", 2*flowTimeout)
	if got := owner(); got != macs[nsD1].String() {
		t.Errorf("with d1's lease, after d2 sent again, %v is learned as %s's, want %s", victim, got, macs[nsD1])
	}
}

// learnedOwner is the MAC the router holds address a for, once the
// enforcer has synced what the kernel learned.
func learnedOwner(t *testing.T, e *Enforcer, a netip.Addr) string {
	t.Helper()
	learnNow(e)
	e.mu.Lock()
	defer e.mu.Unlock()
	return net.HardwareAddr(e.st.synced[a]).String()
}

// TestEUI64AddressOwned: an IPv6 address formed from a device's MAC is
// that device's, whoever sent from it first.
func TestEUI64AddressOwned(t *testing.T) {
	e, _ := openEnforcer(t, "")
	ctx := context.Background()
	id := eui64(string(macs[nsD1]))
	var b [16]byte
	copy(b[:8], netip.MustParseAddr("fd77:1::").AsSlice())
	copy(b[8:], id[:])
	victim := netip.AddrFrom16(b)
	owner := func() string { return learnedOwner(t, e, victim) }
	send := func() {
		t.Helper()
		if err := udpEchoWithin(nsD2+"@"+victim.String(), "[fd77:1::1]:53", 2*flowTimeout); err != nil {
			t.Fatalf("d2 sending from %v: %v", victim, err)
		}
	}
	nsRun(t, nsD2, "ip", "addr", "add", victim.String()+"/128", "dev", "eth0", "nodad")
	if err := e.Apply(ctx, dev(nsD2, nil, "")); err != nil {
		t.Fatal(err)
	}
	// The control: while d1 is nobody the router knows, d2 sending from
	// the address makes it d2's.
	send()
	if got := owner(); got != macs[nsD2].String() {
		t.Fatalf("%v, sent from by d2 while d1 is not governed, is learned as %q's, want %s", victim, got, macs[nsD2])
	}
	if err := e.Apply(ctx, dev(nsD1, nil, "")); err != nil {
		t.Fatal(err)
	}
	if got := owner(); got != macs[nsD1].String() {
		t.Errorf("with d1 governed, its EUI-64 address %v is learned as %s's, want %s", victim, got, macs[nsD1])
	}
	send()
	if got := owner(); got != macs[nsD1].String() {
		t.Errorf("after d2 sent from it again, %v is learned as %s's, want %s", victim, got, macs[nsD1])
	}
}
