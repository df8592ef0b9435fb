package blackbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestBRSKIStatus runs the daemon with the join proxy on, in a network
// namespace of its own with one link-local interface, and reads its state
// through the CLI and the rpcd plugin.
func TestBRSKIStatus(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace (run the tests as root, as CI does)")
	}
	b := make([]byte, 3)
	rand.Read(b)
	ns := "tjbr-bb-" + hex.EncodeToString(b)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	// A veth pair, both ends inside: dummy interfaces need a module CI
	// may lack.
	run("ip", "-n", ns, "link", "add", "tjbr0", "type", "veth", "peer", "name", "tjbr1")
	run("ip", "-n", ns, "link", "set", "lo", "up") // local delivery goes through lo
	run("ip", "-n", ns, "link", "set", "tjbr0", "addrgenmode", "none")
	run("ip", "-n", ns, "-6", "addr", "add", "fe80::1/64", "dev", "tjbr0", "nodad")
	run("ip", "-n", ns, "link", "set", "tjbr0", "up")
	run("ip", "-n", ns, "link", "set", "tjbr1", "up")

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "trustjoin")
	writeConfig(t, cfgPath, fmt.Sprintf("config trustjoin 'main'\n\toption state_dir '%s/state'\n\toption run_dir '%s/run'\n"+
		"config brski 'brski'\n\toption enabled '1'\n\tlist interface 'tjbr0'\n\toption port '8443'\n"+
		"\toption registrar_host 'fe80::99%%tjbr0'\n\toption registrar_port '8443'\n", dir, dir))
	_, logs := startDaemon(t, []string{"ip", "netns", "exec", ns}, nil, cfgPath)
	logs.waitFor(t, "msg=ready", 1)
	logs.waitFor(t, "brski join proxy listening", 1)

	// A pledge connects; the registrar is not there, so it is dropped and
	// counted.
	conn := netnsDial(t, ns, "fe80::1", "tjbr0", 8443)
	conn.Close()
	logs.waitFor(t, "brski join proxy dropped a pledge", 1)

	brskiStatus := func() map[string]any {
		out, err := exec.Command("ip", "netns", "exec", ns, binary, "brski", "status", "--json", "--config", cfgPath).Output()
		if err != nil {
			t.Fatalf("brski status --json: %v\n%s", err, out)
		}
		var s map[string]any
		if err := json.Unmarshal(out, &s); err != nil {
			t.Fatalf("brski status --json: %v\n%s", err, out)
		}
		return s
	}
	s := brskiStatus()
	counters, _ := s["counters"].(map[string]any)
	registrar, _ := s["registrar"].(map[string]any)
	if s["enabled"] != true || fmt.Sprint(s["listeners"]) != "[[fe80::1%tjbr0]:8443]" ||
		registrar["host"] != "fe80::99%tjbr0" || registrar["source"] != "config" ||
		!strings.Contains(fmt.Sprint(registrar["error"]), "failed to reach registrar") ||
		counters["accepted"] != 1.0 || counters["registrar_failures"] != 1.0 {
		t.Errorf("brski status: %v", s)
	}

	out, err := exec.Command("ip", "netns", "exec", ns, binary, "brski", "status", "--config", cfgPath).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "BRSKI join proxy: on") || !strings.Contains(string(out), "listening: [fe80::1%tjbr0]:8443") {
		t.Errorf("brski status: %v\n%s", err, out)
	}

	rc := exec.Command("ip", "netns", "exec", ns, binary, "rpcd", "call", "brski_status")
	rc.Env = append(os.Environ(), "TRUSTJOIN_CONFIG="+cfgPath)
	rc.Stdin = strings.NewReader("{}")
	rout, _ := rc.Output()
	var reply map[string]any
	if err := json.Unmarshal(rout, &reply); err != nil || reply["enabled"] != true {
		t.Errorf("rpcd call brski_status: %v\n%s", err, rout)
	}
}

