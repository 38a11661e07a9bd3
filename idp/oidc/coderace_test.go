package oidc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/server"
	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/postgres/postgrestest"
	"github.com/esia-oidc/idp/store/redis/redistest"
)

// Two exchanges of one code, forced into each order that matters by a
// store that pauses one of them at a chosen point (RFC 6749 §4.1.2: a code
// presented again is refused, and what was issued from it is revoked). The
// exchange that gets the code first is the winner, the other the loser:
//
//   - winner first: the winner completes (200); the loser then finds the
//     code used, either when it reads it or when it tries to invalidate it,
//     and revokes what the winner got;
//   - loser first: the loser's replay is processed after the winner
//     invalidated the code but before it issued, or after it issued but
//     before it looked for a replay; the winner then answers invalid_grant
//     too, and what it wrote is revoked.
//
// Whichever the order, the loser answers 400 invalid_grant, and no token
// issued from the code is usable afterwards.
func TestCodeRaceOrders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// paused is the exchange held at point (its nth time there) while
		// the other runs to its answer.
		paused, point string
		nth           int
		winnerStatus  int
	}{
		{"winner first, replay seen reading the code", loser, pointGotCode, 1, http.StatusOK},
		{"winner first, replay seen invalidating the code", loser, pointInvalidating, 1, http.StatusOK},
		{"loser first, between the winner's invalidation and its issuing", winner, pointInvalidated, 1, http.StatusBadRequest},
		{"loser first, after the winner issued, before it looks for a replay", winner, pointCheckingReplay, 1, http.StatusBadRequest},
	} {
		for _, backend := range []string{"memory", "postgres+redis"} {
			t.Run(backend+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				g := newGates()
				var configure []func(*config.Config)
				if backend != "memory" {
					// The real stores: PostgreSQL holds a rotation's writes
					// until its commit, which the orders must survive too.
					redisURL, prefix := redistest.NewPrefix(t)
					dbURL := postgrestest.NewSchemaURL(t)
					configure = append(configure, func(c *config.Config) {
						c.DatabaseURL, c.RedisURL, c.RedisPrefix, c.Migrate = dbURL, redisURL, prefix, true
					})
				}
				idp := newTestIDPWith(t, []server.Option{server.WithStores(g.wrap)}, configure...)
				code := idp.newBrowser(t).codeFor(authzParams("openid offline_access"))

				hold := g.hold(tc.paused, tc.point, tc.nth)
				t.Cleanup(hold.release)
				first := goExchange(idp, tc.paused, code)
				hold.await(t)
				// The other exchange runs to its answer while the first waits.
				other := winner
				if tc.paused == winner {
					other = loser
				}
				otherRec := <-goExchange(idp, other, code)
				hold.release()
				firstRec := <-first

				answers := map[string]*httptest.ResponseRecorder{tc.paused: firstRec, other: otherRec}
				w, l := answers[winner], answers[loser]
				checkReplayRefused(t, "the loser", l)
				if tc.winnerStatus == http.StatusOK {
					if w.Code != http.StatusOK {
						t.Fatalf("the winner: %d %s, want 200", w.Code, w.Body)
					}
				} else {
					checkReplayRefused(t, "the winner", w)
				}

				// Nothing issued from the code is usable: not what the winner
				// answered with, not what it wrote to the store.
				var tr tokenResponse
				if err := json.Unmarshal(w.Body.Bytes(), &tr); err != nil {
					t.Fatalf("the winner's answer is not JSON: %s", w.Body)
				}
				if tc.winnerStatus == http.StatusOK {
					if tr.AccessToken == "" || tr.RefreshToken == "" {
						t.Fatalf("the winner got %+v, want an access and a refresh token", tr)
					}
					if r, _ := idp.userinfo(t, tr.AccessToken); r.StatusCode != http.StatusUnauthorized {
						t.Errorf("userinfo with the winner's access token: %d, want 401", r.StatusCode)
					}
					r, _ := idp.refresh(t, tr.RefreshToken, "")
					oauthError(t, r, http.StatusBadRequest, "invalid_grant")
				}
				issued := g.issued(winner)
				if len(issued) != 2 {
					t.Fatalf("the winner wrote %v, want an access and a refresh token", issued)
				}
				for _, gr := range issued {
					var st store.Grants = idp.srv.Ephemeral
					if gr.Kind == store.GrantRefreshToken {
						st = idp.srv.Durable
					}
					got, err := st.GetGrant(context.Background(), gr.Kind, gr.Signature)
					if err == nil && got.Active {
						t.Errorf("the winner's %s token is still active", gr.Kind)
					} else if err != nil && !errors.Is(err, store.ErrNotFound) {
						t.Errorf("read the winner's %s token: %v", gr.Kind, err)
					}
				}
				if issued := g.issued(loser); len(issued) != 0 {
					t.Errorf("the loser wrote %v", issued)
				}
			})
		}
	}
}

