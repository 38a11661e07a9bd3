package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ory/fosite"

	"github.com/esia-oidc/idp/idp/httpx"
	"github.com/esia-oidc/idp/store"
)

// handleToken is the token endpoint (RFC 6749 §3.2): authorization code,
// refresh token and client credentials grants, all through fosite.
func (p *Provider) handleToken(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	grantType := r.PostFormValue("grant_type")
	if err := checkTokenForm(r); err != nil {
		p.tokenError(w, r, nil, grantType, err)
		return
	}
	sess := newSession()
	ar, err := p.oauth.NewAccessRequest(ctx, r, sess)
	if err == nil && ar.GetGrantTypes().ExactOne("refresh_token") {
		err = refreshScopeWithinGrant(r.PostForm.Get("scope"), ar.GetGrantedScopes())
		if err == nil {
			err = p.refreshAccount(ctx, ar)
		}
	}
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
	if err == nil && ar.GetGrantTypes().ExactOne("authorization_code") {
		// A concurrent exchange of the same code may have lost and marked
		// it, and revoked before our tokens existed: then revoke them now.
		err = p.checkReplayed(ctx, ar)
	}
	if err == nil && (ar.GetGrantTypes().ExactOne("authorization_code") || ar.GetGrantTypes().ExactOne("refresh_token")) {
		// The SSO session may have ended while these tokens were issued
		// (revoke.go).
		err = p.checkSessionLive(ctx, ar)
	}
	if err != nil {
		p.tokenError(w, r, ar, grantType, err)
		return
	}
	p.cfg.GrantIssued(grantType, "ok")
	p.oauth.WriteAccessResponse(ctx, w, ar, resp)
}

// supportedGrants are the grant types of the token endpoint.
var supportedGrants = []string{"authorization_code", "refresh_token", "client_credentials"}

// checkTokenForm refuses, before fosite reads it, a token request that
// checkClientForm refuses, or that names a grant type this provider does
// not offer (unsupported_grant_type, RFC 6749 §5.2; fosite would answer
// invalid_request), or lacks the code or refresh token its grant needs
// (invalid_request; fosite would answer invalid_grant).
func checkTokenForm(r *http.Request) error {
	if ok, err := checkClientForm(r); !ok || err != nil {
		return err
	}
	gt := r.PostForm.Get("grant_type")
	switch {
	case gt == "":
		return nil // fosite: invalid_request
	case !slices.Contains(supportedGrants, gt):
		return fosite.ErrUnsupportedGrantType.WithHintf("Use one of %s.", strings.Join(supportedGrants, ", "))
	case gt == "authorization_code" && r.PostForm.Get("code") == "":
		return fosite.ErrInvalidRequest.WithHint("The code parameter is missing.")
	case gt == "refresh_token" && r.PostForm.Get("refresh_token") == "":
		return fosite.ErrInvalidRequest.WithHint("The refresh_token parameter is missing.")
	}
	return nil
}

// refreshAccount brings a refreshed grant's session up to date with the
// account: the tokens a refresh issues carry the account's level as it is
// now, not as it was at login (grant records keep no copy of the account to
// go stale), and a deleted account's refresh tokens are dead.
func (p *Provider) refreshAccount(ctx context.Context, ar fosite.AccessRequester) error {
	sess, ok := ar.GetSession().(*Session)
	if !ok || sess.AccountID == "" {
		return nil
	}
	acct, err := sess.loadAccount(ctx, p.cfg.Durable)
	if err != nil {
		return err
	}
	sess.Level = string(acct.Level)
	return nil
}

// refreshScopeWithinGrant refuses a refresh request whose scope asks for
// more than was granted (RFC 6749 §6: invalid_scope; fosite ignores the
// parameter). A narrower scope is accepted; the tokens keep the scope of
// the grant, as the refresh token must (§6), and the response's scope says
// so (§3.3, §5.1).
func refreshScopeWithinGrant(requested string, granted []string) error {
	for _, s := range strings.Fields(requested) {
		if !slices.Contains(granted, s) {
			return fosite.ErrInvalidScope.WithHintf("The scope %q was not granted to this refresh token.", s)
		}
	}
	return nil
}

