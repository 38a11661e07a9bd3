package oidc_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/internal/logbuf"

	"golang.org/x/net/html"

	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/server"
	"github.com/esia-oidc/idp/store"
)

// The provider under test and what is seeded into it.
const (
	testIssuer = "http://idp.test"

	publicClientID  = "rp-public"
	secretClientID  = "rp-secret"
	rpClientSecret  = "rp-secret-value-that-is-long-enough-for-tests"
	rpRedirect      = "https://rp.example/cb"
	rpPostLogout    = "https://rp.example/bye"
	rpClientName    = "Relying Party"
	citizenPhone    = "+79990001122"
	citizenEmail    = "citizen@example.ru"
	citizenPassword = "correct horse battery staple"
	testVerifier    = "test-verifier-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFG"
)

// testIDP is a whole provider assembled as idp/server does, on the
// in-memory store, behind an httptest server.
type testIDP struct {
	srv     *server.Server
	ts      *httptest.Server
	logs    *logbuf.Buffer
	account *store.Account
}

// newTestIDP assembles the provider with cheap argon2 parameters and the
// issuer http://idp.test, and seeds a public client, a confidential client
// and one citizen. configure, if given, changes the configuration first.
func newTestIDP(t *testing.T, configure ...func(*config.Config)) *testIDP {
	t.Helper()
	ctx := context.Background()
	cfg := config.Defaults()
	cfg.Issuer = testIssuer
	cfg.Listen = "127.0.0.1:0"
	cfg.AdminToken = "admin-token-for-tests-only-0123456789abcdef"
	cfg.SecretKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	cfg.Argon2 = config.Argon2{MemoryKiB: 64, Time: 1, Threads: 1}
	cfg.MaxConcurrentHashes = 8
	for _, f := range configure {
		f(cfg)
	}
	logs := &logbuf.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(ctx, cfg, logger)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(srv.Close)
	runCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	go srv.Run(runCtx)

	now := time.Now().UTC()
	clients := []*store.Client{
		{
			ID:                      publicClientID,
			Name:                    rpClientName,
			RedirectURIs:            []string{rpRedirect},
			PostLogoutRedirectURIs:  []string{rpPostLogout},
			GrantTypes:              []string{"authorization_code", "refresh_token"},
			ResponseTypes:           []string{"code"},
			Scopes:                  []string{"openid", "fullname", "profile", "email", "mobile", "phone", "birthdate", "offline_access"},
			TokenEndpointAuthMethod: "none",
		},
		{
			ID:                      secretClientID,
			Name:                    "Confidential RP",
			SecretHash:              srv.Sealer.HashSecret(rpClientSecret),
			RedirectURIs:            []string{"https://rp2.example/cb"},
			GrantTypes:              []string{"authorization_code", "refresh_token", "client_credentials"},
			ResponseTypes:           []string{"code"},
			Scopes:                  []string{"openid", "fullname", "email"},
			TokenEndpointAuthMethod: "client_secret_basic",
		},
	}
	for _, c := range clients {
		c.CreatedAt, c.UpdatedAt = now, now
		if err := srv.Durable.CreateClient(ctx, c); err != nil {
			t.Fatalf("seed client %s: %v", c.ID, err)
		}
	}
	hash, err := srv.Passwords.Hash(ctx, citizenPassword)
	if err != nil {
		t.Fatalf("hash password: %v", err)
	}
	acct := &store.Account{
		ID:            "acc" + randomSuffix(t),
		Level:         store.LevelSimplified,
		LastName:      "Петрова",
		FirstName:     "Анна",
		MiddleName:    "Сергеевна",
		Phone:         citizenPhone,
		Email:         citizenEmail,
		PhoneVerified: true,
		EmailVerified: true,
		PasswordHash:  hash,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	if err := srv.Durable.CreateAccount(ctx, acct); err != nil {
		t.Fatalf("seed account: %v", err)
	}

	ts := httptest.NewServer(srv.Handler)
	t.Cleanup(ts.Close)
	return &testIDP{srv: srv, ts: ts, logs: logs, account: acct}
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	sum := sha256.Sum256([]byte(t.Name() + time.Now().String()))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// browser is a user agent with its own cookie jar that never follows
// redirects, so that every hop can be inspected.
type browser struct {
	t    *testing.T
	idp  *testIDP
	jar  http.CookieJar
	http *http.Client
}

func (idp *testIDP) newBrowser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{
		t:   t,
		idp: idp,
		jar: jar,
		http: &http.Client{
			Jar:     jar,
			Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
}

// response is an HTTP response with its body read.
type response struct {
	*http.Response
	body string
}

// location returns the Location header resolved against the request URL.
func (r *response) location(t *testing.T) *url.URL {
	t.Helper()
	loc := r.Header.Get("Location")
	if loc == "" {
		t.Fatalf("%s %s: status %d without Location; body:\n%s", r.Request.Method, r.Request.URL.Path, r.StatusCode, r.body)
	}
	u, err := r.Request.URL.Parse(loc)
	if err != nil {
		t.Fatalf("bad Location %q: %v", loc, err)
	}
	return u
}

func (b *browser) do(req *http.Request) *response {
	b.t.Helper()
	req.Header.Set("Accept-Language", "en")
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("read body of %s %s: %v", req.Method, req.URL, err)
	}
	return &response{Response: resp, body: string(body)}
}

// get fetches a path (with query) of the provider, or an absolute URL of it.
func (b *browser) get(pathOrURL string) *response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.abs(pathOrURL), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// post posts a form to a path of the provider.
func (b *browser) post(path string, form url.Values) *response {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.abs(path), strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *browser) abs(p string) string {
	if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
		return p
	}
	return b.idp.ts.URL + p
}

// cookie returns the browser's cookie for the provider, or nil.
func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.idp.ts.URL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// authorize starts an authorization with the given parameters.
func (b *browser) authorize(q url.Values) *response {
	b.t.Helper()
	return b.get("/authorize?" + q.Encode())
}

// authzParams returns a valid authorization request of the public client
// (PKCE S256 over testVerifier) with scope changed to scope.
func authzParams(scope string) url.Values {
	sum := sha256.Sum256([]byte(testVerifier))
	return url.Values{
		"client_id":             {publicClientID},
		"response_type":         {"code"},
		"scope":                 {scope},
		"redirect_uri":          {rpRedirect},
		"state":                 {"state-" + scope[:min(len(scope), 6)] + "-xyz"},
		"nonce":                 {"nonce-0123456789"},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
}

// with returns a copy of q with key set to value (deleted when value is "").
func with(q url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			out.Del(kv[i])
		} else {
			out.Set(kv[i], kv[i+1])
		}
	}
	return out
}

