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

func TestJoinPortAnswer(t *testing.T) {
	tests := []struct {
		name    string
		req     coapMessage
		answers bool
		typ     uint8
	}{
		{"brski-jp=*", discoveryRequest(coapNON, "brski-jp=*"), true, coapNON},
		{"brski-jp", discoveryRequest(coapNON, "brski-jp"), true, coapNON},
		{"port prefix", discoveryRequest(coapNON, "brski-jp=56*"), true, coapNON},
		{"exact port", discoveryRequest(coapNON, "brski-jp=5684"), true, coapNON},
		{"no query", discoveryRequest(coapNON), true, coapNON},
		{"unicast CON", discoveryRequest(coapCON, "brski-jp=*"), true, coapACK},
		{"other port", discoveryRequest(coapNON, "brski-jp=9999"), false, 0},
		{"old rt=brski.jp (-19)", discoveryRequest(coapNON, "rt=brski.jp"), false, 0},
		{"other resource", coapMessage{typ: coapNON, code: coapGET, options: []coapOption{{optURIPath, []byte("b")}}}, false, 0},
		{"POST", coapMessage{typ: coapNON, code: 0x02, options: discoveryRequest(coapNON).options}, false, 0},
		{"ACK", coapMessage{typ: coapACK, code: coapGET, options: discoveryRequest(coapNON).options}, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ok := joinPortAnswer(tt.req, 5684, 0x4321)
			if ok != tt.answers {
				t.Fatalf("answers %v, want %v", ok, tt.answers)
			}
			if !ok {
				return
			}
			m, err := parseCoAP(b)
			if err != nil {
				t.Fatal(err)
			}
			wantID := uint16(0x4321)
			if tt.typ == coapACK {
				wantID = tt.req.id
			}
			if m.typ != tt.typ || m.code != coapContent || m.id != wantID || string(m.token) != string(tt.req.token) ||
				string(m.payload) != "<>;brski-jp=5684" || cmp.Diff([]string{"\x28"}, m.strings(optContentFormat)) != "" {
				t.Errorf("answer %+v", m)
			}
		})
	}
}

func FuzzParseCoAP(f *testing.F) {
	f.Add(discoveryRequest(coapNON, "brski-jp=*").marshal())
	f.Add([]byte{0x40, 0x01, 0x7d, 0x34, 0xbb, 't', 'e', 'm', 'p'})
	f.Fuzz(func(t *testing.T, b []byte) {
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
		joinPortAnswer(m, 5684, 1)
	})
}
