package oidc_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/server"
	"github.com/esia-oidc/idp/store/storetest"
)

// newClockedIDP is the provider reading time from a clock the test moves.
// It starts at the wall clock: fosite stamps what it issues with the wall
// clock, so the test moves the clock only forward, after issuing, from
// where the wall clock is (catchUp).
func newClockedIDP(t *testing.T) (*testIDP, *storetest.Clock) {
	t.Helper()
	clk := storetest.NewClockAt(time.Now())
	return newTestIDPWith(t, []server.Option{server.WithClock(clk.Now)}), clk
}

// TestExpiry: codes, login flows, SSO sessions, access tokens and refresh
// tokens end at their lifetimes, as the injected clock tells.
// catchUp moves the clock to the wall clock, which fosite stamped expiries
// with, when issuing took it ahead of the test's clock.
func catchUp(clk *storetest.Clock) {
	if d := time.Since(clk.Now()); d > 0 {
		clk.Advance(d)
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	def := config.Defaults()
	const second = time.Second

	t.Run("code", func(t *testing.T) {
		t.Parallel()
		idp, clk := newClockedIDP(t)
		code := idp.newBrowser(t).codeFor(authzParams("openid"))
		catchUp(clk)
		clk.Advance(def.CodeLifetime + second)
		r, _ := idp.exchange(t, code)
		oauthError(t, r, http.StatusBadRequest, "invalid_grant")
	})

	t.Run("flow", func(t *testing.T) {
		t.Parallel()
		idp, clk := newClockedIDP(t)
		b := idp.newBrowser(t)
		page := b.startLogin(authzParams("openid"))
		clk.Advance(30*time.Minute - second)
		if r := b.get(page.Request.URL.RequestURI()); r.StatusCode != http.StatusOK {
			t.Fatalf("the login page a second before the flow expires: %d", r.StatusCode)
		}
		clk.Advance(2 * second)
		if r := b.submitLogin(page, citizenPhone, citizenPassword); r.StatusCode != http.StatusNotFound {
			t.Errorf("login on an expired flow: %d, want 404 (start again)", r.StatusCode)
		}
	})

	t.Run("session", func(t *testing.T) {
		t.Parallel()
		idp, clk := newClockedIDP(t)
		b, _ := idp.loggedIn(t)
		none := with(authzParams("openid"), "prompt", "none")
		clk.Advance(def.SessionLifetime - time.Minute)
		if r := b.authorize(none); expectClientRedirect(t, r).Get("error") != "" {
			t.Fatalf("a session a minute before its end: %v", expectClientRedirect(t, r))
		}
		clk.Advance(time.Minute + second)
		if p := expectClientRedirect(t, b.authorize(none)); p.Get("error") != "login_required" {
			t.Errorf("an expired session: %v, want login_required", p)
		}
	})

	t.Run("access token", func(t *testing.T) {
		t.Parallel()
		idp, clk := newClockedIDP(t)
		_, tr := idp.exchange(t, idp.newBrowser(t).codeFor(authzParams("openid")))
		catchUp(clk)
		clk.Advance(def.AccessTokenLifetime - 5*second)
		if r, _ := idp.userinfo(t, tr.AccessToken); r.StatusCode != http.StatusOK {
			t.Fatalf("an access token seconds before it expires: %d", r.StatusCode)
		}
		clk.Advance(6 * second)
		r, _ := idp.userinfo(t, tr.AccessToken)
		oauthError(t, r, http.StatusUnauthorized, "invalid_token")
	})

	t.Run("refresh token", func(t *testing.T) {
		t.Parallel()
		idp, clk := newClockedIDP(t)
		tr := idp.refreshTokens(t)
		catchUp(clk)
		clk.Advance(def.RefreshTokenLifetime + second)
		r, _ := idp.postToken(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}, "client_id": {publicClientID}})
		oauthError(t, r, http.StatusBadRequest, "invalid_grant")
	})
}
