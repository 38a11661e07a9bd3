package oidc

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/memory"
	"github.com/ory/fosite"
)

// cachedFor is the record of a token of the request reqID, of the SSO
// session "sso-"+reqID and the account "acc-"+reqID.
func cachedFor(reqID string, expires time.Time) *cachedToken {
	sess := newSession()
	sess.SessionID, sess.AccountID = "sso-"+reqID, "acc-"+reqID
	return &cachedToken{req: storedRequest{ID: reqID, ClientID: "rp"}, sess: sess, expires: expires}
}

func TestTokenCache(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	c := newTokenCache(10*time.Second, 3, func() time.Time { return now })

	// Nothing is kept or served before the change feed is whole.
	c.put(c.generation(), "s1", cachedFor("r1", time.Time{}))
	if _, ok := c.get("s1"); ok || c.len() != 0 {
		t.Fatal("kept an entry before Ready")
	}
	c.Ready()
	c.put(c.generation(), "s1", cachedFor("r1", time.Time{}))
	if e, ok := c.get("s1"); !ok || e.req.ID != "r1" {
		t.Fatalf("get after put = %v, %v", e, ok)
	}

	// A change heard while a record was being read keeps it out when it
	// may concern the record; others do not.
	for _, tc := range []struct {
		name    string
		changes []store.GrantChange
		kept    bool
	}{
		{"unrelated", []store.GrantChange{{Signature: "other"}, {RequestID: "r-other"}}, true},
		{"its signature", []store.GrantChange{{Signature: "other"}, {Signature: "s2"}}, false},
		{"its request", []store.GrantChange{{RequestID: "r2"}}, false},
		{"other sessions and accounts", []store.GrantChange{{SessionID: "sso-r1"}, {Subject: "acc-r1"}}, true},
		{"its session", []store.GrantChange{{SessionID: "sso-r2"}}, false},
		{"its account", []store.GrantChange{{Subject: "acc-r2"}}, false},
		{"as many unrelated as the log holds", make([]store.GrantChange, len(c.log)), true},
		{"more than the log holds", make([]store.GrantChange, len(c.log)+1), false},
	} {
		for i := range tc.changes {
			if tc.changes[i] == (store.GrantChange{}) {
				tc.changes[i].Signature = "filler"
			}
		}
		gen := c.generation()
		for _, ch := range tc.changes {
			c.Changed(ch)
		}
		c.put(gen, "s2", cachedFor("r2", time.Time{}))
		if _, ok := c.get("s2"); ok != tc.kept {
			t.Errorf("%s: kept = %v, want %v", tc.name, ok, tc.kept)
		}
		c.Changed(store.GrantChange{Signature: "s2"})
	}
	gen := c.generation()
	c.Lost()
	c.Ready()
	c.put(gen, "s2", cachedFor("r2", time.Time{}))
	if _, ok := c.get("s2"); ok {
		t.Error("kept a record read before a gap in the feed")
	}
	c.put(c.generation(), "s1", cachedFor("r1", time.Time{}))

	// Two readers of one token leave one entry and one index member.
	c.put(c.generation(), "s1", cachedFor("r1", time.Time{}))
	if n := len(c.byReq["r1"]); n != 1 {
		t.Errorf("request index holds s1 %d times", n)
	}

	// Changes drop by signature and by request.
	c.put(c.generation(), "s2", cachedFor("r1", time.Time{}))
	c.put(c.generation(), "s3", cachedFor("r3", time.Time{}))
	c.Changed(store.GrantChange{RequestID: "r1"})
	for _, sig := range []string{"s1", "s2"} {
		if _, ok := c.get(sig); ok {
			t.Errorf("%s survived its request's change", sig)
		}
	}
	if _, ok := c.get("s3"); !ok {
		t.Error("s3 dropped by another request's change")
	}
	c.Changed(store.GrantChange{Signature: "s3"})
	if _, ok := c.get("s3"); ok || c.len() != 0 {
		t.Errorf("s3 survived its change; %d entries left", c.len())
	}

	// Changes drop by session and by account.
	for _, ch := range []store.GrantChange{{SessionID: "sso-r6"}, {Subject: "acc-r6"}} {
		c.put(c.generation(), "s6", cachedFor("r6", time.Time{}))
		c.put(c.generation(), "s7", cachedFor("r6", time.Time{}))
		c.put(c.generation(), "s8", cachedFor("r8", time.Time{}))
		c.Changed(ch)
		for _, sig := range []string{"s6", "s7"} {
			if _, ok := c.get(sig); ok {
				t.Errorf("%s survived %+v", sig, ch)
			}
		}
		if _, ok := c.get("s8"); !ok {
			t.Errorf("s8 dropped by %+v", ch)
		}
		if len(c.byReq["r6"])+len(c.bySes["sso-r6"])+len(c.bySub["acc-r6"]) != 0 {
			t.Errorf("the indexes still hold %v, %v, %v after %+v", c.byReq["r6"], c.bySes["sso-r6"], c.bySub["acc-r6"], ch)
		}
		c.Changed(store.GrantChange{Signature: "s8"})
	}

	// An entry lapses after the TTL, or at the token's expiry if sooner.
	c.put(c.generation(), "s4", cachedFor("r4", time.Time{}))
	c.put(c.generation(), "s5", cachedFor("r5", now.Add(2*time.Second)))
	now = now.Add(3 * time.Second)
	if _, ok := c.get("s5"); ok {
		t.Error("served an expired token")
	}
	if _, ok := c.get("s4"); !ok {
		t.Error("s4 lapsed before the TTL")
	}
	now = now.Add(10 * time.Second)
	if _, ok := c.get("s4"); ok {
		t.Error("s4 served after the TTL")
	}

	// The size is bounded.
	for i, sig := range []string{"a", "b", "c", "d", "e"} {
		c.put(c.generation(), sig, cachedFor("r"+sig, now.Add(time.Duration(i+1)*time.Hour)))
	}
	if n := c.len(); n != 3 {
		t.Errorf("%d entries, want at most 3", n)
	}
	if n, ns, na := len(c.byReq), len(c.bySes), len(c.bySub); n != 3 || ns != 3 || na != 3 {
		t.Errorf("the request, session and account indexes have %d, %d, %d entries, want 3 each", n, ns, na)
	}

	// A gap in the feed empties the cache and stops it until Ready.
	c.Lost()
	if c.len() != 0 {
		t.Error("entries kept across a gap in the feed")
	}
	c.put(c.generation(), "f", cachedFor("rf", time.Time{}))
	if _, ok := c.get("f"); ok {
		t.Error("served an entry while the feed was lost")
	}
}

