package oidc_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/server"
	"github.com/esia-oidc/idp/internal/faultstore"
	"github.com/esia-oidc/idp/store/postgres/postgrestest"
	"github.com/esia-oidc/idp/store/redis/redistest"
)

// sessionTokens are the tokens two relying parties got in one SSO session.
type sessionTokens struct {
	b              *browser
	sid            string
	public, secret tokenResponse
}

// sessionWithTwoClients logs a new browser in and signs it in to the public
// client and then, by SSO, to the confidential one, each with a refresh
// token.
func (idp *testIDP) sessionWithTwoClients(t *testing.T) sessionTokens {
	t.Helper()
	b := idp.newBrowser(t)
	r, pub := idp.exchange(t, b.codeFor(authzParams("openid email offline_access")))
	if r.StatusCode != http.StatusOK || pub.RefreshToken == "" {
		t.Fatalf("public exchange: status %d: %s", r.StatusCode, r.body)
	}
	sec := idp.secretExchange(t, b.code(confidentialParams("openid email offline_access")))
	_, id := idp.verifiedClaims(t, pub.IDToken)
	sid, _ := id["sid"].(string)
	if sid == "" {
		t.Fatalf("ID token without sid: %v", id)
	}
	return sessionTokens{b: b, sid: sid, public: pub, secret: sec}
}

// secretExchange trades the confidential client's code for tokens.
func (idp *testIDP) secretExchange(t *testing.T, code string) tokenResponse {
	t.Helper()
	r, tr := idp.secretToken(t, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {secretRedirect}, "code_verifier": {testVerifier}})
	if r.StatusCode != http.StatusOK || tr.RefreshToken == "" {
		t.Fatalf("confidential exchange: status %d: %s", r.StatusCode, r.body)
	}
	return tr
}

// secretToken posts a token request as the confidential client.
func (idp *testIDP) secretToken(t *testing.T, v url.Values) (*response, tokenResponse) {
	t.Helper()
	r := idp.rawPost(t, "/token", "application/x-www-form-urlencoded", v.Encode(), basicAuth(secretClientID))
	var tr tokenResponse
	if err := json.Unmarshal([]byte(r.body), &tr); err != nil {
		t.Fatalf("token response is not JSON (%v):\n%s", err, r.body)
	}
	return r, tr
}

// expectRevoked checks that the session's tokens are refused everywhere: its
// refresh tokens at the token endpoint (invalid_grant), its access tokens
// at userinfo (401) and introspection (inactive), for both clients.
func (idp *testIDP) expectRevoked(t *testing.T, what string, s sessionTokens) {
	t.Helper()
	if r, _ := idp.refresh(t, s.public.RefreshToken, ""); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "invalid_grant") {
		t.Errorf("%s: the public client's refresh: status %d: %s; want invalid_grant", what, r.StatusCode, r.body)
	}
	r, _ := idp.secretToken(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.secret.RefreshToken}})
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "invalid_grant") {
		t.Errorf("%s: the confidential client's refresh: status %d: %s; want invalid_grant", what, r.StatusCode, r.body)
	}
	for name, at := range map[string]string{"public": s.public.AccessToken, "confidential": s.secret.AccessToken} {
		if status := idp.userinfoStatus(t, at); status != http.StatusUnauthorized {
			t.Errorf("%s: the %s client's access token at userinfo: %d, want 401", what, name, status)
		}
	}
	for name, tok := range map[string]string{"access": s.secret.AccessToken, "refresh": s.secret.RefreshToken} {
		if m := idp.introspect(t, tok); m["active"] != false {
			t.Errorf("%s: introspection of the confidential client's %s token: %v, want inactive", what, name, m)
		}
	}
}

// expectLive checks that the session's tokens still work: userinfo and
// introspection take the access tokens, and the refresh tokens refresh
// (the session's tokens are then the new ones).
func (idp *testIDP) expectLive(t *testing.T, what string, s *sessionTokens) {
	t.Helper()
	for name, at := range map[string]string{"public": s.public.AccessToken, "confidential": s.secret.AccessToken} {
		if status := idp.userinfoStatus(t, at); status != http.StatusOK {
			t.Errorf("%s: the %s client's access token at userinfo: %d, want 200", what, name, status)
		}
	}
	if m := idp.introspect(t, s.secret.AccessToken); m["active"] != true {
		t.Errorf("%s: introspection of the confidential client's access token: %v, want active", what, m)
	}
	r, pub := idp.refresh(t, s.public.RefreshToken, "")
	if r.StatusCode != http.StatusOK || pub.RefreshToken == "" {
		t.Fatalf("%s: the public client's refresh: status %d: %s", what, r.StatusCode, r.body)
	}
	r, sec := idp.secretToken(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.secret.RefreshToken}})
	if r.StatusCode != http.StatusOK || sec.RefreshToken == "" {
		t.Fatalf("%s: the confidential client's refresh: status %d: %s", what, r.StatusCode, r.body)
	}
	s.public, s.secret = pub, sec
}

