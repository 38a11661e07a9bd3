package oidc

import (
	"context"
	"errors"
	"net/http"

	"github.com/esia-oidc/idp/idp/httpx"
	"github.com/ory/fosite"
)

// handleToken is the token endpoint (RFC 6749 §3.2): authorization code,
// refresh token and client credentials grants, all through fosite.
func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	grantType := r.PostFormValue("grant_type")
	sess := newSession()
	ar, err := p.oauth.NewAccessRequest(ctx, r, sess)
	if err != nil {
		p.tokenError(w, r, ar, grantType, err)
		return
	}
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		// fosite has checked the client may ask for these scopes.
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
		c := ar.GetClient()
		ar.GrantAudience(c.GetID())
		sess.ClientID = c.GetID()
		// RFC 9068 §2.2: sub is the client when no user is involved.
		sess.Subject = c.GetID()
	}
	resp, err := p.oauth.NewAccessResponse(ctx, ar)
	if err == nil && ar.GetGrantTypes().ExactOne("authorization_code") && p.wasReplayed(ctx, ar.GetID()) {
		// A concurrent exchange of the same code lost and marked it; it
		// may have revoked before our tokens existed, so revoke them now.
		err = fosite.ErrInvalidatedAuthorizeCode
	}
	if err != nil {
		p.tokenError(w, r, ar, grantType, err)
		return
	}
	p.cfg.GrantIssued(grantType, "ok")
	p.oauth.WriteAccessResponse(ctx, w, ar, resp)
}

func (p *Provider) tokenError(w http.ResponseWriter, r *http.Request, ar fosite.AccessRequester, grantType string, err error) {
	err = p.replayed(r.Context(), ar, err)
	rfc := fosite.ErrorToRFC6749Error(err)
	p.cfg.GrantIssued(metricGrantType(grantType), rfc.ErrorField)
	if rfc.CodeField >= 500 {
		p.cfg.Logger.ErrorContext(r.Context(), "token endpoint failed", "grant_type", metricGrantType(grantType), "err", errors.Unwrap(rfc))
	}
	if rfc.ErrorField == fosite.ErrInvalidClient.ErrorField && rfc.CodeField == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`) // RFC 6749 §5.2
	}
	p.oauth.WriteAccessError(r.Context(), w, ar, err)
}

// replayed turns losing a race for a code or a refresh token into what
// replaying it is: invalid_grant, with every token issued from that grant
// revoked (RFC 6749 §4.1.2 and §10.5, RFC 9700 §4.14.2). fosite itself would
// answer server_error (a code) or invalid_request (a refresh token). The
// loser learns of the conflict only once the winner's writes are done, so
// the revocation reaches the winner's new tokens too.
func (p *Provider) replayed(ctx context.Context, ar fosite.AccessRequester, err error) error {
	ctx = context.WithoutCancel(ctx) // a client hanging up must not stop the revocation
	var what string
	switch {
	case errors.Is(err, fosite.ErrInvalidatedAuthorizeCode):
		what = "The authorization code has already been used."
	case ar != nil && ar.GetGrantTypes().ExactOne("refresh_token") && errors.Is(err, fosite.ErrInactiveToken):
		what = "The refresh token was already used."
	default:
		return err
	}
	if ar != nil && ar.GetID() != "" {
		if rerr := p.storage.RevokeRefreshToken(ctx, ar.GetID()); rerr != nil {
			p.cfg.Logger.ErrorContext(ctx, "revoke refresh tokens of a replayed grant", "err", rerr)
		}
		if rerr := p.storage.RevokeAccessToken(ctx, ar.GetID()); rerr != nil {
			p.cfg.Logger.ErrorContext(ctx, "revoke access tokens of a replayed grant", "err", rerr)
		}
	}
	return fosite.ErrInvalidGrant.WithHint(what).WithWrap(err)
}

// wasReplayed reports whether the grant's code was presented again (see
// storage.markReplayed).
func (p *Provider) wasReplayed(ctx context.Context, requestID string) bool {
	_, err := p.cfg.Ephemeral.GetEntry(ctx, replayKey(requestID))
	return err == nil
}

// metricGrantType bounds the label's values to the grants we know.
func metricGrantType(gt string) string {
	switch gt {
	case "authorization_code", "refresh_token", "client_credentials":
		return gt
	}
	return "other"
}

// handleIntrospect is RFC 7662 token introspection; the caller must
// authenticate as a client.
func (p *Provider) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// fosite also lets any bearer of an access token introspect; we do not:
	// only registered clients with their secret may (RFC 7662 §2.1).
	if fosite.AccessTokenFromRequest(r) != "" || !hasBasicAuth(r) {
		invalidClient(w, "Authenticate with the client's id and secret (HTTP Basic).")
		return
	}
	ir, err := p.oauth.NewIntrospectionRequest(ctx, r, newSession())
	// The outermost error only: an inactive token's error wraps
	// request_unauthorized too, and must still answer active:false.
	if err != nil && fosite.ErrorToRFC6749Error(err).ErrorField == fosite.ErrRequestUnauthorized.ErrorField {
		invalidClient(w, "The client's credentials are invalid.")
		return
	}
	if err != nil {
		p.oauth.WriteIntrospectionError(ctx, w, err)
		return
	}
	p.oauth.WriteIntrospectionResponse(ctx, w, ir)
}

// handleRevoke is RFC 7009 token revocation.
func (p *Provider) handleRevoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	err := p.oauth.NewRevocationRequest(ctx, r)
	p.oauth.WriteRevocationResponse(ctx, w, err)
}

// invalidClient answers RFC 7662 §2.3 / RFC 6749 §5.2 for bad client
// credentials at introspection.
func invalidClient(w http.ResponseWriter, desc string) {
	w.Header().Set("WWW-Authenticate", `Basic realm="introspect"`)
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSONError(w, http.StatusUnauthorized, "invalid_client", desc)
}

func hasBasicAuth(r *http.Request) bool {
	_, _, ok := r.BasicAuth()
	return ok
}
