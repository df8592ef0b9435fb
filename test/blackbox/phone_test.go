package blackbox

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// The phone link as LuCI gets it (rpcd phone_start / phone_revoke) and as
// the CLI prints it, from a real daemon serving its phone pages.
func TestPhoneLink(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "trustjoin")
	port := freePort(t)
	writeConfig(t, cfgPath, fmt.Sprintf("config trustjoin 'main'\n\toption firewall '0'\n\toption state_dir '%s/state'\n\toption run_dir '%s/run'\n\n"+
		"config web 'web'\n\toption enabled '1'\n\tlist listen '127.0.0.1:%d'\n", dir, dir, port))
	cmd := exec.Command(binary, "daemon", "--config", cfgPath, "--last-good", filepath.Join(dir, "last-good.uci"))
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	logs := watch(stderr)
	logs.waitFor(t, "msg=ready", 1)

	start := rpcdCall(t, cfgPath, "phone_start", "{}")
	link, _ := start["url"].(string)
	id, _ := start["id"].(string)
	qr, _ := start["qr"].(string)
	expires, _ := start["expires_at"].(string)
	if !strings.HasPrefix(link, fmt.Sprintf("http://127.0.0.1:%d/p/", port)) || id == "" || !strings.HasPrefix(qr, "data:image/svg+xml;base64,") {
		t.Fatalf("rpcd call phone_start: %v", start)
	}
	if at, err := time.Parse(time.RFC3339, expires); err != nil || at.Before(time.Now().Add(9*time.Minute)) {
		t.Fatalf("expires_at %q: want about 10 minutes from now", expires)
	}
	if got := rpcdCall(t, cfgPath, "phone_revoke", fmt.Sprintf(`{"id":%q}`, id)); got["revoked"] != id {
		t.Fatalf("rpcd call phone_revoke: %v", got)
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone || !strings.Contains(string(body), "This link was cancelled") {
		t.Fatalf("a revoked link answered %d:\n%s", resp.StatusCode, body)
	}
	token := strings.TrimPrefix(link, fmt.Sprintf("http://127.0.0.1:%d/p/", port))

	// A link survives a configuration reload (LuCI's Save & Apply).
	again, _ := rpcdCall(t, cfgPath, "phone_start", "{}")["url"].(string)
	writeConfig(t, cfgPath, fmt.Sprintf("config trustjoin 'main'\n\toption firewall '0'\n\toption state_dir '%s/state'\n\toption run_dir '%s/run'\n\toption log_level 'debug'\n\n"+
		"config web 'web'\n\toption enabled '1'\n\tlist listen '127.0.0.1:%d'\n", dir, dir, port))
	cmd.Process.Signal(syscall.SIGHUP)
	logs.waitFor(t, "msg=ready", 2)
	jar, _ := cookiejar.New(nil)
	resp, err = (&http.Client{Jar: jar}).Get(again)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Add a device to your Wi-Fi") {
		t.Fatalf("a link minted before a reload answered %d:\n%s", resp.StatusCode, body)
	}

	out, err := exec.Command(binary, "phone", "--config", cfgPath).CombinedOutput()
	if err != nil {
		t.Fatalf("trustjoin phone: %v\n%s", err, out)
	}
	for _, want := range []string{"█", "Scan this code with your phone's camera, or open http://127.0.0.1:", "trustjoin phone revoke ph-"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("trustjoin phone does not print %q:\n%s", want, out)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	logs.waitFor(t, "msg=stopped", 1)
	logs.mu.Lock()
	all := strings.Join(logs.lines, "\n")
	logs.mu.Unlock()
	if strings.Contains(all, token) {
		t.Fatal("a link's token is in the daemon's log")
	}
}

func TestPhonePagesNeverOnEveryInterface(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "trustjoin")
	writeConfig(t, cfgPath, fmt.Sprintf("config trustjoin 'main'\n\toption firewall '0'\n\toption state_dir '%s/state'\n\toption run_dir '%s/run'\n\n"+
		"config web 'web'\n\toption enabled '1'\n\tlist listen '0.0.0.0:8099'\n", dir, dir))
	out, err := exec.Command(binary, "daemon", "--config", cfgPath, "--last-good", filepath.Join(dir, "none.uci")).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("want exit status 1, got %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "would listen on every interface, the WAN too") {
		t.Fatalf("the refusal does not say why:\n%s", out)
	}
}
