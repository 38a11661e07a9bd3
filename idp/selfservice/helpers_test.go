package selfservice_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/server"
	"github.com/esia-oidc/idp/internal/idptest"
	"github.com/esia-oidc/idp/internal/logbuf"
	"github.com/esia-oidc/idp/internal/testserver"
	"github.com/esia-oidc/idp/store"
)

const (
	clientID      = "rp-public"
	clientName    = "Портал услуг"
	rpRedirect    = "https://rp.example/cb"
	takenPhone    = "+79990001122"
	takenEmail    = "taken@example.ru"
	takenPassword = "Taken-Passw0rd!"
	goodPassword  = "Zq7!vernal-Otter"
)

// idp is a provider in process (internal/idptest) with a public client
// and a citizen whose phone and e-mail are taken.
type idp struct {
	*idptest.IDP
	srv    *server.Server
	logs   *logbuf.Buffer
	issuer string
	taken  *store.Account
}

func newIDP(t *testing.T, configure ...func(*config.Config)) *idp {
	t.Helper()
	ctx := context.Background()
	base := idptest.New(t, configure...)
	srv := base.Srv
	now := time.Now().UTC()
	if err := srv.Durable.CreateClient(ctx, &store.Client{
		ID: clientID, Name: clientName, RedirectURIs: []string{rpRedirect},
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
		Scopes:                  []string{"openid", "fullname", "mobile", "email"},
		TokenEndpointAuthMethod: "none", CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		t.Fatal(err)
	}
	hash, err := srv.Passwords.Hash(ctx, takenPassword)
	if err != nil {
		t.Fatal(err)
	}
	taken := &store.Account{
		ID: "taken", Level: store.LevelSimplified, LastName: "Петрова", FirstName: "Анна",
		Phone: takenPhone, PhoneVerified: true, Email: takenEmail, EmailVerified: true,
		PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	if err := srv.Durable.CreateAccount(ctx, taken); err != nil {
		t.Fatal(err)
	}
	return &idp{IDP: base, srv: srv, logs: base.Logs, issuer: base.Issuer, taken: taken}
}

func (p *idp) agent() *testserver.Agent { return p.Agent() }

// get fetches a path or URL of the provider.
func get(t *testing.T, a *testserver.Agent, u string) *testserver.Page {
	t.Helper()
	if strings.HasPrefix(u, "/") {
		u = a.Issuer + u
	}
	p, err := a.Get(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// submit posts the page's form whose action is action (or its only form).
func submit(t *testing.T, a *testserver.Agent, p *testserver.Page, action string, vals url.Values) *testserver.Page {
	t.Helper()
	for _, f := range p.Forms() {
		if action == "" || f.Action == action {
			next, err := a.Submit(context.Background(), p, f, vals)
			if err != nil {
				t.Fatal(err)
			}
			return next
		}
	}
	t.Fatalf("no form posting to %q on %s (%d):\n%s", action, p.URL, p.Status, p.Body)
	return nil
}

// follow follows the provider's redirects from p.
func follow(t *testing.T, a *testserver.Agent, p *testserver.Page) *testserver.Page {
	t.Helper()
	for range 10 {
		loc := p.Location()
		if loc == nil || !strings.HasPrefix(loc.String(), a.Issuer+"/") {
			return p
		}
		p = get(t, a, loc.String())
	}
	t.Fatal("too many redirects")
	return nil
}

// wantPath fails unless p is a page (or redirect) at path.
func wantStatus(t *testing.T, p *testserver.Page, status int) {
	t.Helper()
	if p.Status != status {
		t.Fatalf("%s: status %d, want %d\n%s", p.URL, p.Status, status, p.Body)
	}
}

// fieldError returns the message shown next to the field, or "".
func fieldError(p *testserver.Page, field string) string {
	m := regexp.MustCompile(`<p class="field-error" id="` + regexp.QuoteMeta(field) + `-error">([^<]*)</p>`).FindStringSubmatch(p.Body)
	if m == nil {
		return ""
	}
	return m[1]
}

// codeFor waits for the newest message to `to` after since and returns its code.
func (p *idp) codeFor(t *testing.T, to string, since time.Time) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		msgs := p.srv.Outbox.Messages()
		for i := len(msgs) - 1; i >= 0; i-- {
			if m := msgs[i]; m.To == to && !m.SentAt.Before(since) && m.Code != "" {
				return m.Code
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no code sent to %s", to)
	return ""
}

// messagesTo counts the outbox's messages to `to`.
func (p *idp) messagesTo(to string) (n int, last notify.Message) {
	msgs := p.Messages(to)
	if len(msgs) > 0 {
		last = msgs[len(msgs)-1]
	}
	return len(msgs), last
}

// authorizeURL is an authorization request of the public client with PKCE.
func (p *idp) authorizeURL() string {
	sum := sha256.Sum256([]byte("verifier-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ"))
	q := url.Values{
		"client_id": {clientID}, "redirect_uri": {rpRedirect}, "response_type": {"code"},
		"scope": {"openid fullname mobile"}, "state": {"state-123456"}, "nonce": {"nonce-123456"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	return p.issuer + "/authorize?" + q.Encode()
}

// person is what a citizen types on /register.
func person(contactField, contact string) url.Values {
	return url.Values{
		"last_name": {"Иванова"}, "first_name": {"Мария"}, "middle_name": {"Петровна"},
		contactField: {contact}, "accept_terms": {"on"},
	}
}

// startRegistration fills /register (page reg) and returns the code page.
func startRegistration(t *testing.T, a *testserver.Agent, reg *testserver.Page, vals url.Values) *testserver.Page {
	t.Helper()
	wantStatus(t, reg, http.StatusOK)
	next := submit(t, a, reg, "/register", vals)
	wantStatus(t, next, http.StatusSeeOther)
	if loc := next.Location(); loc == nil || loc.Path != "/register/code" {
		t.Fatalf("after /register: %v, want /register/code", next.Header.Get("Location"))
	}
	return follow(t, a, next)
}

// confirmCode posts the code on the code page.
func confirmCode(t *testing.T, a *testserver.Agent, codePage *testserver.Page, code string) *testserver.Page {
	t.Helper()
	return submit(t, a, codePage, codeFormAction(t, codePage), url.Values{"code": {code}})
}

// codeFormAction is the action of the code page's first form.
func codeFormAction(t *testing.T, p *testserver.Page) string {
	t.Helper()
	forms := p.Forms()
	if len(forms) == 0 {
		t.Fatalf("no form on %s:\n%s", p.URL, p.Body)
	}
	return forms[0].Action
}
