package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"

	"github.com/esia-oidc/idp/consent"
	"github.com/esia-oidc/idp/store"
)

// maxClaimsRequest bounds the claims request parameter.
const maxClaimsRequest = 4 << 10

// claimsRequest is the claims request parameter (OpenID Connect Core §5.5):
// the claims asked for in the ID token and at userinfo, each with null or
// an object of requirements (essential, value, values).
type claimsRequest struct {
	IDToken  map[string]json.RawMessage `json:"id_token"`
	UserInfo map[string]json.RawMessage `json:"userinfo"`
}

// parseClaimsRequest parses the claims parameter; an empty one asks for
// nothing.
func parseClaimsRequest(raw string) (*claimsRequest, error) {
	var cr claimsRequest
	if raw == "" {
		return &cr, nil
	}
	if len(raw) > maxClaimsRequest {
		return nil, fosite.ErrInvalidRequest.WithHint("The claims parameter is too large.")
	}
	if err := json.Unmarshal([]byte(raw), &cr); err != nil {
		return nil, fosite.ErrInvalidRequest.WithHint("The claims parameter must be a JSON object with id_token and userinfo members (OpenID Connect Core §5.5).")
	}
	for _, m := range []map[string]json.RawMessage{cr.IDToken, cr.UserInfo} {
		for name, v := range m {
			if string(v) == "null" {
				continue
			}
			var req struct {
				Essential *bool           `json:"essential"`
				Value     json.RawMessage `json:"value"`
				Values    json.RawMessage `json:"values"`
			}
			if err := json.Unmarshal(v, &req); err != nil {
				return nil, fosite.ErrInvalidRequest.WithHintf("The claims parameter asks for %q with neither null nor an object.", name)
			}
		}
	}
	return &cr, nil
}

// claimRequest is one claim's entry in the claims parameter: null, or its
// requirements (OpenID Connect Core §5.5.1).
type claimRequest struct {
	Essential bool     `json:"essential"`
	Value     *string  `json:"value"`
	Values    []string `json:"values"`
}

// idTokenClaim returns the ID token's request for a claim, if any.
func (cr *claimsRequest) idTokenClaim(name string) (claimRequest, bool) {
	raw, ok := cr.IDToken[name]
	if !ok {
		return claimRequest{}, false
	}
	var c claimRequest
	if string(raw) != "null" {
		_ = json.Unmarshal(raw, &c) // any shape error was refused by parseClaimsRequest
	}
	return c, true
}

// acrValues returns the acr values the claims parameter accepts for the ID
// token (value or values, §5.5.1.1), and whether they are essential.
func (cr *claimsRequest) acrValues() (values []string, essential bool) {
	c, ok := cr.idTokenClaim("acr")
	if !ok {
		return nil, false
	}
	if c.Value != nil {
		values = append(values, *c.Value)
	}
	return append(values, c.Values...), c.Essential
}

// subject returns the sub the claims parameter demands for the ID token
// (§5.5.1: only that citizen may get a positive answer), or "".
func (cr *claimsRequest) subject() string {
	c, ok := cr.idTokenClaim("sub")
	if !ok || c.Value == nil {
		return ""
	}
	return *c.Value
}

// requiredLevel is the lowest account level the authorization accepts: the
// client's min_level, raised by the lowest level acr_values names and by
// the lowest level the claims parameter accepts for acr (Core §3.1.2.1,
// §5.5.1.1; the acr values are the level names, ordered). Unknown values
// are ignored.
func requiredLevel(clientMin store.Level, form url.Values) store.Level {
	need := consent.RequiredLevel(clientMin, form.Get("acr_values"))
	if cr, err := parseClaimsRequest(form.Get("claims")); err == nil {
		if values, _ := cr.acrValues(); len(values) > 0 {
			if l := consent.RequiredLevel(clientMin, strings.Join(values, " ")); l.Rank() > need.Rank() {
				need = l
			}
		}
	}
	return need
}

// requiresMFA reports whether the authorization needs a second factor: the
// client requires one, or every acr value the request names (acr_values,
// or the claims parameter's acr) asks for one.
func requiresMFA(clientRequires bool, form url.Values) bool {
	if clientRequires || consent.RequiresMFA(form.Get("acr_values")) {
		return true
	}
	if cr, err := parseClaimsRequest(form.Get("claims")); err == nil {
		if values, _ := cr.acrValues(); len(values) > 0 {
			return consent.RequiresMFA(strings.Join(values, " "))
		}
	}
	return false
}

// checkClaimsRequest refuses a claims parameter this provider cannot honour:
// an essential acr none of whose values it knows (§5.5.1.1: the request
// must then fail, not succeed at a lower assurance).
func checkClaimsRequest(cr *claimsRequest) error {
	values, essential := cr.acrValues()
	if !essential {
		return nil
	}
	for _, v := range values {
		if _, _, ok := consent.ParseACR(v); ok {
			return nil
		}
	}
	return errUnmetLevel.WithHint("The essential acr values requested are not supported; use simplified, standard or confirmed, or one of them with -mfa.")
}

