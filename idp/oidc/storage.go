package oidc

import (
	"context"
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
		SessionID:   sessionOf(r),
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

// sessionOf is the SSO session a request descends from; "" for client
// credentials. A refresh carries the session stored with the token it
// rotates, so every token of a family keeps it.
func sessionOf(r fosite.Requester) string {
	if sess, ok := r.GetSession().(*Session); ok {
		return sess.SessionID
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
