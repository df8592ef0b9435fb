// Package mudtest makes certificates and detached CMS signatures for tests
// of MUD signature checking, with crypto/x509 and encoding/asn1 only, so
// tests sign their own files the way manufacturers do with
// `openssl cms -sign -binary -outform DER`.
package mudtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"sort"
	"testing"
	"time"
)

// A CA issues signing certificates.
type CA struct {
	Cert *x509.Certificate
	key  crypto.Signer
}

var serial int64 = 1000

func next() *big.Int {
	serial++
	return big.NewInt(serial)
}

// NewCA returns a self-signed root valid from nb to na.
func NewCA(t testing.TB, name string, nb, na time.Time) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: next(), Subject: pkix.Name{CommonName: name}, NotBefore: nb, NotAfter: na,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &CA{Cert: c, key: key}
}

// Pool holds just this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// PEM is the CA certificate as a trust anchor file holds it.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Intermediate issues a subordinate CA.
func (ca *CA) Intermediate(t testing.TB, name string, nb, na time.Time) *CA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: next(), Subject: pkix.Name{CommonName: name}, NotBefore: nb, NotAfter: na,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &CA{Cert: c, key: key}
}

// A Signer signs MUD files.
type Signer struct {
	Cert *x509.Certificate
	key  crypto.Signer
}

// PEM is the signer's certificate in PEM.
func (s *Signer) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Cert.Raw})
}

// KeyPEM is the signer's private key in PKCS #8 PEM, for signing with
// other tools (openssl cms) in tests.
func (s *Signer) KeyPEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// Signer issues a signing certificate (RSA or ECDSA P-256) with the
// digitalSignature key usage and the given extended usages.
func (ca *CA) Signer(t testing.TB, name string, useRSA bool, eku []x509.ExtKeyUsage, nb, na time.Time) *Signer {
	return ca.issue(t, name, useRSA, x509.KeyUsageDigitalSignature, eku, nb, na)
}

// SignerKU issues an ECDSA signing certificate with exactly this key usage.
func (ca *CA) SignerKU(t testing.TB, name string, ku x509.KeyUsage, nb, na time.Time) *Signer {
	return ca.issue(t, name, false, ku, nil, nb, na)
}

func (ca *CA) issue(t testing.TB, name string, useRSA bool, ku x509.KeyUsage, eku []x509.ExtKeyUsage, nb, na time.Time) *Signer {
	t.Helper()
	var key crypto.Signer
	var err error
	if useRSA {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: next(), Subject: pkix.Name{CommonName: name}, NotBefore: nb, NotAfter: na,
		KeyUsage: ku, ExtKeyUsage: eku,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &Signer{Cert: c, key: key}
}

// Sign returns a detached DER CMS SignedData over file, with signed
// attributes (content type, message digest, signing time at) or without.
func (s *Signer) Sign(t testing.TB, file []byte, attrs bool, at time.Time) []byte {
	return s.SignWith(t, file, attrs, at)
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type signerInfo struct {
	Version            int
	SID                issuerAndSerial
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
}

type encap struct {
	EContentType asn1.ObjectIdentifier
}

type signedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo encap
	Certificates     asn1.RawValue
	SignerInfos      []signerInfo `asn1:"set"`
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue
}

var (
	oidData   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSigned = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidRSA    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidECDSA  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
)

func der(t testing.TB, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func attr(t testing.TB, oid asn1.ObjectIdentifier, v any) []byte {
	val := der(t, v)
	return der(t, attribute{Type: oid, Values: asn1.RawValue{FullBytes: append(setHeader(len(val)), val...)}})
}

// setHeader is the DER header of a SET of n content bytes.
func setHeader(n int) []byte {
	switch {
	case n < 0x80:
		return []byte{0x31, byte(n)}
	case n < 0x100:
		return []byte{0x31, 0x81, byte(n)}
	default:
		return []byte{0x31, 0x82, byte(n >> 8), byte(n)}
	}
}

// SignWith is Sign that also carries extra certificates (intermediates).
func (s *Signer) SignWith(t testing.TB, file []byte, attrs bool, at time.Time, extra ...*x509.Certificate) []byte {
	t.Helper()
	sum := sha256.Sum256(file)
	msg := file
	var signedAttrs asn1.RawValue
	if attrs {
		parts := [][]byte{
			attr(t, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}, oidData),
			attr(t, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}, at.UTC()),
			attr(t, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}, sum[:]),
		}
		// DER orders a SET OF by encoding.
		sort.Slice(parts, func(i, j int) bool { return string(parts[i]) < string(parts[j]) })
		var body []byte
		for _, p := range parts {
			body = append(body, p...)
		}
		set := append(setHeader(len(body)), body...)
		msg = set
		implicit := append([]byte{0xA0}, set[1:]...)
		signedAttrs = asn1.RawValue{FullBytes: implicit}
	}
	h := sha256.Sum256(msg)
	var sig []byte
	var err error
	alg := oidECDSA
	switch k := s.key.(type) {
	case *rsa.PrivateKey:
		alg = oidRSA
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:])
	default:
		sig, err = s.key.Sign(rand.Reader, h[:], crypto.SHA256)
	}
	if err != nil {
		t.Fatal(err)
	}
	var certs []byte
	for _, c := range append([]*x509.Certificate{s.Cert}, extra...) {
		certs = append(certs, c.Raw...)
	}
	certHdr := setHeader(len(certs))
	certHdr[0] = 0xA0
	sd := signedData{
		Version:          1,
		DigestAlgorithms: []pkix.AlgorithmIdentifier{{Algorithm: oidSHA256}},
		EncapContentInfo: encap{EContentType: oidData},
		Certificates:     asn1.RawValue{FullBytes: append(certHdr, certs...)},
		SignerInfos: []signerInfo{{
			Version:            1,
			SID:                issuerAndSerial{Issuer: asn1.RawValue{FullBytes: s.Cert.RawIssuer}, Serial: s.Cert.SerialNumber},
			DigestAlgorithm:    pkix.AlgorithmIdentifier{Algorithm: oidSHA256},
			SignedAttrs:        signedAttrs,
			SignatureAlgorithm: pkix.AlgorithmIdentifier{Algorithm: alg},
			Signature:          sig,
		}},
	}
	inner := der(t, sd)
	return der(t, contentInfo{ContentType: oidSigned, Content: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}})
}
