package selfservice_test

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/factors/backup"
	"github.com/esia-oidc/idp/factors/totp"
	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/internal/testserver"
	"github.com/esia-oidc/idp/store"
)

var (
	secretRe = regexp.MustCompile(`<code class="secret" id="totp-secret" data-otpauth="([^"]*)">([A-Z2-7]+)</code>`)
	qrRe     = regexp.MustCompile(`<img src="data:image/png;base64,[A-Za-z0-9/=]*(&#43;[A-Za-z0-9/=]*)*" alt="[^"]+"`)
	backupRe = regexp.MustCompile(`<code class="backup-code[^"]*">([^<]+)</code>`)
)

// totpPage opens the app enrolment (query: "" or "?flow=...") and returns
// the page and the secret it shows, checking the automation contract.
func totpPage(t *testing.T, a *testserver.Agent, query string) (*testserver.Page, string) {
	t.Helper()
	page := get(t, a, "/account/security/totp"+query)
	wantStatus(t, page, http.StatusOK)
	m := secretRe.FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no totp-secret element:\n%s", page.Body)
	}
	uri, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil || uri.Scheme != "otpauth" || uri.Host != "totp" || uri.Query().Get("secret") != m[2] {
		t.Fatalf("data-otpauth %q does not carry the secret %q", m[1], m[2])
	}
	if !qrRe.MatchString(page.Body) {
		t.Errorf("no QR code image with a text alternative")
	}
	return page, m[2]
}

