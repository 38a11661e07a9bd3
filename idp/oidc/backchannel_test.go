package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/esia-oidc/idp/idp/keys"
	"github.com/esia-oidc/idp/idp/seal"
	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/memory"
)

const bcIssuer = "https://idp.test"

// recordedJobs is a store.Jobs that keeps what is enqueued.
type recordedJobs struct {
	mu   sync.Mutex
	jobs []store.Job
	opts []store.JobOptions
}

func (r *recordedJobs) EnqueueJob(_ context.Context, kind string, args []byte, opts store.JobOptions) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs = append(r.jobs, store.Job{Kind: kind, Args: bytes.Clone(args), Attempt: 1, MaxAttempts: opts.MaxAttempts})
	r.opts = append(r.opts, opts)
	return nil
}

// bcFixture is a provider on the in-memory store with real signing keys,
// and a relying party's back-channel receiver.
type bcFixture struct {
	p    *Provider
	mem  *memory.Store
	keys *keys.Manager
	jobs *recordedJobs

	mu         sync.Mutex
	received   []url.Values // forms the receiver got
	answer     int          // the receiver's status
	redirectTo string       // its Location when answer is 3xx
	rp         *httptest.Server
}

func (f *bcFixture) answerWith(status int, location string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer, f.redirectTo = status, location
}

