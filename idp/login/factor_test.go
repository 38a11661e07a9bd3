package login_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/factors/backup"
	"github.com/esia-oidc/idp/factors/totp"
	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/internal/idptest"
	"github.com/esia-oidc/idp/internal/testserver"
	"github.com/esia-oidc/idp/store"
)

// The second-factor step, in process: the provider of idptest (memory
// stores), a public client, and citizens whose factors the tests set in the
// store directly (the security page's enrolment has tests of its own).

const (
	mfaPassword = "Correct-Horse-42-battery"
	mfaRedirect = "http://127.0.0.1:9/cb"
)

type mfaEnv struct {
	t   *testing.T
	p   *idptest.IDP
	ctx context.Context
}

func newMFAEnv(t *testing.T, configure ...func(*config.Config)) *mfaEnv {
	t.Helper()
	e := &mfaEnv{t: t, p: idptest.New(t, configure...), ctx: context.Background()}
	for _, c := range []struct {
		id  string
		mfa bool
	}{{"plain-rp", false}, {"mfa-rp", true}} {
		now := time.Now().UTC()
		if err := e.p.Srv.Durable.CreateClient(e.ctx, &store.Client{
			ID: c.id, Name: c.id, RedirectURIs: []string{mfaRedirect},
			GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
			Scopes: []string{"openid"}, TokenEndpointAuthMethod: "none", RequireMFA: c.mfa,
			CreatedAt: now, UpdatedAt: now,
		}); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// citizen creates an account with the phone and the factors.
func (e *mfaEnv) citizen(id, phone string, f *store.SecondFactors) {
	e.t.Helper()
	hash, err := e.p.Srv.Passwords.Hash(e.ctx, mfaPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := e.p.Srv.Durable.CreateAccount(e.ctx, &store.Account{
		ID: id, Level: store.LevelSimplified, LastName: "Петрова", FirstName: "Анна",
		Phone: phone, PhoneVerified: true, PasswordHash: hash, Factors: f, CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		e.t.Fatal(err)
	}
}

// enrolTOTP makes an app secret for the account as the enrolment page
// does and returns the factor to store and the secret the app holds.
func (e *mfaEnv) enrolTOTP(accountID string) (*store.TOTPFactor, string) {
	e.t.Helper()
	en, err := totp.New(e.p.Srv.Ephemeral, e.p.Srv.Sealer, "test", nil).Generate(accountID, "citizen")
	if err != nil {
		e.t.Fatal(err)
	}
	return &store.TOTPFactor{Sealed: en.Sealed, EnrolledAt: time.Now().UTC()}, en.Secret
}

func (e *mfaEnv) conf(client string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: client, RedirectURL: mfaRedirect, Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: e.p.Issuer + "/authorize", TokenURL: e.p.Issuer + "/token", AuthStyle: oauth2.AuthStyleInParams},
	}
}

// authorize starts an authorization and follows the provider's redirects
// to the first page it shows (or the redirect to the client).
func (e *mfaEnv) authorize(a *testserver.Agent, client, verifier string, opts ...oauth2.AuthCodeOption) *testserver.Page {
	e.t.Helper()
	opts = append(opts, oauth2.S256ChallengeOption(verifier))
	return e.follow(a, e.get(a, e.conf(client).AuthCodeURL("state-0123456789", opts...)))
}

func (e *mfaEnv) get(a *testserver.Agent, u string) *testserver.Page {
	e.t.Helper()
	p, err := a.Get(e.ctx, u)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// follow follows the provider's own redirects.
func (e *mfaEnv) follow(a *testserver.Agent, p *testserver.Page) *testserver.Page {
	e.t.Helper()
	for range 10 {
		loc := p.Location()
		if loc == nil || !strings.HasPrefix(loc.String(), e.p.Issuer+"/") {
			return p
		}
		p = e.get(a, loc.String())
	}
	e.t.Fatal("too many redirects")
	return nil
}

func (e *mfaEnv) submit(a *testserver.Agent, p *testserver.Page, vals url.Values) *testserver.Page {
	e.t.Helper()
	forms := p.Forms()
	if len(forms) == 0 {
		e.t.Fatalf("no form on %s (%d): %.400s", p.URL.Path, p.Status, p.Body)
	}
	next, err := a.Submit(e.ctx, p, forms[0], vals)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.follow(a, next)
}

func (e *mfaEnv) password(a *testserver.Agent, p *testserver.Page, phone string) *testserver.Page {
	e.t.Helper()
	if p.URL.Path != "/login" {
		e.t.Fatalf("on %s (%d), want the login page", p.URL.Path, p.Status)
	}
	return e.submit(a, p, url.Values{"identifier": {phone}, "password": {mfaPassword}})
}

// claims exchanges the code the page redirected with and returns the ID
// token's claims.
func (e *mfaEnv) claims(p *testserver.Page, client, verifier string) map[string]any {
	e.t.Helper()
	loc := p.Location()
	if loc == nil || !strings.HasPrefix(loc.String(), mfaRedirect) || loc.Query().Get("code") == "" {
		e.t.Fatalf("no code for the client: %d %s %v %.400s", p.Status, p.URL.Path, loc, p.Body)
	}
	tok, err := e.conf(client).Exchange(e.ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		e.t.Fatalf("id_token %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		e.t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func amr(c map[string]any) []string {
	var out []string
	list, _ := c["amr"].([]any)
	for _, m := range list {
		s, _ := m.(string)
		out = append(out, s)
	}
	return out
}

func onFactorPage(t *testing.T, p *testserver.Page, factor string) {
	t.Helper()
	if p.URL.Path != "/login/factor" || p.Status != http.StatusOK || !strings.Contains(p.Body, `data-factor="`+factor+`"`) || !p.Has("code") {
		t.Fatalf("on %s (%d), want the %s factor page: %.600s", p.URL.Path, p.Status, factor, p.Body)
	}
}

func totpCode(t *testing.T, secret string) string {
	t.Helper()
	c, err := totp.Code(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A require_mfa client steps a password-only session up by asking only the
// app's code (no password again); the ID token says pwd and otp. The code,
// once used, is refused in another login within its window.
func TestStepUpAsksOnlyTheMissingFactor(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	const phone = "+79161234501"
	app, secret := e.enrolTOTP("acc-totp")
	e.citizen("acc-totp", phone, &store.SecondFactors{TOTP: app})
	a := e.p.Agent()

	// A password alone serves the plain client.
	v := oauth2.GenerateVerifier()
	c := e.claims(e.password(a, e.authorize(a, "plain-rp", v), phone), "plain-rp", v)
	if got := amr(c); !slices.Equal(got, []string{"pwd"}) || c["acr"] != "simplified" {
		t.Fatalf("plain client: amr %v acr %v, want [pwd] simplified", got, c["acr"])
	}

	// The MFA client: straight to the factor page, not the password.
	v = oauth2.GenerateVerifier()
	page := e.authorize(a, "mfa-rp", v)
	onFactorPage(t, page, "totp")
	if page.Has("password") {
		t.Fatal("the step-up asks the password again")
	}
	wrong := e.submit(a, page, url.Values{"code": {"000000"}})
	if wrong.Status != http.StatusUnauthorized || !strings.Contains(wrong.Body, "code-error") {
		// 000000 may by chance be the code of the moment: a 1-in-a-million flake
		// the test does not hide.
		t.Fatalf("wrong code: %d %.400s", wrong.Status, wrong.Body)
	}
	code := totpCode(t, secret)
	c = e.claims(e.submit(a, wrong, url.Values{"code": {code}}), "mfa-rp", v)
	got := amr(c)
	if !slices.Contains(got, "pwd") || !slices.Contains(got, "otp") || !slices.Contains(got, "mfa") || c["acr"] != "simplified-mfa" {
		t.Fatalf("stepped-up login: amr %v acr %v, want pwd, otp, mfa and simplified-mfa", got, c["acr"])
	}
	if sid, _ := c["sid"].(string); sid == "" {
		t.Fatal("no sid")
	}

	// The session now has the factor: the MFA client needs no page.
	v = oauth2.GenerateVerifier()
	c = e.claims(e.authorize(a, "mfa-rp", v), "mfa-rp", v)
	if got := amr(c); !slices.Contains(got, "otp") {
		t.Fatalf("second MFA authorization: amr %v", got)
	}

	// Another browser: password, then the same code is refused (replay).
	b := e.p.Agent()
	v = oauth2.GenerateVerifier()
	page = e.password(b, e.authorize(b, "mfa-rp", v), phone)
	onFactorPage(t, page, "totp")
	replay := e.submit(b, page, url.Values{"code": {code}})
	if replay.Status != http.StatusUnauthorized {
		t.Fatalf("replayed code: %d %s", replay.Status, replay.URL.Path)
	}
}

// acr_values asking only -mfa values needs a second factor; the SMS factor
// sends its code once per flow (read from the outbox) and amr says sms.
func TestSMSFactorByACRValues(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	const phone = "+79161234502"
	e.citizen("acc-sms", phone, &store.SecondFactors{Codes: store.CodeChannelSMS})
	a := e.p.Agent()
	v := oauth2.GenerateVerifier()
	page := e.password(a, e.authorize(a, "plain-rp", v, oauth2.SetAuthURLParam("acr_values", "simplified-mfa")), phone)
	onFactorPage(t, page, "sms")
	if !strings.Contains(page.Body, "***-**-02") {
		t.Fatalf("the page does not name the masked phone: %.600s", page.Body)
	}
	msgs := e.p.WaitMessages(t, phone, 1)
	// Showing the page again sends nothing more.
	again := e.get(a, page.URL.String())
	onFactorPage(t, again, "sms")
	time.Sleep(50 * time.Millisecond)
	if n := len(e.p.Messages(phone)); n != 1 {
		t.Fatalf("%d messages after reloading the page, want 1", n)
	}
	c := e.claims(e.submit(a, again, url.Values{"code": {msgs[0].Code}}), "plain-rp", v)
	if got := amr(c); !slices.Equal(got, []string{"pwd", "sms", "mfa"}) || c["acr"] != "simplified-mfa" {
		t.Fatalf("amr %v acr %v, want [pwd sms mfa] simplified-mfa", got, c["acr"])
	}

	// acr_values that accept a plain level accept a password alone.
	b := e.p.Agent()
	v = oauth2.GenerateVerifier()
	c = e.claims(e.password(b, e.authorize(b, "plain-rp", v, oauth2.SetAuthURLParam("acr_values", "simplified-mfa simplified")), phone), "plain-rp", v)
	if got := amr(c); !slices.Equal(got, []string{"pwd"}) {
		t.Fatalf("acr_values with a plain level: amr %v", got)
	}
}

// A backup code works once; the app, when also enrolled, is offered first
// and the page links to the backup code.
func TestBackupCodeWorksOnce(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	const phone = "+79161234503"
	key, err := e.p.Srv.Sealer.DeriveKey("backup-codes", 32)
	if err != nil {
		t.Fatal(err)
	}
	set, err := backup.Generate(10)
	if err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for _, c := range set {
		hashes = append(hashes, backup.Hash(key, "acc-backup", c))
	}
	app, _ := e.enrolTOTP("acc-backup")
	e.citizen("acc-backup", phone, &store.SecondFactors{TOTP: app, Backup: &store.BackupCodes{Hashes: hashes, CreatedAt: time.Now()}})

	login := func() *testserver.Page {
		a := e.p.Agent()
		v := oauth2.GenerateVerifier()
		page := e.password(a, e.authorize(a, "mfa-rp", v), phone)
		onFactorPage(t, page, "totp")
		if !strings.Contains(page.Body, "factor=backup") {
			t.Fatalf("no link to the backup code: %.600s", page.Body)
		}
		page = e.get(a, e.p.Issuer+"/login/factor?flow="+url.QueryEscape(page.URL.Query().Get("flow"))+"&factor=backup")
		onFactorPage(t, page, "backup")
		res := e.submit(a, page, url.Values{"code": {strings.ToUpper(set[3])}})
		if loc := res.Location(); loc != nil && strings.HasPrefix(loc.String(), mfaRedirect) {
			if got := amr(e.claims(res, "mfa-rp", v)); !slices.Contains(got, "otp") {
				t.Fatalf("backup login amr %v", got)
			}
		}
		return res
	}
	if first := login(); first.Location() == nil {
		t.Fatalf("first use of a backup code: %d %s", first.Status, first.URL.Path)
	}
	if second := login(); second.Status != http.StatusUnauthorized {
		t.Fatalf("second use of the same backup code: %d %s", second.Status, second.URL.Path)
	}
	acct, err := e.p.Srv.Durable.GetAccount(e.ctx, "acc-backup")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(acct.Factors.Backup.Hashes); n != 9 {
		t.Fatalf("%d unused backup codes left, want 9", n)
	}
	// The use is told to the confirmed phone (the refused reuse is not),
	// without the code, and is in the history.
	msgs := e.p.WaitMessages(t, phone, 1)
	if !strings.Contains(msgs[0].Body, "резервный код") || !strings.Contains(msgs[0].Body, "осталось кодов: 9") ||
		msgs[0].Code != "" || strings.Contains(strings.ToLower(msgs[0].Body), set[3]) {
		t.Errorf("the notice of the used backup code: %+v", msgs[0])
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(e.p.Messages(phone)); n != 1 {
		t.Errorf("%d messages to the phone, want the one notice", n)
	}
	events, err := e.p.Srv.Durable.ListAudit(e.ctx, store.AuditQuery{AccountID: "acc-backup"})
	if err != nil {
		t.Fatal(err)
	}
	used := 0
	for _, ev := range events {
		if ev.Action == "factor.backup_used" && ev.Details["left"] == "9" {
			used++
		}
	}
	if used != 1 {
		t.Errorf("%d factor.backup_used events with 9 left among %d, want 1", used, len(events))
	}
}

// Wrong codes lock the factor step (not the password), with a time to
// retry; prompt=none cannot step up; an account without a factor is
// offered enrolment.
func TestFactorLockoutPromptNoneAndEnrolOffer(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t, func(c *config.Config) { c.LoginLockoutAttempts = 3 })
	const phone = "+79161234504"
	app, secret := e.enrolTOTP("acc-lock")
	e.citizen("acc-lock", phone, &store.SecondFactors{TOTP: app})
	a := e.p.Agent()
	v := oauth2.GenerateVerifier()
	page := e.password(a, e.authorize(a, "mfa-rp", v), phone)
	onFactorPage(t, page, "totp")
	right := totpCode(t, secret)
	wrongCode := "111111"
	if wrongCode == right {
		wrongCode = "222222"
	}
	for i := range 3 {
		page = e.submit(a, page, url.Values{"code": {wrongCode}})
		want := http.StatusUnauthorized
		if i == 2 {
			want = http.StatusTooManyRequests
		}
		if page.Status != want {
			t.Fatalf("wrong code %d: %d, want %d", i+1, page.Status, want)
		}
	}
	if page.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After on the lock")
	}
	// Locked: even the right code is refused.
	if locked := e.submit(a, page, url.Values{"code": {right}}); locked.Status != http.StatusTooManyRequests {
		t.Fatalf("right code while locked: %d", locked.Status)
	}

	// prompt=none on a password-only session of a citizen who has a factor.
	b := e.p.Agent()
	v = oauth2.GenerateVerifier()
	e.password(b, e.authorize(b, "plain-rp", v), phone)
	cb := e.authorize(b, "mfa-rp", v, oauth2.SetAuthURLParam("prompt", "none")).Location()
	if cb == nil || cb.Query().Get("error") != "login_required" {
		t.Fatalf("prompt=none step-up: %v, want login_required", cb)
	}

	// No factor: the page offers to set one up and continue.
	const bare = "+79161234505"
	e.citizen("acc-bare", bare, nil)
	c := e.p.Agent()
	page = e.password(c, e.authorize(c, "mfa-rp", v), bare)
	if page.URL.Path != "/login/factor" || !strings.Contains(page.Body, "/account/security/totp?flow=") {
		t.Fatalf("no enrolment offer: %s %d %.400s", page.URL.Path, page.Status, page.Body)
	}
}

// An account that asks for its factor at every login gets it asked by a
// plain client and by its own pages; a password-only session does not open
// the account pages.
func TestAccountPolicyRequiresFactor(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	const phone = "+79161234506"
	app, secret := e.enrolTOTP("acc-policy")
	e.citizen("acc-policy", phone, &store.SecondFactors{TOTP: app, Required: true})
	a := e.p.Agent()
	page := e.follow(a, e.get(a, e.p.Issuer+"/account"))
	page = e.password(a, page, phone)
	onFactorPage(t, page, "totp")
	// Left at the factor step, the session does not open the pages.
	if again := e.follow(a, e.get(a, e.p.Issuer+"/account/security")); again.URL.Path == "/account/security" && again.Status == http.StatusOK {
		t.Fatal("a password-only session opened the security page of an account that requires its factor")
	}
	page = e.get(a, e.p.Issuer+"/login/factor?flow="+url.QueryEscape(page.URL.Query().Get("flow")))
	done := e.submit(a, page, url.Values{"code": {totpCode(t, secret)}})
	if done.URL.Path != "/account" || done.Status != http.StatusOK {
		t.Fatalf("after the factor: %s %d", done.URL.Path, done.Status)
	}
	v := oauth2.GenerateVerifier()
	b := e.p.Agent()
	page = e.password(b, e.authorize(b, "plain-rp", v), phone)
	onFactorPage(t, page, "totp")
}

// A citizen signed in with a password alone confirms a second factor from
// the security page (only the factor is asked) and may then change them.
func TestSecurityPageStepUp(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	const phone = "+79161234507"
	app, secret := e.enrolTOTP("acc-stepup")
	e.citizen("acc-stepup", phone, &store.SecondFactors{TOTP: app})
	a := e.p.Agent()
	page := e.password(a, e.follow(a, e.get(a, e.p.Issuer+"/account")), phone)
	if page.URL.Path != "/account" {
		t.Fatalf("password login to the account pages: %s", page.URL.Path)
	}
	sec := e.get(a, e.p.Issuer+"/account/security")
	if !strings.Contains(sec.Body, `id="security-step-up"`) {
		t.Fatalf("a password-only session is not offered to confirm a factor:\n%.600s", sec.Body)
	}
	page = e.follow(a, e.get(a, e.p.Issuer+"/account/security/confirm"))
	onFactorPage(t, page, "totp")
	done := e.submit(a, page, url.Values{"code": {totpCode(t, secret)}})
	if done.URL.Path != "/account/security" || done.Status != http.StatusOK || strings.Contains(done.Body, `id="security-step-up"`) {
		t.Fatalf("after the factor: %s %d", done.URL.Path, done.Status)
	}
}

// A password login from a device the account has not used is told to its
// confirmed contacts, once: the same device again is known.
func TestNewDeviceNotice(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t)
	const phone = "+79161234508"
	hash, err := e.p.Srv.Passwords.Hash(e.ctx, mfaPassword)
	if err != nil {
		t.Fatal(err)
	}
	made := time.Now().UTC().Add(-24 * time.Hour)
	if err := e.p.Srv.Durable.CreateAccount(e.ctx, &store.Account{
		ID: "acc-device", Level: store.LevelSimplified, LastName: "Петрова", FirstName: "Анна",
		Phone: phone, PhoneVerified: true, PasswordHash: hash, CreatedAt: made, UpdatedAt: made,
	}); err != nil {
		t.Fatal(err)
	}
	login := func() {
		a := e.p.Agent()
		v := oauth2.GenerateVerifier()
		e.claims(e.password(a, e.authorize(a, "plain-rp", v), phone), "plain-rp", v)
	}
	login()
	msgs := e.p.WaitMessages(t, phone, 1)
	if !strings.Contains(msgs[0].Body, "нового устройства") || msgs[0].Code != "" {
		t.Fatalf("new-device notice: %+v", msgs[0])
	}
	login()
	time.Sleep(100 * time.Millisecond)
	if n := len(e.p.Messages(phone)); n != 1 {
		t.Fatalf("%d messages after a second login from the same device, want 1", n)
	}
}
