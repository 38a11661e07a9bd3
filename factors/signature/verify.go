package signature

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"time"
)

// Why a certificate or a signature is refused. Each is a reason the pages
// explain to the citizen (Reason).
var (
	// ErrMalformed: the input is no signature or certificate this package
	// reads.
	ErrMalformed = errors.New("signature: malformed")
	// ErrBadSignature: the signature does not verify with the signer's key.
	ErrBadSignature = errors.New("signature: the signature does not verify")
	// ErrWrongChallenge: the signature is good, over something other than
	// the challenge asked.
	ErrWrongChallenge = errors.New("signature: signed another challenge")
	// ErrReusedChallenge: the signature is over a challenge already used.
	ErrReusedChallenge = errors.New("signature: the challenge was used already")
	// ErrUntrusted: the certificate does not chain to the trust store.
	ErrUntrusted = errors.New("signature: certificate from an untrusted centre")
	// ErrExpired: the certificate (or one of its chain) has expired, or is
	// not valid yet.
	ErrExpired = errors.New("signature: certificate expired or not yet valid")
	// ErrRevoked: the certificate (or one of its chain) is revoked.
	ErrRevoked = errors.New("signature: certificate revoked")
	// ErrRevocationUnknown: whether the certificate is revoked could not be
	// learnt, and the check fails closed.
	ErrRevocationUnknown = errors.New("signature: revocation state unknown")
	// ErrNoIdentity: the certificate names no SNILS.
	ErrNoIdentity = errors.New("signature: the certificate names no SNILS")
)

// Reasons lists each refusal with its stable code (the catalog key of its
// message is "signature.refused_"+code).
var reasons = []struct {
	err  error
	code string
}{
	{ErrMalformed, "malformed"},
	{ErrBadSignature, "bad_signature"},
	{ErrWrongChallenge, "wrong_challenge"},
	{ErrReusedChallenge, "reused_challenge"},
	{ErrUntrusted, "untrusted"},
	{ErrExpired, "expired"},
	{ErrRevoked, "revoked"},
	{ErrRevocationUnknown, "revocation_unknown"},
	{ErrNoIdentity, "no_identity"},
}

// Reason is the stable code of a refusal ("revoked", "expired", ...), or
// "" when err is none of this package's refusals (an internal error).
func Reason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.code
		}
	}
	return ""
}

// ReasonCodes lists every refusal code (the catalog must name each).
func ReasonCodes() []string {
	out := make([]string, len(reasons))
	for i, r := range reasons {
		out[i] = r.code
	}
	return out
}

// Certificate is a certificate the Verifier accepted: the chain to its
// anchor, and the citizen it names.
type Certificate struct {
	Leaf   *x509.Certificate
	Chain  []*x509.Certificate // Leaf first, the anchor last
	Person Person
}

// Fingerprint is the SHA-256 of the certificate, in hex: how a bound
// certificate is known.
func (c *Certificate) Fingerprint() string { return Fingerprint(c.Leaf) }

// Fingerprint is the SHA-256 of a certificate's DER, in hex.
func Fingerprint(c *x509.Certificate) string {
	h := sha256.Sum256(c.Raw)
	return hex.EncodeToString(h[:])
}

// AMR is the RFC 8176 method of a login with the certificate: "hwk" for a
// qualified one whose signature-tool class (KC2 and above) implies a
// certified hardware device, "swk" otherwise (KC1, typically a software
// key store, or no class at all).
func (c *Certificate) AMR() string {
	if c.Person.HardwareKey {
		return "hwk"
	}
	return "swk"
}

// ChainVerifier builds a certificate's chain to a trust anchor, checking
// each signature and validity at a time. The default (X509Chains) is
// crypto/x509's; a GOST R 34.10-2012 implementation would be another.
type ChainVerifier interface {
	Chains(leaf *x509.Certificate, intermediates []*x509.Certificate, trust *TrustStore, at time.Time) ([][]*x509.Certificate, error)
}

// X509Chains verifies chains with crypto/x509 (RSA and ECDSA keys).
type X509Chains struct{}

// Chains verifies leaf up to an anchor of trust, with intermediates as
// candidates. Any extended key usage is accepted: certificates of the
// centres name client authentication, e-mail protection or their own
// usages.
func (X509Chains) Chains(leaf *x509.Certificate, intermediates []*x509.Certificate, trust *TrustStore, at time.Time) ([][]*x509.Certificate, error) {
	pool := x509.NewCertPool()
	for _, c := range intermediates {
		pool.AddCert(c)
	}
	return leaf.Verify(x509.VerifyOptions{
		Roots:         trust.roots,
		Intermediates: pool,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
}

// Verifier judges certificates: trusted, valid now, not revoked, naming a
// citizen. Trust and Revocation are required.
type Verifier struct {
	Trust      *TrustStore
	Revocation *Revocation
	// Chains builds chains; nil means X509Chains.
	Chains ChainVerifier
	Now    func() time.Time
}

func (v *Verifier) now() time.Time {
	if v.Now == nil {
		return time.Now()
	}
	return v.Now()
}

// Verify judges leaf, with intermediates the route brought along (the TLS
// chain, the CMS certificates, the x5c header). The errors are this
// package's refusals, or an internal error.
func (v *Verifier) Verify(ctx context.Context, leaf *x509.Certificate, intermediates []*x509.Certificate) (*Certificate, error) {
	now := v.now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, ErrExpired
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, ErrUntrusted
	}
	cv := v.Chains
	if cv == nil {
		cv = X509Chains{}
	}
	chains, err := cv.Chains(leaf, intermediates, v.Trust, now)
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return nil, ErrExpired
		}
		return nil, errors.Join(ErrUntrusted, err)
	}
	person, err := ParsePerson(leaf)
	if err != nil {
		return nil, err
	}
	// Any one chain that is not revoked serves; the shortest is tried
	// first.
	var revErr error
	for _, chain := range chains {
		if revErr = v.Revocation.Check(ctx, chain); revErr == nil {
			return &Certificate{Leaf: leaf, Chain: chain, Person: person}, nil
		}
	}
	return nil, revErr
}
