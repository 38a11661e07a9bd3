package oidc_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/esia-oidc/idp/store"
)

// Consent is remembered per client and per set of scopes: the same request
// again goes straight back to the client, a new scope or another client asks
// again.
func TestConsentRemembered(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	b := idp.newBrowser(t)

	// First time: login, then the consent page lists the scope.
	r := b.submitLogin(b.startLogin(authzParams("openid fullname")), citizenPhone, citizenPassword)
	u := expectStep(t, r, "/consent")
	page := b.get(u.String())
	if !strings.Contains(textOf(t, page.body), rpClientName) {
		t.Errorf("consent page does not name the client:\n%s", textOf(t, page.body))
	}
	p := expectClientRedirect(t, b.consent(r, "allow"))
	if p.Get("code") == "" {
		t.Fatalf("after consent: %v, want a code", p)
	}
	c, err := idp.srv.Durable.GetConsent(context.Background(), idp.account.ID, publicClientID)
	if err != nil || !slices.Contains(c.Scopes, "fullname") {
		t.Fatalf("stored consent %+v, %v; want fullname", c, err)
	}

	// Same scopes again: no question.
	p = expectClientRedirect(t, b.authorize(authzParams("openid fullname")))
	if p.Get("code") == "" {
		t.Fatalf("second authorization: %v, want a code without consent", p)
	}
	// A subset: no question either.
	p = expectClientRedirect(t, b.authorize(authzParams("openid")))
	if p.Get("code") == "" {
		t.Fatalf("subset: %v, want a code without consent", p)
	}

	// A new scope: asked again, and the answer adds to what was allowed.
	q := authzParams("openid fullname email")
	r = b.authorize(q)
	u = expectStep(t, r, "/consent")
	page = b.get(u.String())
	if !strings.Contains(page.body, "email") && !strings.Contains(strings.ToLower(textOf(t, page.body)), "e-mail") {
		t.Errorf("consent page does not ask for email:\n%s", textOf(t, page.body))
	}
	p = expectClientRedirect(t, b.consent(r, "allow"))
	if p.Get("code") == "" || p.Get("state") != q.Get("state") {
		t.Fatalf("after second consent: %v", p)
	}
	c, err = idp.srv.Durable.GetConsent(context.Background(), idp.account.ID, publicClientID)
	if err != nil || !slices.Contains(c.Scopes, "fullname") || !slices.Contains(c.Scopes, "email") {
		t.Fatalf("stored consent %+v, %v; want fullname and email", c, err)
	}
	p = expectClientRedirect(t, b.authorize(authzParams("openid email")))
	if p.Get("code") == "" {
		t.Fatalf("after consent to email: %v, want a code without consent", p)
	}

	// prompt=consent asks even when remembered.
	expectStep(t, b.authorize(with(authzParams("openid fullname"), "prompt", "consent")), "/consent")

	// Another client with the same scopes: asked again.
	other := with(authzParams("openid fullname"), "client_id", secretClientID, "redirect_uri", "https://rp2.example/cb")
	expectStep(t, b.authorize(other), "/consent")
}

func TestConsentDeny(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	b := idp.newBrowser(t)
	q := authzParams("openid fullname")
	r := b.submitLogin(b.startLogin(q), citizenPhone, citizenPassword)
	p := expectClientRedirect(t, b.consent(r, "deny"))
	if p.Get("error") != "access_denied" || p.Get("state") != q.Get("state") || p.Get("iss") != testIssuer {
		t.Errorf("response %v, want error=access_denied with state and iss", p)
	}
	if p.Get("code") != "" {
		t.Errorf("a code was issued after deny: %v", p)
	}
	if _, err := idp.srv.Durable.GetConsent(context.Background(), idp.account.ID, publicClientID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetConsent after deny: %v, want ErrNotFound", err)
	}
	// The session stays; the next request asks again.
	expectStep(t, b.authorize(q), "/consent")
}

// The consent page needs a logged-in flow, a known flow and a valid decision.
func TestConsentBadRequests(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	b := idp.newBrowser(t)
	q := authzParams("openid fullname")
	r := b.submitLogin(b.startLogin(q), citizenPhone, citizenPassword)
	u := expectStep(t, r, "/consent")
	page := b.get(u.String())
	f := onlyForm(t, page.body)

	bad := f.fields
	bad.Set("decision", "maybe")
	if r := b.post(u.RequestURI(), bad); r.StatusCode != http.StatusBadRequest || r.Header.Get("Location") != "" {
		t.Errorf("decision=maybe: status %d Location %q, want 400 and no redirect", r.StatusCode, r.Header.Get("Location"))
	}
	forged := with(f.fields, "csrf_token", "forged", "decision", "allow")
	if r := b.post(u.RequestURI(), forged); r.StatusCode != http.StatusForbidden || r.Header.Get("Location") != "" {
		t.Errorf("forged CSRF: status %d Location %q, want 403 and no redirect", r.StatusCode, r.Header.Get("Location"))
	}
	if r := b.get("/consent?flow=unknown-flow"); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown flow: status %d, want 404", r.StatusCode)
	}
	if _, err := idp.srv.Durable.GetConsent(context.Background(), idp.account.ID, publicClientID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetConsent after refused posts: %v, want ErrNotFound", err)
	}
	// The flow still works.
	if p := expectClientRedirect(t, b.consent(r, "allow")); p.Get("code") == "" {
		t.Errorf("allow: %v, want a code", p)
	}
}