// checkReplayRefused wants 400 invalid_grant and no token in the answer.
func checkReplayRefused(t *testing.T, who string, rec *httptest.ResponseRecorder) {
	t.Helper()
	var tr tokenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil {
		t.Fatalf("%s: not JSON: %s", who, rec.Body)
	}
	if rec.Code != http.StatusBadRequest || tr.Error != "invalid_grant" || tr.AccessToken != "" || tr.RefreshToken != "" || tr.IDToken != "" {
		t.Errorf("%s: %d %s, want 400 invalid_grant and no token", who, rec.Code, rec.Body)
	}
}

// The two exchanges, told apart by a context value that the store sees.
const (
	winner = "winner"
	loser  = "loser"
)

type racerKey struct{}

// goExchange posts the code to the token endpoint as the public client,
// in the handler directly, as racer, and delivers the answer.
func goExchange(idp *testIDP, racer, code string) <-chan *httptest.ResponseRecorder {
	out := make(chan *httptest.ResponseRecorder, 1)
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {rpRedirect},
		"client_id":     {publicClientID},
		"code_verifier": {testVerifier},
	}
	req := httptest.NewRequest(http.MethodPost, testIssuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req = req.WithContext(context.WithValue(req.Context(), racerKey{}, racer))
	go func() {
		rec := httptest.NewRecorder()
		idp.srv.Handler.ServeHTTP(rec, req)
		out <- rec
	}()
	return out
}

// Points of an exchange where the store may hold it.
const (
	pointGotCode        = "read the code"             // after a read of the code's grant
	pointInvalidating   = "invalidating the code"     // before the code's deactivation
	pointInvalidated    = "invalidated the code"      // after a successful deactivation
	pointCheckingReplay = "looking for a replay mark" // before reading an entry "replayed:..."
)

// gates is a store wrapper that holds a racer at a point, counts the
// racers' visits, and records the token grants each racer wrote.
type gates struct {
	mu     sync.Mutex
	visits map[string]int // racer + point -> visits
	holds  map[string]*hold
	wrote  map[string][]store.Grant // racer -> grants of access and refresh tokens
}

func newGates() *gates {
	return &gates{visits: map[string]int{}, holds: map[string]*hold{}, wrote: map[string][]store.Grant{}}
}

// hold is one pause: reached is closed when the racer arrives, and the
// racer waits until release.
type hold struct {
	reached, released chan struct{}
	once              sync.Once
}

func (h *hold) release() { h.once.Do(func() { close(h.released) }) }

func (h *hold) await(t *testing.T) {
	t.Helper()
	select {
	case <-h.reached:
	case <-time.After(30 * time.Second):
		t.Fatal("the paused exchange did not reach its point within 30 s")
	}
}

func holdKey(racer, point string, nth int) string { return fmt.Sprintf("%s|%s|%d", racer, point, nth) }

