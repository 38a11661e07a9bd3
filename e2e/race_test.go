package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/internal/testserver"
	"github.com/esia-oidc/idp/store"
	idpredis "github.com/esia-oidc/idp/store/redis"
)

// tokenAnswer is one answer of a token endpoint.
type tokenAnswer struct {
	status int
	body   map[string]any
	err    error // the request failed
}

// postToken posts a token request with the client's basic credentials; it
// may run in any goroutine.
func postToken(u string, form url.Values, clientID, secret string) tokenAnswer {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return tokenAnswer{err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return tokenAnswer{err: err}
	}
	defer resp.Body.Close()
	a := tokenAnswer{status: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&a.body); err != nil {
		a.err = fmt.Errorf("answer %d is not JSON: %w", resp.StatusCode, err)
	}
	return a
}

// raceTokenRequests posts the same token request n times at once, racer i
// to the token endpoint of servers[i%len(servers)], and sorts the answers:
// the bodies of the 200s, and the count of each error code of the others
// ("status N" for an error answer without a code or not 400).
func raceTokenRequests(t *testing.T, servers []*testserver.Server, n int, form url.Values, clientID, secret string) (ok []map[string]any, errs map[string]int) {
	t.Helper()
	answers := make([]tokenAnswer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			answers[i] = postToken(servers[i%len(servers)].URL+"/token", form, clientID, secret)
		}()
	}
	close(start)
	wg.Wait()
	errs = map[string]int{}
	for i, a := range answers {
		switch code, _ := a.body["error"].(string); {
		case a.err != nil:
			t.Fatalf("racer %d: %v", i, a.err)
		case a.status == http.StatusOK:
			ok = append(ok, a.body)
		case a.status == http.StatusBadRequest && code != "":
			errs[code]++
		default:
			errs[fmt.Sprintf("status %d %q", a.status, code)]++
		}
	}
	return ok, errs
}

// TestConcurrentCodeRedemptions: one code redeemed by 8 exchanges at once,
// half of them on each of two replicas. RFC 6749 §4.1.2: a code presented
// again is refused and what it issued is revoked, so at most one exchange
// gets tokens, every other gets invalid_grant, and nothing issued from the
// code is usable afterwards: the replay revokes what the winner got as soon
// as it is seen (so in a race there is usually no winner at all). Then the
// same across the replicas without a race: a code redeemed on A and
// presented again on B.
func TestConcurrentCodeRedemptions(t *testing.T) {
	t.Parallel()
	const n = 8
	p := startReplicaPair(t)
	ctx := replicaCtx(t)
	c := p.newReplicaCitizen(t, ctx)
	// A confidential client, so that it can introspect its tokens.
	cl, err := p.a.Admin().CreateClient(ctx, adminclient.ClientMetadata{
		ClientName:   "Racing relying party",
		RedirectURIs: []string{replicaRedirect},
		GrantTypes:   []string{"authorization_code", "refresh_token"},
		Scope:        "openid offline_access",
	})
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	c.clientID = cl.ClientID
	secret := cl.ClientSecret
	replicas := []*testserver.Server{p.a, p.b}
	redeem := func(code string, auth browserAuth) url.Values {
		return url.Values{
			"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {replicaRedirect}, "code_verifier": {auth.verifier},
		}
	}
	// unusable checks on both replicas that nothing a winner got works.
	unusable := func(won map[string]any) {
		t.Helper()
		at, _ := won["access_token"].(string)
		rt, _ := won["refresh_token"].(string)
		if at == "" || rt == "" {
			t.Fatalf("the winner got %v, want an access and a refresh token", won)
		}
		for _, srv := range replicas {
			a := postToken(srv.URL+"/introspect", url.Values{"token": {at}}, c.clientID, secret)
			if a.err != nil || a.status != http.StatusOK || a.body["active"] != false {
				t.Errorf("introspection on %s of the winner's access token: %d %v %v, want active false", srv.URL, a.status, a.body, a.err)
			}
			if status, _ := replicaUserinfo(t, ctx, srv, at); status != http.StatusUnauthorized {
				t.Errorf("userinfo on %s with the winner's access token: %d, want 401", srv.URL, status)
			}
		}
		a := postToken(p.b.URL+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, c.clientID, secret)
		if a.err != nil || a.status != http.StatusBadRequest || a.body["error"] != "invalid_grant" {
			t.Errorf("the winner's refresh token: %d %v %v, want 400 invalid_grant", a.status, a.body, a.err)
		}
	}

	// The race.
	code, auth := p.loginOnA(t, ctx, c)
	ok, errs := raceTokenRequests(t, replicas, n, redeem(code, auth), c.clientID, secret)
	t.Logf("%d redemptions at once on two replicas: %d got tokens, errors %v", n, len(ok), errs)
	if len(ok) > 1 || errs["invalid_grant"] != n-len(ok) {
		t.Fatalf("%d redemptions of one code: %d got tokens, errors %v; want at most 1 and every other invalid_grant", n, len(ok), errs)
	}
	if len(ok) == 1 {
		unusable(ok[0])
	}
	// Whether or not a racer answered with tokens, every token issued from
	// the code is inactive in the stores.
	if active := activeGrantsOfCode(t, ctx, p.a.Shared, code); len(active) != 0 {
		t.Errorf("after the race, tokens of the code are still active: %v", active)
	}
	// However it ended, the code is spent.
	if a := postToken(p.b.URL+"/token", redeem(code, auth), c.clientID, secret); a.status != http.StatusBadRequest || a.body["error"] != "invalid_grant" {
		t.Errorf("the raced code once more: %d %v, want 400 invalid_grant", a.status, a.body)
	}

	// Without a race: redeemed on A (the store check sees its tokens
	// active), presented again on B.
	code, auth = p.loginOnA(t, ctx, c)
	first := postToken(p.a.URL+"/token", redeem(code, auth), c.clientID, secret)
	if first.err != nil || first.status != http.StatusOK {
		t.Fatalf("redeem on A: %d %v %v", first.status, first.body, first.err)
	}
	if active := activeGrantsOfCode(t, ctx, p.a.Shared, code); len(active) != 2 {
		t.Fatalf("a redeemed code's tokens in the stores: %v active, want access and refresh", active)
	}
	if again := postToken(p.b.URL+"/token", redeem(code, auth), c.clientID, secret); again.status != http.StatusBadRequest || again.body["error"] != "invalid_grant" {
		t.Errorf("the code again on B: %d %v, want 400 invalid_grant", again.status, again.body)
	}
	unusable(first.body)
	if active := activeGrantsOfCode(t, ctx, p.a.Shared, code); len(active) != 0 {
		t.Errorf("after the replay, tokens of the code are still active: %v", active)
	}
}

