package web

import (
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/internal/logbuf"
)

func newRenderer(t *testing.T) (*Renderer, *logbuf.Buffer) {
	t.Helper()
	logs := &logbuf.Buffer{}
	r, err := New(slog.New(slog.NewTextHandler(logs, nil)), Cookies{Secure: true})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r, logs
}

// get builds a GET request for target in lang ("" means no ?lang=).
func get(target, lang string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if lang != "" {
		u, _ := url.Parse(target)
		q := u.Query()
		q.Set("lang", lang)
		u.RawQuery = q.Encode()
		req = httptest.NewRequest(http.MethodGet, u.String(), nil)
	}
	return req
}

// page checks the headers every rendered page carries and returns the body.
func page(t *testing.T, rec *httptest.ResponseRecorder, status int) string {
	t.Helper()
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != status {
		t.Fatalf("status = %d, want %d; body:\n%s", res.StatusCode, status, body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	s := string(body)
	if !strings.HasPrefix(s, "<!doctype html>") || !strings.HasSuffix(strings.TrimSpace(s), "</html>") {
		t.Errorf("not a whole page:\n%s", s)
	}
	// The CSP forbids inline script and style.
	for _, bad := range []string{"<script", "<style", "style=", "javascript:"} {
		if strings.Contains(strings.ToLower(s), bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	return s
}

func mustContain(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q\n%s", w, body)
		}
	}
}

func mustNotContain(t *testing.T, body string, bads ...string) {
	t.Helper()
	for _, b := range bads {
		if strings.Contains(body, b) {
			t.Errorf("page contains %q", b)
		}
	}
}

var escaper = template.Must(template.New("esc").Parse(`{{.}}`))

// esc is how html/template writes s in text.
func esc(s string) string {
	var b strings.Builder
	if err := escaper.Execute(&b, s); err != nil {
		panic(err)
	}
	return b.String()
}

func TestLoginBothLanguages(t *testing.T) {
	r, _ := newRenderer(t)
	for _, lang := range []string{LangRU, LangEN} {
		t.Run(lang, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r.Login(rec, get("/login?flow=f1", lang), http.StatusOK, LoginData{
				Flow: "flow-123", CSRF: "tok-456", ClientName: "Каталог услуг", Identifier: "+79001234567",
			})
			body := page(t, rec, http.StatusOK)
			mustContain(t, body,
				`<html lang="`+lang+`">`,
				esc(r.T(lang, "app.name")),
				`name="identifier"`, `id="identifier"`, `autocomplete="username"`, `inputmode="text"`,
				`<label for="identifier">`+esc(r.T(lang, "login.identifier"))+`</label>`,
				`name="password"`, `type="password"`, `autocomplete="current-password"`,
				`<label for="password">`+esc(r.T(lang, "login.password"))+`</label>`,
				`<input type="hidden" name="flow" value="flow-123">`,
				`<input type="hidden" name="csrf_token" value="tok-456">`,
				`value="`+esc("+79001234567")+`"`,
				esc(r.T(lang, "login.submit"))+`</button>`,
				esc(r.T(lang, "login.for_client", "Каталог услуг")),
				`method="post"`,
			)
			mustNotContain(t, body, `aria-invalid`, `role="alert"`, `action=`)
		})
	}
	rec := httptest.NewRecorder()
	r.Login(rec, get("/login", ""), http.StatusOK, LoginData{ClientName: "Каталог услуг"})
	mustContain(t, page(t, rec, http.StatusOK), "Вход для «Каталог услуг»", "Телефон, почта или СНИЛС")
}

func TestLoginFieldErrors(t *testing.T) {
	r, _ := newRenderer(t)
	rec := httptest.NewRecorder()
	r.Login(rec, get("/login", "ru"), http.StatusUnprocessableEntity, LoginData{
		Flow: "f", CSRF: "c", Identifier: "nonsense",
		FieldErrors: map[string]string{
			"identifier": "login.identifier_unrecognized",
			"password":   "login.password_required",
		},
	})
	body := page(t, rec, http.StatusUnprocessableEntity)
	ident := inputTag(t, body, "identifier")
	for _, w := range []string{`aria-invalid="true"`, `aria-describedby="identifier-hint identifier-error"`, `autofocus`} {
		if !strings.Contains(ident, w) {
			t.Errorf("identifier input %s lacks %s", ident, w)
		}
	}
	pass := inputTag(t, body, "password")
	for _, w := range []string{`aria-invalid="true"`, `aria-describedby="password-error"`} {
		if !strings.Contains(pass, w) {
			t.Errorf("password input %s lacks %s", pass, w)
		}
	}
	if strings.Contains(pass, "autofocus") {
		t.Errorf("only the first invalid field gets autofocus: %s", pass)
	}
	mustContain(t, body,
		`<p class="field-error" id="identifier-error">Введите телефон, почту или СНИЛС</p>`,
		`<p class="field-error" id="password-error">`+esc(r.T("ru", "login.password_required"))+`</p>`,
	)
	mustNotContain(t, body, `role="alert"`)
}

// inputTag returns the <input> element whose name is name.
func inputTag(t *testing.T, body, name string) string {
	t.Helper()
	m := regexp.MustCompile(`<input[^>]*name="` + regexp.QuoteMeta(name) + `"[^>]*>`).FindString(body)
	if m == "" {
		t.Fatalf("no input %q in\n%s", name, body)
	}
	return m
}

func TestLoginFormError(t *testing.T) {
	r, _ := newRenderer(t)
	for _, lang := range []string{LangRU, LangEN} {
		rec := httptest.NewRecorder()
		r.Login(rec, get("/login", lang), http.StatusUnauthorized, LoginData{
			Flow: "f", CSRF: "c", Identifier: "a@b.ru", FormError: "login.invalid_credentials",
		})
		body := page(t, rec, http.StatusUnauthorized)
		mustContain(t, body, `role="alert"`, esc(r.T(lang, "login.invalid_credentials")))
		if strings.Contains(inputTag(t, body, "identifier"), "aria-invalid") {
			t.Errorf("%s: a form error must not mark a field invalid", lang)
		}
	}
	rec := httptest.NewRecorder()
	r.Login(rec, get("/login", ""), http.StatusUnauthorized, LoginData{FormError: "login.invalid_credentials"})
	mustContain(t, page(t, rec, http.StatusUnauthorized), "Неверный логин или пароль")
}

func TestLoginLockedShowsMoscowTime(t *testing.T) {
	r, _ := newRenderer(t)
	retry := time.Date(2030, 5, 17, 9, 30, 0, 0, time.UTC) // 12:30 in Moscow
	for _, lang := range []string{LangRU, LangEN} {
		rec := httptest.NewRecorder()
		r.Login(rec, get("/login", lang), http.StatusTooManyRequests, LoginData{
			FormError: "login.locked", RetryAfter: retry,
		})
		body := page(t, rec, http.StatusTooManyRequests)
		mustContain(t, body, esc(r.T(lang, "login.locked", "12:30")))
		mustNotContain(t, body, "%!", "09:30")
	}
	// Another message with a retry time gets the time as its own sentence.
	rec := httptest.NewRecorder()
	r.Login(rec, get("/login", "en"), http.StatusTooManyRequests, LoginData{
		FormError: "login.ip_limited", RetryAfter: retry,
	})
	body := page(t, rec, http.StatusTooManyRequests)
	mustContain(t, body, esc(r.T("en", "login.ip_limited")), esc(r.T("en", "login.retry_at", "12:30")))
	mustNotContain(t, body, "%!")
}

func TestLoginUnknownFieldErrorIsShown(t *testing.T) {
	r, _ := newRenderer(t)
	rec := httptest.NewRecorder()
	r.Login(rec, get("/login", "en"), http.StatusBadRequest, LoginData{
		FieldErrors: map[string]string{"otp": "login.busy"},
	})
	mustContain(t, page(t, rec, http.StatusBadRequest), `role="alert"`, esc(r.T("en", "login.busy")))
}

func TestClientNameIsEscaped(t *testing.T) {
	r, _ := newRenderer(t)
	evil := `<script>alert("x")</script> & «Рога»`
	pages := map[string]func(w http.ResponseWriter, req *http.Request){
		"login": func(w http.ResponseWriter, req *http.Request) {
			r.Login(w, req, 200, LoginData{ClientName: evil, Identifier: `"><img src=x>`, Flow: `"x`})
		},
		"consent": func(w http.ResponseWriter, req *http.Request) {
			r.Consent(w, req, 200, ConsentData{ClientName: evil, Scopes: []ScopeView{{Name: "x", Description: evil}}})
		},
		"logout": func(w http.ResponseWriter, req *http.Request) {
			r.Logout(w, req, 200, LogoutData{ClientName: evil})
		},
		"logged_out": func(w http.ResponseWriter, req *http.Request) {
			r.LoggedOut(w, req, 200, LoggedOutData{ClientName: evil, BackURL: "https://rp.example/"})
		},
	}
	for name, render := range pages {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			render(rec, get("/p", "ru"))
			body := page(t, rec, 200)
			mustNotContain(t, body, "<script>", `"><img src=x`, `value=""x"`)
			mustContain(t, body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; «Рога»")
		})
	}
}

