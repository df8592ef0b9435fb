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
