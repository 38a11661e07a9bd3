// Package rp is the catalog portal's relying-party side of OpenID Connect,
// built on github.com/coreos/go-oidc/v3 and golang.org/x/oauth2: discovery,
// the authorization code flow with PKCE (S256), state and nonce, ID token
// verification, userinfo (with verified_claims), refresh, revocation
// (RFC 7009), RP-initiated logout, and verification of back-channel logout
// tokens (OpenID Connect Back-Channel Logout 1.0). It holds no state of its
// own: the caller keeps the Request of each authorization and the tokens.
package rp

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Config configures a Client.
type Config struct {
	Issuer       string
	ClientID     string
	ClientSecret string // empty: a public client (PKCE only)
	RedirectURL  string
	// PostLogoutRedirectURL is where the provider sends the browser after
	// RP-initiated logout; empty leaves it out.
	PostLogoutRedirectURL string
	// HTTPClient talks to the provider; nil means a client with a 10 s
	// timeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// LogoutTokenMaxAge bounds how old (by iat) an accepted logout token
	// may be; 0 means 5 minutes.
	LogoutTokenMaxAge time.Duration
}

// Client is a relying party of one provider. Safe for concurrent use.
type Client struct {
	cfg        Config
	provider   *oidc.Provider
	oauth      oauth2.Config
	idVerifier *oidc.IDTokenVerifier
	ltVerifier *oidc.IDTokenVerifier
	endSession string
	revocation string
}

// New discovers the provider at cfg.Issuer and returns a client of it.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LogoutTokenMaxAge == 0 {
		cfg.LogoutTokenMaxAge = 5 * time.Minute
	}
	ctx = oidc.ClientContext(ctx, cfg.HTTPClient)
	p, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("rp: discovery: %w", err)
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
		Revocation string `json:"revocation_endpoint"`
	}
	if err := p.Claims(&extra); err != nil {
		return nil, fmt.Errorf("rp: discovery: %w", err)
	}
	c := &Client{cfg: cfg, provider: p, endSession: extra.EndSession, revocation: extra.Revocation}
	c.oauth = oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		Endpoint:     p.Endpoint(),
		RedirectURL:  cfg.RedirectURL,
	}
	if cfg.ClientSecret == "" {
		c.oauth.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	} else {
		c.oauth.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	}
	c.idVerifier = p.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: cfg.Now})
	// A logout token need not carry exp (Back-Channel Logout 1.0 §2.4):
	// its age is checked by iat in VerifyLogoutToken.
	c.ltVerifier = p.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: cfg.Now, SkipExpiryCheck: true})
	return c, nil
}

// Issuer is the provider's issuer.
func (c *Client) Issuer() string { return c.cfg.Issuer }

func (c *Client) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, c.cfg.HTTPClient)
}

// Request is what the relying party keeps between sending the browser to
// the provider and the callback: all three are random and single-use.
type Request struct {
	State, Nonce, Verifier string
}

// NewRequest returns a fresh state, nonce and PKCE verifier.
func NewRequest() Request {
	return Request{State: Random(), Nonce: Random(), Verifier: oauth2.GenerateVerifier()}
}

// Random returns 32 random bytes, base64url.
func Random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// AuthURL is the authorization request for r asking for scopes; acr, when
// set, is sent as acr_values (the account level the relying party needs);
// lang as ui_locales.
func (c *Client) AuthURL(r Request, scopes []string, acr, lang string) string {
	conf := c.oauth
	conf.Scopes = scopes
	opts := []oauth2.AuthCodeOption{oidc.Nonce(r.Nonce), oauth2.S256ChallengeOption(r.Verifier)}
	if acr != "" {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", acr))
	}
	if lang != "" {
		opts = append(opts, oauth2.SetAuthURLParam("ui_locales", lang))
	}
	return conf.AuthCodeURL(r.State, opts...)
}

// Tokens are what the token endpoint issued.
type Tokens struct {
	AccessToken, RefreshToken, IDToken string
	Expiry                             time.Time // of the access token
	Scopes                             []string  // granted; nil when the answer did not say
}

