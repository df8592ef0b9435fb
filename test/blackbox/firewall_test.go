package blackbox

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The daemon's firewall from the outside, in a network namespace of its
// own: devices restored from the registry are in trustjoin's nftables
// tables before the daemon says it is ready, the tables come back after an
// `nft flush ruleset` behind its back, and a removed device leaves them.
// (What the rules let through, packet by packet, is package firewall's
// test; this one checks the daemon wires it up.)
func TestDaemonFirewall(t *testing.T) {
	ns, nft := netnsWithNft(t, "tjbb-fw")

	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	os.MkdirAll(state, 0o700)
	writeConfig(t, filepath.Join(state, "devices.json"), `{"version":1,"devices":[
		{"id":"d-cam","name":"Camera","macs":["02:00:00:00:00:07"],"segment":"iot","state":"connected"},
		{"id":"d-plug","name":"Plug","macs":["02:00:00:00:00:08"],"segment":"iot","state":"connected"}],"preauthorized":[]}`)
	cfgPath := filepath.Join(dir, "trustjoin")
	writeConfig(t, cfgPath, fmt.Sprintf("config trustjoin 'main'\n\toption state_dir '%s'\n\toption run_dir '%s/run'\n"+
		"\toption hostapd_ctrl_dir '%s/hostapd'\n\toption log_level 'debug'\n"+
		"config wifi 'home'\n\toption ifname 'wlan0'\n", state, dir, dir))

	_, logs := startDaemon(t, []string{"ip", "netns", "exec", ns}, nil, cfgPath)
	logs.waitFor(t, "msg=ready", 1)

	ruleset := nft("list", "ruleset")
	for _, want := range []string{"table inet trustjoin", "table bridge trustjoin", "02:00:00:00:00:07", "02:00:00:00:00:08", `"wlan0.20"`, `"brvlan20"`} {
		if !strings.Contains(ruleset, want) {
			t.Errorf("ready, but the ruleset lacks %s:\n%s", want, ruleset)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// fw4 reload or flush deletes everything; the daemon puts it back.
	nft("flush", "ruleset")
	waitRuleset(t, nft, "tables restored after a flush", func(r string) bool {
		return hasAll(r, "table inet trustjoin", "02:00:00:00:00:07")
	})

	// One command quarantines a device, one releases it, one moves it.
	cli := func(args ...string) map[string]any {
		t.Helper()
		out, err := exec.Command("ip", append([]string{"netns", "exec", ns, binary}, append(args, "--json", "--config", cfgPath)...)...).Output()
		if err != nil {
			t.Fatalf("trustjoin %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		var d map[string]any
		if err := json.Unmarshal(out, &d); err != nil {
			t.Fatalf("trustjoin %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return d
	}
	if d := cli("quarantine", "Camera"); d["quarantined"] != true || d["segment"] != "quarantine" {
		t.Errorf("quarantine: %v", d)
	}
	if d := cli("release", "Camera"); d["quarantined"] != false || d["segment"] != "iot" {
		t.Errorf("release: %v", d)
	}
	if d := cli("move", "Camera", "guest"); d["segment"] != "guest" {
		t.Errorf("move: %v", d)
	}

	// What is in force for a device, with the firewall's counters: in the
	// CLI's view and through rpcd, as LuCI calls it, and in rpcd's device
	// list, where TR-069's Device.{i}. reads them.
	var listed map[string]any
	list, _ := rpcdCall(t, cfgPath, "devices", `{}`)["devices"].([]any)
	for _, e := range list {
		if d, ok := e.(map[string]any); ok && d["name"] == "Camera" {
			listed = d
		}
	}
	for _, d := range []map[string]any{cli("device", "Camera"), rpcdCall(t, cfgPath, "device", `{"id":"Camera"}`), listed} {
		fw, ok := d["firewall"].(map[string]any)
		if !ok || fw["confined"] != true {
			t.Errorf("the device's view does not say the firewall confines it: %v", d)
			continue
		}
		for _, k := range []string{"accepted_packets", "accepted_bytes", "dropped_packets", "dropped_bytes"} {
			if _, ok := fw[k].(float64); !ok {
				t.Errorf("firewall counters lack %s: %v", k, fw)
			}
		}
	}

	// A removed device leaves the tables; the other stays.
	if out, err := exec.Command("ip", "netns", "exec", ns, binary, "remove", "Plug", "--config", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("trustjoin remove: %v\n%s", err, out)
	}
	waitRuleset(t, nft, "the removed plug leaves the tables", func(r string) bool {
		return !strings.Contains(r, "02:00:00:00:00:08")
	})
	if r := nft("list", "ruleset"); !strings.Contains(r, "02:00:00:00:00:07") {
		t.Fatalf("removing the plug took the camera out too:\n%s", r)
	}
}

// netnsWithNft makes a network namespace for one test (removed after it)
// and returns its name and a way to run nft in it; it skips without root
// or nft.
func netnsWithNft(t *testing.T, prefix string, setup ...[]string) (string, func(args ...string) string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace and nftables")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft (Debian package nftables) to look at the tables")
	}
	ns := fmt.Sprintf("%s-%d", prefix, os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	for _, args := range setup {
		args = append([]string{"netns", "exec", ns}, args...)
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return ns, func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ip", append([]string{"netns", "exec", ns, "nft"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("nft %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
}

// waitRuleset lists the ruleset with nft until ok says it holds what the
// test waits for, and fails after 10 s naming what.
func waitRuleset(t *testing.T, nft func(args ...string) string, what string, ok func(ruleset string) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := nft("list", "ruleset")
		if ok(r) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s, not after 10 s:\n%s", what, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hasAll says whether ruleset holds every one of want.
func hasAll(ruleset string, want ...string) bool {
	for _, w := range want {
		if !strings.Contains(ruleset, w) {
			return false
		}
	}
	return true
}

// A kernel that refuses trustjoin's tables (here: no CAP_NET_ADMIN over
// the network namespace, from inside a user namespace) does not stop the
// daemon: it says so, keeps onboarding and the API up, and keeps trying.
func TestDaemonFirewallRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a user namespace mapped to root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux)")
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "trustjoin")
	writeConfig(t, cfgPath, fmt.Sprintf("config trustjoin 'main'\n\toption state_dir '%s/state'\n\toption run_dir '%s/run'\n"+
		"\toption hostapd_ctrl_dir '%s/hostapd'\n", dir, dir, dir))
	_, logs := startDaemon(t, []string{"unshare", "--user", "--map-root-user"}, nil, cfgPath)
	logs.waitFor(t, "trustjoin's nftables tables could not be installed yet", 1)
	logs.waitFor(t, "msg=ready", 1)
	out, err := exec.Command(binary, "status", "--config", cfgPath).CombinedOutput()
	if err != nil {
		t.Fatalf("the API does not answer with the firewall refused: %v\n%s", err, out)
	}
	logs.waitFor(t, "devices are not confined, trying again in 10 s", 1)
}
