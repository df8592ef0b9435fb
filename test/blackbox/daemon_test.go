package blackbox

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is built once per test run, with a version stamped at link time.
var binary string

const stampedVersion = "9.8.7-r6"

func TestMain(m *testing.M) {
	// A binary built beforehand, for runs where go cannot build (the lab
	// VM: see lab-kernel.sh). It must be stamped with stampedVersion.
	if b := os.Getenv("TJ_BLACKBOX_BIN"); b != "" {
		binary = b
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "trustjoin-blackbox-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "trustjoin")
	cmd := exec.Command("go", "build", "-o", binary,
		"-ldflags", "-X github.com/trustjoin/trustjoin/src/internal/build.Version="+stampedVersion,
		"github.com/trustjoin/trustjoin/src/cmd/trustjoin")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "failed to build trustjoin:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestVersionIsStamped(t *testing.T) {
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(binary, arg).CombinedOutput()
		if err != nil {
			t.Fatalf("trustjoin %s: %v\n%s", arg, err, out)
		}
		if got, want := strings.TrimSpace(string(out)), "trustjoin "+stampedVersion; got != want {
			t.Fatalf("trustjoin %s: got %q, want %q", arg, got, want)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	out, err := exec.Command(binary, "frobnicate").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("want exit status 2, got %v", err)
	}
	if !strings.Contains(string(out), `unknown command "frobnicate"`) {
		t.Fatalf("unhelpful output: %s", out)
	}
}

// logWatcher collects a daemon's stderr and lets a test wait for a line.
type logWatcher struct {
	mu    sync.Mutex
	lines []string
	cond  *sync.Cond
}

func watch(r io.Reader) *logWatcher {
	w := &logWatcher{}
	w.cond = sync.NewCond(&w.mu)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			w.mu.Lock()
			w.lines = append(w.lines, sc.Text())
			w.cond.Broadcast()
			w.mu.Unlock()
		}
		w.mu.Lock()
		w.lines = append(w.lines, "<EOF>")
		w.cond.Broadcast()
		w.mu.Unlock()
	}()
	return w
}

// startDaemon runs `trustjoin daemon` on cfgPath, inside prefix (say,
// "ip netns exec NS") if given, with env added; it is killed when the test
// ends. Its last good configuration goes beside cfgPath.
func startDaemon(t *testing.T, prefix, env []string, cfgPath string) (*exec.Cmd, *logWatcher) {
	t.Helper()
	args := append(append([]string{}, prefix...), binary, "daemon", "--config", cfgPath,
		"--last-good", filepath.Join(filepath.Dir(cfgPath), "last-good.uci"))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, watch(stderr)
}

// waitFor waits for the n-th line (counting from 1) containing substr.
func (w *logWatcher) waitFor(t *testing.T, substr string, n int) {
	t.Helper()
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
		seen, ended := 0, false
		for _, l := range w.lines {
			if strings.Contains(l, substr) {
				seen++
			}
			ended = ended || l == "<EOF>" || l == "<TIMEOUT>"
		}
		if seen >= n {
			return
		}
		if ended {
			t.Fatalf("no %d× %q in the daemon log:\n%s", n, substr, strings.Join(w.lines, "\n"))
		}
		w.cond.Wait()
	}
}

