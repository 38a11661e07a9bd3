package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/internal/testserver"
)

// browserChromium is Debian's chromium, which scripts/chromium.sh installs.
const browserChromium = "/usr/bin/chromium"

// browserRP is a tiny relying party: it records the query of every callback
// and answers with a page the browser can be seen to land on.
type browserRP struct {
	srv       *httptest.Server
	callbacks chan url.Values
}

func newBrowserRP(t *testing.T) *browserRP {
	t.Helper()
	rp := &browserRP{callbacks: make(chan url.Values, 8)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		select {
		case rp.callbacks <- r.URL.Query():
		default:
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><html><head><title>RP</title></head><body><p id="rp-done">callback received</p></body></html>`))
	})
	mux.HandleFunc("GET /logged-out", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><html><head><title>RP</title></head><body><p id="rp-logged-out">logged out</p></body></html>`))
	})
	rp.srv = httptest.NewServer(mux) // listens on 127.0.0.1
	t.Cleanup(rp.srv.Close)
	return rp
}

func (rp *browserRP) redirectURI() string { return rp.srv.URL + "/callback" }

// next returns the next recorded callback, or fails the test.
func (rp *browserRP) next(t *testing.T) url.Values {
	t.Helper()
	select {
	case q := <-rp.callbacks:
		return q
	case <-time.After(5 * time.Second):
		t.Fatal("the relying party received no callback")
		return nil
	}
}

// browserRandom returns a random URL-safe string (state, nonce).
func browserRandom(t *testing.T) string {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// browserAuth is one authorization request of the relying party.
type browserAuth struct {
	state, nonce, verifier, url string
}

func newBrowserAuth(t *testing.T, conf *oauth2.Config) browserAuth {
	a := browserAuth{state: browserRandom(t), nonce: browserRandom(t), verifier: oauth2.GenerateVerifier()}
	a.url = conf.AuthCodeURL(a.state, oauth2.S256ChallengeOption(a.verifier), oidc.Nonce(a.nonce))
	return a
}

// newBrowser starts a headless Chromium with a fresh profile and returns its
// context; it is closed when the test ends. extra options come after the
// usual ones.
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if _, err := os.Stat(browserChromium); err != nil {
		t.Fatalf("%s is missing (%v): run scripts/chromium.sh (make chromium) to install it", browserChromium, err)
	}
	profile, err := os.MkdirTemp("", "idp-e2e-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after the browser has been stopped.
	t.Cleanup(func() { os.RemoveAll(profile) })
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browserChromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// A Russian citizen's browser: Accept-Language ru.
		chromedp.Flag("lang", "ru-RU"),
		chromedp.Flag("accept-lang", "ru-RU,ru"),
	}
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc() // waits for the browser process to exit
	})
	// Start the browser now, so that a broken installation fails here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v (run scripts/chromium.sh to install it)", browserChromium, err)
	}
	return ctx
}

