package brski

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// JPY messages (draft-ietf-anima-constrained-join-proxy §4.5): one CBOR
// array [jpy_header: bstr, jpy_content: bstr] per UDP datagram between
// the stateless proxy and the registrar.

// maxJPYHeader bounds the header accepted back: the draft's MTU budget
// assumes at most 32 bytes (§4.5.4); the proxy's own are headerSize.
const maxJPYHeader = 32

// MarshalJPY encodes a JPY message. The encoding is written by hand (it
// is two byte strings in an array): the proxy does it for every datagram.
func MarshalJPY(header, content []byte) []byte {
	out := make([]byte, 0, 1+2*5+len(header)+len(content))
	out = append(out, 0x82) // array of 2
	out = appendCBORBytes(out, header)
	return appendCBORBytes(out, content)
}

// appendCBORBytes appends b as a CBOR byte string, its length in the
// shortest form (RFC 8949 §4.2.1).
func appendCBORBytes(out, b []byte) []byte {
	n := len(b)
	switch {
	case n < 24:
		out = append(out, 0x40|byte(n))
	case n <= 0xff:
		out = append(out, 0x58, byte(n))
	case n <= 0xffff:
		out = append(out, 0x59, byte(n>>8), byte(n))
	default:
		out = binary.BigEndian.AppendUint32(append(out, 0x5a), uint32(n))
	}
	return append(out, b...)
}

// DecodeJPY parses a JPY message into its header and content, which
// share b's memory. It takes exactly a definite-length array of two
// definite-length byte strings, with nothing after it.
func DecodeJPY(b []byte) (header, content []byte, err error) {
	major, n, rest, err := cborHead(b)
	if err != nil || major != 4 {
		return nil, nil, errors.New("JPY message is not a CBOR array")
	}
	if n != 2 {
		return nil, nil, fmt.Errorf("JPY message has %d elements, want 2", n)
	}
	if header, rest, err = cborBytes(rest); err != nil {
		return nil, nil, errors.New("JPY header is not a byte string")
	}
	if content, rest, err = cborBytes(rest); err != nil {
		return nil, nil, errors.New("JPY content is not a byte string")
	}
	if len(rest) > 0 {
		return nil, nil, fmt.Errorf("JPY message has %d extraneous bytes after it", len(rest))
	}
	if len(header) > maxJPYHeader {
		return nil, nil, fmt.Errorf("JPY header of %d bytes exceeds %d", len(header), maxJPYHeader)
	}
	return header, content, nil
}

// cborHead reads the head of a CBOR data item (RFC 8949 §3): its major
// type and argument. Indefinite lengths and reserved values are refused.
func cborHead(b []byte) (major byte, arg uint64, rest []byte, err error) {
	if len(b) == 0 {
		return 0, 0, nil, errors.New("no CBOR item")
	}
	major, info := b[0]>>5, b[0]&0x1f
	b = b[1:]
	switch {
	case info < 24:
		return major, uint64(info), b, nil
	case info <= 27:
		k := 1 << (info - 24)
		if len(b) < k {
			return 0, 0, nil, errors.New("CBOR head truncated")
		}
		for _, c := range b[:k] {
			arg = arg<<8 | uint64(c)
		}
		return major, arg, b[k:], nil
	}
	return 0, 0, nil, errors.New("CBOR indefinite length or reserved value")
}

// cborBytes reads one definite-length byte string.
func cborBytes(b []byte) (bs, rest []byte, err error) {
	major, n, rest, err := cborHead(b)
	if err != nil || major != 2 || n > uint64(len(rest)) {
		return nil, nil, errors.New("not a byte string")
	}
	return rest[:n], rest[n:], nil
}

// Errors opening a header. All mean the message is silently dropped
// (draft §4.5.5); they are only counted.
var (
	errHeaderAuth  = errors.New("JPY header fails authentication")
	errHeaderShape = errors.New("JPY header has the wrong size")
)

// headerKeys seal the pledge's address into JPY headers under keys that
// live only in memory and are replaced every rotate; the previous key
// still opens headers for grace after a rotation, so exchanges in flight
// survive it.
//
// The registrar tells pledges apart by the header alone (draft §4.4: the
// same header is the same UDP connection, another header another one), so
// a pledge's header must not change while its flow lasts: sealing is
// deterministic. A header is
//
//	c = AES-128(k1, ifindex(2) ‖ port(2) ‖ iid(8) ‖ zero(4)) ‖ AES-128(k2, c)[:8]
//
// 24 bytes: one block encrypted alone (the same pledge always gives the
// same block, which is the point, and nothing else is learnt from it),
// then a 64-bit tag, as draft §7 recommends for protecting the header:
// the block encrypted again under an independent key, which for a
// message of exactly one block is a secure MAC (CBC-MAC of one block).
// A header the proxy did not make does not open (and the zero field is
// checked after decryption besides). Only link-local pledges are relayed
// (RFC 8995 §4.1), so the interface identifier stands for the whole
// address.
//
// A header carries no time: it is accepted back, replayed or not, for as
// long as its key lives, at most rotate + grace (README: Not there yet).
type headerKeys struct {
	rotate, grace time.Duration
	now           func() time.Time

	mu        sync.Mutex
	cur, prev *headerKey
	rotatedAt time.Time
}