// hold makes racer wait at its nth visit of point.
func (g *gates) hold(racer, point string, nth int) *hold {
	h := &hold{reached: make(chan struct{}), released: make(chan struct{})}
	g.mu.Lock()
	g.holds[holdKey(racer, point, nth)] = h
	g.mu.Unlock()
	return h
}

// at is a racer's visit of a point; it waits there if held.
func (g *gates) at(ctx context.Context, point string) {
	racer, _ := ctx.Value(racerKey{}).(string)
	if racer == "" {
		return
	}
	g.mu.Lock()
	g.visits[racer+point]++
	h := g.holds[holdKey(racer, point, g.visits[racer+point])]
	g.mu.Unlock()
	if h != nil {
		close(h.reached)
		<-h.released
	}
}

func (g *gates) record(ctx context.Context, gr *store.Grant) {
	racer, _ := ctx.Value(racerKey{}).(string)
	if racer == "" || (gr.Kind != store.GrantAccessToken && gr.Kind != store.GrantRefreshToken) {
		return
	}
	g.mu.Lock()
	g.wrote[racer] = append(g.wrote[racer], store.Grant{Kind: gr.Kind, Signature: gr.Signature, RequestID: gr.RequestID})
	g.mu.Unlock()
}

// issued returns the access and refresh token grants racer wrote.
func (g *gates) issued(racer string) []store.Grant {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]store.Grant(nil), g.wrote[racer]...)
}

// wrap is the server.WithStores option's function.
func (g *gates) wrap(d store.Durable, e store.Ephemeral) (store.Durable, store.Ephemeral) {
	return &gatedDurable{Durable: d, g: g}, &gatedEphemeral{Ephemeral: e, g: g, watch: e.(store.GrantWatcher)}
}

// gatedEphemeral is the ephemeral store with the points of an exchange:
// codes, access tokens and replay marks live there. It keeps the store's
// change feed, so the provider's token cache stays on as in production.
type gatedEphemeral struct {
	store.Ephemeral
	g     *gates
	watch store.GrantWatcher
}

var _ store.GrantWatcher = (*gatedEphemeral)(nil)

func (s *gatedEphemeral) GetGrant(ctx context.Context, kind store.GrantKind, signature string) (*store.Grant, error) {
	gr, err := s.Ephemeral.GetGrant(ctx, kind, signature)
	if kind == store.GrantAuthorizeCode {
		s.g.at(ctx, pointGotCode)
	}
	return gr, err
}

func (s *gatedEphemeral) DeactivateGrant(ctx context.Context, kind store.GrantKind, signature string) error {
	if kind != store.GrantAuthorizeCode {
		return s.Ephemeral.DeactivateGrant(ctx, kind, signature)
	}
	s.g.at(ctx, pointInvalidating)
	err := s.Ephemeral.DeactivateGrant(ctx, kind, signature)
	if err == nil {
		s.g.at(ctx, pointInvalidated)
	}
	return err
}

func (s *gatedEphemeral) CreateGrant(ctx context.Context, gr *store.Grant) error {
	err := s.Ephemeral.CreateGrant(ctx, gr)
	if err == nil {
		s.g.record(ctx, gr)
	}
	return err
}

func (s *gatedEphemeral) GetEntry(ctx context.Context, key string) ([]byte, error) {
	if strings.HasPrefix(key, "replayed:") {
		s.g.at(ctx, pointCheckingReplay)
	}
	return s.Ephemeral.GetEntry(ctx, key)
}

func (s *gatedEphemeral) WatchGrants(ctx context.Context, w store.GrantWatch) error {
	return s.watch.WatchGrants(ctx, w)
}

// gatedDurable records the refresh tokens each racer wrote.
type gatedDurable struct {
	store.Durable
	g *gates
}

func (s *gatedDurable) CreateGrant(ctx context.Context, gr *store.Grant) error {
	err := s.Durable.CreateGrant(ctx, gr)
	if err == nil {
		s.g.record(ctx, gr)
	}
	return err
}