// TestConcurrentRefreshes: many refreshes of one refresh token at the same
// moment: exactly one wins, the others get invalid_grant, and what the
// winner got is revoked (a replay).
func TestConcurrentRefreshes(t *testing.T) {
	t.Parallel()
	const n = 8
	e := newEnv(t)
	conf := e.oauth2Config()
	a, code := e.login(t, testserver.NewAgent(e.srv.URL, nil), conf)
	tok, _ := e.tokens(t, conf, a, code)
	servers := []*testserver.Server{e.srv}
	ok, errs := raceTokenRequests(t, servers, n, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, e.client.ClientID, e.client.ClientSecret)
	if len(ok) != 1 || errs["invalid_grant"] != n-1 {
		t.Fatalf("%d refreshes of one token: %d succeeded, errors %v; want 1 and %d invalid_grant", n, len(ok), errs, n-1)
	}
	rt, _ := ok[0]["refresh_token"].(string)
	at, _ := ok[0]["access_token"].(string)
	status, body, _ := postForm(t, e.srv.URL+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, e.client.ClientID, e.client.ClientSecret)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("the winner's refresh token after a replay: %d %v, want 400 invalid_grant", status, body)
	}
	if e.introspect(t, at)["active"] != false {
		t.Error("the winner's access token is still active after a replay")
	}
}

// activeGrantsOfCode reads behind the servers' backs what the code's
// authorization left in the stores and returns the kinds of its grants
// that are still active: refresh tokens in PostgreSQL, access tokens in
// Redis. Whether or not a racer answered with tokens, none may be.
func activeGrantsOfCode(t *testing.T, ctx context.Context, sh *testserver.Shared, code string) []string {
	t.Helper()
	rs, err := idpredis.Open(ctx, sh.RedisURL, sh.RedisPrefix, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	g, err := rs.GetGrant(ctx, store.GrantAuthorizeCode, code[strings.LastIndex(code, ".")+1:])
	if err != nil {
		t.Fatalf("the code's record: %v", err)
	}
	var active []string
	opts, err := idpredis.ParseURL(sh.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	raw := goredis.NewUniversalClient(opts)
	defer raw.Close()
	prefix := sh.RedisPrefix + "grant:" + string(store.GrantAccessToken) + ":"
	keys, err := raw.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		a, err := rs.GetGrant(ctx, store.GrantAccessToken, strings.TrimPrefix(k, prefix))
		if err == nil && a.RequestID == g.RequestID && a.Active {
			active = append(active, "access")
		}
	}
	conn, err := pgx.Connect(ctx, sh.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var refresh int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM grants WHERE request_id = $1 AND active`, g.RequestID).Scan(&refresh); err != nil {
		t.Fatal(err)
	}
	for range refresh {
		active = append(active, "refresh")
	}
	return active
}
