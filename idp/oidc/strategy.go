package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
)

// accessTokenStrategy issues RFC 9068 JWT access tokens (fosite's JWT
// strategy) but stores and finds them by the SHA-256 digest of the whole
// token rather than by its signature part. Finding the stored grant then
// proves the token is byte for byte one we issued, so checking it again needs
// no signature verification and no JSON parsing: only its expiry, which the
// stored grant holds. Resource servers still verify the JWT against JWKS.
type accessTokenStrategy struct {
	*oauth2.DefaultJWTStrategy
	now func() time.Time
}

var _ oauth2.CoreStrategy = accessTokenStrategy{}

func tokenDigest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// GenerateAccessToken implements oauth2.AccessTokenStrategy.
func (s accessTokenStrategy) GenerateAccessToken(ctx context.Context, r fosite.Requester) (string, string, error) {
	token, _, err := s.DefaultJWTStrategy.GenerateAccessToken(ctx, r)
	if err != nil {
		return "", "", err
	}
	return token, tokenDigest(token), nil
}

// AccessTokenSignature implements oauth2.AccessTokenStrategy.
func (s accessTokenStrategy) AccessTokenSignature(_ context.Context, token string) string {
	return tokenDigest(token)
}

// ValidateAccessToken implements oauth2.AccessTokenStrategy for a token whose
// grant was found by its digest.
func (s accessTokenStrategy) ValidateAccessToken(_ context.Context, r fosite.Requester, _ string) error {
	exp := r.GetSession().GetExpiresAt(fosite.AccessToken)
	if !exp.IsZero() && s.now().After(exp) {
		return fosite.ErrTokenExpired.WithHint("The access token expired.")
	}
	return nil
}
