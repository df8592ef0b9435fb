package tr069_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// cleanup are directories made for all tests (the daemon's build, the
// root template); TestMain removes them.
var cleanup []string

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range cleanup {
		os.RemoveAll(d)
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
	cleanup = append(cleanup, dir)
	bin := filepath.Join(dir, "trustjoin")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/trustjoin/trustjoin/src/cmd/trustjoin")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

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

// stranger puts a device nobody onboarded next to the router: a veth
// named name in the host's network (which the router shares), made an
// interface of segment guest, with a neighbour entry of mac at 192.0.2.77
// on it; it waits until the daemon, searching every second, lists it.
func (r *router) stranger(name, mac string) {
	r.t.Helper()
	ip := func(args ...string) {
		r.t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			r.t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	exec.Command("ip", "link", "del", name).Run()
	ip("link", "add", name, "type", "veth", "peer", "name", name+"p")
	r.t.Cleanup(func() { exec.Command("ip", "link", "del", name).Run() })
	ip("link", "set", name, "up")
	ip("link", "set", name+"p", "up")
	ip("neigh", "replace", "192.0.2.77", "lladdr", mac, "dev", name, "nud", "reachable")
	ready := r.log.count("msg=ready")
	r.sh("uci add_list trustjoin.guest.interface=" + name + " && uci set trustjoin.watch.scan_interval=1 && uci commit trustjoin && /etc/init.d/trustjoin reload")
	r.log.waitFor(r.t, "msg=ready", ready+1)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		_, u := r.ubus("trustjoin", "unknown", map[string]any{})
		for _, e := range list(u["unknown"]) {
			if m, _ := e.(map[string]any); m["mac"] == mac {
				return
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("the daemon does not list %s as unknown: %v", mac, u)
		}
	}
}
