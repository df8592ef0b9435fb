package blackbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The attacks of issue 15, against the real daemon: each test here failed
// on the daemon before the fix.

// attackNS makes a network namespace for one test (removed after it) and
// runs ip with each set of arguments inside it.
func attackNS(t *testing.T, prefix string, setup ...string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace (run the tests as root, as CI does)")
	}
	b := make([]byte, 3)
	rand.Read(b)
	ns := prefix + "-" + hex.EncodeToString(b)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	nsRun(t, ns, "ip link set lo up")
	for _, s := range setup {
		nsRun(t, ns, s)
	}
	return ns
}

// nsRun runs a command line (split on spaces) inside ns.
func nsRun(t *testing.T, ns, line string) {
	t.Helper()
	args := append([]string{"netns", "exec", ns}, strings.Fields(line)...)
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("in %s: %s: %v\n%s", ns, line, err, out)
	}
}

// inNS runs fn on an OS thread switched into ns; sockets fn opens stay in
// ns after.
func inNS(ns string, fn func()) error {
	errC := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // not unlocked if switching back fails: the thread dies
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errC <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			errC <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errC <- err
			return
		}
		fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errC <- err
			return
		}
		runtime.UnlockOSThread()
		errC <- nil
	}()
	return <-errC
}

// nsDial connects to addr from inside ns, from the local address src
// (empty: any).
func nsDial(ns, src, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	var err error
	d := net.Dialer{Timeout: timeout}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	if nerr := inNS(ns, func() { c, err = d.Dial("tcp", addr) }); nerr != nil {
		return nil, nerr
	}
	return c, err
}

// nsClient is an HTTP client whose connections are made inside ns from
// src, one per request.
func nsClient(ns, src string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
			return nsDial(ns, src, addr, 5*time.Second)
		},
	}}
}

// first waits for a line containing any of subs and returns that sub, or
// "" if the daemon's output ended (or 20 s passed) first.
func (w *logWatcher) first(subs ...string) string {
	timer := time.AfterFunc(20*time.Second, func() {
		w.mu.Lock()
		w.lines = append(w.lines, "<TIMEOUT>")
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	defer timer.Stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		for _, l := range w.lines {
			for _, s := range subs {
				if strings.Contains(l, s) {
					return s
				}
			}
			if l == "<EOF>" || l == "<TIMEOUT>" {
				return ""
			}
		}
		w.cond.Wait()
	}
}

func (w *logWatcher) text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}

func webConfig(dir string, listen ...string) string {
	c := fmt.Sprintf("config trustjoin 'main'\n\toption firewall '0'\n\toption state_dir '%s/state'\n\toption run_dir '%s/run'\n\n"+
		"config web 'web'\n\toption enabled '1'\n", dir, dir)
	for _, l := range listen {
		c += fmt.Sprintf("\tlist listen '%s'\n", l)
	}
	return c
}

