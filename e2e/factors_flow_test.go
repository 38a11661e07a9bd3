package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/factors/totp"
	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/internal/testserver"
	"github.com/esia-oidc/idp/store"
)

// The second factors through the pages, on PostgreSQL and Redis: a citizen
// enrols an authenticator app on the security page (the code computed from
// the secret the page shows), a require_mfa client steps a password-only
// session up by asking only the app's code, a replayed code is refused, a
// backup code works once, and an SMS code read from the outbox is a factor.

var (
	totpSecretRe = regexp.MustCompile(`id="totp-secret"[^>]*data-otpauth="([^"]+)"[^>]*>([A-Z2-7]+)<`)
	backupCodeRe = regexp.MustCompile(`class="backup-code[^"]*">([0-9a-z-]+)<`)
)

type factorFlow struct {
	t     *testing.T
	d     *factorDeployment
	srv   *testserver.Server
	plain string // a client without require_mfa
}

func (ff *factorFlow) get(a *testserver.Agent, u string) *testserver.Page {
	ff.t.Helper()
	p, err := a.Get(ctxT(ff.t), u)
	if err != nil {
		ff.t.Fatal(err)
	}
	return ff.follow(a, p)
}

// follow follows the provider's own redirects.
func (ff *factorFlow) follow(a *testserver.Agent, p *testserver.Page) *testserver.Page {
	ff.t.Helper()
	for range 10 {
		loc := p.Location()
		if loc == nil || !strings.HasPrefix(loc.String(), ff.srv.URL+"/") {
			return p
		}
		var err error
		if p, err = a.Get(ctxT(ff.t), loc.String()); err != nil {
			ff.t.Fatal(err)
		}
	}
	ff.t.Fatal("too many redirects")
	return nil
}

// submit posts the page's form whose action is action (the first form when
// empty) with vals.
func (ff *factorFlow) submit(a *testserver.Agent, p *testserver.Page, action string, vals url.Values) *testserver.Page {
	ff.t.Helper()
	for _, f := range p.Forms() {
		if action == "" || f.Action == action {
			next, err := a.Submit(ctxT(ff.t), p, f, vals)
			if err != nil {
				ff.t.Fatal(err)
			}
			return ff.follow(a, next)
		}
	}
	ff.t.Fatalf("no form to %q on %s (%d): %.600s", action, p.URL.Path, p.Status, p.Body)
	return nil
}

func (ff *factorFlow) conf(client string) *oauth2.Config {
	return &oauth2.Config{ClientID: client, RedirectURL: replicaRedirect, Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: ff.srv.URL + "/authorize", TokenURL: ff.srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
}

// authorize starts an authorization of the client and follows it to the
// first page the provider shows, or the redirect to the client.
func (ff *factorFlow) authorize(a *testserver.Agent, client string) (*testserver.Page, browserAuth) {
	ff.t.Helper()
	auth := newBrowserAuth(ff.t, ff.conf(client))
	return ff.get(a, auth.url), auth
}

// idTokenClaims exchanges the code of the redirect and returns the ID
// token's claims (its signature is the protocol tests' business).
func (ff *factorFlow) idTokenClaims(p *testserver.Page, client string, auth browserAuth) map[string]any {
	ff.t.Helper()
	loc := p.Location()
	if loc == nil || !strings.HasPrefix(loc.String(), replicaRedirect) || loc.Query().Get("code") == "" {
		ff.t.Fatalf("no code for the client: %d %s %v", p.Status, p.URL.Path, loc)
	}
	tok, err := ff.conf(client).Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(auth.verifier))
	if err != nil {
		ff.t.Fatalf("exchange: %v", err)
	}
	parts := strings.Split(tok.Extra("id_token").(string), ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		ff.t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		ff.t.Fatal(err)
	}
	return c
}

func claimAMR(c map[string]any) []string {
	var out []string
	for _, m := range c["amr"].([]any) {
		out = append(out, m.(string))
	}
	return out
}

func wantFactorPage(t *testing.T, p *testserver.Page, factor string) {
	t.Helper()
	if p.URL.Path != "/login/factor" || p.Status != http.StatusOK || !strings.Contains(p.Body, `data-factor="`+factor+`"`) {
		t.Fatalf("at %s (%d), want the %s factor page", p.URL.Path, p.Status, factor)
	}
}