// slowReadStore runs during between reading a grant and returning it, as if
// another replica's change were announced while the read was on its way.
type slowReadStore struct {
	*memory.Store
	during func()
}

func (s *slowReadStore) GetGrant(ctx context.Context, kind store.GrantKind, sig string) (*store.Grant, error) {
	g, err := s.Store.GetGrant(ctx, kind, sig)
	if s.during != nil {
		s.during()
		s.during = nil
	}
	return g, err
}

// TestTokenCacheInStorage: access tokens are served from the cache once
// read, each caller gets its own copy, a revocation made here takes effect
// at once, one announced by the store too, and one announced while the
// token was being read keeps the stale record out.
func TestTokenCacheInStorage(t *testing.T) {
	ctx := t.Context()
	mem := memory.New(nil)
	if err := mem.CreateClient(ctx, &store.Client{ID: "rp", TokenEndpointAuthMethod: "none"}); err != nil {
		t.Fatal(err)
	}
	slow := &slowReadStore{Store: mem}
	st := &storage{durable: mem, ephemeral: slow, now: time.Now, clients: newClientCache(mem, time.Second, time.Now),
		tokens: newTokenCache(time.Minute, 100, time.Now)}

	issue := func(sig, reqID string) {
		t.Helper()
		sess := newSession()
		sess.Subject, sess.AccountID, sess.ClientID = "acc1", "acc1", "rp"
		sess.SetExpiresAt(fosite.AccessToken, time.Now().Add(time.Hour))
		req := &fosite.Request{ID: reqID, RequestedAt: time.Now(), Client: newClient(&store.Client{ID: "rp"}),
			GrantedScope: fosite.Arguments{"openid"}, Form: url.Values{"scope": {"openid"}}, Session: sess}
		if err := st.CreateAccessTokenSession(ctx, sig, req); err != nil {
			t.Fatal(err)
		}
	}
	read := func(sig string) (fosite.Requester, error) {
		t.Helper()
		return st.GetAccessTokenSession(ctx, sig, newSession())
	}

	// No feed yet: this process's own changes are all there is.
	st.tokens.Ready()
	for _, id := range []string{"1", "2", "3", "4"} {
		issue("sig"+id, "req"+id)
		if _, err := read("sig" + id); err != nil {
			t.Fatalf("read sig%s: %v", id, err)
		}
	}
	if n := st.tokens.len(); n != 4 {
		t.Fatalf("%d tokens cached, want 4", n)
	}

	// A caller's changes stay its own.
	r1, err := read("sig1")
	if err != nil {
		t.Fatal(err)
	}
	r1.GrantScope("email")
	r1.GetRequestForm()["scope"][0] = "changed"
	r1.GetSession().(*Session).AccountID = "someone else"
	r2, err := read("sig1")
	if err != nil {
		t.Fatal(err)
	}
	if got := r2.GetGrantedScopes(); len(got) != 1 || got[0] != "openid" {
		t.Errorf("granted scopes from the cache = %v", got)
	}
	if got := r2.GetRequestForm().Get("scope"); got != "openid" {
		t.Errorf("form from the cache = %q", got)
	}
	if r2.GetSession().(*Session).AccountID != "acc1" {
		t.Error("a caller's change to the session reached the cache")
	}

	// Revoked here, by request, and deleted here.
	if err := st.RevokeAccessToken(ctx, "req1"); err != nil {
		t.Fatal(err)
	}
	if _, err := read("sig1"); !errors.Is(err, fosite.ErrInactiveToken) {
		t.Errorf("read after RevokeAccessToken: %v, want inactive", err)
	}
	if err := st.DeleteAccessTokenSession(ctx, "sig2"); err != nil {
		t.Fatal(err)
	}
	if _, err := read("sig2"); !errors.Is(err, fosite.ErrNotFound) {
		t.Errorf("read after delete: %v, want not found", err)
	}

	// With the store's feed: revoked by another process.
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	gen := st.tokens.generation()
	go mem.WatchGrants(wctx, st.tokens)
	for deadline := time.Now().Add(30 * time.Second); st.tokens.generation() == gen; time.Sleep(time.Millisecond) { // Ready logs a reset
		if time.Now().After(deadline) {
			t.Fatal("the store's feed did not become ready within 30 s")
		}
	}
	if _, err := read("sig3"); err != nil {
		t.Fatal(err)
	}
	if err := mem.DeactivateRequest(ctx, store.GrantAccessToken, "req3"); err != nil {
		t.Fatal(err)
	}
	if _, err := read("sig3"); !errors.Is(err, fosite.ErrInactiveToken) {
		t.Errorf("read after an announced revocation: %v, want inactive", err)
	}

	// Revoked by another process while this one was reading the token: the
	// stale record answers that one read but is not kept.
	slow.during = func() {
		if err := mem.DeactivateRequest(ctx, store.GrantAccessToken, "req4"); err != nil {
			t.Error(err)
		}
	}
	if _, err := read("sig4"); err != nil {
		t.Fatalf("the read overtaken by the revocation: %v", err)
	}
	if _, err := read("sig4"); !errors.Is(err, fosite.ErrInactiveToken) {
		t.Errorf("read after a revocation announced during a read: %v, want inactive", err)
	}
}

// The provider logs when the token cache goes off because the store's feed
// broke, and when it is back; not at start, nor at shutdown.
func TestLoggedFeed(t *testing.T) {
	var buf bytes.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	f := &loggedFeed{tokenCache: newTokenCache(time.Minute, 10, time.Now), ctx: ctx,
		log: slog.New(slog.NewTextHandler(&buf, nil))}
	f.Lost() // before the first Ready: starting up
	f.Ready()
	if buf.Len() != 0 {
		t.Errorf("logged at start: %s", buf.String())
	}
	f.Lost()
	f.Lost()
	if n := strings.Count(buf.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings for one break:\n%s", n, buf.String())
	}
	f.Ready()
	if !strings.Contains(buf.String(), "level=INFO") {
		t.Errorf("no line when the feed came back:\n%s", buf.String())
	}
	// A feed that breaks again within the minute is not logged again.
	buf.Reset()
	f.Lost()
	f.Ready()
	if buf.Len() != 0 {
		t.Errorf("logged a second break within a minute: %s", buf.String())
	}
	cancel()
	f.Lost()
	if buf.Len() != 0 {
		t.Errorf("logged at shutdown: %s", buf.String())
	}
}

// len returns the number of entries.
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.bySig)
}