// appCode is the secret's code now, as the app shows it.
func appCode(t *testing.T, secret string) string {
	t.Helper()
	c, err := totp.Code(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongCode is a code of the secret's no step that could be accepted now.
func wrongCode(t *testing.T, secret string) string {
	t.Helper()
	var near []string
	for d := -2; d <= 2; d++ {
		c, err := totp.Code(secret, time.Now().Add(time.Duration(d)*totp.Period))
		if err != nil {
			t.Fatal(err)
		}
		near = append(near, c)
	}
	for i := 0; ; i++ {
		c := strings.Repeat(string(rune('0'+i%10)), 6)
		if !slices.Contains(near, c) {
			return c
		}
	}
}

// enrolApp enrols an app on the agent's account and returns its secret.
func enrolApp(t *testing.T, p *idp, a *testserver.Agent) string {
	t.Helper()
	page, secret := totpPage(t, a, "")
	done := submit(t, a, page, "/account/security/totp", url.Values{"code": {appCode(t, secret)}})
	if loc := done.Location(); done.Status != http.StatusSeeOther || loc == nil || loc.Path != "/account/security" {
		t.Fatalf("enrol: %d %v\n%s", done.Status, done.Header.Get("Location"), done.Body)
	}
	return secret
}

func (p *idp) account(t *testing.T, id string) *store.Account {
	t.Helper()
	a, err := p.srv.Durable.GetAccount(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// securityAction posts an action of the security page (with more fields).
func securityAction(t *testing.T, a *testserver.Agent, action string, more url.Values) *testserver.Page {
	t.Helper()
	page := get(t, a, "/account/security")
	wantStatus(t, page, http.StatusOK)
	vals := url.Values{"action": {action}}
	for k, v := range more {
		vals[k] = v
	}
	return submit(t, a, page, "/account/security", vals)
}

// Enrolling an app: the page shows the QR code and the secret; a wrong
// code is refused next to the field and counted; the right one makes the
// app the account's, which the contacts hear of and the history shows; the
// code used cannot be used again.
func TestEnrolTOTP(t *testing.T) {
	p := newIDP(t)
	a := p.loggedIn(t)
	sec := get(t, a, "/account/security")
	if !strings.Contains(sec.Body, `href="/account/security/totp"`) || !strings.Contains(sec.Body, "Второй фактор не подключён") {
		t.Fatalf("the security page offers no app:\n%s", sec.Body)
	}
	page, secret := totpPage(t, a, "")

	// Another browser of the account cannot answer this enrolment.
	other := p.loggedIn(t)
	enrol := page.Forms()[0].Fields.Get("enrol")
	wantStatus(t, get(t, other, "/account/security/totp?enrol="+url.QueryEscape(enrol)), http.StatusNotFound)
	// A reload shows the same secret.
	if again := get(t, a, "/account/security/totp?enrol="+url.QueryEscape(enrol)); !strings.Contains(again.Body, `>`+secret+`</code>`) {
		t.Errorf("the enrolment reloaded shows another secret")
	}

	wrong := submit(t, a, page, "/account/security/totp", url.Values{"code": {wrongCode(t, secret)}})
	wantStatus(t, wrong, http.StatusUnprocessableEntity)
	if fieldError(wrong, "code") == "" || !strings.Contains(wrong.Body, secret) {
		t.Errorf("wrong code: no message next to the field, or the secret is gone:\n%s", wrong.Body)
	}
	malformed := submit(t, a, page, "/account/security/totp", url.Values{"code": {"12ab"}})
	wantStatus(t, malformed, http.StatusBadRequest)
	if p.account(t, p.taken.ID).Factors != nil {
		t.Fatal("a factor stored before the right code")
	}

	code := appCode(t, secret)
	done := submit(t, a, page, "/account/security/totp", url.Values{"code": {code}})
	if loc := done.Location(); done.Status != http.StatusSeeOther || loc == nil || loc.Path != "/account/security" {
		t.Fatalf("right code: %d %v\n%s", done.Status, done.Header.Get("Location"), done.Body)
	}
	acct := p.account(t, p.taken.ID)
	if acct.Factors == nil || acct.Factors.TOTP == nil || len(acct.Factors.TOTP.Sealed) == 0 || acct.Factors.TOTP.EnrolledAt.IsZero() {
		t.Fatalf("factors after enrolment: %+v", acct.Factors)
	}
	if strings.Contains(string(acct.Factors.TOTP.Sealed), secret) {
		t.Error("the secret is stored in the clear")
	}
	shown := follow(t, a, done)
	for _, want := range []string{"Приложение подключено", `data-factor="totp"`, "Подключено приложение-аутентификатор"} {
		if !strings.Contains(shown.Body, want) {
			t.Errorf("the security page lacks %q", want)
		}
	}
	if m := p.WaitMessages(t, takenEmail, 1); !strings.Contains(m[0].Subject, "второй фактор") {
		t.Errorf("the e-mail was told %+v", m[0])
	}
	p.WaitMessages(t, takenPhone, 1)

	// The code used at enrolment is spent, on every replica.
	tp := totp.New(p.srv.Ephemeral, p.srv.Sealer, p.issuer, nil)
	if err := tp.Verify(context.Background(), p.taken.ID, acct.Factors.TOTP.Sealed, code); !errors.Is(err, totp.ErrReplayed) {
		t.Errorf("the enrolment's code again: %v, want ErrReplayed", err)
	}
	// The enrolment is gone once used.
	wantStatus(t, submit(t, a, page, "/account/security/totp", url.Values{"code": {code}}), http.StatusNotFound)
}

// Wrong app codes count towards the lockout of the account's factor.
func TestEnrolTOTPLockout(t *testing.T) {
	p := newIDP(t, func(c *config.Config) { c.LoginLockoutAttempts = 3 })
	a := p.loggedIn(t)
	page, secret := totpPage(t, a, "")
	bad := wrongCode(t, secret)
	for range 2 {
		wantStatus(t, submit(t, a, page, "/account/security/totp", url.Values{"code": {bad}}), http.StatusUnprocessableEntity)
	}
	locked := submit(t, a, page, "/account/security/totp", url.Values{"code": {bad}})
	wantStatus(t, locked, http.StatusTooManyRequests)
	// Even the right code waits now.
	wantStatus(t, submit(t, a, page, "/account/security/totp", url.Values{"code": {appCode(t, secret)}}), http.StatusTooManyRequests)
	if p.account(t, p.taken.ID).Factors != nil {
		t.Fatal("a factor stored while locked")
	}
}

// An enrolment offered by a login that needs a second factor carries the
// flow and goes back to it, the session raised by the app's code; a flow id
// that is not a short URL-safe token is dropped.
func TestEnrolTOTPFlow(t *testing.T) {
	p := newIDP(t)
	a := p.loggedIn(t)
	const flow = "Flow_id-0123456789"
	page, secret := totpPage(t, a, "?flow="+flow)
	if page.Forms()[0].Fields.Get("flow") != flow {
		t.Fatalf("the flow is not carried:\n%s", page.Body)
	}
	done := submit(t, a, page, "/account/security/totp", url.Values{"code": {appCode(t, secret)}})
	if loc := done.Location(); done.Status != http.StatusSeeOther || loc == nil || loc.Path != "/login/resume" || loc.Query().Get("flow") != flow {
		t.Fatalf("after the code: %d %v", done.Status, done.Header.Get("Location"))
	}
	sessions, err := p.srv.Sessions.List(context.Background(), p.taken.ID)
	if err != nil || len(sessions) != 1 || !slices.Contains(sessions[0].AMR, "otp") || !slices.Contains(sessions[0].AMR, "pwd") {
		t.Fatalf("the session after enrolment: %+v %v", sessions, err)
	}

	b := p.agent()
	// A new account for the bad flow ids (the first has an app now).
	loginAs(t, p, b, "+79990003344", true, true)
	for _, bad := range []string{"a b", "x/../y", strings.Repeat("a", 65), "https://evil.example"} {
		page, _ := totpPage(t, b, "?flow="+url.QueryEscape(bad))
		if page.Forms()[0].Fields.Has("flow") {
			t.Errorf("flow %q carried", bad)
		}
	}
}

// loginAs creates an account with the phone (verified or not) and an
// e-mail (verified or not), and logs the agent in to it.
func loginAs(t *testing.T, p *idp, a *testserver.Agent, phone string, phoneVerified, emailVerified bool) *store.Account {
	t.Helper()
	ctx := context.Background()
	hash, err := p.srv.Passwords.Hash(ctx, goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	acct := &store.Account{
		ID: "acc" + phone[len(phone)-4:], Level: store.LevelSimplified, LastName: "Сидоров", FirstName: "Иван",
		Phone: phone, PhoneVerified: phoneVerified, Email: "u" + phone[len(phone)-4:] + "@example.ru", EmailVerified: emailVerified,
		PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	if err := p.srv.Durable.CreateAccount(ctx, acct); err != nil {
		t.Fatal(err)
	}
	login := follow(t, a, get(t, a, "/account"))
	done := follow(t, a, submit(t, a, login, "", url.Values{"identifier": {acct.Email}, "password": {goodPassword}}))
	if done.URL.Path != "/account" || done.Status != http.StatusOK {
		t.Fatalf("login: %s %d", done.URL, done.Status)
	}
	return acct
}

// Backup codes are shown once, each in class="backup-code", and stored
// only as keyed hashes; a new set takes the password and voids the old.
func TestBackupCodes(t *testing.T) {
	p := newIDP(t)
	a := p.loggedIn(t)
	shown := securityAction(t, a, "backup_generate", nil)
	wantStatus(t, shown, http.StatusOK)
	var set []string
	for _, m := range backupRe.FindAllStringSubmatch(shown.Body, -1) {
		set = append(set, m[1])
	}
	if len(set) != backup.DefaultCount {
		t.Fatalf("%d codes shown, want %d:\n%s", len(set), backup.DefaultCount, shown.Body)
	}
	if strings.Contains(shown.Body, `data-replaced="true"`) {
		t.Errorf("the first set says earlier codes were voided")
	}
	acct := p.account(t, p.taken.ID)
	if acct.Factors == nil || acct.Factors.Backup == nil || len(acct.Factors.Backup.Hashes) != len(set) {
		t.Fatalf("stored: %+v", acct.Factors)
	}
	key, err := p.srv.Sealer.DeriveKey("backup-codes", 32)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range set {
		for _, h := range acct.Factors.Backup.Hashes {
			if strings.Contains(h, c) || strings.Contains(h, strings.ReplaceAll(c, "-", "")) {
				t.Fatalf("a code is stored in the clear")
			}
		}
		if _, ok := backup.Match(key, p.taken.ID, c, acct.Factors.Backup.Hashes); !ok {
			t.Fatalf("a shown code matches no stored hash")
		}
	}
	// Shown once: the security page counts them and shows none.
	sec := get(t, a, "/account/security")
	if strings.Contains(sec.Body, set[0]) || !strings.Contains(sec.Body, "Неиспользованных кодов: 10") {
		t.Errorf("the security page after the codes:\n%s", sec.Body)
	}

	// This session set the codes up, so it may make a new set, after the
	// password.
	ask := securityAction(t, a, "backup_generate", nil)
	wantStatus(t, ask, http.StatusOK)
	if !strings.Contains(ask.Body, `name="password"`) || backupRe.MatchString(ask.Body) {
		t.Fatalf("a new set without the password:\n%s", ask.Body)
	}
	again := submit(t, a, ask, "/account/security", url.Values{"password": {takenPassword}})
	wantStatus(t, again, http.StatusOK)
	if n := len(backupRe.FindAllString(again.Body, -1)); n != backup.DefaultCount {
		t.Fatalf("the new set shows %d codes", n)
	}
	if !strings.Contains(again.Body, `data-replaced="true"`) {
		t.Errorf("the new set does not say the earlier codes no longer work")
	}
	if hist := get(t, a, "/account/security"); !strings.Contains(hist.Body, "Созданы резервные коды") {
		t.Errorf("the history does not name the backup codes")
	}
	hashes := p.account(t, p.taken.ID).Factors.Backup.Hashes
	if _, ok := backup.Match(key, p.taken.ID, set[0], hashes); ok {
		t.Error("an old code still matches after a new set")
	}
}

// Removing a factor takes the password again (a wrong one is refused next
// to the field and counted towards the lockout); removing the last one
// turns the policy off.
func TestRemoveFactor(t *testing.T) {
	p := newIDP(t, func(c *config.Config) { c.LoginLockoutAttempts = 3 })
	a := p.loggedIn(t)
	enrolApp(t, p, a)
	if on := securityAction(t, a, "require_on", nil); on.Status != http.StatusSeeOther {
		t.Fatalf("require_on: %d\n%s", on.Status, on.Body)
	}
	ask := securityAction(t, a, "remove_factor", url.Values{"factor": {"totp"}})
	wantStatus(t, ask, http.StatusOK)
	if !strings.Contains(ask.Body, `name="password"`) || ask.Forms()[0].Fields.Get("factor") != "totp" {
		t.Fatalf("no password page:\n%s", ask.Body)
	}
	wrong := submit(t, a, ask, "/account/security", url.Values{"password": {"not-it"}})
	wantStatus(t, wrong, http.StatusUnauthorized)
	if fieldError(wrong, "password") == "" {
		t.Errorf("wrong password: no message next to the field")
	}
	wantStatus(t, submit(t, a, ask, "/account/security", url.Values{"password": {""}}), http.StatusBadRequest)
	if p.account(t, p.taken.ID).Factors.TOTP == nil {
		t.Fatal("removed after a wrong password")
	}
	done := submit(t, a, ask, "/account/security", url.Values{"password": {takenPassword}})
	if loc := done.Location(); done.Status != http.StatusSeeOther || loc == nil || loc.Query().Get("done") != "removed" {
		t.Fatalf("remove: %d %v\n%s", done.Status, done.Header.Get("Location"), done.Body)
	}
	if f := p.account(t, p.taken.ID).Factors; f != nil {
		t.Fatalf("factors after removing the last: %+v", f)
	}
	if msgs := p.WaitMessages(t, takenEmail, 2); !slices.ContainsFunc(msgs, func(m notify.Message) bool { return strings.Contains(m.Subject, "Отключён") }) {
		t.Errorf("the e-mail was not told of the removal: %+v", msgs)
	}

	// Wrong passwords count towards the account's lockout: the third locks it.
	enrolApp(t, p, a)
	ask = securityAction(t, a, "remove_factor", url.Values{"factor": {"totp"}})
	wantStatus(t, submit(t, a, ask, "/account/security", url.Values{"password": {"not-it"}}), http.StatusUnauthorized)
	wantStatus(t, submit(t, a, ask, "/account/security", url.Values{"password": {"not-it"}}), http.StatusUnauthorized)
	wantStatus(t, submit(t, a, ask, "/account/security", url.Values{"password": {"not-it"}}), http.StatusTooManyRequests)
	wantStatus(t, submit(t, a, ask, "/account/security", url.Values{"password": {takenPassword}}), http.StatusTooManyRequests)
	if p.account(t, p.taken.ID).Factors.TOTP == nil {
		t.Fatal("removed while locked")
	}
}

// The policy: on only with a factor; off takes the password. A session
// that proved no second factor cannot change the factors of an account
// that has one.
func TestRequireAndLock(t *testing.T) {
	p := newIDP(t)
	a := p.loggedIn(t)
	none := securityAction(t, a, "require_on", nil)
	wantStatus(t, none, http.StatusConflict)
	if !strings.Contains(none.Body, `role="alert"`) {
		t.Errorf("require_on without a factor: no message")
	}
	enrolApp(t, p, a)
	// Another session, with the password only: it may not weaken nor add.
	b := p.loggedIn(t)
	sec := get(t, b, "/account/security")
	if !strings.Contains(sec.Body, "войдите заново") || strings.Contains(sec.Body, `value="remove_factor"`) {
		t.Errorf("a password-only session is offered changes:\n%s", sec.Body)
	}
	wantStatus(t, securityAction(t, b, "require_off", url.Values{"password": {takenPassword}}), http.StatusForbidden)
	wantStatus(t, securityAction(t, b, "remove_factor", url.Values{"factor": {"totp"}, "password": {takenPassword}}), http.StatusForbidden)
	wantStatus(t, securityAction(t, b, "backup_generate", nil), http.StatusForbidden)
	wantStatus(t, get(t, b, "/account/security/totp"), http.StatusForbidden)

	wantStatus(t, securityAction(t, a, "require_on", nil), http.StatusSeeOther)
	if f := p.account(t, p.taken.ID).Factors; f == nil || !f.Required {
		t.Fatal("not required after require_on")
	}
	if sec := get(t, a, "/account/security"); !strings.Contains(sec.Body, `data-required="true"`) {
		t.Errorf("the page does not show the policy")
	}

	// With the policy on, a login by password alone stops at the factor
	// step: it does not reach the account's pages.
	c := p.agent()
	login := follow(t, c, get(t, c, "/account"))
	if stop := follow(t, c, submit(t, c, login, "", url.Values{"identifier": {takenPhone}, "password": {takenPassword}})); stop.URL.Path != "/login/factor" {
		t.Fatalf("a password login with the policy on reached %s", stop.URL.Path)
	}

	// The session that proved the app may, after the password.
	ask := securityAction(t, a, "require_off", nil)
	wantStatus(t, ask, http.StatusOK)
	if !ask.Has("password") {
		t.Fatalf("require_off without the password:\n%s", ask.Body)
	}
	if done := submit(t, a, ask, "/account/security", url.Values{"password": {takenPassword}}); done.Status != http.StatusSeeOther {
		t.Fatalf("require_off: %d\n%s", done.Status, done.Body)
	}
	if f := p.account(t, p.taken.ID).Factors; f == nil || f.Required || f.TOTP == nil {
		t.Fatalf("after require_off: %+v", f)
	}
}

// Login codes go only to a confirmed contact; with a flow the browser goes
// back to the login, which sends a code.
func TestCodesChannel(t *testing.T) {
	p := newIDP(t)
	a := p.agent()
	acct := loginAs(t, p, a, "+79990005566", false, true)
	sms := securityAction(t, a, "codes_sms", nil)
	wantStatus(t, sms, http.StatusConflict)
	if !strings.Contains(sms.Body, "подтвердите телефон") {
		t.Errorf("unverified phone: no clear message:\n%s", sms.Body)
	}
	if p.account(t, acct.ID).Factors != nil {
		t.Fatal("codes on for an unverified phone")
	}
	const flow = "flow-abc_123"
	page := get(t, a, "/account/security?flow="+flow)
	done := submit(t, a, page, "/account/security", url.Values{"action": {"codes_email"}})
	if loc := done.Location(); done.Status != http.StatusSeeOther || loc == nil || loc.Path != "/login/resume" || loc.Query().Get("flow") != flow {
		t.Fatalf("codes_email with a flow: %d %v\n%s", done.Status, done.Header.Get("Location"), done.Body)
	}
	if f := p.account(t, acct.ID).Factors; f == nil || f.Codes != store.CodeChannelEmail {
		t.Fatalf("factors: %+v", f)
	}
	sec := get(t, a, "/account/security")
	if !strings.Contains(sec.Body, `data-factor="email"`) || !strings.Contains(sec.Body, "u5***@example.ru") {
		t.Errorf("the page does not list the e-mail codes:\n%s", sec.Body)
	}
}