// expectStep checks that r redirects (303) to one of the provider's own
// pages at path and returns that URL.
func expectStep(t *testing.T, r *response, path string) *url.URL {
	t.Helper()
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("%s %s: status %d, want 303 to %s; body:\n%s", r.Request.Method, r.Request.URL.Path, r.StatusCode, path, r.body)
	}
	u := r.location(t)
	if u.Path != path || u.Query().Get("flow") == "" {
		t.Fatalf("redirect to %s, want %s?flow=...", u, path)
	}
	return u
}

// expectClientRedirect checks that r redirects to the registered redirect
// URI and returns the response parameters (query, or fragment when the
// response mode put them there).
func expectClientRedirect(t *testing.T, r *response) url.Values {
	t.Helper()
	if r.StatusCode < 300 || r.StatusCode > 399 {
		t.Fatalf("%s %s: status %d, want a redirect to the client; body:\n%s", r.Request.Method, r.Request.URL.Path, r.StatusCode, r.body)
	}
	u := r.location(t)
	base := *u
	base.RawQuery, base.Fragment = "", ""
	if base.String() != rpRedirect {
		t.Fatalf("redirect to %s, want the registered %s", u, rpRedirect)
	}
	params := u.Query()
	if u.Fragment != "" {
		frag, err := url.ParseQuery(u.Fragment)
		if err != nil {
			t.Fatalf("fragment of %s: %v", u, err)
		}
		for k, v := range frag {
			params[k] = v
		}
	}
	return params
}

// form is a parsed HTML form.
type form struct {
	action string
	fields url.Values // inputs with a name and value (hidden ones included)
	// buttons maps a submit button's name to its values.
	buttons map[string][]string
}

// forms parses every form of a page.
func forms(t *testing.T, page string) []form {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatalf("parse page: %v", err)
	}
	var out []*form
	var walk func(n *html.Node, cur *form)
	walk = func(n *html.Node, cur *form) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				cur = &form{action: attr(n, "action"), fields: url.Values{}, buttons: map[string][]string{}}
				out = append(out, cur)
			case "input":
				if cur != nil && attr(n, "name") != "" {
					cur.fields.Add(attr(n, "name"), attr(n, "value"))
				}
			case "button":
				if cur != nil && attr(n, "name") != "" {
					cur.buttons[attr(n, "name")] = append(cur.buttons[attr(n, "name")], attr(n, "value"))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, cur)
		}
	}
	walk(doc, nil)
	res := make([]form, len(out))
	for i, f := range out {
		res[i] = *f
	}
	return res
}

// onlyForm returns the single form of a page.
func onlyForm(t *testing.T, page string) form {
	t.Helper()
	fs := forms(t, page)
	if len(fs) != 1 {
		t.Fatalf("page has %d forms, want 1:\n%s", len(fs), page)
	}
	return fs[0]
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// links returns every href, src and action of a page.
func links(t *testing.T, page string) []string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatalf("parse page: %v", err)
	}
	var out []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				if a.Key == "href" || a.Key == "src" || a.Key == "action" {
					out = append(out, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

// textOf returns the visible text of a page with whitespace collapsed.
func textOf(t *testing.T, page string) string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatalf("parse page: %v", err)
	}
	var sb strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && (n.Data == "script" || n.Data == "style") {
			return
		}
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
			sb.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return strings.Join(strings.Fields(sb.String()), " ")
}