func (p *Provider) tokenError(w http.ResponseWriter, r *http.Request, ar fosite.AccessRequester, grantType string, err error) {
	err = p.replayed(r.Context(), ar, err)
	if errors.Is(err, store.ErrUnavailable) {
		// A store failed: the client may try again (RFC 6749 §5.2 has no
		// such code for the token endpoint, but §4.1.2.1's
		// temporarily_unavailable says what happened, with a 503).
		err = fosite.ErrTemporarilyUnavailable.WithHint("The service is temporarily unavailable; try again shortly.").WithWrap(err)
		w.Header().Set("Retry-After", "5")
	}
	var corrupt base64.CorruptInputError
	if grantType == "refresh_token" && (errors.Is(err, fosite.ErrTokenSignatureMismatch) || errors.Is(err, fosite.ErrInvalidTokenFormat) || errors.As(err, &corrupt)) {
		// fosite answers a refresh token whose HMAC does not verify (made
		// under a secret key since dropped, or tampered with) or that does
		// not parse with invalid_request; RFC 6749 §5.2 calls it
		// invalid_grant.
		err = fosite.ErrInvalidGrant.WithHint("The refresh token is invalid.").WithWrap(err)
	}
	if grantType == "client_credentials" && errors.Is(err, fosite.ErrInvalidGrant) {
		// fosite's only such error for this grant: a public client asked
		// for it, which RFC 6749 §5.2 calls unauthorized_client.
		err = fosite.ErrUnauthorizedClient.WithHint("A public client cannot use the client_credentials grant.").WithWrap(err)
	}
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
	if ar != nil {
		p.revokeIssued(ctx, ar.GetID(), "a replayed grant")
	}
	return fosite.ErrInvalidGrant.WithHint(what).WithWrap(err)
}

// revokeIssued revokes the refresh and access tokens of a request (a
// grant's family); failures are logged (why names the grant in the log).
func (p *Provider) revokeIssued(ctx context.Context, requestID, why string) {
	if requestID == "" {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if err := p.storage.RevokeRefreshToken(ctx, requestID); err != nil {
		p.cfg.Logger.ErrorContext(ctx, "revoke the refresh tokens of "+why, "err", err)
	}
	if err := p.storage.RevokeAccessToken(ctx, requestID); err != nil {
		p.cfg.Logger.ErrorContext(ctx, "revoke the access tokens of "+why, "err", err)
	}
}

// checkReplayed is called once a code exchange has issued tokens: if the
// code was presented again meanwhile (its mark is there, see
// storage.markReplayed), it returns fosite.ErrInvalidatedAuthorizeCode,
// which revokes them (replayed). It fails closed: when the mark cannot be
// read, the tokens are revoked and the store's failure returned (a 503:
// the code is spent, and the client's retry learns so).
func (p *Provider) checkReplayed(ctx context.Context, ar fosite.AccessRequester) error {
	_, err := p.cfg.Ephemeral.GetEntry(ctx, replayKey(ar.GetID()))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err == nil:
		return fosite.ErrInvalidatedAuthorizeCode
	}
	p.cfg.Logger.ErrorContext(ctx, "read a code's replay mark; revoking the tokens just issued", "err", err)
	p.revokeIssued(ctx, ar.GetID(), "an exchange whose replay mark is unreadable")
	return fmt.Errorf("oidc: read a code's replay mark: %w", err)
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
		writeInvalidClient(w, "introspect", "Authenticate with the client's id and secret (HTTP Basic).")
		return
	}
	ir, err := p.oauth.NewIntrospectionRequest(ctx, r, newSession())
	if errors.Is(err, store.ErrUnavailable) {
		// A store failed: neither "invalid client" nor "inactive" is known.
		p.cfg.Logger.ErrorContext(ctx, "introspection failed", "err", err)
		w.Header().Set("Retry-After", "5")
		w.Header().Set("Cache-Control", "no-store")
		httpx.WriteJSONError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The service is temporarily unavailable; try again shortly.")
		return
	}
	// The outermost error only: an inactive token's error wraps
	// request_unauthorized too, and must still answer active:false.
	if err != nil && fosite.ErrorToRFC6749Error(err).ErrorField == fosite.ErrRequestUnauthorized.ErrorField {
		writeInvalidClient(w, "introspect", "The client's credentials are invalid.")
		return
	}
	if err != nil {
		p.oauth.WriteIntrospectionError(ctx, w, err)
		return
	}
	if !mayIntrospect(r, ir) {
		ir = &fosite.IntrospectionResponse{Active: false}
	}
	p.writeIntrospection(w, ir)
}

