package oidc

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/ory/fosite"

	"github.com/esia-oidc/idp/consent"
	"github.com/esia-oidc/idp/store"
)

// handleUserinfo is the UserInfo endpoint (OpenID Connect Core §5.3), GET
// and POST, with the access token as a bearer token (RFC 6750).
func (p *Provider) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token, methods := bearerToken(r)
	if methods > 1 {
		bearerError(w, http.StatusBadRequest, "invalid_request", "Send the access token one way only: the Authorization header, the form body or the query.")
		return
	}
	if token == "" {
		bearerError(w, http.StatusUnauthorized, "", "")
		return
	}
	sess := newSession()
	_, ar, err := p.oauth.IntrospectToken(ctx, token, fosite.AccessToken, sess, "openid")
	if err != nil {
		rfc := fosite.ErrorToRFC6749Error(err)
		if errors.Is(rfc, fosite.ErrInvalidScope) {
			bearerError(w, http.StatusForbidden, "insufficient_scope", "The access token was not granted the openid scope.")
			return
		}
		bearerError(w, http.StatusUnauthorized, "invalid_token", "The access token is invalid, expired or revoked.")
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
		p.cfg.Logger.ErrorContext(ctx, "userinfo: load account", "err", err)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
		return
	}
	claims := consent.Claims(acct, ar.GetGrantedScopes())
	claims["sub"] = acct.ID
	claims["level"] = string(acct.Level)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(claims)
}

// bearerToken returns the request's access token and how many of RFC
// 6750's methods carried one (§2: a client uses exactly one): the
// Authorization header, the access_token form parameter of a
// form-encoded body, and the access_token query parameter.
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
	found(r.URL.Query().Get("access_token"))
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
