package selfservice_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esia-oidc/idp/internal/testserver"
	"github.com/esia-oidc/idp/store"
)

// A citizen who has no account follows the login page's link, registers
// with a phone and lands back at the relying party with a code, logged in.
func TestRegisterByPhoneFromAuthorize(t *testing.T) {
	p := newIDP(t)
	a := p.agent()
	login := follow(t, a, get(t, a, p.authorizeURL()))
	wantStatus(t, login, http.StatusOK)
	if login.URL.Path != "/login" {
		t.Fatalf("authorize led to %s, want /login", login.URL)
	}
	link := regexp.MustCompile(`href="(/register\?flow=[^"]+)"`).FindStringSubmatch(login.Body)
	if link == nil {
		t.Fatalf("the login page has no link to /register carrying the flow:\n%s", login.Body)
	}
	reg := get(t, a, strings.ReplaceAll(link[1], "&amp;", "&"))
	if !strings.Contains(reg.Body, clientName) {
		t.Errorf("the registration page does not name the client it returns to")
	}
	since := time.Now()
	codePage := startRegistration(t, a, reg, person("phone", "8 (999) 765-43-21"))
	if !strings.Contains(html.UnescapeString(codePage.Body), "+7 999 ***-**-21") {
		t.Errorf("the code page does not show the masked phone")
	}
	code := p.codeFor(t, "+79997654321", since)
	if n, m := p.messagesTo("+79997654321"); n != 1 || m.Channel != "sms" || !strings.Contains(m.Body, code) {
		t.Fatalf("%d messages, last %+v; want one SMS carrying the code", n, m)
	}
	pw := follow(t, a, confirmCode(t, a, codePage, code))
	wantStatus(t, pw, http.StatusOK)
	if pw.URL.Path != "/register/password" {
		t.Fatalf("after the code: %s, want /register/password", pw.URL)
	}
	done := submit(t, a, pw, "/register/password", url.Values{"password": {goodPassword}, "password_confirm": {goodPassword}})
	// Back in the login flow: the consent page, then the client.
	consent := follow(t, a, done)
	if consent.URL.Path != "/consent" {
		t.Fatalf("after registration: %s (%d), want the flow's consent page", consent.URL, consent.Status)
	}
	back := submit(t, a, consent, "", url.Values{"decision": {"allow"}})
	loc := back.Location()
	if loc == nil || !strings.HasPrefix(loc.String(), rpRedirect+"?") || loc.Query().Get("code") == "" || loc.Query().Get("state") != "state-123456" {
		t.Fatalf("consent led to %v, want the client's redirect with a code", back.Header.Get("Location"))
	}

	acct, err := p.srv.Durable.FindAccount(context.Background(), store.IdentifierPhone, "+79997654321")
	if err != nil {
		t.Fatal(err)
	}
	if acct.Level != store.LevelSimplified || !acct.PhoneVerified || acct.LastName != "Иванова" || acct.FirstName != "Мария" || acct.MiddleName != "Петровна" {
		t.Errorf("account %+v", acct)
	}
	if !strings.HasPrefix(acct.PasswordHash, "$argon2id$") {
		t.Errorf("password stored as %q, want an argon2id hash", acct.PasswordHash)
	}
	if strings.Contains(p.logs.String(), code) || strings.Contains(p.logs.String(), goodPassword) {
		t.Errorf("the logs hold the code or the password")
	}
}

// Standalone, by e-mail: the registration ends on the account page,
// logged in, at the simplified level.
func TestRegisterByEmailStandalone(t *testing.T) {
	p := newIDP(t)
	a := p.agent()
	since := time.Now()
	codePage := startRegistration(t, a, get(t, a, "/register"), person("email", " Maria.Ivanova@Example.RU "))
	code := p.codeFor(t, "maria.ivanova@example.ru", since)
	if _, m := p.messagesTo("maria.ivanova@example.ru"); m.Channel != "email" || m.Subject == "" {
		t.Errorf("message %+v, want an e-mail with a subject", m)
	}
	pw := follow(t, a, confirmCode(t, a, codePage, code))
	done := follow(t, a, submit(t, a, pw, "/register/password", url.Values{"password": {goodPassword}, "password_confirm": {goodPassword}}))
	wantStatus(t, done, http.StatusOK)
	if done.URL.Path != "/account" || !strings.Contains(done.Body, `data-level="simplified"`) || !strings.Contains(done.Body, "Иванова Мария Петровна") {
		t.Fatalf("after registration: %s\n%s", done.URL, done.Body)
	}
	// The session is the new citizen's: the account page serves again.
	again := get(t, a, "/account")
	wantStatus(t, again, http.StatusOK)
	if !strings.Contains(again.Body, "maria.ivanova@example.ru") {
		t.Errorf("the account page does not show the e-mail")
	}
}