// onBothStores runs a test on the in-memory store and on PostgreSQL + Redis.
func onBothStores(t *testing.T, test func(t *testing.T, idp *testIDP)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		test(t, newTestIDP(t))
	})
	t.Run("postgres+redis", func(t *testing.T) {
		t.Parallel()
		redisURL, prefix := redistest.NewPrefix(t)
		dbURL := postgrestest.NewSchemaURL(t)
		test(t, newTestIDP(t, func(c *config.Config) {
			c.DatabaseURL, c.RedisURL, c.RedisPrefix, c.Migrate = dbURL, redisURL, prefix, true
		}))
	})
}

// TestEndedSessionRevokesItsTokens (issue 9): ending an SSO session as the
// security page does (session.Manager.EndByID) ends it for the relying
// parties too: the refresh and access tokens of every client it signed in
// to are refused at once, tokens issued since by refresh included, and a
// code it issued that was not yet exchanged; the same account's other
// session keeps its tokens. RevokeAccount (a recovery) then revokes the
// other session's tokens too.
func TestEndedSessionRevokesItsTokens(t *testing.T) {
	t.Parallel()
	onBothStores(t, func(t *testing.T, idp *testIDP) {
		ctx := t.Context()
		a := idp.sessionWithTwoClients(t)
		b := idp.sessionWithTwoClients(t)
		if a.sid == b.sid {
			t.Fatal("two browsers share a session")
		}
		// A refresh before the end: the family's new tokens carry the
		// session too.
		idp.expectLive(t, "session A before its end", &a)
		pending := a.b.code(authzParams("openid email offline_access"))

		if _, err := idp.srv.Sessions.EndByID(ctx, idp.account.ID, a.sid); err != nil {
			t.Fatalf("EndByID: %v", err)
		}
		idp.expectRevoked(t, "session A after its end", a)
		if r, _ := idp.exchange(t, pending); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "invalid_grant") {
			t.Errorf("a code of the ended session: status %d: %s; want invalid_grant", r.StatusCode, r.body)
		}
		idp.expectLive(t, "session B after A's end", &b)

		// One client's grants (a consent revoked): the other client's live.
		if err := idp.srv.RevokeGrants(ctx, idp.account.ID, secretClientID); err != nil {
			t.Fatalf("RevokeGrants(%s): %v", secretClientID, err)
		}
		r, _ := idp.secretToken(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {b.secret.RefreshToken}})
		if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "invalid_grant") {
			t.Errorf("the confidential client's refresh after its revocation: status %d: %s; want invalid_grant", r.StatusCode, r.body)
		}
		if status := idp.userinfoStatus(t, b.secret.AccessToken); status != http.StatusUnauthorized {
			t.Errorf("the confidential client's access token after its revocation: userinfo %d, want 401", status)
		}
		if status := idp.userinfoStatus(t, b.public.AccessToken); status != http.StatusOK {
			t.Errorf("the public client's access token after the other's revocation: userinfo %d, want 200", status)
		}
		r, pub := idp.refresh(t, b.public.RefreshToken, "")
		if r.StatusCode != http.StatusOK || pub.RefreshToken == "" {
			t.Fatalf("the public client's refresh after the other's revocation: status %d: %s", r.StatusCode, r.body)
		}
		b.public = pub

		if err := idp.srv.RevokeGrants(ctx, idp.account.ID, ""); err != nil {
			t.Fatalf("RevokeGrants: %v", err)
		}
		idp.expectRevoked(t, "session B after RevokeGrants", b)
	})
}

// TestLogoutRevokesTheSessionsTokens: RP-initiated logout ends the session,
// and with it the tokens the session issued (to every client).
func TestLogoutRevokesTheSessionsTokens(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	a := idp.sessionWithTwoClients(t)
	v := url.Values{"id_token_hint": {a.public.IDToken}, "post_logout_redirect_uri": {rpPostLogout}}
	expectRedirectTo(t, a.b.get("/logout?"+v.Encode()), rpPostLogout)
	idp.expectRevoked(t, "after logout", a)
}

