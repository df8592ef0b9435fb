package firewall

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/config"
	"github.com/trustjoin/trustjoin/src/internal/mud"
)

// TestRenderMatchesKernel: what the planner's state renders as nft text,
// loaded with the real nft into a namespace of its own, lists exactly as
// what the applier installed for the same state: the rule model's netlink
// expressions and its nft syntax do not diverge. The state covers
// segments (replaced once), the join confinement, devices with policies
// using DNS names, groups, local networks, controllers, directions and
// ethertypes, a quarantined device, one without a policy and a changed
// one, the NFLOG rules of drops, DNS answers and two devices being
// learned (one of them with a policy). Where the kernel has meta ibrname (the lab VM's, OpenWrt's with
// kmod-nft-bridge) the bridge table finds segments by bridge, elsewhere
// by port: test/blackbox/lab-kernel.sh runs it there too.
func TestRenderMatchesKernel(t *testing.T) {
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft")
	}
	fd := topology(t)
	resolver := dnsServer(t, map[string]string{"cloud-service.example.com": "10.77.9.2,fd77:9::2", "www.nist.local": "10.77.9.3"})
	e := newEnforcer(t, fd, resolver)
	// Drops, the connections of a device being learned and DNS answers
	// are logged to NFLOG.
	e.st.logGroup = 4700
	if err := e.LogConnections(context.Background(), []string{"bare", nsD1}); err != nil {
		t.Fatal(err)
	}
	e.st.controllers = []config.Controller{
		{Name: "hub", Addresses: []netip.Prefix{netip.MustParsePrefix("10.77.2.13/32"), netip.MustParsePrefix("fd77:2::/64")},
			MUDURLs: []string{"https://maker.example/bulb.json"}},
	}
	ctx := context.Background()
	if err := e.SetSegments(ctx, []Segment{{Name: "home", Ifaces: []string{"br0"}, Internet: true}}); err != nil {
		t.Fatal(err)
	}
	segs := append(slices.Clone(openSegs), Segment{Name: "jail", Ifaces: []string{"br7"}, Quarantine: true},
		Segment{Name: "iot", Ifaces: []string{"br8"}, Isolate: true, Reach: []string{"home"}})
	if err := e.SetSegments(ctx, segs); err != nil {
		t.Fatal(err)
	}
	if err := e.SetJoin(ctx, Join{Ifaces: []string{"join0"}, ProxyPort: 8443, IPv4: true, CoAPPorts: []int{5684, 5683}}); err != nil {
		t.Fatal(err)
	}
	bulb := &mud.Policy{URL: "https://maker.example/bulb.json", FromDevice: []mud.Rule{
		{Family: 4, Protocol: protoTCP, Peer: mud.PeerMyController, DstPorts: &mud.Ports{Lo: 80, Hi: 80}, Accept: true},
		{Protocol: -1, Peer: mud.PeerSameManufacturer, Accept: true},
		{Family: 6, Protocol: protoUDP, Peer: mud.PeerLocalNetworks, DstPorts: &mud.Ports{Lo: 5683, Hi: 5683, Neq: true}, Accept: true},
		{Family: 4, Protocol: protoTCP, DstNet: netip.MustParsePrefix("192.0.2.0/24"), Direction: mud.ToDevice, SrcPorts: &mud.Ports{Lo: 1000, Hi: 2000}, Accept: true},
		{Protocol: -1, EtherType: 0x888e, Accept: true},
		{Family: 4, Protocol: protoUDP, DstNet: netip.MustParsePrefix("10.77.9.3/32")},
		{Family: 4, Protocol: protoICMP, ICMP: &mud.ICMP{Type: 8, Code: 0}, Accept: true},
		{Family: 6, Protocol: protoICMPv6, ICMP: &mud.ICMP{Type: 128, Code: -1}, Peer: mud.PeerController, PeerValue: mud.ControllerGateway, Accept: true},
	}, ToDevice: []mud.Rule{
		{Family: 4, Protocol: protoTCP, Direction: mud.FromDevice, DstPorts: &mud.Ports{Lo: 443, Hi: 443}, Accept: true},
		{Family: 6, Protocol: protoICMPv6, Peer: mud.PeerLocalNetworks, Accept: true},
	}}
	cloud := &mud.Policy{URL: "https://iot-device.example.com/cloud", FromDevice: []mud.Rule{
		{Family: 4, Protocol: -1, DstDNS: "cloud-service.example.com", Accept: true},
		{Family: 6, Protocol: protoTCP, DstDNS: "cloud-service.example.com", DstPorts: &mud.Ports{Lo: 443, Hi: 443}, Accept: true},
	}, ToDevice: []mud.Rule{
		{Family: 4, Protocol: protoUDP, SrcDNS: "www.nist.local", SrcPorts: &mud.Ports{Lo: 123, Hi: 123}, Accept: true},
	}}
	caught := Device{ID: "caught", MACs: []net.HardwareAddr{fakeMAC(1)}, Segment: "home", Quarantined: true}
	devices := []Device{
		dev(nsD1, cloud, "iot-device.example.com"),
		dev(nsD2, webPolicy, "maker.example"),
		dev(nsD3, bulb, "maker.example"),
		caught,
		{ID: "jailed", MACs: []net.HardwareAddr{fakeMAC(2)}, Segment: "jail", Policy: bulb},
		{ID: "bare", MACs: []net.HardwareAddr{fakeMAC(3), fakeMAC(4)}, Segment: "iot"},
	}
	// A changed policy and a release leave garbage, cleaned below.
	devices = append(devices, dev(nsD2, tlsPolicy, "maker.example"))
	caught.Quarantined = false
	devices = append(devices, caught)
	for _, d := range devices {
		if err := e.Apply(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	e.mu.Lock()
	e.changed = time.Time{}
	e.cleanLocked()
	rendered, err := ruleset(e.st.installBatches(time.Now())...)
	table := e.st.table
	e.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}

	list := func(ns string) string {
		t.Helper()
		var all string
		for _, fam := range []string{"inet", "bridge"} {
			out, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "table", fam, table).CombinedOutput()
			if err != nil {
				t.Fatalf("nft list table %s %s: %v\n%s", fam, table, err, out)
			}
			all += string(out)
		}
		return all
	}
	installed := list(nsRouter)
	ns := nsName("render")
	_ = exec.Command("ip", "netns", "del", ns).Run()
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	load := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	load.Stdin = strings.NewReader(rendered)
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("nft -f refuses the rendered ruleset: %v\n%s\n%s", err, out, numbered(rendered))
	}
	loaded := list(ns)
	for _, want := range []string{`log prefix "tj-drop" group 4700 snaplen 128`, `log prefix "tj-dns" group 4701`,
		`log prefix "tj-open bare" group 4700 snaplen 128`, `log prefix "tj-in ` + nsD1 + `" group 4700 snaplen 128`,
		`log prefix "tj-drop ` + nsD2 + `" group 4700 snaplen 128`} {
		if !strings.Contains(installed, want) {
			t.Errorf("the installed tables lack %s:\n%s", want, numbered(installed))
		}
	}
	if a, b := normalise(installed), normalise(loaded); a != b {
		t.Errorf("the rendered ruleset, loaded by nft, differs from what the applier installed:\n%s", lineDiff(a, b))
	}
}

