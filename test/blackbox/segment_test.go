package blackbox

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// segmentNet is a network namespace for the daemon with a veth pair as a
// wired trunk: up0 in the namespace (the router's uplink), peer0 on the
// other end (still in the namespace; a test may move it out).
type segmentNet struct {
	ns  string
	nft func(args ...string) string
	// vlan says whether the kernel does 802.1Q (this machine's may not;
	// Debian's kernel and the lab VM's do).
	vlan bool
}

func newSegmentNet(t *testing.T) *segmentNet {
	ns, nft := netnsWithNft(t, "tjbb-seg",
		[]string{"ip", "link", "set", "lo", "up"},
		[]string{"ip", "link", "add", "up0", "type", "veth", "peer", "name", "peer0"},
		[]string{"ip", "link", "set", "up0", "up"})
	n := &segmentNet{ns: ns, nft: nft}
	out, err := exec.Command("ip", "-n", ns, "link", "add", "link", "up0", "name", "probe", "type", "vlan", "id", "4000").CombinedOutput()
	if err == nil {
		n.vlan = true
		n.ip(t, "link", "del", "probe")
	} else if !strings.Contains(string(out), "Unknown device type") && !strings.Contains(string(out), "not supported") {
		t.Fatalf("ip link add type vlan: %v\n%s", err, out)
	}
	return n
}

