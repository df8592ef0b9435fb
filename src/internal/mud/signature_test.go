package mud_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trustjoin/trustjoin/src/internal/mud"
	"github.com/trustjoin/trustjoin/src/internal/mud/mudtest"
)

func TestVerifySignature(t *testing.T) {
	now := time.Now()
	ca := mudtest.NewCA(t, "Test MUD CA", now.Add(-72*time.Hour), now.Add(24*time.Hour))
	other := mudtest.NewCA(t, "Other CA", now.Add(-time.Hour), now.Add(24*time.Hour))
	file := []byte(mudFor("https://mfg.example/cam"))

	ecSigner := ca.Signer(t, "mfg.example", false, []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}, now.Add(-time.Hour), now.Add(time.Hour))
	rsaSigner := ca.Signer(t, "rsa.mfg.example", true, []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}, now.Add(-time.Hour), now.Add(time.Hour))
	noCS := ca.Signer(t, "nccoe.example", false, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageEmailProtection}, now.Add(-time.Hour), now.Add(time.Hour))
	old := ca.Signer(t, "old.mfg.example", false, nil, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	noDS := ca.SignerKU(t, "enc.mfg.example", x509.KeyUsageKeyEncipherment, now.Add(-time.Hour), now.Add(time.Hour))

	tampered := append([]byte(nil), file...)
	tampered[len(tampered)-2] = ' '
	good := ecSigner.Sign(t, file, true, now.Add(-time.Minute))

	tests := []struct {
		name    string
		file    []byte
		sig     []byte
		anchors *x509.CertPool
		want    mud.SigStatus
		detail  string
	}{
		{"ECDSA with signed attributes", file, good, ca.Pool(), mud.SigVerified, "signed by CN=mfg.example"},
		{"RSA without signed attributes", file, rsaSigner.Sign(t, file, false, time.Time{}), ca.Pool(), mud.SigVerified, "signed by"},
		{"RSA with signed attributes", file, rsaSigner.Sign(t, file, true, now), ca.Pool(), mud.SigVerified, "signed by"},
		{"unsigned", file, nil, ca.Pool(), mud.SigUnsigned, "not signed"},
		{"tampered file, signed attributes", tampered, good, ca.Pool(), mud.SigBad, "changed after signing"},
		{"tampered file, no attributes", tampered, rsaSigner.Sign(t, file, false, time.Time{}), ca.Pool(), mud.SigBad, "does not match the file"},
		{"wrong anchor", file, good, other.Pool(), mud.SigUntrusted, "does not chain"},
		{"no anchors", file, good, nil, mud.SigUntrusted, "no MUD trust anchor"},
		{"expired signer", file, old.Sign(t, file, true, now.Add(-36*time.Hour)), ca.Pool(), mud.SigExpired, "expired on"},
		{"no code-signing usage", file, noCS.Sign(t, file, true, now), ca.Pool(), mud.SigNoCodeSigning, "without the code-signing usage"},
		{"key usage without digitalSignature", file, noDS.Sign(t, file, true, now), ca.Pool(), mud.SigUntrusted, "digitalSignature"},
		{"garbage", file, []byte("not a signature"), ca.Pool(), mud.SigBad, "not a DER CMS"},
		{"PEM", file, pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: good}), ca.Pool(), mud.SigBad, "PEM"},
		{"truncated", file, good[:len(good)-10], ca.Pool(), mud.SigBad, "not a DER CMS"},
		{"trailing data", file, append(append([]byte(nil), good...), 0), ca.Pool(), mud.SigBad, "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := mud.VerifySignature(tt.file, tt.sig, tt.anchors, now)
			if v.Status != tt.want || !strings.Contains(v.Detail, tt.detail) {
				t.Fatalf("got %s (%s), want %s containing %q", v.Status, v.Detail, tt.want, tt.detail)
			}
			if sum := sha256.Sum256(tt.file); v.Digest != mudHex(sum[:]) {
				t.Errorf("digest %s is not the file's SHA-256", v.Digest)
			}
		})
	}
	// The signature's own signing time is reported.
	if v := mud.VerifySignature(file, good, ca.Pool(), now); !v.SigningTime.Equal(now.Add(-time.Minute).Truncate(time.Second)) {
		t.Errorf("signing time %v", v.SigningTime)
	}
	// An intermediate carried in the signature completes the chain.
	inter := ca.Intermediate(t, "Intermediate CA", now.Add(-time.Hour), now.Add(time.Hour))
	leaf := inter.Signer(t, "via.mfg.example", false, nil, now.Add(-time.Hour), now.Add(time.Hour))
	sig := leaf.SignWith(t, file, true, now, inter.Cert)
	if v := mud.VerifySignature(file, sig, ca.Pool(), now); v.Status != mud.SigVerified {
		t.Errorf("chain through an embedded intermediate: %s (%s)", v.Status, v.Detail)
	}
}