// The first page says what is wrong next to each field and keeps what was
// typed; nothing is sent.
func TestRegisterValidation(t *testing.T) {
	p := newIDP(t)
	a := p.agent()
	cases := []struct {
		name  string
		vals  url.Values
		field string
	}{
		{"no last name", url.Values{"first_name": {"Мария"}, "phone": {"+79990000001"}, "accept_terms": {"on"}}, "last_name"},
		{"latin name", url.Values{"last_name": {"Ivanova"}, "first_name": {"Мария"}, "phone": {"+79990000001"}, "accept_terms": {"on"}}, "last_name"},
		{"digits in name", url.Values{"last_name": {"Иванова"}, "first_name": {"Мария2"}, "phone": {"+79990000001"}, "accept_terms": {"on"}}, "first_name"},
		{"bad phone", url.Values{"last_name": {"Иванова"}, "first_name": {"Мария"}, "phone": {"12345"}, "accept_terms": {"on"}}, "phone"},
		{"bad email", url.Values{"last_name": {"Иванова"}, "first_name": {"Мария"}, "email": {"maria@"}, "accept_terms": {"on"}}, "email"},
		{"no contact", url.Values{"last_name": {"Иванова"}, "first_name": {"Мария"}, "accept_terms": {"on"}}, "phone"},
		{"both contacts", url.Values{"last_name": {"Иванова"}, "first_name": {"Мария"}, "phone": {"+79990000001"}, "email": {"m@example.ru"}, "accept_terms": {"on"}}, "email"},
		{"terms not accepted", url.Values{"last_name": {"Иванова"}, "first_name": {"Мария"}, "phone": {"+79990000001"}}, "accept_terms"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			page := submit(t, a, get(t, a, "/register"), "/register", c.vals)
			wantStatus(t, page, http.StatusBadRequest)
			if fieldError(page, c.field) == "" {
				t.Errorf("no message next to %s:\n%s", c.field, page.Body)
			}
			if !strings.Contains(page.Body, `aria-invalid="true"`) {
				t.Errorf("the field is not marked invalid")
			}
			for name, v := range c.vals {
				if name != "accept_terms" && !strings.Contains(html.UnescapeString(page.Body), `value="`+v[0]+`"`) {
					t.Errorf("what was typed in %s (%q) is lost", name, v[0])
				}
			}
		})
	}
	if msgs := p.srv.Outbox.Messages(); len(msgs) != 0 {
		t.Errorf("%d messages sent for invalid forms", len(msgs))
	}
	// The English page says it in English.
	page := submit(t, a, get(t, a, "/register?lang=en"), "/register", url.Values{"first_name": {"Мария"}, "phone": {"+79990000001"}, "accept_terms": {"on"}})
	if got := fieldError(page, "last_name"); got != "Enter your last name" {
		t.Errorf("English message %q", got)
	}
}

// Registering with a phone that has an account looks the same as with a
// free one until the code is confirmed; then the page says that an
// account exists and offers to log in, and no second account is made.
func TestRegisterTakenPhoneRevealsNothingBeforeCode(t *testing.T) {
	p := newIDP(t)
	free, taken := p.agent(), p.agent()
	since := time.Now()
	freePage := startRegistration(t, free, get(t, free, "/register"), person("phone", "+79990000002"))
	takenPage := startRegistration(t, taken, get(t, taken, "/register"), person("phone", takenPhone))
	if strip(freePage.Body, "+7 999 ***-**-02") != strip(takenPage.Body, "+7 999 ***-**-22") {
		t.Errorf("the code pages differ between a free and a taken phone")
	}
	code := p.codeFor(t, takenPhone, since)
	exists := confirmCode(t, taken, takenPage, code)
	wantStatus(t, exists, http.StatusConflict)
	if !strings.Contains(exists.Body, `href="/account"`) {
		t.Errorf("the page does not offer to log in:\n%s", exists.Body)
	}
	acct, err := p.srv.Durable.FindAccount(context.Background(), store.IdentifierPhone, takenPhone)
	if err != nil || acct.ID != "taken" {
		t.Fatalf("the phone's account is %v, %v", acct, err)
	}
	// The registration is over: its password step is gone.
	reg := takenPage.Forms()[0].Fields.Get("reg")
	gone := get(t, taken, "/register/password?reg="+url.QueryEscape(reg))
	wantStatus(t, gone, http.StatusNotFound)
}

