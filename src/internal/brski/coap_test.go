package brski

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// discoveryRequest is a pledge's GET /.well-known/core?<query>.
func discoveryRequest(typ uint8, query ...string) coapMessage {
	m := coapMessage{typ: typ, code: coapGET, id: 0x1234, token: []byte{0xca, 0xfe},
		options: []coapOption{{optURIPath, []byte(".well-known")}, {optURIPath, []byte("core")}}}
	for _, q := range query {
		m.options = append(m.options, coapOption{optURIQuery, []byte(q)})
	}
	return m
}

func TestCoAPRoundTrip(t *testing.T) {
	long := coapMessage{typ: coapCON, code: coapGET, id: 7, token: []byte("12345678"),
		options: []coapOption{{optURIPath, []byte(strings.Repeat("p", 300))}, {2000, []byte("x")}}, payload: []byte("body")}
	for _, m := range []coapMessage{discoveryRequest(coapNON, "brski-jp=*"), long} {
		got, err := parseCoAP(m.marshal())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(m, got, cmp.AllowUnexported(coapMessage{}, coapOption{})); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	}
	// RFC 7252 wire example: CON GET, id 0x7d34, Uri-Path "temperature".
	b := []byte{0x40, 0x01, 0x7d, 0x34, 0xbb, 't', 'e', 'm', 'p', 'e', 'r', 'a', 't', 'u', 'r', 'e'}
	m, err := parseCoAP(b)
	if err != nil || m.id != 0x7d34 || m.typ != coapCON || strings.Join(m.strings(optURIPath), "/") != "temperature" {
		t.Errorf("RFC 7252 example: %+v %v", m, err)
	}
}

func TestParseCoAPRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"short", []byte{0x40, 1}, "shorter than"},
		{"version 2", []byte{0x80, 1, 0, 0}, "version 2"},
		{"token length 9", []byte{0x49, 1, 0, 0}, "token length 9"},
		{"token truncated", []byte{0x42, 1, 0, 0, 1}, "token truncated"},
		{"marker only", []byte{0x40, 1, 0, 0, 0xff}, "payload marker without payload"},
		{"delta 15", []byte{0x40, 1, 0, 0, 0xf1, 0}, "reserved value 15"},
		{"value truncated", []byte{0x40, 1, 0, 0, 0xb5, 'a'}, "value truncated"},
		{"ext truncated", []byte{0x40, 1, 0, 0, 0xd0}, "truncated"},
		{"number too big", []byte{0x40, 1, 0, 0, 0xe0, 0xff, 0xff, 0xe0, 0xff, 0xff}, "exceeds 65535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseCoAP(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestDiscoveryAnswer: matching discovery gets the join port, by
// multicast and unicast; otherwise multicast gets nothing (RFC 7252
// §8.2.1) and unicast what RFC 7252 asks: every confirmable message an ACK
// or a Reset (§4.2), every request a response.
func TestDiscoveryAnswer(t *testing.T) {
	const link = "<>;brski-jp=5684"
	other := func(m coapMessage, f func(*coapMessage)) coapMessage { f(&m); return m }
	get := discoveryRequest(coapCON)
	tests := []struct {
		name      string
		req       []byte
		multicast bool
		// want is the answer's type, code and payload; typ 0xff: none.
		typ, code uint8
		payload   string
	}{
		{"brski-jp=*", discoveryRequest(coapNON, "brski-jp=*").marshal(), true, coapNON, coapContent, link},
		{"brski-jp", discoveryRequest(coapNON, "brski-jp").marshal(), true, coapNON, coapContent, link},
		{"port prefix", discoveryRequest(coapNON, "brski-jp=56*").marshal(), true, coapNON, coapContent, link},
		{"exact port", discoveryRequest(coapNON, "brski-jp=5684").marshal(), true, coapNON, coapContent, link},
		{"no query", discoveryRequest(coapNON).marshal(), true, coapNON, coapContent, link},
		{"multicast other port", discoveryRequest(coapNON, "brski-jp=9999").marshal(), true, 0xff, 0, ""},
		{"multicast old rt=brski.jp (-19)", discoveryRequest(coapNON, "rt=brski.jp").marshal(), true, 0xff, 0, ""},
		{"multicast other resource", other(discoveryRequest(coapNON), func(m *coapMessage) { m.options = []coapOption{{optURIPath, []byte("b")}} }).marshal(), true, 0xff, 0, ""},
		{"multicast CON", discoveryRequest(coapCON, "brski-jp=*").marshal(), true, 0xff, 0, ""},
		{"multicast POST", other(discoveryRequest(coapNON), func(m *coapMessage) { m.code = 0x02 }).marshal(), true, 0xff, 0, ""},
		{"multicast malformed CON", []byte{0x40, 1, 0x12, 0x34, 0xf1}, true, 0xff, 0, ""},

		{"unicast CON", discoveryRequest(coapCON, "brski-jp=*").marshal(), false, coapACK, coapContent, link},
		{"unicast CON, Uri-Host and Uri-Port", other(get, func(m *coapMessage) {
			m.options = append([]coapOption{{optURIHost, []byte("fe80::1")}, {optURIPort, []byte{0x16, 0x33}}}, m.options...)
		}).marshal(), false, coapACK, coapContent, link},
		{"unicast CON, filter matches nothing", discoveryRequest(coapCON, "rt=core.rd").marshal(), false, coapACK, coapContent, ""},
		{"unicast NON, filter matches nothing", discoveryRequest(coapNON, "brski-jp=9999").marshal(), false, coapNON, coapContent, ""},
		{"unicast CON, other resource", other(get, func(m *coapMessage) { m.options = []coapOption{{optURIPath, []byte("b")}} }).marshal(), false, coapACK, coapNotFound, ""},
		{"unicast CON, POST", other(get, func(m *coapMessage) { m.code = 0x02 }).marshal(), false, coapACK, coapMethodNotAllowed, ""},
		{"unicast CON, Accept JSON", other(get, func(m *coapMessage) { m.options = append(m.options, coapOption{optAccept, []byte{50}}) }).marshal(), false, coapACK, coapNotAcceptable, ""},
		{"unicast CON, unknown critical option", other(get, func(m *coapMessage) { m.options = append(m.options, coapOption{2049, nil}) }).marshal(), false, coapACK, coapBadOption, ""},
		{"unicast CON, unknown elective option", other(get, func(m *coapMessage) { m.options = append(m.options, coapOption{2048, nil}) }).marshal(), false, coapACK, coapContent, link},
		{"ping (CON Empty)", coapMessage{typ: coapCON, id: 0x1234}.marshal(), false, coapRST, 0, ""},
		{"CON response", other(get, func(m *coapMessage) { m.code = coapContent }).marshal(), false, coapRST, 0, ""},
		{"CON reserved class 7", other(get, func(m *coapMessage) { m.code = 0xe1 }).marshal(), false, coapRST, 0, ""},
		{"malformed CON", []byte{0x40, 1, 0x12, 0x34, 0xf1}, false, coapRST, 0, ""},
		{"malformed NON", []byte{0x50, 1, 0x12, 0x34, 0xf1}, false, 0xff, 0, ""},
		{"NON response", other(discoveryRequest(coapNON), func(m *coapMessage) { m.code = coapContent }).marshal(), false, 0xff, 0, ""},
		{"ACK", other(get, func(m *coapMessage) { m.typ = coapACK }).marshal(), false, 0xff, 0, ""},
		{"RST", coapMessage{typ: coapRST, id: 0x1234}.marshal(), false, 0xff, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ok := discoveryAnswer(tt.req, 5684, tt.multicast, 0x4321)
			if ok != (tt.typ != 0xff) {
				t.Fatalf("answers %v (%x), want %v", ok, b, tt.typ != 0xff)
			}
			if !ok {
				return
			}
			m, err := parseCoAP(b)
			if err != nil {
				t.Fatal(err)
			}
			// An ACK or Reset echoes the message id, a NON answer has its own.
			wantID, wantToken := uint16(0x1234), []byte{0xca, 0xfe}
			if tt.typ == coapNON {
				wantID = 0x4321
			}
			if tt.typ == coapRST {
				wantToken = nil
			}
			if m.typ != tt.typ || m.code != tt.code || m.id != wantID || string(m.token) != string(wantToken) || string(m.payload) != tt.payload {
				t.Errorf("answer %+v, want type %d code %#x payload %q", m, tt.typ, tt.code, tt.payload)
			}
			if cf := m.strings(optContentFormat); tt.code == coapContent && cmp.Diff([]string{"\x28"}, cf) != "" {
				t.Errorf("content format %q, want link-format", cf)
			}
		})
	}
}

func FuzzParseCoAP(f *testing.F) {
	f.Add(discoveryRequest(coapNON, "brski-jp=*").marshal())
	f.Add([]byte{0x40, 0x01, 0x7d, 0x34, 0xbb, 't', 'e', 'm', 'p'})
	f.Fuzz(func(t *testing.T, b []byte) {
		discoveryAnswer(b, 5684, false, 1)
		discoveryAnswer(b, 5684, true, 1)
		m, err := parseCoAP(b)
		if err != nil {
			return
		}
		again, err := parseCoAP(m.marshal())
		if err != nil {
			t.Fatalf("re-encoded message does not parse: %v", err)
		}
		if diff := cmp.Diff(m, again, cmp.AllowUnexported(coapMessage{}, coapOption{})); diff != "" {
			t.Fatalf("round trip (-first +again):\n%s", diff)
		}
	})
}