// ip runs ip in the namespace.
func (n *segmentNet) ip(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", n.ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// link is `ip -d link show name` in the namespace, empty when missing.
func (n *segmentNet) link(name string) string {
	out, err := exec.Command("ip", "-n", n.ns, "-d", "link", "show", name).CombinedOutput()
	if err != nil {
		return ""
	}
	return string(out)
}

// wantBridge fails unless name is an up bridge.
func (n *segmentNet) wantBridge(t *testing.T, name string) {
	t.Helper()
	if l := n.link(name); !strings.Contains(l, "\n    bridge ") || !strings.Contains(l, ",UP") {
		t.Errorf("%s is not an up bridge:\n%s", name, l)
	}
}

// wantPort fails unless name is an up VLAN interface with id vid and a
// port of bridge.
func (n *segmentNet) wantPort(t *testing.T, name string, vid int, bridge string) {
	t.Helper()
	l := n.link(name)
	for _, want := range []string{"@up0:", ",UP", fmt.Sprintf("vlan protocol 802.1Q id %d ", vid), "master " + bridge + " ", "bridge_slave"} {
		if !strings.Contains(l, want) {
			t.Errorf("%s lacks %q:\n%s", name, want, l)
		}
	}
}

// segMap is trustjoin's map from ingress interface to segment chain, as
// nft lists it (whatever the table's name this generation), or empty.
func (n *segmentNet) segMap() string {
	out, _ := exec.Command("ip", "netns", "exec", n.ns, "nft", "list", "ruleset").CombinedOutput()
	r := string(out)
	i := strings.Index(r, "map seg_fwd {")
	if i < 0 {
		return ""
	}
	r = r[i:]
	if j := strings.Index(r, "}"); j >= 0 {
		r = r[:j+1]
	}
	return r
}

// segmentConfig is a daemon configuration in dir with the segments given
// (UCI) and onboarding into the first, iot.
func segmentConfig(dir, segments string) string {
	return fmt.Sprintf("config trustjoin 'main'\n\toption state_dir '%s/state'\n\toption run_dir '%s/run'\n"+
		"\toption hostapd_ctrl_dir '%s/hostapd'\n\toption log_level 'debug'\n"+
		"config wifi 'home'\n\toption ifname 'wlan0'\n", dir, dir, dir) + segments
}

// The daemon plumbs what segments ask for, in a network namespace of its
// own, with the kernel's bridges and 802.1Q VLANs: the bridge of a segment
// is made and up and, with an uplink, <uplink>.<vlan> carries the segment
// tagged as a port of it, and the firewall's segment map names the bridge;
// a reload adds a second segment's bridge; a configuration whose uplink
// is missing is rejected whole (nothing made) and the one before runs
// again. A peer on the other end of the trunk pings the bridge over its
// own VLAN interface: tagged frames cross.
func TestDaemonSegmentPlumbing(t *testing.T) {
	n := newSegmentNet(t)
	if !n.vlan {
		t.Skip("kernel without 802.1Q VLANs (the lab VM has them: test/blackbox/lab-kernel.sh); TestDaemonSegmentBridges covers the rest")
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "trustjoin")
	iot := "config segment 'iot'\n\toption vlan '20'\n\toption internet '1'\n\toption bridge 'br-iot'\n\toption uplink 'up0'\n"
	writeConfig(t, cfgPath, segmentConfig(dir, iot))
	cmd, logs := startDaemon(t, []string{"ip", "netns", "exec", n.ns}, nil, cfgPath)
	logs.waitFor(t, "msg=ready", 1)
	logs.waitFor(t, `msg="segment: created interface" segment=iot link=br-iot`, 1)
	logs.waitFor(t, `msg="segment: created interface" segment=iot link=up0.20`, 1)
	n.wantBridge(t, "br-iot")
	n.wantPort(t, "up0.20", 20, "br-iot")
	if m := n.segMap(); !strings.Contains(m, `"br-iot" : jump`) {
		t.Errorf("the firewall's segment map does not name br-iot:\n%s", m)
	}
	if t.Failed() {
		t.FailNow()
	}

	// A peer on the far end of the trunk, tagged 20, reaches the bridge.
	peer := fmt.Sprintf("tjbb-segp-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", peer).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", peer).Run() })
	n.ip(t, "link", "set", "peer0", "netns", peer)
	n.ip(t, "addr", "add", "10.20.0.1/24", "dev", "br-iot")
	for _, args := range [][]string{
		{"link", "set", "peer0", "up"},
		{"link", "add", "link", "peer0", "name", "peer0.20", "type", "vlan", "id", "20"},
		{"addr", "add", "10.20.0.2/24", "dev", "peer0.20"},
		{"link", "set", "peer0.20", "up"},
	} {
		if out, err := exec.Command("ip", append([]string{"-n", peer}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip -n %s %s: %v\n%s", peer, strings.Join(args, " "), err, out)
		}
	}
	ping := []string{"ping"}
	if _, err := exec.LookPath("ping"); err != nil {
		ping = []string{"busybox", "ping"}
	}
	var out []byte
	var err error
	for range 10 { // DAD and the port's forwarding state may take a moment
		out, err = exec.Command("ip", append(append([]string{"netns", "exec", peer}, ping...), "-c", "1", "-W", "1", "10.20.0.1")...).CombinedOutput()
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("the peer's tagged ping does not reach br-iot: %v\n%s", err, out)
	}
	// Frames tagged with another VLAN id reach nothing: the uplink carries
	// VLAN 20 into the bridge and no other. (With arp_ignore 1 the router
	// answers ARP only on the interface holding the address, as the weak
	// host model would otherwise answer on up0 itself.)
	if out, err := exec.Command("ip", "netns", "exec", n.ns, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/all/arp_ignore").CombinedOutput(); err != nil {
		t.Fatalf("arp_ignore: %v\n%s", err, out)
	}
	n.ip(t, "addr", "add", "10.21.0.1/24", "dev", "br-iot")
	for _, args := range [][]string{
		{"link", "add", "link", "peer0", "name", "peer0.21", "type", "vlan", "id", "21"},
		{"addr", "add", "10.21.0.2/24", "dev", "peer0.21"},
		{"link", "set", "peer0.21", "up"},
	} {
		if out, err := exec.Command("ip", append([]string{"-n", peer}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ip -n %s %s: %v\n%s", peer, strings.Join(args, " "), err, out)
		}
	}
	if out, err := exec.Command("ip", append(append([]string{"netns", "exec", peer}, ping...), "-c", "1", "-W", "1", "10.21.0.1")...).CombinedOutput(); err == nil {
		t.Fatalf("a ping tagged 21 reached br-iot, which carries VLAN 20 only\n%s", out)
	}

	reloadWithSecondSegment(t, n, cmd, logs, cfgPath, dir, iot)
}

// Without 802.1Q in the kernel, the rest: a segment's bridge is made, the
// firewall names it, a reload adds another, and an uplink that does not
// exist rejects the configuration (checked before any VLAN would be made).
func TestDaemonSegmentBridges(t *testing.T) {
	n := newSegmentNet(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "trustjoin")
	iot := "config segment 'iot'\n\toption vlan '20'\n\toption internet '1'\n\toption bridge 'br-iot'\n"
	writeConfig(t, cfgPath, segmentConfig(dir, iot))
	cmd, logs := startDaemon(t, []string{"ip", "netns", "exec", n.ns}, nil, cfgPath)
	logs.waitFor(t, "msg=ready", 1)
	logs.waitFor(t, `msg="segment: created interface" segment=iot link=br-iot`, 1)
	n.wantBridge(t, "br-iot")
	if m := n.segMap(); !strings.Contains(m, `"br-iot" : jump`) {
		t.Errorf("the firewall's segment map does not name br-iot:\n%s", m)
	}
	reloadWithSecondSegment(t, n, cmd, logs, cfgPath, dir, iot)
}

// reloadWithSecondSegment adds a segment with a bridge of its own on
// SIGHUP, then offers a configuration whose third segment's uplink does
// not exist: it is rejected, nothing of it is made, and the second
// configuration runs again.
func reloadWithSecondSegment(t *testing.T, n *segmentNet, cmd *exec.Cmd, logs *logWatcher, cfgPath, dir, iot string) {
	t.Helper()
	guest := "config segment 'guest'\n\toption vlan '30'\n\toption internet '1'\n\toption bridge 'br-guest'\n"
	writeConfig(t, cfgPath, segmentConfig(dir, iot+guest))
	cmd.Process.Signal(syscall.SIGHUP)
	logs.waitFor(t, `msg="segment: created interface" segment=guest link=br-guest`, 1)
	logs.waitFor(t, "msg=ready", 2)
	n.wantBridge(t, "br-guest")
	n.wantBridge(t, "br-iot")
	waitRuleset(t, n.nft, "the segment map names both bridges", func(string) bool {
		m := n.segMap()
		return strings.Contains(m, `"br-iot" : jump`) && strings.Contains(m, `"br-guest" : jump`)
	})

	lab := "config segment 'lab'\n\toption vlan '40'\n\toption bridge 'br-lab'\n\toption uplink 'eth9'\n"
	writeConfig(t, cfgPath, segmentConfig(dir, iot+guest+lab))
	cmd.Process.Signal(syscall.SIGHUP)
	logs.waitFor(t, "new configuration could not be set up, going back to the one in force before", 1)
	logs.waitFor(t, "msg=ready", 3)
	out, err := exec.Command("ip", "netns", "exec", n.ns, binary, "status", "--json", "--config", cfgPath).CombinedOutput()
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	var st struct{ Config struct{ Rejected string } }
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	if !strings.Contains(st.Config.Rejected, "bridge br-lab: uplink eth9: no such interface") {
		t.Errorf("status does not say why the configuration was rejected: %q\n%s", st.Config.Rejected, out)
	}
	if l := n.link("br-lab"); l != "" {
		t.Errorf("the rejected configuration's bridge was made:\n%s", l)
	}
	// The configuration in force before is back: both bridges in the
	// firewall, not the rejected one's.
	waitRuleset(t, n.nft, "the previous configuration's segment map", func(string) bool {
		m := n.segMap()
		return strings.Contains(m, `"br-iot" : jump`) && strings.Contains(m, `"br-guest" : jump`) && !strings.Contains(m, "br-lab")
	})
	// Nothing trustjoin made goes away with it, nor when the daemon stops.
	stopDaemon(t, cmd)
	n.wantBridge(t, "br-iot")
	n.wantBridge(t, "br-guest")
}
