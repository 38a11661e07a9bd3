package oidc

import (
	"context"
	"errors"

	"github.com/ory/fosite"

	"github.com/esia-oidc/idp/idp/login"
	"github.com/esia-oidc/idp/store"
)

// client adapts a stored client to fosite.
type client struct {
	*fosite.DefaultOpenIDConnectClient
	rec *store.Client
}

func newClient(c *store.Client) *client {
	return &client{
		DefaultOpenIDConnectClient: &fosite.DefaultOpenIDConnectClient{
			DefaultClient: &fosite.DefaultClient{
				ID:            c.ID,
				Secret:        c.SecretHash,
				RedirectURIs:  c.RedirectURIs,
				GrantTypes:    c.GrantTypes,
				ResponseTypes: c.ResponseTypes,
				Scopes:        c.Scopes,
				// Access tokens are issued for the client itself unless it
				// asks for more (RFC 9068 §3).
				Audience: []string{c.ID},
				Public:   c.Public(),
			},
			TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		},
		rec: c,
	}
}

// secretHasher lets fosite compare client secrets with the keyed hashes the
// store keeps (HMAC-SHA-256; the secrets' entropy makes a slow hash pointless).
type secretHasher struct {
	secrets Secrets
}

// Compare implements fosite.Hasher in constant time.
func (h secretHasher) Compare(_ context.Context, hash, data []byte) error {
	if !h.secrets.VerifySecret(string(data), hash) {
		return errors.New("client secret mismatch")
	}
	return nil
}

// Hash implements fosite.Hasher.
func (h secretHasher) Hash(_ context.Context, data []byte) ([]byte, error) {
	return h.secrets.HashSecret(string(data)), nil
}

// ClientRecords gives the stored clients through the provider's cache: the
// hosted login's view of them (names, redirect URIs).
func (p *Provider) ClientRecords() login.Clients { return clientRecords{p.storage.clients} }

type clientRecords struct{ cache *clientCache }

func (r clientRecords) GetClient(ctx context.Context, id string) (*store.Client, error) {
	c, err := r.cache.get(ctx, id)
	if err != nil {
		return nil, err
	}
	return c.rec, nil
}