// TestEndedSessionReachesRefreshesUnderWay: relying parties refreshing in a
// loop while the session ends keep no live token: a rotation under way
// while PostgreSQL revokes the session is reached too (see store/postgres's
// deactivateBy; without its lock this test fails).
func TestEndedSessionReachesRefreshesUnderWay(t *testing.T) {
	t.Parallel()
	redisURL, prefix := redistest.NewPrefix(t)
	dbURL := postgrestest.NewSchemaURL(t)
	idp := newTestIDP(t, func(c *config.Config) {
		c.DatabaseURL, c.RedisURL, c.RedisPrefix, c.Migrate = dbURL, redisURL, prefix, true
	})
	b := idp.newBrowser(t)
	const families = 8
	latest := make([]tokenResponse, families)
	for i := range latest {
		r, tr := idp.exchange(t, b.code(authzParams("openid email offline_access")))
		if r.StatusCode != http.StatusOK || tr.RefreshToken == "" {
			t.Fatalf("exchange %d: status %d: %s", i, r.StatusCode, r.body)
		}
		latest[i] = tr
	}
	_, id := idp.verifiedClaims(t, latest[0].IDToken)
	sid, _ := id["sid"].(string)

	// Each family refreshes until it is refused, or until the session has
	// ended; the session ends after every family has refreshed a few
	// times, with refreshes under way.
	var wg, warm sync.WaitGroup
	stop := make(chan struct{})
	for i := range families {
		wg.Add(1)
		warm.Add(1)
		go func() {
			defer wg.Done()
			warmed := false
			for n := 0; ; n++ {
				if n == 3 {
					warm.Done()
					warmed = true
				}
				select {
				case <-stop:
					if !warmed {
						warm.Done()
					}
					return
				default:
				}
				r, tr := idp.refresh(t, latest[i].RefreshToken, "")
				if r.StatusCode != http.StatusOK {
					if !warmed {
						warm.Done()
					}
					return
				}
				latest[i] = tr
			}
		}()
	}
	warm.Wait()
	if _, err := idp.srv.Sessions.EndByID(t.Context(), idp.account.ID, sid); err != nil {
		t.Fatalf("EndByID: %v", err)
	}
	close(stop)
	wg.Wait()
	for i, tr := range latest {
		if r, _ := idp.refresh(t, tr.RefreshToken, ""); r.StatusCode != http.StatusBadRequest {
			t.Errorf("family %d: its newest refresh token after the end: status %d, want 400", i, r.StatusCode)
		}
		if status := idp.userinfoStatus(t, tr.AccessToken); status != http.StatusUnauthorized {
			t.Errorf("family %d: its newest access token after the end: userinfo %d", i, status)
		}
	}
}

// TestEndedSessionRevocationRetried: when the ephemeral store fails as a
// session ends, its refresh tokens are refused at once (the durable store
// revoked them), a code it issued is refused at the exchange (the session's
// end is marked), and its access tokens are revoked by the job that
// retries the revocation once the store is back.
func TestEndedSessionRevocationRetried(t *testing.T) {
	t.Parallel()
	faults := faultstore.New()
	redisURL, prefix := redistest.NewPrefix(t)
	dbURL := postgrestest.NewSchemaURL(t)
	idp := newTestIDPWith(t, []server.Option{server.WithStores(faults.Wrap)}, fastJobs, func(c *config.Config) {
		c.DatabaseURL, c.RedisURL, c.RedisPrefix, c.Migrate = dbURL, redisURL, prefix, true
	})
	a := idp.sessionWithTwoClients(t)
	pending := a.b.code(authzParams("openid email offline_access"))

	faults.Fail("ephemeral.DeactivateSession")
	if _, err := idp.srv.Sessions.EndByID(t.Context(), idp.account.ID, a.sid); err != nil {
		t.Fatalf("EndByID: %v", err)
	}
	if faults.Hits("ephemeral.DeactivateSession") == 0 {
		t.Fatal("the revocation did not reach the ephemeral store")
	}
	if r, _ := idp.refresh(t, a.public.RefreshToken, ""); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "invalid_grant") {
		t.Errorf("refresh after the end: status %d: %s; want invalid_grant", r.StatusCode, r.body)
	}
	if r, _ := idp.exchange(t, pending); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "invalid_grant") {
		t.Errorf("a code of the ended session: status %d: %s; want invalid_grant", r.StatusCode, r.body)
	}
	if !strings.Contains(idp.logs.String(), "retrying in a job") {
		t.Error("the failed revocation was not logged")
	}
	faults.Heal()
	// The job runs again after its backoff (20 ms here).
	deadline := time.Now().Add(30 * time.Second)
	for idp.userinfoStatus(t, a.public.AccessToken) != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("the access token is still accepted 30 s after the store came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	idp.expectRevoked(t, "after the retry", a)
}
