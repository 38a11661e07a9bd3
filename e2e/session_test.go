package e2e

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/internal/testserver"
)

// authorizeNoLogin starts an authorization and expects it to end at the
// relying party without any page (SSO, remembered consent).
func (e *env) authorizeNoLogin(t *testing.T, ag *testserver.Agent, conf *oauth2.Config, opts ...oauth2.AuthCodeOption) (authRequest, *url.URL) {
	t.Helper()
	a := e.newAuthRequest(conf, opts...)
	cb, page, err := ag.Authorize(ctxT(t), a.URL, testserver.Login{})
	if err != nil {
		t.Fatalf("authorize without login: %v (page %d %s)", err, page.Status, page.URL.Path)
	}
	return a, cb
}

// firstPage starts an authorization and returns the provider page it stops
// at after following the provider's redirects.
func firstPage(t *testing.T, ag *testserver.Agent, authURL string) *testserver.Page {
	t.Helper()
	p, err := ag.Get(ctxT(t), authURL)
	for i := 0; err == nil && i < 5; i++ {
		loc := p.Location()
		if loc == nil || !strings.HasPrefix(loc.String(), ag.Issuer+"/") {
			return p
		}
		p, err = ag.Get(ctxT(t), loc.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSSOPromptAndMaxAge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	conf := e.oauth2Config()
	ag := testserver.NewAgent(e.srv.URL, nil)

	// Without a session, prompt=none is login_required.
	a, cb := e.authorizeNoLogin(t, ag, conf, oauth2.SetAuthURLParam("prompt", "none"))
	if cb.Query().Get("error") != "login_required" || cb.Query().Get("state") != a.State {
		t.Fatalf("prompt=none without session: %s", cb)
	}

	// Log in once; the second authorization skips login and consent (SSO).
	a, code := e.login(t, ag, conf)
	_, first := e.tokens(t, conf, a, code)
	a, cb = e.authorizeNoLogin(t, ag, conf)
	_, second := e.tokens(t, conf, a, e.codeFrom(t, a, cb))
	if authTime(t, second) != authTime(t, first) {
		t.Errorf("SSO auth_time %d, want the first login's %d", authTime(t, second), authTime(t, first))
	}

	// prompt=none with a session and consent gives a code.
	a, cb = e.authorizeNoLogin(t, ag, conf, oauth2.SetAuthURLParam("prompt", "none"))
	e.codeFrom(t, a, cb)

	// prompt=none for a scope not yet allowed: consent_required.
	wider := e.oauth2Config("openid", "fullname", "email", "offline_access", "birthdate")
	_, cb = e.authorizeNoLogin(t, ag, wider, oauth2.SetAuthURLParam("prompt", "none"))
	if cb.Query().Get("error") != "consent_required" {
		t.Errorf("prompt=none with a new scope: %s", cb)
	}
	// Without prompt=none the new scope is asked for.
	if p := firstPage(t, ag, e.newAuthRequest(wider).URL); !p.Has("decision") {
		t.Errorf("new scope: want the consent page, got %d %s", p.Status, p.URL.Path)
	}

	// prompt=consent asks again even when remembered.
	if p := firstPage(t, ag, e.newAuthRequest(conf, oauth2.SetAuthURLParam("prompt", "consent")).URL); !p.Has("decision") {
		t.Errorf("prompt=consent: want the consent page, got %d %s", p.Status, p.URL.Path)
	}

	// prompt=login and max_age=0 demand a fresh login; a generous max_age does not.
	for _, opt := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0")} {
		if p := firstPage(t, ag, e.newAuthRequest(conf, opt).URL); !p.Has("password") {
			t.Errorf("want the login page, got %d %s", p.Status, p.URL.Path)
		}
	}
	// prompt=login authenticates afresh: auth_time (whole seconds) moves
	// on. Logins within the first login's second keep its auth_time; log
	// in again until one falls in a later second.
	for deadline := time.Now().Add(30 * time.Second); ; {
		a, code = e.login(t, ag, conf, oauth2.SetAuthURLParam("prompt", "login"))
		_, relogged := e.tokens(t, conf, a, code)
		if at := authTime(t, relogged); at > authTime(t, first) {
			break
		} else if at < authTime(t, first) {
			t.Fatalf("prompt=login: auth_time %d before the first login's %d", at, authTime(t, first))
		}
		if time.Now().After(deadline) {
			t.Fatalf("prompt=login: auth_time still the first login's %d after 30 s", authTime(t, first))
		}
		time.Sleep(50 * time.Millisecond)
	}
	a, cb = e.authorizeNoLogin(t, ag, conf, oauth2.SetAuthURLParam("max_age", "3600"))
	e.codeFrom(t, a, cb)

	// login_hint fills the identifier field.
	p := firstPage(t, testserver.NewAgent(e.srv.URL, nil), e.newAuthRequest(conf, oauth2.SetAuthURLParam("login_hint", "hint@example.ru")).URL)
	if !strings.Contains(p.Body, `value="hint@example.ru"`) {
		t.Error("login_hint is not prefilled")
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctxT(t)
	conf := e.oauth2Config()
	ag, a, tok, _ := e.signIn(t, conf)
	idToken := tok.Extra("id_token").(string)

	logout := func(q url.Values) *testserver.Page {
		t.Helper()
		p, err := ag.Get(ctx, e.srv.URL+"/logout?"+q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A tampered or unregistered post_logout_redirect_uri shows a page and
	// never redirects; the session survives.
	for _, bad := range []string{"https://evil.example/bye", "https://rp.example/bye/", "https://rp.example/bye?x=1"} {
		p := logout(url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {bad}, "state": {"x"}})
		if p.Status != http.StatusBadRequest || p.Header.Get("Location") != "" {
			t.Errorf("logout to %s: %d %q", bad, p.Status, p.Header.Get("Location"))
		}
	}
	// A tampered id_token_hint is refused.
	tampered := idToken[:len(idToken)-4] + "AAAA"
	if p := logout(url.Values{"id_token_hint": {tampered}, "post_logout_redirect_uri": {"https://rp.example/bye"}}); p.Status != http.StatusBadRequest || p.Header.Get("Location") != "" {
		t.Errorf("tampered hint: %d %q", p.Status, p.Header.Get("Location"))
	}
	// An access token is not an ID token, though we signed it.
	if p := logout(url.Values{"id_token_hint": {tok.AccessToken}, "post_logout_redirect_uri": {"https://rp.example/bye"}}); p.Status != http.StatusBadRequest {
		t.Errorf("access token as id_token_hint: %d", p.Status)
	}
	a, cb := e.authorizeNoLogin(t, ag, conf)
	e.codeFrom(t, a, cb)

	// The good one redirects with state and ends the session.
	p := logout(url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://rp.example/bye"}, "state": {"bye-state"}})
	loc := p.Location()
	if loc == nil || loc.Scheme+"://"+loc.Host+loc.Path != "https://rp.example/bye" || loc.Query().Get("state") != "bye-state" {
		t.Fatalf("logout: %d %v", p.Status, loc)
	}
	if p := firstPage(t, ag, e.newAuthRequest(conf).URL); !p.Has("password") {
		t.Errorf("after logout: want the login page, got %d %s", p.Status, p.URL.Path)
	}

	// Without a hint the citizen confirms on a page with a CSRF token.
	e.login(t, ag, conf)
	p = logout(url.Values{})
	forms := p.Forms()
	if p.Status != http.StatusOK || len(forms) == 0 || forms[0].Fields.Get("csrf_token") == "" {
		t.Fatalf("logout without hint: %d, forms %v", p.Status, forms)
	}
	if bad, _ := ag.Submit(ctx, p, testserver.Form{Action: forms[0].Action, Fields: url.Values{"flow": forms[0].Fields["flow"]}}, nil); bad.Status != http.StatusForbidden {
		t.Errorf("confirmation without CSRF token: %d", bad.Status)
	}
	done, err := ag.Submit(ctx, p, forms[0], nil)
	if err != nil || done.Status != http.StatusOK {
		t.Fatalf("confirm logout: %v %d", err, done.Status)
	}
	if p := firstPage(t, ag, e.newAuthRequest(conf).URL); !p.Has("password") {
		t.Errorf("after confirmed logout: want the login page, got %d %s", p.Status, p.URL.Path)
	}
}

func TestLockoutAfterFiveWrongPasswords(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctxT(t)
	conf := e.oauth2Config()
	attempt := func(identifier, password string) *testserver.Page {
		t.Helper()
		ag := testserver.NewAgent(e.srv.URL, nil)
		p := firstPage(t, ag, e.newAuthRequest(conf).URL)
		forms := p.Forms()
		if len(forms) == 0 {
			t.Fatalf("no login form: %d %s", p.Status, p.URL)
		}
		res, err := ag.Submit(ctx, p, forms[0], url.Values{"identifier": {identifier}, "password": {password}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// The same identifier in different spellings counts as one.
	spellings := []string{e.phone, "8" + e.phone[2:], "+7 (" + e.phone[2:5] + ") " + e.phone[5:8] + "-" + e.phone[8:10] + "-" + e.phone[10:]}
	var wrong, unknown *testserver.Page
	for i := 0; i < 4; i++ {
		wrong = attempt(spellings[i%len(spellings)], "wrong password")
		if wrong.Status != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: status %d", i+1, wrong.Status)
		}
		unknown = attempt("nobody"+randomDigits(4)+"@example.ru", "wrong password")
	}
	// A wrong password and an unknown account look the same.
	if unknown.Status != wrong.Status || !sameMessage(wrong.Body, unknown.Body) {
		t.Errorf("unknown account differs from wrong password: %d vs %d", unknown.Status, wrong.Status)
	}
	fifth := attempt(e.phone, "wrong password")
	if fifth.Status != http.StatusTooManyRequests {
		t.Errorf("fifth wrong password: status %d, want 429 with the retry time", fifth.Status)
	}
	locked := attempt(e.phone, citizenPwd)
	if locked.Status != http.StatusTooManyRequests || locked.Header.Get("Retry-After") == "" {
		t.Errorf("right password while locked: status %d Retry-After %q", locked.Status, locked.Header.Get("Retry-After"))
	}
	// Unknown identifiers lock the same way.
	ghost := "ghost" + randomDigits(5) + "@example.ru"
	var last *testserver.Page
	for i := 0; i < 6; i++ {
		last = attempt(ghost, "whatever")
	}
	if last.Status != http.StatusTooManyRequests {
		t.Errorf("unknown identifier after 6 attempts: %d", last.Status)
	}
	// Another citizen is not affected.
	other := newEnvAccount(t, e)
	if p := attempt(other, citizenPwd); p.Status != http.StatusSeeOther {
		t.Errorf("another citizen cannot log in: %d", p.Status)
	}
}

// sameMessage compares the alert text of two login pages.
func sameMessage(a, b string) bool {
	grab := func(s string) string {
		i := strings.Index(s, `role="alert"`)
		if i < 0 {
			return ""
		}
		j := strings.Index(s[i:], "</")
		return s[i : i+j]
	}
	return grab(a) != "" && grab(a) == grab(b)
}

// newEnvAccount creates another citizen with the common password.
func newEnvAccount(t *testing.T, e *env) string {
	t.Helper()
	phone := "+7926" + randomDigits(7)
	if _, err := e.srv.Admin().CreateAccount(ctxT(t), newAccount(phone)); err != nil {
		t.Fatal(err)
	}
	return phone
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "IDP_KEY_REFRESH=1s", "IDP_KEY_PUBLISH_DELAY=2s")
	ctx := ctxT(t)
	conf := e.oauth2Config()
	ag, _, tok, before := e.signIn(t, conf)
	oldKid := header(t, tok.Extra("id_token").(string)).KeyID

	out, err := e.srv.Run(ctx, "keys", "rotate", "--alg", "RS256")
	if err != nil {
		t.Fatalf("idp keys rotate: %v\n%s", err, out)
	}
	var key adminclient.KeyInfo
	if err := json.Unmarshal([]byte(out), &key); err != nil || key.KID == "" || key.KID == oldKid {
		t.Fatalf("idp keys rotate printed %q (%v); the old key is %s", out, err, oldKid)
	}
	// Published at once, used only from its active_at, the publish delay
	// later.
	awaitPublished(t, e.srv, key.KID)
	awaitKeySwitch(t, key.KID, key.ActiveAt, func() string {
		a, cb := e.authorizeNoLogin(t, ag, conf)
		tok, _ := e.tokens(t, conf, a, e.codeFrom(t, a, cb))
		return header(t, tok.Extra("id_token").(string)).KeyID
	})
	// The ID token signed before the rotation still verifies.
	fresh, err := oidc.NewProvider(ctx, e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.Verifier(&oidc.Config{ClientID: conf.ClientID}).Verify(ctx, tok.Extra("id_token").(string)); err != nil {
		t.Errorf("old ID token after rotation: %v (issued %v)", err, before.IssuedAt)
	}
}

func authTime(t *testing.T, idt *oidc.IDToken) int64 {
	t.Helper()
	var c struct {
		AuthTime int64 `json:"auth_time"`
	}
	if err := idt.Claims(&c); err != nil || c.AuthTime == 0 {
		t.Fatalf("auth_time: %v %d", err, c.AuthTime)
	}
	return c.AuthTime
}

// fromAddr is a transport that says, through X-Forwarded-For, that its
// requests come from addr (the server trusts the loopback proxy), in
// English, so that the pages' messages can be told apart.
type fromAddr string

func (a fromAddr) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", string(a))
	r.Header.Set("Accept-Language", "en")
	return http.DefaultTransport.RoundTrip(r)
}

// loginAnswer is what a login page answered, as the lockout sees it.
type loginAnswer string

const (
	answerWrong     loginAnswer = "wrong password (checked)"
	answerLocked    loginAnswer = "locked"
	answerIPLimited loginAnswer = "address blocked"
	answerBusy      loginAnswer = "busy (not checked)"
)

// loginAnswers tells the answers of a login apart by status and by the
// catalog's English messages.
func loginAnswers(t *testing.T) func(*testserver.Page) loginAnswer {
	t.Helper()
	r, err := web.New(slog.New(slog.DiscardHandler), web.Cookies{})
	if err != nil {
		t.Fatal(err)
	}
	return func(p *testserver.Page) loginAnswer {
		t.Helper()
		return classify(t, p, func(key string) string { return r.T(web.LangEN, key) })
	}
}

func classify(t *testing.T, p *testserver.Page, en func(key string) string) loginAnswer {
	t.Helper()
	switch {
	case p.Status == http.StatusUnauthorized:
		return answerWrong
	case p.Status == http.StatusTooManyRequests && strings.Contains(p.Body, en("login.busy")):
		return answerBusy
	case p.Status == http.StatusServiceUnavailable && strings.Contains(p.Body, en("login.busy")):
		return answerBusy
	case p.Status == http.StatusTooManyRequests && strings.Contains(p.Body, en("login.ip_limited")):
		return answerIPLimited
	case p.Status == http.StatusTooManyRequests && p.Header.Get("Retry-After") != "":
		return answerLocked
	}
	t.Fatalf("login answered %d:\n%.600s", p.Status, p.Body)
	return ""
}

// TestLockoutHoldsAgainstConcurrentGuesses: passwords sent together for one
// identifier are checked one at a time, so exactly as many are verified as
// the limit allows (5), no more, and the account is locked afterwards.
//
// How many passwords were checked is read from the per-address counter,
// which counts every failed check: the guesses come from one address
// (X-Forwarded-For through the trusted loopback proxy), whose limit is set
// to 7. Afterwards, wrong passwords for unknown identifiers from that
// address are answered as wrong until the counter reaches 7; so k such
// answers before the block mean 7-1-k checks in the burst.
func TestLockoutHoldsAgainstConcurrentGuesses(t *testing.T) {
	t.Parallel()
	const (
		n        = 20 // guesses sent together
		attempts = 5  // the default limit per identifier
		ipLimit  = 7
		burstIP  = "192.0.2.10"
	)
	e := newEnv(t, "IDP_TRUSTED_PROXIES=127.0.0.1/32", fmt.Sprintf("IDP_IP_FAILURE_LIMIT=%d", ipLimit))
	ctx := ctxT(t)
	classify := loginAnswers(t)
	conf := e.oauth2Config()
	loginPage := func(from string) (*testserver.Agent, *testserver.Page) {
		ag := testserver.NewAgent(e.srv.URL, fromAddr(from))
		p := firstPage(t, ag, e.newAuthRequest(conf).URL)
		if p.Status != http.StatusOK || len(p.Forms()) == 0 || !p.Has("password") {
			t.Fatalf("want the login page, got %d %s", p.Status, p.URL.Path)
		}
		return ag, p
	}
	attempt := func(from, identifier, password string) *testserver.Page {
		t.Helper()
		ag, p := loginPage(from)
		res, err := ag.Submit(ctx, p, p.Forms()[0], url.Values{"identifier": {identifier}, "password": {password}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	type ready struct {
		ag   *testserver.Agent
		page *testserver.Page
	}
	var agents []ready
	for range n {
		ag, p := loginPage(burstIP)
		agents = append(agents, ready{ag, p})
	}
	pages := make(chan *testserver.Page, n)
	start := make(chan struct{})
	for _, r := range agents {
		go func() {
			<-start
			res, err := r.ag.Submit(ctx, r.page, r.page.Forms()[0], url.Values{"identifier": {e.phone}, "password": {"wrong guess"}})
			if err != nil {
				t.Error(err)
			}
			pages <- res
		}()
	}
	close(start)
	answers := map[loginAnswer]int{}
	for range n {
		if p := <-pages; p != nil {
			answers[classify(p)]++
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// How many passwords the burst checked.
	probes := 0
	for {
		a := classify(attempt(burstIP, "probe"+randomDigits(8)+"@example.ru", "wrong"))
		if a == answerIPLimited {
			break
		}
		if a != answerWrong {
			t.Fatalf("probe %d from the burst's address: %s, want a wrong password or the address blocked", probes+1, a)
		}
		if probes++; probes > ipLimit {
			t.Fatalf("%d probes from the burst's address were not blocked; the limit is %d", probes, ipLimit)
		}
	}
	checked := ipLimit - 1 - probes
	t.Logf("%d guesses at once: %v; %d passwords checked", n, answers, checked)
	if probes == 0 {
		t.Fatalf("%d guesses at once checked at least %d passwords, want at most %d (answers %v)", n, checked, attempts, answers)
	}
	if checked < 1 || checked > attempts {
		t.Fatalf("%d guesses at once checked %d passwords, want at least 1 and at most %d (answers %v)", n, checked, attempts, answers)
	}
	// The checks before the one that locks are refused as wrong; the one
	// that locks, and every guess after it, are refused as locked.
	if want := min(checked, attempts-1); answers[answerWrong] != want {
		t.Errorf("%d guesses answered as wrong passwords, want %d of the %d checked (answers %v)", answers[answerWrong], want, checked, answers)
	}
	if answers[answerIPLimited] != 0 {
		t.Errorf("%d guesses blocked by address during the burst (answers %v)", answers[answerIPLimited], answers)
	}
	// A guess that was not told to come back later (busy) was either
	// checked or saw the lock, which takes every check the limit allows.
	if answers[answerBusy] == 0 && checked != min(n, attempts) {
		t.Errorf("no guess was turned away as busy, yet %d passwords were checked, want %d", checked, min(n, attempts))
	}
	// Guesses turned away as busy were not checked: the account gets the
	// rest of its attempts, from another address, and locks at the last.
	for i := checked + 1; i <= attempts; i++ {
		want := answerWrong
		if i == attempts {
			want = answerLocked
		}
		if a := classify(attempt("192.0.2.11", e.phone, "wrong again")); a != want {
			t.Fatalf("wrong password %d of %d after the burst: %s, want %s", i, attempts, a, want)
		}
	}
	// Locked: even the right password is refused, from yet another address.
	locked := attempt("192.0.2.12", e.phone, citizenPwd)
	if a := classify(locked); a != answerLocked || locked.Location() != nil {
		t.Errorf("right password after the burst: %s (%d, Location %v), want locked", a, locked.Status, locked.Location())
	}
}

// TestRequestBodiesAreBounded: a huge form is refused, not read into memory.
func TestRequestBodiesAreBounded(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t, testserver.NewShared(t))
	body := strings.NewReader("state=" + strings.Repeat("x", 1<<20))
	resp, err := http.Post(srv.URL+"/logout", "application/x-www-form-urlencoded", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a 1 MiB form: %d, want 413", resp.StatusCode)
	}
}
