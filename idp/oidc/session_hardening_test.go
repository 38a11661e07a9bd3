package oidc_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/store"
)

// pendingConsent runs an authorization to its consent page and returns the
// consent form's fields and action.
func (b *browser) pendingConsent(q url.Values) (url.Values, string) {
	b.t.Helper()
	r := b.submitLogin(b.startLogin(q), citizenPhone, citizenPassword)
	u := expectStep(b.t, r, "/consent")
	page := b.get(u.String())
	f := onlyForm(b.t, page.body)
	v := url.Values{"flow": {f.fields.Get("flow")}, "csrf_token": {f.fields.Get("csrf_token")}, "decision": {"allow"}}
	return v, u.Path
}

// expectNoCode checks that r does not hand the client a code.
func expectNoCode(t *testing.T, r *response, what string) {
	t.Helper()
	if loc := r.Header.Get("Location"); strings.Contains(loc, "code=") {
		t.Fatalf("%s: a code was issued: %s", what, loc)
	}
}

// TestConsentPendingAtLogoutIssuesNothing: on a shared computer the next
// person presses Back and Allow on the previous citizen's consent page
// after the logout; no code comes of it. Logout rotates the CSRF cookie,
// which ends every flow of the browser.
func TestConsentPendingAtLogoutIssuesNothing(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	b := idp.newBrowser(t)
	allow, action := b.pendingConsent(authzParams("openid fullname"))

	page := b.get("/logout")
	f := onlyForm(t, page.body)
	if r := b.post(f.action, f.fields); r.StatusCode != http.StatusOK {
		t.Fatalf("confirm logout: %d", r.StatusCode)
	}
	r := b.post(action, allow)
	expectNoCode(t, r, "Allow after logout")
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("Allow after logout: status %d, want 403", r.StatusCode)
	}
	// The consent page itself is gone too.
	if r := b.get(action + "?flow=" + url.QueryEscape(allow.Get("flow"))); r.StatusCode != http.StatusForbidden {
		t.Errorf("consent page after logout: %d", r.StatusCode)
	}
}

// TestFlowIsBoundToItsSession: a flow authenticated by one SSO session
// does not outlive it, even where the browser's cookies are unchanged
// (the session ended on the server: expiry, or logout elsewhere).
func TestFlowIsBoundToItsSession(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	b := idp.newBrowser(t)
	allow, action := b.pendingConsent(authzParams("openid fullname"))
	sum := sha256.Sum256([]byte(b.cookie("idp_session").Value))
	if err := idp.srv.Ephemeral.DeleteEntry(context.Background(), "sso:"+hex.EncodeToString(sum[:])); err != nil {
		t.Fatal(err)
	}
	r := b.post(action, allow)
	expectNoCode(t, r, "Allow after the session ended")
	expectStep(t, r, "/login")
	// Logging in again on that flow finishes it.
	page := b.get(r.location(t).String())
	r = b.submitLogin(page, citizenPhone, citizenPassword)
	if r.StatusCode == http.StatusSeeOther && strings.HasPrefix(r.Header.Get("Location"), "/consent") {
		r = b.consent(r, "allow")
	}
	if p := expectClientRedirect(t, r); p.Get("code") == "" {
		t.Errorf("after logging in again: %v", p)
	}
}

// TestAnotherLoginOrphansPendingFlows: when another citizen logs in on the
// same browser, the first citizen's flow left at consent cannot be
// finished (the CSRF cookie is rotated at login): its Allow gets 403.
func TestAnotherLoginOrphansPendingFlows(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	ctx := context.Background()
	const otherPhone, otherPassword = "+79990003344", "another citizen's password"
	hash, err := idp.srv.Passwords.Hash(ctx, otherPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.srv.Durable.CreateAccount(ctx, &store.Account{ID: "other-" + randomSuffix(t), Level: store.LevelSimplified,
		FirstName: "Олег", Phone: otherPhone, PasswordHash: hash, CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	b := idp.newBrowser(t)
	allow, action := b.pendingConsent(authzParams("openid fullname"))
	// The other citizen logs in on this browser, in another flow.
	page := b.startLogin(with(authzParams("openid"), "prompt", "login"))
	if r := b.submitLogin(page, otherPhone, otherPassword); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the other citizen's login: %d", r.StatusCode)
	}
	r := b.post(action, allow)
	expectNoCode(t, r, "the first flow after another login")
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("Allow on the first citizen's flow after another login: %d, want 403", r.StatusCode)
	}
}

// TestCrossSiteLogoutPostChangesNothing: a cross-site POST to /logout
// carries no SameSite=Lax cookie; its answer must not delete the session
// cookie (nor rotate the CSRF cookie), with or without parameters.
func TestCrossSiteLogoutPostChangesNothing(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	b, idToken := idp.loggedIn(t)
	for name, form := range map[string]url.Values{
		"bare":      {},
		"with hint": {"id_token_hint": {idToken}, "post_logout_redirect_uri": {rpPostLogout}},
	} {
		r := idp.rawPost(t, "/logout", "application/x-www-form-urlencoded", form.Encode(), nil)
		if r.StatusCode >= 400 {
			t.Errorf("%s: status %d", name, r.StatusCode)
		}
		if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
			t.Errorf("%s: a cookieless logout sets cookies: %v", name, sc)
		}
	}
	expectLoggedIn(t, b)
}

