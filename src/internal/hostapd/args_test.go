package hostapd_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/trustjoin/trustjoin/src/internal/hostapd"
)

func TestCheckPKEX(t *testing.T) {
	for _, tc := range []struct {
		code, ident string
		want        string // substring of the error; empty for none
	}{
		{code: "abcdef"},
		{code: "plug-1a2b3c4d", ident: "plug1"},
		{code: `!"#$%&'()*+,-./:;<=>?@[\]^_{|}~`},
		{code: strings.Repeat("x", 64), ident: strings.Repeat("y", 64)},
		{code: "abcde", want: "6 to 64 characters"},
		{code: strings.Repeat("x", 65), want: "6 to 64 characters"},
		// The attack: parameters of the sender's choosing after a space.
		{code: "abcdef init=1 tcp_addr=10.99.0.2 tcp_port=80 identifier=evil", want: "holds a space"},
		{code: "abcdef\x00 init=1", want: "control character (U+0000)"},
		{code: "abcdef\n init=1", want: "control character (U+000A)"},
		{code: "abcdef\tinit=1", want: "control character (U+0009)"},
		{code: "abcdef\x7f", want: "control character (U+007F)"},
		{code: "abcdéf", want: `'é'`},
		{code: "abc\xffdef", want: "not UTF-8"},
		{code: "abcdef", ident: "plug1 code=evil", want: "identifier holds a space"},
		{code: "abcdef", ident: "plug\x00", want: "identifier holds a control character"},
		{code: "abcdef", ident: strings.Repeat("y", 65), want: "at most 64"},
	} {
		_, err := hostapd.PKEXAdd("1", tc.ident, tc.code)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("code %q identifier %q: %v", tc.code, tc.ident, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, hostapd.ErrArgument)):
			t.Errorf("code %q identifier %q: got %v, want an ErrArgument saying %q", tc.code, tc.ident, err, tc.want)
		}
	}
	for _, own := range []string{"", "1 init=1", "-1", "1x"} {
		if _, err := hostapd.PKEXAdd(own, "", "abcdef"); !errors.Is(err, hostapd.ErrArgument) {
			t.Errorf("own %q: got %v, want ErrArgument", own, err)
		}
	}
	if got, _ := hostapd.PKEXAdd("3", "plug1", "abcdef"); got != "DPP_PKEX_ADD own=3 identifier=plug1 code=abcdef" {
		t.Errorf("PKEXAdd: %q", got)
	}
}

func TestQRCode(t *testing.T) {
	for uri, ok := range map[string]bool{
		"DPP:K:MDk=;;":                     true,
		"DPP:I:Kitchen camera;K:MDk=;;":    true,
		"DPP:K:MDk=;;\n":                   false,
		"DPP:K:MDk=;;\x00init=1":           false,
		"WIFI:S:x;;":                       false,
		"DPP:" + strings.Repeat("a", 1100): false,
	} {
		if _, err := hostapd.QRCode(uri); (err == nil) != ok {
			t.Errorf("QRCode(%q): %v", uri, err)
		}
	}
}

// A command with a NUL, a line break or anything outside printable ASCII
// never leaves for hostapd, however it was built.
func TestCommandRefusesControlCharacters(t *testing.T) {
	f := newFake(t)
	var mu sync.Mutex
	var got []string
	f.before = func(cmd string, _ *net.UnixAddr) {
		mu.Lock()
		got = append(got, cmd)
		mu.Unlock()
	}
	c, err := hostapd.Dial(f.dir, "wlan0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, cmd := range []string{"DPP_PKEX_ADD own=1 code=abcdef\x00 init=1", "PING\nRELOAD_WPA_PSK", "SET ssid caf\xc3\xa9"} {
		if _, err := c.Command(context.Background(), cmd); !errors.Is(err, hostapd.ErrArgument) {
			t.Errorf("%q: got %v, want ErrArgument", cmd, err)
		}
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0] != "PING" {
		t.Fatalf("hostapd received %q, want only the PING", got)
	}
}

