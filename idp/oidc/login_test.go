package oidc_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// normalizeLoginPage blanks out what legitimately differs between two
// renderings of the login page: the flow id, the CSRF token, the request id
// and the identifier the citizen typed.
func normalizeLoginPage(t *testing.T, page *response, typed string) string {
	t.Helper()
	f := onlyForm(t, page.body)
	body := page.body
	for _, s := range []string{f.fields.Get("flow"), f.fields.Get("csrf_token"), page.Header.Get("X-Request-Id")} {
		if s != "" {
			body = strings.ReplaceAll(body, s, "XXX")
		}
	}
	if typed != "" {
		// html/template writes "+" in attributes as "&#43;".
		body = strings.ReplaceAll(body, strings.ReplaceAll(typed, "+", "&#43;"), "IDENTIFIER")
		body = strings.ReplaceAll(body, typed, "IDENTIFIER")
	}
	return body
}

// A wrong password and an unknown account must look the same: same status,
// same page (an attacker must not learn which accounts exist).
func TestLoginWrongPasswordLooksLikeUnknownAccount(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)

	b1 := idp.newBrowser(t)
	wrong := b1.submitLogin(b1.startLogin(authzParams("openid")), citizenEmail, "not the password")
	b2 := idp.newBrowser(t)
	const nobody = "nobody@example.ru"
	unknown := b2.submitLogin(b2.startLogin(authzParams("openid")), nobody, "not the password")

	if wrong.StatusCode != http.StatusUnauthorized || unknown.StatusCode != wrong.StatusCode {
		t.Fatalf("status wrong password %d, unknown account %d; want both 401", wrong.StatusCode, unknown.StatusCode)
	}
	if !strings.Contains(textOf(t, wrong.body), "Wrong login or password") {
		t.Errorf("wrong password page does not say so:\n%s", textOf(t, wrong.body))
	}
	a := normalizeLoginPage(t, wrong, citizenEmail)
	b := normalizeLoginPage(t, unknown, nobody)
	if a != b {
		t.Errorf("pages differ\nwrong password:\n%s\nunknown account:\n%s", a, b)
	}
	for _, h := range []string{"Content-Type", "Cache-Control", "Retry-After", "Content-Language"} {
		if wrong.Header.Get(h) != unknown.Header.Get(h) {
			t.Errorf("header %s: wrong password %q, unknown account %q", h, wrong.Header.Get(h), unknown.Header.Get(h))
		}
	}
	if wrong.Header.Get("Location") != "" || unknown.Header.Get("Location") != "" {
		t.Error("a failed login redirects")
	}
	if b1.cookie("idp_session") != nil || b2.cookie("idp_session") != nil {
		t.Error("a failed login set a session cookie")
	}
	if strings.Contains(idp.logs.String(), "not the password") {
		t.Error("the server logged a password")
	}
}

func TestLoginFieldErrors(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	tests := []struct {
		name, identifier, password string
		// want maps the id of a field's error element to its message.
		want map[string]string
	}{
		{"both missing", "", "", map[string]string{
			"identifier-error": "Enter your phone, e-mail or SNILS",
			"password-error":   "Enter your password",
		}},
		{"identifier missing", "", "secret", map[string]string{
			"identifier-error": "Enter your phone, e-mail or SNILS",
		}},
		{"password missing", citizenPhone, "", map[string]string{
			"password-error": "Enter your password",
		}},
		{"identifier not recognized", "not-an-identifier", "secret", map[string]string{
			"identifier-error": "Enter a phone number, an e-mail address or a SNILS",
		}},
		// The syntax's own message, from the catalog: it says nothing
		// about accounts.
		{"SNILS mistyped", "112-233-445 96", "secret", map[string]string{
			"identifier-error": "The SNILS is mistyped: its control number does not match",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := idp.newBrowser(t)
			r := b.submitLogin(b.startLogin(authzParams("openid")), tc.identifier, tc.password)
			if r.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.StatusCode)
			}
			for _, id := range []string{"identifier-error", "password-error"} {
				re := regexp.MustCompile(`id="` + id + `">([^<]*)<`)
				m := re.FindStringSubmatch(r.body)
				want, wanted := tc.want[id]
				switch {
				case wanted && m == nil:
					t.Errorf("no #%s, want %q", id, want)
				case wanted && m[1] != want:
					t.Errorf("#%s says %q, want %q", id, m[1], want)
				case !wanted && m != nil:
					t.Errorf("unexpected #%s: %q", id, m[1])
				}
			}
			if got := onlyForm(t, r.body).fields.Get("identifier"); got != tc.identifier {
				t.Errorf("the form keeps identifier %q, want the typed %q", got, tc.identifier)
			}
			if tc.password != "" && strings.Contains(r.body, tc.password) {
				t.Errorf("the password is echoed on the page")
			}
		})
	}
}

