package oidc_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// loggedIn returns a browser with an SSO session and an ID token issued in it.
func (idp *testIDP) loggedIn(t *testing.T) (*browser, string) {
	t.Helper()
	b := idp.newBrowser(t)
	code := b.codeFor(authzParams("openid"))
	r, tr := idp.exchange(t, code)
	if r.StatusCode != http.StatusOK || tr.IDToken == "" {
		t.Fatalf("token: status %d: %s", r.StatusCode, r.body)
	}
	if b.cookie("idp_session") == nil {
		t.Fatal("no session cookie after login")
	}
	return b, tr.IDToken
}

// expectLoggedOut checks that the browser's session is gone: the cookie is
// cleared and the next authorization asks for login.
func expectLoggedOut(t *testing.T, b *browser) {
	t.Helper()
	if c := b.cookie("idp_session"); c != nil {
		t.Errorf("session cookie still set: %q", c.Value)
	}
	expectStep(t, b.authorize(authzParams("openid")), "/login")
}

// expectLoggedIn checks that the browser's session still works.
func expectLoggedIn(t *testing.T, b *browser) {
	t.Helper()
	if p := expectClientRedirect(t, b.authorize(authzParams("openid"))); p.Get("code") == "" {
		t.Errorf("the session no longer works: %v", p)
	}
}

func TestLogoutWithHint(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			b, idToken := idp.loggedIn(t)
			// A second browser of the same citizen keeps its session.
			other, _ := idp.loggedIn(t)
			v := url.Values{
				"id_token_hint":            {idToken},
				"post_logout_redirect_uri": {rpPostLogout},
				"state":                    {"bye-state"},
			}
			var r *response
			if method == http.MethodGet {
				r = b.get("/logout?" + v.Encode())
			} else {
				r = b.post("/logout", v)
			}
			if r.StatusCode != http.StatusSeeOther {
				t.Fatalf("status %d, want 303; page:\n%s", r.StatusCode, textOf(t, r.body))
			}
			loc := r.location(t)
			if loc.Query().Get("state") != "bye-state" {
				t.Errorf("state %q, want bye-state", loc.Query().Get("state"))
			}
			loc.RawQuery = ""
			if loc.String() != rpPostLogout {
				t.Errorf("redirect to %s, want %s", loc, rpPostLogout)
			}
			cleared := false
			for _, c := range r.Cookies() {
				if c.Name == "idp_session" && c.MaxAge < 0 {
					cleared = true
				}
			}
			if !cleared {
				t.Errorf("the response does not clear the session cookie: %v", r.Header.Values("Set-Cookie"))
			}
			expectLoggedOut(t, b)
			expectLoggedIn(t, other)
		})
	}
}

func TestLogoutRejectsRedirect(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	tests := []struct {
		name   string
		params func(idToken string) url.Values
	}{
		{"unregistered", func(h string) url.Values {
			return url.Values{"id_token_hint": {h}, "post_logout_redirect_uri": {"https://evil.example/bye"}}
		}},
		{"trailing slash", func(h string) url.Values {
			return url.Values{"id_token_hint": {h}, "post_logout_redirect_uri": {rpPostLogout + "/"}}
		}},
		{"extra query", func(h string) url.Values {
			return url.Values{"id_token_hint": {h}, "post_logout_redirect_uri": {rpPostLogout + "?next=https://evil.example"}}
		}},
		{"host case", func(h string) url.Values {
			return url.Values{"id_token_hint": {h}, "post_logout_redirect_uri": {"https://RP.example/bye"}}
		}},
		{"userinfo look-alike", func(h string) url.Values {
			return url.Values{"id_token_hint": {h}, "post_logout_redirect_uri": {"https://rp.example@evil/bye"}}
		}},
		{"registered redirect URI of the client, not a post-logout one", func(h string) url.Values {
			return url.Values{"id_token_hint": {h}, "post_logout_redirect_uri": {rpRedirect}}
		}},
		{"another client's URI", func(h string) url.Values {
			return url.Values{"id_token_hint": {h}, "client_id": {secretClientID}, "post_logout_redirect_uri": {rpPostLogout}}
		}},
		{"no hint, no client", func(string) url.Values {
			return url.Values{"post_logout_redirect_uri": {rpPostLogout}}
		}},
		{"unknown client", func(string) url.Values {
			return url.Values{"client_id": {"no-such-client"}, "post_logout_redirect_uri": {rpPostLogout}}
		}},
		{"tampered hint", func(h string) url.Values {
			parts := strings.Split(h, ".")
			parts[1] = strings.TrimRight(parts[1], "=") + "A"
			return url.Values{"id_token_hint": {strings.Join(parts, ".")}, "post_logout_redirect_uri": {rpPostLogout}}
		}},
		{"hint with another signature", func(h string) url.Values {
			parts := strings.Split(h, ".")
			sig := []byte(parts[2])
			if sig[0] == 'A' {
				sig[0] = 'B'
			} else {
				sig[0] = 'A'
			}
			parts[2] = string(sig)
			return url.Values{"id_token_hint": {strings.Join(parts, ".")}, "post_logout_redirect_uri": {rpPostLogout}}
		}},
		{"hint that is not a JWT", func(string) url.Values {
			return url.Values{"id_token_hint": {"not-a-jwt"}, "post_logout_redirect_uri": {rpPostLogout}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, idToken := idp.loggedIn(t)
			r := b.get("/logout?" + tc.params(idToken).Encode())
			if r.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", r.StatusCode)
			}
			if loc := r.Header.Get("Location"); loc != "" {
				t.Errorf("redirects to %q", loc)
			}
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
				t.Errorf("Content-Type %q, want a page", r.Header.Get("Content-Type"))
			}
			// Nothing was logged out.
			expectLoggedIn(t, b)
		})
	}
}

