package tr069_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
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

const shipped = "../../files/etc/config/trustjoin"

// buildDir holds the daemon built for the tests; TestMain removes it.
var buildDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// buildTrustjoin builds the daemon once for the tests that need the real
// thing.
var buildTrustjoin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "trustjoin-cwmp-")
	if err != nil {
		return "", err
	}
	buildDir = dir
	bin := filepath.Join(dir, "trustjoin")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/trustjoin/trustjoin/src/cmd/trustjoin")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// daemonLog collects the daemon's log lines.
type daemonLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *daemonLog) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, substr) {
			n++
		}
	}
	return n
}

func (l *daemonLog) waitFor(t *testing.T, substr string, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if l.count(substr) >= n {
			return
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Fatalf("no %d× %q in the daemon log:\n%s", n, substr, strings.Join(l.lines, "\n"))
}

func dppURI(t *testing.T) string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return "DPP:V:2;K:" + base64.StdEncoding.EncodeToString(der) + ";;"
}

// daemon is a real trustjoin daemon on the shipped configuration (state
// and sockets in a temporary directory) with two devices in its registry.
type daemon struct {
	bin, dir, cfgPath, lastGood string
	log                         *daemonLog
	cmd                         *exec.Cmd
}

func startDaemon(t *testing.T) *daemon {
	t.Helper()
	bin, err := buildTrustjoin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	shippedCfg, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer("'/etc/trustjoin'", "'"+dir+"/state'", "'/var/run/trustjoin'", "'"+dir+"/run'",
		"'/var/run/hostapd'", "'"+dir+"/hostapd'",
		// The CPE's own firewall is not what this test is about, and it
		// must not touch the test machine's nftables.
		"option firewall '1'", "option firewall '0'").Replace(string(shippedCfg))
	d := &daemon{bin: bin, dir: dir, cfgPath: filepath.Join(dir, "trustjoin"), lastGood: filepath.Join(dir, "last-good.uci"), log: &daemonLog{}}
	if err := os.WriteFile(d.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// Two devices onboarded earlier (onboarding itself needs hostapd: the
	// lab's business).
	if err := os.MkdirAll(filepath.Join(dir, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	devices := `{"version":1,"devices":[{"id":"d-plug","name":"Plug","segment":"iot","state":"disconnected"},` +
		`{"id":"d-cam","name":"Camera","segment":"iot","state":"disconnected"}],"preauthorized":[]}`
	if err := os.WriteFile(filepath.Join(dir, "state", "devices.json"), []byte(devices), 0o600); err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command(bin, "daemon", "--config", d.cfgPath, "--last-good", d.lastGood)
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.cmd.Process.Signal(syscall.SIGTERM); d.cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			d.log.mu.Lock()
			d.log.lines = append(d.log.lines, sc.Text())
			d.log.mu.Unlock()
		}
		io.Copy(io.Discard, stderr)
	}()
	d.log.waitFor(t, "msg=ready", 1)
	return d
}

// values maps a GetParameterValuesResponse by name.
func values(t *testing.T, e *envelope) map[string]string {
	t.Helper()
	if e.Body.GetParameterValuesResponse == nil {
		t.Fatalf("not a GetParameterValuesResponse: %+v", e.Body)
	}
	out := map[string]string{}
	for _, p := range e.Body.GetParameterValuesResponse.Params {
		out[p.Name] = p.Value.Text
	}
	return out
}
