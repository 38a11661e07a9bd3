package oidc_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// checkPageHeaders checks the security headers of a hosted page.
func checkPageHeaders(t *testing.T, name string, r *response) {
	t.Helper()
	h := r.Header
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("%s: CSP %q lacks frame-ancestors 'none'", name, csp)
	}
	if strings.Contains(csp, "'unsafe-inline'") || strings.Contains(csp, "'unsafe-eval'") {
		t.Errorf("%s: CSP %q allows inline code", name, csp)
	}
	want := map[string]string{
		"Referrer-Policy":        "no-referrer",
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-store",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s %q, want %q", name, k, got, v)
		}
	}
	if !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Errorf("%s: Content-Type %q, want text/html", name, h.Get("Content-Type"))
	}
	// The issuer is http: no HSTS.
	if h.Get("Strict-Transport-Security") != "" {
		t.Errorf("%s: HSTS on an http issuer", name)
	}
}

// checkCookies checks every cookie a response sets.
func checkCookies(t *testing.T, name string, r *response, seen map[string]bool) {
	t.Helper()
	for _, line := range r.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Errorf("%s: bad Set-Cookie %q: %v", name, line, err)
			continue
		}
		seen[c.Name] = true
		if !c.HttpOnly {
			t.Errorf("%s: cookie %s is not HttpOnly", name, c.Name)
		}
		if c.SameSite != http.SameSiteLaxMode {
			t.Errorf("%s: cookie %s SameSite %v, want Lax", name, c.Name, c.SameSite)
		}
		if c.Path != "/" {
			t.Errorf("%s: cookie %s Path %q, want /", name, c.Name, c.Path)
		}
		if c.Domain != "" {
			t.Errorf("%s: cookie %s Domain %q, want host-only", name, c.Name, c.Domain)
		}
	}
}

// Every hosted page carries the security headers, and every cookie set
// along the way is HttpOnly and SameSite=Lax.
func TestPageSecurityHeadersAndCookies(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	b := idp.newBrowser(t)
	seen := map[string]bool{}
	step := func(name string, r *response) *response {
		t.Helper()
		checkCookies(t, name, r, seen)
		if r.StatusCode < 300 || r.StatusCode >= 400 {
			checkPageHeaders(t, name, r)
		}
		return r
	}
	// The forms of a flow's pages submit only to the provider and to the
	// client's origin, where the flow ends; the logout confirmation without
	// a post_logout_redirect_uri only to the provider.
	formAction := func(name string, r *response, want string) {
		t.Helper()
		if got := r.Header.Get("Content-Security-Policy"); !strings.Contains(got, "form-action "+want+";") {
			t.Errorf("%s: CSP %q, want form-action %s", name, got, want)
		}
	}

	step("authorize error page", b.authorize(with(authzParams("openid"), "client_id", "nobody")))
	step("not found page", b.get("/no-such-page"))
	step("expired flow page", b.get("/login?flow=unknown"))

	q := authzParams("openid fullname")
	r := step("authorize", b.authorize(q))
	u := expectStep(t, r, "/login")
	page := step("login page (lang switch)", b.get(u.String()+"&lang=en"))
	formAction("login page", page, "'self' https://rp.example")
	formAction("failed login page", step("failed login page", b.submitLogin(page, citizenPhone, "wrong")), "'self' https://rp.example")
	r = step("login", b.submitLogin(page, citizenPhone, citizenPassword))
	u = expectStep(t, r, "/consent")
	formAction("consent page", step("consent page", b.get(u.String())), "'self' https://rp.example")
	r = step("consent", b.consent(r, "allow"))
	expectClientRedirect(t, r)
	page = step("logout confirmation page", b.get("/logout"))
	formAction("logout confirmation page", page, "'self'")
	f := onlyForm(t, page.body)
	step("logged out page", b.post(f.action, f.fields))
	step("csrf error page", b.post(f.action, url.Values{"flow": {"x"}}))

	for _, c := range []string{"csrf", "idp_session", "lang"} {
		if !seen[c] {
			t.Errorf("cookie %s was never set, so never checked", c)
		}
	}
}