// strip removes the volatile parts of a code page: the registration id,
// hidden values and the masked recipient.
func strip(body, recipient string) string {
	body = strings.ReplaceAll(html.UnescapeString(body), recipient, "")
	body = regexp.MustCompile(`reg=[^"&]*`).ReplaceAllString(body, "")
	return regexp.MustCompile(`value="[^"]*"`).ReplaceAllString(body, "")
}

// Wrong codes are counted: the fifth voids the code, and the right code no
// longer works after it.
func TestRegisterCodeBruteForceStops(t *testing.T) {
	p := newIDP(t)
	a := p.agent()
	since := time.Now()
	codePage := startRegistration(t, a, get(t, a, "/register"), person("phone", "+79990000003"))
	code := p.codeFor(t, "+79990000003", since)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for i := 1; i <= 5; i++ {
		page := confirmCode(t, a, codePage, wrong)
		wantStatus(t, page, http.StatusUnprocessableEntity)
		msg := fieldError(page, "code")
		if i < 5 && !strings.Contains(msg, "Осталось попыток: "+string(rune('0'+5-i))) {
			t.Errorf("try %d: %q, want the tries left", i, msg)
		}
		if i == 5 && !strings.Contains(msg, "Запросите новый код") {
			t.Errorf("try 5: %q, want the code voided", msg)
		}
	}
	page := confirmCode(t, a, codePage, code)
	wantStatus(t, page, http.StatusUnprocessableEntity)
	if _, err := p.srv.Durable.FindAccount(context.Background(), store.IdentifierPhone, "+79990000003"); err == nil {
		t.Fatal("an account was made")
	}
}

// A new code waits a minute; the page says so, and one more registration
// with the same phone counts against the phone's hourly limit.
func TestRegisterResendLimits(t *testing.T) {
	p := newIDP(t)
	a := p.agent()
	codePage := startRegistration(t, a, get(t, a, "/register"), person("phone", "+79990000004"))
	if !strings.Contains(codePage.Body, "Новый код можно получить через") {
		t.Errorf("the code page does not say when a new code can be asked for")
	}
	again := resend(t, a, codePage)
	wantStatus(t, again, http.StatusTooManyRequests)
	if again.Header.Get("Retry-After") == "" || !strings.Contains(again.Body, "по московскому времени") {
		t.Errorf("a refused resend does not say when to try again: %v\n%s", again.Header, again.Body)
	}
	// The code is sent without holding up the page: wait for it, then
	// check that the refused resend sent nothing more.
	p.WaitMessages(t, "+79990000004", 1)
	if n, _ := p.messagesTo("+79990000004"); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
	// Four more registrations of the phone make five codes in the hour;
	// a sixth is refused.
	for i := 2; i <= 6; i++ {
		b := p.agent()
		page := submit(t, b, get(t, b, "/register"), "/register", person("phone", "+79990000004"))
		if i <= 5 {
			wantStatus(t, page, http.StatusSeeOther)
			continue
		}
		wantStatus(t, page, http.StatusTooManyRequests)
		if !strings.Contains(page.Body, "Слишком много запросов кода") || !strings.Contains(page.Body, `value="Иванова"`) {
			t.Errorf("the refused page:\n%s", page.Body)
		}
	}
	waitMessages(t, p, "+79990000004", 5)
}

func waitMessages(t *testing.T, p *idp, to string, want int) {
	t.Helper()
	if n := len(p.WaitMessages(t, to, want)); n != want {
		t.Fatalf("%d messages to %s, want %d", n, to, want)
	}
}

// resend posts the code page's resend form.
func resend(t *testing.T, a *testserver.Agent, codePage *testserver.Page) *testserver.Page {
	t.Helper()
	forms := codePage.Forms()
	if len(forms) < 2 {
		t.Fatalf("no resend form:\n%s", codePage.Body)
	}
	page, err := a.Submit(context.Background(), codePage, forms[1], url.Values{"action": {"resend"}})
	if err != nil {
		t.Fatal(err)
	}
	return page
}

