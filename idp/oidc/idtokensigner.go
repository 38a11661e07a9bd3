package oidc

import (
	"context"

	"github.com/ory/fosite/token/jwt"
)

// idTokenSigner signs each ID token with the algorithm its client registered
// (id_token_signed_response_alg: RS256 by default, or ES256). fosite's
// OpenID strategy has one signer; the client is the token's audience.
type idTokenSigner struct {
	jwt.Signer // RS256: the default, and what Decode/Validate use (any published key)
	es256      jwt.Signer
	clients    *clientCache
}

// Generate implements jwt.Signer.
func (s idTokenSigner) Generate(ctx context.Context, claims jwt.MapClaims, header jwt.Mapper) (string, string, error) {
	if s.clientAlg(ctx, claims) == "ES256" {
		return s.es256.Generate(ctx, claims, header)
	}
	return s.Signer.Generate(ctx, claims, header)
}

func (s idTokenSigner) clientAlg(ctx context.Context, claims jwt.MapClaims) string {
	var id string
	switch aud := claims["aud"].(type) {
	case string:
		id = aud
	case []string:
		if len(aud) > 0 {
			id = aud[0]
		}
	case []any:
		if len(aud) > 0 {
			id, _ = aud[0].(string)
		}
	}
	if id == "" {
		return ""
	}
	c, err := s.clients.get(ctx, id)
	if err != nil {
		return ""
	}
	return c.rec.IDTokenSignedResponseAlg
}
