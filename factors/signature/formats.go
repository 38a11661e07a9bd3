package signature

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode"

	"github.com/go-jose/go-jose/v4"
	"github.com/smallstep/pkcs7"
)

// Format reads one kind of signed challenge. Open checks the signature
// over challenge with the signer's key and returns the signer's
// certificate and the other certificates the signature carries; it does
// not judge the certificate (Verifier does). Its errors are ErrMalformed,
// ErrBadSignature and ErrWrongChallenge. A GOST R 34.10-2012 format would
// be another Format.
type Format interface {
	Name() string
	// Detect reports whether the input looks like this format.
	Detect(sig string) bool
	Open(sig string, challenge []byte) (signer *x509.Certificate, extra []*x509.Certificate, err error)
}

// MaxSignature bounds the signature text accepted (a CMS signature with a
// chain of three certificates is a few kilobytes).
const MaxSignature = 48 << 10

// Formats are the formats read, in the order tried.
var Formats = []Format{JWS{}, CMS{}}

// Open reads a signed challenge in any of the formats.
func Open(sig string, challenge []byte) (*x509.Certificate, []*x509.Certificate, error) {
	sig = strings.TrimSpace(sig)
	if sig == "" || len(sig) > MaxSignature {
		return nil, nil, ErrMalformed
	}
	for _, f := range Formats {
		if f.Detect(sig) {
			return f.Open(sig, challenge)
		}
	}
	return nil, nil, ErrMalformed
}

// CMS is a CMS/PKCS#7 SignedData with detached content (RFC 5652), in
// base64 or PEM ("PKCS7", "CMS"), carrying the signer's certificate: what
// "openssl cms -sign -binary -outform DER" and CryptoPro's tools make.
type CMS struct{}

func (CMS) Name() string { return "cms" }

func (CMS) Detect(sig string) bool { return true } // the fallback

func (CMS) Open(sig string, challenge []byte) (*x509.Certificate, []*x509.Certificate, error) {
	der, err := cmsBytes(sig)
	if err != nil {
		return nil, nil, ErrMalformed
	}
	p7, err := parsePKCS7(der)
	if err != nil || len(p7.Signers) != 1 {
		return nil, nil, ErrMalformed
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		return nil, nil, ErrMalformed
	}
	if len(p7.Content) > 0 && !bytes.Equal(p7.Content, challenge) {
		// Attached content: it must be the challenge itself.
		return nil, nil, ErrWrongChallenge
	}
	p7.Content = challenge
	// No trust store here: the Verifier judges the chain, at its time.
	err = p7.VerifyWithChainAtTime(nil, time.Time{})
	var mismatch *pkcs7.MessageDigestMismatchError
	var signedOutside *pkcs7.SigningTimeNotValidError
	switch {
	case errors.As(err, &mismatch):
		return nil, nil, ErrWrongChallenge
	case errors.As(err, &signedOutside):
		return nil, nil, ErrExpired
	case err != nil:
		return nil, nil, errors.Join(ErrBadSignature, err)
	}
	var extra []*x509.Certificate
	for _, c := range p7.Certificates {
		if !c.Equal(signer) {
			extra = append(extra, c)
		}
	}
	return signer, extra, nil
}

// parsePKCS7 is pkcs7.Parse, which panics on some inputs no CMS tool
// makes: such an input is malformed.
func parsePKCS7(der []byte) (p7 *pkcs7.PKCS7, err error) {
	defer func() {
		if recover() != nil {
			p7, err = nil, ErrMalformed
		}
	}()
	return pkcs7.Parse(der)
}

// cmsBytes decodes a CMS signature from PEM or base64 (white space
// ignored).
func cmsBytes(sig string) ([]byte, error) {
	for _, typ := range []string{"PKCS7", "CMS"} {
		if b := pemBlock([]byte(sig), typ); b != nil {
			return b, nil
		}
	}
	clean := strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, sig)
	if b, err := base64.StdEncoding.DecodeString(clean); err == nil {
		return b, nil
	}
	return base64.RawURLEncoding.DecodeString(clean)
}

// JWS is a JWS in compact serialization (RFC 7515) whose payload is the
// challenge and whose protected header carries the signer's certificate
// chain in x5c.
type JWS struct{}

func (JWS) Name() string { return "jws" }

// Detect: three base64url parts separated by dots.
func (JWS) Detect(sig string) bool {
	return strings.Count(sig, ".") == 2 && !strings.ContainsAny(sig, " \n\t=+/")
}

// jwsAlgorithms are the algorithms accepted (RSA and ECDSA).
var jwsAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512}

func (JWS) Open(sig string, challenge []byte) (*x509.Certificate, []*x509.Certificate, error) {
	obj, err := jose.ParseSignedCompact(sig, jwsAlgorithms)
	if err != nil || len(obj.Signatures) != 1 {
		return nil, nil, ErrMalformed
	}
	certs, err := x5c(sig)
	if err != nil || len(certs) == 0 {
		return nil, nil, ErrMalformed
	}
	payload, err := obj.Verify(certs[0].PublicKey)
	if err != nil {
		return nil, nil, errors.Join(ErrBadSignature, err)
	}
	if !bytes.Equal(payload, challenge) {
		return nil, nil, ErrWrongChallenge
	}
	return certs[0], certs[1:], nil
}

// maxChain bounds the certificates a signature may carry.
const maxChain = 8

// x5c reads the certificates of the protected header's x5c (RFC 7515
// §4.1.6: base64, not base64url, DER), signer first. go-jose hands them
// out only verified against a pool, and the Verifier judges them here.
func x5c(compact string) ([]*x509.Certificate, error) {
	head, _, _ := strings.Cut(compact, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return nil, err
	}
	var h struct {
		X5C []string `json:"x5c"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, err
	}
	if len(h.X5C) > maxChain {
		return nil, errors.New("x5c: too many certificates")
	}
	var out []*x509.Certificate
	for _, s := range h.X5C {
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, err
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// SignedDigest is the SHA-256 of what sig signed, when it can be told
// without the content: a JWS's payload, or a CMS signature's
// messageDigest attribute made with SHA-256. It lets a caller know a
// signature over a challenge it has seen before.
func SignedDigest(sig string) ([]byte, bool) {
	sig = strings.TrimSpace(sig)
	if sig == "" || len(sig) > MaxSignature {
		return nil, false
	}
	if (JWS{}).Detect(sig) {
		obj, err := jose.ParseSignedCompact(sig, jwsAlgorithms)
		if err != nil {
			return nil, false
		}
		sum := sha256.Sum256(obj.UnsafePayloadWithoutVerification())
		return sum[:], true
	}
	der, err := cmsBytes(sig)
	if err != nil {
		return nil, false
	}
	p7, err := parsePKCS7(der)
	if err != nil || len(p7.Signers) != 1 || !p7.Signers[0].DigestAlgorithm.Algorithm.Equal(pkcs7.OIDDigestAlgorithmSHA256) {
		return nil, false
	}
	var d []byte
	if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeMessageDigest, &d); err != nil || len(d) != sha256.Size {
		return nil, false
	}
	return d, true
}