func writeConfig(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDaemonLifecycle(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "trustjoin")
	good := fmt.Sprintf("config trustjoin 'main'\n\toption firewall '0'\n\toption state_dir '%s/state'\n\toption run_dir '%s/run'\n", dir, dir)
	writeConfig(t, cfgPath, good)

	cmd := exec.Command(binary, "daemon", "--config", cfgPath, "--last-good", filepath.Join(dir, "last-good.uci"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	logs := watch(stderr)
	logs.waitFor(t, "msg=ready", 1)

	for _, d := range []string{"state", "run"} {
		fi, err := os.Stat(filepath.Join(dir, d))
		if err != nil {
			t.Fatalf("daemon did not create its %s dir: %v", d, err)
		}
		if fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s dir mode %v, want 0700", d, fi.Mode().Perm())
		}
	}

	// The rpcd plugin, as rpcd runs it, reaches the real daemon.
	status := rpcdCall(t, cfgPath, "status", `{"ubus_rpc_session":"x"}`)
	if status["version"] != stampedVersion || status["ready"] != true {
		t.Fatalf("rpcd call status: %v", status)
	}
	if devs := rpcdCall(t, cfgPath, "devices", ""); devs["devices"] == nil {
		t.Fatalf("rpcd call devices: %v", devs)
	}

	// A broken configuration on reload is rejected and the daemon lives on.
	writeConfig(t, cfgPath, good+"\toption bogus '1'\n")
	cmd.Process.Signal(syscall.SIGHUP)
	logs.waitFor(t, `new configuration rejected`, 1)
	logs.waitFor(t, `option \"bogus\" (line 5): unknown option`, 1)
	// The CLI still reaches the daemon (through the last good
	// configuration's socket) and says why.
	out, err := exec.Command(binary, "status", "--json", "--config", cfgPath, "--last-good", filepath.Join(dir, "last-good.uci")).CombinedOutput()
	var st struct{ Config struct{ Rejected string } }
	if err != nil || json.Unmarshal(out, &st) != nil || !strings.Contains(st.Config.Rejected, `unknown option`) {
		t.Fatalf("trustjoin status with a refused configuration: %v\n%s", err, out)
	}

	// A good, changed one is applied.
	writeConfig(t, cfgPath, good+"\toption log_level 'debug'\n")
	cmd.Process.Signal(syscall.SIGHUP)
	logs.waitFor(t, "msg=ready", 2)

	stopDaemon(t, cmd)
	logs.waitFor(t, "msg=stopped", 1)

	// With the daemon gone the plugin answers with a clear error at once.
	gone := rpcdCall(t, cfgPath, "status", "")
	if msg, _ := gone["error"].(string); !strings.Contains(msg, "not running") {
		t.Fatalf("rpcd call with the daemon down: %v", gone)
	}
}

// rpcdCall runs "trustjoin rpcd call METHOD" as rpcd does for LuCI, whose
// calls through uhttpd carry ubus_rpc_session, and decodes the one JSON
// object it must print then, a failure's {"error"} too. (Callers on the bus
// get a failure as an error status: src/internal/rpcd, test/tr069.)
func rpcdCall(t *testing.T, cfgPath, method, args string) map[string]any {
	t.Helper()
	in := map[string]any{}
	if args != "" {
		if err := json.Unmarshal([]byte(args), &in); err != nil {
			t.Fatalf("rpcd call %s: arguments %s: %v", method, args, err)
		}
	}
	in["ubus_rpc_session"] = strings.Repeat("0", 32)
	b, _ := json.Marshal(in)
	cmd := exec.Command(binary, "rpcd", "call", method)
	cmd.Env = append(os.Environ(), "TRUSTJOIN_CONFIG="+cfgPath)
	cmd.Stdin = strings.NewReader(string(b))
	out, _ := cmd.Output()
	var reply map[string]any
	if err := json.Unmarshal(out, &reply); err != nil {
		t.Fatalf("rpcd call %s printed no JSON object: %v\n%s", method, err, out)
	}
	return reply
}

func TestDaemonRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "trustjoin")
	writeConfig(t, cfgPath, "config segment 'iot'\n\toption vlan 'twenty'\n")
	out, err := exec.Command(binary, "daemon", "--config", cfgPath, "--last-good", filepath.Join(dir, "none.uci")).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("want exit status 1, got %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `option \"vlan\" (line 2): invalid value \"twenty\"`) {
		t.Fatalf("error does not name the option:\n%s", out)
	}
}

// A configuration that went bad while the daemon was stopped (an ACS push,
// a typo) does not keep trustjoin down: it runs the last good one and says
// why, through the log and the API.
func TestDaemonStartsOnLastGoodConfig(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "trustjoin")
	lastGood := filepath.Join(dir, "last-good.uci")
	good := fmt.Sprintf("config trustjoin 'main'\n\toption firewall '0'\n\toption state_dir '%s/state'\n\toption run_dir '%s/run'\n", dir, dir)
	writeConfig(t, lastGood, good)
	writeConfig(t, cfgPath, good+"\toption frobnicate '1'\n")
	cmd := exec.Command(binary, "daemon", "--config", cfgPath, "--last-good", lastGood)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	logs := watch(stderr)
	logs.waitFor(t, "running the last good one", 1)
	logs.waitFor(t, "msg=ready", 1)
	// The configured file is unreadable for the CLI too: ask the socket.
	c := exec.Command(binary, "status", "--socket", filepath.Join(dir, "run", "api.sock"), "--json")
	out, err := c.CombinedOutput()
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `option \"frobnicate\" (line 5): unknown option`) {
		t.Fatalf("the rejection is not reported in the status:\n%s", out)
	}
}

// stopDaemon sends SIGTERM and waits for a clean exit.
func stopDaemon(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("daemon did not exit cleanly on SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("daemon did not stop on SIGTERM")
	}
}
