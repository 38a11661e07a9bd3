package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/internal/testserver"
	"github.com/esia-oidc/idp/store/redis/redistest"
)

// replicaRedirect is where the agent stops: it never follows the redirect
// to the relying party, so nothing needs to listen there.
const replicaRedirect = "http://127.0.0.1/replica/callback"

// replicaEnv is the setting of both replicas: keys reloaded every second and
// published two seconds before they sign.
var replicaEnv = []string{"IDP_KEY_REFRESH=1s", "IDP_KEY_PUBLISH_DELAY=2s"}

// replicaPair is one deployment served by two processes, A and B, on one
// PostgreSQL schema and one Redis prefix, behind one issuer (A's URL): B
// listens on a port of its own but says A's issuer, as a replica behind a
// load balancer does.
type replicaPair struct {
	a, b   *testserver.Server
	issuer string
}

func startReplicaPair(t *testing.T) *replicaPair {
	t.Helper()
	return startReplicaPairOn(t, redistest.Standalone)
}

// startReplicaPairOn is startReplicaPair on the topology's test Redis.
func startReplicaPairOn(t *testing.T, tp redistest.Topology) *replicaPair {
	t.Helper()
	sh := testserver.NewSharedOn(t, tp)
	a := testserver.Start(t, sh, replicaEnv...)
	b := testserver.StartWithIssuer(t, sh, a.URL, replicaEnv...)
	return &replicaPair{a: a, b: b, issuer: a.URL}
}

// replicaCitizen is a registered public client and an account.
type replicaCitizen struct {
	clientID  string
	accountID string
	phone     string // as registered, +7XXXXXXXXXX
	password  string
}

// newReplicaCitizen registers a public client (code + refresh token) and a
// citizen with a random phone number through A's admin API.
func (p *replicaPair) newReplicaCitizen(t *testing.T, ctx context.Context) replicaCitizen {
	t.Helper()
	adm := p.a.Admin()
	cl, err := adm.CreateClient(ctx, adminclient.ClientMetadata{
		ClientName:              "Replica test",
		RedirectURIs:            []string{replicaRedirect},
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		Scope:                   "openid offline_access",
		TokenEndpointAuthMethod: "none",
		SubjectType:             "public", // the tests compare sub with the account id
	})
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	n, err := rand.Int(rand.Reader, big.NewInt(10_000_000))
	if err != nil {
		t.Fatal(err)
	}
	c := replicaCitizen{clientID: cl.ClientID, phone: fmt.Sprintf("+7916%07d", n), password: "реплика-" + browserRandom(t)}
	acct, err := adm.CreateAccount(ctx, adminclient.NewAccount{
		Phone: c.phone, Password: c.password, LastName: "Петров", FirstName: "Пётр",
	})
	if err != nil {
		t.Fatalf("create account: %v", err)
	}
	c.accountID = acct.ID
	return c
}

// oauth2Config is the relying party's configuration with its token endpoint
// on the replica srv; the authorization endpoint is the issuer's.
func (p *replicaPair) oauth2Config(c replicaCitizen, srv *testserver.Server) *oauth2.Config {
	return &oauth2.Config{
		ClientID: c.clientID,
		Endpoint: oauth2.Endpoint{
			AuthURL:   p.issuer + "/authorize",
			TokenURL:  srv.URL + "/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
		RedirectURL: replicaRedirect,
		Scopes:      []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess},
	}
}

// verifierOn verifies ID tokens of the issuer against the JWKS of the
// replica srv (a fresh key set every call, so nothing is cached).
func (p *replicaPair) verifierOn(ctx context.Context, c replicaCitizen, srv *testserver.Server) *oidc.IDTokenVerifier {
	return oidc.NewVerifier(p.issuer, oidc.NewRemoteKeySet(ctx, srv.URL+"/jwks"), &oidc.Config{ClientID: c.clientID})
}

