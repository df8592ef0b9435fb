package brski

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Just enough CoAP (RFC 7252) for a pledge to discover the stateless
// proxy: GET /.well-known/core?brski-jp answered with <>;brski-jp=PORT
// (draft-ietf-anima-constrained-join-proxy -20 §5.2).

// CoAP constants used here.
const (
	coapCON = 0
	coapNON = 1
	coapACK = 2
	coapRST = 3

	coapGET     = 0x01
	coapContent = 0x45 // 2.05

	optURIPath       = 11
	optContentFormat = 12
	optURIQuery      = 15

	cfLinkFormat = 40 // application/link-format

	// CoAPPort is CoAP's default port, where discovery is asked.
	CoAPPort = 5683
)

// AllCoAPNodes is the link-local All-CoAP-Nodes group (RFC 7252 §12.8).
var AllCoAPNodes = [16]byte{0xff, 0x02, 15: 0xfd}

type coapOption struct {
	num   uint16
	value []byte
}

type coapMessage struct {
	typ     uint8
	code    uint8
	id      uint16
	token   []byte
	options []coapOption // in ascending number order
	payload []byte
}

// parseCoAP decodes one CoAP message, refusing anything malformed.
func parseCoAP(b []byte) (coapMessage, error) {
	var m coapMessage
	if len(b) < 4 {
		return m, errors.New("CoAP message shorter than its 4-byte header")
	}
	if b[0]>>6 != 1 {
		return m, fmt.Errorf("CoAP version %d, want 1", b[0]>>6)
	}
	m.typ = (b[0] >> 4) & 3
	tkl := int(b[0] & 0x0f)
	if tkl > 8 {
		return m, fmt.Errorf("CoAP token length %d exceeds 8", tkl)
	}
	m.code = b[1]
	m.id = binary.BigEndian.Uint16(b[2:])
	b = b[4:]
	if len(b) < tkl {
		return m, errors.New("CoAP token truncated")
	}
	m.token, b = b[:tkl], b[tkl:]
	num := 0
	for len(b) > 0 {
		if b[0] == 0xff {
			if len(b) == 1 {
				return m, errors.New("CoAP payload marker without payload")
			}
			m.payload = b[1:]
			break
		}
		delta, length := int(b[0]>>4), int(b[0]&0x0f)
		b = b[1:]
		var err error
		if delta, b, err = coapExt(delta, b); err != nil {
			return m, fmt.Errorf("CoAP option delta: %w", err)
		}
		if length, b, err = coapExt(length, b); err != nil {
			return m, fmt.Errorf("CoAP option length: %w", err)
		}
		num += delta
		if num > 0xffff {
			return m, errors.New("CoAP option number exceeds 65535")
		}
		if len(b) < length {
			return m, errors.New("CoAP option value truncated")
		}
		m.options = append(m.options, coapOption{num: uint16(num), value: b[:length]})
		b = b[length:]
	}
	return m, nil
}

// coapExt reads an option delta or length nibble's extension.
func coapExt(v int, b []byte) (int, []byte, error) {
	switch v {
	case 13:
		if len(b) < 1 {
			return 0, nil, errors.New("truncated")
		}
		return int(b[0]) + 13, b[1:], nil
	case 14:
		if len(b) < 2 {
			return 0, nil, errors.New("truncated")
		}
		return int(binary.BigEndian.Uint16(b)) + 269, b[2:], nil
	case 15:
		return 0, nil, errors.New("reserved value 15")
	}
	return v, b, nil
}

func (m coapMessage) marshal() []byte {
	out := []byte{1<<6 | m.typ<<4 | uint8(len(m.token)), m.code, byte(m.id >> 8), byte(m.id)}
	out = append(out, m.token...)
	prev := 0
	for _, o := range m.options {
		delta, length := int(o.num)-prev, len(o.value)
		prev = int(o.num)
		dn, dx := coapNibble(delta)
		ln, lx := coapNibble(length)
		out = append(out, byte(dn<<4|ln))
		out = append(out, dx...)
		out = append(out, lx...)
		out = append(out, o.value...)
	}
	if len(m.payload) > 0 {
		out = append(out, 0xff)
		out = append(out, m.payload...)
	}
	return out
}

func coapNibble(v int) (int, []byte) {
	switch {
	case v < 13:
		return v, nil
	case v < 269:
		return 13, []byte{byte(v - 13)}
	}
	return 14, []byte{byte((v - 269) >> 8), byte(v - 269)}
}

func (m coapMessage) strings(num uint16) []string {
	var out []string
	for _, o := range m.options {
		if o.num == num {
			out = append(out, string(o.value))
		}
	}
	return out
}