// hostapdPKEX reads DPP_PKEX_ADD as hostapd does (hostapd_dpp_pkex_add,
// hostapd 2.10 to 2.11): every parameter found by searching the whole
// command for " name=", the identifier up to the next space, the code to
// the end, the command cut at the first NUL.
func hostapdPKEX(cmd string) map[string]string {
	if i := strings.IndexByte(cmd, 0); i >= 0 {
		cmd = cmd[:i]
	}
	out := map[string]string{}
	for _, p := range []string{"tcp_port", "tcp_addr", "own", "ver", "role"} {
		if i := strings.Index(cmd, " "+p+"="); i >= 0 {
			v := cmd[i+len(p)+2:]
			if j := strings.IndexByte(v, ' '); j >= 0 {
				v = v[:j]
			}
			out[p] = v
		}
	}
	if i := strings.Index(cmd, " identifier="); i >= 0 {
		v := cmd[i+12:]
		if j := strings.IndexByte(v, ' '); j >= 0 {
			out["identifier"] = v[:j]
		} else {
			out["identifier"] = "<refused>"
		}
	}
	if i := strings.Index(cmd, " code="); i >= 0 {
		out["code"] = cmd[i+6:]
	}
	if strings.Contains(cmd, " init=1") {
		out["init"] = "1"
	}
	return out
}

// Whatever the code and identifier, a command PKEXAdd builds reads, to
// hostapd, as exactly the own, identifier and code it was given.
func FuzzPKEXAdd(f *testing.F) {
	f.Add("abcdef", "")
	f.Add("abcdef init=1 tcp_addr=10.99.0.2 tcp_port=80 identifier=evil", "")
	f.Add("abcdef", "plug1 code=x")
	f.Add("abc\x00def init=1", "id")
	f.Fuzz(func(t *testing.T, code, ident string) {
		cmd, err := hostapd.PKEXAdd("7", ident, code)
		if err != nil {
			if hostapd.CheckPKEXCode(code) == nil && hostapd.CheckPKEXIdentifier(ident) == nil {
				t.Fatalf("refused good values %q %q: %v", code, ident, err)
			}
			return
		}
		want := map[string]string{"own": "7", "code": code}
		if ident != "" {
			want["identifier"] = ident
		}
		got := hostapdPKEX(cmd)
		if len(got) != len(want) {
			t.Fatalf("%q reads as %v, want %v", cmd, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%q reads as %v, want %v", cmd, got, want)
			}
		}
	})
}

// Values the checks accept are printable ASCII, bounded, without spaces.
func FuzzCheckPKEXCode(f *testing.F) {
	f.Add("abcdef")
	f.Add("abc def")
	f.Add("\x00\x00\x00\x00\x00\x00")
	f.Fuzz(func(t *testing.T, s string) {
		if hostapd.CheckPKEXCode(s) == nil {
			if len(s) < 6 || len(s) > 64 || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r > '~' }) {
				t.Fatalf("accepted %q", s)
			}
		}
		if hostapd.CheckPKEXIdentifier(s) == nil && strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r > '~' }) {
			t.Fatalf("accepted identifier %q", s)
		}
	})
}

// STATUS and GET_CONFIG replies carry what others chose (an SSID): any
// reply parses, and no key=value line is lost.
func FuzzParseKV(f *testing.F) {
	f.Add("state=ENABLED\nssid[0]=Home\nfreq=2437\n")
	f.Add("ssid=a=b\n\n=x\nnokey")
	f.Fuzz(func(t *testing.T, reply string) {
		kv := hostapd.ParseKV(reply)
		for _, l := range strings.Split(reply, "\n") {
			if k, _, ok := strings.Cut(l, "="); ok {
				if _, found := kv[k]; !found {
					t.Fatalf("line %q lost", l)
				}
			}
		}
	})
}
