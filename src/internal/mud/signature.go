package mud

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	// Registered for crypto.Hash.New.
	_ "crypto/sha512"

	"github.com/trustjoin/trustjoin/src/internal/fsutil"
)

// SigStatus is the outcome of checking a MUD file's signature. Real files
// have every one of these (research notes, corpus), so each is told apart.
type SigStatus string

// The outcomes of VerifySignature.
const (
	// SigVerified: the signature matches the file and its signer chains to
	// a trust anchor, valid now, with code-signing usage (or no usage
	// restriction).
	SigVerified SigStatus = "verified"
	// SigNoCodeSigning: as verified, but the signer's extended key usage
	// does not include code signing (e.g. the NCCoE signer: client auth and
	// e-mail only). RFC 8520 only asks for the digitalSignature key usage.
	SigNoCodeSigning SigStatus = "verified-no-code-signing"
	// SigUnsigned: the file names no signature.
	SigUnsigned SigStatus = "unsigned"
	// SigUnfetchable: the file names a signature that could not be fetched.
	SigUnfetchable SigStatus = "signature-unfetchable"
	// SigBad: the signature is malformed or does not match the file.
	SigBad SigStatus = "bad-signature"
	// SigUntrusted: the signature matches, but its signer does not chain to
	// any configured trust anchor.
	SigUntrusted SigStatus = "untrusted-chain"
	// SigExpired: the signature matches and its signer chains to a trust
	// anchor, but a certificate of the chain is out of its validity now.
	SigExpired SigStatus = "expired-chain"
)

// Trusted reports whether the outcome proves the file comes, unchanged,
// from a signer the household trusts.
func (s SigStatus) Trusted() bool { return s == SigVerified || s == SigNoCodeSigning }

// Verification is what VerifySignature found.
type Verification struct {
	Status SigStatus
	// Detail says why, in plain language.
	Detail string
	// Signer is the signing certificate's subject, when known.
	Signer string
	// SigningTime is the signingTime attribute, when present.
	SigningTime time.Time
	// Digest is the hex SHA-256 of the file: approvals are bound to it.
	Digest string
}

// Digest returns the hex SHA-256 of a MUD file as served.
func Digest(file []byte) string {
	sum := sha256.Sum256(file)
	return hex.EncodeToString(sum[:])
}

// LoadTrustAnchors reads PEM certificates from files into a pool. Every
// file must hold at least one certificate: a typo in the configuration
// must not silently leave no anchors.
func LoadTrustAnchors(paths []string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("failed to read MUD trust anchor: %v", err)
		}
		n := 0
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("MUD trust anchor %s: %v", p, err)
			}
			pool.AddCert(c)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("MUD trust anchor %s holds no PEM certificate", p)
		}
	}
	return pool, nil
}

// OIDs of RFC 5652 (CMS), RFC 8520 and the algorithms real signers use.
var (
	oidSignedData      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidData            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidMUDType         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 41}
	oidAttrContentType = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrDigest      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningTime = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}

	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}

	oidRSA          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSASHA256    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidRSASHA384    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidRSASHA512    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidECPublicKey  = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidECDSASHA256  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSASHA384  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSASHA512  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidEd25519      = asn1.ObjectIdentifier{1, 3, 101, 112}
	digestAlgorithm = map[string]crypto.Hash{
		oidSHA256.String(): crypto.SHA256, oidSHA384.String(): crypto.SHA384, oidSHA512.String(): crypto.SHA512,
	}
)

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	EncapContentInfo encapContentInfo
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos      []signerInfo  `asn1:"set"`
}

type encapContentInfo struct {
	EContentType asn1.ObjectIdentifier
	EContent     asn1.RawValue `asn1:"optional,explicit,tag:0"`
}

type signerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

// maxSignatureSize bounds a .p7s: a signer and a few intermediates.
const maxSignatureSize = 64 << 10