// TestSessionFixation: a session cookie planted before login is replaced at
// login and never authenticates; a session replayed after logout is dead.
func TestSessionFixation(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	u, _ := url.Parse(idp.ts.URL)

	// Planted: the attacker's own valid session, set in the victim's jar.
	attacker, _ := idp.loggedIn(t)
	planted := attacker.cookie("idp_session").Value
	victim := idp.newBrowser(t)
	victim.jar.SetCookies(u, []*http.Cookie{{Name: "idp_session", Value: planted, Path: "/"}})
	victim.code(with(authzParams("openid"), "prompt", "login"))
	if got := victim.cookie("idp_session").Value; got == planted {
		t.Fatal("login kept the planted session cookie")
	}
	// The attacker's cookie was that session's; logging in ended it.
	if p := expectClientRedirect(t, attacker.authorize(with(authzParams("openid"), "prompt", "none"))); p.Get("error") != "login_required" {
		t.Errorf("the planted session survived the victim's login: %v", p)
	}

	// Replayed after logout.
	b, idToken := idp.loggedIn(t)
	old := b.cookie("idp_session").Value
	r := b.get("/logout?" + url.Values{"id_token_hint": {idToken}}.Encode())
	if r.StatusCode != http.StatusOK {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	thief := idp.newBrowser(t)
	thief.jar.SetCookies(u, []*http.Cookie{{Name: "idp_session", Value: old, Path: "/"}})
	if p := expectClientRedirect(t, thief.authorize(with(authzParams("openid"), "prompt", "none"))); p.Get("error") != "login_required" {
		t.Errorf("a session replayed after logout: %v", p)
	}
}

// TestCSRFCookieRotatesAtLoginAndLogout: the CSRF cookie has a new value
// after login and after logout.
func TestCSRFCookieRotatesAtLoginAndLogout(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	b := idp.newBrowser(t)
	page := b.startLogin(authzParams("openid"))
	before := b.cookie("csrf").Value
	r := b.submitLogin(page, citizenPhone, citizenPassword)
	afterLogin := b.cookie("csrf").Value
	if afterLogin == before {
		t.Error("the CSRF cookie was not rotated at login")
	}
	// The rotated cookie goes on: consent works with it.
	if r.StatusCode == http.StatusSeeOther && strings.HasPrefix(r.Header.Get("Location"), "/consent") {
		r = b.consent(r, "allow")
	}
	if p := expectClientRedirect(t, r); p.Get("code") == "" {
		t.Fatalf("login with the rotated cookie: %v", p)
	}
	page = b.get("/logout")
	f := onlyForm(t, page.body)
	b.post(f.action, f.fields)
	if b.cookie("csrf").Value == afterLogin {
		t.Error("the CSRF cookie was not rotated at logout")
	}
}

// TestHostPrefixedCookiesOnHTTPS: with an https issuer the session and
// CSRF cookies are __Host- cookies: Secure, Path=/, no Domain.
func TestHostPrefixedCookiesOnHTTPS(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t, func(c *config.Config) { c.Issuer = "https://idp.test" })
	b := idp.newBrowser(t)
	r := b.authorize(authzParams("openid"))
	seen := map[string]*http.Cookie{}
	collect := func(r *response) {
		for _, c := range r.Cookies() {
			seen[c.Name] = c
		}
	}
	collect(r)
	loginURL := r.location(t)
	page := b.get(loginURL.String())
	collect(page)
	csrf := seen["__Host-csrf"]
	if csrf == nil {
		t.Fatalf("no __Host-csrf cookie: %v", seen)
	}
	// The jar does not send Secure cookies over the test's http; post
	// the login form with the cookie by hand.
	f := onlyForm(t, page.body)
	v := url.Values{"flow": {f.fields.Get("flow")}, "csrf_token": {f.fields.Get("csrf_token")}, "identifier": {citizenPhone}, "password": {citizenPassword}}
	req, _ := http.NewRequest(http.MethodPost, idp.ts.URL+loginURL.RequestURI(), strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: csrf.Name, Value: csrf.Value})
	collect(idp.rawDo(t, req))
	for _, name := range []string{"__Host-csrf", "__Host-idp_session"} {
		c := seen[name]
		if c == nil {
			t.Errorf("no %s cookie: %v", name, seen)
			continue
		}
		if !c.Secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
			t.Errorf("%s: %+v", name, c)
		}
	}
	for name := range seen {
		if !strings.HasPrefix(name, "__Host-") {
			t.Errorf("cookie %s without the __Host- prefix on https", name)
		}
	}
}

// TestSessionsPerAccount: a citizen's sessions are listed per account,
// record the clients they signed in to, and one can be ended by its id
// (the security page's "end this session") without touching the others.
func TestSessionsPerAccount(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	ctx := context.Background()
	phone, laptop := idp.newBrowser(t), idp.newBrowser(t)
	phone.code(authzParams("openid"))
	laptop.code(authzParams("openid"))
	list, err := idp.srv.Sessions.List(ctx, idp.account.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("sessions of the account: %v %v, want 2", list, err)
	}
	for _, s := range list {
		if clients, err := idp.srv.Sessions.Clients(ctx, s.ID); err != nil || len(clients) != 1 || clients[0] != publicClientID {
			t.Errorf("clients of session %s: %v %v", s.ID, clients, err)
		}
	}
	// End the phone's session (the older one) by its id.
	if _, err := idp.srv.Sessions.EndByID(ctx, idp.account.ID, list[0].ID); err != nil {
		t.Fatal(err)
	}
	none := with(authzParams("openid"), "prompt", "none")
	if p := expectClientRedirect(t, phone.authorize(none)); p.Get("error") != "login_required" {
		t.Errorf("the ended session: %v", p)
	}
	if p := expectClientRedirect(t, laptop.authorize(none)); p.Get("code") == "" {
		t.Errorf("the other session: %v", p)
	}
}
