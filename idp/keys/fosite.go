package keys

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite/token/jwt"
)

// defaultTyp is the typ header of tokens whose header names none, as fosite's
// DefaultSigner does.
const defaultTyp = "JWT"

// FositeSigner returns the signer fosite uses for tokens of alg (ID tokens,
// RFC 9068 access tokens). It signs with the key of alg that is current at
// the moment of signing and verifies against every published key.
func (m *Manager) FositeSigner(alg string) jwt.Signer {
	return &fositeSigner{m: m, alg: alg}
}

type fositeSigner struct {
	m   *Manager
	alg string
}

var _ jwt.Signer = (*fositeSigner)(nil)

// Generate signs the claims with the current key of the signer's algorithm.
// The header gets kid and alg; other headers fosite passes (typ, "JWT" when
// absent) are kept. Returns the token and its signature part.
func (s *fositeSigner) Generate(_ context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	if claims == nil || header == nil {
		return "", "", errors.New("keys: either claims or header is nil")
	}
	now := s.m.now()
	k := s.m.snap.Load().current(s.alg, now)
	if k == nil {
		return "", "", fmt.Errorf("%w for %s", ErrNoSigningKey, s.alg)
	}
	typ, extra := defaultTyp, false
	h := header.ToMap()
	for name, v := range h {
		switch name {
		case "alg", "kid":
			// Ours.
		case "typ":
			t, ok := v.(string)
			if !ok || t == "" {
				extra = true
				continue
			}
			typ = t
		default:
			extra = true
		}
	}
	var signer jose.Signer
	var err error
	if extra {
		signer, err = k.newSigner(h)
	} else {
		signer, err = k.signerFor(typ)
	}
	if err != nil {
		return "", "", err
	}
	payload, err := json.Marshal(map[string]any(claims))
	if err != nil {
		return "", "", fmt.Errorf("keys: marshal claims: %w", err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", "", fmt.Errorf("keys: sign with %s key %s: %w", k.alg, k.id, err)
	}
	token, err := obj.CompactSerialize()
	if err != nil {
		return "", "", fmt.Errorf("keys: serialize token: %w", err)
	}
	return token, token[strings.LastIndexByte(token, '.')+1:], nil
}

// signerFor returns the cached signer of the key for a typ header.
func (k *key) signerFor(typ string) (jose.Signer, error) {
	if v, ok := k.signers.Load(typ); ok {
		return v.(jose.Signer), nil
	}
	signer, err := k.newSigner(map[string]any{"typ": typ})
	if err != nil {
		return nil, err
	}
	v, _ := k.signers.LoadOrStore(typ, signer)
	return v.(jose.Signer), nil
}

// newSigner builds a signer putting kid, alg and the given extra headers
// (except alg and kid) into the protected header.
func (k *key) newSigner(headers map[string]any) (jose.Signer, error) {
	opts := &jose.SignerOptions{}
	if _, ok := headers["typ"]; !ok {
		opts.WithType(defaultTyp)
	}
	for name, v := range headers {
		if name == "alg" || name == "kid" {
			continue
		}
		opts.WithHeader(jose.HeaderKey(name), v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.SignatureAlgorithm(k.alg),
		Key:       jose.JSONWebKey{Key: k.priv, KeyID: k.id, Algorithm: k.alg},
	}, opts)
	if err != nil {
		return nil, fmt.Errorf("keys: signer for %s key %s: %w", k.alg, k.id, err)
	}
	return signer, nil
}

// Validate verifies the token against the published keys, checks its time
// claims and returns its signature part.
func (s *fositeSigner) Validate(ctx context.Context, token string) (string, error) {
	if _, err := s.Decode(ctx, token); err != nil {
		return "", err
	}
	return s.GetSignature(ctx, token)
}

// Decode parses the token, verifies it with the published key its kid names
// (without a kid: each published key of its alg) and checks exp, iat and nbf.
// As fosite expects, a token that verifies but has expired is returned with
// its claims together with a *jwt.ValidationError.
func (s *fositeSigner) Decode(_ context.Context, token string) (*jwt.Token, error) {
	now := s.m.now()
	snap := s.m.snapshotAt(now)
	var kid, alg string
	t, err := jwt.ParseWithClaims(token, jwt.MapClaims{}, func(t *jwt.Token) (any, error) {
		kid, _ = t.Header["kid"].(string)
		alg = string(t.Method)
		if kid == "" {
			return nil, ErrUnknownKey // retried below with each key of the alg
		}
		k := snap.byKID[kid]
		if k == nil || k.alg != alg {
			return nil, fmt.Errorf("%w (kid %q, alg %q)", ErrUnknownKey, kid, alg)
		}
		return k.pub.Key, nil
	})
	if err == nil || kid != "" || alg == "" {
		return t, err
	}
	// No kid: try the published keys of the token's alg, current one first.
	for _, k := range candidates(snap, alg, now) {
		t, err = jwt.ParseWithClaims(token, jwt.MapClaims{}, func(*jwt.Token) (any, error) { return k.pub.Key, nil })
		var ve *jwt.ValidationError
		if err == nil || !errors.As(err, &ve) || ve.Errors&(jwt.ValidationErrorSignatureInvalid|jwt.ValidationErrorMalformed) == 0 {
			return t, err
		}
	}
	return t, &jwt.ValidationError{Errors: jwt.ValidationErrorUnverifiable, Inner: fmt.Errorf("%w (no kid, alg %q)", ErrUnknownKey, alg)}
}

// GetSignature returns the signature part of a compact JWS.
func (s *fositeSigner) GetSignature(_ context.Context, token string) (string, error) {
	if strings.Count(token, ".") != 2 {
		return "", errors.New("keys: header, body and signature must all be set")
	}
	return token[strings.LastIndexByte(token, '.')+1:], nil
}

// Hash returns the SHA-256 of in (the hash of RS256 and ES256), as used for
// at_hash and c_hash.
func (s *fositeSigner) Hash(_ context.Context, in []byte) ([]byte, error) {
	sum := sha256.Sum256(in)
	return sum[:], nil
}

// GetSigningMethodLength returns the size of a SHA-256 hash.
func (s *fositeSigner) GetSigningMethodLength(context.Context) int {
	return sha256.Size
}
