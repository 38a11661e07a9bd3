package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/ory/fosite"

	"github.com/esia-oidc/idp/consent"
	"github.com/esia-oidc/idp/store"
)

// handleUserinfo is the UserInfo endpoint (OpenID Connect Core §5.3), GET
// and POST, with the access token as a bearer token (RFC 6750) in the
// Authorization header or a form body, never in the URL.
func (p *Provider) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.URL.Query().Has("access_token") {
		// RFC 6750 §2.3: a token in the URL ends up in logs, history and
		// Referer headers; this provider does not accept it there.
		bearerError(w, http.StatusBadRequest, "invalid_request", "Send the access token in the Authorization header (or a form body), not in the URL.")
		return
	}
	token, methods := bearerToken(r)
	if methods > 1 {
		bearerError(w, http.StatusBadRequest, "invalid_request", "Send the access token one way only: the Authorization header or the form body.")
		return
	}
	if token == "" {
		bearerError(w, http.StatusUnauthorized, "", "")
		return
	}
	sess := newSession()
	ar, err := p.accessToken(ctx, token, sess, "openid")
	if err != nil {
		rfc := fosite.ErrorToRFC6749Error(err)
		switch {
		case errors.Is(err, store.ErrUnavailable):
			p.unavailable(w, r, "userinfo: read access token", err)
		case errors.Is(rfc, fosite.ErrInvalidScope):
			bearerError(w, http.StatusForbidden, "insufficient_scope", "The access token was not granted the openid scope.")
		case rfc.CodeField >= 500:
			p.unavailable(w, r, "userinfo: read access token", err)
		default:
			bearerError(w, http.StatusUnauthorized, "invalid_token", "The access token is invalid, expired or revoked.")
		}
		return
	}
	if sess.AccountID == "" {
		bearerError(w, http.StatusForbidden, "insufficient_scope", "The access token was not issued for a user.")
		return
	}
	acct, err := p.cfg.Durable.GetAccount(ctx, sess.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		bearerError(w, http.StatusUnauthorized, "invalid_token", "The account no longer exists.")
		return
	}
	if err != nil {
		p.unavailable(w, r, "userinfo: load account", err)
		return
	}
	var rec *store.Client
	if cl, ok := ar.GetClient().(*client); ok {
		rec = cl.rec
	}
	sub := subjectFor(rec, acct.ID)
	if sub == "" {
		p.cfg.Logger.ErrorContext(ctx, "userinfo: pairwise client without a salt", "client_id", ar.GetClient().GetID())
		bearerError(w, http.StatusInternalServerError, "server_error", "The client's registration is broken.")
		return
	}
	// Scopes above the account's level now release nothing (the level may
	// have dropped since the grant).
	granted := consent.Grantable(acct.Level, ar.GetGrantedScopes())
	claims := consent.Claims(acct, granted)
	var asked *consent.VerifiedRequest
	if s, ok := ar.GetSession().(*Session); ok {
		asked = s.VerifiedUserinfo
	}
	if vc := consent.VerifiedClaims(acct, granted, asked); vc != nil {
		claims["verified_claims"] = vc
	}
	claims["sub"] = sub
	claims["level"] = string(acct.Level)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(claims)
}

// accessToken finds the request behind a bearer token. Only an access
// token is accepted: fosite's introspection falls back to refresh tokens,
// which are a credential for the token endpoint alone and must never open
// userinfo or any other resource (a refresh token used as a bearer token
// would also never trip reuse detection). Our access tokens are JWTs, so
// anything of another shape is refused before any lookup.
func (p *Provider) accessToken(ctx context.Context, token string, sess *Session, scopes ...string) (fosite.AccessRequester, error) {
	if strings.Count(token, ".") != 2 {
		return nil, fosite.ErrRequestUnauthorized.WithHint("The token is not an access token.")
	}
	use, ar, err := p.oauth.IntrospectToken(ctx, token, fosite.AccessToken, sess, scopes...)
	if err != nil {
		return nil, err
	}
	if use != fosite.AccessToken {
		return nil, fosite.ErrRequestUnauthorized.WithHint("The token is not an access token.")
	}
	return ar, nil
}

// unavailable answers a request that failed because a store did: 503 with
// Retry-After and a generic message; the cause is only logged.
func (p *Provider) unavailable(w http.ResponseWriter, r *http.Request, what string, err error) {
	p.cfg.Logger.ErrorContext(r.Context(), what, "err", err)
	w.Header().Set("Retry-After", "5")
	bearerError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The service is temporarily unavailable; try again shortly.")
}

// bearerToken returns the request's access token and how many of RFC
// 6750's methods carried one (§2: a client uses exactly one): the
// Authorization header and the access_token form parameter of a
// form-encoded body (the query is refused before).
func bearerToken(r *http.Request) (token string, methods int) {
	found := func(t string) {
		if t == "" {
			return
		}
		if token == "" {
			token = t
		}
		methods++
	}
	if scheme, t, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "bearer") {
		found(strings.TrimSpace(t))
	}
	if parseForm(r) {
		found(r.PostForm.Get("access_token"))
	}
	return token, methods
}

// bearerError answers an RFC 6750 §3 error.
func bearerError(w http.ResponseWriter, status int, code, desc string) {
	v := `Bearer realm="userinfo"`
	if code != "" {
		v += `, error="` + code + `", error_description="` + desc + `"`
	}
	w.Header().Set("WWW-Authenticate", v)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if code != "" {
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
}
