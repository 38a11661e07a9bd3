package selfservice_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esia-oidc/idp/factors/captcha"
	"github.com/esia-oidc/idp/factors/pow"
	"github.com/esia-oidc/idp/factors/totp"
	"github.com/esia-oidc/idp/internal/testserver"
	"github.com/esia-oidc/idp/store"
)

const newPassword = "Hq4!moonlit-Badger"

var powRe = regexp.MustCompile(`data-pow="([^"]+)" data-pow-bits="([0-9]+)"`)

// solvePoW returns the field "pow" that answers the page's challenge, or ""
// when the page asks none.
func solvePoW(t *testing.T, page *testserver.Page) string {
	t.Helper()
	m := powRe.FindStringSubmatch(page.Body)
	if m == nil {
		return ""
	}
	bits, err := strconv.Atoi(m[2])
	if err != nil {
		t.Fatal(err)
	}
	return pow.Solve(html.UnescapeString(m[1]), bits)
}

// startRecovery fills the recovery's first page with ident (solving the
// proof of work when it asks one) and returns the code page.
func startRecovery(t *testing.T, a *testserver.Agent, page *testserver.Page, ident string) *testserver.Page {
	t.Helper()
	wantStatus(t, page, http.StatusOK)
	vals := url.Values{"identifier": {ident}}
	if f := solvePoW(t, page); f != "" {
		vals.Set("pow", f)
	}
	next := submit(t, a, page, "/recover", vals)
	wantStatus(t, next, http.StatusSeeOther)
	if loc := next.Location(); loc == nil || loc.Path != "/recover/code" {
		t.Fatalf("after /recover: %v, want /recover/code", next.Header.Get("Location"))
	}
	return follow(t, a, next)
}

// recId is the recovery id a page's forms carry.
func recID(t *testing.T, page *testserver.Page) string {
	t.Helper()
	for _, f := range page.Forms() {
		if id := f.Fields.Get("rec"); id != "" {
			return id
		}
	}
	t.Fatalf("no recovery id on %s:\n%s", page.URL, page.Body)
	return ""
}

// revocations records the accounts whose tokens the server was asked to
// revoke.
type revocations struct {
	mu  sync.Mutex
	ids []string
}

func (p *idp) watchRevocations() *revocations {
	rv := &revocations{}
	p.srv.RevokeGrants = func(_ context.Context, id, client string) error {
		rv.mu.Lock()
		defer rv.mu.Unlock()
		rv.ids = append(rv.ids, id+"/"+client)
		return nil
	}
	return rv
}

func (rv *revocations) list() []string {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return append([]string(nil), rv.ids...)
}

// loggedInAs logs in on a new agent through /account; ok is false when the
// login page comes back.
func (p *idp) loggedInAs(t *testing.T, ident, password string) (*testserver.Agent, bool) {
	t.Helper()
	a := p.agent()
	login := follow(t, a, get(t, a, "/account"))
	done := follow(t, a, submit(t, a, login, "", url.Values{"identifier": {ident}, "password": {password}}))
	return a, done.URL.Path == "/account" && done.Status == http.StatusOK
}