func TestSecondFactorsThroughThePages(t *testing.T) {
	t.Parallel()
	d := newFactorDeployment(t)
	ff := &factorFlow{t: t, d: d, srv: d.a}
	plain, err := d.a.Admin().CreateClient(ctxT(t), adminclient.ClientMetadata{
		ClientName: "Password is enough", RedirectURIs: []string{replicaRedirect},
		Scope: "openid", TokenEndpointAuthMethod: "none", SubjectType: "public",
	})
	if err != nil {
		t.Fatal(err)
	}
	ff.plain = plain.ClientID
	phone, password := d.citizen(t, func(string) *store.SecondFactors { return nil })
	creds := url.Values{"identifier": {phone}, "password": {password}}

	// Enrol the app on the security page.
	owner := testserver.NewAgent(d.a.URL, nil)
	login := ff.get(owner, d.a.URL+"/account/security/totp")
	enrol := ff.submit(owner, login, "", creds)
	m := totpSecretRe.FindStringSubmatch(enrol.Body)
	if enrol.URL.Path != "/account/security/totp" || m == nil {
		t.Fatalf("enrolment page at %s (%d) without the secret: %.800s", enrol.URL.Path, enrol.Status, enrol.Body)
	}
	otpauth, secret := html.UnescapeString(m[1]), m[2]
	if u, err := url.Parse(otpauth); err != nil || u.Scheme != "otpauth" || u.Query().Get("secret") != secret {
		t.Fatalf("data-otpauth %q does not carry the secret", otpauth)
	}
	code, err := totp.Code(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if sec := ff.submit(owner, enrol, "", url.Values{"code": {code}}); sec.URL.Path != "/account/security" || !strings.Contains(sec.Body, `data-factor="totp"`) {
		t.Fatalf("after enrolment at %s (%d), the app is not listed", sec.URL.Path, sec.Status)
	}
	// The owner's session proved the app: backup codes, shown once.
	codesPage := ff.submit(owner, ff.get(owner, d.a.URL+"/account/security"), "/account/security", url.Values{"action": {"backup_generate"}})
	var backupCodes []string
	for _, m := range backupCodeRe.FindAllStringSubmatch(codesPage.Body, -1) {
		backupCodes = append(backupCodes, m[1])
	}
	if len(backupCodes) != 10 {
		t.Fatalf("%d backup codes shown, want 10: %.600s", len(backupCodes), codesPage.Body)
	}

	// Another browser signs in to the plain client with the password
	// alone, then the require_mfa client asks only for the app's code.
	b := testserver.NewAgent(d.a.URL, nil)
	page, auth := ff.authorize(b, ff.plain)
	c := ff.idTokenClaims(ff.submit(b, page, "", creds), ff.plain, auth)
	if got := claimAMR(c); !slices.Equal(got, []string{"pwd"}) {
		t.Fatalf("plain client: amr %v", got)
	}
	page, auth = ff.authorize(b, d.client)
	wantFactorPage(t, page, "totp")
	if page.Has("password") {
		t.Fatal("the step-up asks for the password again")
	}
	// The enrolment's code is spent: the next step's code serves (±1 step).
	next, err := totp.Code(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	c = ff.idTokenClaims(ff.submit(b, page, "", url.Values{"code": {next}}), d.client, auth)
	if got := claimAMR(c); !slices.Contains(got, "pwd") || !slices.Contains(got, "otp") || c["acr"] != "simplified-mfa" {
		t.Fatalf("stepped-up login: amr %v acr %v", got, c["acr"])
	}

	// A third browser: the same code again is refused.
	third := testserver.NewAgent(d.a.URL, nil)
	page, _ = ff.authorize(third, d.client)
	page = ff.submit(third, page, "", creds)
	wantFactorPage(t, page, "totp")
	if replay := ff.submit(third, page, "", url.Values{"code": {next}}); replay.Status != http.StatusUnauthorized {
		t.Fatalf("replayed code: %d at %s", replay.Status, replay.URL.Path)
	}

	// A backup code works once.
	useBackup := func() *testserver.Page {
		a := testserver.NewAgent(d.a.URL, nil)
		page, auth := ff.authorize(a, d.client)
		page = ff.submit(a, page, "", creds)
		wantFactorPage(t, page, "totp")
		page = ff.get(a, d.a.URL+"/login/factor?flow="+url.QueryEscape(page.URL.Query().Get("flow"))+"&factor=backup")
		wantFactorPage(t, page, "backup")
		res := ff.submit(a, page, "", url.Values{"code": {backupCodes[0]}})
		if res.Location() != nil {
			ff.idTokenClaims(res, d.client, auth)
		}
		return res
	}
	if first := useBackup(); first.Location() == nil {
		t.Fatalf("first use of a backup code: %d at %s", first.Status, first.URL.Path)
	}
	if second := useBackup(); second.Status != http.StatusUnauthorized {
		t.Fatalf("second use of a backup code: %d at %s", second.Status, second.URL.Path)
	}

	// Codes by SMS: turned on by the owner, read from the outbox.
	if on := ff.submit(owner, ff.get(owner, d.a.URL+"/account/security"), "/account/security", url.Values{"action": {"codes_sms"}}); !strings.Contains(on.Body, `data-factor="sms"`) {
		t.Fatalf("codes by SMS not listed after turning them on: %d %s", on.Status, on.URL.Path)
	}
	before := len(outbox(t, d.a, phone)) + len(outbox(t, d.b, phone))
	sms := testserver.NewAgent(d.a.URL, nil)
	page, auth = ff.authorize(sms, d.client)
	page = ff.submit(sms, page, "", creds)
	page = ff.get(sms, d.a.URL+"/login/factor?flow="+url.QueryEscape(page.URL.Query().Get("flow"))+"&factor=sms")
	wantFactorPage(t, page, "sms")
	var smsCodeSent string
	deadline := time.Now().Add(30 * time.Second)
	for smsCodeSent == "" && time.Now().Before(deadline) {
		all := append(outbox(t, d.a, phone), outbox(t, d.b, phone)...)
		if len(all) > before {
			for _, msg := range all {
				if strings.Contains(msg.Body, msg.Code) && msg.Code != "" && strings.Contains(msg.Body, "вход") {
					smsCodeSent = msg.Code
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if smsCodeSent == "" {
		t.Fatal("no login code in the outbox")
	}
	c = ff.idTokenClaims(ff.submit(sms, page, "", url.Values{"code": {smsCodeSent}}), d.client, auth)
	if got := claimAMR(c); !slices.Contains(got, "sms") || !slices.Contains(got, "pwd") {
		t.Fatalf("SMS login: amr %v", got)
	}
}
