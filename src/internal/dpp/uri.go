package dpp

import (
	"crypto/ecdh"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"strconv"
	"strings"
)

// A URI is a parsed, checked DPP bootstrapping URI ("DPP:...;;"), as
// printed in a device's QR code (Wi-Fi Easy Connect 5.2.1).
type URI struct {
	// Raw is the URI as given, for hostapd.
	Raw string
	// Channels are the global operating class/channel pairs (C:).
	Channels []Channel
	// MAC is the device's MAC address (M:), if given.
	MAC net.HardwareAddr
	// Info is the free-form information (I:), often a model or serial.
	Info string
	// Version is the DPP version the device supports (V:), 1 if absent.
	Version int
	// Host is the device's DPP-over-TCP host (H:), if given.
	Host string
	// Curve names the public key's curve, e.g. "P-256".
	Curve string
	// KeyHash is SHA-256 over the DER SubjectPublicKeyInfo: the device's
	// identity across re-onboarding, as DPP itself uses.
	KeyHash string
}

// Channel is one operating class and channel from the C: list.
type Channel struct {
	Class, Channel int
}

// oids of curves DPP allows that Go's x509 does not parse (brainpool).
var brainpool = map[string]string{
	"1.3.36.3.3.2.8.1.1.7":  "brainpoolP256r1",
	"1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
	"1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1",
}

// maxURI bounds input: real DPP URIs are well under 300 bytes.
const maxURI = 1024

// ParseURI parses and checks a DPP URI. Its errors say, in plain words,
// what is wrong, so a householder scanning the wrong code learns why.
func ParseURI(s string) (*URI, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, fmt.Errorf("the code is empty")
	case len(s) > maxURI:
		return nil, fmt.Errorf("the code is too long (%d bytes) to be a Wi-Fi Easy Connect code", len(s))
	case strings.HasPrefix(s, "WIFI:"):
		return nil, fmt.Errorf("this is a Wi-Fi network QR code (WIFI:), not a device's Wi-Fi Easy Connect code (DPP:)")
	case !strings.HasPrefix(s, "DPP:"):
		return nil, fmt.Errorf("not a Wi-Fi Easy Connect code: it must start with DPP:")
	case !strings.HasSuffix(s, ";;"):
		return nil, fmt.Errorf("the code is cut short: a Wi-Fi Easy Connect code ends with ;;")
	}
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return nil, fmt.Errorf("the code holds a character (%q) no Wi-Fi Easy Connect code has", r)
		}
	}
	u := &URI{Raw: s, Version: 1}
	seen := map[string]bool{}
	body := strings.TrimSuffix(strings.TrimPrefix(s, "DPP:"), ";;")
	for _, field := range strings.Split(body, ";") {
		tag, val, ok := strings.Cut(field, ":")
		if !ok || tag == "" {
			return nil, fmt.Errorf("malformed field %q: want TAG:value", field)
		}
		if seen[tag] {
			return nil, fmt.Errorf("the %s: field appears twice", tag)
		}
		seen[tag] = true
		var err error
		switch tag {
		case "C":
			u.Channels, err = parseChannels(val)
		case "M":
			u.MAC, err = parseMAC(val)
		case "I":
			u.Info = val
		case "V":
			u.Version, err = strconv.Atoi(val)
			if err != nil || u.Version < 1 || u.Version > 255 {
				err = fmt.Errorf("V: version %q is not a number from 1 to 255", val)
			}
		case "H":
			if val == "" {
				err = fmt.Errorf("H: host is empty")
			}
			u.Host = val
		case "K":
			u.Curve, u.KeyHash, err = parseKey(val)
		default:
			// Later versions add tags; a device must not be refused for them.
		}
		if err != nil {
			return nil, err
		}
	}
	if !seen["K"] {
		return nil, fmt.Errorf("K: the device's public key is missing")
	}
	return u, nil
}

func parseChannels(v string) ([]Channel, error) {
	var out []Channel
	for _, p := range strings.Split(v, ",") {
		cls, ch, ok := strings.Cut(p, "/")
		c, err1 := strconv.Atoi(cls)
		n, err2 := strconv.Atoi(ch)
		if !ok || err1 != nil || err2 != nil || c < 1 || c > 255 || n < 1 || n > 233 {
			return nil, fmt.Errorf("C: %q is not an operating class/channel pair like 81/6", p)
		}
		out = append(out, Channel{c, n})
	}
	return out, nil
}

