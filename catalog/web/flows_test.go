package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/catalog/rp/rptest"
	"github.com/esia-oidc/idp/catalog/store"
)

// A citizen below a service's level sees why and a button that starts a
// step-up login with acr_values; giving up at the provider lands on an
// explanation, not an error page; once the level is raised, the step-up
// lands back on the service, which can then be started.
func TestStepUp(t *testing.T) {
	p := newPortal(t)
	p.idp.Set(func(x *rptest.Provider) { x.MaxLevel = "simplified" })
	b := newBrowser(t)
	b.get(p.srv.URL + "/login?return=/")
	svc := b.get(p.srv.URL + "/services/foreign-passport")
	if !strings.Contains(svc.body, `id="below-level"`) || !strings.Contains(svc.body, `id="raise"`) || strings.Contains(svc.body, `id="start"`) {
		t.Fatalf("service page below level: %s", svc.body)
	}
	// The form itself is out of reach.
	if f := b.get(p.srv.URL + "/services/foreign-passport/apply"); f.url.Path != "/services/foreign-passport" {
		t.Errorf("apply below level landed on %s", f.url)
	}
	raise := b.get(p.srv.URL + "/login?return=%2Fservices%2Fforeign-passport&acr=confirmed")
	var last url.Values
	p.idp.Get(func(x *rptest.Provider) { last = x.Requests[len(x.Requests)-1] })
	if last.Get("acr_values") != "confirmed" {
		t.Errorf("step-up request acr_values = %q", last.Get("acr_values"))
	}
	if raise.status != 200 || !strings.Contains(raise.body, `data-reason="unmet"`) || !strings.Contains(raise.body, "Заграничный паспорт") || !strings.Contains(raise.body, "подтверждённая") {
		t.Fatalf("giving up: %d %s", raise.status, raise.body)
	}
	// The old session stays.
	if !strings.Contains(raise.body, `data-level="simplified"`) {
		t.Error("the explanation page lost the session")
	}

	// access_denied (consent refused) explains too.
	p.idp.Set(func(x *rptest.Provider) { x.AuthError = "access_denied" })
	denied := b.get(p.srv.URL + "/login?return=%2Fservices%2Ftax-debt")
	if denied.status != 200 || !strings.Contains(denied.body, `data-reason="denied"`) {
		t.Fatalf("access_denied: %d %s", denied.status, denied.body)
	}

	// The level raised at the provider: the step-up lands on the service.
	p.idp.Set(func(x *rptest.Provider) { x.AuthError, x.MaxLevel, x.Level = "", "", "confirmed" })
	up := b.get(p.srv.URL + "/login?return=%2Fservices%2Fforeign-passport&acr=confirmed")
	if up.url.Path != "/services/foreign-passport" || !strings.Contains(up.body, `id="start"`) || !strings.Contains(up.body, `data-level="confirmed"`) {
		t.Fatalf("after step-up at %s: %s", up.url, up.body)
	}
	if f := b.get(p.srv.URL + "/services/foreign-passport/apply"); f.status != 200 || f.url.Path != "/services/foreign-passport/apply" {
		t.Errorf("apply after step-up: %d at %s", f.status, f.url)
	}
}

