package oidc

import (
	"context"
	"errors"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/esia-oidc/idp/store"
)

// The fosite storage of codes (with their replay marks), access and refresh
// tokens, PKCE and OpenID sessions, and its transactions: each on the grant
// helpers of storage.go.

// CreateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage.
func (s *storage) CreateAuthorizeCodeSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, store.GrantAuthorizeCode, signature, r, expiry(r, fosite.AuthorizeCode))
}

// GetAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage; a used
// code comes back with fosite.ErrInvalidatedAuthorizeCode and its request, so
// that fosite revokes what was issued from it.
func (s *storage) GetAuthorizeCodeSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	r, inactive, err := s.get(ctx, store.GrantAuthorizeCode, signature, session)
	if err != nil {
		return nil, err
	}
	if inactive {
		// A used code again: mark the grant before fosite revokes what was
		// issued from it (see markReplayed).
		s.markReplayed(ctx, r.GetID())
		return r, fosite.ErrInvalidatedAuthorizeCode
	}
	return r, nil
}

// markReplayed records that a code was presented again. The exchange that
// won checks the mark after issuing its tokens (Provider.checkReplayed): either
// it sees the mark and revokes its own tokens, or its tokens existed before
// the replay's revocation, which then reaches them.
func (s *storage) markReplayed(ctx context.Context, requestID string) {
	if requestID == "" {
		return
	}
	s.ephemeral.PutEntry(context.WithoutCancel(ctx), replayKey(requestID), []byte{1}, s.replayTTL)
}

func replayKey(requestID string) string { return "replayed:" + requestID }

// InvalidateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage. Of
// concurrent exchanges of one code exactly one gets past this point.
func (s *storage) InvalidateAuthorizeCodeSession(ctx context.Context, signature string) error {
	err := s.ephemeral.DeactivateGrant(ctx, store.GrantAuthorizeCode, signature)
	switch {
	case errors.Is(err, store.ErrConflict):
		// Lost the race for the code to a concurrent exchange.
		if g, gerr := s.ephemeral.GetGrant(ctx, store.GrantAuthorizeCode, signature); gerr == nil {
			s.markReplayed(ctx, g.RequestID)
		}
		return fosite.ErrInvalidatedAuthorizeCode
	case errors.Is(err, store.ErrNotFound):
		return fosite.ErrNotFound
	}
	return err
}

// CreateAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *storage) CreateAccessTokenSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, store.GrantAccessToken, signature, r, expiry(r, fosite.AccessToken))
}

// GetAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *storage) GetAccessTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	r, inactive, err := s.get(ctx, store.GrantAccessToken, signature, session)
	if err != nil {
		return nil, err
	}
	if inactive {
		return r, fosite.ErrInactiveToken
	}
	return r, nil
}

// DeleteAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *storage) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	defer s.forget(store.GrantChange{Signature: signature})
	return s.remove(ctx, store.GrantAccessToken, signature)
}

// CreateRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (s *storage) CreateRefreshTokenSession(ctx context.Context, signature, _ string, r fosite.Requester) error {
	return s.create(ctx, store.GrantRefreshToken, signature, r, expiry(r, fosite.RefreshToken))
}

// GetRefreshTokenSession implements oauth2.RefreshTokenStorage; a rotated
// (inactive) token comes back with fosite.ErrInactiveToken, which makes fosite
// revoke the whole family.
func (s *storage) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	r, inactive, err := s.get(ctx, store.GrantRefreshToken, signature, session)
	if err != nil {
		return nil, err
	}
	if inactive {
		return r, fosite.ErrInactiveToken
	}
	return r, nil
}

// DeleteRefreshTokenSession implements oauth2.RefreshTokenStorage. A reused
// token is kept (inactive) rather than deleted, so reusing it again is still
// recognized as reuse.
func (s *storage) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	err := s.durable.DeactivateGrant(ctx, store.GrantRefreshToken, signature)
	if errors.Is(err, store.ErrConflict) {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) {
		return fosite.ErrNotFound
	}
	return err
}