func TestConsentBothLanguages(t *testing.T) {
	r, _ := newRenderer(t)
	for _, lang := range []string{LangRU, LangEN} {
		t.Run(lang, func(t *testing.T) {
			scopes := []ScopeView{
				{Name: "openid", Description: r.T(lang, "scope.openid")},
				{Name: "snils", Description: r.T(lang, "scope.snils")},
				{Name: "custom"},
			}
			rec := httptest.NewRecorder()
			r.Consent(rec, get("/consent", lang), http.StatusOK, ConsentData{
				Flow: "flow-9", CSRF: "csrf-9", ClientName: "Каталог услуг", Scopes: scopes,
			})
			body := page(t, rec, http.StatusOK)
			mustContain(t, body,
				`<html lang="`+lang+`">`,
				esc(r.T(lang, "consent.intro", "Каталог услуг")),
				"<li>"+esc(r.T(lang, "scope.openid"))+"</li>",
				"<li>"+esc(r.T(lang, "scope.snils"))+"</li>",
				"<li>custom</li>",
				`<input type="hidden" name="flow" value="flow-9">`,
				`<input type="hidden" name="csrf_token" value="csrf-9">`,
				`name="decision" value="allow"`,
				`name="decision" value="deny"`,
				esc(r.T(lang, "consent.allow"))+`</button>`,
				esc(r.T(lang, "consent.deny"))+`</button>`,
			)
			// Both choices are submit buttons of the one form.
			if n := strings.Count(body, `type="submit" name="decision"`); n != 2 {
				t.Errorf("%d decision submit buttons, want 2", n)
			}
		})
	}
}