// Item 3: the phone pages never listen where the WAN reaches them, however
// "every address" is spelt, and never on a public address.
func TestPhonePagesNotOnTheWAN(t *testing.T) {
	// The router with its LAN address and its WAN side, a public address
	// on a link to the ISP's side, where a stranger sits.
	wan := attackNS(t, "tjatk-isp", "ip addr add 203.0.113.2/24 dev lo")
	router := attackNS(t, "tjatk-rt", "ip addr add 192.168.1.1/24 dev lo")
	if out, err := exec.Command("ip", "-n", router, "link", "add", "wan0", "type", "veth", "peer", "name", "isp0", "netns", wan).CombinedOutput(); err != nil {
		t.Fatalf("veth: %v\n%s", err, out)
	}
	nsRun(t, router, "ip addr add 203.0.113.1/24 dev wan0")
	nsRun(t, router, "ip link set wan0 up")
	nsRun(t, wan, "ip addr del 203.0.113.2/24 dev lo")
	nsRun(t, wan, "ip addr add 203.0.113.2/24 dev isp0")
	nsRun(t, wan, "ip link set isp0 up")

	for _, tc := range []struct{ listen, want string }{
		{"[::ffff:0.0.0.0]:8099", "would listen on every interface, the WAN too"},
		{"[::%wan0]:8099", "would listen on every interface, the WAN too"},
		{"0.0.0.0:8099", "would listen on every interface, the WAN too"},
		{"203.0.113.1:8099", "is not a LAN address"},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "trustjoin")
			writeConfig(t, cfg, webConfig(dir, tc.listen))
			cmd, logs := startDaemon(t, []string{"ip", "netns", "exec", router}, nil, cfg)
			switch logs.first("msg=ready", "<EOF>") {
			case "msg=ready":
				c, err := nsDial(wan, "", "203.0.113.1:8099", 5*time.Second)
				if err == nil {
					c.Close()
					t.Fatalf("listen %s was accepted and the pages answer from the WAN side", tc.listen)
				}
				t.Fatalf("listen %s was accepted (the WAN side got %v)", tc.listen, err)
			}
			cmd.Wait()
			if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(logs.text(), tc.want) {
				t.Fatalf("exit %d, want 1 saying %q:\n%s", cmd.ProcessState.ExitCode(), tc.want, logs.text())
			}
		})
	}

	// On the LAN address the pages answer on the LAN, and nothing listens
	// on the WAN address.
	dir := t.TempDir()
	cfg := filepath.Join(dir, "trustjoin")
	writeConfig(t, cfg, webConfig(dir, "192.168.1.1:8099"))
	_, logs := startDaemon(t, []string{"ip", "netns", "exec", router}, nil, cfg)
	logs.waitFor(t, "phone pages listening", 1)
	c, err := nsDial(router, "", "192.168.1.1:8099", 5*time.Second)
	if err != nil {
		t.Fatalf("the pages do not answer on the LAN: %v", err)
	}
	c.Close()
	if c, err := nsDial(wan, "", "203.0.113.1:8099", 5*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("from the WAN side: %v, want connection refused", err)
	}
}

// daemonFDs counts a process's open descriptors.
func daemonFDs(pid int) int {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(es)
}

// daemonRSS is a process's resident memory in KiB.
func daemonRSS(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return -1
}

// A valid DPP URI (a P-256 key), for pre-authorisations.
const attackURI = "DPP:V:2;K:MDkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDIgADURzxmttZoIRIPWGoQMV00XHWCAQIhXruVWOz0NjlkIA=;;"