// submitLogin fills the login page's form and posts it back.
func (b *browser) submitLogin(loginPage *response, identifier, password string) *response {
	b.t.Helper()
	if loginPage.StatusCode != http.StatusOK && loginPage.StatusCode != http.StatusUnauthorized &&
		loginPage.StatusCode != http.StatusBadRequest && loginPage.StatusCode != http.StatusTooManyRequests {
		b.t.Fatalf("login page: status %d; body:\n%s", loginPage.StatusCode, loginPage.body)
	}
	f := onlyForm(b.t, loginPage.body)
	v := url.Values{}
	v.Set("flow", f.fields.Get("flow"))
	v.Set("csrf_token", f.fields.Get("csrf_token"))
	v.Set("identifier", identifier)
	v.Set("password", password)
	action := f.action
	if action == "" {
		action = loginPage.Request.URL.RequestURI()
	}
	return b.post(action, v)
}

// startLogin sends an authorization request that must ask for login, and
// returns the login page.
func (b *browser) startLogin(q url.Values) *response {
	b.t.Helper()
	r := b.authorize(q)
	u := expectStep(b.t, r, "/login")
	page := b.get(u.String())
	if page.StatusCode != http.StatusOK {
		b.t.Fatalf("GET /login: status %d; body:\n%s", page.StatusCode, page.body)
	}
	return page
}

// consent answers the consent page that r redirects to with decision.
func (b *browser) consent(r *response, decision string) *response {
	b.t.Helper()
	u := expectStep(b.t, r, "/consent")
	page := b.get(u.String())
	if page.StatusCode != http.StatusOK {
		b.t.Fatalf("GET /consent: status %d; body:\n%s", page.StatusCode, page.body)
	}
	f := onlyForm(b.t, page.body)
	if vals := f.buttons["decision"]; len(vals) != 2 {
		b.t.Fatalf("consent form has decision buttons %v, want allow and deny", vals)
	}
	v := url.Values{}
	v.Set("flow", f.fields.Get("flow"))
	v.Set("csrf_token", f.fields.Get("csrf_token"))
	v.Set("decision", decision)
	action := f.action
	if action == "" {
		action = page.Request.URL.RequestURI()
	}
	return b.post(action, v)
}

// codeFor runs an authorization that needs login and consent through to the
// code, checking state and iss on the way back.
func (b *browser) codeFor(q url.Values) string {
	b.t.Helper()
	r := b.submitLogin(b.startLogin(q), citizenPhone, citizenPassword)
	if r.StatusCode == http.StatusSeeOther && strings.HasPrefix(r.Header.Get("Location"), "/consent") {
		r = b.consent(r, "allow")
	}
	p := expectClientRedirect(b.t, r)
	if p.Get("error") != "" {
		b.t.Fatalf("authorization failed: %v", p)
	}
	if p.Get("state") != q.Get("state") || p.Get("iss") != testIssuer {
		b.t.Fatalf("authorization response %v: want state %q and iss %q", p, q.Get("state"), testIssuer)
	}
	if p.Get("code") == "" {
		b.t.Fatalf("authorization response without code: %v", p)
	}
	return p.Get("code")
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
	Error        string `json:"error"`
}

// exchange trades a code for tokens as the public client with PKCE.
func (idp *testIDP) exchange(t *testing.T, code string) (*response, tokenResponse) {
	t.Helper()
	v := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {rpRedirect},
		"client_id":     {publicClientID},
		"code_verifier": {testVerifier},
	}
	return idp.postToken(t, v)
}

// postToken posts a token request without client authentication (the
// public client) and decodes the answer, success or error.
func (idp *testIDP) postToken(t *testing.T, v url.Values) (*response, tokenResponse) {
	t.Helper()
	r := idp.rawPost(t, "/token", "application/x-www-form-urlencoded", v.Encode(), nil)
	var tr tokenResponse
	if err := json.Unmarshal([]byte(r.body), &tr); err != nil {
		t.Fatalf("token response is not JSON (%v):\n%s", err, r.body)
	}
	return r, tr
}

// rawPost posts a body without cookies.
func (idp *testIDP) rawPost(t *testing.T, path, contentType, body string, header http.Header) *response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, idp.ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return idp.rawDo(t, req)
}

// rawDo sends a request without cookies or redirects.
func (idp *testIDP) rawDo(t *testing.T, req *http.Request) *response {
	t.Helper()
	c := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{Response: resp, body: string(body)}
}