func TestLogoutPages(t *testing.T) {
	r, _ := newRenderer(t)
	for _, lang := range []string{LangRU, LangEN} {
		t.Run(lang, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r.Logout(rec, get("/logout", lang), http.StatusOK, LogoutData{Flow: "lo-1", CSRF: "c-1", ClientName: "Каталог услуг"})
			body := page(t, rec, http.StatusOK)
			mustContain(t, body,
				esc(r.T(lang, "logout.question")),
				esc(r.T(lang, "logout.from_client", "Каталог услуг")),
				`<input type="hidden" name="flow" value="lo-1">`,
				`<input type="hidden" name="csrf_token" value="c-1">`,
				`type="submit"`, esc(r.T(lang, "logout.submit"))+`</button>`,
			)

			rec = httptest.NewRecorder()
			r.LoggedOut(rec, get("/logout", lang), http.StatusOK, LoggedOutData{BackURL: "https://rp.example/bye?x=1&y=2", ClientName: "Каталог услуг"})
			body = page(t, rec, http.StatusOK)
			mustContain(t, body,
				esc(r.T(lang, "logout.done")),
				`href="https://rp.example/bye?x=1&amp;y=2"`,
				esc(r.T(lang, "logout.back_to", "Каталог услуг")),
			)

			rec = httptest.NewRecorder()
			r.LoggedOut(rec, get("/logout", lang), http.StatusOK, LoggedOutData{BackURL: "https://rp.example/"})
			mustContain(t, page(t, rec, http.StatusOK), esc(r.T(lang, "logout.back")))

			rec = httptest.NewRecorder()
			r.LoggedOut(rec, get("/logout", lang), http.StatusOK, LoggedOutData{})
			body = page(t, rec, http.StatusOK)
			mustContain(t, body, esc(r.T(lang, "logout.done")))
			mustNotContain(t, body, esc(r.T(lang, "logout.back")), `class="button`)
		})
	}
	rec := httptest.NewRecorder()
	r.Logout(rec, get("/logout", ""), http.StatusOK, LogoutData{})
	mustContain(t, page(t, rec, http.StatusOK), "Выйти из всех сервисов?")
}