// VerifySignature checks sig, a detached DER CMS SignedData, over file
// against the trust anchors, at now. A nil sig means the file named no
// signature.
func VerifySignature(file, sig []byte, anchors *x509.CertPool, now time.Time) Verification {
	v := Verification{Digest: Digest(file)}
	if sig == nil {
		v.Status, v.Detail = SigUnsigned, "the MUD file is not signed"
		return v
	}
	bad := func(format string, args ...any) Verification {
		v.Status, v.Detail = SigBad, "the MUD file's signature "+fmt.Sprintf(format, args...)
		return v
	}
	if len(sig) > maxSignatureSize {
		return bad("is larger than %d bytes", maxSignatureSize)
	}
	var ci contentInfo
	if rest, err := asn1.Unmarshal(sig, &ci); err != nil || len(rest) > 0 {
		if len(sig) > 0 && sig[0] == '-' {
			return bad("is PEM, not DER CMS")
		}
		return bad("is not a DER CMS object (%v)", errOrTrailing(err))
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return bad("is a CMS %v, not SignedData", ci.ContentType)
	}
	var sd signedData
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || len(rest) > 0 {
		return bad("is not a valid CMS SignedData (%v)", errOrTrailing(err))
	}
	if len(sd.EncapContentInfo.EContent.Bytes) > 0 {
		return bad("carries its own content; a detached signature over the MUD file was expected")
	}
	var certs []*x509.Certificate
	if len(sd.Certificates.Bytes) > 0 {
		cs, err := x509.ParseCertificates(sd.Certificates.Bytes)
		if err != nil {
			return bad("holds a certificate that cannot be read (%v)", err)
		}
		certs = cs
	}
	if len(sd.SignerInfos) != 1 {
		return bad("has %d signers; exactly one was expected", len(sd.SignerInfos))
	}
	si := sd.SignerInfos[0]
	signer, err := findSigner(si.SID, certs)
	if err != nil {
		return bad("%v", err)
	}
	v.Signer = signer.Subject.String()
	hash, ok := digestAlgorithm[si.DigestAlgorithm.Algorithm.String()]
	if !ok {
		return bad("uses digest algorithm %v, which is not supported (SHA-256, SHA-384, SHA-512 are)", si.DigestAlgorithm.Algorithm)
	}
	signed := file
	if len(si.SignedAttrs.FullBytes) > 0 {
		st, err := checkSignedAttrs(si.SignedAttrs, sd.EncapContentInfo.EContentType, hash, file)
		if err != nil {
			return bad("%v", err)
		}
		v.SigningTime = st
		// The signature is over the attributes' DER with the SET tag, not
		// the [0] IMPLICIT tag they are carried under (RFC 5652 5.4).
		signed = append([]byte{0x31}, si.SignedAttrs.FullBytes[1:]...)
	} else if !sd.EncapContentInfo.EContentType.Equal(oidData) && !sd.EncapContentInfo.EContentType.Equal(oidMUDType) {
		return bad("is over content of type %v, not data", sd.EncapContentInfo.EContentType)
	}
	if err := checkSig(signer, si.SignatureAlgorithm.Algorithm, hash, signed, si.Signature); err != nil {
		return bad("does not match the file: %v", err)
	}
	chain(&v, signer, certs, anchors, now)
	return v
}

func errOrTrailing(err error) error {
	if err == nil {
		return errors.New("trailing data")
	}
	return err
}

func findSigner(sid asn1.RawValue, certs []*x509.Certificate) (*x509.Certificate, error) {
	switch {
	case sid.Class == asn1.ClassUniversal && sid.Tag == asn1.TagSequence:
		var is issuerAndSerial
		if _, err := asn1.Unmarshal(sid.FullBytes, &is); err != nil {
			return nil, fmt.Errorf("names its signer unreadably (%v)", err)
		}
		for _, c := range certs {
			if bytes.Equal(c.RawIssuer, is.Issuer.FullBytes) && c.SerialNumber.Cmp(is.Serial) == 0 {
				return c, nil
			}
		}
	case sid.Class == asn1.ClassContextSpecific && sid.Tag == 0:
		for _, c := range certs {
			if len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, sid.Bytes) {
				return c, nil
			}
		}
	default:
		return nil, errors.New("names its signer in an unknown way")
	}
	return nil, errors.New("does not include its signer's certificate")
}

// checkSignedAttrs checks the content type and message digest attributes
// and returns the signing time, if any.
func checkSignedAttrs(raw asn1.RawValue, eType asn1.ObjectIdentifier, hash crypto.Hash, file []byte) (time.Time, error) {
	var attrs []attribute
	if _, err := asn1.UnmarshalWithParams(raw.FullBytes, &attrs, "set,tag:0"); err != nil {
		return time.Time{}, fmt.Errorf("has unreadable signed attributes (%v)", err)
	}
	var digest []byte
	var ctype asn1.ObjectIdentifier
	var st time.Time
	for _, a := range attrs {
		switch {
		case a.Type.Equal(oidAttrDigest):
			if _, err := asn1.Unmarshal(a.Values.Bytes, &digest); err != nil {
				return st, fmt.Errorf("has an unreadable message digest (%v)", err)
			}
		case a.Type.Equal(oidAttrContentType):
			if _, err := asn1.Unmarshal(a.Values.Bytes, &ctype); err != nil {
				return st, fmt.Errorf("has an unreadable content type (%v)", err)
			}
		case a.Type.Equal(oidAttrSigningTime):
			// UTCTime or GeneralizedTime; an unreadable one only loses the hint.
			_, _ = asn1.Unmarshal(a.Values.Bytes, &st)
		}
	}
	if digest == nil || ctype == nil {
		return st, errors.New("lacks the message digest or content type attribute")
	}
	if !ctype.Equal(eType) {
		return st, fmt.Errorf("says content type %v but signs %v", ctype, eType)
	}
	h := hash.New()
	h.Write(file)
	if !bytes.Equal(h.Sum(nil), digest) {
		return st, errors.New("was made over different content: the file was changed after signing, or the signature belongs to another file")
	}
	return st, nil
}