func mudHex(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// The corpus's real signatures: Cisco's luminaire (ECDSA, signed
// attributes) verifies against its CA at its signing time and is an
// expired chain today; hslatman's lightbulb (RSA) matches its file but its
// root is not in the corpus.
func TestVerifySignatureCorpus(t *testing.T) {
	dir := corpusDir(t)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	anchors, err := mud.LoadTrustAnchors([]string{filepath.Join(dir, "cisco_mud-manager/examples__luminaire__luminaire-cacert.pem")})
	if err != nil {
		t.Fatal(err)
	}
	lum := read("cisco_mud-manager/examples__luminaire__fs__Luminaire_150.json")
	lumSig := read("cisco_mud-manager/examples__luminaire__fs__Luminaire_150.p7s")
	tests := []struct {
		name      string
		file, sig []byte
		anchors   *x509.CertPool
		at        time.Time
		want      mud.SigStatus
	}{
		{"luminaire at signing time", lum, lumSig, anchors, time.Date(2018, 9, 18, 0, 0, 0, 0, time.UTC), mud.SigVerified},
		{"luminaire today", lum, lumSig, anchors, time.Now(), mud.SigExpired},
		{"luminaire, edited", append([]byte(" "), lum...), lumSig, anchors, time.Now(), mud.SigBad},
		{"lightbulb, unknown root", read("hslatman_mud-file-server/examples__lightbulb2000.json"), read("hslatman_mud-file-server/examples__lightbulb2000.json.p7s"), anchors, time.Date(2020, 9, 1, 0, 0, 0, 0, time.UTC), mud.SigUntrusted},
		{"lightbulb signature over the luminaire", lum, read("hslatman_mud-file-server/examples__lightbulb2000.json.p7s"), anchors, time.Now(), mud.SigBad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := mud.VerifySignature(tt.file, tt.sig, tt.anchors, tt.at)
			if v.Status != tt.want {
				t.Fatalf("got %s (%s), want %s", v.Status, v.Detail, tt.want)
			}
			t.Logf("%s: %s", v.Status, v.Detail)
		})
	}
}

func TestLoadTrustAnchors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, []byte("nothing here"), 0o600)
	for _, p := range []string{empty, filepath.Join(dir, "missing.pem")} {
		if _, err := mud.LoadTrustAnchors([]string{p}); err == nil {
			t.Errorf("%s: no error", p)
		}
	}
}

// No signature, however malformed, may crash the verifier.
func FuzzVerifySignature(f *testing.F) {
	now := time.Now()
	ca := mudtest.NewCA(f, "Fuzz CA", now.Add(-time.Hour), now.Add(time.Hour))
	s := ca.Signer(f, "mfg.example", false, nil, now.Add(-time.Hour), now.Add(time.Hour))
	file := []byte(mudFor("https://mfg.example/cam"))
	f.Add(s.Sign(f, file, true, now))
	f.Add(s.Sign(f, file, false, now))
	f.Fuzz(func(t *testing.T, sig []byte) {
		v := mud.VerifySignature(file, sig, ca.Pool(), now)
		if v.Status == "" || v.Detail == "" {
			t.Fatalf("no outcome: %+v", v)
		}
	})
}

