package brski

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
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

// maxJPYHeader bounds the header the proxy accepts back: its own are 40
// bytes (see headerKeys).
const maxJPYHeader = 64

var jpyLimits = cborLimits{depth: 4, elems: 16}

// MarshalJPY encodes a JPY message.
func MarshalJPY(header, content []byte) ([]byte, error) {
	b := make([]byte, 0, 2+9+len(header)+9+len(content))
	b = appendCBORHead(b, cborArray, 2)
	b = appendCBORBytes(b, header)
	return appendCBORBytes(b, content), nil
}

// DecodeJPY parses a JPY message into its header and content.
func DecodeJPY(b []byte) (header, content []byte, err error) {
	if err := cborCheck(b, jpyLimits); err != nil {
		return nil, nil, fmt.Errorf("JPY message is not a CBOR array: %w", err)
	}
	msg, err := cborArrayItems(b)
	if err != nil {
		return nil, nil, fmt.Errorf("JPY message is not a CBOR array: %w", err)
	}
	if len(msg) != 2 {
		return nil, nil, fmt.Errorf("JPY message has %d elements, want 2", len(msg))
	}
	if header, err = cborStringOf(msg[0], cborBytes); err != nil {
		return nil, nil, errors.New("JPY header is not a byte string")
	}
	if content, err = cborStringOf(msg[1], cborBytes); err != nil {
		return nil, nil, errors.New("JPY content is not a byte string")
	}
	if len(header) > maxJPYHeader {
		return nil, nil, fmt.Errorf("JPY header of %d bytes exceeds %d", len(header), maxJPYHeader)
	}
	return header, content, nil
}

// Errors opening a header. All mean the message is silently dropped
// (draft §4.5.5); they are only counted.
var (
	errHeaderAuth    = errors.New("JPY header fails authentication")
	errHeaderExpired = errors.New("JPY header has expired")
	errHeaderShape   = errors.New("JPY header has the wrong size")
)

// headerKeys seal the pledge's address into JPY headers with AES-128-GCM
// under a key that lives only in memory and is replaced every rotate;
// the previous key still opens headers for grace after a rotation, so
// exchanges in flight survive it.
//
// A header is nonce(12) ‖ GCM(ifindex(2) ‖ port(2) ‖ iid(8)) ‖ tag(16),
// 40 bytes. The nonce starts with the sealing time in seconds: GCM
// authenticates it, so a header replayed after maxAge is refused. Only
// link-local pledges are relayed (RFC 8995 §4.1), so the interface
// identifier stands for the whole address.
type headerKeys struct {
	rotate, grace, maxAge time.Duration
	now                   func() time.Time

	mu        sync.Mutex
	cur, prev cipher.AEAD
	rotatedAt time.Time
}

const (
	headerNonce = 12
	headerPlain = 2 + 2 + 8
	headerSize  = headerNonce + headerPlain + 16
)

func newHeaderKeys(rotate, grace, maxAge time.Duration, now func() time.Time) (*headerKeys, error) {
	k := &headerKeys{rotate: rotate, grace: grace, maxAge: maxAge, now: now}
	aead, err := newKey()
	if err != nil {
		return nil, err
	}
	k.cur, k.rotatedAt = aead, now()
	return k, nil
}

func newKey() (cipher.AEAD, error) {
	key := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("failed to draw a JPY header key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// maybeRotate replaces the key once it is rotate old.
func (k *headerKeys) maybeRotate() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.now().Sub(k.rotatedAt) < k.rotate {
		return nil
	}
	aead, err := newKey()
	if err != nil {
		return err
	}
	k.prev, k.cur, k.rotatedAt = k.cur, aead, k.now()
	return nil
}

// seal returns the header for a pledge at src (link-local) on interface
// ifindex.
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
	aead := k.cur
	k.mu.Unlock()
	h := make([]byte, headerNonce, headerSize)
	binary.BigEndian.PutUint32(h, uint32(k.now().Unix()))
	if _, err := rand.Read(h[4:headerNonce]); err != nil {
		return nil, fmt.Errorf("failed to draw a JPY header nonce: %w", err)
	}
	var plain [headerPlain]byte
	binary.BigEndian.PutUint16(plain[0:], uint16(ifindex))
	binary.BigEndian.PutUint16(plain[2:], src.Port())
	a16 := a.As16()
	copy(plain[4:], a16[8:])
	return aead.Seal(h, h[:headerNonce], plain[:], nil), nil
}

// open returns the interface index and pledge address sealed in h.
func (k *headerKeys) open(h []byte) (int, netip.AddrPort, error) {
	if len(h) != headerSize {
		return 0, netip.AddrPort{}, errHeaderShape
	}
	k.mu.Lock()
	keys := []cipher.AEAD{k.cur}
	if k.prev != nil && k.now().Sub(k.rotatedAt) < k.grace {
		keys = append(keys, k.prev)
	}
	k.mu.Unlock()
	nonce := h[:headerNonce]
	for _, aead := range keys {
		plain, err := aead.Open(nil, nonce, h[headerNonce:], nil)
		if err != nil {
			continue
		}
		sealed := time.Unix(int64(binary.BigEndian.Uint32(nonce)), 0)
		if age := k.now().Sub(sealed); age > k.maxAge || age < -time.Minute {
			return 0, netip.AddrPort{}, errHeaderExpired
		}
		var a16 [16]byte
		a16[0], a16[1] = 0xfe, 0x80
		copy(a16[8:], plain[4:])
		ifindex := int(binary.BigEndian.Uint16(plain[0:]))
		return ifindex, netip.AddrPortFrom(netip.AddrFrom16(a16), binary.BigEndian.Uint16(plain[2:])), nil
	}
	return 0, netip.AddrPort{}, errHeaderAuth
}