// Identity is what a verified ID token says about the login.
type Identity struct {
	Subject, SID, Level, ACR string
	AMR                      []string
	AuthTime                 time.Time
}

// ErrCallback is an error answer of the authorization endpoint.
type ErrCallback struct{ Code, Description string }

func (e *ErrCallback) Error() string { return "rp: authorization error " + e.Code }

// Callback checks the authorization response in q against r: the state,
// the issuer (RFC 9207, when present) and an error answer (*ErrCallback).
// It returns the code.
func (c *Client) Callback(q url.Values, r Request) (string, error) {
	if q.Get("state") != r.State {
		return "", errors.New("rp: callback state does not match")
	}
	if iss := q.Get("iss"); iss != "" && iss != c.cfg.Issuer {
		return "", errors.New("rp: callback from another issuer")
	}
	if e := q.Get("error"); e != "" {
		return "", &ErrCallback{Code: e, Description: q.Get("error_description")}
	}
	code := q.Get("code")
	if code == "" {
		return "", errors.New("rp: callback without a code")
	}
	return code, nil
}

// Exchange redeems the code with the PKCE verifier and verifies the ID
// token, its nonce included.
func (c *Client) Exchange(ctx context.Context, r Request, code string) (Tokens, Identity, error) {
	tok, err := c.oauth.Exchange(c.ctx(ctx), code, oauth2.VerifierOption(r.Verifier))
	if err != nil {
		return Tokens{}, Identity{}, fmt.Errorf("rp: exchange: %w", err)
	}
	t := tokensOf(tok, "")
	if t.IDToken == "" {
		return Tokens{}, Identity{}, errors.New("rp: the token response has no id_token")
	}
	id, err := c.VerifyIDToken(ctx, t.IDToken, r.Nonce)
	if err != nil {
		return Tokens{}, Identity{}, err
	}
	return t, id, nil
}

func tokensOf(tok *oauth2.Token, oldIDToken string) Tokens {
	t := Tokens{AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken, Expiry: tok.Expiry, IDToken: oldIDToken}
	if raw, ok := tok.Extra("id_token").(string); ok && raw != "" {
		t.IDToken = raw
	}
	if s, ok := tok.Extra("scope").(string); ok {
		t.Scopes = strings.Fields(s)
	}
	return t
}

// VerifyIDToken verifies an ID token (signature by the provider's JWKS,
// iss, aud, exp) and that its nonce is nonce.
func (c *Client) VerifyIDToken(ctx context.Context, raw, nonce string) (Identity, error) {
	idt, err := c.idVerifier.Verify(oidc.ClientContext(ctx, c.cfg.HTTPClient), raw)
	if err != nil {
		return Identity{}, fmt.Errorf("rp: ID token: %w", err)
	}
	if nonce == "" || idt.Nonce != nonce {
		return Identity{}, errors.New("rp: ID token: nonce does not match")
	}
	var cl struct {
		SID      string   `json:"sid"`
		Level    string   `json:"level"`
		ACR      string   `json:"acr"`
		AMR      []string `json:"amr"`
		AuthTime int64    `json:"auth_time"`
	}
	if err := idt.Claims(&cl); err != nil {
		return Identity{}, fmt.Errorf("rp: ID token claims: %w", err)
	}
	id := Identity{Subject: idt.Subject, SID: cl.SID, Level: cl.Level, ACR: cl.ACR, AMR: cl.AMR}
	if cl.AuthTime > 0 {
		id.AuthTime = time.Unix(cl.AuthTime, 0)
	}
	return id, nil
}

// Refresh redeems the refresh token for new tokens (the provider rotates
// the refresh token; a response without one keeps the old). oldIDToken is
// kept when the answer holds no new ID token.
func (c *Client) Refresh(ctx context.Context, refreshToken, oldIDToken string) (Tokens, error) {
	if refreshToken == "" {
		return Tokens{}, errors.New("rp: no refresh token")
	}
	src := c.oauth.TokenSource(c.ctx(ctx), &oauth2.Token{RefreshToken: refreshToken, Expiry: time.Unix(1, 0)})
	tok, err := src.Token()
	if err != nil {
		return Tokens{}, fmt.Errorf("rp: refresh: %w", err)
	}
	return tokensOf(tok, oldIDToken), nil
}

