package e2e

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/idp/server"
	"github.com/esia-oidc/idp/internal/testserver"
)

// catalogEnv is a provider and the catalog portal, both processes on
// PostgreSQL + Redis, and a simplified-level citizen.
type catalogEnv struct {
	sh      *testserver.Shared
	idp     *testserver.Server
	catalog *testserver.Catalog
	phone   string
}

func newCatalogEnv(t *testing.T, idpEnv ...string) *catalogEnv {
	t.Helper()
	ctx := ctxT(t)
	sh := testserver.NewShared(t)
	srv := testserver.Start(t, sh, idpEnv...)
	adm := srv.Admin()
	cat := testserver.StartCatalog(t, sh, testserver.CatalogOptions{
		Issuer: srv.URL,
		Register: func(u string) (string, string, error) {
			// What an integrator registers for the portal (see
			// docs/integrator-guide.md): a public client with PKCE, its
			// callback, post-logout page and back-channel logout receiver.
			c, err := adm.CreateClient(ctx, adminclient.ClientMetadata{
				ClientName:              "Каталог услуг",
				RedirectURIs:            []string{u + "/callback"},
				PostLogoutRedirectURIs:  []string{u + "/"},
				GrantTypes:              []string{"authorization_code", "refresh_token"},
				Scope:                   strings.Join(server.DemoClientScopes(), " "),
				TokenEndpointAuthMethod: "none",
				BackchannelLogoutURI:    u + "/backchannel-logout",
			})
			if err != nil {
				return "", "", err
			}
			return c.ClientID, c.ClientSecret, nil
		},
		Env: []string{"CATALOG_SIM_DELAY=300ms"},
	})
	phone := "+7916" + randomDigits(7)
	if _, err := adm.CreateAccount(ctx, adminclient.NewAccount{Phone: phone, Password: citizenPwd,
		LastName: "Смирнова", FirstName: "Анна", MiddleName: "Сергеевна", Birthdate: "1991-07-14"}); err != nil {
		t.Fatalf("create account: %v", err)
	}
	return &catalogEnv{sh: sh, idp: srv, catalog: cat, phone: phone}
}