// discoveryAnswer returns what to send back to the CoAP message b that
// reached the discovery port, and whether to send anything at all. id is
// the answer's message id when it is not an ACK or a Reset.
//
// A multicast request is answered only when it is a discovery request
// that matches (RFC 7252 §8.2.1: no empty or error answers to multicast).
// Unicast follows RFC 7252: a confirmable message always gets an ACK or
// a Reset (§4.2), a request its response:
//   - GET /.well-known/core?brski-jp… gets the join port; a GET whose
//     filter matches nothing gets 2.05 with an empty link-format document
//     (RFC 6690 §4.1: the resource is there, nothing in it matches; an
//     independent server, libcoap's, answers so too);
//   - another method on it 4.05, another resource 4.04, an unknown
//     critical option 4.02 (§5.4.1), an Accept other than link-format 4.06;
//   - a confirmable Empty message (a CoAP ping, §4.3), a malformed one or
//     one that is not a request gets a Reset (§4.2).
//
// Non-confirmable messages that are not requests are ignored, as are
// ACKs and Resets: there is nothing the proxy asked.
func discoveryAnswer(b []byte, port int, multicast bool, id uint16) ([]byte, bool) {
	m, err := parseCoAP(b)
	if err != nil {
		// Enough of a header to reset it?
		if !multicast && len(b) >= 4 && b[0]>>6 == 1 && (b[0]>>4)&3 == coapCON {
			return reset(binary.BigEndian.Uint16(b[2:])), true
		}
		return nil, false
	}
	if m.typ != coapCON && m.typ != coapNON {
		return nil, false
	}
	isRequest := m.code>>5 == 0 && m.code != 0
	if multicast {
		// Multicast requests are non-confirmable (RFC 7252 §8.1).
		if m.typ != coapNON || !isRequest {
			return nil, false
		}
		code, links := discoveryResponse(m, port)
		if code != coapContent || len(links) == 0 {
			return nil, false
		}
		return response(m, code, links, id), true
	}
	if !isRequest {
		if m.typ == coapCON {
			return reset(m.id), true
		}
		return nil, false
	}
	code, links := discoveryResponse(m, port)
	return response(m, code, links, id), true
}

// CoAP response codes used here, besides coapContent.
const (
	coapBadOption        = 0x82 // 4.02
	coapNotFound         = 0x84 // 4.04
	coapMethodNotAllowed = 0x85 // 4.05
	coapNotAcceptable    = 0x86 // 4.06
)

// CoAP options the discovery resource understands besides Uri-Path and
// Uri-Query: Uri-Host and Uri-Port name the proxy itself, Block2 asks for
// blocks no smaller than the whole (tiny) answer.
const (
	optURIHost = 3
	optURIPort = 7
	optAccept  = 17
	optBlock2  = 23
)

// discoveryResponse returns the response code for request m and, with
// 2.05, the links (none when the filter matches nothing).
func discoveryResponse(m coapMessage, port int) (uint8, string) {
	for _, o := range m.options {
		switch o.num {
		case optURIHost, optURIPort, optURIPath, optURIQuery, optAccept, optBlock2:
		default:
			if o.num&1 == 1 { // critical (RFC 7252 §5.4.6)
				return coapBadOption, ""
			}
		}
	}
	if strings.Join(m.strings(optURIPath), "/") != ".well-known/core" {
		return coapNotFound, ""
	}
	if m.code != coapGET {
		return coapMethodNotAllowed, ""
	}
	for _, o := range m.options {
		if o.num == optAccept && (len(o.value) != 1 || o.value[0] != cfLinkFormat) {
			return coapNotAcceptable, ""
		}
	}
	// Query filtering as RFC 6690 §4.1: no query, brski-jp, or a
	// brski-jp filter; a trailing * matches any value.
	want := fmt.Sprint(port)
	for _, q := range m.strings(optURIQuery) {
		name, val, _ := strings.Cut(q, "=")
		ok := name == "brski-jp" && (val == "" || val == "*" || val == want ||
			strings.HasSuffix(val, "*") && strings.HasPrefix(want, strings.TrimSuffix(val, "*")))
		if !ok {
			return coapContent, ""
		}
	}
	return coapContent, fmt.Sprintf("<>;brski-jp=%d", port)
}

// response answers request m: piggy-backed in an ACK when m is
// confirmable, else as a non-confirmable message with id.
func response(m coapMessage, code uint8, payload string, id uint16) []byte {
	resp := coapMessage{typ: coapNON, code: code, id: id, token: m.token, payload: []byte(payload)}
	if code == coapContent {
		resp.options = []coapOption{{num: optContentFormat, value: []byte{cfLinkFormat}}}
	}
	if m.typ == coapCON {
		resp.typ, resp.id = coapACK, m.id
	}
	return resp.marshal()
}

// reset is the Reset message rejecting message id (RFC 7252 §4.2).
func reset(id uint16) []byte {
	return coapMessage{typ: coapRST, id: id}.marshal()
}