// loginOnA walks authorize → login → consent on A with the agent and
// returns the code and the request it answers.
func (p *replicaPair) loginOnA(t *testing.T, ctx context.Context, c replicaCitizen) (code string, auth browserAuth) {
	t.Helper()
	conf := p.oauth2Config(c, p.a)
	conf.Endpoint.AuthURL = p.a.URL + "/authorize"
	auth = newBrowserAuth(t, conf)
	ag := testserver.NewAgent(p.a.URL, nil)
	cb, page, err := ag.Authorize(ctx, auth.url, testserver.Login{Identifier: c.phone, Password: c.password})
	if err != nil {
		body := ""
		if page != nil {
			body = page.Body
		}
		t.Fatalf("authorize on A: %v\n%s", err, body)
	}
	if got := cb.Scheme + "://" + cb.Host + cb.Path; got != replicaRedirect {
		t.Fatalf("authorization answered to %s, want %s", cb, replicaRedirect)
	}
	return browserCheckCallback(t, cb.Query(), auth.state, p.issuer), auth
}

// replicaIDToken returns the raw ID token of a token response.
func replicaIDToken(t *testing.T, tok *oauth2.Token) string {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("token response has no id_token")
	}
	return raw
}

// replicaKID returns the kid in the JWS header of a signed token.
func replicaKID(t *testing.T, raw string) string {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse token: %v", err)
	}
	return jws.Signatures[0].Header.KeyID
}

// replicaGrantError returns the OAuth error code of a failed token request.
func replicaGrantError(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		t.Fatal("token request succeeded, want an error")
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("token request: %v, want an OAuth error answer", err)
	}
	return re.ErrorCode
}

// replicaRefresh redeems a refresh token at the token endpoint of conf.
func replicaRefresh(ctx context.Context, conf *oauth2.Config, refreshToken string) (*oauth2.Token, error) {
	return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
}

// replicaUserinfo calls srv's userinfo endpoint and returns the status and
// the subject.
func replicaUserinfo(t *testing.T, ctx context.Context, srv *testserver.Server, accessToken string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/userinfo", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Sub string `json:"sub"`
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("userinfo: %v", err)
		}
	}
	return resp.StatusCode, body.Sub
}

// replicaCacheHits returns srv's count of access-token lookups its token
// cache answered (idp_token_cache_lookups_total{result="hit"}).
func replicaCacheHits(t *testing.T, ctx context.Context, srv *testserver.Server) float64 {
	t.Helper()
	body := replicaGet(t, ctx, srv.URL+"/metrics")
	const series = `idp_token_cache_lookups_total{result="hit"} `
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			return n
		}
	}
	return 0
}

// replicaJWKSKIDs returns the kids that srv publishes.
func replicaJWKSKIDs(ctx context.Context, srv *testserver.Server) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/jwks", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /jwks: %s", resp.Status)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, err
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	return kids, nil
}

// TestReplicas runs two server processes on one deployment and shows that
// neither keeps state of its own: a login on one and the token on the other,
// refresh token reuse detected across them (its revocation announced
// through Redis to the other's token cache), a key rotated on one used by
// the other, and one lockout counter for both. It does so on each Redis
// topology: standalone, a three-master Cluster and under Sentinel
// (scripts/redis-ha.sh). The key rotation goes through PostgreSQL alone, so
// it runs on standalone Redis only.
func TestReplicas(t *testing.T) {
	t.Parallel()
	for _, tp := range redistest.Topologies() {
		t.Run(tp.Name, func(t *testing.T) {
			t.Parallel()
			testReplicas(t, tp)
		})
	}
}