// follow GETs u with the agent and follows redirects while they stay on
// the catalog; it returns the first page that is not a redirect, or the
// first redirect to the provider.
func (e *catalogEnv) follow(t *testing.T, ag *testserver.Agent, u string) *testserver.Page {
	t.Helper()
	ctx := ctxT(t)
	for range 10 {
		p, err := ag.Get(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		loc := p.Location()
		if loc == nil || !strings.HasPrefix(loc.String(), e.catalog.URL+"/") {
			return p
		}
		u = loc.String()
	}
	t.Fatalf("too many redirects from %s", u)
	return nil
}

// login walks from a catalog URL that needs a login through the
// provider's pages back to the catalog, and returns the page it lands on.
func (e *catalogEnv) login(t *testing.T, ag *testserver.Agent, start string) *testserver.Page {
	t.Helper()
	p := e.follow(t, ag, start)
	loc := p.Location()
	if loc == nil || !strings.HasPrefix(loc.String(), e.idp.URL+"/authorize?") {
		t.Fatalf("%s did not send the browser to the provider: %d %v", start, p.Status, loc)
	}
	q := loc.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("nonce") == "" {
		t.Errorf("the catalog's authorization request lacks PKCE, state or nonce: %v", q)
	}
	cb, page, err := ag.Authorize(ctxT(t), loc.String(), testserver.Login{Identifier: e.phone, Password: citizenPwd})
	if err != nil {
		t.Fatalf("login at the provider: %v (page %d %s: %.400s)", err, page.Status, page.URL.Path, page.Body)
	}
	if !strings.HasPrefix(cb.String(), e.catalog.URL+"/callback?") {
		t.Fatalf("the provider sent the browser to %s", cb)
	}
	return e.follow(t, ag, cb.String())
}

var (
	csrfField   = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	statusField = regexp.MustCompile(`id="status" data-status="([a-z_]+)"`)
)

func lastCSRF(t *testing.T, p *testserver.Page) string {
	t.Helper()
	m := csrfField.FindAllStringSubmatch(p.Body, -1)
	if m == nil {
		t.Fatalf("no CSRF token on %s", p.URL)
	}
	return m[len(m)-1][1]
}

// TestCatalogLoginApplyLogout is the demo path: the catalog sends the
// citizen to the provider's login, gets them back, takes an application
// for a simplified-level service pre-filled from userinfo, lists it,
// watches its status move, and logs out at the catalog, which ends the
// provider session too.
func TestCatalogLoginApplyLogout(t *testing.T) {
	t.Parallel()
	e := newCatalogEnv(t)
	ctx := ctxT(t)
	ag := testserver.NewAgent(e.idp.URL, nil)

	form := e.login(t, ag, e.catalog.URL+"/services/traffic-fines/apply")
	if form.Status != http.StatusOK || form.URL.Path != "/services/traffic-fines/apply" || !strings.Contains(form.Body, `value="Смирнова"`) {
		t.Fatalf("after login: %d at %s: %.500s", form.Status, form.URL, form.Body)
	}
	done, err := ag.Submit(ctx, form, testserver.Form{Action: "/services/traffic-fines/apply", Fields: url.Values{"csrf_token": {lastCSRF(t, form)}}},
		url.Values{"last_name": {"Смирнова"}, "first_name": {"Анна"}, "phone": {e.phone}, "vehicle_plate": {"А123ВС777"}})
	if err != nil {
		t.Fatal(err)
	}
	appURL := done.Location()
	if done.Status != http.StatusSeeOther || appURL == nil || !strings.HasPrefix(appURL.Path, "/applications/") {
		t.Fatalf("submit: %d %v: %.400s", done.Status, appURL, done.Body)
	}
	page := e.follow(t, ag, appURL.String())
	if m := statusField.FindStringSubmatch(page.Body); m == nil || (m[1] != "submitted" && m[1] != "in_review") {
		t.Fatalf("new application status: %v", m)
	}
	number := strings.TrimPrefix(appURL.Path, "/applications/")

	// The catalog keeps the session's tokens sealed in its own schema.
	conn, err := pgx.Connect(ctx, e.sh.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var access, refresh, idToken string
	err = conn.QueryRow(ctx, `SELECT access_token, refresh_token, id_token FROM `+pgx.Identifier{e.catalog.Schema, "sessions"}.Sanitize()).Scan(&access, &refresh, &idToken)
	if err != nil {
		t.Fatalf("read the catalog's session row: %v", err)
	}
	for _, v := range []string{access, refresh, idToken} {
		if !strings.HasPrefix(v, "sealed1:") {
			t.Errorf("a token is stored unsealed: %.12s...", v)
		}
	}
	if list := e.follow(t, ag, e.catalog.URL+"/applications"); !strings.Contains(list.Body, `data-number="`+number+`"`) {
		t.Errorf("my applications do not list %s", number)
	}

	// The development simulator moves it on: in review, then decided.
	deadline := time.Now().Add(20 * time.Second)
	var status string
	for time.Now().Before(deadline) {
		page = e.follow(t, ag, appURL.String())
		if m := statusField.FindStringSubmatch(page.Body); m != nil {
			status = m[1]
		}
		if status == "approved" || status == "rejected" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if (status != "approved" && status != "rejected") || !strings.Contains(page.Body, `<li data-status="in_review">`) {
		t.Fatalf("the status did not move to a decision: %q", status)
	}

	// A forged logout token is refused and ends nothing.
	resp, err := http.PostForm(e.catalog.URL+"/backchannel-logout", url.Values{"logout_token": {"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("forged logout token: %d, want 400", resp.StatusCode)
	}

	// Logout at the catalog: it revokes, ends its session and sends the
	// browser to the provider's end_session_endpoint with id_token_hint,
	// which ends the provider session and comes back. (The provider then
	// sends the catalog a logout token too, for a session it has already
	// ended; TestCatalogBackchannelLogout is the logout that starts at the
	// provider.)
	home := e.follow(t, ag, e.catalog.URL+"/")
	m := csrfField.FindStringSubmatch(home.Body) // the header's logout form
	if m == nil {
		t.Fatal("no logout form while logged in")
	}
	out, err := ag.Submit(ctx, home, testserver.Form{Action: "/logout", Fields: url.Values{"csrf_token": {m[1]}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	end := out.Location()
	if end == nil || !strings.HasPrefix(end.String(), e.idp.URL+"/logout?") || end.Query().Get("id_token_hint") == "" {
		t.Fatalf("catalog logout: %d to %v", out.Status, end)
	}
	back, err := ag.Get(ctx, end.String())
	if err != nil {
		t.Fatal(err)
	}
	if loc := back.Location(); loc == nil || loc.String() != e.catalog.URL+"/" {
		t.Fatalf("provider logout: %d to %v: %.300s", back.Status, loc, back.Body)
	}
	if anon := e.follow(t, ag, e.catalog.URL+"/"); !strings.Contains(anon.Body, `id="login"`) {
		t.Error("the catalog still shows a session after logout")
	}
	// The provider session is gone: the next login asks for the password.
	p := e.follow(t, ag, e.catalog.URL+"/login?return=%2F")
	page2, err := ag.Get(ctx, p.Location().String())
	for err == nil && page2.Location() != nil && strings.HasPrefix(page2.Location().String(), e.idp.URL) {
		page2, err = ag.Get(ctx, page2.Location().String())
	}
	if err != nil || !page2.Has("password") {
		t.Errorf("after logout the provider did not ask for the password again: %v %d %s", err, page2.Status, page2.URL)
	}
}

// TestCatalogStepUpGivenUp: a simplified citizen on a confirmed-level
// service sees why and a button that starts a new authorization with
// acr_values=confirmed; the provider explains how to raise the level, and
// giving up there lands on the catalog's explanation, not an error page.
func TestCatalogStepUpGivenUp(t *testing.T) {
	t.Parallel()
	e := newCatalogEnv(t)
	ctx := ctxT(t)
	ag := testserver.NewAgent(e.idp.URL, nil)
	e.login(t, ag, e.catalog.URL+"/login?return=%2F")

	svc := e.follow(t, ag, e.catalog.URL+"/services/foreign-passport")
	if !strings.Contains(svc.Body, `id="below-level"`) || !strings.Contains(svc.Body, `data-required-level="confirmed"`) {
		t.Fatalf("service page for a simplified citizen: %.600s", svc.Body)
	}
	i := strings.Index(svc.Body, `id="raise" href="`)
	if i < 0 {
		t.Fatal("no step-up button")
	}
	href := svc.Body[i+len(`id="raise" href="`):]
	href = strings.ReplaceAll(href[:strings.IndexByte(href, '"')], "&amp;", "&")
	p := e.follow(t, ag, e.catalog.URL+href)
	loc := p.Location()
	if loc == nil || loc.Query().Get("acr_values") != "confirmed" {
		t.Fatalf("step-up authorization: %v", loc)
	}
	_, stop, err := ag.Authorize(ctx, loc.String(), testserver.Login{})
	if err == nil || stop.Status != http.StatusForbidden || !strings.Contains(stop.Body, "/authorize/cancel?flow=") {
		t.Fatalf("the provider did not explain the level: %v %d", err, stop.Status)
	}
	j := strings.Index(stop.Body, "/authorize/cancel?flow=")
	cancel := strings.ReplaceAll(stop.Body[j:j+strings.IndexByte(stop.Body[j:], '"')], "&amp;", "&")
	gaveUp, err := ag.Get(ctx, e.idp.URL+cancel)
	if err != nil {
		t.Fatal(err)
	}
	cb := gaveUp.Location()
	if cb == nil || cb.Query().Get("error") != "unmet_authentication_requirements" {
		t.Fatalf("giving up: %d %v", gaveUp.Status, cb)
	}
	explain := e.follow(t, ag, cb.String())
	if explain.Status != http.StatusOK || !strings.Contains(explain.Body, `data-reason="unmet"`) || !strings.Contains(explain.Body, "Заграничный паспорт") {
		t.Fatalf("explanation: %d %.600s", explain.Status, explain.Body)
	}
	// The catalog session from before is still there.
	if !strings.Contains(explain.Body, `data-level="simplified"`) {
		t.Error("giving up the step-up ended the catalog session")
	}
}

// TestCatalogStepUpAfterConfirmation: a citizen whose personal data passed
// the registry check (standard) steps up on a confirmed-level service;
// while the provider's level-up page is open, a service-centre operator
// confirms the citizen in person; the citizen continues the same
// authorization, lands back on the service at the catalog and applies.
func TestCatalogStepUpAfterConfirmation(t *testing.T) {
	t.Parallel()
	e := newCatalogEnv(t, "IDP_DEV=true", "IDP_REGISTRY_SIM_DELAY=0s", "IDP_JOB_POLL_INTERVAL=50ms")
	ctx := ctxT(t)
	adm := e.idp.Admin()
	phone := "+7916" + randomDigits(7)
	acct, err := adm.CreateAccount(ctx, adminclient.NewAccount{Phone: phone, Password: citizenPwd, LastName: "Орлова", FirstName: "Ольга"})
	if err != nil {
		t.Fatal(err)
	}
	e.phone = phone
	ag := testserver.NewAgent(e.idp.URL, nil)
	e.login(t, ag, e.catalog.URL+"/login?return=%2F")
	// Personal data at the provider, checked: standard.
	data := personalData("Орлова", "Ольга", "123-456-789 64", "4512", "345678")
	data.Set("birth_date", "03.02.1988")
	personal, err := ag.Get(ctx, e.idp.URL+"/account/personal")
	if err != nil {
		t.Fatal(err)
	}
	if saved, err := ag.Submit(ctx, personal, personal.Forms()[0], data); err != nil || saved.Status != http.StatusSeeOther {
		t.Fatalf("save personal data: %v %d", err, saved.Status)
	}
	waitLevel(t, adm, acct.ID, "standard", 30*time.Second)
	svc := e.follow(t, ag, e.catalog.URL+"/services/foreign-passport")
	i := strings.Index(svc.Body, `id="raise" href="`)
	if i < 0 {
		t.Fatalf("no step-up button: %.500s", svc.Body)
	}
	href := svc.Body[i+len(`id="raise" href="`):]
	href = strings.ReplaceAll(href[:strings.IndexByte(href, '"')], "&amp;", "&")
	loc := e.follow(t, ag, e.catalog.URL+href).Location()
	_, levelUp, err := ag.Authorize(ctx, loc.String(), testserver.Login{})
	if err == nil || levelUp.Status != http.StatusForbidden || !strings.Contains(levelUp.Body, `data-level="standard"`) {
		t.Fatalf("the provider's level-up page: %v %d", err, levelUp.Status)
	}

	// The operator confirms.
	if _, err := adm.CreateOperator(ctx, adminclient.NewOperator{Login: "okno2", Password: "Operator-Pass-2026!", Name: "Окно 2", Roles: []string{"operator"}}); err != nil {
		t.Fatal(err)
	}
	op := newRegistrant(t, e.idp, e.idp.URL)
	if p := op.submit(op.get("/operator/login"), 0, url.Values{"identifier": {"okno2"}, "password": {"Operator-Pass-2026!"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("operator login: %d", p.Status)
	}
	card := op.get("/operator/accounts/" + acct.ID)
	if p := op.submit(card, formIndex(t, card, `value="confirm"`), url.Values{"action": {"confirm"}, "document_checked": {"on"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("confirm: %d\n%s", p.Status, p.Body)
	}

	// Continue the same authorization: back at the catalog's service.
	resume := link(t, levelUp, `/login/resume\?flow=[^"]+`)
	cb, page, err := ag.Authorize(ctx, e.idp.URL+resume, testserver.Login{})
	if err != nil {
		t.Fatalf("continue after confirmation: %v (%d %.300s)", err, page.Status, page.Body)
	}
	landed := e.follow(t, ag, cb.String())
	if landed.Status != http.StatusOK || !strings.Contains(landed.URL.Path, "foreign-passport") {
		t.Fatalf("after the step-up: %d at %s: %.500s", landed.Status, landed.URL, landed.Body)
	}
	form := e.follow(t, ag, e.catalog.URL+"/services/foreign-passport/apply")
	if form.Status != http.StatusOK || !strings.Contains(form.Body, `value="Орлова"`) {
		t.Fatalf("the apply form of a confirmed citizen: %d %.500s", form.Status, form.Body)
	}
	done, err := ag.Submit(ctx, form, testserver.Form{Action: "/services/foreign-passport/apply", Fields: url.Values{"csrf_token": {lastCSRF(t, form)}}},
		url.Values{"last_name": {"Орлова"}, "first_name": {"Ольга"}, "birth_date": {"1988-02-03"}, "snils": {"12345678964"}, "latin_name": {"OLGA ORLOVA"}})
	if err != nil {
		t.Fatal(err)
	}
	if appURL := done.Location(); done.Status != http.StatusSeeOther || appURL == nil || !strings.HasPrefix(appURL.Path, "/applications/") {
		t.Fatalf("apply: %d %v: %.400s", done.Status, appURL, done.Body)
	}
}

// TestCatalogBackchannelLogout: a citizen logged in at the catalog logs
// out at the provider itself (its /logout without a client, confirmed on
// its page), not at the catalog. The provider sends the catalog a logout
// token from a durable job; the catalog's receiver verifies it and ends
// its session, so the catalog shows the citizen logged out. Nothing else
// ends that session: the provider's logout revokes no token.
func TestCatalogBackchannelLogout(t *testing.T) {
	t.Parallel()
	e := newCatalogEnv(t)
	ctx := ctxT(t)
	ag := testserver.NewAgent(e.idp.URL, nil)
	home := e.login(t, ag, e.catalog.URL+"/login?return=%2F")
	if home.Status != http.StatusOK || strings.Contains(home.Body, `id="login"`) || !strings.Contains(home.Body, `data-level="simplified"`) {
		t.Fatalf("after login the catalog shows no session: %d %.400s", home.Status, home.Body)
	}

	ask, err := ag.Get(ctx, e.idp.URL+"/logout")
	if err != nil {
		t.Fatal(err)
	}
	var confirm *testserver.Form
	for _, f := range ask.Forms() {
		if f.Action == "/logout/confirm" {
			confirm = &f
		}
	}
	if ask.Status != http.StatusOK || confirm == nil {
		t.Fatalf("the provider's logout did not ask to confirm: %d %.400s", ask.Status, ask.Body)
	}
	done, err := ag.Submit(ctx, ask, *confirm, nil)
	if err != nil || done.Status != http.StatusOK {
		t.Fatalf("confirm logout: %v %d", err, done.Status)
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		page := e.follow(t, ag, e.catalog.URL+"/")
		if strings.Contains(page.Body, `id="login"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the catalog session survived the logout at the provider: %.400s", page.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
