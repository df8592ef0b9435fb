package brski

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// vectorJPY is [h'd01914bc', h'16fefd'] (shared/docs/research/brski-vectors.txt).
const vectorJPY = "8244d01914bc4316fefd"

func TestJPYVector(t *testing.T) {
	h, c, err := DecodeJPY(unhex(t, vectorJPY))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(h, unhex(t, "d01914bc")) || !bytes.Equal(c, unhex(t, "16fefd")) {
		t.Errorf("decoded header %x content %x", h, c)
	}
	if b := MarshalJPY(h, c); !bytes.Equal(b, unhex(t, vectorJPY)) {
		t.Errorf("encoded %x", b)
	}
}

func TestDecodeJPYRejects(t *testing.T) {
	enc := func(v any) []byte {
		b, err := cbor.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "not a CBOR array"},
		{"one element", enc([]any{[]byte{1}}), "has 1 elements"},
		{"three elements", enc([]any{[]byte{1}, []byte{2}, []byte{3}}), "has 3 elements"},
		{"text header", enc([]any{"h", []byte{2}}), "header is not a byte string"},
		{"text content", enc([]any{[]byte{1}, "c"}), "content is not a byte string"},
		{"long header", enc([]any{make([]byte, 33), []byte{2}}), "exceeds 32"},
		{"trailing", append(unhex(t, vectorJPY), 0), "extraneous"},
		{"indefinite", unhex(t, "9f44d01914bc4316fefdff"), "not a CBOR array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := DecodeJPY(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestHeaderKeys(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	k, err := newHeaderKeys(time.Hour, 5*time.Minute, clock.now)
	if err != nil {
		t.Fatal(err)
	}
	pledge := netip.MustParseAddrPort("[fe80::1234:5678:9abc:def0]:49152")
	h, err := k.seal(7, pledge)
	if err != nil {
		t.Fatal(err)
	}
	// The draft's MTU budget (§4.5.4) assumes headers of at most 32 bytes.
	if len(h) != headerSize || len(h) > 32 {
		t.Fatalf("header of %d bytes, want %d and at most 32", len(h), headerSize)
	}
	idx, got, err := k.open(h)
	if err != nil || idx != 7 || got != pledge {
		t.Fatalf("open: %d %s %v", idx, got, err)
	}
	if bytes.Contains(h, pledge.Addr().AsSlice()[8:]) {
		t.Error("the pledge's interface identifier is readable in the header")
	}

	// Every single-bit change is caught.
	for i := range h {
		for bit := 0; bit < 8; bit++ {
			bad := bytes.Clone(h)
			bad[i] ^= 1 << bit
			if _, _, err := k.open(bad); !errors.Is(err, errHeaderAuth) {
				t.Fatalf("byte %d bit %d flipped: %v", i, bit, err)
			}
		}
	}
	if _, _, err := k.open(h[:len(h)-1]); !errors.Is(err, errHeaderShape) {
		t.Errorf("truncated: %v", err)
	}
	// A header sealed by another proxy (another key) is refused.
	other, _ := newHeaderKeys(time.Hour, 5*time.Minute, clock.now)
	forged, _ := other.seal(7, pledge)
	if _, _, err := k.open(forged); !errors.Is(err, errHeaderAuth) {
		t.Errorf("forged: %v", err)
	}
	// Only link-local pledges.
	if _, err := k.seal(7, netip.MustParseAddrPort("[2001:db8::1]:5684")); err == nil {
		t.Error("sealed a global address")
	}
}

// TestHeaderStablePerFlow: the registrar keeps one DTLS connection per
// header (draft §4.4), so every datagram of one pledge flow (address,
// port, join interface) carries the same header, and any other flow
// another one.
func TestHeaderStablePerFlow(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	k, err := newHeaderKeys(time.Hour, 5*time.Minute, clock.now)
	if err != nil {
		t.Fatal(err)
	}
	pledge := netip.MustParseAddrPort("[fe80::2]:5684")
	first, _ := k.seal(3, pledge)
	clock.t = clock.t.Add(59 * time.Minute) // a slow handshake, as long as the key lives
	if again, _ := k.seal(3, pledge); !bytes.Equal(again, first) {
		t.Errorf("same flow, header changed: %x then %x", first, again)
	}
	seen := map[string]string{string(first): "the flow"}
	for name, h := range map[string][]byte{
		"another port":      must(k.seal(3, netip.MustParseAddrPort("[fe80::2]:5685"))),
		"another address":   must(k.seal(3, netip.MustParseAddrPort("[fe80::3]:5684"))),
		"another interface": must(k.seal(4, pledge)),
	} {
		if prev, dup := seen[string(h)]; dup {
			t.Errorf("%s has the header of %s", name, prev)
		}
		seen[string(h)] = name
	}
}

func must(h []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return h
}

// TestHeaderReplayWindow: a header carries no time, so a replayed one
// (someone upstream sending from the registrar's address and port) is
// accepted exactly as long as its key lives, rotation + grace (README,
// "Not there yet"), and never after.
func TestHeaderReplayWindow(t *testing.T) {
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: start}
	k, err := newHeaderKeys(24*time.Hour, 5*time.Minute, clock.now)
	if err != nil {
		t.Fatal(err)
	}
	pledge := netip.MustParseAddrPort("[fe80::2]:5684")
	h, _ := k.seal(1, pledge)
	clock.t = start.Add(24*time.Hour - time.Second)
	if _, _, err := k.open(h); err != nil {
		t.Errorf("within the key's life: %v", err)
	}
	clock.t = start.Add(24 * time.Hour)
	fresh, _ := k.seal(1, pledge) // rotates
	if bytes.Equal(fresh, h) {
		t.Error("the header did not change with the key")
	}
	clock.t = start.Add(24*time.Hour + 5*time.Minute - time.Second)
	if _, _, err := k.open(h); err != nil {
		t.Errorf("within the grace period: %v", err)
	}
	clock.t = start.Add(24*time.Hour + 5*time.Minute)
	if _, _, err := k.open(h); !errors.Is(err, errHeaderAuth) {
		t.Errorf("replayed after rotation and grace: %v", err)
	}
}