func TestUnsafeBackURLIsNeutralized(t *testing.T) {
	r, _ := newRenderer(t)
	rec := httptest.NewRecorder()
	r.LoggedOut(rec, get("/logout", ""), http.StatusOK, LoggedOutData{BackURL: "javascript:alert(1)"})
	body := page(t, rec, http.StatusOK)
	mustContain(t, body, `href="#ZgotmplZ"`)
}

func TestErrorNeverShowsCause(t *testing.T) {
	r, logs := newRenderer(t)
	cause := errors.New(`sql: pq relation "accounts" at store.go:42 goroutine 7`)
	for _, lang := range []string{LangRU, LangEN} {
		t.Run(lang, func(t *testing.T) {
			req := get("/authorize?client_id=x", lang)
			req = req.WithContext(WithRequestID(req.Context(), "req-abc-123"))
			rec := httptest.NewRecorder()
			err := fmt.Errorf("authorize: %w", &PageError{
				Status: http.StatusBadRequest, Key: "error.unknown_client", Cause: cause, BackURL: "https://rp.example/",
			})
			r.Error(rec, req, err)
			body := page(t, rec, http.StatusBadRequest)
			mustContain(t, body,
				esc(r.T(lang, "error.title")),
				esc(r.T(lang, "error.unknown_client")),
				`href="https://rp.example/"`, esc(r.T(lang, "error.back")),
				esc(r.T(lang, "error.request_id", "req-abc-123")),
			)
			mustNotContain(t, body, "sql:", ".go:", "goroutine", "accounts", "relation")
		})
	}
	// A 400 is logged at INFO (TestErrorPageLogLevels), with its cause.
	if l := logs.String(); !strings.Contains(l, "level=INFO") || !strings.Contains(l, "store.go:42") || !strings.Contains(l, "req-abc-123") {
		t.Errorf("the cause was not logged with the request id:\n%s", l)
	}
	if strings.Contains(logs.String(), "client_id=x") {
		t.Errorf("the query was logged:\n%s", logs.String())
	}
}

func TestErrorUnknownIsInternal(t *testing.T) {
	r, logs := newRenderer(t)
	rec := httptest.NewRecorder()
	req := get("/token", "")
	rec.Header().Set("X-Request-Id", "mw-77")
	r.Error(rec, req, errors.New("redis: connection refused 10.0.0.5:6379"))
	body := page(t, rec, http.StatusInternalServerError)
	mustContain(t, body, "Что-то пошло не так. Попробуйте позже", "mw-77")
	mustNotContain(t, body, "redis", "10.0.0.5", "refused")
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("cause not logged:\n%s", logs.String())
	}

	// A PageError with an unknown key or status still shows a clean page.
	rec = httptest.NewRecorder()
	r.Error(rec, get("/x", "en"), &PageError{Status: 200, Key: "error.no_such_key"})
	body = page(t, rec, http.StatusInternalServerError)
	mustContain(t, body, esc(r.T("en", "error.internal")))
	mustNotContain(t, body, "error.no_such_key")

	rec = httptest.NewRecorder()
	r.Error(rec, get("/x", "en"), nil)
	page(t, rec, http.StatusInternalServerError)

	rec = httptest.NewRecorder()
	r.Error(rec, get("/x", "en"), &PageError{Status: http.StatusNotFound, Key: "error.not_found"})
	mustContain(t, page(t, rec, http.StatusNotFound), esc(r.T("en", "error.not_found")))
}

