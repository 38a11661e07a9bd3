package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/esia-oidc/idp/store"
)

// rsaBits is the size of generated RSA keys.
const rsaBits = 2048

func supported(alg string) bool { return alg == RS256 || alg == ES256 }

// generateKey returns a fresh private key for alg.
func generateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case RS256:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlg, alg)
}

// checkKey reports whether priv is a key of the kind alg signs with.
func checkKey(alg string, priv any) (crypto.Signer, error) {
	switch alg {
	case RS256:
		if k, ok := priv.(*rsa.PrivateKey); ok && k.N.BitLen() >= rsaBits {
			return k, nil
		}
	case ES256:
		if k, ok := priv.(*ecdsa.PrivateKey); ok && k.Curve == elliptic.P256() {
			return k, nil
		}
	}
	return nil, fmt.Errorf("keys: a %T is not a %s key", priv, alg)
}

// newKID returns a random key ID: 16 bytes, base64url.
func newKID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("keys: random key id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func newMaterial(kid, alg string, sealed []byte, priv crypto.Signer) *material {
	return &material{
		alg:    alg,
		sealed: sealed,
		priv:   priv,
		pub:    jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: alg, Use: "sig"},
	}
}

// create generates a key of alg, seals it and stores it, and puts the opened
// key in the cache so that the next Refresh need not open it.
func (m *Manager) create(ctx context.Context, alg string, now, activeAt time.Time) (*store.SigningKey, error) {
	priv, err := generateKey(alg)
	if err != nil {
		return nil, fmt.Errorf("keys: generate %s key: %w", alg, err)
	}
	kid, err := newKID()
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("keys: encode %s key: %w", alg, err)
	}
	sealed, err := m.sealer.Seal(SealPurpose, der, []byte(kid))
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("keys: seal %s key: %w", alg, err)
	}
	sk := &store.SigningKey{
		ID:        kid,
		Alg:       alg,
		Sealed:    sealed,
		CreatedAt: now,
		ActiveAt:  activeAt,
	}
	if err := m.st.CreateKey(ctx, sk); err != nil {
		return nil, fmt.Errorf("keys: store %s key %s: %w", alg, kid, err)
	}
	m.mu.Lock()
	m.cache[kid] = newMaterial(kid, alg, sealed, priv)
	m.mu.Unlock()
	return sk, nil
}

// open unseals and parses a stored key.
func (m *Manager) open(sk *store.SigningKey) (*material, error) {
	der, err := m.sealer.Open(SealPurpose, sk.Sealed, []byte(sk.ID))
	if err != nil {
		return nil, fmt.Errorf("keys: cannot open the private key of %s key %s (tampered record or wrong secret key): %w", sk.Alg, sk.ID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("keys: cannot parse the private key of %s key %s: %w", sk.Alg, sk.ID, err)
	}
	priv, err := checkKey(sk.Alg, parsed)
	if err != nil {
		return nil, fmt.Errorf("keys: key %s: %w", sk.ID, err)
	}
	return newMaterial(sk.ID, sk.Alg, sk.Sealed, priv), nil
}