// TestBrowserLoginConsentAndSSO walks the authorization code flow in a real
// browser: the citizen types a phone number in a local format and the
// password on the Russian login page, allows the consent, and lands on the
// relying party, which exchanges the code with PKCE and verifies the ID
// token. A second authorization in the same browser skips the login.
func TestBrowserLoginConsentAndSSO(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t, testserver.NewShared(t))
	rp := newBrowserRP(t)
	bctx := newBrowser(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adm := srv.Admin()
	client, err := adm.CreateClient(ctx, adminclient.ClientMetadata{
		ClientName:              "Браузерный тест",
		RedirectURIs:            []string{rp.redirectURI()},
		PostLogoutRedirectURIs:  []string{rp.srv.URL + "/logged-out"},
		GrantTypes:              []string{"authorization_code"},
		Scope:                   "openid profile",
		TokenEndpointAuthMethod: "none",
		SubjectType:             "public", // the test compares sub with the account id
	})
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	const phone, password = "+79161234567", "Браузер-пароль-42"
	acct, err := adm.CreateAccount(ctx, adminclient.NewAccount{
		Phone: phone, Password: password, LastName: "Иванова", FirstName: "Мария", MiddleName: "Петровна",
	})
	if err != nil {
		t.Fatalf("create account: %v", err)
	}

	provider, err := oidc.NewProvider(ctx, srv.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := &oauth2.Config{
		ClientID:    client.ClientID,
		Endpoint:    provider.Endpoint(),
		RedirectURL: rp.redirectURI(),
		Scopes:      []string{oidc.ScopeOpenID, "profile"},
	}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	verifier := provider.Verifier(&oidc.Config{ClientID: client.ClientID})

	// First visit: login page in Russian, login, consent, callback.
	first := newBrowserAuth(t, conf)
	tctx, tcancel := context.WithTimeout(bctx, 60*time.Second)
	defer tcancel()
	err = chromedp.Do(tctx,
		chromedp.Navigate(first.url),
		chromedp.WaitVisible(chromedp.CSS(`input[name="identifier"]`)),
	)
	if err != nil {
		t.Fatalf("open the authorization URL: %v", err)
	}
	lang, err := chromedp.Run(tctx, chromedp.AttributeValue(chromedp.CSS(`html`), "lang"))
	if err != nil {
		t.Fatal(err)
	}
	if !lang.Exists || lang.Value != "ru" {
		t.Errorf("login page <html lang> = %q (present %v), want ru", lang.Value, lang.Exists)
	}
	passwordLabel, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(`label[for="password"]`)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(passwordLabel) != "Пароль" {
		t.Errorf("password label = %q, want the Russian %q", passwordLabel, "Пароль")
	}
	err = chromedp.Do(tctx,
		// A phone number as people write it; the server normalizes it.
		chromedp.SendKeys(chromedp.CSS(`input[name="identifier"]`), "8 (916) 123-45-67"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[name="decision"][value="allow"]`)),
		chromedp.Click(chromedp.CSS(`button[name="decision"][value="allow"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#rp-done`)),
	)
	if err != nil {
		t.Fatalf("log in and allow in the browser: %v", err)
	}
	landed, err := chromedp.Run(tctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(landed, rp.redirectURI()+"?") {
		t.Fatalf("browser landed on %q, want the relying party's callback %s", landed, rp.redirectURI())
	}
	q := rp.next(t)
	code := browserCheckCallback(t, q, first.state, srv.URL)

	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(first.verifier))
	if err != nil {
		t.Fatalf("token exchange: %v", err)
	}
	idt := browserVerify(t, ctx, verifier, tok, first.nonce)
	if idt.Subject != acct.ID {
		t.Errorf("ID token sub = %q, want the account %q", idt.Subject, acct.ID)
	}
	var claims struct {
		SID        string   `json:"sid"`
		AuthTime   int64    `json:"auth_time"`
		AMR        []string `json:"amr"`
		FamilyName string   `json:"family_name"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.SID == "" || claims.AuthTime == 0 {
		t.Errorf("ID token lacks sid or auth_time: %+v", claims)
	}
	if len(claims.AMR) != 1 || claims.AMR[0] != "pwd" {
		t.Errorf("ID token amr = %v, want [pwd]", claims.AMR)
	}
	if claims.FamilyName != "" {
		t.Errorf("ID token family_name = %q: personal data belong at userinfo", claims.FamilyName)
	}

	// Second visit in the same browser: the SSO session and the remembered
	// consent take it straight to the callback, without the login page.
	second := newBrowserAuth(t, conf)
	tctx2, tcancel2 := context.WithTimeout(bctx, 60*time.Second)
	defer tcancel2()
	err = chromedp.Do(tctx2,
		chromedp.Navigate(second.url),
		chromedp.WaitVisible(chromedp.CSS(`#rp-done`)),
	)
	if err != nil {
		t.Fatalf("second browser visit: %v", err)
	}
	landed, err = chromedp.Run(tctx2, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(landed, rp.redirectURI()+"?") {
		t.Fatalf("second visit landed on %q, want the callback straight away", landed)
	}
	code2 := browserCheckCallback(t, rp.next(t), second.state, srv.URL)
	if code2 == code {
		t.Error("the second authorization returned the first code again")
	}
	tok2, err := conf.Exchange(ctx, code2, oauth2.VerifierOption(second.verifier))
	if err != nil {
		t.Fatalf("second token exchange: %v", err)
	}
	idt2 := browserVerify(t, ctx, verifier, tok2, second.nonce)
	var claims2 struct {
		SID      string `json:"sid"`
		AuthTime int64  `json:"auth_time"`
	}
	if err := idt2.Claims(&claims2); err != nil {
		t.Fatal(err)
	}
	if idt2.Subject != acct.ID || claims2.SID != claims.SID || claims2.AuthTime != claims.AuthTime {
		t.Errorf("second ID token sub/sid/auth_time = %s/%s/%d, want the same session %s/%s/%d",
			idt2.Subject, claims2.SID, claims2.AuthTime, acct.ID, claims.SID, claims.AuthTime)
	}

	// Logout without an id_token_hint: the citizen confirms, and the form's
	// redirect to the client's post-logout page is allowed by the page's
	// form-action, which names only the provider and that origin.
	logout := srv.URL + "/logout?" + url.Values{
		"client_id":                {client.ClientID},
		"post_logout_redirect_uri": {rp.srv.URL + "/logged-out"},
		"state":                    {"bye"},
	}.Encode()
	tctx3, tcancel3 := context.WithTimeout(bctx, 60*time.Second)
	defer tcancel3()
	err = chromedp.Do(tctx3,
		chromedp.Navigate(logout),
		chromedp.WaitVisible(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#rp-logged-out`)),
	)
	if err != nil {
		t.Fatalf("logout: %v", err)
	}
	landed, err = chromedp.Run(tctx3, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if landed != rp.srv.URL+"/logged-out?state=bye" {
		t.Errorf("logout landed on %q, want the post-logout page with the state", landed)
	}
}

// browserCheckCallback checks an authorization response (RFC 6749 §4.1.2,
// RFC 9207) and returns its code.
func browserCheckCallback(t *testing.T, q url.Values, state, issuer string) string {
	t.Helper()
	if e := q.Get("error"); e != "" {
		t.Fatalf("callback error %q: %s", e, q.Get("error_description"))
	}
	if q.Get("code") == "" {
		t.Fatalf("callback has no code: %v", q)
	}
	if got := q.Get("state"); got != state {
		t.Errorf("callback state = %q, want %q", got, state)
	}
	if got := q.Get("iss"); got != issuer {
		t.Errorf("callback iss = %q, want %q", got, issuer)
	}
	return q.Get("code")
}

// browserVerify verifies the ID token of a token response and its nonce.
func browserVerify(t *testing.T, ctx context.Context, v *oidc.IDTokenVerifier, tok *oauth2.Token, nonce string) *oidc.IDToken {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("token response has no id_token")
	}
	idt, err := v.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if idt.Nonce != nonce {
		t.Errorf("ID token nonce = %q, want %q", idt.Nonce, nonce)
	}
	return idt
}
