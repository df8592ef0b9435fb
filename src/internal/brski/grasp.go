package brski

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"unicode/utf8"
)

// GRASP (RFC 8990) constants the join proxy needs.
const (
	// GRASPPort is GRASP_LISTEN_PORT, where DULL floods are sent.
	GRASPPort = 7017
	// mFlood is the M_FLOOD message type.
	mFlood = 9
	// oIPv6Locator is the O_IPv6_LOCATOR option.
	oIPv6Locator = 103
	// fSynch is the F_SYNCH objective flag (RFC 8995 §4.1.1 "sync-only").
	fSynch = 4
	// maxGRASP is GRASP_DEF_MAX_SIZE: nothing longer is parsed.
	maxGRASP = 2048
	// proxyTTL is how long, in ms, an announcement stays valid (RFC 8995
	// §4.1.1: 180000).
	proxyTTL = 180000

	// ObjectiveProxy and ObjectiveRegistrar are the objectives of RFC 8995
	// §4.1.1 and §4.3, compared byte for byte.
	ObjectiveProxy     = "AN_Proxy"
	ObjectiveRegistrar = "AN_join_registrar"
)

// AllGRASPNeighbors is ALL_GRASP_NEIGHBORS, the link-local group floods go to.
var AllGRASPNeighbors = netip.MustParseAddr("ff02::13")

// A Flood is a GRASP M_FLOOD message.
type Flood struct {
	SessionID uint32
	// Initiator is the announcing node's address.
	Initiator netip.Addr
	// TTL is how long the objectives are valid, in milliseconds; zero
	// means for ever.
	TTL        uint32
	Objectives []FloodObjective
}

// A FloodObjective is one objective and the locator that comes with it.
type FloodObjective struct {
	Name      string
	Flags     uint8
	LoopCount uint8
	// Value is the objective's value as CBOR, one item; nil when absent.
	Value []byte
	// Locator is nil when the flood carries an empty locator ([]).
	Locator *Locator
}

// A Locator is an O_IPv6_LOCATOR option; other locator kinds are kept
// only by their option number.
type Locator struct {
	Option uint16
	Addr   netip.Addr
	Proto  uint8
	Port   uint16
}

// ProxyFlood returns the AN_Proxy announcement of RFC 8995 §4.1.1 for a
// proxy listening on ll (a link-local address) and TCP port, with a fresh
// random session id.
func ProxyFlood(ll netip.Addr, port uint16) (Flood, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Flood{}, fmt.Errorf("failed to draw a GRASP session id: %w", err)
	}
	ll = ll.WithZone("")
	return Flood{
		SessionID: binary.BigEndian.Uint32(b[:]),
		Initiator: ll,
		TTL:       proxyTTL,
		Objectives: []FloodObjective{{
			Name: ObjectiveProxy, Flags: fSynch, LoopCount: 1, Value: []byte{0x60}, // ""
			Locator: &Locator{Option: oIPv6Locator, Addr: ll, Proto: 6, Port: port},
		}},
	}, nil
}