func TestLoginBadCSRF(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	tests := []struct {
		name   string
		tamper func(b *browser, v url.Values) *browser
	}{
		{"wrong token", func(b *browser, v url.Values) *browser {
			v.Set("csrf_token", "AAAA"+v.Get("csrf_token")[4:])
			return b
		}},
		{"missing token", func(b *browser, v url.Values) *browser {
			v.Del("csrf_token")
			return b
		}},
		{"token of another browser", func(b *browser, v url.Values) *browser {
			// Another browser (without this one's cookie) posts the form.
			return idp.newBrowser(b.t)
		}},
		{"token of another flow", func(b *browser, v url.Values) *browser {
			other := b.startLogin(authzParams("openid"))
			v.Set("csrf_token", onlyForm(b.t, other.body).fields.Get("csrf_token"))
			return b
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := idp.newBrowser(t)
			page := b.startLogin(authzParams("openid"))
			f := onlyForm(t, page.body)
			v := url.Values{
				"flow":       {f.fields.Get("flow")},
				"csrf_token": {f.fields.Get("csrf_token")},
				"identifier": {citizenPhone},
				"password":   {citizenPassword},
			}
			poster := tc.tamper(b, v)
			r := poster.post(page.Request.URL.RequestURI(), v)
			if r.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", r.StatusCode)
			}
			want := "The form has expired"
			if tc.name == "token of another browser" {
				want = "started in another browser" // the flow itself refuses it
			}
			if !strings.Contains(textOf(t, r.body), want) {
				t.Errorf("page does not explain:\n%s", textOf(t, r.body))
			}
			if r.Header.Get("Location") != "" || poster.cookie("idp_session") != nil {
				t.Error("a login with a bad CSRF token went through")
			}
		})
	}
}

var retryTime = regexp.MustCompile(`after \d\d:\d\d Moscow time`)

// expectLocked checks a 429 login page with a retry time.
func expectLocked(t *testing.T, r *response) {
	t.Helper()
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429; page:\n%s", r.StatusCode, textOf(t, r.body))
	}
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || secs <= 0 || secs > 15*60 {
		t.Errorf("Retry-After %q, want 1..900 seconds", r.Header.Get("Retry-After"))
	}
	if !retryTime.MatchString(textOf(t, r.body)) {
		t.Errorf("page does not say when to retry:\n%s", textOf(t, r.body))
	}
	if r.Header.Get("Location") != "" {
		t.Errorf("a locked login redirects to %s", r.Header.Get("Location"))
	}
}

// Five failed logins lock the identifier: the next attempt is refused even
// with the right password, whether or not the account exists, and the two
// look the same. Each case has its own provider (the counters are shared by
// everything that uses one identifier).
func TestLoginLockout(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, identifier string) *response {
		t.Helper()
		idp := newTestIDP(t)
		b := idp.newBrowser(t)
		page := b.startLogin(authzParams("openid"))
		for i := 1; i <= 5; i++ {
			page = b.submitLogin(page, identifier, "wrong password "+strconv.Itoa(i))
			if i < 5 && page.StatusCode != http.StatusUnauthorized {
				t.Fatalf("failure %d: status %d, want 401", i, page.StatusCode)
			}
		}
		// The failure that locks already says so.
		expectLocked(t, page)
		r := b.submitLogin(page, identifier, citizenPassword)
		expectLocked(t, r)
		if b.cookie("idp_session") != nil {
			t.Error("a locked login set a session cookie")
		}
		// Another browser (another flow, same address) is locked out too.
		b2 := idp.newBrowser(t)
		expectLocked(t, b2.submitLogin(b2.startLogin(authzParams("openid")), identifier, citizenPassword))
		return r
	}
	var known, unknown *response
	t.Run("known account", func(t *testing.T) { known = run(t, citizenPhone) })
	t.Run("unknown identifier", func(t *testing.T) { unknown = run(t, "+79995550000") })
	if known == nil || unknown == nil {
		t.FailNow()
	}
	a := normalizeLoginPage(t, known, citizenPhone)
	b := normalizeLoginPage(t, unknown, "+79995550000")
	// The retry time may differ by a minute between the two runs.
	a, b = retryTime.ReplaceAllString(a, "after HH:MM"), retryTime.ReplaceAllString(b, "after HH:MM")
	if a != b {
		t.Errorf("locked pages differ for a known and an unknown identifier\nknown:\n%s\nunknown:\n%s", a, b)
	}
}

// A successful login forgets the earlier failures.
func TestLoginSuccessResetsCounter(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	b := idp.newBrowser(t)
	page := b.startLogin(authzParams("openid"))
	for i := 1; i <= 4; i++ {
		page = b.submitLogin(page, citizenPhone, "wrong")
		if page.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401", i, page.StatusCode)
		}
	}
	ok := b.submitLogin(page, citizenPhone, citizenPassword)
	if p := expectClientRedirect(t, ok); p.Get("code") == "" {
		t.Fatalf("login after 4 failures: %v, want a code", p)
	}

	// Four more failures do not lock: the count started again.
	b2 := idp.newBrowser(t)
	page = b2.startLogin(authzParams("openid"))
	for i := 1; i <= 4; i++ {
		page = b2.submitLogin(page, citizenPhone, "wrong")
		if page.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d after success: status %d, want 401", i, page.StatusCode)
		}
	}
	if p := expectClientRedirect(t, b2.submitLogin(page, citizenPhone, citizenPassword)); p.Get("code") == "" {
		t.Fatalf("login: %v, want a code", p)
	}
	if strings.Contains(idp.logs.String(), citizenPassword) {
		t.Error("the server logged a password")
	}
}
