package blackbox

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// With the BRSKI join proxy on, the daemon confines its join interfaces
// in trustjoin's table before it says it is ready, with the configured
// ports, and puts the confinement back after an `nft flush ruleset`.
// (What it lets through, packet by packet, is package firewall's test.)
func TestDaemonJoinConfinement(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace and nftables")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft (Debian package nftables) to look at the tables")
	}
	ns := fmt.Sprintf("tjjn-bb-%d", os.Getpid())
	for _, args := range [][]string{
		{"ip", "netns", "add", ns},
		{"ip", "netns", "exec", ns, "ip", "link", "add", "join0", "type", "veth", "peer", "name", "pledge0"},
		{"ip", "netns", "exec", ns, "ip", "link", "set", "join0", "up"},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if args[2] == "add" {
			t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		}
	}
	nft := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ip", append([]string{"netns", "exec", ns, "nft"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("nft %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "trustjoin")
	writeConfig(t, cfgPath, fmt.Sprintf("config trustjoin 'main'\n\toption state_dir '%s/state'\n\toption run_dir '%s/run'\n"+
		"\toption hostapd_ctrl_dir '%s/hostapd'\n\toption log_level 'debug'\n"+
		"config wifi 'home'\n\toption ifname 'wlan0'\n"+
		"config brski 'brski'\n\toption enabled '1'\n\tlist interface 'join0'\n\toption port '9443'\n"+
		"\toption stateless '1'\n\toption stateless_port '5694'\n\toption registrar_host '127.0.0.1'\n", dir, dir, dir))

	cmd := exec.Command("ip", "netns", "exec", ns, binary, "daemon", "--config", cfgPath, "--last-good", filepath.Join(dir, "last-good.uci"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	logs := watch(stderr)
	logs.waitFor(t, "msg=ready", 1)

	want := []string{"chain join_local", `elements = { "join0" }`, "tcp dport 9443 accept", "udp dport 5694 accept", "udp dport 5683 accept"}
	ruleset := nft("list", "ruleset")
	for _, w := range want {
		if !strings.Contains(ruleset, w) {
			t.Errorf("ready, but the ruleset lacks %s:\n%s", w, ruleset)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	nft("flush", "ruleset")
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := nft("list", "ruleset")
		if strings.Contains(r, "chain join_local") && strings.Contains(r, "tcp dport 9443 accept") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the join confinement is not back 10 s after a flush:\n%s", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