func TestPageErrorUnwrap(t *testing.T) {
	cause := errors.New("boom")
	pe := &PageError{Status: 400, Key: "error.csrf", Cause: cause}
	if !errors.Is(pe, cause) {
		t.Error("errors.Is(PageError, cause) = false")
	}
	if !strings.Contains(pe.Error(), "boom") || !strings.Contains(pe.Error(), "error.csrf") {
		t.Errorf("Error() = %q", pe.Error())
	}
	if (&PageError{Status: 404, Key: "error.not_found"}).Error() == "" {
		t.Error("empty Error() without a cause")
	}
}

func TestLangSwitchKeepsPathAndQuery(t *testing.T) {
	r, _ := newRenderer(t)
	rec := httptest.NewRecorder()
	r.Login(rec, get("/login?flow=abc&x=1&x=2&q=%D0%B0+b", "ru"), http.StatusOK, LoginData{})
	body := page(t, rec, http.StatusOK)
	links := regexp.MustCompile(`<a href="([^"]*)" hreflang="(ru|en)"`).FindAllStringSubmatch(body, -1)
	if len(links) != 2 {
		t.Fatalf("found %d language links, want 2:\n%s", len(links), body)
	}
	for _, m := range links {
		u, err := url.Parse(html.UnescapeString(m[1]))
		if err != nil {
			t.Fatalf("parse %q: %v", m[1], err)
		}
		q := u.Query()
		if u.Path != "/login" || u.Host != "" || q.Get("flow") != "abc" || strings.Join(q["x"], ",") != "1,2" || q.Get("q") != "а b" || q.Get("lang") != m[2] || len(q["lang"]) != 1 {
			t.Errorf("switch link %q does not keep the path and query with lang=%s", u, m[2])
		}
	}
	mustContain(t, body, `hreflang="ru" lang="ru" aria-current="true"`)
	mustNotContain(t, body, `hreflang="en" lang="en" aria-current`)

	// A path that looks like another host stays on this one.
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.URL.Path = "//evil.example/x"
	rec = httptest.NewRecorder()
	r.Logout(rec, req, http.StatusOK, LogoutData{})
	mustNotContain(t, page(t, rec, http.StatusOK), `href="//evil.example`)
}

func TestLangChoice(t *testing.T) {
	r, _ := newRenderer(t)
	cases := []struct {
		name, query, cookie, accept, want string
	}{
		{"default", "", "", "", "ru"},
		{"query en", "lang=en", "", "", "en"},
		{"query ru beats cookie", "lang=ru", "en", "en", "ru"},
		{"bad query ignored", "lang=de", "en", "", "en"},
		{"cookie", "", "en", "ru", "en"},
		{"bad cookie ignored", "", "fr", "en-US", "en"},
		{"accept en", "", "", "en-US,en;q=0.9", "en"},
		{"accept ru", "", "", "ru-RU,ru;q=0.9,en;q=0.8", "ru"},
		{"accept weights", "", "", "en;q=0.9, ru;q=0.5", "en"},
		{"accept tie prefers ru", "", "", "en, ru", "ru"},
		{"accept neither", "", "", "de-DE,fr;q=0.5", "ru"},
		{"accept en refused", "", "", "en;q=0, de", "ru"},
		{"accept garbage", "", "", ";;,q=,en;q=abc", "ru"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/login?"+c.query, nil)
			if c.cookie != "" {
				req.AddCookie(&http.Cookie{Name: "__Host-lang", Value: c.cookie})
			}
			if c.accept != "" {
				req.Header.Set("Accept-Language", c.accept)
			}
			if got := r.Lang(req); got != c.want {
				t.Errorf("Lang = %q, want %q", got, c.want)
			}
		})
	}
}