func newBCFixture(t *testing.T, timeout time.Duration) *bcFixture {
	t.Helper()
	ctx := t.Context()
	mem := memory.New(nil)
	sealer, err := seal.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	km := keys.New(mem, sealer, nil, nil)
	if err := km.Ensure(ctx, keys.RS256, keys.ES256); err != nil {
		t.Fatal(err)
	}
	f := &bcFixture{mem: mem, keys: km, jobs: &recordedJobs{}, answer: http.StatusOK}
	f.p, err = New(Config{
		Issuer: bcIssuer, Durable: mem, Ephemeral: mem, Keys: km, Secrets: sealer,
		HMACSecret: bytes.Repeat([]byte{9}, 32), AccessTokenAlg: "RS256",
		Lifetimes: Lifetimes{Code: time.Minute, AccessToken: time.Hour, IDToken: time.Hour, RefreshToken: time.Hour, Flow: time.Hour},
		Logger:    slog.New(slog.DiscardHandler),
		Jobs:      f.jobs, LogoutTimeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.rp = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("receiver got %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		r.ParseForm()
		f.mu.Lock()
		f.received = append(f.received, r.PostForm)
		status, location := f.answer, f.redirectTo
		f.mu.Unlock()
		if location != "" {
			w.Header().Set("Location", location)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(f.rp.Close)
	return f
}

func (f *bcFixture) client(t *testing.T, c *store.Client) *store.Client {
	t.Helper()
	c.TokenEndpointAuthMethod = "none"
	if err := f.mem.CreateClient(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *bcFixture) tokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, v := range f.received {
		out = append(out, v.Get("logout_token"))
	}
	return out
}

// verify checks the token's signature against the provider's JWKS with
// go-jose and returns its protected header and claims.
func (f *bcFixture) verify(t *testing.T, raw string) (jose.Header, map[string]any) {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse logout token: %v", err)
	}
	hdr := jws.Signatures[0].Protected
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(f.keys.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	ks := set.Key(hdr.KeyID)
	if len(ks) != 1 {
		t.Fatalf("kid %q is not in the JWKS once", hdr.KeyID)
	}
	payload, err := jws.Verify(ks[0])
	if err != nil {
		t.Fatalf("logout token signature: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return hdr, claims
}

func jobFor(clientID, accountID, sid string) *store.Job {
	b, _ := json.Marshal(logoutJob{ClientID: clientID, AccountID: accountID, SID: sid})
	return &store.Job{Kind: BackchannelLogoutJob, Args: b, Attempt: 1, MaxAttempts: logoutAttempts}
}

// TestSessionEndedEnqueues: one job per client of the session that
// registered a URI, bounded in attempts; none for a client without a URI
// or one deleted since.
func TestSessionEndedEnqueues(t *testing.T) {
	f := newBCFixture(t, time.Second)
	f.client(t, &store.Client{ID: "with-uri-a", BackchannelLogoutURI: f.rp.URL + "/a"})
	f.client(t, &store.Client{ID: "with-uri-b", BackchannelLogoutURI: f.rp.URL + "/b"})
	f.client(t, &store.Client{ID: "no-uri"})
	f.client(t, &store.Client{ID: "not-in-session", BackchannelLogoutURI: f.rp.URL + "/c"})
	s := &session.Session{ID: "sid-1", AccountID: "acc-1"}
	f.p.SessionEnded(t.Context(), s, []string{"no-uri", "gone", "with-uri-a", "with-uri-b"})

	if len(f.jobs.jobs) != 2 {
		t.Fatalf("enqueued %d jobs, want 2: %+v", len(f.jobs.jobs), f.jobs.jobs)
	}
	for i, want := range []string{"with-uri-a", "with-uri-b"} {
		j := f.jobs.jobs[i]
		var a logoutJob
		if err := json.Unmarshal(j.Args, &a); err != nil {
			t.Fatal(err)
		}
		if j.Kind != BackchannelLogoutJob || a != (logoutJob{ClientID: want, AccountID: "acc-1", SID: "sid-1"}) {
			t.Errorf("job %d = %s %+v", i, j.Kind, a)
		}
		if f.jobs.opts[i].MaxAttempts != logoutAttempts || f.jobs.opts[i].MaxAttempts < 1 {
			t.Errorf("job %d attempts = %d, want %d", i, f.jobs.opts[i].MaxAttempts, logoutAttempts)
		}
	}
}

// TestLogoutTokenShape: the token is a JWT of typ logout+jwt signed by a
// key of the JWKS (RS256 by default, ES256 for a client that registered
// it) with exactly the claims of §2.4: iss, aud, iat, exp, jti, events,
// sub and sid, and no nonce; each token has a jti of its own.
func TestLogoutTokenShape(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			f := newBCFixture(t, time.Second)
			c := &store.Client{ID: "rp-" + alg, BackchannelLogoutURI: f.rp.URL + "/bc"}
			if alg == "ES256" {
				c.IDTokenSignedResponseAlg = "ES256"
			}
			f.client(t, c)
			before := time.Now().Unix()
			for range 2 {
				if err := f.p.SendLogoutToken(t.Context(), jobFor(c.ID, "acc-1", "sid-1")); err != nil {
					t.Fatalf("send: %v", err)
				}
			}
			toks := f.tokens()
			if len(toks) != 2 {
				t.Fatalf("the receiver got %d tokens, want 2", len(toks))
			}
			var jtis []string
			for _, raw := range toks {
				hdr, cl := f.verify(t, raw)
				if hdr.Algorithm != alg || hdr.ExtraHeaders["typ"] != "logout+jwt" || hdr.KeyID == "" {
					t.Errorf("header alg=%s typ=%v kid=%q", hdr.Algorithm, hdr.ExtraHeaders["typ"], hdr.KeyID)
				}
				names := make([]string, 0, len(cl))
				for k := range cl {
					names = append(names, k)
				}
				slices.Sort(names)
				if want := []string{"aud", "events", "exp", "iat", "iss", "jti", "sid", "sub"}; !slices.Equal(names, want) {
					t.Errorf("claims %v, want exactly %v", names, want)
				}
				if cl["iss"] != bcIssuer || cl["aud"] != c.ID || cl["sub"] != "acc-1" || cl["sid"] != "sid-1" {
					t.Errorf("iss %v aud %v sub %v sid %v", cl["iss"], cl["aud"], cl["sub"], cl["sid"])
				}
				iat, exp := int64(cl["iat"].(float64)), int64(cl["exp"].(float64))
				if iat < before || iat > time.Now().Unix() || exp-iat != int64(logoutTokenLifetime/time.Second) {
					t.Errorf("iat %d exp %d", iat, exp)
				}
				ev, _ := cl["events"].(map[string]any)
				if e, ok := ev[BackchannelLogoutEvent].(map[string]any); len(ev) != 1 || !ok || len(e) != 0 {
					t.Errorf("events = %v", cl["events"])
				}
				jti, _ := cl["jti"].(string)
				if len(jti) < 16 || slices.Contains(jtis, jti) {
					t.Errorf("jti %q (seen %v)", jti, jtis)
				}
				jtis = append(jtis, jti)
			}
		})
	}
}

// TestLogoutTokenPairwise: a pairwise client is told the sub and sid its
// ID tokens carried, not the account id nor the shared sid.
func TestLogoutTokenPairwise(t *testing.T) {
	f := newBCFixture(t, time.Second)
	c := f.client(t, &store.Client{ID: "rp-pairwise", BackchannelLogoutURI: f.rp.URL + "/bc",
		SubjectType: store.SubjectPairwise, SubjectSalt: []byte("salt of rp-pairwise -- 32 bytes!")})
	if err := f.p.SendLogoutToken(t.Context(), jobFor(c.ID, "acc-1", "sid-1")); err != nil {
		t.Fatal(err)
	}
	_, cl := f.verify(t, f.tokens()[0])
	if cl["sub"] != subjectFor(c, "acc-1") || cl["sid"] != sidFor(c, "sid-1") {
		t.Errorf("sub %v sid %v, want the client's pairwise values", cl["sub"], cl["sid"])
	}
	if cl["sub"] == "acc-1" || cl["sid"] == "sid-1" || cl["sub"] == "" || cl["sid"] == "" {
		t.Errorf("a pairwise client was told the shared values: sub %v sid %v", cl["sub"], cl["sid"])
	}
}

// TestSendLogoutTokenAnswers: 2xx completes the job; a network error, 429
// and 5xx are retried; other answers, a redirect among them (not
// followed), are given up at once.
func TestSendLogoutTokenAnswers(t *testing.T) {
	f := newBCFixture(t, time.Second)
	var redirected atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { redirected.Store(true) }))
	defer elsewhere.Close()
	f.client(t, &store.Client{ID: "rp", BackchannelLogoutURI: f.rp.URL + "/bc"})
	cases := []struct {
		status    int
		ok, retry bool
	}{
		{http.StatusOK, true, false},
		{http.StatusNoContent, true, false},
		{http.StatusServiceUnavailable, false, true},
		{http.StatusInternalServerError, false, true},
		{http.StatusTooManyRequests, false, true},
		{http.StatusBadRequest, false, false},
		{http.StatusNotFound, false, false},
		{http.StatusFound, false, false},
	}
	for _, tc := range cases {
		location := ""
		if tc.status == http.StatusFound {
			location = elsewhere.URL + "/bc"
		}
		f.answerWith(tc.status, location)
		err := f.p.SendLogoutToken(t.Context(), jobFor("rp", "acc", "sid"))
		switch {
		case tc.ok && err != nil:
			t.Errorf("%d: %v, want success", tc.status, err)
		case !tc.ok && err == nil:
			t.Errorf("%d: success, want failure", tc.status)
		case !tc.ok && errors.Is(err, store.ErrJobPermanent) == tc.retry:
			t.Errorf("%d: %v; retried = %v, want %v", tc.status, err, !errors.Is(err, store.ErrJobPermanent), tc.retry)
		}
	}
	if redirected.Load() {
		t.Error("the redirect was followed")
	}

	// A receiver that is down is tried again.
	f.client(t, &store.Client{ID: "rp-down", BackchannelLogoutURI: "http://127.0.0.1:1/bc"})
	if err := f.p.SendLogoutToken(t.Context(), jobFor("rp-down", "acc", "sid")); err == nil || errors.Is(err, store.ErrJobPermanent) {
		t.Errorf("unreachable receiver: %v, want an error to retry", err)
	}
	// A client deleted since, or without a URI now, is not told; bad
	// arguments are given up.
	f.client(t, &store.Client{ID: "rp-no-uri"})
	n := len(f.tokens())
	for _, id := range []string{"rp-deleted", "rp-no-uri"} {
		if err := f.p.SendLogoutToken(t.Context(), jobFor(id, "acc", "sid")); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	if len(f.tokens()) != n {
		t.Error("a client without a URI was sent a token")
	}
	if err := f.p.SendLogoutToken(t.Context(), &store.Job{Args: []byte("{")}); !errors.Is(err, store.ErrJobPermanent) {
		t.Errorf("bad arguments: %v", err)
	}
	// A pairwise client without a salt (a broken record) fails closed, for
	// good: it is never told the shared account id.
	f.client(t, &store.Client{ID: "rp-broken", BackchannelLogoutURI: f.rp.URL + "/bc", SubjectType: store.SubjectPairwise})
	if err := f.p.SendLogoutToken(t.Context(), jobFor("rp-broken", "acc", "sid")); !errors.Is(err, store.ErrJobPermanent) {
		t.Errorf("pairwise client without a salt: %v", err)
	}
	if len(f.tokens()) != n {
		t.Error("a pairwise client without a salt was sent a token")
	}
}

// TestSendLogoutTokenTimeout: a receiver that never answers holds an
// attempt no longer than the timeout, and the job is tried again.
func TestSendLogoutTokenTimeout(t *testing.T) {
	f := newBCFixture(t, 300*time.Millisecond)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	f.client(t, &store.Client{ID: "rp-slow", BackchannelLogoutURI: hang.URL + "/bc"})
	start := time.Now()
	err := f.p.SendLogoutToken(context.Background(), jobFor("rp-slow", "acc", "sid"))
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("an attempt took %v with a 300ms timeout", took)
	}
	if err == nil || errors.Is(err, store.ErrJobPermanent) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hanging receiver: %v, want a deadline error to retry", err)
	}
}