func numbered(s string) string {
	var b strings.Builder
	for i, l := range strings.Split(s, "\n") {
		fmt.Fprintf(&b, "%4d %s\n", i+1, l)
	}
	return b.String()
}

// lineDiff shows the lines only in a (-) or only in b (+), in order.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for _, l := range al {
		if !slices.Contains(bl, l) {
			out = append(out, "- installed: "+l)
		}
	}
	for _, l := range bl {
		if !slices.Contains(al, l) {
			out = append(out, "+ rendered:  "+l)
		}
	}
	if len(out) == 0 {
		return "(same lines, another order)\n" + a + "\n----\n" + b
	}
	return strings.Join(out, "\n")
}

// normalise makes two listings of one ruleset comparable: counts, the
// time left of elements and what the kernel learns by itself go; blocks
// (sets, maps, counters, chains) are in name order and elements sorted,
// as the order they were added in does not matter.
func normalise(listing string) string {
	listing = regexp.MustCompile(`packets \d+ bytes \d+`).ReplaceAllString(listing, "packets 0 bytes 0")
	listing = regexp.MustCompile(` timeout \S+ expires \S+`).ReplaceAllString(listing, "")
	var out []string
	var blocks []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			blocks = append(blocks, normaliseBlock(strings.Join(cur, "\n")))
			cur = nil
		}
	}
	for _, l := range strings.Split(listing, "\n") {
		switch {
		case strings.HasPrefix(l, "table "):
			out = append(out, l)
		case l == "}":
			flush()
			slices.Sort(blocks)
			out = append(out, blocks...)
			out = append(out, l)
			blocks = nil
		case strings.HasPrefix(l, "\t") && !strings.HasPrefix(l, "\t\t") && strings.HasSuffix(l, "{"):
			flush()
			cur = []string{l}
		case strings.TrimSpace(l) == "":
		default:
			cur = append(cur, l)
		}
	}
	return strings.Join(out, "\n")
}