// Marshal encodes f as GRASP CBOR: [M_FLOOD, session-id, initiator, ttl,
// [objective, locator-or-[]]...].
func (f Flood) Marshal() ([]byte, error) {
	if !f.Initiator.IsValid() || len(f.Objectives) == 0 {
		return nil, errors.New("GRASP flood needs an initiator and at least one objective")
	}
	b := appendCBORHead(nil, cborArray, uint64(4+len(f.Objectives)))
	b = appendCBORUint(b, mFlood)
	b = appendCBORUint(b, uint64(f.SessionID))
	b = appendCBORBytes(b, f.Initiator.AsSlice())
	b = appendCBORUint(b, uint64(f.TTL))
	for _, o := range f.Objectives {
		if !utf8.ValidString(o.Name) {
			return nil, fmt.Errorf("GRASP objective %q: name is not valid UTF-8", o.Name)
		}
		b = appendCBORHead(b, cborArray, 2)
		fields := uint64(3)
		if o.Value != nil {
			if err := cborCheck(o.Value, graspLimits); err != nil {
				return nil, fmt.Errorf("GRASP objective %q: value is not one CBOR item: %w", o.Name, err)
			}
			fields++
		}
		b = appendCBORHead(b, cborArray, fields)
		b = appendCBORText(b, o.Name)
		b = appendCBORUint(b, uint64(o.Flags))
		b = appendCBORUint(b, uint64(o.LoopCount))
		if o.Value != nil {
			b = append(b, o.Value...)
		}
		if o.Locator == nil {
			b = appendCBORHead(b, cborArray, 0)
			continue
		}
		if o.Locator.Option != oIPv6Locator || !o.Locator.Addr.Is6() {
			return nil, fmt.Errorf("GRASP objective %q: only IPv6 locators are encoded", o.Name)
		}
		b = appendCBORHead(b, cborArray, 4)
		b = appendCBORUint(b, oIPv6Locator)
		b = appendCBORBytes(b, o.Locator.Addr.WithZone("").AsSlice())
		b = appendCBORUint(b, uint64(o.Locator.Proto))
		b = appendCBORUint(b, uint64(o.Locator.Port))
	}
	if len(b) > maxGRASP {
		return nil, fmt.Errorf("GRASP flood of %d bytes exceeds %d", len(b), maxGRASP)
	}
	return b, nil
}

// graspLimits bound what a hostile message can make the decoder do.
var graspLimits = cborLimits{depth: 8, elems: 64}

// DecodeFlood parses one GRASP M_FLOOD message, refusing anything that
// does not have the RFC 8990 §2.8.11 shape.
func DecodeFlood(b []byte) (Flood, error) {
	var f Flood
	if len(b) > maxGRASP {
		return f, fmt.Errorf("GRASP message of %d bytes exceeds %d", len(b), maxGRASP)
	}
	msg, err := decodeArray(b)
	if err != nil {
		return f, fmt.Errorf("GRASP message is not a CBOR array: %w", err)
	}
	if len(msg) < 5 {
		return f, fmt.Errorf("GRASP M_FLOOD has %d elements, want at least 5", len(msg))
	}
	typ, err := cborUintOf(msg[0])
	if err != nil {
		return f, fmt.Errorf("GRASP message type: %w", err)
	}
	if typ != mFlood {
		return f, fmt.Errorf("GRASP message type %d is not M_FLOOD (%d)", typ, mFlood)
	}
	if f.SessionID, err = decodeUint[uint32](msg[1], "session-id"); err != nil {
		return f, err
	}
	if f.Initiator, err = decodeAddr(msg[2], "initiator"); err != nil {
		return f, err
	}
	if f.TTL, err = decodeUint[uint32](msg[3], "ttl"); err != nil {
		return f, err
	}
	for i, raw := range msg[4:] {
		o, err := decodeObjective(raw)
		if err != nil {
			return Flood{}, fmt.Errorf("GRASP M_FLOOD objective %d: %w", i+1, err)
		}
		f.Objectives = append(f.Objectives, o)
	}
	return f, nil
}

// decodeArray checks that b is one well-formed CBOR item within
// graspLimits, a definite-length array, and returns its elements.
func decodeArray(b []byte) ([][]byte, error) {
	if err := cborCheck(b, graspLimits); err != nil {
		return nil, err
	}
	return cborArrayItems(b)
}

