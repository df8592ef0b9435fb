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

// joinPortAnswer returns the answer to m if it is a discovery request the
// join proxy should answer, and whether to answer at all: a request that
// filters for something else gets no answer, as a multicast request must
// not get an empty one (RFC 7252 §8.2.1). id is the answer's message id
// when it is not an ACK.
func joinPortAnswer(m coapMessage, port int, id uint16) ([]byte, bool) {
	if m.code != coapGET || (m.typ != coapCON && m.typ != coapNON) {
		return nil, false
	}
	if strings.Join(m.strings(optURIPath), "/") != ".well-known/core" {
		return nil, false
	}
	// Query filtering as RFC 6690 §4.1: no query, brski-jp, or a
	// brski-jp filter; a trailing * matches any value.
	for _, q := range m.strings(optURIQuery) {
		name, val, _ := strings.Cut(q, "=")
		want := fmt.Sprint(port)
		ok := name == "brski-jp" && (val == "" || val == "*" || val == want ||
			strings.HasSuffix(val, "*") && strings.HasPrefix(want, strings.TrimSuffix(val, "*")))
		if !ok {
			return nil, false
		}
	}
	resp := coapMessage{typ: coapNON, code: coapContent, id: id, token: m.token,
		options: []coapOption{{num: optContentFormat, value: []byte{cfLinkFormat}}},
		payload: []byte(fmt.Sprintf("<>;brski-jp=%d", port)),
	}
	if m.typ == coapCON {
		resp.typ, resp.id = coapACK, m.id
	}
	return resp.marshal(), true
}