// mayIntrospect reports whether the authenticated caller may learn about
// the introspected token: its own client may, and so may a resource server
// the access token is meant for (a client named in its audience). Any other
// caller is told the token is inactive (RFC 7662 §2.2 lets the server
// answer so; §4 asks it to limit what it reveals), so that one relying
// party cannot learn which services a citizen uses, or their sub and level,
// from another's tokens. A refresh token is only ever its client's.
func mayIntrospect(r *http.Request, ir fosite.IntrospectionResponder) bool {
	if !ir.IsActive() {
		return true
	}
	id, _, _ := r.BasicAuth()
	caller, err := url.QueryUnescape(id) // as fosite decoded it (RFC 6749 §2.3.1)
	if err != nil || caller == "" {
		return false
	}
	ar := ir.GetAccessRequester()
	if ar.GetClient().GetID() == caller {
		return true
	}
	return ir.GetTokenUse() == fosite.AccessToken && slices.Contains(ar.GetGrantedAudience(), caller)
}

// writeIntrospection is fosite's WriteIntrospectionResponse, except that exp
// is the introspected token's own expiry (fosite gives the access token's
// for a refresh token too), and iss and, for an access token, token_type
// are added (RFC 7662 §2.2). An inactive token gets {"active":false} alone.
func (p *Provider) writeIntrospection(w http.ResponseWriter, ir fosite.IntrospectionResponder) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if !ir.IsActive() {
		_, _ = w.Write([]byte(`{"active":false}` + "\n"))
		return
	}
	ar := ir.GetAccessRequester()
	sess := ar.GetSession()
	resp := map[string]any{}
	if extra, ok := sess.(fosite.ExtraClaimsSession); ok {
		for name, value := range extra.GetExtraClaims() {
			resp[name] = value
		}
	}
	// The standard members are ours to set, whatever the extra claims say.
	for _, name := range []string{"active", "exp", "client_id", "scope", "iat", "sub", "aud", "username", "iss", "token_type"} {
		delete(resp, name)
	}
	resp["active"] = true
	resp["iss"] = p.issuer
	use := ir.GetTokenUse()
	if use == fosite.AccessToken {
		resp["token_type"] = "Bearer"
	}
	if exp := sess.GetExpiresAt(use); !exp.IsZero() {
		resp["exp"] = exp.Unix()
	}
	if id := ar.GetClient().GetID(); id != "" {
		resp["client_id"] = id
	}
	if s := ar.GetGrantedScopes(); len(s) > 0 {
		resp["scope"] = strings.Join(s, " ")
	}
	if t := ar.GetRequestedAt(); !t.IsZero() {
		resp["iat"] = t.Unix()
	}
	if sub := sess.GetSubject(); sub != "" {
		resp["sub"] = sub
	}
	if aud := ar.GetGrantedAudience(); len(aud) > 0 {
		resp["aud"] = aud
	}
	if u := sess.GetUsername(); u != "" {
		resp["username"] = u
	}
	_ = json.NewEncoder(w).Encode(resp)
}

// handleRevoke is RFC 7009 token revocation.
func (p *Provider) handleRevoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	_, err := checkClientForm(r)
	if err == nil {
		err = p.oauth.NewRevocationRequest(ctx, r)
	}
	p.writeRevocation(ctx, w, err)
}

// writeRevocation answers a revocation request (RFC 7009 §2.2). fosite's
// writer answers 200 to every error but invalid_request and invalid_client,
// so a client would believe revoked a token that a store failure left
// active, or another client's token that it may not revoke; here those get
// their error. An unknown or already revoked token is 200, as §2.2 asks.
func (p *Provider) writeRevocation(ctx context.Context, w http.ResponseWriter, err error) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if err == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	status, code, desc := rfc.CodeField, rfc.ErrorField, rfc.GetDescription()
	switch code {
	case fosite.ErrInvalidClient.ErrorField:
		writeInvalidClient(w, "revoke", desc)
		return
	case fosite.ErrUnauthorizedClient.ErrorField:
		// RFC 7009 §2.1: refused, and the client told.
		status, desc = http.StatusBadRequest, "The token was not issued to this client."
	case fosite.ErrTemporarilyUnavailable.ErrorField:
		// fosite does not pass the store's error on.
		desc = "The token could not be revoked now; try again later."
		w.Header().Set("Retry-After", "5")
	}
	if status >= 500 {
		p.cfg.Logger.ErrorContext(ctx, "revocation failed", "error", code, "err", errors.Unwrap(rfc))
	}
	if status < 400 {
		status = http.StatusBadRequest
	}
	httpx.WriteJSONError(w, status, code, desc)
}

func hasBasicAuth(r *http.Request) bool {
	_, _, ok := r.BasicAuth()
	return ok
}
