package oidc_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/internal/roundtrips"
	"github.com/esia-oidc/idp/store/postgres/postgrestest"
	"github.com/esia-oidc/idp/store/redis/redistest"
)

// Round trips to PostgreSQL and Redis that one token request makes, at
// most: what the speed of a refresh rests on (docs/performance.md). A
// change that adds one must say so here.
const (
	refreshPostgresTrips = 4 // read the token; read the account (its level now, and whether it still exists: grants keep no copy of it); begin + rotate; insert the new token + commit
	refreshRedisTrips    = 2 // revoke the family's access tokens; store the new one
	ccPostgresTrips      = 0 // the client is cached
	ccRedisTrips         = 1 // store the access token and its family index
)

// TestRoundTrips counts, through counting proxies in front of the real
// PostgreSQL and Redis, the round trips of refresh and client-credentials
// grants. Each kind of request is made several times and the fewest trips
// count: the server's background work (key refresh, the change feed's
// pings, an expired client cache) may add to one request's count.
func TestRoundTrips(t *testing.T) {
	t.Parallel()
	pg := countingProxy(t, postgrestest.NewSchemaURL(t))
	redisURL, prefix := redistest.NewPrefix(t)
	rd := countingProxy(t, redisURL)
	idp := newTestIDP(t, func(cfg *config.Config) {
		cfg.DatabaseURL, cfg.RedisURL, cfg.RedisPrefix, cfg.Migrate = pg.url, rd.url, prefix, true
	})

	fewest := func(what string, n int, do func()) (pgTrips, redisTrips int64) {
		t.Helper()
		pgTrips, redisTrips = 1<<62, 1<<62
		for range n {
			p0, r0 := pg.Count(), rd.Count()
			do()
			pgTrips, redisTrips = min(pgTrips, pg.Count()-p0), min(redisTrips, rd.Count()-r0)
		}
		t.Logf("%s: %d PostgreSQL and %d Redis round trips", what, pgTrips, redisTrips)
		return pgTrips, redisTrips
	}

	token := idp.refreshTokens(t).RefreshToken
	p, r := fewest("refresh grant", 6, func() {
		resp, tr := idp.refresh(t, token, "")
		if resp.StatusCode != http.StatusOK || tr.RefreshToken == "" {
			t.Fatalf("refresh: status %d, %+v", resp.StatusCode, tr)
		}
		token = tr.RefreshToken
	})
	if p > refreshPostgresTrips || r > refreshRedisTrips {
		t.Errorf("a refresh makes %d PostgreSQL and %d Redis round trips, want at most %d and %d", p, r, refreshPostgresTrips, refreshRedisTrips)
	}

	cc := url.Values{"grant_type": {"client_credentials"}}.Encode()
	p, r = fewest("client credentials grant", 6, func() {
		resp := idp.rawPost(t, "/token", "application/x-www-form-urlencoded", cc, secretBasic())
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("client credentials: status %d: %s", resp.StatusCode, resp.body)
		}
	})
	if p > ccPostgresTrips || r > ccRedisTrips {
		t.Errorf("a client credentials grant makes %d PostgreSQL and %d Redis round trips, want at most %d and %d", p, r, ccPostgresTrips, ccRedisTrips)
	}

	// Reuse detection still reaches the whole family through the same
	// store paths: the spent token is refused, and so is the newest.
	spent := token
	resp, tr := idp.refresh(t, spent, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("refresh: status %d", resp.StatusCode)
	}
	oauthError(t, must(idp.refresh(t, spent, "")), http.StatusBadRequest, "invalid_grant")
	oauthError(t, must(idp.refresh(t, tr.RefreshToken, "")), http.StatusBadRequest, "invalid_grant")
}

func must(r *response, _ tokenResponse) *response { return r }

// proxied is a counting proxy in front of a server, and the server's URL
// with the proxy's address in its place.
type proxied struct {
	*roundtrips.Proxy
	url string
}

func countingProxy(t *testing.T, serverURL string) proxied {
	t.Helper()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := roundtrips.Listen(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	u.Host = p.Addr()
	return proxied{Proxy: p, url: u.String()}
}