// decodeObjective decodes raw, an element of a checked message.
func decodeObjective(raw []byte) (FloodObjective, error) {
	var o FloodObjective
	pair, err := cborArrayItems(raw)
	if err != nil || len(pair) != 2 {
		return o, errors.New("want [objective, locator-option / []]")
	}
	obj, err := cborArrayItems(pair[0])
	if err != nil || len(obj) < 3 || len(obj) > 4 {
		return o, errors.New("want objective [name, flags, loop-count, ?value]")
	}
	name, _, err := cborString(obj[0], cborText)
	if err != nil || len(name) == 0 {
		return o, errors.New("objective name is not a non-empty text string")
	}
	o.Name = string(name)
	if o.Flags, err = decodeUint[uint8](obj[1], "objective-flags"); err != nil {
		return o, err
	}
	if o.LoopCount, err = decodeUint[uint8](obj[2], "loop-count"); err != nil {
		return o, err
	}
	if len(obj) == 4 {
		o.Value = obj[3]
	}
	loc, err := cborArrayItems(pair[1])
	if err != nil {
		return o, errors.New("locator is not an array")
	}
	if len(loc) == 0 {
		return o, nil
	}
	l := &Locator{}
	if l.Option, err = decodeUint[uint16](loc[0], "locator option"); err != nil {
		return o, err
	}
	o.Locator = l
	if l.Option != oIPv6Locator {
		return o, nil
	}
	if len(loc) != 4 {
		return o, fmt.Errorf("O_IPv6_LOCATOR has %d elements, want 4", len(loc))
	}
	if l.Addr, err = decodeAddr(loc[1], "locator address"); err != nil {
		return o, err
	}
	if !l.Addr.Is6() {
		return o, errors.New("O_IPv6_LOCATOR holds an IPv4 address")
	}
	if l.Proto, err = decodeUint[uint8](loc[2], "transport-proto"); err != nil {
		return o, err
	}
	if l.Port, err = decodeUint[uint16](loc[3], "port-number"); err != nil {
		return o, err
	}
	return o, nil
}

func decodeUint[T uint8 | uint16 | uint32](raw []byte, what string) (T, error) {
	v, err := cborUintOf(raw)
	if err != nil {
		return 0, fmt.Errorf("%s is not an unsigned integer", what)
	}
	if v > uint64(^T(0)) {
		return 0, fmt.Errorf("%s %d is out of range", what, v)
	}
	return T(v), nil
}

func decodeAddr(raw []byte, what string) (netip.Addr, error) {
	b, _, err := cborString(raw, cborBytes)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%s is not a byte string", what)
	}
	if len(b) != 16 && len(b) != 4 {
		return netip.Addr{}, fmt.Errorf("%s is %d bytes, want 16 (IPv6) or 4 (IPv4)", what, len(b))
	}
	a, _ := netip.AddrFromSlice(b)
	return a, nil
}

// Announced returns the TCP endpoint the DULL flood f, received from src,
// announces for objective name. It applies RFC 8990 §2.5.2 and RFC 8995
// §4.1.1: a link-local source, loop count 1, the F_SYNCH flag, an IPv6
// link-local TCP locator; and, since on-link floods are unauthenticated,
// the locator must be the sender itself, so a node cannot point pledges
// at a third party.
func (f Flood) Announced(name string, src netip.Addr) (netip.AddrPort, error) {
	src = src.Unmap()
	if !src.Is6() || !src.IsLinkLocalUnicast() {
		return netip.AddrPort{}, fmt.Errorf("GRASP flood from %s: DULL floods come from IPv6 link-local addresses only", src)
	}
	for _, o := range f.Objectives {
		if o.Name != name {
			continue
		}
		switch {
		case o.LoopCount != 1:
			return netip.AddrPort{}, fmt.Errorf("%s from %s: loop count %d, DULL wants 1", name, src, o.LoopCount)
		case o.Flags&fSynch == 0:
			return netip.AddrPort{}, fmt.Errorf("%s from %s: flags %d lack F_SYNCH", name, src, o.Flags)
		case o.Locator == nil || o.Locator.Option != oIPv6Locator:
			return netip.AddrPort{}, fmt.Errorf("%s from %s: no O_IPv6_LOCATOR", name, src)
		case o.Locator.Proto != 6:
			return netip.AddrPort{}, fmt.Errorf("%s from %s: transport protocol %d, only TCP (6) is supported", name, src, o.Locator.Proto)
		case o.Locator.Port == 0:
			return netip.AddrPort{}, fmt.Errorf("%s from %s: port 0", name, src)
		case o.Locator.Addr != src.WithZone(""):
			return netip.AddrPort{}, fmt.Errorf("%s from %s: locator %s is not the sender", name, src, o.Locator.Addr)
		}
		return netip.AddrPortFrom(src, o.Locator.Port), nil
	}
	return netip.AddrPort{}, fmt.Errorf("GRASP flood from %s does not announce %s", src, name)
}
