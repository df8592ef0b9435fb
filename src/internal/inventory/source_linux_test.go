package inventory

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestSystemSourceSeesWiredDevices builds a router namespace with two
// bridges, the household's LAN (br0) and segment iot (br1), and three
// hosts that each send the router one packet; the kernel's neighbour
// table and the bridges' FDBs are all the inventory looks at.
//
//	h1 10.78.1.11 (nobody's) ─┐
//	h2 10.78.1.12 (printer)  ─┴ br0 10.78.1.1 ┐
//	h3 10.78.2.13 (camera, guest) ── br1 10.78.2.1 ┴ router
func TestSystemSourceSeesWiredDevices(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 (ip)")
	}
	ns := func(role string) string { return fmt.Sprintf("tjinv%d-%s", os.Getpid(), role) }
	r := ns("r")
	hosts := []struct {
		name, mac, addr, bridge string
	}{
		{ns("h1"), "02:00:00:78:01:11", "10.78.1.11", "br0"},
		{ns("h2"), "02:00:00:78:01:12", "10.78.1.12", "br0"},
		{ns("h3"), "02:00:00:78:02:13", "10.78.2.13", "br1"},
	}
	t.Cleanup(func() {
		for _, n := range []string{r, hosts[0].name, hosts[1].name, hosts[2].name} {
			exec.Command("ip", "netns", "del", n).Run()
		}
	})
	run(t, "ip", "netns", "add", r)
	in := func(n string, args ...string) {
		t.Helper()
		run(t, append([]string{"ip", "netns", "exec", n}, args...)...)
	}
	for i, br := range []string{"br0", "br1"} {
		in(r, "ip", "link", "add", br, "type", "bridge")
		in(r, "ip", "addr", "add", fmt.Sprintf("10.78.%d.1/24", i+1), "dev", br)
		in(r, "ip", "link", "set", br, "up")
	}
	for i, h := range hosts {
		run(t, "ip", "netns", "add", h.name)
		in(h.name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
		port := fmt.Sprintf("p%d", i+1)
		in(r, "ip", "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.name)
		in(r, "ip", "link", "set", port, "master", h.bridge, "up")
		in(h.name, "ip", "link", "set", "eth0", "address", h.mac, "up")
		in(h.name, "ip", "addr", "add", h.addr+"/24", "dev", "eth0")
	}
	// One packet each: its ARP request teaches the router and the bridge
	// the sender.
	for _, h := range hosts {
		gw := strings.Join(strings.Split(h.addr, ".")[:3], ".") + ".1"
		in(h.name, "bash", "-c", "echo hello > /dev/udp/"+gw+"/9")
	}
	leases := filepath.Join(t.TempDir(), "dhcp.leases")
	if err := os.WriteFile(leases, []byte("0 02:00:00:78:01:11 10.78.1.11 laptop *\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := os.Open("/var/run/netns/" + r)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	src := SystemSource{NetNS: int(fd.Fd()), NoWifi: true, Leases: leases}
	snap, err := src.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("Snapshot = %v", err)
	}
	known := []Known{
		{MAC: mac("02:00:00:78:01:12"), ID: "d2", Name: "printer", Segment: ""},
		{MAC: mac("02:00:00:78:02:13"), ID: "d3", Name: "camera", Segment: "guest"},
	}
	got := Classify(snap, known, map[string]string{"br0": "", "br1": "iot"})
	want := []Unknown{
		{MAC: "02:00:00:78:01:11", Kind: Wired, Iface: "p1", SeenBy: []string{"fdb", "neighbour"}, Addresses: []string{"10.78.1.11"}, Hostname: "laptop"},
		{MAC: "02:00:00:78:02:13", Kind: WrongSegment, Iface: "p3", Segment: "iot", Device: "d3", Name: "camera", Expected: "guest", SeenBy: []string{"fdb", "neighbour"}, Addresses: []string{"10.78.2.13"}},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("unknown devices (-want +got):\n%s\nsnapshot: %+v", diff, snap)
	}
	// MACOf (what the BRSKI proxies tell the authorisation hook): the
	// sender on its own interface, nobody elsewhere or at another address.
	for _, tc := range []struct {
		addr, ifname, want string
	}{
		{"10.78.1.11", "br0", "02:00:00:78:01:11"},
		{"10.78.2.13", "br1", "02:00:00:78:02:13"},
		{"10.78.1.11", "br1", ""},
		{"10.78.1.99", "br0", ""},
	} {
		got, err := src.MACOf(netip.MustParseAddr(tc.addr), tc.ifname)
		if got.String() != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("MACOf(%s, %s) = %q, %v; want %q", tc.addr, tc.ifname, got, err, tc.want)
		}
	}
}
