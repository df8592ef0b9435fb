package brski

import (
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/go-cmp/cmp"
)

// Test vectors: RFC 8995 §4.1.1 and §4.3 examples, encoded as the RFC's
// CDDL says (shared/docs/research/brski-vectors.txt, cross-checked with an
// independent decoder), and AnimaGUS-minerva/rooster samples/flood1.bin.
const (
	vectorProxy     = "85091a00bc4e4f50fe8000000000000000000000000000011a0002bf20828468414e5f50726f787904016084186750fe8000000000000000000000000000010619115b"
	vectorRegistrar = "85091a031678a150fda379a6f6ee000002000000640000011a0002bf20828471414e5f6a6f696e5f7265676973747261720418ff674553542d544c5384186750fda379a6f6ee00000200000064000001061920fb"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestProxyFloodMatchesRFC(t *testing.T) {
	f, err := ProxyFlood(netip.MustParseAddr("fe80::1%lan0"), 4443)
	if err != nil {
		t.Fatal(err)
	}
	f.SessionID = 12340815 // the RFC example's
	b, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b); got != vectorProxy {
		t.Errorf("AN_Proxy flood:\n got %s\nwant %s", got, vectorProxy)
	}
}

func TestDecodeFloodVectors(t *testing.T) {
	ll := netip.MustParseAddr("fe80::1")
	ula := netip.MustParseAddr("fda3:79a6:f6ee:0:200:0:6400:1")
	tests := []struct {
		name string
		in   string
		want Flood
	}{
		{"RFC 8995 AN_Proxy", vectorProxy, Flood{SessionID: 12340815, Initiator: ll, TTL: 180000, Objectives: []FloodObjective{{
			Name: "AN_Proxy", Flags: 4, LoopCount: 1, Value: cbor.RawMessage{0x60},
			Locator: &Locator{Option: 103, Addr: ll, Proto: 6, Port: 4443},
		}}}},
		{"RFC 8995 AN_join_registrar", vectorRegistrar, Flood{SessionID: 51804321, Initiator: ula, TTL: 180000, Objectives: []FloodObjective{{
			Name: "AN_join_registrar", Flags: 4, LoopCount: 255, Value: cbor.RawMessage("\x67EST-TLS"),
			Locator: &Locator{Option: 103, Addr: ula, Proto: 6, Port: 8443},
		}}}},
		// [9, 14, h'fe80::1122', 1, [["AN_ACP", 4, 1, "IKEv2"], [103, h'fe80::1122', 17, 500]]]
		{"rooster flood1.bin", "85090e50fe8000000000000000000000000011220182846641" + "4e5f414350040165494b4576328418675" + "0fe800000000000000000000000001122111901f4",
			Flood{SessionID: 14, Initiator: netip.MustParseAddr("fe80::1122"), TTL: 1, Objectives: []FloodObjective{{
				Name: "AN_ACP", Flags: 4, LoopCount: 1, Value: cbor.RawMessage("\x65IKEv2"),
				Locator: &Locator{Option: 103, Addr: netip.MustParseAddr("fe80::1122"), Proto: 17, Port: 500},
			}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeFlood(unhex(t, tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// Re-encoding gives the same bytes.
			b, err := got.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(b) != tt.in {
				t.Errorf("re-encoded %x", b)
			}
		})
	}
}

func TestDecodeFloodRejects(t *testing.T) {
	enc := func(v any) string {
		b, err := cbor.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(b)
	}
	ll := netip.MustParseAddr("fe80::1").AsSlice()
	obj := []any{"AN_Proxy", 4, 1, ""}
	loc := []any{103, ll, 6, 4443}
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "not a CBOR array"},
		{"not an array", enc(map[string]int{"a": 1}), "not a CBOR array"},
		{"trailing bytes", vectorProxy + "00", "extraneous data"},
		{"truncated", vectorProxy[:len(vectorProxy)-2], "not a CBOR array"},
		// GRASP draft-15 Appendix D.2: array(6) holding 5 items.
		{"draft-15 D.2", "86" + vectorProxy[2:], "not a CBOR array"},
		{"too short", enc([]any{9, 1, ll, 180000}), "has 4 elements"},
		{"M_DISCOVERY", enc([]any{1, 1, ll, 180000, []any{obj, loc}}), "is not M_FLOOD"},
		{"negative session", enc([]any{9, -1, ll, 180000, []any{obj, loc}}), "session-id is not an unsigned"},
		{"session too big", enc([]any{9, uint64(1) << 32, ll, 180000, []any{obj, loc}}), "session-id 4294967296 is out of range"},
		{"initiator text", enc([]any{9, 1, "fe80::1", 180000, []any{obj, loc}}), "initiator is not a byte string"},
		{"initiator 5 bytes", enc([]any{9, 1, []byte{1, 2, 3, 4, 5}, 180000, []any{obj, loc}}), "initiator is 5 bytes"},
		{"objective not a pair", enc([]any{9, 1, ll, 180000, []any{obj}}), "want [objective"},
		{"objective too short", enc([]any{9, 1, ll, 180000, []any{[]any{"AN_Proxy", 4}, loc}}), "want objective [name"},
		{"empty name", enc([]any{9, 1, ll, 180000, []any{[]any{"", 4, 1}, loc}}), "objective name"},
		{"name as bytes", enc([]any{9, 1, ll, 180000, []any{[]any{[]byte("AN_Proxy"), 4, 1}, loc}}), "objective name"},
		{"loop count 256", enc([]any{9, 1, ll, 180000, []any{[]any{"AN_Proxy", 4, 256}, loc}}), "loop-count 256 is out of range"},
		{"locator not array", enc([]any{9, 1, ll, 180000, []any{obj, 103}}), "locator is not an array"},
		{"locator short", enc([]any{9, 1, ll, 180000, []any{obj, []any{103, ll, 6}}}), "has 3 elements"},
		{"locator IPv4", enc([]any{9, 1, ll, 180000, []any{obj, []any{103, []byte{192, 0, 2, 1}, 6, 443}}}), "IPv4 address"},
		{"port too big", enc([]any{9, 1, ll, 180000, []any{obj, []any{103, ll, 6, 65536}}}), "port-number 65536 is out of range"},
		{"tagged", "c0" + vectorProxy, "not a CBOR array"},
		{"indefinite", "9f" + vectorProxy[2:] + "ff", "not a CBOR array"},
		{"too long", enc([]any{9, 1, ll, 180000, []any{[]any{"AN_Proxy", 4, 1, strings.Repeat("x", 2100)}, loc}}), "exceeds 2048"},
		{"deep", enc([]any{9, 1, ll, 180000, []any{[]any{"AN_Proxy", 4, 1, []any{[]any{[]any{[]any{[]any{[]any{[]any{1}}}}}}}}, loc}}), "not a CBOR array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeFlood(unhex(t, tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestFloodAnnounced(t *testing.T) {
	ll := netip.MustParseAddr("fe80::1")
	good := func(edit func(*FloodObjective)) Flood {
		f, err := ProxyFlood(ll, 8443)
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(&f.Objectives[0])
		}
		return f
	}
	tests := []struct {
		name string
		f    Flood
		src  string
		want string // error, or the endpoint
	}{
		{"good", good(nil), "fe80::1%pl0", "[fe80::1%pl0]:8443"},
		{"global source", good(nil), "2001:db8::1", "link-local addresses only"},
		{"IPv4 source", good(nil), "192.0.2.1", "link-local addresses only"},
		{"relayed", good(func(o *FloodObjective) { o.LoopCount = 2 }), "fe80::1%pl0", "loop count 2"},
		{"no F_SYNCH (rooster)", good(func(o *FloodObjective) { o.Flags = 0 }), "fe80::1%pl0", "lack F_SYNCH"},
		{"UDP", good(func(o *FloodObjective) { o.Locator.Proto = 17 }), "fe80::1%pl0", "only TCP"},
		{"no locator", good(func(o *FloodObjective) { o.Locator = nil }), "fe80::1%pl0", "no O_IPv6_LOCATOR"},
		{"port 0", good(func(o *FloodObjective) { o.Locator.Port = 0 }), "fe80::1%pl0", "port 0"},
		{"points elsewhere", good(func(o *FloodObjective) { o.Locator.Addr = netip.MustParseAddr("fe80::99") }), "fe80::1%pl0", "is not the sender"},
		{"forged by another node", good(nil), "fe80::66%pl0", "is not the sender"},
		{"lower-case name (graspy)", good(func(o *FloodObjective) { o.Name = "AN_proxy" }), "fe80::1%pl0", "does not announce AN_Proxy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Through the wire format, as a pledge would see it.
			b, err := tt.f.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			f, err := DecodeFlood(b)
			if err != nil {
				t.Fatal(err)
			}
			ap, err := f.Announced(ObjectiveProxy, netip.MustParseAddr(tt.src))
			got := ap.String()
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzDecodeFlood(f *testing.F) {
	for _, v := range []string{vectorProxy, vectorRegistrar, "8244d01914bc4316fefd", "80", ""} {
		f.Add(unhex(f, v))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fl, err := DecodeFlood(b)
		if err != nil {
			return
		}
		// What decodes must encode again, and decode to the same thing.
		out, err := fl.Marshal()
		if err != nil {
			return // e.g. an O_IPv4_LOCATOR, kept only by number
		}
		again, err := DecodeFlood(out)
		if err != nil {
			t.Fatalf("re-encoded flood does not decode: %v", err)
		}
		if diff := cmp.Diff(fl, again, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Fatalf("round trip changed the flood (-first +again):\n%s", diff)
		}
		fl.Announced(ObjectiveProxy, netip.MustParseAddr("fe80::1"))
	})
}