// Signatures made the way RFC 8520 section 13.1 shows (openssl cms -sign),
// with and without signed attributes, verify; and the test's own signer
// makes CMS that openssl accepts, so the two cannot share a mistake.
func TestSignatureInteropOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed (.ci/install-deps.sh installs it)")
	}
	now := time.Now()
	dir := t.TempDir()
	ca := mudtest.NewCA(t, "Interop CA", now.Add(-time.Hour), now.Add(time.Hour))
	file := []byte(mudFor("https://mfg.example/cam"))
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fileP, caP := write("cam.json", file), write("ca.pem", ca.PEM())
	for _, tt := range []struct {
		name string
		rsa  bool
		args []string
	}{
		{"ECDSA, signed attributes", false, nil},
		{"RSA, no signed attributes (NIST's -noattr)", true, []string{"-noattr"}},
		{"RSA, SHA-384", true, []string{"-md", "sha384"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := ca.Signer(t, "mfg.example", tt.rsa, nil, now.Add(-time.Hour), now.Add(time.Hour))
			certP, keyP := write("signer.pem", s.PEM()), write("signer.key", s.KeyPEM(t))
			sigP := filepath.Join(dir, "cam.p7s")
			args := append([]string{"cms", "-sign", "-signer", certP, "-inkey", keyP, "-in", fileP, "-binary", "-outform", "DER", "-out", sigP}, tt.args...)
			if out, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
				t.Fatalf("openssl cms -sign: %v\n%s", err, out)
			}
			sig, _ := os.ReadFile(sigP)
			if v := mud.VerifySignature(file, sig, ca.Pool(), now); v.Status != mud.SigVerified {
				t.Fatalf("openssl's signature: %s (%s)", v.Status, v.Detail)
			}
			if v := mud.VerifySignature(append(file, '\n'), sig, ca.Pool(), now); v.Status != mud.SigBad {
				t.Fatalf("openssl's signature over a changed file: %s (%s)", v.Status, v.Detail)
			}

			ours := write("ours.p7s", s.Sign(t, file, !tt.rsa, now))
			out, err := exec.Command(openssl, "cms", "-verify", "-inform", "DER", "-in", ours, "-content", fileP, "-binary", "-CAfile", caP, "-purpose", "any", "-out", os.DevNull).CombinedOutput()
			if err != nil {
				t.Fatalf("openssl refuses the test signer's CMS: %v\n%s", err, out)
			}
		})
	}
}

// Signatures are fetched with the MUD file's rules and kept: a server
// that goes down later still leaves the last good copy checkable.
func TestFetchSignature(t *testing.T) {
	var down atomic.Bool
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case down.Load():
			http.Error(w, "down", http.StatusServiceUnavailable)
		case r.URL.Path == "/cam.p7s":
			w.Write([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
		case r.URL.Path == "/huge.p7s":
			w.Write(make([]byte, 70<<10))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	f := &mud.Fetcher{RootCAs: roots(srv), Dir: t.TempDir()}
	ctx := context.Background()
	if _, ok := f.CachedSignature(srv.URL + "/cam.p7s"); ok {
		t.Fatal("cached before fetched")
	}
	b, err := f.Signature(ctx, srv.URL+"/cam.p7s")
	if err != nil || len(b) != 5 {
		t.Fatalf("%x %v", b, err)
	}
	down.Store(true)
	if b, err := f.Signature(ctx, srv.URL+"/cam.p7s"); err != nil || len(b) != 5 {
		t.Fatalf("with the server down: %x %v, want the kept copy", b, err)
	}
	if b, ok := f.CachedSignature(srv.URL + "/cam.p7s"); !ok || len(b) != 5 {
		t.Fatalf("CachedSignature: %x", b)
	}
	down.Store(false)
	if _, err := f.Signature(ctx, srv.URL+"/huge.p7s"); err == nil || !strings.Contains(err.Error(), "the MUD signature is larger than 65536 bytes") {
		t.Errorf("huge signature: %v", err)
	}
	if _, err := f.Signature(ctx, "http://mfg.example/cam.p7s"); !errors.Is(err, mud.ErrNotHTTPS) {
		t.Errorf("http signature: %v", err)
	}
}
