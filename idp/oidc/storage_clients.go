package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/ory/fosite"

	"github.com/esia-oidc/idp/store"
)

// The fosite storage of clients (through the client cache) and of
// private_key_jwt assertion replay marks.

// GetClient implements fosite.ClientManager.
func (s *storage) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := s.clients.get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ClientAssertionJWTValid implements fosite.ClientManager (private_key_jwt replay check).
func (s *storage) ClientAssertionJWTValid(ctx context.Context, jti string) error {
	_, err := s.ephemeral.GetEntry(ctx, jtiKey(jti))
	if err == nil {
		return fosite.ErrJTIKnown
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// SetClientAssertionJWT implements fosite.ClientManager.
func (s *storage) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	ttl := exp.Sub(s.now())
	if ttl <= 0 {
		return nil
	}
	err := s.ephemeral.CreateEntry(ctx, jtiKey(jti), []byte{1}, ttl)
	if errors.Is(err, store.ErrConflict) {
		return fosite.ErrJTIKnown
	}
	return err
}

func jtiKey(jti string) string {
	h := sha256.Sum256([]byte(jti))
	return "jti:" + hex.EncodeToString(h[:])
}