// TestBRSKIReadyWhenListening: with the join proxies on, the daemon is
// ready only once pledges get an answer on the join interface: while the
// interface has no link-local address it says "starting" and why, and
// once the address comes both proxies listen before it says ready.
func TestBRSKIReadyWhenListening(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace (run the tests as root, as CI does)")
	}
	b := make([]byte, 3)
	rand.Read(b)
	ns := "tjbr-rd-" + hex.EncodeToString(b)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run("ip", "-n", ns, "link", "add", "tjbr0", "type", "veth", "peer", "name", "tjbr1")
	run("ip", "-n", ns, "link", "set", "lo", "up")
	run("ip", "-n", ns, "link", "set", "tjbr0", "addrgenmode", "none") // no address until the test adds one
	run("ip", "-n", ns, "link", "set", "tjbr0", "up")
	run("ip", "-n", ns, "link", "set", "tjbr1", "up")

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "trustjoin")
	writeConfig(t, cfgPath, fmt.Sprintf("config trustjoin 'main'\n\toption state_dir '%s/state'\n\toption run_dir '%s/run'\n"+
		"\toption firewall '0'\n"+
		"config brski 'brski'\n\toption enabled '1'\n\tlist interface 'tjbr0'\n\toption port '8443'\n"+
		"\toption stateless '1'\n\toption registrar_host 'fe80::99%%tjbr0'\n", dir, dir))
	_, logs := startDaemon(t, []string{"ip", "netns", "exec", ns}, nil, cfgPath)

	status := func() map[string]any {
		t.Helper()
		var s map[string]any
		deadline := time.Now().Add(20 * time.Second)
		for {
			out, err := exec.Command(binary, "status", "--json", "--config", cfgPath).Output()
			if err == nil && json.Unmarshal(out, &s) == nil {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("status --json: %v\n%s", err, out)
			}
			time.Sleep(50 * time.Millisecond) // the API socket is not there yet
		}
	}
	// The API answers (the daemon is up) while the proxies have nowhere
	// to listen: not ready.
	if s := status(); s["ready"] != false {
		t.Fatalf("status with no link-local address on the join interface: %v", s)
	}
	out, _ := exec.Command(binary, "brski", "status", "--config", cfgPath).CombinedOutput()
	if !strings.Contains(string(out), "tjbr0: no IPv6 link-local address (yet)") {
		t.Errorf("brski status does not say why it does not listen:\n%s", out)
	}

	run("ip", "-n", ns, "-6", "addr", "add", "fe80::1/64", "dev", "tjbr0", "nodad")
	logs.waitFor(t, "msg=ready", 1)
	logs.mu.Lock()
	order := []string{}
	for _, l := range logs.lines {
		for _, w := range []string{"brski join proxy listening", "brski stateless join proxy listening", "msg=ready"} {
			if strings.Contains(l, w) {
				order = append(order, w)
			}
		}
	}
	logs.mu.Unlock()
	if len(order) != 3 || order[2] != "msg=ready" {
		t.Errorf("ready before both proxies listened: %q", order)
	}
	if s := status(); s["ready"] != true {
		t.Errorf("status once listening: %v", s)
	}
	netnsDial(t, ns, "fe80::1", "tjbr0", 8443).Close()
}

// netnsDial connects to [ip%ifname]:port from inside ns, on an OS thread switched
// into it for the dial only.
func netnsDial(t *testing.T, ns, ip, ifname string, port int) net.Conn {
	t.Helper()
	type result struct {
		c   net.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // not unlocked if switching back fails: the thread dies
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer orig.Close()
		target, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: err}
			return
		}
		// The zone by index: Go caches interface names process-wide, and
		// this process spans namespaces.
		var c net.Conn
		ifi, derr := net.InterfaceByName(ifname)
		if derr == nil {
			c, derr = net.DialTimeout("tcp6", fmt.Sprintf("[%s%%%d]:%d", ip, ifi.Index, port), 10*time.Second)
		}
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- result{err: err}
			return
		}
		runtime.UnlockOSThread()
		done <- result{c, derr}
	}()
	r := <-done
	if r.err != nil {
		t.Fatalf("connecting to [%s%%%s]:%d in %s: %v", ip, ifname, port, ns, r.err)
	}
	return r.c
}