func checkSig(c *x509.Certificate, alg asn1.ObjectIdentifier, hash crypto.Hash, msg, sig []byte) error {
	if alg.Equal(oidEd25519) {
		pub, ok := c.PublicKey.(ed25519.PublicKey)
		if !ok || !ed25519.Verify(pub, msg, sig) {
			return errors.New("Ed25519 signature invalid")
		}
		return nil
	}
	h := hash.New()
	h.Write(msg)
	sum := h.Sum(nil)
	switch {
	case alg.Equal(oidRSA), alg.Equal(oidRSASHA256), alg.Equal(oidRSASHA384), alg.Equal(oidRSASHA512):
		pub, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok {
			return errors.New("RSA signature but the signer's key is not RSA")
		}
		return rsa.VerifyPKCS1v15(pub, hash, sum, sig)
	case alg.Equal(oidECPublicKey), alg.Equal(oidECDSASHA256), alg.Equal(oidECDSASHA384), alg.Equal(oidECDSASHA512):
		pub, ok := c.PublicKey.(*ecdsa.PublicKey)
		if !ok {
			return errors.New("ECDSA signature but the signer's key is not ECDSA")
		}
		if !ecdsa.VerifyASN1(pub, sum, sig) {
			return errors.New("ECDSA signature invalid")
		}
		return nil
	}
	return fmt.Errorf("signature algorithm %v is not supported", alg)
}

// chain decides between the trust outcomes once the signature matches.
func chain(v *Verification, signer *x509.Certificate, certs []*x509.Certificate, anchors *x509.CertPool, now time.Time) {
	if signer.KeyUsage != 0 && signer.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		v.Status, v.Detail = SigUntrusted, "the signing certificate is not allowed to make signatures (its key usage lacks digitalSignature)"
		return
	}
	if anchors == nil {
		v.Status, v.Detail = SigUntrusted, "the signature matches, but no MUD trust anchor is configured to check its signer "+v.Signer
		return
	}
	inter := x509.NewCertPool()
	for _, c := range certs {
		if c != signer {
			inter.AddCert(c)
		}
	}
	verify := func(at time.Time, usage x509.ExtKeyUsage) error {
		_, err := signer.Verify(x509.VerifyOptions{Roots: anchors, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{usage}})
		return err
	}
	if verify(now, x509.ExtKeyUsageCodeSigning) == nil {
		v.Status, v.Detail = SigVerified, "signed by "+v.Signer
		return
	}
	if verify(now, x509.ExtKeyUsageAny) == nil {
		v.Status, v.Detail = SigNoCodeSigning, "signed by "+v.Signer+", a trusted certificate without the code-signing usage"
		return
	}
	// Out of validity now: was the chain good when the file was signed?
	// Without a signing time, the signer's own start is the best guess.
	at := v.SigningTime
	if at.IsZero() {
		at = signer.NotBefore.Add(time.Second)
	}
	if verify(at, x509.ExtKeyUsageAny) == nil {
		v.Status = SigExpired
		v.Detail = fmt.Sprintf("signed by %s, but its certificate chain is not valid now (%s); it was on %s", v.Signer, expiry(signer, anchors, inter, at, now), at.UTC().Format("2006-01-02"))
		return
	}
	v.Status, v.Detail = SigUntrusted, "the signature matches, but its signer "+v.Signer+" does not chain to a configured MUD trust anchor"
}

// expiry names the certificate of the chain valid at that is not valid now.
func expiry(signer *x509.Certificate, anchors, inter *x509.CertPool, at, now time.Time) string {
	chains, err := signer.Verify(x509.VerifyOptions{Roots: anchors, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil || len(chains) == 0 {
		return "expired"
	}
	for _, c := range chains[0] {
		switch {
		case now.After(c.NotAfter):
			return fmt.Sprintf("%q expired on %s", c.Subject.String(), c.NotAfter.UTC().Format("2006-01-02"))
		case now.Before(c.NotBefore):
			return fmt.Sprintf("%q is valid only from %s", c.Subject.String(), c.NotBefore.UTC().Format("2006-01-02"))
		}
	}
	return "expired"
}

// Signature fetches the detached signature at u with the same rules as
// MUD files (https only, size cap, timeout, no downgrade), keeping the
// last good copy beside the cached files: a MUD file kept after a failed
// refresh must stay checkable.
func (f *Fetcher) Signature(ctx context.Context, u string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := f.sigPath(u)
	b, err := f.fetchLimit(ctx, u, maxSignatureSize, "MUD signature")
	if err != nil {
		if old, rerr := os.ReadFile(path); rerr == nil {
			return old, nil
		}
		return nil, err
	}
	if _, err := fsutil.WriteFile(path, b, 0o600); err != nil {
		return nil, err
	}
	return b, nil
}

func (f *Fetcher) sigPath(u string) string {
	return strings.TrimSuffix(f.cachePath(u), ".json") + ".p7s"
}

// CachedSignature returns the last good copy of the signature at u
// without asking the network.
func (f *Fetcher) CachedSignature(u string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, err := os.ReadFile(f.sigPath(u))
	return b, err == nil
}