// RotateRefreshToken implements oauth2.RefreshTokenStorage: the used token
// becomes inactive (exactly one concurrent rotation wins) and the access
// tokens of the family are revoked.
func (s *storage) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	err := s.durable.DeactivateGrant(ctx, store.GrantRefreshToken, signature)
	switch {
	case errors.Is(err, store.ErrConflict):
		return fosite.ErrInactiveToken
	case errors.Is(err, store.ErrNotFound):
		return fosite.ErrNotFound
	case err != nil:
		return err
	}
	defer s.forget(store.GrantChange{RequestID: requestID})
	return s.ephemeral.DeactivateRequest(ctx, store.GrantAccessToken, requestID)
}

// RevokeRefreshToken implements oauth2.TokenRevocationStorage (RFC 7009).
func (s *storage) RevokeRefreshToken(ctx context.Context, requestID string) error {
	return s.durable.DeactivateRequest(ctx, store.GrantRefreshToken, requestID)
}

// RevokeAccessToken implements oauth2.TokenRevocationStorage (RFC 7009).
func (s *storage) RevokeAccessToken(ctx context.Context, requestID string) error {
	defer s.forget(store.GrantChange{RequestID: requestID})
	return s.ephemeral.DeactivateRequest(ctx, store.GrantAccessToken, requestID)
}

// CreatePKCERequestSession implements pkce.PKCERequestStorage.
func (s *storage) CreatePKCERequestSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, store.GrantPKCE, signature, r, expiry(r, fosite.AuthorizeCode))
}

// GetPKCERequestSession implements pkce.PKCERequestStorage.
func (s *storage) GetPKCERequestSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	r, _, err := s.get(ctx, store.GrantPKCE, signature, session)
	return r, err
}

// DeletePKCERequestSession implements pkce.PKCERequestStorage by leaving the
// session to expire with its code. fosite deletes it before the code is
// invalidated, so a concurrent replay of the code would fail PKCE unnoticed
// instead of reaching the invalidation that detects the replay and revokes
// the winner's tokens. The code is one-time either way.
func (s *storage) DeletePKCERequestSession(context.Context, string) error {
	return nil
}

// CreateOpenIDConnectSession implements openid.OpenIDConnectRequestStorage.
func (s *storage) CreateOpenIDConnectSession(ctx context.Context, signature string, r fosite.Requester) error {
	return s.create(ctx, store.GrantOIDC, signature, r, expiry(r, fosite.AuthorizeCode))
}

// GetOpenIDConnectSession implements openid.OpenIDConnectRequestStorage.
func (s *storage) GetOpenIDConnectSession(ctx context.Context, signature string, r fosite.Requester) (fosite.Requester, error) {
	req, _, err := s.get(ctx, store.GrantOIDC, signature, r.GetSession())
	if errors.Is(err, fosite.ErrNotFound) {
		return nil, openid.ErrNoSessionFound
	}
	return req, err
}

// DeleteOpenIDConnectSession implements openid.OpenIDConnectRequestStorage,
// idempotently (see DeletePKCERequestSession).
func (s *storage) DeleteOpenIDConnectSession(ctx context.Context, signature string) error {
	return ignoreNotFound(s.remove(ctx, store.GrantOIDC, signature))
}

func ignoreNotFound(err error) error {
	if errors.Is(err, fosite.ErrNotFound) {
		return nil
	}
	return err
}

// BeginTX implements fosite's storage.Transactional when the durable store
// can group writes: fosite wraps a refresh's rotation and its new refresh
// token (and a reuse's revocations) in one transaction, so they succeed or
// fail together, with one commit. Ephemeral writes are not part of it.
func (s *storage) BeginTX(ctx context.Context) (context.Context, error) {
	if tx, ok := s.durable.(store.Transactional); ok {
		return tx.BeginTX(ctx)
	}
	return ctx, nil
}

// Commit implements fosite's storage.Transactional.
func (s *storage) Commit(ctx context.Context) error {
	if tx, ok := s.durable.(store.Transactional); ok {
		return tx.Commit(ctx)
	}
	return nil
}

// Rollback implements fosite's storage.Transactional.
func (s *storage) Rollback(ctx context.Context) error {
	if tx, ok := s.durable.(store.Transactional); ok {
		return tx.Rollback(ctx)
	}
	return nil
}