// A headerKey is one generation of keys: the block cipher that hides the
// pledge and the one that authenticates the result.
type headerKey struct {
	hide, tag cipher.Block
}

const (
	headerPlain = aes.BlockSize
	headerTag   = 8
	headerSize  = headerPlain + headerTag
)

func newHeaderKeys(rotate, grace time.Duration, now func() time.Time) (*headerKeys, error) {
	k := &headerKeys{rotate: rotate, grace: grace, now: now}
	key, err := newHeaderKey()
	if err != nil {
		return nil, err
	}
	k.cur, k.rotatedAt = key, now()
	return k, nil
}

func newHeaderKey() (*headerKey, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("failed to draw a JPY header key: %w", err)
	}
	hide, err := aes.NewCipher(b[:16])
	if err != nil {
		return nil, err
	}
	tag, err := aes.NewCipher(b[16:])
	if err != nil {
		return nil, err
	}
	return &headerKey{hide: hide, tag: tag}, nil
}

// mac returns the tag of the encrypted block c.
func (k *headerKey) mac(c []byte) [headerTag]byte {
	var t [aes.BlockSize]byte
	k.tag.Encrypt(t[:], c)
	return [headerTag]byte(t[:headerTag])
}

// maybeRotate replaces the key once it is rotate old.
func (k *headerKeys) maybeRotate() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.now().Sub(k.rotatedAt) < k.rotate {
		return nil
	}
	key, err := newHeaderKey()
	if err != nil {
		return err
	}
	k.prev, k.cur, k.rotatedAt = k.cur, key, k.now()
	return nil
}

// seal returns the header for a pledge at src (link-local) on interface
// ifindex: the same one every time until the key rotates.
func (k *headerKeys) seal(ifindex int, src netip.AddrPort) ([]byte, error) {
	a := src.Addr()
	if !a.Is6() || !a.IsLinkLocalUnicast() {
		return nil, fmt.Errorf("pledge %s is not IPv6 link-local", src)
	}
	if ifindex <= 0 || ifindex > 0xffff {
		return nil, fmt.Errorf("interface index %d out of range", ifindex)
	}
	if err := k.maybeRotate(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	key := k.cur
	k.mu.Unlock()
	var plain [headerPlain]byte
	binary.BigEndian.PutUint16(plain[0:], uint16(ifindex))
	binary.BigEndian.PutUint16(plain[2:], src.Port())
	a16 := a.As16()
	copy(plain[4:12], a16[8:])
	h := make([]byte, headerPlain, headerSize)
	key.hide.Encrypt(h, plain[:])
	tag := key.mac(h)
	return append(h, tag[:]...), nil
}

// open returns the interface index and pledge address sealed in h.
func (k *headerKeys) open(h []byte) (int, netip.AddrPort, error) {
	if len(h) != headerSize {
		return 0, netip.AddrPort{}, errHeaderShape
	}
	k.mu.Lock()
	keys := []*headerKey{k.cur}
	if k.prev != nil && k.now().Sub(k.rotatedAt) < k.grace {
		keys = append(keys, k.prev)
	}
	k.mu.Unlock()
	c, tag := h[:headerPlain], h[headerPlain:]
	for _, key := range keys {
		if want := key.mac(c); subtle.ConstantTimeCompare(want[:], tag) != 1 {
			continue
		}
		var plain [headerPlain]byte
		key.hide.Decrypt(plain[:], c)
		if binary.BigEndian.Uint32(plain[12:]) != 0 {
			continue
		}
		var a16 [16]byte
		a16[0], a16[1] = 0xfe, 0x80
		copy(a16[8:], plain[4:12])
		ifindex := int(binary.BigEndian.Uint16(plain[0:]))
		return ifindex, netip.AddrPortFrom(netip.AddrFrom16(a16), binary.BigEndian.Uint16(plain[2:])), nil
	}
	return 0, netip.AddrPort{}, errHeaderAuth
}