func parseMAC(v string) (net.HardwareAddr, error) {
	b, err := hex.DecodeString(v)
	if err != nil || len(b) != 6 {
		return nil, fmt.Errorf("M: %q is not a MAC address (12 hex digits)", v)
	}
	return net.HardwareAddr(b), nil
}

// Curve OIDs DPP allows (RFC 5480; brainpool from RFC 5639).
var (
	oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	curves         = map[string]elliptic.Curve{
		"1.2.840.10045.3.1.7": elliptic.P256(),
		"1.3.132.0.34":        elliptic.P384(),
		"1.3.132.0.35":        elliptic.P521(),
	}
)

// ecdhCurves check uncompressed points (NewPublicKey rejects off-curve ones).
var ecdhCurves = map[elliptic.Curve]ecdh.Curve{
	elliptic.P256(): ecdh.P256(),
	elliptic.P384(): ecdh.P384(),
	elliptic.P521(): ecdh.P521(),
}

// parseKey checks K: a base64 DER SubjectPublicKeyInfo of an EC key on a
// curve DPP allows. DPP devices send the point compressed, which Go's x509
// parser does not accept, so the SPKI is read here and the point checked
// to lie on its curve.
func parseKey(v string) (curve, hash string, err error) {
	der, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return "", "", fmt.Errorf("K: the public key is not valid base64")
	}
	sum := sha256.Sum256(der)
	hash = hex.EncodeToString(sum[:])
	var spki struct {
		Algo struct {
			OID   asn1.ObjectIdentifier
			Curve asn1.RawValue `asn1:"optional"`
		}
		Key asn1.BitString
	}
	if rest, err := asn1.Unmarshal(der, &spki); err != nil || len(rest) > 0 {
		return "", "", fmt.Errorf("K: the public key cannot be read (not a DER SubjectPublicKeyInfo)")
	}
	if !spki.Algo.OID.Equal(oidECPublicKey) {
		return "", "", fmt.Errorf("K: the key is not an elliptic-curve key (algorithm %v); DPP needs one", spki.Algo.OID)
	}
	var curveOID asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(spki.Algo.Curve.FullBytes, &curveOID); err != nil {
		return "", "", fmt.Errorf("K: the key does not name its curve")
	}
	if name, ok := brainpool[curveOID.String()]; ok {
		return "", "", fmt.Errorf("K: the key is on %s, which this router does not support (P-256, P-384 or P-521 are)", name)
	}
	c, ok := curves[curveOID.String()]
	if !ok {
		return "", "", fmt.Errorf("K: the key's curve (%v) is not one DPP allows", curveOID)
	}
	pt := spki.Key.RightAlign()
	var x *big.Int
	switch {
	case len(pt) > 0 && (pt[0] == 2 || pt[0] == 3):
		x, _ = elliptic.UnmarshalCompressed(c, pt)
	case len(pt) > 0 && pt[0] == 4:
		if _, err := ecdhCurves[c].NewPublicKey(pt); err == nil {
			x = big.NewInt(1)
		}
	}
	if x == nil {
		return "", "", fmt.Errorf("K: the public key is not a point on %s", c.Params().Name)
	}
	return c.Params().Name, hash, nil
}

// Freqs returns the 2.4/5 GHz centre frequencies of the channels the
// device listens on, in order, for DPP_LISTEN and channel choice.
func (u *URI) Freqs() []int {
	var out []int
	for _, c := range u.Channels {
		if f := freq(c); f > 0 {
			out = append(out, f)
		}
	}
	return out
}

// freq maps a global operating class and channel to MHz (IEEE 802.11
// Annex E, the classes DPP devices use).
func freq(c Channel) int {
	switch {
	case c.Class == 81 && c.Channel >= 1 && c.Channel <= 13:
		return 2407 + 5*c.Channel
	case c.Class == 82 && c.Channel == 14:
		return 2484
	case c.Class >= 115 && c.Class <= 130:
		return 5000 + 5*c.Channel
	}
	return 0
}
