package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/idp/server"
	"github.com/esia-oidc/idp/internal/testserver"
)

// bankEnv is our provider (PostgreSQL and Redis, development mode for the
// registry simulator) with a bank: a second idp process playing the bank
// (IDP_BANK_SIM, in memory), whose citizens the test chooses. The bank's
// issuer is on localhost, ours on 127.0.0.1: browsers keep cookies per
// host, not per port, and the two must not share them.
type bankEnv struct {
	srv, bank *testserver.Server
	conf      *oauth2.Config
	clientID  string
}

func newBankEnv(t *testing.T, citizens []server.SimCitizen) *bankEnv {
	t.Helper()
	srv := testserver.Start(t, testserver.NewShared(t), "IDP_DEV=true", "IDP_REGISTRY_SIM_DELAY=0s", "IDP_JOB_POLL_INTERVAL=50ms")
	b, err := json.Marshal(citizens)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "citizens.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	bankShared := &testserver.Shared{SecretKey: strings.Repeat("5e", 32), AdminToken: strings.Repeat("ad", 32)}
	bank := testserver.Start(t, bankShared, "IDP_DEV=true", "IDP_DATABASE_URL=", "IDP_REDIS_URL=", "IDP_BANK_SIM=true",
		"IDP_BANK_SIM_REDIRECT_URI="+srv.URL+"/login/bank/callback", "IDP_BANK_SIM_CITIZENS="+file)
	bank.Issuer = strings.Replace(bank.URL, "127.0.0.1", "localhost", 1)
	bank.Restart(t)
	banks, err := json.Marshal([]map[string]any{{
		"id": "sim", "name_ru": "Банк-симулятор", "name_en": "Bank simulator", "issuer": bank.Issuer,
		"client_id": server.BankSimClientID, "client_secret": server.BankSimClientSecret, "identifies_in_person": true,
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Env = append(srv.Env, "IDP_BANKS="+string(banks))
	srv.Restart(t)

	cl, err := srv.Admin().CreateClient(context.Background(), adminclient.ClientMetadata{
		ClientName: "Госуслуги региона", RedirectURIs: []string{replicaRedirect},
		GrantTypes: []string{"authorization_code"}, Scope: "openid fullname snils",
		TokenEndpointAuthMethod: "none", SubjectType: "public",
	})
	if err != nil {
		t.Fatal(err)
	}
	return &bankEnv{srv: srv, bank: bank, clientID: cl.ClientID, conf: &oauth2.Config{
		ClientID:    cl.ClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: replicaRedirect,
		Scopes:      []string{oidc.ScopeOpenID, "fullname", "snils"},
	}}
}

// atBank signs in at the bank as the citizen of the phone (the browser r
// is at the bank's authorization URL in p) and returns our callback's
// response.
func (e *bankEnv) atBank(t *testing.T, r *registrant, p *testserver.Page, phone string) *testserver.Page {
	t.Helper()
	loc := p.Location()
	if p.Status != http.StatusSeeOther || loc == nil || !strings.HasPrefix(loc.String(), e.bank.Issuer+"/authorize?") {
		t.Fatalf("not sent to the bank: %d %v\n%s", p.Status, loc, p.Body)
	}
	at := *r.ag
	at.Issuer = e.bank.Issuer
	cb, page, err := at.Authorize(context.Background(), loc.String(), testserver.Login{Identifier: phone, Password: server.DemoPassword})
	if err != nil {
		t.Fatalf("at the bank: %v\n%s", err, page.Body)
	}
	if !strings.HasPrefix(cb.String(), e.srv.URL+"/login/bank/callback?") {
		t.Fatalf("the bank sent the browser to %s", cb)
	}
	return r.get(cb.String())
}

// toBank opens the authorization, goes to the bank list and picks the
// simulator in this browser; it returns the response (a redirect to the
// bank) and the authorization.
func (e *bankEnv) toBank(t *testing.T, r *registrant, way string) (*testserver.Page, browserAuth) {
	t.Helper()
	auth := newBrowserAuth(t, e.conf)
	login := r.follow(r.get(auth.url))
	list := r.get(link(t, login, `/login/bank\?flow=[^"]+`))
	if list.Status != http.StatusOK || !strings.Contains(list.Body, "Банк-симулятор") {
		t.Fatalf("the list of banks: %d\n%s", list.Status, list.Body)
	}
	return r.submit(list, 0, url.Values{"way": {way}}), auth
}

// finishAuth answers our consent (when asked) and redeems the code; it
// returns the tokens and the ID token's claims.
func (e *bankEnv) finishAuth(t *testing.T, r *registrant, p *testserver.Page, auth browserAuth) (*oauth2.Token, map[string]any) {
	t.Helper()
	p = r.follow(p)
	cb := p.Location()
	if cb == nil && p.Has("decision") {
		cb = r.submit(p, 0, url.Values{"decision": {"allow"}}).Location()
	}
	if cb == nil || !strings.HasPrefix(cb.String(), replicaRedirect) {
		t.Fatalf("the authorization did not end at the client: %d %s\n%s", p.Status, p.URL, p.Body)
	}
	ctx := context.Background()
	tok, err := e.conf.Exchange(ctx, browserCheckCallback(t, cb.Query(), auth.state, e.srv.URL), oauth2.VerifierOption(auth.verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt := browserVerify(t, ctx, oidc.NewVerifier(e.srv.URL, oidc.NewRemoteKeySet(ctx, e.srv.URL+"/jwks"), &oidc.Config{ClientID: e.clientID}), tok, auth.nonce)
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	return tok, claims
}

func amrOf(claims map[string]any) []string {
	var out []string
	for _, m := range claims["amr"].([]any) {
		out = append(out, m.(string))
	}
	return out
}

// newCitizen is a bank citizen unknown to our provider.
func newCitizen(phone, snils string) server.SimCitizen {
	return server.SimCitizen{
		Phone: phone, LastName: "Банкова", FirstName: "Анна", MiddleName: "Игоревна", Birthdate: "1990-05-17", Gender: "F",
		Birthplace: "г. Тула", SNILS: snils,
		Passport: &server.SimPassport{Series: "4510", Number: "123456", IssueDate: "2010-06-01", Issuer: "ОВД района Арбат г. Москвы", DepartmentCode: "770-001"},
	}
}

// TestBankRegisterConfirmed: a citizen unknown here logs in through a
// bank that identified them in person: an account is made from the
// bank's verified data (amr fed), the registry check passes and the
// bank's evidence confirms it, which verified_claims then says.
func TestBankRegisterConfirmed(t *testing.T) {
	t.Parallel()
	phone := randomPhone(t)
	e := newBankEnv(t, []server.SimCitizen{newCitizen(phone, "12345678964")})
	r := newRegistrant(t, e.srv, e.srv.URL)
	toBank, auth := e.toBank(t, r, "here")
	reg := r.follow(e.atBank(t, r, toBank, phone))
	if reg.URL.Path != "/login/bank/register" || !strings.Contains(reg.Body, "Банкова Анна Игоревна") || strings.Contains(reg.Body, "12345678964") {
		t.Fatalf("the registration page: %d %s\n%s", reg.Status, reg.URL, reg.Body)
	}
	if p := r.submit(reg, 0, nil); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `id="accept_terms-error"`) {
		t.Fatalf("without the terms accepted: %d\n%s", p.Status, p.Body)
	}
	tok, claims := e.finishAuth(t, r, r.submit(reg, 0, url.Values{"accept_terms": {"on"}}), auth)
	if amr := amrOf(claims); !slices.Equal(amr, []string{"fed"}) {
		t.Fatalf("amr %v, want [fed]", amr)
	}
	sub := claims["sub"].(string)
	a := waitLevel(t, e.srv.Admin(), sub, "confirmed", 30*time.Second)
	if a.ConfirmationMethod != "bank" {
		t.Fatalf("confirmed by %q, want bank", a.ConfirmationMethod)
	}
	info := userinfo(t, e.srv, tok.AccessToken)
	// The bank vouched first (at registration), the registries after.
	if methods := verifiedEvidence(t, info, "family_name"); !slices.Equal(methods, []string{"vpip", "data"}) {
		t.Fatalf("evidence %v, want the bank's vpip and the registry's data check", methods)
	}

	// The next login through the bank, from another browser, logs in
	// directly: the subject is linked.
	r2 := newRegistrant(t, e.srv, e.srv.URL)
	toBank, auth = e.toBank(t, r2, "here")
	_, claims = e.finishAuth(t, r2, e.atBank(t, r2, toBank, phone), auth)
	if claims["sub"] != sub || claims["level"] != "confirmed" {
		t.Fatalf("the second bank login: sub %v level %v, want %s confirmed", claims["sub"], claims["level"], sub)
	}
}

// TestBankLinkExisting: the bank vouches for the SNILS of an account that
// exists here, whose personal data were checked; the citizen links it
// with the account's password (a wrong one is refused), and the next bank
// login needs no password.
func TestBankLinkExisting(t *testing.T) {
	t.Parallel()
	phone, citizenPhone := randomPhone(t), randomPhone(t)
	citizen := newCitizen(citizenPhone, "12345678964")
	citizen.MiddleName = ""
	e := newBankEnv(t, []server.SimCitizen{citizen})
	acct, err := e.srv.Admin().CreateAccount(context.Background(), adminclient.NewAccount{
		Phone: phone, Password: registerPassword, LastName: "Банкова", FirstName: "Анна",
	})
	if err != nil {
		t.Fatal(err)
	}
	// The SNILS through the account pages; the check passes.
	r := newRegistrant(t, e.srv, e.srv.URL)
	login := r.follow(r.get("/account/personal"))
	personal := r.follow(r.submit(login, 0, url.Values{"identifier": {phone}, "password": {registerPassword}}))
	if p := r.submit(personal, 0, personalData("Банкова", "Анна", "12345678964", "4510", "123456")); p.Status != http.StatusSeeOther {
		t.Fatalf("personal data: %d\n%s", p.Status, p.Body)
	}
	waitLevel(t, e.srv.Admin(), acct.ID, "standard", 30*time.Second)
	r = newRegistrant(t, e.srv, e.srv.URL)
	toBank, auth := e.toBank(t, r, "here")
	linkPage := r.follow(e.atBank(t, r, toBank, citizenPhone))
	if linkPage.URL.Path != "/login/bank/link" || !strings.Contains(linkPage.Body, "СНИЛС") || strings.Contains(linkPage.Body, "12345678964") {
		t.Fatalf("the link page: %d %s\n%s", linkPage.Status, linkPage.URL, linkPage.Body)
	}
	if p := r.submit(linkPage, 0, url.Values{"password": {"not-the-password"}}); p.Status != http.StatusUnauthorized || !strings.Contains(p.Body, `id="password-error"`) {
		t.Fatalf("a wrong password: %d\n%s", p.Status, p.Body)
	}
	_, claims := e.finishAuth(t, r, r.submit(linkPage, 0, url.Values{"password": {registerPassword}}), auth)
	if claims["sub"] != acct.ID || !slices.Equal(amrOf(claims), []string{"fed", "pwd"}) {
		t.Fatalf("after linking: sub %v amr %v", claims["sub"], claims["amr"])
	}

	r2 := newRegistrant(t, e.srv, e.srv.URL)
	toBank, auth = e.toBank(t, r2, "here")
	_, claims = e.finishAuth(t, r2, e.atBank(t, r2, toBank, citizenPhone), auth)
	if claims["sub"] != acct.ID || !slices.Equal(amrOf(claims), []string{"fed"}) {
		t.Fatalf("the linked bank login: sub %v amr %v", claims["sub"], claims["amr"])
	}
	// The security page lists the bank; unlinking it takes the password.
	sec := r2.get("/account/security")
	if sec.Status != http.StatusOK || !strings.Contains(sec.Body, `data-bank="sim"`) {
		t.Fatalf("the security page: %d\n%s", sec.Status, sec.Body)
	}
	confirm := r2.submit(sec, formIndex(t, sec, `value="remove_bank"`), url.Values{"action": {"remove_bank"}})
	if confirm.Status != http.StatusOK || !confirm.Has("password") {
		t.Fatalf("unlink without the password: %d\n%s", confirm.Status, confirm.Body)
	}
	if p := r2.submit(confirm, 0, url.Values{"password": {registerPassword}}); p.Status != http.StatusSeeOther {
		t.Fatalf("unlink: %d\n%s", p.Status, p.Body)
	}
	sec = r2.get("/account/security")
	if strings.Contains(sec.Body, `data-bank="sim"`) {
		t.Fatal("the bank is still listed after unlinking")
	}
	for _, ev := range []string{"Банк привязан", "Вход через банк", "Банк отвязан"} {
		if !strings.Contains(sec.Body, ev) {
			t.Errorf("the history lacks %q", ev)
		}
	}
	// Unlinked: the bank login asks for the password again.
	r3 := newRegistrant(t, e.srv, e.srv.URL)
	toBank, _ = e.toBank(t, r3, "here")
	if p := r3.follow(e.atBank(t, r3, toBank, citizenPhone)); p.URL.Path != "/login/bank/link" {
		t.Fatalf("after unlinking: %d %s", p.Status, p.URL)
	}
}

// TestBankConfirmsOrExplains: two accounts at standard, with checked
// personal data; the bank identified both citizens in person. One's data
// match: linking confirms it (method bank). The other changed passport
// since the bank saw it: the login goes on, the level stays, and the page
// says why.
func TestBankConfirmsOrExplains(t *testing.T) {
	t.Parallel()
	same, changed := randomPhone(t), randomPhone(t)
	ok := newCitizen(same, "12345678964")
	ok.LastName, ok.FirstName, ok.MiddleName = "Смирнова", "Ольга", ""
	old := newCitizen(changed, "23456789099")
	old.LastName, old.FirstName, old.MiddleName = "Смирнова", "Ольга", ""
	old.Passport.Number = "111111" // the passport before the new one
	e := newBankEnv(t, []server.SimCitizen{ok, old})
	adm := e.srv.Admin()

	for _, c := range []struct {
		phone, snils, number string
		confirmed            bool
	}{
		{same, "12345678964", "123456", true},
		{changed, "23456789099", "222222", false},
	} {
		a, err := adm.CreateAccount(context.Background(), adminclient.NewAccount{Phone: c.phone, Password: registerPassword, LastName: "Смирнова", FirstName: "Ольга"})
		if err != nil {
			t.Fatal(err)
		}
		// Personal data through the account pages; the check passes.
		r := newRegistrant(t, e.srv, e.srv.URL)
		login := r.follow(r.get("/account/personal"))
		personal := r.follow(r.submit(login, 0, url.Values{"identifier": {c.phone}, "password": {registerPassword}}))
		if p := r.submit(personal, 0, personalData("Смирнова", "Ольга", c.snils, "4510", c.number)); p.Status != http.StatusSeeOther {
			t.Fatalf("personal data: %d\n%s", p.Status, p.Body)
		}
		waitLevel(t, adm, a.ID, "standard", 30*time.Second)

		// Another browser logs in through the bank.
		r = newRegistrant(t, e.srv, e.srv.URL)
		toBank, auth := e.toBank(t, r, "here")
		linkPage := r.follow(e.atBank(t, r, toBank, c.phone))
		if linkPage.URL.Path != "/login/bank/link" {
			t.Fatalf("not the link page: %d %s\n%s", linkPage.Status, linkPage.URL, linkPage.Body)
		}
		after := r.submit(linkPage, 0, url.Values{"password": {registerPassword}})
		if c.confirmed {
			e.finishAuth(t, r, after, auth)
			if got := waitLevel(t, adm, a.ID, "confirmed", 10*time.Second); got.ConfirmationMethod != "bank" {
				t.Fatalf("confirmed by %q", got.ConfirmationMethod)
			}
			continue
		}
		if after.Status != http.StatusOK || !strings.Contains(after.Body, `data-reason="bank.mismatch_passport"`) {
			t.Fatalf("a changed passport: %d\n%s", after.Status, after.Body)
		}
		for _, other := range []string{"snils", "name", "birthdate"} {
			if strings.Contains(after.Body, `data-reason="bank.mismatch_`+other) {
				t.Errorf("reason %s given too", other)
			}
		}
		_, claims := e.finishAuth(t, r, r.get(link(t, after, `/login/resume\?flow=[^"]+`)), auth)
		if claims["level"] != "standard" {
			t.Fatalf("level after the mismatch %v", claims["level"])
		}
		if got, err := adm.GetAccount(context.Background(), a.ID); err != nil || got.Level != "standard" || got.ConfirmationMethod != "" {
			t.Fatalf("the account after the mismatch: %+v, %v", got, err)
		}
	}
}

var qrURL = regexp.MustCompile(`id="bank-qr-url">([^<]+)<`)

// TestBankQRHandoff: the desktop shows a QR code; the phone opens its URL,
// confirms and signs in at the bank, and is told to return to the
// computer; the desktop's page then takes the bank's answer and finishes
// the same authorization, once. The URL works once.
func TestBankQRHandoff(t *testing.T) {
	t.Parallel()
	phone := randomPhone(t)
	e := newBankEnv(t, []server.SimCitizen{newCitizen(phone, "12345678964")})
	desk := newRegistrant(t, e.srv, e.srv.URL)
	started, auth := e.toBank(t, desk, "qr")
	qr := desk.follow(started)
	m := qrURL.FindStringSubmatch(qr.Body)
	if qr.Status != http.StatusOK || m == nil || !strings.Contains(qr.Body, `<meta http-equiv="refresh"`) || !strings.Contains(qr.Body, `src="data:image/png;base64,`) {
		t.Fatalf("the QR page: %d\n%s", qr.Status, qr.Body)
	}
	target := strings.ReplaceAll(m[1], "&amp;", "&")
	status := e.srv.URL + strings.ReplaceAll(regexp.MustCompile(`data-status="([^"]+)"`).FindStringSubmatch(qr.Body)[1], "&amp;", "&")
	if s := desk.get(status); !strings.Contains(s.Body, `"done":false`) {
		t.Fatalf("status before the phone: %s", s.Body)
	}
	// Still waiting: the page shows the code again.
	if again := desk.get(qr.URL.String()); again.Status != http.StatusOK || !strings.Contains(again.Body, m[1]) {
		t.Fatalf("the QR page while waiting: %d", again.Status)
	}

	phoneBrowser := newRegistrant(t, e.srv, e.srv.URL)
	confirm := phoneBrowser.get(target)
	if confirm.Status != http.StatusOK || !strings.Contains(confirm.Body, "Госуслуги региона") {
		t.Fatalf("the phone's page: %d\n%s", confirm.Status, confirm.Body)
	}
	// The phone is shown which computer shows the code: its browser (this
	// test's HTTP client), its network and when the login began.
	desktop := regexp.MustCompile(`(?s)id="bank-phone-desktop".*?<strong>([^<]+)</strong>(.*?)</p>`).FindStringSubmatch(confirm.Body)
	if desktop == nil || !strings.Contains(desktop[1], "Go-http-client") || !strings.Contains(desktop[2], "127.0.0.0/24") || !strings.Contains(desktop[2], "(мск)") {
		t.Errorf("the phone's page does not show the desktop: %q", desktop)
	}
	done := e.atBank(t, phoneBrowser, phoneBrowser.submit(confirm, 0, nil), phone)
	if done.Status != http.StatusOK || !strings.Contains(done.Body, `id="bank-phone-done"`) {
		t.Fatalf("the phone after the bank: %d\n%s", done.Status, done.Body)
	}
	// The URL was used: another phone (or the same one) is refused.
	if p := newRegistrant(t, e.srv, e.srv.URL).get(target); p.Status != http.StatusGone {
		t.Fatalf("the QR URL again: %d", p.Status)
	}

	if s := desk.get(status); !strings.Contains(s.Body, `"done":true`) {
		t.Fatalf("status after the phone: %s", s.Body)
	}
	reg := desk.follow(desk.get(qr.URL.String()))
	if reg.URL.Path != "/login/bank/register" {
		t.Fatalf("the desktop after the phone: %d %s\n%s", reg.Status, reg.URL, reg.Body)
	}
	// Only once: the hand-off is spent.
	if p := desk.get(qr.URL.String()); p.Status != http.StatusGone {
		t.Fatalf("the QR page after the answer was taken: %d\n%s", p.Status, p.Body)
	}
	_, claims := e.finishAuth(t, desk, desk.submit(reg, 0, url.Values{"accept_terms": {"on"}}), auth)
	if !slices.Equal(amrOf(claims), []string{"fed"}) {
		t.Fatalf("amr %v", claims["amr"])
	}
}
