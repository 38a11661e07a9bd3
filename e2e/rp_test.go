package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/internal/testserver"
)

const (
	rpRedirect = "https://rp.example/cb"
	citizenPwd = "correct horse battery"
)

// env is one running provider with a registered client and a citizen.
type env struct {
	srv      *testserver.Server
	client   *adminclient.ClientInfo // confidential
	public   *adminclient.ClientInfo // public, PKCE
	phone    string
	subject  string
	provider *oidc.Provider
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newEnv starts a server on a fresh deployment and registers a confidential
// client, a public client and a citizen.
func newEnv(t *testing.T, serverEnv ...string) *env {
	t.Helper()
	ctx := ctxT(t)
	srv := testserver.Start(t, testserver.NewShared(t), serverEnv...)
	return setupEnv(t, ctx, srv)
}

func setupEnv(t *testing.T, ctx context.Context, srv *testserver.Server) *env {
	t.Helper()
	adm := srv.Admin()
	scopes := "openid fullname email mobile birthdate offline_access"
	// Both clients share the account id as sub (subject_type public), so
	// that the tests can compare it with the admin API's id; the default,
	// pairwise, has its own test.
	conf, err := adm.CreateClient(ctx, adminclient.ClientMetadata{
		ClientName:             "Relying party",
		RedirectURIs:           []string{rpRedirect},
		PostLogoutRedirectURIs: []string{"https://rp.example/bye"},
		GrantTypes:             []string{"authorization_code", "refresh_token", "client_credentials"},
		Scope:                  scopes,
		SubjectType:            "public",
	})
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	pub, err := adm.CreateClient(ctx, adminclient.ClientMetadata{
		ClientName:              "Public app",
		RedirectURIs:            []string{"http://127.0.0.1:9999/cb"},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		Scope:                   scopes,
		TokenEndpointAuthMethod: "none",
		SubjectType:             "public",
	})
	if err != nil {
		t.Fatalf("create public client: %v", err)
	}
	phone := "+7916" + randomDigits(7)
	acct, err := adm.CreateAccount(ctx, adminclient.NewAccount{
		Phone: phone, Email: "citizen" + randomDigits(6) + "@example.ru", Password: citizenPwd,
		LastName: "Петров", FirstName: "Пётр", MiddleName: "Петрович", Birthdate: "1985-05-05",
	})
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	p, err := oidc.NewProvider(ctx, srv.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &env{srv: srv, client: conf, public: pub, phone: phone, subject: acct.ID, provider: p}
}

func randomDigits(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return string(b)
}

func randomString() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// oauth2Config is the confidential client's x/oauth2 configuration.
func (e *env) oauth2Config(scopes ...string) *oauth2.Config {
	if len(scopes) == 0 {
		scopes = []string{"openid", "fullname", "email", "offline_access"}
	}
	return &oauth2.Config{
		ClientID:     e.client.ClientID,
		ClientSecret: e.client.ClientSecret,
		Endpoint:     e.provider.Endpoint(),
		RedirectURL:  rpRedirect,
		Scopes:       scopes,
	}
}

// authRequest is one authorization with its PKCE verifier, state and nonce.
type authRequest struct {
	URL, State, Nonce, Verifier string
}

func (e *env) newAuthRequest(conf *oauth2.Config, opts ...oauth2.AuthCodeOption) authRequest {
	a := authRequest{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier()}
	opts = append(opts, oidc.Nonce(a.Nonce), oauth2.S256ChallengeOption(a.Verifier))
	a.URL = conf.AuthCodeURL(a.State, opts...)
	return a
}

func (e *env) citizen() testserver.Login {
	return testserver.Login{Identifier: e.phone, Password: citizenPwd}
}

// codeFrom checks the authorization response (state, iss) and returns the code.
func (e *env) codeFrom(t *testing.T, a authRequest, cb *url.URL) string {
	t.Helper()
	q := cb.Query()
	if q.Get("error") != "" {
		t.Fatalf("authorization error: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != a.State {
		t.Fatalf("state = %q, want %q", q.Get("state"), a.State)
	}
	if q.Get("iss") != e.srv.URL {
		t.Fatalf("iss = %q, want %q (RFC 9207)", q.Get("iss"), e.srv.URL)
	}
	if q.Get("code") == "" {
		t.Fatalf("no code in %s", cb)
	}
	return q.Get("code")
}

// login walks a full authorization for the citizen and returns the code.
func (e *env) login(t *testing.T, ag *testserver.Agent, conf *oauth2.Config, opts ...oauth2.AuthCodeOption) (authRequest, string) {
	t.Helper()
	a := e.newAuthRequest(conf, opts...)
	cb, page, err := ag.Authorize(ctxT(t), a.URL, e.citizen())
	if err != nil {
		t.Fatalf("authorize: %v (page %d: %.300s)", err, page.Status, page.Body)
	}
	return a, e.codeFrom(t, a, cb)
}

// tokens exchanges the code and verifies the ID token and its nonce.
func (e *env) tokens(t *testing.T, conf *oauth2.Config, a authRequest, code string) (*oauth2.Token, *oidc.IDToken) {
	t.Helper()
	ctx := ctxT(t)
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(a.Verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := e.provider.Verifier(&oidc.Config{ClientID: conf.ClientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if idt.Nonce != a.Nonce {
		t.Fatalf("nonce = %q, want %q", idt.Nonce, a.Nonce)
	}
	return tok, idt
}

// oauthError extracts the error code of a failed x/oauth2 call.
func oauthError(t *testing.T, err error) (string, int) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("want an OAuth error response, got %v", err)
	}
	return re.ErrorCode, re.Response.StatusCode
}

// oauthErrorOf is oauthError for a call that must have failed.
func oauthErrorOf(t *testing.T, err error) (string, int) {
	t.Helper()
	if err == nil {
		t.Fatal("the token request succeeded, want an OAuth error response")
	}
	return oauthError(t, err)
}

// postForm posts a form with optional basic auth and decodes the JSON answer.
func postForm(t *testing.T, u string, form url.Values, user, pass string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body, resp.Header
}

// introspect asks whether a token is active, as the confidential client.
func (e *env) introspect(t *testing.T, token string) map[string]any {
	t.Helper()
	status, body, _ := postForm(t, e.srv.URL+"/introspect", url.Values{"token": {token}}, e.client.ClientID, e.client.ClientSecret)
	if status != http.StatusOK {
		t.Fatalf("introspect: status %d %v", status, body)
	}
	return body
}

// header decodes a compact JWS's protected header.
func header(t *testing.T, raw string) jose.Header {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse JWS: %v", err)
	}
	return jws.Signatures[0].Protected
}

func newAccount(phone string) adminclient.NewAccount {
	return adminclient.NewAccount{Phone: phone, Password: citizenPwd, LastName: "Сидоров", FirstName: "Сидор"}
}

// signIn walks a whole authorization in a new agent and exchanges the code.
func (e *env) signIn(t *testing.T, conf *oauth2.Config) (*testserver.Agent, authRequest, *oauth2.Token, *oidc.IDToken) {
	t.Helper()
	ag := testserver.NewAgent(e.srv.URL, nil)
	a, code := e.login(t, ag, conf)
	tok, idt := e.tokens(t, conf, a, code)
	return ag, a, tok, idt
}

// getOnce sends one GET without following redirects or keeping cookies and
// returns the answer, its body closed.
func getOnce(t *testing.T, ctx context.Context, u string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