func TestBackchannelLogout(t *testing.T) {
	p := newPortal(t)
	b := newBrowser(t)
	b.get(p.srv.URL + "/login?return=/")
	other := newBrowser(t) // the same citizen in another browser and provider session
	p.idp.Set(func(x *rptest.Provider) { x.SID = "sid-2" })
	other.get(p.srv.URL + "/login?return=/")
	s1, s2 := b.session(p), other.session(p)
	if s1.SID != "sid-1" || s2.SID != "sid-2" {
		t.Fatalf("sids %q %q", s1.SID, s2.SID)
	}
	post := func(token string) int {
		resp, err := http.PostForm(p.srv.URL+"/backchannel-logout", url.Values{"logout_token": {token}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Error("back-channel answer without Cache-Control: no-store")
		}
		return resp.StatusCode
	}
	mod := func(fn func(m map[string]any)) string {
		m := p.idp.LogoutClaims("sub-1", "sid-1")
		fn(m)
		return p.idp.Sign(m)
	}
	for name, tok := range map[string]string{
		"empty":          "",
		"other audience": mod(func(m map[string]any) { m["aud"] = "other" }),
		"with nonce":     mod(func(m map[string]any) { m["nonce"] = "x" }),
		"no event":       mod(func(m map[string]any) { delete(m, "events") }),
		"unsigned":       strings.Join(strings.Split(mod(func(map[string]any) {}), ".")[:2], ".") + ".",
	} {
		if got := post(tok); got != http.StatusBadRequest {
			t.Errorf("%s logout token: %d, want 400", name, got)
		}
	}
	if _, err := p.store.GetSession(t.Context(), s1.ID); err != nil {
		t.Fatal("a refused logout token ended the session")
	}
	good := p.idp.Sign(p.idp.LogoutClaims("sub-1", "sid-1"))
	if got := post(good); got != http.StatusOK {
		t.Fatalf("valid logout token: %d", got)
	}
	if got := post(good); got != http.StatusBadRequest {
		t.Errorf("replayed logout token: %d, want 400", got)
	}
	if home := b.get(p.srv.URL + "/"); !strings.Contains(home.body, `id="login"`) {
		t.Error("the next request after back-channel logout is not anonymous")
	}
	if _, err := p.store.GetSession(t.Context(), s2.ID); err != nil {
		t.Error("the citizen's other provider session was ended too")
	}
	// sub alone ends every session of the citizen.
	if got := post(p.idp.Sign(p.idp.LogoutClaims("sub-1", ""))); got != http.StatusOK {
		t.Fatalf("sub-only logout token: %d", got)
	}
	if _, err := p.store.GetSession(t.Context(), s2.ID); err == nil {
		t.Error("a sub-only logout token left a session")
	}
}

// An expired access token is refreshed with the refresh token before
// userinfo; a refresh the provider refuses ends the session.
func TestRefresh(t *testing.T) {
	p := newPortal(t)
	p.idp.Set(func(x *rptest.Provider) { x.AccessTTL = 10 * time.Second }) // within the 30 s margin
	b := newBrowser(t)
	b.get(p.srv.URL + "/login?return=/")
	before := b.session(p)
	p.idp.ExpireAccessTokens()
	form := b.get(p.srv.URL + "/services/traffic-fines/apply")
	if form.status != 200 || !strings.Contains(form.body, `value="Иванов"`) {
		t.Fatalf("apply after expiry: %d %s", form.status, form.body)
	}
	after := b.session(p)
	var n int
	p.idp.Get(func(x *rptest.Provider) { n = x.Refreshes })
	if n != 1 || after.AccessToken == before.AccessToken || after.RefreshToken == before.RefreshToken {
		t.Errorf("refreshes %d; tokens changed: access %v refresh %v", n, after.AccessToken != before.AccessToken, after.RefreshToken != before.RefreshToken)
	}
	// The refresh token revoked at the provider: the portal asks to log in.
	if err := p.store.UpdateSession(t.Context(), after.ID, func(s *store.Session) error { s.RefreshToken = "revoked"; return nil }); err != nil {
		t.Fatal(err)
	}
	nb := &http.Client{Jar: b.c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := nb.Get(p.srv.URL + "/services/traffic-fines/apply")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/login?") {
		t.Errorf("with a dead refresh token: %d to %q, want the login", resp.StatusCode, loc)
	}
}

func TestCallbackRefusals(t *testing.T) {
	p := newPortal(t)
	b := newBrowser(t)
	if got := b.get(p.srv.URL + "/callback?state=unknown&code=x"); got.status != http.StatusBadRequest || !strings.Contains(got.body, `id="error-message"`) {
		t.Errorf("unknown state: %d", got.status)
	}
	// A login started in one browser cannot be finished in another.
	nb := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	jarless := &browser{t: t, c: nb}
	resp, err := nb.Get(p.srv.URL + "/login?return=/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	toIDP := resp.Header.Get("Location")
	resp, err = nb.Get(toIDP)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb := resp.Header.Get("Location") // the callback, taken to another browser
	if got := jarless.get(cb); got.status != http.StatusBadRequest {
		t.Errorf("callback from another browser: %d", got.status)
	}
	for _, body := range []string{"sql:", ".go:", "goroutine", "rp:"} {
		if got := b.get(p.srv.URL + "/callback?state=x"); strings.Contains(got.body, body) {
			t.Errorf("error page leaks %q", body)
		}
	}
}

func TestOtherCitizensApplicationIsNotFound(t *testing.T) {
	p := newPortal(t)
	a := &store.Application{Subject: "someone-else", ServiceID: "traffic-fines", Fields: map[string]string{"last_name": "Петров"}, Created: time.Now()}
	a.Append(store.StatusSubmitted, time.Now(), "")
	if err := p.store.CreateApplication(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	b.get(p.srv.URL + "/login?return=/")
	if got := b.get(p.srv.URL + "/applications/1"); got.status != http.StatusNotFound || strings.Contains(got.body, "Петров") {
		t.Errorf("another citizen's application: %d", got.status)
	}
	if got := b.get(p.srv.URL + "/applications"); strings.Contains(got.body, `data-number="1"`) {
		t.Error("the list shows another citizen's application")
	}
}

func TestLanguageSwitch(t *testing.T) {
	p := newPortal(t)
	b := newBrowser(t)
	en := b.get(p.srv.URL + "/?lang=en")
	if !strings.Contains(en.body, `<html lang="en">`) || !strings.Contains(en.body, "Traffic fines") {
		t.Fatalf("English page: %.400s", en.body)
	}
	if again := b.get(p.srv.URL + "/services/tax-debt"); !strings.Contains(again.body, "Tax debt") || !strings.Contains(again.body, "Account needed: standard") ||
		!strings.Contains(again.body, `<li data-scope="snils">SNILS (individual insurance account number)</li>`) {
		t.Error("the choice of English is not remembered")
	}
	if ru := b.get(p.srv.URL + "/?lang=ru"); !strings.Contains(ru.body, `<html lang="ru">`) {
		t.Error("switching back to Russian")
	}
	search := b.get(p.srv.URL + "/?q=" + url.QueryEscape("паспорт"))
	if !strings.Contains(search.body, "/services/foreign-passport") || strings.Contains(search.body, "/services/traffic-fines") {
		t.Error("search for паспорт")
	}
	if nf := b.get(p.srv.URL + "/services/nope"); nf.status != http.StatusNotFound {
		t.Errorf("unknown service: %d", nf.status)
	}
}
