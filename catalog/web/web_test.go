package web_test

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/esia-oidc/idp/catalog/rp"
	"github.com/esia-oidc/idp/catalog/rp/rptest"
	"github.com/esia-oidc/idp/catalog/services"
	"github.com/esia-oidc/idp/catalog/store"
	"github.com/esia-oidc/idp/catalog/store/memory"
	"github.com/esia-oidc/idp/catalog/web"
	idpweb "github.com/esia-oidc/idp/idp/web"
)

// portal is the catalog in front of a fake provider.
type portal struct {
	srv   *httptest.Server
	idp   *rptest.Provider
	store *memory.Store
}

func newPortal(t *testing.T) *portal {
	t.Helper()
	p := &portal{idp: rptest.New(t, "demo-catalog"), store: memory.New(nil)}
	p.idp.Set(func(x *rptest.Provider) {
		x.Level = "simplified"
		x.UserInfo = map[string]any{"family_name": "Иванов", "given_name": "Иван", "phone_number": "+79990000001", "phone_number_verified": true,
			"email": "ivan@example.ru"}
	})
	mux := http.NewServeMux()
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	client, err := rp.New(t.Context(), rp.Config{Issuer: p.idp.URL, ClientID: "demo-catalog", RedirectURL: p.srv.URL + "/callback", PostLogoutRedirectURL: p.srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := services.Load()
	if err != nil {
		t.Fatal(err)
	}
	cookies := idpweb.Cookies{Prefix: "catalog_"}
	csrf, err := idpweb.NewCSRF([]byte(strings.Repeat("k", 32)), cookies)
	if err != nil {
		t.Fatal(err)
	}
	h, err := web.New(web.Config{Catalog: cat, Store: p.store, RP: client, Cookies: cookies, CSRF: csrf,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h.Mount(mux)
	return p
}

// browser is a cookie-keeping client that follows redirects.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar}}
}

type page struct {
	status int
	url    *url.URL
	body   string
	header http.Header
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, resp.Request.URL, string(body), resp.Header}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf returns the last CSRF token of a page (the main form's; the
// header's logout form comes first).
func csrf(t *testing.T, p page) string {
	t.Helper()
	m := csrfRe.FindAllStringSubmatch(p.body, -1)
	if m == nil {
		t.Fatalf("no CSRF token on %s: %.300s", p.url, p.body)
	}
	return m[len(m)-1][1]
}

func logoutCSRF(t *testing.T, p page) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no logout form on %s", p.url)
	}
	return m[1]
}

func TestLoginApplyListLogout(t *testing.T) {
	p := newPortal(t)
	b := newBrowser(t)
	home := b.get(p.srv.URL + "/")
	if home.status != 200 || !strings.Contains(home.body, "Штрафы ГИБДД") || !strings.Contains(home.body, `id="login"`) {
		t.Fatalf("home: %d %.300s", home.status, home.body)
	}
	for k, want := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
		if got := home.header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if csp := home.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "form-action 'self' "+p.idp.URL) {
		t.Errorf("CSP %q", csp)
	}

	// Starting the service logs in at the provider and lands on the form.
	form := b.get(p.srv.URL + "/services/traffic-fines/apply")
	if form.status != 200 || form.url.Path != "/services/traffic-fines/apply" {
		t.Fatalf("apply form: %d at %s: %.300s", form.status, form.url, form.body)
	}
	var req url.Values
	p.idp.Get(func(x *rptest.Provider) { req = x.Requests[0] })
	if req.Get("code_challenge_method") != "S256" || req.Get("nonce") == "" || req.Get("state") == "" || !strings.Contains(req.Get("scope"), "offline_access") {
		t.Errorf("authorization request %v", req)
	}
	if !strings.Contains(form.body, `value="Иванов"`) {
		t.Error("the form is not pre-filled with family_name")
	}
	if !regexp.MustCompile(`name="phone" type="text" value="&#43;79990000001" readonly data-verified="true" aria-describedby="f-phone-verified"`).MatchString(form.body) {
		t.Errorf("the verified phone is not shown checked and read-only: %s", form.body)
	}

	// A forged post is refused; a missing required field is shown at the field.
	if got := b.post(p.srv.URL+"/services/traffic-fines/apply", url.Values{"vehicle_plate": {"А1"}}); got.status != http.StatusForbidden {
		t.Errorf("apply without CSRF: %d", got.status)
	}
	token := csrf(t, form)
	bad := b.post(p.srv.URL+"/services/traffic-fines/apply", url.Values{"csrf_token": {token}, "last_name": {"Иванов"}, "first_name": {"Иван"}})
	if bad.status != http.StatusUnprocessableEntity || !strings.Contains(bad.body, `id="f-vehicle_plate-error"`) || !strings.Contains(bad.body, `aria-invalid="true"`) {
		t.Fatalf("missing field: %d %s", bad.status, bad.body)
	}
	// The verified phone is the provider's, whatever is posted.
	done := b.post(p.srv.URL+"/services/traffic-fines/apply", url.Values{"csrf_token": {token}, "last_name": {"Иванов"}, "first_name": {"Иван"},
		"phone": {"+70000000000"}, "vehicle_plate": {"А123ВС777"}})
	if done.status != 200 || !strings.HasPrefix(done.url.Path, "/applications/") || !strings.Contains(done.body, `data-status="submitted"`) {
		t.Fatalf("submit: %d at %s: %.300s", done.status, done.url, done.body)
	}
	list, _ := p.store.ListApplications(t.Context(), store.ApplicationFilter{})
	if len(list) != 1 || list[0].Fields["phone"] != "+79990000001" || list[0].Fields["vehicle_plate"] != "А123ВС777" || list[0].Subject != "sub-1" {
		t.Fatalf("stored %+v", list)
	}

	mine := b.get(p.srv.URL + "/applications")
	if !strings.Contains(mine.body, `data-number="1"`) {
		t.Errorf("my applications do not list it: %s", mine.body)
	}
	if f := b.get(p.srv.URL + "/applications?status=approved"); strings.Contains(f.body, `data-number="1"`) {
		t.Error("the approved filter lists a submitted application")
	}
	if f := b.get(p.srv.URL + "/applications?service=traffic-fines&status=submitted"); !strings.Contains(f.body, `data-number="1"`) {
		t.Error("the service filter hides the application")
	}

	// Logout: the session ends, its tokens are revoked, and the browser
	// goes to the provider's end-session endpoint with the ID token.
	sess := b.session(p)
	nb := &http.Client{Jar: b.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := nb.PostForm(p.srv.URL+"/logout", url.Values{"csrf_token": {logoutCSRF(t, mine)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Path != "/logout" || loc.Query().Get("id_token_hint") != sess.IDToken || loc.Query().Get("post_logout_redirect_uri") != p.srv.URL+"/" {
		t.Errorf("logout: %d to %s", resp.StatusCode, loc)
	}
	if !p.idp.IsRevoked(sess.RefreshToken) {
		t.Error("the refresh token was not revoked")
	}
	if _, err := p.store.GetSession(t.Context(), sess.ID); err == nil {
		t.Error("the session survived logout")
	}
	after := b.get(p.srv.URL + "/")
	if !strings.Contains(after.body, `id="login"`) {
		t.Error("after logout the portal still shows a session")
	}
}

// session returns the stored session of the browser's cookie.
func (b *browser) session(p *portal) *store.Session {
	b.t.Helper()
	u, _ := url.Parse(p.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "catalog_session" {
			sum := sha256.Sum256([]byte(c.Value))
			s, err := p.store.GetSession(b.t.Context(), base64.RawURLEncoding.EncodeToString(sum[:]))
			if err != nil {
				b.t.Fatalf("session of the cookie: %v", err)
			}
			return s
		}
	}
	b.t.Fatal("the browser has no session cookie")
	return nil
}
