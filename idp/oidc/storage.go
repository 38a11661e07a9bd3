package oidc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	fositestorage "github.com/ory/fosite/storage"

	"github.com/esia-oidc/idp/store"
)

// fositeStorage is exactly the fosite storage we use: a missing method fails
// to compile instead of panicking in compose.
type fositeStorage interface {
	fosite.Storage
	oauth2.CoreStorage
	oauth2.TokenRevocationStorage
	pkce.PKCERequestStorage
	openid.OpenIDConnectRequestStorage
	fositestorage.Transactional
}

var _ fositeStorage = (*storage)(nil)

// storage adapts the store to fosite. Refresh tokens, which must survive
// restarts, go to the durable store; codes, access tokens and their PKCE and
// OpenID sessions go to the ephemeral one.
type storage struct {
	durable   store.Durable
	ephemeral store.Ephemeral
	clients   *clientCache
	now       store.Clock
	// replayTTL is how long a replayed code's mark is kept: as long as
	// tokens issued from it may be used.
	replayTTL time.Duration
	// tokens caches active access tokens; nil when the ephemeral store
	// cannot announce changes (see tokenCache).
	tokens *tokenCache
	// tokenLookup, if set, is told of every lookup in tokens.
	tokenLookup func(hit bool)
}

func (s *storage) grants(kind store.GrantKind) store.Grants {
	if kind == store.GrantRefreshToken {
		return s.durable
	}
	return s.ephemeral
}

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

// storedRequest is the JSON kept in store.Grant.Data.
type storedRequest struct {
	ID                string          `json:"id"`
	RequestedAt       time.Time       `json:"requested_at"`
	ClientID          string          `json:"client_id"`
	RequestedScope    []string        `json:"scope,omitempty"`
	GrantedScope      []string        `json:"granted_scope,omitempty"`
	RequestedAudience []string        `json:"audience,omitempty"`
	GrantedAudience   []string        `json:"granted_audience,omitempty"`
	Form              url.Values      `json:"form,omitempty"`
	Session           json.RawMessage `json:"session"`
}

func (s *storage) create(ctx context.Context, kind store.GrantKind, signature string, r fosite.Requester, exp time.Time) error {
	var session any = r.GetSession()
	if sess, ok := session.(*Session); ok {
		// No grant record holds personal data: userinfo and ID tokens
		// read the account when they need it (see idTokenClaims).
		session = sess.forStorage()
	}
	sess, err := json.Marshal(session)
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	data, err := json.Marshal(storedRequest{
		ID:                r.GetID(),
		RequestedAt:       r.GetRequestedAt(),
		ClientID:          r.GetClient().GetID(),
		RequestedScope:    r.GetRequestedScopes(),
		GrantedScope:      r.GetGrantedScopes(),
		RequestedAudience: r.GetRequestedAudience(),
		GrantedAudience:   r.GetGrantedAudience(),
		Form:              r.GetRequestForm(),
		Session:           sess,
	})
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	return s.grants(kind).CreateGrant(ctx, &store.Grant{
		Kind:        kind,
		Signature:   signature,
		RequestID:   r.GetID(),
		ClientID:    r.GetClient().GetID(),
		Subject:     subjectOf(r),
		Active:      true,
		RequestedAt: r.GetRequestedAt(),
		ExpiresAt:   exp,
		Data:        data,
	})
}

func subjectOf(r fosite.Requester) string {
	if sess, ok := r.GetSession().(*Session); ok {
		return sess.AccountID
	}
	return ""
}

// get loads a grant and rebuilds the request. An inactive grant is returned
// with its request and inactive=true. Active access tokens are kept in the
// token cache, when there is one.
func (s *storage) get(ctx context.Context, kind store.GrantKind, signature string, session fosite.Session) (fosite.Requester, bool, error) {
	cache := s.tokens
	if _, ok := session.(*Session); kind != store.GrantAccessToken || (session != nil && !ok) {
		cache = nil
	}
	var gen uint64
	if cache != nil {
		e, ok := cache.get(signature)
		if s.tokenLookup != nil {
			s.tokenLookup(ok)
		}
		if ok {
			sess := e.sess.Clone().(*Session)
			if ps, ok := session.(*Session); ok {
				*ps = *sess
				sess = ps
			}
			r, err := s.request(ctx, &e.req, sess)
			return r, false, err
		}
		gen = cache.generation()
	}
	g, err := s.grants(kind).GetGrant(ctx, kind, signature)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, fosite.ErrNotFound
	}
	if err != nil {
		return nil, false, err
	}
	var sr storedRequest
	if err := json.Unmarshal(g.Data, &sr); err != nil {
		return nil, false, fmt.Errorf("decode request: %w", err)
	}
	if session == nil {
		session = newSession()
	}
	if err := json.Unmarshal(sr.Session, session); err != nil {
		return nil, false, fmt.Errorf("decode session: %w", err)
	}
	r, err := s.request(ctx, &sr, session)
	if err != nil {
		return nil, false, err
	}
	if cache != nil && g.Active {
		e := &cachedToken{req: sr, sess: session.(*Session).Clone().(*Session), expires: g.ExpiresAt}
		e.req.Session = nil
		cache.put(gen, signature, e)
	}
	return r, !g.Active, nil
}

// request rebuilds a stored request around its decoded session. Its slices
// are its own, so fosite may append to them.
func (s *storage) request(ctx context.Context, sr *storedRequest, session fosite.Session) (fosite.Requester, error) {
	cl, err := s.GetClient(ctx, sr.ClientID)
	if err != nil {
		// A deleted client's grants are dead.
		if errors.Is(err, fosite.ErrNotFound) {
			return nil, fosite.ErrNotFound
		}
		return nil, err
	}
	return &fosite.Request{
		ID:                sr.ID,
		RequestedAt:       sr.RequestedAt,
		Client:            cl,
		RequestedScope:    slices.Clone(sr.RequestedScope),
		GrantedScope:      slices.Clone(sr.GrantedScope),
		RequestedAudience: slices.Clone(sr.RequestedAudience),
		GrantedAudience:   slices.Clone(sr.GrantedAudience),
		Form:              cloneForm(sr.Form),
		Session:           session,
	}, nil
}

func cloneForm(f url.Values) url.Values {
	if f == nil {
		return nil
	}
	c := make(url.Values, len(f))
	for k, v := range f {
		c[k] = slices.Clone(v)
	}
	return c
}

// forget drops changed access tokens from this process's token cache at
// once (other replicas hear of the change from the store).
func (s *storage) forget(c store.GrantChange) {
	if s.tokens != nil {
		s.tokens.Changed(c)
	}
}

func (s *storage) remove(ctx context.Context, kind store.GrantKind, signature string) error {
	err := s.grants(kind).DeleteGrant(ctx, kind, signature)
	if errors.Is(err, store.ErrNotFound) {
		return fosite.ErrNotFound
	}
	return err
}

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
// won checks the mark after issuing its tokens (Provider.wasReplayed): either
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
