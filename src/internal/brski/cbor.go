package brski

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// The CBOR (RFC 8949) GRASP and JPY messages need: definite-length arrays
// of unsigned integers, byte and text strings, and items kept raw. A
// general codec (reflection over any Go type) cost the binary 0.4 MB on
// mipsel; this is the subset, strict on what it reads: no indefinite
// lengths, no tags, bounded nesting and array and map sizes, text read as
// a string must be UTF-8.

// CBOR major types.
const (
	cborUint  = 0
	cborNeg   = 1
	cborBytes = 2
	cborText  = 3
	cborArray = 4
	cborMap   = 5
	cborTag   = 6
	cborOther = 7 // simple values and floats
)

var errCBORTruncated = errors.New("cbor: unexpected end of data")

// cborLimits bound what a hostile message can make the decoder do.
type cborLimits struct {
	depth int // nesting of arrays and maps; the outermost is 1
	elems int // elements of one array, pairs of one map
}

// appendCBORHead appends the head of an item of type major whose argument
// (value or length) is n, in the shortest form.
func appendCBORHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= 0xff:
		return append(b, m|24, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}

func appendCBORUint(b []byte, v uint64) []byte { return appendCBORHead(b, cborUint, v) }

func appendCBORBytes(b, v []byte) []byte {
	return append(appendCBORHead(b, cborBytes, uint64(len(v))), v...)
}

func appendCBORText(b []byte, v string) []byte {
	return append(appendCBORHead(b, cborText, uint64(len(v))), v...)
}

// cborHead reads the head at b[0]: its major type, argument and length.
// Indefinite lengths, reserved values and tags are refused.
func cborHead(b []byte) (major byte, arg uint64, n int, err error) {
	if len(b) == 0 {
		return 0, 0, 0, errCBORTruncated
	}
	major, ai := b[0]>>5, b[0]&0x1f
	if major == cborTag {
		return 0, 0, 0, errors.New("cbor: tags are not accepted")
	}
	switch {
	case ai < 24:
		return major, uint64(ai), 1, nil
	case ai <= 27:
		size := 1 << (ai - 24)
		if len(b) < 1+size {
			return 0, 0, 0, errCBORTruncated
		}
		for _, c := range b[1 : 1+size] {
			arg = arg<<8 | uint64(c)
		}
		if major == cborOther && ai == 24 && arg < 32 {
			return 0, 0, 0, errors.New("cbor: simple value in the wrong form")
		}
		return major, arg, 1 + size, nil
	case ai == 31:
		return 0, 0, 0, errors.New("cbor: indefinite-length items are not accepted")
	}
	return 0, 0, 0, fmt.Errorf("cbor: reserved additional information %d", ai)
}

// cborItemLen returns the length of the well-formed item at the start of
// b, within lim, at nesting level depth (0 for a top-level item).
func cborItemLen(b []byte, lim cborLimits, depth int) (int, error) {
	major, arg, n, err := cborHead(b)
	if err != nil {
		return 0, err
	}
	switch major {
	case cborBytes, cborText:
		if arg > uint64(len(b)-n) {
			return 0, errCBORTruncated
		}
		return n + int(arg), nil
	case cborArray, cborMap:
		if depth+1 > lim.depth {
			return 0, fmt.Errorf("cbor: nested deeper than %d levels", lim.depth)
		}
		if arg > uint64(lim.elems) {
			return 0, fmt.Errorf("cbor: %d elements exceed %d", arg, lim.elems)
		}
		items := int(arg)
		if major == cborMap {
			items *= 2
		}
		for range items {
			m, err := cborItemLen(b[n:], lim, depth+1)
			if err != nil {
				return 0, err
			}
			n += m
		}
	}
	return n, nil
}

// cborCheck says whether b is exactly one well-formed item within lim.
func cborCheck(b []byte, lim cborLimits) error {
	n, err := cborItemLen(b, lim, 0)
	if err != nil {
		return err
	}
	if n != len(b) {
		return fmt.Errorf("cbor: %d bytes of extraneous data starting at index %d", len(b)-n, n)
	}
	return nil
}

// cborArrayItems splits raw, one well-formed item (see cborCheck), into the
// elements of the definite-length array it must be.
func cborArrayItems(raw []byte) ([][]byte, error) {
	major, arg, n, err := cborHead(raw)
	if err != nil {
		return nil, err
	}
	if major != cborArray {
		return nil, errors.New("cbor: not an array")
	}
	// Well-formed already: lengths are within bounds.
	items := make([][]byte, 0, int(arg))
	for range int(arg) {
		m, err := cborItemLen(raw[n:], cborLimits{depth: 1 << 20, elems: 1 << 30}, 0)
		if err != nil {
			return nil, err
		}
		items = append(items, raw[n:n+m:n+m])
		n += m
	}
	return items, nil
}

// cborUintOf returns the unsigned integer raw holds.
func cborUintOf(raw []byte) (uint64, error) {
	major, arg, _, err := cborHead(raw)
	if err != nil {
		return 0, err
	}
	if major != cborUint {
		return 0, errors.New("cbor: not an unsigned integer")
	}
	return arg, nil
}

// cborString reads the definite-length byte string (major cborBytes) or
// text string (cborText) at the start of b: its contents, which share b's
// memory, and what follows it.
func cborString(b []byte, major byte) (s, rest []byte, err error) {
	m, arg, n, err := cborHead(b)
	if err != nil {
		return nil, nil, err
	}
	if m != major {
		return nil, nil, fmt.Errorf("cbor: major type %d, want %d", m, major)
	}
	if arg > uint64(len(b)-n) {
		return nil, nil, errCBORTruncated
	}
	s, rest = b[n:n+int(arg)], b[n+int(arg):]
	if major == cborText && !utf8.Valid(s) {
		return nil, nil, errors.New("cbor: text string is not valid UTF-8")
	}
	return s, rest, nil
}
