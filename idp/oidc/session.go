package oidc

import (
	"maps"
	"slices"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"

	"github.com/esia-oidc/idp/consent"
	"github.com/esia-oidc/idp/store"
)

// Session is what fosite stores with every code and token: the ID token
// claims (fosite's openid session) plus what the access token and userinfo
// need. It is serialized to JSON inside store.Grant.Data.
type Session struct {
	*openid.DefaultSession

	ClientID  string `json:"client_id"`
	AccountID string `json:"account_id,omitempty"` // empty for client credentials
	Level     string `json:"level,omitempty"`
	SID       string `json:"sid,omitempty"` // as the client sees it (pairwise for pairwise clients)
	// SessionID is the SSO session's own id (SID before any pairwise
	// mapping): the grants of the session carry it (store.Grant.SessionID),
	// so that ending the session revokes them. It is never released.
	SessionID string `json:"session_id,omitempty"`
	// IDTokenClaimNames names the claims about the citizen that ID tokens
	// carry: those the claims request parameter asked for in the ID token
	// (OpenID Connect Core §5.5) among those the granted scopes release.
	// Only the names are kept: the values are read from the account each
	// time an ID token is signed, so no grant record holds personal data
	// and a refreshed ID token is never stale.
	IDTokenClaimNames []string `json:"id_token_claim_names,omitempty"`
	// VerifiedIDToken and VerifiedUserinfo are what the claims request
	// parameter asked of verified_claims in the ID token and at userinfo
	// (OpenID Connect for Identity Assurance 1.0 §5): claim names and
	// accepted values, never the values themselves. Userinfo releases
	// verified_claims by the granted scopes too; the ID token only when
	// asked.
	VerifiedIDToken  *consent.VerifiedRequest `json:"verified_id_token,omitempty"`
	VerifiedUserinfo *consent.VerifiedRequest `json:"verified_userinfo,omitempty"`

	// account is the account as this request loaded it, if it did; it is
	// never stored.
	account *store.Account
}

var (
	_ openid.Session                           = (*Session)(nil)
	_ fosite.ExtraClaimsSession                = (*Session)(nil)
	_ interface{ GetJWTHeader() *jwt.Headers } = (*Session)(nil)
)

// newSession returns an empty session for fosite to fill from storage.
func newSession() *Session {
	return &Session{DefaultSession: &openid.DefaultSession{Claims: &jwt.IDTokenClaims{}, Headers: &jwt.Headers{}}}
}

// GetJWTClaims builds the claims of an RFC 9068 access token. It returns
// fresh claims on every call: fosite fills exp, iat, scope and aud per token,
// and a jti is drawn for every token.
func (s *Session) GetJWTClaims() jwt.JWTClaimsContainer {
	extra := map[string]any{"client_id": s.ClientID}
	if s.AccountID != "" {
		c := s.IDTokenClaims()
		if !c.AuthTime.IsZero() {
			extra["auth_time"] = c.AuthTime.Unix()
		}
		if c.AuthenticationContextClassReference != "" {
			extra["acr"] = c.AuthenticationContextClassReference
		}
		if s.Level != "" {
			extra["level"] = s.Level
		}
	}
	return &jwt.JWTClaims{Subject: s.Subject, Extra: extra}
}

// GetJWTHeader marks access tokens as RFC 9068 JWTs.
func (s *Session) GetJWTHeader() *jwt.Headers {
	return &jwt.Headers{Extra: map[string]any{"typ": "at+jwt"}}
}

// GetExtraClaims is what fosite's introspection endpoint adds to its answer.
func (s *Session) GetExtraClaims() map[string]any {
	out := map[string]any{}
	if s.AccountID != "" {
		out["level"] = s.Level
		if s.SID != "" {
			out["sid"] = s.SID
		}
	}
	return out
}

// Clone copies the session deeply enough that fosite may mutate the copy.
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	c := *s
	d := *s.DefaultSession
	c.DefaultSession = &d
	if d.Claims != nil {
		cl := *d.Claims
		cl.Audience = slices.Clone(cl.Audience)
		cl.AuthenticationMethodsReferences = slices.Clone(cl.AuthenticationMethodsReferences)
		cl.Extra = maps.Clone(cl.Extra)
		d.Claims = &cl
	}
	if d.Headers != nil {
		h := *d.Headers
		h.Extra = maps.Clone(h.Extra)
		d.Headers = &h
	}
	d.ExpiresAt = maps.Clone(d.ExpiresAt)
	c.IDTokenClaimNames = slices.Clone(s.IDTokenClaimNames)
	return &c
}

// expiry returns when the given artefact expires, zero when never.
func expiry(r fosite.Requester, tt fosite.TokenType) time.Time {
	if r.GetSession() == nil {
		return time.Time{}
	}
	return r.GetSession().GetExpiresAt(tt)
}

// protocolClaims are the ID token's extra claims that are not about the
// person; every other extra claim is filled from the account when an ID
// token is signed (idTokenClaims) and never stored.
var protocolClaims = []string{"level", "sid"}

// forStorage returns a copy to store with a grant: the ID token's extra
// claims keep only the protocol's own, whatever was set on the session.
func (s *Session) forStorage() *Session {
	c := s.Clone().(*Session)
	c.account = nil
	if c.Claims != nil {
		kept := map[string]any{}
		for _, k := range protocolClaims {
			if v, ok := c.Claims.Extra[k]; ok {
				kept[k] = v
			}
		}
		c.Claims.Extra = kept
	}
	return c
}
