package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/internal/testserver"
)

func TestCodeFlowWithPKCE(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctxT(t)
	conf := e.oauth2Config()
	_, _, tok, idt := e.signIn(t, conf)

	if idt.Subject != e.subject {
		t.Errorf("sub = %q, want the account id %q", idt.Subject, e.subject)
	}
	var claims struct {
		Level      string   `json:"level"`
		ACR        string   `json:"acr"`
		AMR        []string `json:"amr"`
		AuthTime   int64    `json:"auth_time"`
		SID        string   `json:"sid"`
		FamilyName string   `json:"family_name"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Level != "simplified" || claims.ACR != "simplified" || !slices.Equal(claims.AMR, []string{"pwd"}) ||
		claims.AuthTime == 0 || claims.SID == "" {
		t.Errorf("ID token claims = %+v", claims)
	}
	// Scope claims are released at userinfo (OpenID Connect Core §5.4).
	if claims.FamilyName != "" {
		t.Errorf("ID token family_name = %q without the claims parameter", claims.FamilyName)
	}
	if h := header(t, tok.AccessToken); h.ExtraHeaders["typ"] != "at+jwt" || h.Algorithm != "RS256" {
		t.Errorf("access token header = %+v", h)
	}
	if tok.RefreshToken == "" {
		t.Error("no refresh token although offline_access was granted")
	}

	// userinfo, GET through go-oidc and POST by hand.
	ui, err := e.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var uc map[string]any
	ui.Claims(&uc)
	if ui.Subject != e.subject || uc["given_name"] != "Пётр" || uc["email"] == nil || uc["birthdate"] != nil {
		t.Errorf("userinfo = %v (birthdate was not requested)", uc)
	}
	status, body, _ := postForm(t, e.srv.URL+"/userinfo", url.Values{"access_token": {tok.AccessToken}}, "", "")
	if status != http.StatusOK || body["sub"] != e.subject {
		t.Errorf("userinfo POST: %d %v", status, body)
	}
	status, body, hdr := postForm(t, e.srv.URL+"/userinfo", url.Values{"access_token": {"garbage"}}, "", "")
	if status != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") == "" {
		t.Errorf("userinfo with a bad token: %d %v", status, body)
	}
}

func TestPublicClientPKCE(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctxT(t)
	conf := &oauth2.Config{
		ClientID: e.public.ClientID, Endpoint: e.provider.Endpoint(),
		RedirectURL: "http://127.0.0.1:9999/cb", Scopes: []string{"openid", "offline_access"},
	}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	ag := testserver.NewAgent(e.srv.URL, nil)

	// Loopback redirect: another port is accepted (RFC 8252 §7.3).
	a := e.newAuthRequest(conf, oauth2.SetAuthURLParam("redirect_uri", "http://127.0.0.1:45678/cb"))
	cb, page, err := ag.Authorize(ctx, a.URL, e.citizen())
	if err != nil {
		t.Fatalf("authorize: %v %.300s", err, page.Body)
	}
	if cb.Host != "127.0.0.1:45678" {
		t.Errorf("redirected to %s, want the requested loopback port", cb)
	}

	// A wrong verifier is refused.
	a, code := e.login(t, ag, conf)
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Error("exchange with a wrong verifier succeeded")
	} else if c, _ := oauthError(t, err); c != "invalid_grant" {
		t.Errorf("wrong verifier: error %q, want invalid_grant", c)
	}
	// The right verifier works (a wrong one does not consume the code: it
	// stays one-time, and a verifier cannot be guessed).
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(a.Verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Error("public client got no refresh token")
	}

	// Without PKCE, with plain, and with a challenge but no method: refused
	// with an error redirect to the (verified) redirect URI.
	base := url.Values{
		"client_id": {conf.ClientID}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {conf.RedirectURL}, "state": {"s1"},
	}
	for name, extra := range map[string]url.Values{
		"missing":   {},
		"plain":     {"code_challenge": {"abcdefghijabcdefghijabcdefghijabcdefghij123"}, "code_challenge_method": {"plain"}},
		"no method": {"code_challenge": {"abcdefghijabcdefghijabcdefghijabcdefghij123"}},
	} {
		q := url.Values{}
		for k, v := range base {
			q[k] = v
		}
		for k, v := range extra {
			q[k] = v
		}
		p, err := ag.Get(ctx, e.srv.URL+"/authorize?"+q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		loc := p.Location()
		if loc == nil || loc.Query().Get("error") != "invalid_request" || loc.Query().Get("state") != "s1" || loc.Query().Get("iss") != e.srv.URL {
			t.Errorf("PKCE %s: want an invalid_request redirect with state and iss, got %d %v", name, p.Status, loc)
		}
	}
}

func TestRedirectURIsMatchExactly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctxT(t)
	ag := testserver.NewAgent(e.srv.URL, nil)
	for _, ru := range []string{
		"https://rp.example/cb/",
		"https://RP.example/cb",
		"https://rp.example@evil/cb",
		"https://rp.example/cb?x=1",
		"https://rp.example/cb#frag",
		"https://evil.example/cb",
		"http://rp.example/cb",
	} {
		q := url.Values{
			"client_id": {e.client.ClientID}, "response_type": {"code"}, "scope": {"openid"},
			"redirect_uri": {ru}, "state": {"s"},
			"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
		}
		p, err := ag.Get(ctx, e.srv.URL+"/authorize?"+q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != http.StatusBadRequest || p.Header.Get("Location") != "" {
			t.Errorf("redirect_uri %q: got %d Location %q, want a 400 page", ru, p.Status, p.Header.Get("Location"))
		}
	}
	// Unknown client: a page, never a redirect.
	q := url.Values{"client_id": {"nobody"}, "response_type": {"code"}, "redirect_uri": {rpRedirect}}
	p, err := ag.Get(ctx, e.srv.URL+"/authorize?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != http.StatusBadRequest || p.Header.Get("Location") != "" {
		t.Errorf("unknown client: %d %q", p.Status, p.Header.Get("Location"))
	}
}

func TestCodeReuseRevokesTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctxT(t)
	conf := e.oauth2Config()
	ag := testserver.NewAgent(e.srv.URL, nil)
	a, code := e.login(t, ag, conf) // the code itself is reused below
	tok, _ := e.tokens(t, conf, a, code)
	if e.introspect(t, tok.AccessToken)["active"] != true {
		t.Fatal("fresh access token is not active")
	}
	_, err := conf.Exchange(ctx, code, oauth2.VerifierOption(a.Verifier))
	if err == nil {
		t.Fatal("a code was exchanged twice")
	}
	if c, _ := oauthError(t, err); c != "invalid_grant" {
		t.Errorf("code reuse: %q, want invalid_grant", c)
	}
	if e.introspect(t, tok.AccessToken)["active"] != false {
		t.Error("access token issued from a reused code is still active")
	}
	if status, _ := replicaUserinfo(t, ctx, e.srv, tok.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("userinfo with the access token of a reused code: %d, want 401", status)
	}
	_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if c, status := oauthErrorOf(t, err); c != "invalid_grant" || status != http.StatusBadRequest {
		t.Errorf("refresh token issued from a reused code: %d %q, want 400 invalid_grant", status, c)
	}

	// A code is bound to its redirect URI and its client.
	a, code = e.login(t, ag, conf)
	other := *conf
	other.RedirectURL = "https://rp.example/other"
	_, err = other.Exchange(ctx, code, oauth2.VerifierOption(a.Verifier))
	if c, status := oauthErrorOf(t, err); c != "invalid_grant" || status != http.StatusBadRequest {
		t.Errorf("code exchanged with another redirect_uri: %d %q, want 400 invalid_grant", status, c)
	}
}

func TestRefreshRotationAndReuseSurviveRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctxT(t)
	conf := e.oauth2Config()
	_, _, tok, _ := e.signIn(t, conf)

	refresh := func(rt string) (*oauth2.Token, error) {
		return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	}
	t1, err := refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if t1.RefreshToken == "" || t1.RefreshToken == tok.RefreshToken {
		t.Fatal("refresh token was not rotated")
	}
	// A refresh of an openid grant returns a new ID token (OpenID Connect
	// Core §12.2; the integrator guide promises it).
	raw, _ := t1.Extra("id_token").(string)
	if idt, err := e.provider.Verifier(&oidc.Config{ClientID: conf.ClientID}).Verify(ctx, raw); err != nil {
		t.Errorf("refreshed ID token %q: %v", raw, err)
	} else if idt.Subject != e.subject {
		t.Errorf("refreshed ID token sub = %q, want %q", idt.Subject, e.subject)
	}
	if e.introspect(t, tok.AccessToken)["active"] != false {
		t.Error("the access token of the rotated refresh token is still active")
	}

	// Every server restarts: the rotated token is still known as used.
	e.srv.Restart(t)
	t2, err := refresh(t1.RefreshToken)
	if err != nil {
		t.Fatalf("refresh after restart: %v", err)
	}
	e.srv.Restart(t)
	_, err = refresh(t1.RefreshToken)
	if c, status := oauthErrorOf(t, err); c != "invalid_grant" || status != http.StatusBadRequest {
		t.Errorf("reuse of a rotated refresh token: %d %q, want 400 invalid_grant", status, c)
	}
	// Reuse revoked the whole family, the newest token too.
	_, err = refresh(t2.RefreshToken)
	if c, status := oauthErrorOf(t, err); c != "invalid_grant" || status != http.StatusBadRequest {
		t.Errorf("the family's newest refresh token after reuse detection: %d %q, want 400 invalid_grant", status, c)
	}
	if e.introspect(t, t2.AccessToken)["active"] != false {
		t.Error("the family's access token survived reuse detection")
	}
}

// TestPairwiseByDefaultAndClaimsParameter: a client registered without a
// subject type gets a pairwise sub (not the account id, stable across
// logins, the same at userinfo), and the claims request parameter puts a
// named scope claim in the ID token.
func TestPairwiseByDefaultAndClaimsParameter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctxT(t)
	pw, err := e.srv.Admin().CreateClient(ctx, adminclient.ClientMetadata{
		ClientName:   "Pairwise RP",
		RedirectURIs: []string{rpRedirect},
		GrantTypes:   []string{"authorization_code"},
		Scope:        "openid fullname email",
	})
	if err != nil {
		t.Fatal(err)
	}
	if pw.SubjectType != "pairwise" {
		t.Fatalf("default subject_type %q, want pairwise", pw.SubjectType)
	}
	conf := &oauth2.Config{
		ClientID: pw.ClientID, ClientSecret: pw.ClientSecret, Endpoint: e.provider.Endpoint(),
		RedirectURL: rpRedirect, Scopes: []string{"openid", "fullname", "email"},
	}
	ag := testserver.NewAgent(e.srv.URL, nil)
	claims := oauth2.SetAuthURLParam("claims", `{"id_token":{"family_name":null}}`)
	a, code := e.login(t, ag, conf, claims)
	tok, idt := e.tokens(t, conf, a, code)
	if idt.Subject == "" || idt.Subject == e.subject {
		t.Fatalf("pairwise sub %q: empty or the account id", idt.Subject)
	}
	var c struct {
		FamilyName string `json:"family_name"`
		Email      string `json:"email"`
	}
	if err := idt.Claims(&c); err != nil || c.FamilyName != "Петров" || c.Email != "" {
		t.Errorf("ID token with claims={id_token:{family_name}}: %+v %v", c, err)
	}
	ui, err := e.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || ui.Subject != idt.Subject || ui.Email == "" {
		t.Fatalf("userinfo: %+v %v", ui, err)
	}
	a, code = e.login(t, ag, conf) // SSO
	if _, again := e.tokens(t, conf, a, code); again.Subject != idt.Subject {
		t.Errorf("pairwise sub changed between logins: %s then %s", idt.Subject, again.Subject)
	}
}