func TestLangQueryIsRemembered(t *testing.T) {
	r, _ := newRenderer(t)
	rec := httptest.NewRecorder()
	r.Consent(rec, get("/consent", "en"), http.StatusOK, ConsentData{})
	body := page(t, rec, http.StatusOK)
	mustContain(t, body, `<html lang="en">`)
	var lang *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == "__Host-lang" {
			lang = c
		}
	}
	if lang == nil || lang.Value != "en" || lang.MaxAge <= 0 || !lang.HttpOnly || !lang.Secure || lang.Path != "/" || lang.SameSite != http.SameSiteLaxMode {
		t.Fatalf("lang cookie = %+v", lang)
	}

	// The next request with that cookie is English without the query.
	req := httptest.NewRequest(http.MethodGet, "/consent", nil)
	req.AddCookie(lang)
	rec = httptest.NewRecorder()
	r.Consent(rec, req, http.StatusOK, ConsentData{})
	mustContain(t, page(t, rec, http.StatusOK), `<html lang="en">`)
	if len(rec.Result().Cookies()) != 0 {
		t.Errorf("cookie set again without ?lang=: %v", rec.Result().Cookies())
	}
}

func TestTemplateErrorIsCleanServerError(t *testing.T) {
	r, logs := newRenderer(t)
	broken := template.Must(template.New("layout").Parse(`<!doctype html><p>half a page {{.Data.NoSuchField}}</p>`))
	r.pages["login"] = broken
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Request-Id", "rid-1")
	r.Login(rec, get("/login", "en"), http.StatusOK, LoginData{})
	body := page(t, rec, http.StatusInternalServerError)
	mustNotContain(t, body, "half a page", "NoSuchField")
	mustContain(t, body, esc(r.T("en", "error.internal")))
	if !strings.Contains(logs.String(), "NoSuchField") || !strings.Contains(logs.String(), "rid-1") {
		t.Errorf("template error not logged:\n%s", logs.String())
	}
}

func TestPagesLinkAssets(t *testing.T) {
	r, _ := newRenderer(t)
	rec := httptest.NewRecorder()
	r.LoggedOut(rec, get("/", ""), http.StatusOK, LoggedOutData{})
	body := page(t, rec, http.StatusOK)
	m := regexp.MustCompile(`<link rel="stylesheet" href="(/static/style\.css\?v=[0-9a-f]+)">`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no versioned stylesheet link:\n%s", body)
	}
	res := httptest.NewRecorder()
	r.Static().ServeHTTP(res, httptest.NewRequest(http.MethodGet, m[1], nil))
	if res.Code != http.StatusOK || !strings.Contains(res.Header().Get("Cache-Control"), "immutable") {
		t.Errorf("linked stylesheet: %d, Cache-Control %q", res.Code, res.Header().Get("Cache-Control"))
	}
	mustContain(t, body, `<meta name="viewport"`, `<main id="main"`, `class="skip-link" href="#main"`)
	if rec.Header().Get("Content-Security-Policy") == "" || rec.Header().Get("Content-Language") != "ru" {
		t.Errorf("headers: %v", rec.Header())
	}
}

func TestMiddlewareCSPIsKept(t *testing.T) {
	r, _ := newRenderer(t)
	rec := httptest.NewRecorder()
	rec.Header().Set("Content-Security-Policy", "default-src 'self'")
	r.LoggedOut(rec, get("/", ""), http.StatusOK, LoggedOutData{})
	page(t, rec, http.StatusOK)
	if got := rec.Header().Values("Content-Security-Policy"); len(got) != 1 || got[0] != "default-src 'self'" {
		t.Errorf("CSP = %q", got)
	}
}