// A citizen who forgot the password follows the login page's link,
// recovers by phone, and is sent back to the same login flow, where the new
// password works; every session of the account ended, its tokens were
// revoked, both contacts were told, and the history holds the recovery.
func TestRecoverByPhoneFromLogin(t *testing.T) {
	p := newIDP(t)
	rv := p.watchRevocations()
	other, ok := p.loggedInAs(t, takenPhone, takenPassword)
	if !ok {
		t.Fatal("the citizen could not log in before the recovery")
	}

	a := p.agent()
	login := follow(t, a, get(t, a, p.authorizeURL()))
	link := regexp.MustCompile(`href="(/recover\?flow=[^"]+)"`).FindStringSubmatch(login.Body)
	if link == nil {
		t.Fatalf("the login page has no link to /recover carrying the flow:\n%s", login.Body)
	}
	since := time.Now()
	codePage := startRecovery(t, a, get(t, a, html.UnescapeString(link[1])), "8 (999) 000-11-22")
	if strings.Contains(html.UnescapeString(codePage.Body), "***-**-22") {
		t.Errorf("the code page shows where the code went")
	}
	code := p.codeFor(t, takenPhone, since)
	if n, m := p.messagesTo(takenPhone); n != 1 || m.Channel != "sms" || !strings.Contains(m.Body, code) {
		t.Fatalf("%d messages, last %+v; want one SMS with the code", n, m)
	}

	pw := follow(t, a, confirmCode(t, a, codePage, code))
	wantStatus(t, pw, http.StatusOK)
	if pw.URL.Path != "/recover/password" {
		t.Fatalf("after the code: %s, want /recover/password (no second factor)", pw.URL)
	}
	weak := submit(t, a, pw, "/recover/password", url.Values{"password": {"12345678"}, "password_confirm": {"12345678"}})
	wantStatus(t, weak, http.StatusBadRequest)
	if fieldError(weak, "password") == "" {
		t.Errorf("a weak password has no message next to the field")
	}
	done := submit(t, a, weak, "/recover/password", url.Values{"password": {newPassword}, "password_confirm": {newPassword}})
	wantStatus(t, done, http.StatusOK)
	back := regexp.MustCompile(`href="(/login\?flow=[^"]+)" id="login-link"`).FindStringSubmatch(done.Body)
	if back == nil || !strings.Contains(done.Body, clientName) {
		t.Fatalf("the last page does not lead back to the login flow:\n%s", done.Body)
	}
	// Not logged in by the recovery.
	if acct := follow(t, a, get(t, a, "/account")); acct.URL.Path == "/account" {
		t.Errorf("the recovery logged the browser in")
	}

	// The login flow takes the new password.
	again := get(t, a, html.UnescapeString(back[1]))
	wantStatus(t, again, http.StatusOK)
	consent := follow(t, a, submit(t, a, again, "", url.Values{"identifier": {takenPhone}, "password": {newPassword}}))
	if consent.URL.Path != "/consent" {
		t.Fatalf("login after the recovery: %s (%d), want the consent page\n%s", consent.URL, consent.Status, consent.Body)
	}
	if _, ok := p.loggedInAs(t, takenEmail, takenPassword); ok {
		t.Errorf("the old password still works")
	}

	// The session that was live is over, and the tokens were revoked.
	if page := follow(t, other, get(t, other, "/account")); page.URL.Path == "/account" {
		t.Errorf("a session of the account survived the reset")
	}
	if got := rv.list(); len(got) != 1 || got[0] != p.taken.ID+"/" {
		t.Errorf("revoked %v, want the account's tokens once", got)
	}
	sms := p.WaitMessages(t, takenPhone, 2)
	mail := p.WaitMessages(t, takenEmail, 1)
	if sms[1].Code != "" || !strings.Contains(sms[1].Body, "Пароль") || mail[0].Subject == "" {
		t.Errorf("notices: %+v, %+v", sms[1], mail[0])
	}
	events, err := p.srv.Durable.ListAudit(context.Background(), store.AuditQuery{AccountID: p.taken.ID, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events {
		found = found || e.Action == "recovery"
	}
	if !found {
		t.Errorf("no recovery event in the history")
	}
	if logs := p.logs.String(); strings.Contains(logs, code) || strings.Contains(logs, newPassword) {
		t.Errorf("the logs hold the code or the password")
	}
}

// seedCitizen stores an account with a confirmed phone and the given
// documents.
func (p *idp) seedCitizen(t *testing.T, id, phone string, edit func(*store.Account)) *store.Account {
	t.Helper()
	ctx := context.Background()
	hash, err := p.srv.Passwords.Hash(ctx, takenPassword)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	a := &store.Account{
		ID: id, Level: store.LevelStandard, LastName: "Сидоров", FirstName: "Пётр",
		Phone: phone, PhoneVerified: true, PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	if edit != nil {
		edit(a)
	}
	if err := p.srv.Durable.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	return a
}

// By SNILS, INN or passport: the code goes to the account's confirmed
// phone, and the recovery ends with the new password.
func TestRecoverByDocuments(t *testing.T) {
	p := newIDP(t)
	const phone = "+79990004455"
	p.seedCitizen(t, "docs", phone, func(a *store.Account) {
		a.SNILS, a.INN = "11223344595", "500100732259"
		a.Passport = &store.Document{Type: store.DocPassport, Series: "4506", Number: "123456"}
	})
	for i, ident := range []string{"112-233-445 95", "500100732259", "45 06 123456"} {
		a := p.agent()
		since := time.Now()
		codePage := startRecovery(t, a, get(t, a, "/recover"), ident)
		code := p.codeFor(t, phone, since)
		pw := follow(t, a, confirmCode(t, a, codePage, code))
		if pw.URL.Path != "/recover/password" {
			t.Fatalf("%s: after the code %s (%d)", ident, pw.URL, pw.Status)
		}
		if i == 0 {
			done := submit(t, a, pw, "/recover/password", url.Values{"password": {newPassword}, "password_confirm": {newPassword}})
			wantStatus(t, done, http.StatusOK)
			if !strings.Contains(done.Body, `href="/account" id="login-link"`) {
				t.Errorf("a standalone recovery does not lead to /account:\n%s", done.Body)
			}
			if _, ok := p.loggedInAs(t, phone, newPassword); !ok {
				t.Errorf("the new password does not work")
			}
		}
	}
}

// An identifier that names no account gets the same answers: the same
// redirect, the same code page, the same wrong-code message, and nothing is
// sent.
func TestRecoverSameAnswers(t *testing.T) {
	p := newIDP(t)
	// Ids, tokens and the seconds before a resend vary.
	norm := regexp.MustCompile(`(value="[^"]*"|rec=[^"&]*|через [0-9]+ с)`)
	shape := func(s string) string { return norm.ReplaceAllString(html.UnescapeString(s), "") }
	var first, firstWrong string
	for _, ident := range []string{takenPhone, "+79990009988", takenEmail, "nobody@example.ru", "112-233-445 95", "500100732259", "4506 654321"} {
		a := p.agent()
		codePage := startRecovery(t, a, get(t, a, "/recover"), ident)
		wantStatus(t, codePage, http.StatusOK)
		wrong := confirmCode(t, a, codePage, "000000")
		if wrong.Status != http.StatusUnprocessableEntity && wrong.Status != http.StatusOK {
			t.Fatalf("%s: a wrong code answered %d", ident, wrong.Status)
		}
		if first == "" {
			first, firstWrong = shape(codePage.Body), shape(wrong.Body)
			continue
		}
		if shape(codePage.Body) != first {
			t.Errorf("%s: the code page differs from the account's", ident)
		}
		if shape(wrong.Body) != firstWrong {
			t.Errorf("%s: the wrong-code page differs from the account's:\n%s\n---\n%s", ident, shape(wrong.Body), firstWrong)
		}
	}
	for _, to := range []string{"+79990009988", "nobody@example.ru"} {
		if n, _ := p.messagesTo(to); n != 0 {
			t.Errorf("%d messages to %s, which no account holds", n, to)
		}
	}
}

// Steps cannot be skipped: the password or factor step before the code
// ends the recovery; another browser cannot take it up.
func TestRecoverStepsAreBound(t *testing.T) {
	p := newIDP(t)
	a := p.agent()
	codePage := startRecovery(t, a, get(t, a, "/recover"), takenPhone)
	id := recID(t, codePage)

	stranger := p.agent()
	if page := get(t, stranger, "/recover/code?rec="+id); page.Status != http.StatusForbidden {
		t.Errorf("another browser got the code page: %d", page.Status)
	}
	for _, path := range []string{"/recover/password", "/recover/factor"} {
		// A form of the code page posted to a later step.
		f := codePage.Forms()[0]
		f.Action = path
		skip, err := a.Submit(context.Background(), codePage, f, url.Values{"password": {newPassword}, "password_confirm": {newPassword}})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, skip, http.StatusConflict)
		if !strings.Contains(skip.Body, `href="/recover"`) {
			t.Errorf("%s: the error page does not lead back to the start:\n%s", path, skip.Body)
		}
		// The recovery is over.
		if page := get(t, a, "/recover/code?rec="+id); page.Status != http.StatusNotFound {
			t.Errorf("after skipping to %s the recovery lives on: %d", path, page.Status)
		}
		codePage = startRecovery(t, a, get(t, a, "/recover"), takenPhone)
		id = recID(t, codePage)
	}
	if page := get(t, a, "/recover/password?rec=unknown"); page.Status != http.StatusNotFound {
		t.Errorf("an unknown recovery: %d", page.Status)
	}
	if page := get(t, a, "/recover/password"); page.Status != http.StatusNotFound {
		t.Errorf("no recovery id: %d", page.Status)
	}
}

// An account with an authenticator app: the recovery asks it after the
// code, and does not open the password step before.
func TestRecoverAsksSecondFactor(t *testing.T) {
	p := newIDP(t)
	ctx := context.Background()
	app := totp.New(p.srv.Ephemeral, p.srv.Sealer, "test", nil)
	enr, err := app.Generate(p.taken.ID, "taken")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.srv.Durable.UpdateAccount(ctx, p.taken.ID, func(a *store.Account) error {
		a.Factors = &store.SecondFactors{TOTP: &store.TOTPFactor{Sealed: enr.Sealed, EnrolledAt: time.Now().UTC()}, Codes: store.CodeChannelSMS}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	a := p.agent()
	since := time.Now()
	codePage := startRecovery(t, a, get(t, a, "/recover"), takenPhone)
	factor := follow(t, a, confirmCode(t, a, codePage, p.codeFor(t, takenPhone, since)))
	wantStatus(t, factor, http.StatusOK)
	if factor.URL.Path != "/recover/factor" || !strings.Contains(factor.Body, `data-factor="totp"`) {
		t.Fatalf("after the code: %s\n%s", factor.URL, factor.Body)
	}
	// The SMS factor is the recovery code's channel: not offered.
	if strings.Contains(factor.Body, `value="sms"`) {
		t.Errorf("the SMS factor is offered beside a recovery code sent by SMS")
	}
	right, err := totp.Code(enr.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	wrong := submit(t, a, factor, "/recover/factor", url.Values{"code": {notAppCode(t, enr.Secret)}})
	wantStatus(t, wrong, http.StatusUnprocessableEntity)
	if fieldError(wrong, "code") == "" {
		t.Errorf("a wrong app code has no message next to the field")
	}
	pw := follow(t, a, submit(t, a, wrong, "/recover/factor", url.Values{"code": {right}}))
	if pw.URL.Path != "/recover/password" {
		t.Fatalf("after the app code: %s (%d)\n%s", pw.URL, pw.Status, pw.Body)
	}
	done := submit(t, a, pw, "/recover/password", url.Values{"password": {newPassword}, "password_confirm": {newPassword}})
	wantStatus(t, done, http.StatusOK)

	// A recovery by e-mail asks the SMS code as well, sent to the phone.
	b := p.agent()
	since = time.Now()
	codePage = startRecovery(t, b, get(t, b, "/recover"), takenEmail)
	factor = follow(t, b, confirmCode(t, b, codePage, p.codeFor(t, takenEmail, since)))
	if !strings.Contains(factor.Body, `value="sms"`) {
		t.Fatalf("the SMS factor is not offered to a recovery by e-mail:\n%s", factor.Body)
	}
	chosen := follow(t, b, submit(t, b, factor, "/recover/factor", url.Values{"action": {"choose"}, "factor": {"sms"}}))
	if !strings.Contains(chosen.Body, `data-factor="sms"`) {
		t.Fatalf("after choosing SMS:\n%s", chosen.Body)
	}
	smsCode := p.codeFor(t, takenPhone, since)
	pw = follow(t, b, submit(t, b, chosen, "/recover/factor", url.Values{"code": {smsCode}}))
	if pw.URL.Path != "/recover/password" {
		t.Fatalf("after the SMS code: %s (%d)\n%s", pw.URL, pw.Status, pw.Body)
	}
}

// A second factor by the same channel only: the recovery code stands for
// it.
func TestRecoverCodeStandsForSameChannelFactor(t *testing.T) {
	p := newIDP(t)
	if _, err := p.srv.Durable.UpdateAccount(context.Background(), p.taken.ID, func(a *store.Account) error {
		a.Factors = &store.SecondFactors{Codes: store.CodeChannelSMS, Required: true}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	a := p.agent()
	since := time.Now()
	codePage := startRecovery(t, a, get(t, a, "/recover"), takenPhone)
	pw := follow(t, a, confirmCode(t, a, codePage, p.codeFor(t, takenPhone, since)))
	if pw.URL.Path != "/recover/password" {
		t.Fatalf("after the code: %s, want /recover/password", pw.URL)
	}
}

// Wrong codes lock the recovery of the identifier, whatever new code is
// sent, and for an unknown identifier just the same.
func TestRecoverLockout(t *testing.T) {
	p := newIDP(t)
	for _, ident := range []string{takenPhone, "+79990007766"} {
		a := p.agent()
		since := time.Now()
		codePage := startRecovery(t, a, get(t, a, "/recover"), ident)
		var code string
		if ident == takenPhone {
			code = p.codeFor(t, takenPhone, since)
		}
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		var last *testserver.Page
		for i := 1; i <= 5; i++ {
			last = confirmCode(t, a, codePage, wrong)
		}
		wantStatus(t, last, http.StatusTooManyRequests)
		if last.Header.Get("Retry-After") == "" || !strings.Contains(last.Body, `id="form-error"`) {
			t.Errorf("%s: the lock says nothing of when to retry:\n%s", ident, last.Body)
		}
		// The right code, or a new recovery of the same identifier, does
		// not get through.
		if code != "" {
			if page := confirmCode(t, a, codePage, code); page.Status != http.StatusTooManyRequests {
				t.Errorf("the right code after the lock: %d", page.Status)
			}
		}
		b := p.agent()
		again := startRecovery(t, b, get(t, b, "/recover"), ident)
		if page := confirmCode(t, b, again, "123456"); page.Status != http.StatusTooManyRequests {
			t.Errorf("%s: a new recovery after the lock: %d", ident, page.Status)
		}
	}
}

// After three recoveries from one address, each further one needs a proof
// of work: none, a forged one and a used one are refused; a solved one
// passes.
func TestRecoverChallenge(t *testing.T) {
	p := newIDP(t)
	a := p.agent()
	for i := 0; i < 3; i++ {
		page := get(t, a, "/recover")
		if powRe.MatchString(page.Body) {
			t.Fatalf("start %d asks a proof of work", i+1)
		}
		startRecovery(t, a, page, "+7999000000"+strconv.Itoa(i))
	}
	page := get(t, a, "/recover")
	if !powRe.MatchString(page.Body) || !regexp.MustCompile(`<script src="/static/pow\.js\?v=[0-9a-f]+" defer></script>`).MatchString(page.Body) {
		t.Fatalf("the fourth start asks no proof of work:\n%s", page.Body)
	}
	js := get(t, a, "/static/pow.js")
	if js.Status != http.StatusOK || !strings.HasPrefix(js.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("/static/pow.js: %d %s", js.Status, js.Header.Get("Content-Type"))
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}

	post := func(page *testserver.Page, powField string) *testserver.Page {
		vals := url.Values{"identifier": {takenPhone}}
		if powField != "" {
			vals.Set("pow", powField)
		}
		return submit(t, a, page, "/recover", vals)
	}
	none := post(page, "")
	wantStatus(t, none, http.StatusTooManyRequests)
	if !powRe.MatchString(none.Body) {
		t.Errorf("the refusal brings no new challenge")
	}
	m := powRe.FindStringSubmatch(none.Body)
	challenge := html.UnescapeString(m[1])
	// A challenge with one character changed is not this server's.
	forgedChallenge := challenge[:10] + string("AB"[boolIndex(challenge[10] == 'A')]) + challenge[11:]
	forged := post(none, pow.Solve(forgedChallenge, 18))
	wantStatus(t, forged, http.StatusTooManyRequests)
	if !strings.Contains(forged.Body, "Проверка браузера не пройдена") {
		t.Errorf("a forged challenge: no message\n%s", forged.Body)
	}
	solved := solvePoW(t, forged)
	ok := post(forged, solved)
	wantStatus(t, ok, http.StatusSeeOther)
	reused := post(forged, solved)
	wantStatus(t, reused, http.StatusTooManyRequests)
}

var captchaRe = regexp.MustCompile(`<noscript>[\s\S]*<img src="data:image/png;base64,[A-Za-z0-9+/=&#;]+" alt="[^"]+" width="240" height="80" class="captcha">[\s\S]*name="captcha" value="([A-Za-z0-9_-]+)"[\s\S]*<input id="captcha_answer" name="captcha_answer" type="text" inputmode="numeric"[\s\S]*</noscript>`)

// Without JavaScript, the fourth start reads the digits of an image
// instead: a missing, malformed or wrong answer is refused next to the
// field with a new image, a right one passes once.
func TestRecoverImageChallenge(t *testing.T) {
	p := newIDP(t)
	a := p.agent()
	for i := 0; i < 3; i++ {
		startRecovery(t, a, get(t, a, "/recover"), "+7999000001"+strconv.Itoa(i))
	}
	page := get(t, a, "/recover")
	if !captchaRe.MatchString(page.Body) {
		t.Fatalf("the fourth start offers no image challenge:\n%s", page.Body)
	}
	post := func(page *testserver.Page, vals url.Values) *testserver.Page {
		vals.Set("identifier", takenPhone)
		return submit(t, a, page, "/recover", vals) // the form's pow field empty: no script ran
	}
	for _, tc := range []struct{ answer, msg string }{
		{"", "Введите цифры с картинки"},
		{"12a", "Нужно ровно 6 цифр"},
	} {
		next := post(page, url.Values{"captcha_answer": {tc.answer}})
		wantStatus(t, next, http.StatusTooManyRequests)
		if !strings.Contains(next.Body, tc.msg) || !strings.Contains(next.Body, `aria-invalid="true"`) || !captchaRe.MatchString(next.Body) {
			t.Errorf("answer %q: no %q next to the field, or no new image:\n%s", tc.answer, tc.msg, next.Body)
		}
		page = next
	}
	// Tests hold the server's key, so they can make an image they can read.
	key, err := p.srv.Sealer.DeriveKey("recover-captcha", 32)
	if err != nil {
		t.Fatal(err)
	}
	images, err := captcha.New(p.srv.Ephemeral, key, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	known, err := images.IssueDigits([]byte{3, 1, 4, 1, 5, 9})
	if err != nil {
		t.Fatal(err)
	}
	wrong := post(page, url.Values{"captcha": {known.Token}, "captcha_answer": {"314160"}})
	wantStatus(t, wrong, http.StatusTooManyRequests)
	if !strings.Contains(wrong.Body, "Цифры не совпали") {
		t.Errorf("a wrong answer: no message\n%s", wrong.Body)
	}
	// One try per image: the right digits of the image tried are refused.
	if again := post(wrong, url.Values{"captcha": {known.Token}, "captcha_answer": {"314159"}}); again.Status != http.StatusTooManyRequests {
		t.Errorf("the right digits of an image already tried: %d", again.Status)
	}
	known, err = images.IssueDigits([]byte{2, 7, 1, 8, 2, 8})
	if err != nil {
		t.Fatal(err)
	}
	ok := post(wrong, url.Values{"captcha": {known.Token}, "captcha_answer": {"271 828"}})
	wantStatus(t, ok, http.StatusSeeOther)
	if loc := ok.Location(); loc == nil || loc.Path != "/recover/code" {
		t.Errorf("a right answer goes to %v, want /recover/code", loc)
	}
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

// notAppCode is a code the app shows at no step around now.
func notAppCode(t *testing.T, secret string) string {
	t.Helper()
	near := map[string]bool{}
	for _, d := range []time.Duration{-time.Minute, -30 * time.Second, 0, 30 * time.Second, time.Minute} {
		c, err := totp.Code(secret, time.Now().Add(d))
		if err != nil {
			t.Fatal(err)
		}
		near[c] = true
	}
	for _, c := range []string{"000000", "111111", "222222"} {
		if !near[c] {
			return c
		}
	}
	t.Fatal("unreachable: three codes among five steps")
	return ""
}
