package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/esia-oidc/idp/internal/testserver"
)

// verifyAccessToken checks an RFC 9068 access token against the JWKS.
func (e *env) verifyAccessToken(t *testing.T, raw, alg string) map[string]any {
	t.Helper()
	h := header(t, raw)
	if h.ExtraHeaders["typ"] != "at+jwt" || h.Algorithm != alg || h.KeyID == "" {
		t.Errorf("access token header = alg %s kid %q typ %v, want %s at+jwt", h.Algorithm, h.KeyID, h.ExtraHeaders["typ"], alg)
	}
	v := e.provider.Verifier(&oidc.Config{SkipClientIDCheck: true, SupportedSigningAlgs: []string{alg}})
	tok, err := v.Verify(ctxT(t), raw)
	if err != nil {
		t.Fatalf("verify access token against JWKS: %v", err)
	}
	var c map[string]any
	tok.Claims(&c)
	for _, k := range []string{"iss", "exp", "aud", "sub", "client_id", "iat", "jti", "scope"} {
		if c[k] == nil {
			t.Errorf("access token lacks %q (RFC 9068 §2.2): %v", k, c)
		}
	}
	return c
}

func TestClientCredentialsRS256(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctxT(t)
	cc := clientcredentials.Config{
		ClientID: e.client.ClientID, ClientSecret: e.client.ClientSecret,
		TokenURL: e.provider.Endpoint().TokenURL, Scopes: []string{"fullname"},
	}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client credentials: %v", err)
	}
	c := e.verifyAccessToken(t, tok.AccessToken, "RS256")
	if c["client_id"] != e.client.ClientID || c["sub"] != e.client.ClientID || c["scope"] != "fullname" {
		t.Errorf("claims = %v", c)
	}
	ir := e.introspect(t, tok.AccessToken)
	if ir["active"] != true || ir["client_id"] != e.client.ClientID {
		t.Errorf("introspection = %v", ir)
	}

	// Token responses are not cached.
	status, body, hdr := postForm(t, cc.TokenURL, url.Values{"grant_type": {"client_credentials"}}, e.client.ClientID, e.client.ClientSecret)
	if status != http.StatusOK || hdr.Get("Cache-Control") != "no-store" {
		t.Errorf("token response: %d Cache-Control %q %v", status, hdr.Get("Cache-Control"), body)
	}

	// A wrong secret is 401 invalid_client.
	status, body, _ = postForm(t, cc.TokenURL, url.Values{"grant_type": {"client_credentials"}}, e.client.ClientID, "wrong-secret")
	if status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("wrong secret: %d %v", status, body)
	}
	// A public client cannot use client credentials (RFC 6749 §5.2:
	// unauthorized_client).
	status, body, _ = postForm(t, cc.TokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {e.public.ClientID}}, "", "")
	if status != http.StatusBadRequest || body["error"] != "unauthorized_client" || body["access_token"] != nil {
		t.Errorf("public client credentials: %d %v, want 400 unauthorized_client", status, body)
	}
}

func TestClientCredentialsES256(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "IDP_ACCESS_TOKEN_ALG=ES256")
	cc := clientcredentials.Config{
		ClientID: e.client.ClientID, ClientSecret: e.client.ClientSecret,
		TokenURL: e.provider.Endpoint().TokenURL,
	}
	tok, err := cc.Token(ctxT(t))
	if err != nil {
		t.Fatalf("client credentials: %v", err)
	}
	e.verifyAccessToken(t, tok.AccessToken, "ES256")
	if e.introspect(t, tok.AccessToken)["active"] != true {
		t.Error("ES256 access token is not introspectable")
	}
}

func TestIntrospectionAndRevocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctxT(t)
	conf := e.oauth2Config()
	ag, a, tok, _ := e.signIn(t, conf)

	ir := e.introspect(t, tok.AccessToken)
	if ir["active"] != true || ir["sub"] != e.subject || ir["client_id"] != e.client.ClientID {
		t.Errorf("introspection = %v", ir)
	}
	// Introspection requires client authentication.
	status, body, _ := postForm(t, e.srv.URL+"/introspect", url.Values{"token": {tok.AccessToken}}, "", "")
	if status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("unauthenticated introspection: %d %v, want 401 invalid_client", status, body)
	}

	// Revoking the access token (RFC 7009).
	status, body, _ = postForm(t, e.srv.URL+"/revoke", url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}, e.client.ClientID, e.client.ClientSecret)
	if status != http.StatusOK {
		t.Fatalf("revoke: %d %v", status, body)
	}
	if e.introspect(t, tok.AccessToken)["active"] != false {
		t.Error("revoked access token is still active")
	}
	if status, _ := replicaUserinfo(t, ctx, e.srv, tok.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("userinfo with a revoked access token: %d, want 401", status)
	}

	// Revoking the refresh token ends the grant.
	a, code := e.login(t, ag, conf)
	tok, _ = e.tokens(t, conf, a, code)
	status, _, _ = postForm(t, e.srv.URL+"/revoke", url.Values{"token": {tok.RefreshToken}}, e.client.ClientID, e.client.ClientSecret)
	if status != http.StatusOK {
		t.Fatalf("revoke refresh token: %d", status)
	}
	_, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if c, status := oauthErrorOf(t, err); c != "invalid_grant" || status != http.StatusBadRequest {
		t.Errorf("revoked refresh token: %d %q, want 400 invalid_grant", status, c)
	}
	ir = e.introspect(t, tok.RefreshToken)
	if ir["active"] != false {
		t.Errorf("revoked refresh token introspects as %v", ir)
	}
	// Unknown tokens are simply inactive.
	if e.introspect(t, "not-a-token")["active"] != false {
		t.Error("garbage token is active")
	}
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var d map[string]any
	if err := e.provider.Claims(&d); err != nil {
		t.Fatal(err)
	}
	if d["issuer"] != e.srv.URL || d["authorization_response_iss_parameter_supported"] != true {
		t.Errorf("discovery = %v", d)
	}
	b, _ := json.Marshal(d["code_challenge_methods_supported"])
	if string(b) != `["S256"]` {
		t.Errorf("code_challenge_methods_supported = %s", b)
	}
}

// TestIntrospectionNeedsClientCredentials: a token holder cannot introspect
// with a bearer token (fosite's default), only a client with its secret.
func TestIntrospectionNeedsClientCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cc := clientcredentials.Config{ClientID: e.client.ClientID, ClientSecret: e.client.ClientSecret, TokenURL: e.provider.Endpoint().TokenURL}
	a, err := cc.Token(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := cc.Token(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctxT(t), http.MethodPost, e.srv.URL+"/introspect", strings.NewReader(url.Values{"token": {b.AccessToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+a.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("introspection with a bearer token: %d, want 401", resp.StatusCode)
	}
	status, _, _ := postForm(t, e.srv.URL+"/introspect", url.Values{"token": {b.AccessToken}, "client_id": {e.client.ClientID}, "client_secret": {e.client.ClientSecret}}, "", "")
	if status != http.StatusUnauthorized {
		t.Errorf("introspection with form credentials: %d, want 401", status)
	}
}

// TestIDTokenES256PerClient: a client that registered
// id_token_signed_response_alg ES256 gets ES256 ID tokens; others RS256.
func TestIDTokenES256PerClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctxT(t)
	info, err := e.srv.Admin().GetClient(ctx, e.client.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	md := info.ClientMetadata
	md.IDTokenSignedResponseAlg = "ES256"
	if _, err := e.srv.Admin().UpdateClient(ctx, e.client.ClientID, md); err != nil {
		t.Fatal(err)
	}
	conf := e.oauth2Config()
	a, code := e.login(t, testserver.NewAgent(e.srv.URL, nil), conf)
	tok, _ := e.tokens(t, conf, a, code) // go-oidc verifies against JWKS
	if h := header(t, tok.Extra("id_token").(string)); h.Algorithm != "ES256" {
		t.Errorf("ID token alg = %s, want ES256", h.Algorithm)
	}
	if h := header(t, tok.AccessToken); h.Algorithm != "RS256" {
		t.Errorf("access token alg = %s, want the operator's RS256", h.Algorithm)
	}
}

// TestOperationalEndpoints: /healthz, /readyz, and /metrics with requests
// by route and status, latency histograms, grants by type and login
// outcomes.
func TestOperationalEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cc := clientcredentials.Config{ClientID: e.client.ClientID, ClientSecret: e.client.ClientSecret, TokenURL: e.provider.Endpoint().TokenURL}
	if _, err := cc.Token(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	a, code := e.login(t, testserver.NewAgent(e.srv.URL, nil), e.oauth2Config())
	e.tokens(t, e.oauth2Config(), a, code)
	get := func(path string) (int, string) {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if status, body := get(p); status != http.StatusOK || !strings.Contains(body, "ok") {
			t.Errorf("%s: %d %s", p, status, body)
		}
	}
	status, metrics := get("/metrics")
	if status != http.StatusOK {
		t.Fatalf("/metrics: %d", status)
	}
	for _, want := range []string{
		`http_requests_total{method="POST",route="POST /token",status="200"}`,
		`http_request_duration_seconds_bucket{route="POST /token"`,
		`idp_grants_total{grant_type="client_credentials",outcome="ok"}`,
		`idp_grants_total{grant_type="authorization_code",outcome="ok"}`,
		`idp_logins_total{outcome="success"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