// Item 4: a flood of connections from 1500 addresses, held open and opened
// again as the daemon drops them, under a router's descriptor limit (1024):
// the daemon keeps descriptors in reserve, its local API keeps working and
// writes its state files, its memory stays bounded, and a phone gets in
// once the flood is over.
//
// TJ_FLOOD_SOURCES and TJ_FLOOD_NOFILE change the flood's addresses and the
// limit, for measuring (the README's figures).
func TestConnectionFlood(t *testing.T) {
	nofile, sources := envInt("TJ_FLOOD_NOFILE", 1024), envInt("TJ_FLOOD_SOURCES", 1500)
	// The LAN is 10.20.0.0/16, all of it the namespace's own (on lo, an
	// address's prefix is local), so one process can speak from 1500
	// addresses.
	ns := attackNS(t, "tjatk-fl", "ip addr add 10.20.0.1/16 dev lo")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "trustjoin")
	writeConfig(t, cfg, webConfig(dir, "10.20.0.1:8099"))
	cmd, logs := startDaemon(t, []string{"ip", "netns", "exec", ns, "prlimit", fmt.Sprintf("--nofile=%d:%d", nofile, nofile), "--"}, nil, cfg)
	logs.waitFor(t, "phone pages listening", 1)
	pid := cmd.Process.Pid
	if !strings.Contains(readFile(t, fmt.Sprintf("/proc/%d/cmdline", pid)), "daemon") {
		t.Fatalf("pid %d is not the daemon", pid)
	}
	baseFDs, baseRSS := daemonFDs(pid), daemonRSS(pid)

	var stop atomic.Bool
	var dialled atomic.Int64
	maxFDs, maxRSS := baseFDs, baseRSS
	var sampled sync.WaitGroup
	sampled.Add(1)
	go func() {
		defer sampled.Done()
		for !stop.Load() {
			if n := daemonFDs(pid); n > maxFDs {
				maxFDs = n
			}
			if n := daemonRSS(pid); n > maxRSS {
				maxRSS = n
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	// The flood: every source holds a connection that sends nothing; one
	// the daemon closes is opened again.
	var flooded sync.WaitGroup
	flooded.Add(1)
	go func() {
		defer flooded.Done()
		conns := make([]net.Conn, sources)
		dead := make([]atomic.Bool, sources)
		for i := range dead {
			dead[i].Store(true)
		}
		err := inNS(ns, func() {
			for !stop.Load() {
				for i := 0; i < sources && !stop.Load(); i++ {
					if !dead[i].Load() {
						continue
					}
					d := net.Dialer{Timeout: 200 * time.Millisecond, LocalAddr: &net.TCPAddr{IP: net.IPv4(10, 20, byte(1+i/250), byte(1+i%250))}}
					c, err := d.Dial("tcp", "10.20.0.1:8099")
					if err != nil {
						continue
					}
					dialled.Add(1)
					conns[i] = c
					dead[i].Store(false)
					go func(i int, c net.Conn) {
						io.Copy(io.Discard, c)
						dead[i].Store(true)
					}(i, c)
				}
			}
		})
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		if err != nil {
			t.Errorf("flood: %v", err)
		}
	}()
	for dialled.Load() < 2*int64(sources) {
		time.Sleep(50 * time.Millisecond)
	}

	// Meanwhile the householder's tools work, and the daemon writes its
	// registry (a pre-authorisation is saved to flash).
	for i := 0; i < 5; i++ {
		out, err := exec.Command(binary, "preauth", "add", attackURI, "--name", fmt.Sprintf("camera %d", i), "--config", cfg).CombinedOutput()
		if err != nil {
			t.Errorf("preauth add during the flood: %v\n%s", err, out)
		}
		if out, err := exec.Command(binary, "status", "--config", cfg).CombinedOutput(); err != nil {
			t.Errorf("status during the flood: %v\n%s", err, out)
		}
	}
	stop.Store(true)
	flooded.Wait()
	sampled.Wait()
	t.Logf("flood: %d connections from %d addresses; daemon descriptors %d → at most %d (limit %d); RSS %.1f MB → at most %.1f MB",
		dialled.Load(), sources, baseFDs, maxFDs, nofile, float64(baseRSS)/1024, float64(maxRSS)/1024)
	if maxFDs > nofile-64 {
		t.Errorf("the daemon held %d descriptors of %d: none kept in reserve", maxFDs, nofile)
	}
	if grown := maxRSS - baseRSS; grown > 24<<10 {
		t.Errorf("the daemon's memory grew by %.1f MB under the flood", float64(grown)/1024)
	}
	if strings.Contains(logs.text(), "too many open files") {
		t.Errorf("the daemon ran out of descriptors:\n%s", logs.text())
	}

	// A phone gets in.
	var p struct {
		URL string `json:"url"`
	}
	out, err := exec.Command(binary, "phone", "--json", "--config", cfg).Output()
	if err != nil || json.Unmarshal(out, &p) != nil {
		t.Fatalf("trustjoin phone: %v\n%s", err, out)
	}
	phone := nsClient(ns, "10.20.99.99")
	phone.Jar, _ = cookiejar.New(nil)
	resp, err := phone.Get(p.URL)
	if err != nil {
		t.Fatalf("a phone after the flood: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a phone after the flood: %d", resp.StatusCode)
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Item 5: a host holding a whole IPv6 /64 is one client to the rate
// limiter, not 2^64 of them.
func TestRateLimitPerIPv6Prefix(t *testing.T) {
	ns := attackNS(t, "tjatk-v6",
		"ip addr add 10.20.0.1/16 dev lo",
		"ip -6 addr add fd00:20::1/64 dev lo nodad",
		"ip -6 route add local fd00:20::/64 dev lo",
		"sysctl -qw net.ipv6.ip_nonlocal_bind=1")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "trustjoin")
	writeConfig(t, cfg, webConfig(dir, "10.20.0.1:8099", "[fd00:20::1]:8099"))
	_, logs := startDaemon(t, []string{"ip", "netns", "exec", ns}, nil, cfg)
	logs.waitFor(t, "phone pages listening", 1)
	refused := 0
	for i := 0; i < 80; i++ {
		resp, err := nsClient(ns, fmt.Sprintf("fd00:20::%x", 0x1000+i)).Get("http://[fd00:20::1]:8099/static/style.css")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			refused++
		}
	}
	// 60 at once per client, then one per half second.
	if refused < 15 {
		t.Fatalf("80 requests from 80 addresses of one /64: %d refused, want the /64 counted as one client", refused)
	}
	resp, err := nsClient(ns, "10.20.0.9").Get("http://10.20.0.1:8099/static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("another client: %d", resp.StatusCode)
	}
}

// Items 7 and 8: names stored before they were checked print escaped, bad
// names and PKEX codes are refused by the CLI before it calls anyone, the
// rpcd plugin does not take "." for a device, and a user who may not use
// the daemon is told so.
func TestCLIUnderAttack(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "trustjoin")
	writeConfig(t, cfg, fmt.Sprintf("config trustjoin 'main'\n\toption firewall '0'\n\toption state_dir '%s/state'\n\toption run_dir '%s/run'\n", dir, dir))
	os.MkdirAll(filepath.Join(dir, "state"), 0o700)
	// A registry from before names were checked.
	reg := `{"version":1,"devices":[
{"id":"d-1","name":"cam\nd-2   Front door   iot   connected","segment":"iot","state":"connected"},
{"id":"d-3","name":"\u001b[2J\u001b]0;pwned\u0007plug\u202e","segment":"iot","state":"onboarded"}],"preauthorized":[]}`
	writeConfig(t, filepath.Join(dir, "state", "devices.json"), reg)
	_, logs := startDaemon(t, nil, nil, cfg)
	logs.waitFor(t, "msg=ready", 1)

	tj := func(args ...string) (string, int) {
		cmd := exec.Command(binary, append(args, "--config", cfg)...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return string(out), cmd.ProcessState.ExitCode()
	}
	out, code := tj("devices")
	if code != 0 || strings.ContainsAny(out, "\x1b\x07\u202e") || len(strings.Split(strings.TrimSpace(out), "\n")) != 3 {
		t.Errorf("trustjoin devices printed control characters or forged rows:\n%q", out)
	}
	if !strings.Contains(out, `cam\nd-2`) || !strings.Contains(out, `\x1b[2J`) {
		t.Errorf("trustjoin devices does not show the names escaped:\n%s", out)
	}
	out, _ = tj("device", "d-3")
	if strings.ContainsAny(out, "\x1b\x07\u202e") {
		t.Errorf("trustjoin device printed control characters:\n%q", out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"onboard", "--pkex", "abcdef init=1 tcp_addr=10.99.0.2 tcp_port=80 identifier=evil"}, "the PKEX code holds a space"},
		{[]string{"onboard", "--pkex", "abcdef", "--id", "x\tinit=1"}, "the PKEX identifier holds a control character"},
		{[]string{"onboard", "--qr", attackURI, "--name", "cam\nd-9  iot  connected"}, "the name holds a control character (U+000A)"},
		{[]string{"preauth", "add", attackURI, "--name", "\x1b[2Jcam"}, `the name holds a control character (U+001B)`},
		{[]string{"onboard", "--qr", attackURI, "--name", strings.Repeat("n", 65)}, "the name is too long"},
	} {
		out, code := tj(tc.args...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("trustjoin %q: exit %d, want 2 saying %q:\n%s", tc.args, code, tc.want, out)
		}
	}
	if strings.Contains(logs.text(), "onboarding queued") {
		t.Error("a refused onboarding reached the daemon")
	}

	for _, id := range []string{".", ".."} {
		if got := rpcdCall(t, cfg, "device", fmt.Sprintf(`{"id":%q}`, id)); got["error"] == nil {
			t.Errorf("rpcd device %q: %v, want an error", id, got)
		}
	}

	if os.Geteuid() != 0 {
		t.Skip("needs root to run the CLI as another user")
	}
	// Another user: the configuration and the socket are root's.
	bindir, err := os.MkdirTemp("", "tjatk-bin-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(bindir)
	os.Chmod(bindir, 0o755)
	bin := filepath.Join(bindir, "trustjoin")
	if err := os.WriteFile(bin, []byte(readFile(t, binary)), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"status", "--config", cfg}, {"status", "--socket", filepath.Join(dir, "run", "api.sock")}} {
		cmd := exec.Command(bin, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), "permission denied") || !strings.Contains(string(out), "run this as root") || strings.Contains(string(out), "not running") {
			t.Errorf("trustjoin %s as nobody: %s", strings.Join(args, " "), out)
		}
	}
}
