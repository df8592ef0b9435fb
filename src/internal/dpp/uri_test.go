package dpp_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/dpp"
)

func key(t testing.TB, c elliptic.Curve) string {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// spki builds a P-256 SubjectPublicKeyInfo by hand: compressed as DPP
// devices send it, or with its point moved off the curve.
func spki(t *testing.T, compressed, offCurve bool) string {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var pt []byte
	if compressed {
		pt = elliptic.MarshalCompressed(elliptic.P256(), k.X, k.Y)
	} else {
		y := new(big.Int).Add(k.Y, big.NewInt(1))
		pt = append([]byte{4}, append(k.X.FillBytes(make([]byte, 32)), y.FillBytes(make([]byte, 32))...)...)
	}
	der, err := asn1.Marshal(struct {
		Algo struct{ OID, Curve asn1.ObjectIdentifier }
		Key  asn1.BitString
	}{
		Algo: struct{ OID, Curve asn1.ObjectIdentifier }{asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}, asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}},
		Key:  asn1.BitString{Bytes: pt, BitLength: len(pt) * 8},
	})
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

func TestParseURI(t *testing.T) {
	p256 := key(t, elliptic.P256())
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKIXPublicKey(edPub)
	ed := base64.StdEncoding.EncodeToString(edDER)
	// A brainpoolP256r1 SPKI: EC public key OID with the brainpool curve OID.
	bp := base64.StdEncoding.EncodeToString(append([]byte{
		0x30, 0x5a, 0x30, 0x14, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
		0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07,
		0x03, 0x42, 0x00, 0x04}, make([]byte, 64)...))

	tests := []struct {
		name, in, err string
	}{
		{"full", "DPP:C:81/1,115/36;M:020000000001;I:cam-42;V:2;H:10.0.0.9;K:" + p256 + ";;", ""},
		{"key only", "DPP:K:" + p256 + ";;", ""},
		{"unknown tag tolerated", "DPP:X:future;K:" + p256 + ";;", ""},
		{"P-384", "DPP:K:" + key(t, elliptic.P384()) + ";;", ""},
		{"empty", "  ", "the code is empty"},
		{"wifi qr", "WIFI:S:home;T:WPA;P:secret;;", "this is a Wi-Fi network QR code"},
		{"not dpp", "https://example.com", "it must start with DPP:"},
		{"cut short", "DPP:K:" + p256, "ends with ;;"},
		{"no key", "DPP:C:81/1;;", "K: the device's public key is missing"},
		{"twice", "DPP:K:" + p256 + ";K:" + p256 + ";;", "the K: field appears twice"},
		{"bad base64", "DPP:K:@@@;;", "K: the public key is not valid base64"},
		{"not a key", "DPP:K:" + base64.StdEncoding.EncodeToString([]byte("hello")) + ";;", "K: the public key cannot be read"},
		{"ed25519", "DPP:K:" + ed + ";;", "DPP needs one"},
		// As hostapd and wpa_supplicant print it: a compressed point.
		{"compressed", "DPP:C:81/6;M:020000000100;V:2;K:" + spki(t, true, false) + ";;", ""},
		{"point off the curve", "DPP:K:" + spki(t, false, true) + ";;", "not a point on P-256"},
		{"brainpool", "DPP:K:" + bp + ";;", "K: the key is on brainpoolP256r1"},
		{"bad channel", "DPP:C:81/x;K:" + p256 + ";;", `C: "81/x" is not an operating class/channel pair`},
		{"bad mac", "DPP:M:0200;K:" + p256 + ";;", `M: "0200" is not a MAC address`},
		{"bad version", "DPP:V:0;K:" + p256 + ";;", `V: version "0"`},
		{"malformed field", "DPP:nonsense;K:" + p256 + ";;", `malformed field "nonsense"`},
		{"control char", "DPP:I:a\nb;K:" + p256 + ";;", "holds a character"},
		{"too long", "DPP:I:" + strings.Repeat("a", 2000) + ";;", "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := dpp.ParseURI(tt.in)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if len(u.KeyHash) != 64 || u.Curve == "" {
					t.Fatalf("key not understood: %+v", u)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want one containing %q", err, tt.err)
			}
		})
	}

	u, err := dpp.ParseURI("DPP:C:81/6,115/36;M:020000000001;V:2;K:" + p256 + ";;")
	if err != nil {
		t.Fatal(err)
	}
	if f := u.Freqs(); len(f) != 2 || f[0] != 2437 || f[1] != 5180 {
		t.Fatalf("Freqs = %v", f)
	}
	if u.MAC.String() != "02:00:00:00:00:01" || u.Version != 2 {
		t.Fatalf("parsed %+v", u)
	}
	// The same key is the same device, whatever else the code says.
	u2, _ := dpp.ParseURI("DPP:I:other;K:" + p256 + ";;")
	if u2.KeyHash != u.KeyHash {
		t.Fatal("key hash depends on more than the key")
	}
}

func FuzzParseURI(f *testing.F) {
	f.Add("DPP:C:81/1;M:020000000001;V:2;K:" + key(f, elliptic.P256()) + ";;")
	f.Add("DPP:K:;;")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := dpp.ParseURI(s)
		if err == nil && (u.KeyHash == "" || !strings.HasPrefix(u.Raw, "DPP:")) {
			t.Fatalf("accepted without a key: %q", s)
		}
	})
}