// Each step needs the one before, in the same browser.
func TestRegisterStepsAreBound(t *testing.T) {
	p := newIDP(t)
	a := p.agent()
	codePage := startRegistration(t, a, get(t, a, "/register"), person("phone", "+79990000005"))
	reg := codePage.Forms()[0].Fields.Get("reg")
	// The password step before the code: back to the code.
	early := get(t, a, "/register/password?reg="+url.QueryEscape(reg))
	if loc := early.Location(); early.Status != http.StatusSeeOther || loc == nil || loc.Path != "/register/code" {
		t.Fatalf("password step before the code: %d %v", early.Status, early.Header.Get("Location"))
	}
	posted := submit(t, a, codePage, "/register/code", url.Values{"code": {""}})
	wantStatus(t, posted, http.StatusBadRequest)
	// Another browser cannot continue it.
	other := p.agent()
	wantStatus(t, get(t, other, "/register/code?reg="+url.QueryEscape(reg)), http.StatusForbidden)
	// An unknown registration is "start again".
	wantStatus(t, get(t, a, "/register/code?reg=unknown"), http.StatusNotFound)
	// A form without its CSRF token is refused.
	form := codePage.Forms()[0]
	form.Fields.Del("csrf_token")
	page, err := a.Submit(context.Background(), codePage, form, url.Values{"code": {"123456"}})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, page, http.StatusForbidden)
}

// The password page says which rule a password breaks, never shows the
// typed password again, and offers a generated one.
func TestRegisterPasswordPolicy(t *testing.T) {
	p := newIDP(t)
	a := p.agent()
	since := time.Now()
	codePage := startRegistration(t, a, get(t, a, "/register"), person("phone", "+79991234567"))
	pw := follow(t, a, confirmCode(t, a, codePage, p.codeFor(t, "+79991234567", since)))
	for _, c := range []struct{ pw, confirm, field string }{
		{"short1!", "short1!", "password"},
		{"alllowercase1!", "alllowercase1!", "password"},
		{"Qwerty123!", "Qwerty123!", "password"},
		{"xИВАНОВА-8w!Q", "xИВАНОВА-8w!Q", "password"},
		{"Мария1234567!x", "Мария1234567!x", "password"},
		{goodPassword, goodPassword + "x", "password_confirm"},
	} {
		page := submit(t, a, pw, "/register/password", url.Values{"password": {c.pw}, "password_confirm": {c.confirm}})
		wantStatus(t, page, http.StatusBadRequest)
		if fieldError(page, c.field) == "" {
			t.Errorf("%q: no message next to %s", c.pw, c.field)
		}
		if strings.Contains(page.Body, c.pw) {
			t.Errorf("%q: the page shows the typed password", c.pw)
		}
	}
	gen := submit(t, a, pw, "/register/password", url.Values{"action": {"generate"}})
	wantStatus(t, gen, http.StatusOK)
	m := regexp.MustCompile(`id="generated-password">([^<]+)<`).FindStringSubmatch(gen.Body)
	if m == nil {
		t.Fatalf("no generated password:\n%s", gen.Body)
	}
	if strings.Count(gen.Body, `value="`+m[1]+`"`) != 2 {
		t.Errorf("the generated password does not fill both fields")
	}
	done := submit(t, a, gen, "/register/password", url.Values{"password": {m[1]}, "password_confirm": {m[1]}})
	if loc := done.Location(); loc == nil || loc.Path != "/account" {
		t.Fatalf("the generated password was refused: %d\n%s", done.Status, done.Body)
	}
}

// Two registrations racing for one phone make one account; the other is
// told that it exists.
func TestRegisterRaceOneAccount(t *testing.T) {
	p := newIDP(t)
	const phone = "+79990000006"
	var pages [2]*testserver.Page
	agents := [2]*testserver.Agent{p.agent(), p.agent()}
	for i, a := range agents {
		since := time.Now()
		codePage := startRegistration(t, a, get(t, a, "/register"), person("phone", phone))
		pages[i] = follow(t, a, confirmCode(t, a, codePage, p.codeFor(t, phone, since)))
		if pages[i].URL.Path != "/register/password" {
			t.Fatalf("registration %d: %s", i, pages[i].URL)
		}
	}
	var wg sync.WaitGroup
	var results [2]*testserver.Page
	for i, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			page, err := a.Submit(context.Background(), pages[i], pages[i].Forms()[0], url.Values{"password": {goodPassword}, "password_confirm": {goodPassword}})
			if err != nil {
				t.Error(err)
				return
			}
			results[i] = page
		}()
	}
	wg.Wait()
	created, exists := 0, 0
	for _, r := range results {
		switch {
		case r == nil:
		case r.Status == http.StatusSeeOther:
			created++
		case r.Status == http.StatusConflict:
			exists++
		default:
			t.Errorf("status %d\n%s", r.Status, r.Body)
		}
	}
	if created != 1 || exists != 1 {
		t.Fatalf("%d created, %d told it exists; want one each", created, exists)
	}
}
