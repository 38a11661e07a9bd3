package signature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
	"github.com/smallstep/pkcs7"
)

// The signing side, for the CLI (idp sign) and tests: what a citizen's
// tool makes.

// SignCMS makes a CMS detached signature of challenge with key, carrying
// cert and chain (intermediates), SHA-256, in DER.
func SignCMS(challenge []byte, cert *x509.Certificate, key crypto.Signer, chain ...*x509.Certificate) ([]byte, error) {
	sd, err := pkcs7.NewSignedData(challenge)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSignerChain(cert, key, chain, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, err
	}
	sd.Detach()
	return sd.Finish()
}

// SignJWS makes a compact JWS whose payload is challenge, signed with key
// (RS256 for RSA, ES256/384/512 for ECDSA by curve) and carrying cert and
// chain in x5c.
func SignJWS(challenge []byte, cert *x509.Certificate, key crypto.Signer, chain ...*x509.Certificate) (string, error) {
	var alg jose.SignatureAlgorithm
	switch k := key.(type) {
	case *rsa.PrivateKey:
		alg = jose.RS256
	case *ecdsa.PrivateKey:
		switch k.Curve.Params().BitSize {
		case 256:
			alg = jose.ES256
		case 384:
			alg = jose.ES384
		case 521:
			alg = jose.ES512
		default:
			return "", errors.New("signature: unsupported ECDSA curve")
		}
	default:
		return "", fmt.Errorf("signature: unsupported key %T", key)
	}
	x5c := []string{base64.StdEncoding.EncodeToString(cert.Raw)}
	for _, c := range chain {
		x5c = append(x5c, base64.StdEncoding.EncodeToString(c.Raw))
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithHeader("x5c", x5c))
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(challenge)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// NewChallenge returns a one-time challenge for a login at the named
// site: the site and 192 random bits, so that a signature made for one
// provider is worth nothing at another.
func NewChallenge(site string) string {
	b := make([]byte, 24)
	rand.Read(b)
	return "login:" + site + ":" + base64.RawURLEncoding.EncodeToString(b)
}
