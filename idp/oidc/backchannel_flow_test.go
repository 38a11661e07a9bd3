package oidc_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/oidc"
	"github.com/esia-oidc/idp/store"
)

// bcReceiver is the back-channel logout endpoint of the test's relying
// parties: it keeps the logout tokens by path.
type bcReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got map[string][]string
}

func newBCReceiver(t *testing.T) *bcReceiver {
	t.Helper()
	rcv := &bcReceiver{got: map[string][]string{}}
	rcv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.PostFormValue("logout_token")
		rcv.mu.Lock()
		rcv.got[r.URL.Path] = append(rcv.got[r.URL.Path], tok)
		rcv.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rcv.Close)
	return rcv
}

// wait returns the tokens of path once there are n, failing after 10 s.
func (rcv *bcReceiver) wait(t *testing.T, path string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rcv.mu.Lock()
		got := append([]string(nil), rcv.got[path]...)
		rcv.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				t.Fatalf("%s received %d logout tokens, want %d", path, len(got), n)
			}
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// verifiedClaims checks a JWT against the provider's published JWKS and
// returns its typ header and claims.
func (idp *testIDP) verifiedClaims(t *testing.T, raw string) (string, map[string]any) {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(idp.newBrowser(t).get("/jwks").body), &set); err != nil {
		t.Fatal(err)
	}
	hdr := jws.Signatures[0].Protected
	ks := set.Key(hdr.KeyID)
	if len(ks) != 1 {
		t.Fatalf("kid %q not published", hdr.KeyID)
	}
	payload, err := jws.Verify(ks[0])
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	var cl map[string]any
	if err := json.Unmarshal(payload, &cl); err != nil {
		t.Fatal(err)
	}
	typ, _ := hdr.ExtraHeaders["typ"].(string)
	return typ, cl
}

// withBackchannel makes the public client and the confidential one (made
// pairwise) register receivers at /public and /secret.
func (idp *testIDP) withBackchannel(t *testing.T, rcv *bcReceiver) {
	t.Helper()
	set := map[string]func(c *store.Client){
		publicClientID: func(c *store.Client) { c.BackchannelLogoutURI = rcv.URL + "/public" },
		secretClientID: func(c *store.Client) {
			c.BackchannelLogoutURI = rcv.URL + "/secret"
			c.SubjectType, c.SubjectSalt = store.SubjectPairwise, []byte("salt of rp-secret -- 32 bytes!!!")
		},
	}
	for id, f := range set {
		if _, err := idp.srv.Durable.UpdateClient(t.Context(), id, func(c *store.Client) error { f(c); return nil }); err != nil {
			t.Fatal(err)
		}
	}
}

func fastJobs(c *config.Config) {
	c.JobPollInterval, c.JobBackoff, c.JobMaxBackoff = 10*time.Millisecond, 20*time.Millisecond, 20*time.Millisecond
}

// expectLogoutToken checks a logout token against the ID token its client
// got in the session: the same sub and sid (pairwise or not), aud the
// client, typ logout+jwt, the event, and no nonce.
func (idp *testIDP) expectLogoutToken(t *testing.T, raw, idToken, clientID string) {
	t.Helper()
	typ, lt := idp.verifiedClaims(t, raw)
	_, id := idp.verifiedClaims(t, idToken)
	if typ != "logout+jwt" {
		t.Errorf("typ %q, want logout+jwt", typ)
	}
	if lt["iss"] != testIssuer || lt["aud"] != clientID || lt["sub"] != id["sub"] || lt["sid"] != id["sid"] || lt["sid"] == nil {
		t.Errorf("%s: logout token iss %v aud %v sub %v sid %v; ID token sub %v sid %v", clientID, lt["iss"], lt["aud"], lt["sub"], lt["sid"], id["sub"], id["sid"])
	}
	if _, ok := lt["nonce"]; ok {
		t.Error("the logout token carries a nonce")
	}
	if ev, _ := lt["events"].(map[string]any); ev[oidc.BackchannelLogoutEvent] == nil {
		t.Errorf("events = %v", lt["events"])
	}
}

// TestBackchannelLogoutAtRPInitiatedLogout: a citizen signed in to two
// relying parties in one session logs out at one of them; both are sent a
// logout token naming the sub and sid of the ID token each got, the
// pairwise one its own; a client not signed in through the session is
// sent nothing.
func TestBackchannelLogoutAtRPInitiatedLogout(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t, fastJobs)
	rcv := newBCReceiver(t)
	idp.withBackchannel(t, rcv)

	b, publicID := idp.loggedIn(t)
	code := b.code(confidentialParams("openid"))
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {secretRedirect}, "code_verifier": {testVerifier}}
	r := idp.rawPost(t, "/token", "application/x-www-form-urlencoded", v.Encode(), basicAuth(secretClientID))
	var tr struct {
		IDToken string `json:"id_token"`
	}
	if r.StatusCode != http.StatusOK || json.Unmarshal([]byte(r.body), &tr) != nil || tr.IDToken == "" {
		t.Fatalf("confidential exchange: %d %s", r.StatusCode, r.body)
	}
	if _, id := idp.verifiedClaims(t, tr.IDToken); id["sub"] == idp.account.ID {
		t.Fatal("the confidential client is not pairwise")
	}
	// A second browser's session signed in to the confidential client only.
	other := idp.newBrowser(t)
	other.code(confidentialParams("openid"))

	out := b.get("/logout?" + url.Values{"id_token_hint": {publicID}, "post_logout_redirect_uri": {rpPostLogout}}.Encode())
	if out.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", out.StatusCode)
	}
	idp.expectLogoutToken(t, rcv.wait(t, "/public", 1)[0], publicID, publicClientID)
	idp.expectLogoutToken(t, rcv.wait(t, "/secret", 1)[0], tr.IDToken, secretClientID)

	// The other browser's session goes on; ending it by id (the security
	// page, an operator, account deletion) tells its one client.
	list, err := idp.srv.Sessions.List(t.Context(), idp.account.ID)
	if err != nil || len(list) != 1 {
		t.Fatalf("sessions: %v %v", list, err)
	}
	if _, err := idp.srv.Sessions.EndByID(t.Context(), idp.account.ID, list[0].ID); err != nil {
		t.Fatal(err)
	}
	toks := rcv.wait(t, "/secret", 2)
	_, lt := idp.verifiedClaims(t, toks[1])
	_, first := idp.verifiedClaims(t, toks[0])
	if lt["sub"] != first["sub"] || lt["sid"] == first["sid"] || lt["sid"] == list[0].ID || lt["jti"] == first["jti"] {
		t.Errorf("EndByID's token: sub %v sid %v jti %v (first: %v %v %v; shared sid %s)", lt["sub"], lt["sid"], lt["jti"], first["sub"], first["sid"], first["jti"], list[0].ID)
	}
	if n := len(rcv.wait(t, "/public", 1)); n != 1 {
		t.Errorf("the public client, not in the second session, got %d tokens", n)
	}
	if strings.Contains(idp.logs.String(), toks[0]) {
		t.Error("a logout token was logged")
	}
}
