package credential

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// PBKDF2-HMAC-SHA1 against RFC 6070's vectors, and the WPA PSK against
// IEEE 802.11's (Annex J.4: passphrase "password", SSID "IEEE").
func TestPBKDF2(t *testing.T) {
	for _, tt := range []struct {
		p, s string
		c, n int
		want string
	}{
		{"password", "salt", 1, 20, "0c60c80f961f0e71f3a9b524af6012062fe037a6"},
		{"password", "salt", 2, 20, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"},
		{"password", "salt", 4096, 20, "4b007901b765489abead49d926f721d065a429c1"},
		{"passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, 25, "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038"},
		{"pass\x00word", "sa\x00lt", 4096, 16, "56fa6aa75548099dcc37d7f03425e0c3"},
	} {
		if got := hex.EncodeToString(pbkdf2SHA1([]byte(tt.p), []byte(tt.s), tt.c, tt.n)); got != tt.want {
			t.Errorf("PBKDF2(%q, %q, %d) = %s, want %s", tt.p, tt.s, tt.c, got, tt.want)
		}
	}
	psk := Passphrase{"password"}.PSK([]byte("IEEE"))
	if want := "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"; psk.s != want || !psk.IsPSK() {
		t.Fatalf("PSK(password, IEEE) = %s, want %s", psk.s, want)
	}
	if again := psk.PSK([]byte("other")); !again.Equal(psk) {
		t.Fatal("a PSK was derived again")
	}
}

func TestDPPParam(t *testing.T) {
	pass := Passphrase{"hunter2hunter2"}
	if got := pass.DPPParam(); got != "pass="+hex.EncodeToString([]byte("hunter2hunter2")) {
		t.Errorf("passphrase: %s", got)
	}
	psk := pass.PSK([]byte("Home"))
	if got := psk.DPPParam(); got != "psk="+psk.s || len(got) != 4+64 {
		t.Errorf("PSK: %s", got)
	}
	// 64 characters that are not hex are no PSK (and no valid passphrase).
	if (Passphrase{strings.Repeat("g", 64)}).IsPSK() {
		t.Error("64 non-hex characters taken for a PSK")
	}
}

// PSK lines are what hostapd reads without PBKDF2; a line hostapd would
// split (it reads 127 characters at most) is refused.
func TestPSKLines(t *testing.T) {
	f := Open(filepath.Join(t.TempDir(), "wlan0.psk"))
	psk := Passphrase{"correct horse battery"}.PSK([]byte("Home"))
	if err := f.Set("d-0123abcd", 4094, psk); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.Path())
	if want := "keyid=d-0123abcd vlanid=4094 00:00:00:00:00:00 " + psk.s + "\n"; string(b) != want {
		t.Fatalf("file %q, want %q", b, want)
	}
	got, ok, err := f.Lookup("d-0123abcd")
	if err != nil || !ok || !got.Equal(psk) || !got.IsPSK() {
		t.Fatalf("lookup: %v %v", ok, err)
	}
	long := strings.Repeat("k", 32)
	if err := f.Set(long, 4094, psk); err == nil || !strings.Contains(err.Error(), "more than hostapd reads") {
		t.Fatalf("a %d-character line was accepted: %v", len(entryLine(Entry{long, 4094, psk})), err)
	}
	if err := f.Set(long, 4094, Passphrase{"short-enough-passphrase"}); err != nil {
		t.Fatalf("a short line was refused: %v", err)
	}
}