func testReplicas(t *testing.T, tp redistest.Topology) {
	p := startReplicaPairOn(t, tp)

	t.Run("LoginOnATokenOnB", func(t *testing.T) {
		ctx := replicaCtx(t)
		c := p.newReplicaCitizen(t, ctx)

		// B speaks for the shared issuer.
		var disc struct {
			Issuer   string `json:"issuer"`
			TokenURL string `json:"token_endpoint"`
			JWKSURI  string `json:"jwks_uri"`
		}
		replicaGetJSON(t, ctx, p.b.URL+"/.well-known/openid-configuration", &disc)
		if disc.Issuer != p.issuer || disc.TokenURL != p.issuer+"/token" || disc.JWKSURI != p.issuer+"/jwks" {
			t.Errorf("B's discovery says issuer %q, token %q, jwks %q; want them under %s", disc.Issuer, disc.TokenURL, disc.JWKSURI, p.issuer)
		}

		code, auth := p.loginOnA(t, ctx, c)
		tok, err := p.oauth2Config(c, p.b).Exchange(ctx, code, oauth2.VerifierOption(auth.verifier))
		if err != nil {
			t.Fatalf("exchange A's code on B: %v", err)
		}
		idt := browserVerify(t, ctx, p.verifierOn(ctx, c, p.b), tok, auth.nonce)
		if idt.Subject != c.accountID {
			t.Errorf("ID token sub = %q, want %q", idt.Subject, c.accountID)
		}
		if tok.RefreshToken == "" {
			t.Error("no refresh token for offline_access")
		}
		// The access token that B issued works on A.
		if status, sub := replicaUserinfo(t, ctx, p.a, tok.AccessToken); status != http.StatusOK || sub != c.accountID {
			t.Errorf("userinfo on A with B's access token: %d sub %q, want 200 sub %q", status, sub, c.accountID)
		}
	})

	t.Run("RefreshReuseAcrossReplicas", func(t *testing.T) {
		ctx := replicaCtx(t)
		c := p.newReplicaCitizen(t, ctx)
		confA, confB := p.oauth2Config(c, p.a), p.oauth2Config(c, p.b)
		code, auth := p.loginOnA(t, ctx, c)
		tok0, err := confA.Exchange(ctx, code, oauth2.VerifierOption(auth.verifier))
		if err != nil {
			t.Fatalf("exchange on A: %v", err)
		}
		if tok0.RefreshToken == "" {
			t.Fatal("no refresh token")
		}
		tok1, err := replicaRefresh(ctx, confA, tok0.RefreshToken)
		if err != nil {
			t.Fatalf("refresh on A: %v", err)
		}
		if tok1.RefreshToken == "" || tok1.RefreshToken == tok0.RefreshToken {
			t.Fatal("refresh on A did not rotate the refresh token")
		}
		// Both replicas have now read (and cached) the newest access token:
		// A answers it again from its cache.
		for _, srv := range []*testserver.Server{p.b, p.a} {
			if status, _ := replicaUserinfo(t, ctx, srv, tok1.AccessToken); status != http.StatusOK {
				t.Fatalf("userinfo on %s with the rotated family's access token: %d, want 200", srv.URL, status)
			}
		}
		hits := replicaCacheHits(t, ctx, p.a)
		if status, _ := replicaUserinfo(t, ctx, p.a, tok1.AccessToken); status != http.StatusOK {
			t.Fatalf("userinfo on A again: %d, want 200", status)
		}
		if got := replicaCacheHits(t, ctx, p.a); got != hits+1 {
			t.Fatalf("A's token cache hits went from %v to %v, want one more", hits, got)
		}

		// The old token, replayed on B, is reuse.
		_, err = replicaRefresh(ctx, confB, tok0.RefreshToken)
		if code := replicaGrantError(t, err); code != "invalid_grant" {
			t.Errorf("reused refresh token on B: error %q, want invalid_grant", code)
		}
		// B revoked it; A hears of it through the store's announcement,
		// which is asynchronous, so A gets a moment to drop its copy.
		status := 0
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if status, _ = replicaUserinfo(t, ctx, p.a, tok1.AccessToken); status == http.StatusUnauthorized || time.Now().After(deadline) {
				break
			}
		}
		if status != http.StatusUnauthorized {
			t.Errorf("userinfo on A with the access token B revoked: %d, want 401 within 2s", status)
		}
		// Reuse revoked the whole family: the newest refresh token is dead
		// on A as well.
		_, err = replicaRefresh(ctx, confA, tok1.RefreshToken)
		if code := replicaGrantError(t, err); code != "invalid_grant" {
			t.Errorf("newest refresh token after reuse, on A: error %q, want invalid_grant", code)
		}
	})

	// Signing keys live in PostgreSQL: nothing of Redis to see on the
	// other topologies.
	if tp == redistest.Standalone {
		t.Run("KeyRotationReachesB", func(t *testing.T) {
			ctx := replicaCtx(t)
			c := p.newReplicaCitizen(t, ctx)
			confB := p.oauth2Config(c, p.b)
			code, auth := p.loginOnA(t, ctx, c)
			before, err := confB.Exchange(ctx, code, oauth2.VerifierOption(auth.verifier))
			if err != nil {
				t.Fatalf("exchange on B: %v", err)
			}
			oldIDToken := replicaIDToken(t, before)
			oldKID := replicaKID(t, oldIDToken)

			out, err := p.a.Run(ctx, "keys", "rotate", "--alg", "RS256")
			if err != nil {
				t.Fatalf("idp keys rotate against A: %v\n%s", err, out)
			}
			rotatedAt := time.Now()
			var key adminclient.KeyInfo
			if err := json.Unmarshal([]byte(out), &key); err != nil {
				t.Fatalf("idp keys rotate printed %q: %v", out, err)
			}
			if key.KID == "" || key.KID == oldKID || key.Alg != "RS256" {
				t.Fatalf("rotation made key %+v; the old key was %s", key, oldKID)
			}

			// B publishes the new key without a restart, keeping the old one.
			awaitPublished(t, p.b, key.KID)
			t.Logf("B published key %s %s after the rotation", key.KID, time.Since(rotatedAt).Round(time.Millisecond))
			kids, err := replicaJWKSKIDs(ctx, p.b)
			if err != nil {
				t.Fatalf("B's JWKS: %v", err)
			}
			if !slices.Contains(kids, oldKID) {
				t.Errorf("B's JWKS %v lost the old key %s", kids, oldKID)
			}

			// Published before it signs: B signs with the old key until the new
			// key's active_at, and with the new one from then on.
			after := before
			awaitKeySwitch(t, key.KID, key.ActiveAt, func() string {
				tok, err := replicaRefresh(ctx, confB, after.RefreshToken)
				if err != nil {
					t.Fatalf("refresh on B: %v", err)
				}
				after = tok
				return replicaKID(t, replicaIDToken(t, tok))
			})
			// The refresh that saw the switch may have signed its access token
			// a moment before active_at and its ID token after; the next one
			// signs both with the new key.
			after, err = replicaRefresh(ctx, confB, after.RefreshToken)
			if err != nil {
				t.Fatalf("refresh on B after the switch: %v", err)
			}
			newIDToken := replicaIDToken(t, after)
			if kid := replicaKID(t, newIDToken); kid != key.KID {
				t.Errorf("B's new ID token is signed with %s, want the rotated key %s", kid, key.KID)
			}
			if kid := replicaKID(t, after.AccessToken); kid != key.KID {
				t.Errorf("B's new access token is signed with %s, want the rotated key %s", kid, key.KID)
			}
			if _, err := p.verifierOn(ctx, c, p.b).Verify(ctx, newIDToken); err != nil {
				t.Errorf("new ID token does not verify against B's JWKS: %v", err)
			}
			// A token signed before the rotation still verifies.
			if _, err := p.verifierOn(ctx, c, p.b).Verify(ctx, oldIDToken); err != nil {
				t.Errorf("ID token signed with the old key %s no longer verifies against B's JWKS: %v", oldKID, err)
			}
		})
	}

	t.Run("LockoutCountedAcrossReplicas", func(t *testing.T) {
		ctx := replicaCtx(t)
		c := p.newReplicaCitizen(t, ctx)
		local := "8 (" + c.phone[2:5] + ") " + c.phone[5:8] + "-" + c.phone[8:10] + "-" + c.phone[10:]

		onA := p.replicaLoginPage(t, ctx, p.a, c)
		onB := p.replicaLoginPage(t, ctx, p.b, c)
		// Failures 1–3 on A, 4 on B: refused as wrong.
		for i := 1; i <= 3; i++ {
			onA = onA.submit(t, ctx, c.phone, "wrong-"+c.password)
			if onA.page.Status != http.StatusUnauthorized {
				t.Fatalf("wrong password %d on A: status %d, want 401", i, onA.page.Status)
			}
		}
		onB = onB.submit(t, ctx, local, "wrong-"+c.password)
		if onB.page.Status != http.StatusUnauthorized {
			t.Fatalf("wrong password 4 on B: status %d, want 401", onB.page.Status)
		}
		// Failure 5, on B, reaches the limit (5 by default) and locks.
		onB = onB.submit(t, ctx, local, "wrong-"+c.password)
		if onB.page.Status != http.StatusTooManyRequests {
			t.Fatalf("wrong password 5 on B: status %d, want 429 (locked)", onB.page.Status)
		}
		// The 6th attempt, on either replica, is refused even with the right
		// password.
		for _, lp := range []*replicaLogin{onA, onB} {
			lp = lp.submit(t, ctx, c.phone, c.password)
			if lp.page.Status != http.StatusTooManyRequests {
				t.Errorf("right password on %s after the lock: status %d, want 429", lp.srv.URL, lp.page.Status)
			}
			if lp.page.Location() != nil {
				t.Errorf("locked login on %s redirected to %s", lp.srv.URL, lp.page.Location())
			}
			if lp.page.Header.Get("Retry-After") == "" {
				t.Errorf("locked login on %s has no Retry-After", lp.srv.URL)
			}
		}
	})
}

func replicaCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func replicaGetJSON(t *testing.T, ctx context.Context, u string, v any) {
	t.Helper()
	if err := json.Unmarshal(replicaGet(t, ctx, u), v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// replicaGet returns the body of a 200 answer to GET u.
func replicaGet(t *testing.T, ctx context.Context, u string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", u, resp.Status, b)
	}
	return b
}

// replicaLogin is a login page of one replica, open in an agent.
type replicaLogin struct {
	srv  *testserver.Server
	ag   *testserver.Agent
	page *testserver.Page
}

// replicaLoginPage starts an authorization on srv and follows it to the
// login page.
func (p *replicaPair) replicaLoginPage(t *testing.T, ctx context.Context, srv *testserver.Server, c replicaCitizen) *replicaLogin {
	t.Helper()
	conf := p.oauth2Config(c, srv)
	conf.Endpoint.AuthURL = srv.URL + "/authorize"
	ag := testserver.NewAgent(srv.URL, nil)
	page, err := ag.Get(ctx, newBrowserAuth(t, conf).url)
	for i := 0; err == nil && i < 5; i++ {
		loc := page.Location()
		if loc == nil {
			break
		}
		if !strings.HasPrefix(loc.String(), srv.URL+"/") {
			t.Fatalf("authorization on %s left for %s before the login page", srv.URL, loc)
		}
		page, err = ag.Get(ctx, loc.String())
	}
	if err != nil {
		t.Fatalf("authorize on %s: %v", srv.URL, err)
	}
	if page.Status != http.StatusOK || !page.Has("password") || len(page.Forms()) == 0 {
		t.Fatalf("authorize on %s stopped at %d %s, want the login page", srv.URL, page.Status, page.URL.Path)
	}
	return &replicaLogin{srv: srv, ag: ag, page: page}
}

// submit posts the login form and returns the page that answers.
func (l *replicaLogin) submit(t *testing.T, ctx context.Context, identifier, password string) *replicaLogin {
	t.Helper()
	forms := l.page.Forms()
	if len(forms) == 0 {
		t.Fatalf("%s: no form on the page (status %d)", l.srv.URL, l.page.Status)
	}
	page, err := l.ag.Submit(ctx, l.page, forms[0], url.Values{"identifier": {identifier}, "password": {password}})
	if err != nil {
		t.Fatalf("log in on %s: %v", l.srv.URL, err)
	}
	return &replicaLogin{srv: l.srv, ag: l.ag, page: page}
}