func TestHeaderKeyRotation(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	k, err := newHeaderKeys(time.Hour, 5*time.Minute, clock.now)
	if err != nil {
		t.Fatal(err)
	}
	pledge := netip.MustParseAddrPort("[fe80::2]:5684")
	clock.t = clock.t.Add(time.Hour - time.Minute)
	before, _ := k.seal(1, pledge) // last minute of the first key
	clock.t = clock.t.Add(time.Minute)
	after, _ := k.seal(1, pledge) // rotates
	if _, _, err := k.open(before); err != nil {
		t.Errorf("previous key within grace: %v", err)
	}
	if _, _, err := k.open(after); err != nil {
		t.Errorf("new key: %v", err)
	}
	clock.t = clock.t.Add(5 * time.Minute)
	if _, _, err := k.open(before); !errors.Is(err, errHeaderAuth) {
		t.Errorf("previous key after grace: %v", err)
	}
	if _, _, err := k.open(after); err != nil {
		t.Errorf("new key later: %v", err)
	}
}

func FuzzDecodeJPY(f *testing.F) {
	f.Add(unhex(f, vectorJPY))
	f.Add(unhex(f, vectorProxy))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, c, err := DecodeJPY(b)
		if err != nil {
			return
		}
		out := MarshalJPY(h, c)
		h2, c2, err := DecodeJPY(out)
		if err != nil || !bytes.Equal(h, h2) || !bytes.Equal(c, c2) {
			t.Fatalf("round trip: %x %x %v", h2, c2, err)
		}
	})
}

// FuzzDecodeJPYAgainstLibrary: the hand-written decoder takes exactly
// what a strict general CBOR decoder (fxamacker/cbor, indefinite lengths
// and tags forbidden) takes for a two byte-string array, and reads the
// same header and content.
func FuzzDecodeJPYAgainstLibrary(f *testing.F) {
	dm, err := cbor.DecOptions{IndefLength: cbor.IndefLengthForbidden, TagsMd: cbor.TagsForbidden}.DecMode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(unhex(f, vectorJPY))
	f.Add(unhex(f, "82584400"))       // non-preferred lengths are still CBOR
	f.Add(unhex(f, "825900024142a0")) // content truncated
	f.Fuzz(func(t *testing.T, b []byte) {
		h, c, err := DecodeJPY(b)
		var lib []cbor.RawMessage
		var lh, lc []byte
		lerr := dm.Unmarshal(b, &lib)
		if lerr == nil && len(lib) != 2 {
			lerr = errors.New("not two elements")
		}
		if lerr == nil {
			if lerr = dm.Unmarshal(lib[0], &lh); lerr == nil {
				lerr = dm.Unmarshal(lib[1], &lc)
			}
			// Unmarshal into []byte also takes CBOR null and undefined.
			if lerr == nil && (lh == nil || lc == nil || lib[0][0]>>5 != 2 || lib[1][0]>>5 != 2) {
				lerr = errors.New("not byte strings")
			}
		}
		if lerr == nil && len(lh) > maxJPYHeader {
			lerr = errors.New("header too long")
		}
		if (err == nil) != (lerr == nil) {
			t.Fatalf("%x: DecodeJPY %v, library %v", b, err, lerr)
		}
		if err == nil && (!bytes.Equal(h, lh) || !bytes.Equal(c, lc)) {
			t.Fatalf("%x: DecodeJPY %x %x, library %x %x", b, h, c, lh, lc)
		}
	})
}

// FuzzOpenJPYHeader: no header an attacker can send opens, except the
// proxy's own.
func FuzzOpenJPYHeader(f *testing.F) {
	k, err := newHeaderKeys(time.Hour, time.Minute, time.Now)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := k.seal(1, netip.MustParseAddrPort("[fe80::2]:5684"))
	f.Add(good)
	f.Add(make([]byte, headerSize))
	f.Fuzz(func(t *testing.T, h []byte) {
		if _, _, err := k.open(h); err == nil && !bytes.Equal(h, good) {
			t.Fatalf("forged header %x opened", h)
		}
	})
}