// normaliseBlock sorts a block's elements and empties the maps the
// kernel fills by itself (flags dynamic).
func normaliseBlock(b string) string {
	i := strings.Index(b, "elements = {")
	if i < 0 {
		return b
	}
	j := strings.Index(b[i:], "}")
	items := strings.Split(b[i+len("elements = {"):i+j], ",")
	for k := range items {
		items[k] = strings.TrimSpace(items[k])
	}
	slices.Sort(items)
	if strings.Contains(b, "flags dynamic") {
		items = nil
	}
	return b[:i] + "elements = { " + strings.Join(items, ", ") + " }" + b[i+j+1:]
}

// TestRenderLoads: what Render prints for `trustjoin mud check --nft`,
// comments and all, is a ruleset nft loads as it is.
func TestRenderLoads(t *testing.T) {
	needNetNS(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft")
	}
	ns := nsName("load")
	_ = exec.Command("ip", "netns", "del", ns).Run()
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	p := &mud.Policy{URL: "https://maker.example/bulb.json", FromDevice: []mud.Rule{
		{Family: 4, Protocol: protoTCP, DstDNS: "cloud.example", DstPorts: &mud.Ports{Lo: 443, Hi: 443}, Accept: true},
		{Protocol: -1, Peer: mud.PeerMyController, Accept: true},
		{Protocol: -1, Peer: mud.PeerSameManufacturer, Accept: true},
	}, ToDevice: []mud.Rule{{Family: 6, Protocol: protoTCP, Peer: mud.PeerLocalNetworks, Direction: mud.FromDevice, Accept: true}}}
	// Routers have meta ibrname (kmod-nft-bridge, a dependency of the
	// package); on a kernel without it the bridge table looks the port
	// up instead, an ifname lookup all the same.
	probe := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	probe.Stdin = strings.NewReader(`table bridge probe { chain c { meta ibrname "br0" accept; }; }`)
	ibrname := probe.Run() == nil
	for _, o := range []RenderOptions{{}, {Controllers: hub, Segments: openSegs, Segment: "lab"}} {
		text, err := Render(p, o)
		if err != nil {
			t.Fatal(err)
		}
		if !ibrname {
			text = strings.ReplaceAll(text, "meta ibrname ", "iifname ")
		}
		load := exec.Command("ip", "netns", "exec", ns, "sh", "-c", "nft flush ruleset && nft -f -")
		load.Stdin = strings.NewReader(text)
		if out, err := load.CombinedOutput(); err != nil {
			t.Errorf("nft -f refuses what Render printed: %v\n%s\n%s", err, out, numbered(text))
		}
	}
}