// Without a hint, a link cannot log the citizen out: a confirmation page
// with a CSRF token is shown, and posting it logs out.
func TestLogoutConfirmation(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)

	t.Run("confirm", func(t *testing.T) {
		t.Parallel()
		b, _ := idp.loggedIn(t)
		v := url.Values{"client_id": {publicClientID}, "post_logout_redirect_uri": {rpPostLogout}, "state": {"s1"}}
		page := b.get("/logout?" + v.Encode())
		if page.StatusCode != http.StatusOK {
			t.Fatalf("status %d, want 200 confirmation page", page.StatusCode)
		}
		if page.Header.Get("Location") != "" {
			t.Fatal("logout without a hint redirected")
		}
		f := onlyForm(t, page.body)
		if f.fields.Get("csrf_token") == "" || f.fields.Get("flow") == "" || f.action == "" {
			t.Fatalf("confirmation form %+v lacks csrf_token, flow or action", f)
		}
		if !strings.Contains(textOf(t, page.body), rpClientName) {
			t.Errorf("confirmation does not name the client:\n%s", textOf(t, page.body))
		}
		// Until confirmed, the session stays.
		expectLoggedIn(t, b)

		r := b.post(f.action, f.fields)
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("confirm: status %d, want 303", r.StatusCode)
		}
		loc := r.location(t)
		if loc.Query().Get("state") != "s1" || strings.Split(loc.String(), "?")[0] != rpPostLogout {
			t.Errorf("confirm redirects to %s, want %s?state=s1", loc, rpPostLogout)
		}
		expectLoggedOut(t, b)

		// The logout rotated the CSRF cookie: the old form's token is
		// worthless (and the pending logout was used up anyway).
		if r := b.post(f.action, f.fields); r.StatusCode != http.StatusForbidden {
			t.Errorf("second confirm: status %d, want 403", r.StatusCode)
		}
	})

	t.Run("confirm without redirect", func(t *testing.T) {
		t.Parallel()
		b, _ := idp.loggedIn(t)
		page := b.get("/logout")
		f := onlyForm(t, page.body)
		r := b.post(f.action, f.fields)
		if r.StatusCode != http.StatusOK || r.Header.Get("Location") != "" {
			t.Fatalf("confirm: status %d Location %q, want the logged-out page", r.StatusCode, r.Header.Get("Location"))
		}
		expectLoggedOut(t, b)
	})

	t.Run("forged confirmation", func(t *testing.T) {
		t.Parallel()
		b, _ := idp.loggedIn(t)
		page := b.get("/logout")
		f := onlyForm(t, page.body)
		tests := map[string]url.Values{
			"wrong token":   with(f.fields, "csrf_token", "forged"),
			"missing token": with(f.fields, "csrf_token", ""),
			"other flow":    with(f.fields, "flow", "other-flow"),
		}
		for name, v := range tests {
			if r := b.post(f.action, v); r.StatusCode != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403", name, r.StatusCode)
			}
		}
		// Another browser posting this browser's form has no CSRF cookie.
		if r := idp.newBrowser(t).post(f.action, f.fields); r.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site post: status %d, want 403", r.StatusCode)
		}
		expectLoggedIn(t, b)
	})

	t.Run("no session", func(t *testing.T) {
		t.Parallel()
		b := idp.newBrowser(t)
		r := b.get("/logout")
		if r.StatusCode != http.StatusOK || len(forms(t, r.body)) != 0 {
			t.Errorf("status %d with %d forms, want the logged-out page", r.StatusCode, len(forms(t, r.body)))
		}
	})
}
