package blackbox

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBRSKIHookKnowsPledge: both join proxies ask the authorisation hook
// about a pledge before relaying it, and tell it the pledge's MAC address
// (from the router's neighbour table), so a hook can tell which device it
// is. The hook refuses; both proxies count the refusal and relay nothing.
//
//	pledge namespace: eth0 02:00:00:00:be:42, fe80::42 ── join0 fe80::1: router namespace (the daemon)
func TestBRSKIHookKnowsPledge(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces (run the tests as root, as CI does)")
	}
	b := make([]byte, 3)
	rand.Read(b)
	r, p := "tjbh-r-"+hex.EncodeToString(b), "tjbh-p-"+hex.EncodeToString(b)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, ns := range []string{r, p} {
		run("ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		run("ip", "-n", ns, "link", "set", "lo", "up")
	}
	const mac = "02:00:00:00:be:42"
	run("ip", "-n", r, "link", "add", "join0", "type", "veth", "peer", "name", "eth0", "netns", p)
	run("ip", "-n", r, "link", "set", "join0", "addrgenmode", "none")
	run("ip", "-n", r, "-6", "addr", "add", "fe80::1/64", "dev", "join0", "nodad")
	run("ip", "-n", r, "link", "set", "join0", "up")
	run("ip", "-n", p, "link", "set", "eth0", "address", mac, "addrgenmode", "none")
	run("ip", "-n", p, "-6", "addr", "add", "fe80::42/64", "dev", "eth0", "nodad")
	run("ip", "-n", p, "link", "set", "eth0", "up")

	dir := t.TempDir()
	asked := filepath.Join(dir, "asked")
	hook := filepath.Join(dir, "authorize")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\ncat >> "+asked+"\necho >> "+asked+
		"\necho '{\"decision\":\"deny\",\"reason\":\"not on the list\"}'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "trustjoin")
	writeConfig(t, cfgPath, fmt.Sprintf("config trustjoin 'main'\n\toption state_dir '%s/state'\n\toption run_dir '%s/run'\n"+
		"\toption hostapd_ctrl_dir '%s/hostapd'\n\toption firewall '0'\n"+
		"config authorize 'authorize'\n\toption hook '%s'\n"+
		"config brski 'brski'\n\toption enabled '1'\n\tlist interface 'join0'\n\toption port '9443'\n"+
		"\toption stateless '1'\n\toption stateless_port '5694'\n\toption registrar_host 'fe80::99%%join0'\n", dir, dir, dir, hook))
	_, logs := startDaemon(t, []string{"ip", "netns", "exec", r}, nil, cfgPath)
	logs.waitFor(t, "msg=ready", 1)

	// A pledge's TCP connection to the circuit proxy, then a datagram to
	// the stateless one.
	if c := netnsDial(t, p, "fe80::1", "eth0", 9443); c != nil {
		c.Close()
	}
	logs.waitFor(t, "brski join proxy refused a pledge", 1)
	run("ip", "netns", "exec", p, "python3", "-c",
		"import socket; s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.sendto(b'\\x16\\xfe\\xfdhello', ('fe80::1%eth0', 5694))")
	logs.waitFor(t, "brski stateless join proxy refused a pledge", 1)

	f, err := os.Open(asked)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		n++
		var req struct {
			Device struct {
				MACs    []string `json:"macs"`
				Via     string   `json:"via"`
				Address string   `json:"address"`
			} `json:"device"`
		}
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			t.Fatalf("the hook was told %q: %v", sc.Text(), err)
		}
		if d := req.Device; len(d.MACs) != 1 || d.MACs[0] != mac || d.Via != "brski" || d.Address != "fe80::42%join0" {
			t.Errorf("the hook was told %s, want the pledge fe80::42%%join0 with MAC %s", sc.Text(), mac)
		}
	}
	if n != 2 {
		t.Errorf("the hook was asked %d times, want once per proxy", n)
	}

	out, err := exec.Command("ip", "netns", "exec", r, binary, "brski", "status", "--json", "--config", cfgPath).Output()
	if err != nil {
		t.Fatalf("brski status --json: %v\n%s", err, out)
	}
	var s struct {
		Counters struct {
			RefusedHook int `json:"refused_hook"`
		} `json:"counters"`
		Stateless struct {
			Counters struct {
				ToRegistrar int `json:"to_registrar"`
				RefusedHook int `json:"refused_hook"`
			} `json:"counters"`
		} `json:"stateless"`
	}
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("brski status --json: %v\n%s", err, out)
	}
	if s.Counters.RefusedHook != 1 || s.Stateless.Counters.RefusedHook != 1 || s.Stateless.Counters.ToRegistrar != 0 {
		t.Errorf("brski status: %s", out)
	}
}