// UserInfo asks the userinfo endpoint with the access token and returns
// the claims.
func (c *Client) UserInfo(ctx context.Context, accessToken string) (*Claims, error) {
	ui, err := c.provider.UserInfo(oidc.ClientContext(ctx, c.cfg.HTTPClient), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: accessToken, TokenType: "Bearer"}))
	if err != nil {
		return nil, fmt.Errorf("rp: userinfo: %w", err)
	}
	var m map[string]any
	if err := ui.Claims(&m); err != nil {
		return nil, fmt.Errorf("rp: userinfo claims: %w", err)
	}
	return NewClaims(m), nil
}

// Revoke revokes a token at the revocation endpoint (RFC 7009); hint is
// "access_token" or "refresh_token". A provider without the endpoint is
// not an error.
func (c *Client) Revoke(ctx context.Context, token, hint string) error {
	if c.revocation == "" || token == "" {
		return nil
	}
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	if c.cfg.ClientSecret == "" {
		form.Set("client_id", c.cfg.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.revocation, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.cfg.ClientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.cfg.ClientSecret))
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("rp: revoke: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("rp: revoke: status %d", resp.StatusCode)
	}
	return nil
}

// EndSessionURL is the RP-initiated logout request (RP-Initiated Logout
// 1.0 §2) with the ID token as id_token_hint, the post-logout redirect and
// state; "" when the provider has no end_session_endpoint.
func (c *Client) EndSessionURL(idToken, state string) string {
	if c.endSession == "" {
		return ""
	}
	q := url.Values{"client_id": {c.cfg.ClientID}}
	if idToken != "" {
		q.Set("id_token_hint", idToken)
	}
	if c.cfg.PostLogoutRedirectURL != "" {
		q.Set("post_logout_redirect_uri", c.cfg.PostLogoutRedirectURL)
		if state != "" {
			q.Set("state", state)
		}
	}
	sep := "?"
	if strings.Contains(c.endSession, "?") {
		sep = "&"
	}
	return c.endSession + sep + q.Encode()
}

// Claims is a userinfo answer.
type Claims struct {
	All map[string]any
	// Verified holds the claims the provider says it checked: those inside
	// verified_claims (OpenID Connect for Identity Assurance), plus e-mail
	// and phone number when email_verified / phone_number_verified are true.
	Verified map[string]any
}

// NewClaims reads a userinfo answer.
func NewClaims(m map[string]any) *Claims {
	c := &Claims{All: m, Verified: VerifiedClaims(m)}
	if m["email_verified"] == true && m["email"] != nil {
		c.Verified["email"] = m["email"]
	}
	if m["phone_number_verified"] == true && m["phone_number"] != nil {
		c.Verified["phone_number"] = m["phone_number"]
	}
	return c
}

// String returns a claim as text: the verified value when there is one.
func (c *Claims) String(name string) (value string, verified bool) {
	if v, ok := c.Verified[name]; ok {
		if s := scalar(v); s != "" {
			return s, true
		}
	}
	return scalar(c.All[name]), false
}

func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64, bool, json.Number:
		return fmt.Sprint(x)
	}
	return ""
}

// VerifiedClaims collects the claims of verified_claims (OpenID Connect
// for Identity Assurance 1.0 §5): one object or an array of them, each with
// a verification (whose trust_framework must be set) and claims. Claims of
// an element without a verification are left out.
func VerifiedClaims(m map[string]any) map[string]any {
	out := map[string]any{}
	var elems []any
	switch v := m["verified_claims"].(type) {
	case map[string]any:
		elems = []any{v}
	case []any:
		elems = v
	}
	for _, e := range elems {
		obj, ok := e.(map[string]any)
		if !ok {
			continue
		}
		ver, ok := obj["verification"].(map[string]any)
		if !ok {
			continue
		}
		if tf, _ := ver["trust_framework"].(string); tf == "" {
			continue
		}
		claims, ok := obj["claims"].(map[string]any)
		if !ok {
			continue
		}
		for k, v := range claims {
			out[k] = v
		}
	}
	return out
}