// idTokenClaimNames returns the claims about the citizen that the ID token
// carries: those the claims parameter asks for in the ID token and the
// granted scopes release, in the table's order. Scope claims otherwise go
// to userinfo only (§5.4: an access token is always issued here), so that
// personal data does not travel in ID tokens, which end up in
// id_token_hint query strings, logs and browser history.
func idTokenClaimNames(raw string, granted []string) []string {
	cr, err := parseClaimsRequest(raw)
	if err != nil || len(cr.IDToken) == 0 {
		return nil
	}
	var out []string
	for _, name := range consent.ReleasedClaims(granted) {
		if _, ok := cr.IDToken[name]; ok {
			out = append(out, name)
		}
	}
	return out
}

// idTokenClaims fills each ID token, as it is signed, with what is current:
// the account's level and the claims about the citizen named in the
// session (IDTokenClaimNames), read from the account. Grant records hold
// neither, so a refreshed ID token is never stale, and no stored record
// holds personal data. It is the one place where ID token claims about the
// citizen are assembled; userinfo assembles its answer from the same
// consent.Claims.
type idTokenClaims struct {
	openid.OpenIDConnectTokenStrategy
	accounts store.Accounts
}

// GenerateIDToken implements openid.OpenIDConnectTokenStrategy.
func (s idTokenClaims) GenerateIDToken(ctx context.Context, lifespan time.Duration, r fosite.Requester) (string, error) {
	sess, ok := r.GetSession().(*Session)
	if !ok || sess.AccountID == "" {
		return s.OpenIDConnectTokenStrategy.GenerateIDToken(ctx, lifespan, r)
	}
	c := sess.Clone().(*Session)
	extra := map[string]any{}
	for _, k := range protocolClaims {
		if v, ok := c.Claims.Extra[k]; ok {
			extra[k] = v
		}
	}
	if c.Level != "" {
		extra["level"] = c.Level
	}
	if len(c.IDTokenClaimNames) > 0 || c.VerifiedIDToken != nil {
		acct, err := sess.loadAccount(ctx, s.accounts)
		if err != nil {
			return "", err
		}
		granted := consent.Grantable(acct.Level, r.GetGrantedScopes())
		for name, v := range consent.Claims(acct, granted) {
			if slices.Contains(c.IDTokenClaimNames, name) {
				extra[name] = v
			}
		}
		if c.VerifiedIDToken != nil {
			if vc := consent.VerifiedClaims(acct, granted, c.VerifiedIDToken); vc != nil {
				extra["verified_claims"] = vc
			}
		}
	}
	c.Claims.Extra = extra
	return s.OpenIDConnectTokenStrategy.GenerateIDToken(ctx, lifespan, withSession{r, c})
}

// loadAccount returns the session's account, reading it once per request.
// A deleted account ends the grant (invalid_grant).
func (s *Session) loadAccount(ctx context.Context, accounts store.Accounts) (*store.Account, error) {
	if s.account != nil {
		return s.account, nil
	}
	acct, err := accounts.GetAccount(ctx, s.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fosite.ErrInvalidGrant.WithHint("The account no longer exists.")
	}
	if err != nil {
		return nil, err
	}
	s.account = acct
	return acct, nil
}

// withSession is a requester seen with another session.
type withSession struct {
	fosite.Requester
	sess fosite.Session
}

func (w withSession) GetSession() fosite.Session { return w.sess }

// verifiedRequests reads what the claims parameter asks of verified_claims
// in the ID token and at userinfo (Identity Assurance §5.1, §5.2): the
// claims wanted inside it and the trust_framework and assurance_level
// values accepted; nil where it asks nothing. An array of verified_claims
// requests is refused by parseClaimsRequest (one object only).
func verifiedRequests(raw string) (idToken, userinfo *consent.VerifiedRequest) {
	cr, err := parseClaimsRequest(raw)
	if err != nil {
		return nil, nil
	}
	return verifiedRequest(cr.IDToken["verified_claims"]), verifiedRequest(cr.UserInfo["verified_claims"])
}

func verifiedRequest(raw json.RawMessage) *consent.VerifiedRequest {
	if raw == nil {
		return nil
	}
	var req struct {
		Verification map[string]json.RawMessage `json:"verification"`
		Claims       map[string]json.RawMessage `json:"claims"`
	}
	out := &consent.VerifiedRequest{}
	if string(raw) == "null" || json.Unmarshal(raw, &req) != nil {
		return out
	}
	accepted := func(v json.RawMessage) []string {
		var c claimRequest
		if v == nil || string(v) == "null" || json.Unmarshal(v, &c) != nil {
			return nil
		}
		if c.Value != nil {
			return append([]string{*c.Value}, c.Values...)
		}
		return c.Values
	}
	out.TrustFrameworks = accepted(req.Verification["trust_framework"])
	out.AssuranceLevels = accepted(req.Verification["assurance_level"])
	if req.Claims != nil {
		out.Claims = []string{}
		for name := range req.Claims {
			out.Claims = append(out.Claims, name)
		}
		slices.Sort(out.Claims)
	}
	return out
}
