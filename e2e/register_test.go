package e2e

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/internal/testserver"
)

// registerEnv runs the servers in development mode (the outbox holds the
// codes) on the deployment's PostgreSQL and Redis.
var registerEnv = []string{"IDP_DEV=true", "IDP_JOB_POLL_INTERVAL=100ms"}

// randomPhone is a fresh +7916XXXXXXX.
func randomPhone(t *testing.T) string {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(10_000_000))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("+7916%07d", n)
}

// outboxCode waits for a message to `to` that srv's outbox did not hold
// before (skip of them were there) and returns its code.
func outboxCode(t *testing.T, srv *testserver.Server, to string, skip int) string {
	t.Helper()
	// The message is a job: under load it may take a while.
	deadline := time.Now().Add(30 * time.Second)
	for {
		msgs := outbox(t, srv, to)
		if len(msgs) > skip {
			return msgs[len(msgs)-1].Code
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new message to %s on %s (%d before)", to, srv.URL, skip)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// outboxCodeAny waits for a message to `to` in the outbox of any of the
// processes of one deployment (the job that sends it runs on any) and
// returns its code.
func outboxCodeAny(t *testing.T, to string, servers ...*testserver.Server) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, srv := range servers {
			if msgs := outbox(t, srv, to); len(msgs) > 0 {
				return msgs[len(msgs)-1].Code
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message to %s on any process", to)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type outboxMessage struct {
	Channel, To, Subject, Body, Code string
}

// outbox returns srv's outbox messages to `to`.
func outbox(t *testing.T, srv *testserver.Server, to string) []outboxMessage {
	t.Helper()
	resp, err := http.Get(srv.URL + "/dev/outbox?to=" + url.QueryEscape(to))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Messages []outboxMessage }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Messages
}

// registrant walks the registration pages of one server as a browser.
type registrant struct {
	t   *testing.T
	ctx context.Context
	ag  *testserver.Agent
	srv *testserver.Server
}

func newRegistrant(t *testing.T, srv *testserver.Server, issuer string) *registrant {
	return &registrant{t: t, ctx: context.Background(), ag: testserver.NewAgent(issuer, nil), srv: srv}
}

func (r *registrant) get(u string) *testserver.Page {
	r.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = r.srv.URL + u
	}
	p, err := r.ag.Get(r.ctx, u)
	if err != nil {
		r.t.Fatal(err)
	}
	return p
}

// follow follows redirects that stay on the provider.
func (r *registrant) follow(p *testserver.Page) *testserver.Page {
	r.t.Helper()
	for range 10 {
		loc := p.Location()
		if loc == nil || !strings.HasPrefix(loc.String(), r.ag.Issuer+"/") {
			return p
		}
		p = r.get(r.srv.URL + loc.RequestURI())
	}
	r.t.Fatal("too many redirects")
	return nil
}

func (r *registrant) submit(p *testserver.Page, form int, vals url.Values) *testserver.Page {
	r.t.Helper()
	forms := p.Forms()
	if len(forms) <= form {
		r.t.Fatalf("%s (%d) has no form %d:\n%s", p.URL, p.Status, form, p.Body)
	}
	next, err := r.ag.Submit(r.ctx, p, forms[form], vals)
	if err != nil {
		r.t.Fatal(err)
	}
	return next
}

// start fills /register (the page reg) and returns the code page.
func (r *registrant) start(reg *testserver.Page, field, contact string) *testserver.Page {
	r.t.Helper()
	p := r.submit(reg, 0, url.Values{
		"last_name": {"Смирнова"}, "first_name": {"Ольга"}, field: {contact}, "accept_terms": {"on"},
	})
	if p.Status != http.StatusSeeOther {
		r.t.Fatalf("/register: %d\n%s", p.Status, p.Body)
	}
	return r.follow(p)
}

const registerPassword = "Sm1rnova-Tundra!"

// finish confirms the code and sets the password; it returns the response
// to the password form.
func (r *registrant) finish(codePage *testserver.Page, code string) *testserver.Page {
	r.t.Helper()
	pw := r.follow(r.submit(codePage, 0, url.Values{"code": {code}}))
	if pw.URL.Path != "/register/password" {
		r.t.Fatalf("after the code: %s (%d)\n%s", pw.URL, pw.Status, pw.Body)
	}
	return r.submit(pw, 0, url.Values{"password": {registerPassword}, "password_confirm": {registerPassword}})
}

// TestRegisterFromAuthorize: on PostgreSQL and Redis, a citizen starts at
// a relying party's authorization request, registers by phone (and, in a
// second run, by e-mail) with the code from the outbox, and lands back at
// the relying party; the ID token names the new account at the simplified
// level, proven by the code.
func TestRegisterFromAuthorize(t *testing.T) {
	t.Parallel()
	sh := testserver.NewShared(t)
	srv := testserver.Start(t, sh, registerEnv...)
	ctx := context.Background()
	cl, err := srv.Admin().CreateClient(ctx, adminclient.ClientMetadata{
		ClientName: "Портал", RedirectURIs: []string{replicaRedirect},
		GrantTypes: []string{"authorization_code"}, Scope: "openid fullname mobile email",
		TokenEndpointAuthMethod: "none", SubjectType: "public",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ field, contact, amr, claim string }{
		{"phone", randomPhone(t), "sms", "phone_number"},
		{"email", "reg-" + strings.ToLower(browserRandom(t)[:10]) + "@example.ru", "otp", "email"},
	} {
		t.Run(c.field, func(t *testing.T) {
			conf := &oauth2.Config{
				ClientID:    cl.ClientID,
				Endpoint:    oauth2.Endpoint{AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams},
				RedirectURL: replicaRedirect,
				Scopes:      []string{oidc.ScopeOpenID, "fullname", "mobile", "email"},
			}
			auth := newBrowserAuth(t, conf)
			r := newRegistrant(t, srv, srv.URL)
			login := r.follow(r.get(auth.url))
			link := regexp.MustCompile(`href="(/register\?flow=[^"]+)"`).FindStringSubmatch(login.Body)
			if login.URL.Path != "/login" || link == nil {
				t.Fatalf("authorize led to %s without a registration link:\n%s", login.URL, login.Body)
			}
			codePage := r.start(r.get(link[1]), c.field, c.contact)
			done := r.follow(r.finish(codePage, outboxCode(t, srv, strings.ToLower(c.contact), 0)))
			if done.URL.Path == "/consent" {
				done = r.submit(done, 0, url.Values{"decision": {"allow"}})
			}
			cb := done.Location()
			if cb == nil || !strings.HasPrefix(cb.String(), replicaRedirect+"?") {
				t.Fatalf("registration ended at %d %v, not at the relying party\n%s", done.Status, done.Header.Get("Location"), done.Body)
			}
			q := browserCheckCallback(t, cb.Query(), auth.state, srv.URL)
			tok, err := conf.Exchange(ctx, q, oauth2.VerifierOption(auth.verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			idt := browserVerify(t, ctx, oidc.NewVerifier(srv.URL, oidc.NewRemoteKeySet(ctx, srv.URL+"/jwks"), &oidc.Config{ClientID: cl.ClientID}), tok, auth.nonce)
			var claims struct {
				Level string   `json:"level"`
				AMR   []string `json:"amr"`
			}
			if err := idt.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if claims.Level != "simplified" || !slices.Contains(claims.AMR, c.amr) {
				t.Errorf("ID token level %q amr %v, want simplified and %s", claims.Level, claims.AMR, c.amr)
			}
			acct, err := srv.Admin().GetAccount(ctx, idt.Subject)
			if err != nil {
				t.Fatalf("the ID token's sub names no account: %v", err)
			}
			if acct.LastName != "Смирнова" || acct.Level != "simplified" {
				t.Errorf("account %+v", acct)
			}
		})
	}
}

// TestRegisterLimitsAcrossServers: two server processes of one deployment
// share the code limits: wrong codes typed on either count together, and
// the phone's hourly send limit holds whichever server sends.
func TestRegisterLimitsAcrossServers(t *testing.T) {
	t.Parallel()
	sh := testserver.NewShared(t)
	a := testserver.Start(t, sh, registerEnv...)
	b := testserver.StartWithIssuer(t, sh, a.URL, registerEnv...)
	phone := randomPhone(t)

	// One registration begun on A, its code guessed on A and B in turn.
	r := newRegistrant(t, a, a.URL)
	codePage := r.start(r.get("/register"), "phone", phone)
	// The code is sent by a job, which either process may run: each keeps
	// its own outbox.
	code := outboxCodeAny(t, phone, a, b)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	onB := &registrant{t: t, ctx: r.ctx, ag: r.ag, srv: b}
	for i := range 5 {
		via := r
		if i%2 == 1 {
			via = onB
		}
		p := via.submit(codePage, 0, url.Values{"code": {wrong}})
		if p.Status != http.StatusUnprocessableEntity {
			t.Fatalf("wrong code %d: %d\n%s", i+1, p.Status, p.Body)
		}
	}
	if p := onB.submit(codePage, 0, url.Values{"code": {code}}); p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("the right code after five wrong ones on two servers: %d, want it voided", p.Status)
	}

	// Four more codes to the phone, from A and B in turn: five in the
	// hour. The sixth is refused on either server.
	for i := range 5 {
		srv := a
		if i%2 == 0 {
			srv = b
		}
		reg := newRegistrant(t, srv, a.URL)
		p := reg.submit(reg.get("/register"), 0, url.Values{
			"last_name": {"Смирнова"}, "first_name": {"Ольга"}, "phone": {phone}, "accept_terms": {"on"},
		})
		want := http.StatusSeeOther
		if i == 4 {
			want = http.StatusTooManyRequests
		}
		if p.Status != want {
			t.Fatalf("registration %d on %s: %d, want %d\n%s", i+2, srv.URL, p.Status, want, p.Body)
		}
	}
}
