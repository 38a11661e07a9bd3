package oidc_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/server"
	"github.com/esia-oidc/idp/internal/faultstore"
	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/postgres/postgrestest"
	"github.com/esia-oidc/idp/store/redis/redistest"
)

// newFaultyIDP is the provider on real PostgreSQL and Redis (a schema and
// key prefix of its own), with faults that the test turns on and off.
func newFaultyIDP(t *testing.T) (*testIDP, *faultstore.Faults) {
	t.Helper()
	faults := faultstore.New()
	redisURL, prefix := redistest.NewPrefix(t)
	dbURL := postgrestest.NewSchemaURL(t)
	idp := newTestIDPWith(t, []server.Option{server.WithStores(faults.Wrap)}, func(c *config.Config) {
		c.DatabaseURL, c.RedisURL, c.RedisPrefix, c.Migrate = dbURL, redisURL, prefix, true
	})
	return idp, faults
}

// expectUnavailable checks a generic 503 with Retry-After that tells
// nothing of the cause.
func expectUnavailable(t *testing.T, what string, r *response) {
	t.Helper()
	if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Errorf("%s: status %d, Retry-After %q; want 503 with Retry-After", what, r.StatusCode, r.Header.Get("Retry-After"))
	}
	for _, leak := range []string{"faultstore", "connection refused", "postgres", "redis", ".go:"} {
		if strings.Contains(r.body, leak) {
			t.Errorf("%s: the answer shows %q:\n%s", what, leak, r.body)
		}
	}
}

// TestStoreFailures: when a store fails under /login, /token or /userinfo
// the answer is a generic 503, and nothing is left half-written: once the
// store is back the same login, refresh token and access token work.
func TestStoreFailures(t *testing.T) {
	t.Parallel()
	idp, faults := newFaultyIDP(t)

	t.Run("login", func(t *testing.T) {
		b := idp.newBrowser(t)
		page := b.startLogin(authzParams("openid"))
		for _, op := range []string{"durable.FindAccount", "ephemeral.GetCounter", "ephemeral.CreateEntry", "ephemeral.PutEntry"} {
			faults.Fail(op)
			r := b.submitLogin(page, citizenPhone, citizenPassword)
			faults.Heal()
			expectUnavailable(t, "login with "+op+" failing", r)
			if c := b.cookie("idp_session"); c != nil {
				t.Errorf("login with %s failing set a session cookie", op)
			}
		}
		// The same flow logs in once the store is back, and no failure
		// was counted against the account.
		r := b.submitLogin(page, citizenPhone, citizenPassword)
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("login after the store came back: %d", r.StatusCode)
		}
	})

	t.Run("authorize", func(t *testing.T) {
		// A client no request has read yet: the client cache cannot answer
		// for the store.
		c := &store.Client{
			ID: "fresh-" + randomSuffix(t), Name: "Fresh RP", RedirectURIs: []string{rpRedirect},
			GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
			Scopes: []string{"openid"}, TokenEndpointAuthMethod: "none",
			CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC(),
		}
		if err := idp.srv.Durable.CreateClient(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		q := with(authzParams("openid"), "client_id", c.ID)
		b := idp.newBrowser(t)
		faults.Fail("durable.GetClient")
		r := b.authorize(q)
		faults.Heal()
		expectUnavailable(t, "authorize with durable.GetClient failing", r)
		if loc := r.Header.Get("Location"); loc != "" {
			t.Errorf("authorize with the client unknown redirected to %s", loc)
		}
		// Once the store is back, the same request goes on to the login.
		expectStep(t, b.authorize(q), "/login")
	})

	t.Run("token", func(t *testing.T) {
		tr := idp.refreshTokens(t)
		v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}, "client_id": {publicClientID}}
		// durable.Commit: the rotation's writes are held until the commit,
		// and a commit that fails rolls them all back.
		for _, op := range []string{"durable.GetGrant", "durable.CreateGrant", "ephemeral.CreateGrant", "durable.GetAccount", "durable.Commit"} {
			faults.Fail(op)
			r, body := idp.postToken(t, v)
			faults.Heal()
			expectUnavailable(t, "refresh with "+op+" failing", r)
			if body.Error != "temporarily_unavailable" || body.AccessToken != "" {
				t.Errorf("refresh with %s failing: %+v", op, body)
			}
		}
		// The refresh token was not rotated by any failed attempt.
		r, next := idp.refresh(t, tr.RefreshToken, "")
		if r.StatusCode != http.StatusOK || next.RefreshToken == "" {
			t.Fatalf("refresh after the store came back: %d %s", r.StatusCode, r.body)
		}
		if r, _ := idp.refresh(t, next.RefreshToken, ""); r.StatusCode != http.StatusOK {
			t.Fatalf("the rotated token: %d %s", r.StatusCode, r.body)
		}

		// A code exchange that fails issues nothing usable.
		code := idp.newBrowser(t).codeFor(authzParams("openid offline_access"))
		faults.Fail("durable.CreateGrant")
		r, body := idp.exchange(t, code)
		faults.Heal()
		expectUnavailable(t, "code exchange with durable.CreateGrant failing", r)
		if body.AccessToken != "" || body.RefreshToken != "" {
			t.Errorf("a failed exchange answered tokens: %+v", body)
		}

		// The marks read after the tokens are issued (a replay, an ended
		// session) cannot be read: fail closed, but as the store's failure
		// (503), not as the client's fault; the code is spent, which the
		// retry learns.
		code = idp.newBrowser(t).codeFor(authzParams("openid offline_access"))
		faults.Fail("ephemeral.GetEntry")
		r, body = idp.exchange(t, code)
		faults.Heal()
		expectUnavailable(t, "code exchange with the marks unreadable", r)
		if body.Error != "temporarily_unavailable" || body.AccessToken != "" || body.RefreshToken != "" {
			t.Errorf("code exchange with the marks unreadable: %+v", body)
		}
		if r, body := idp.exchange(t, code); r.StatusCode != http.StatusBadRequest || body.Error != "invalid_grant" {
			t.Errorf("the retry of a code spent by a failed exchange: %d %+v, want invalid_grant", r.StatusCode, body)
		}
	})

	t.Run("introspect", func(t *testing.T) {
		// A token never read before: neither the token cache nor anything
		// else answers for the store.
		tr := idp.confidentialTokens(t, "openid")
		form := url.Values{"token": {tr.AccessToken}}.Encode()
		faults.Fail("ephemeral.GetGrant")
		r := idp.rawPost(t, "/introspect", "application/x-www-form-urlencoded", form, secretBasic())
		faults.Heal()
		expectUnavailable(t, "introspection with ephemeral.GetGrant failing", r)
		if m := idp.introspect(t, tr.AccessToken); m["active"] != true {
			t.Errorf("introspection after the store came back: %v", m)
		}
	})

	t.Run("userinfo", func(t *testing.T) {
		_, tr := idp.exchange(t, idp.newBrowser(t).codeFor(authzParams("openid email")))
		for _, op := range []string{"ephemeral.GetGrant", "durable.GetAccount"} {
			faults.Fail(op)
			r, _ := idp.userinfo(t, tr.AccessToken)
			faults.Heal()
			expectUnavailable(t, "userinfo with "+op+" failing", r)
		}
		if r, ui := idp.userinfo(t, tr.AccessToken); r.StatusCode != http.StatusOK || ui["email"] != citizenEmail {
			t.Errorf("userinfo after the store came back: %d %v", r.StatusCode, ui)
		}
	})
}
