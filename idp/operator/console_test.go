package operator_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/internal/idptest"
	"github.com/esia-oidc/idp/internal/testserver"
	"github.com/esia-oidc/idp/store"
)

const (
	opPassword  = "Operator-Pass-2026!"
	citizenPass = "Citizen-Pass-2026!"
	phone       = "+79991112233"
)

type env struct {
	*idptest.IDP
	citizen *store.Account
	opID    string
	supID   string
}

// newEnv is a provider with a standard citizen (SNILS, passport, a passed
// registry check), an operator and a supervisor.
func newEnv(t *testing.T) *env {
	t.Helper()
	p := idptest.New(t)
	ctx := context.Background()
	now := time.Now().UTC()
	hash, err := p.Srv.Passwords.Hash(ctx, citizenPass)
	if err != nil {
		t.Fatal(err)
	}
	c := &store.Account{
		ID: "citizen", Level: store.LevelStandard, LastName: "Соколова", FirstName: "Ирина", Birthdate: "1985-03-02",
		Phone: phone, PhoneVerified: true, SNILS: "11223344595", PasswordHash: hash,
		Passport:  &store.Document{Type: store.DocPassport, Series: "4510", Number: "123456", IssueDate: "2005-04-01", Issuer: "ОВД Арбат", DepartmentCode: "770-001"},
		CreatedAt: now, UpdatedAt: now,
	}
	d := account.CheckedDigest(c)
	c.Verification = &store.Verification{ID: "ver1", Status: store.VerificationApproved, Digest: d, RequestedAt: now, DecidedAt: now}
	c.Evidence = []store.Evidence{{Kind: store.EvidenceRegistry, At: now, Ref: "ver1", Digest: d}}
	if err := p.Srv.Durable.CreateAccount(ctx, c); err != nil {
		t.Fatal(err)
	}
	adm := adminclient.New(p.Issuer, "admin-token-for-tests-only-0123456789abcdef", nil)
	op, err := adm.CreateOperator(ctx, adminclient.NewOperator{Login: "ivanova", Password: opPassword, Name: "Иванова О.", Roles: []string{"operator"}})
	if err != nil {
		t.Fatal(err)
	}
	sup, err := adm.CreateOperator(ctx, adminclient.NewOperator{Login: "petrov", Password: opPassword, Name: "Петров П.", Roles: []string{"operator", "supervisor"}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{IDP: p, citizen: c, opID: op.ID, supID: sup.ID}
}

func get(t *testing.T, a *testserver.Agent, path string) *testserver.Page {
	t.Helper()
	p, err := a.Get(context.Background(), a.Issuer+path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func submit(t *testing.T, a *testserver.Agent, p *testserver.Page, form int, vals url.Values) *testserver.Page {
	t.Helper()
	forms := p.Forms()
	if len(forms) <= form {
		t.Fatalf("%s has no form %d:\n%s", p.URL, form, p.Body)
	}
	next, err := a.Submit(context.Background(), p, forms[form], vals)
	if err != nil {
		t.Fatal(err)
	}
	return next
}

// login logs an operator in and returns the agent.
func (e *env) login(t *testing.T, login string) *testserver.Agent {
	t.Helper()
	a := e.Agent()
	page := get(t, a, "/operator/login")
	done := submit(t, a, page, 0, url.Values{"identifier": {login}, "password": {opPassword}})
	if loc := done.Location(); loc == nil || loc.Path != "/operator" {
		t.Fatalf("operator login: %d\n%s", done.Status, done.Body)
	}
	return a
}

// formWith returns the index of the page's form holding a button with the
// action value.
func formWith(t *testing.T, p *testserver.Page, action string) int {
	t.Helper()
	marker := `value="` + action + `"`
	forms := strings.Split(p.Body, "<form")
	n := -1
	for _, f := range forms[1:] {
		n++
		if strings.Contains(f[:strings.Index(f, "</form>")], marker) {
			return n
		}
	}
	t.Fatalf("no form with %s on %s", marker, p.URL)
	return -1
}

func (e *env) audit(t *testing.T) []*store.AuditEvent {
	t.Helper()
	events, err := e.Srv.Durable.ListAudit(context.Background(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func actions(events []*store.AuditEvent, actor string) []string {
	var out []string
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Actor == actor {
			out = append(out, events[i].Action)
		}
	}
	return out
}

// An operator finds a standard citizen by SNILS, passport, phone, confirms
// after ticking that the passport was checked, and every step is audited.
func TestConfirmInPerson(t *testing.T) {
	e := newEnv(t)
	a := e.login(t, "ivanova")
	for _, q := range []string{"112-233-445 95", "45 10 123456", "8 999 111-22-33"} {
		page := get(t, a, "/operator?q="+url.QueryEscape(q))
		if page.Status != http.StatusOK || !strings.Contains(page.Body, `href="/operator/accounts/citizen"`) {
			t.Fatalf("search %q: %d\n%s", q, page.Status, page.Body)
		}
	}
	if page := get(t, a, "/operator?q="+url.QueryEscape("+79990000000")); strings.Contains(page.Body, "/operator/accounts/") {
		t.Errorf("a phone nobody has found someone")
	}
	card := get(t, a, "/operator/accounts/citizen")
	if card.Status != http.StatusOK || !strings.Contains(card.Body, "Соколова Ирина") || !strings.Contains(card.Body, "4510 123456") {
		t.Fatalf("account card: %d\n%s", card.Status, card.Body)
	}
	confirm := formWith(t, card, "confirm")
	// Not ticked: refused, nothing changes.
	refused := submit(t, a, card, confirm, url.Values{"action": {"confirm"}})
	if refused.Status != http.StatusBadRequest || !strings.Contains(refused.Body, `id="document_checked-error"`) {
		t.Fatalf("confirm without the tick: %d", refused.Status)
	}
	if acct, _ := e.Srv.Durable.GetAccount(context.Background(), "citizen"); acct.Level != store.LevelStandard {
		t.Fatalf("level %s after a refused confirmation", acct.Level)
	}
	done := submit(t, a, card, confirm, url.Values{"action": {"confirm"}, "document_checked": {"on"}})
	if loc := done.Location(); loc == nil || loc.Path != "/operator/accounts/citizen" {
		t.Fatalf("confirm: %d\n%s", done.Status, done.Body)
	}
	acct, err := e.Srv.Durable.GetAccount(context.Background(), "citizen")
	if err != nil {
		t.Fatal(err)
	}
	last := acct.Evidence[len(acct.Evidence)-1]
	if acct.Level != store.LevelConfirmed || acct.ConfirmationMethod != store.EvidenceOperator || last.Kind != store.EvidenceOperator || last.Ref != e.opID || last.Digest != acct.Verification.Digest {
		t.Fatalf("after confirmation: level %s method %s evidence %+v", acct.Level, acct.ConfirmationMethod, last)
	}
	msgs := e.WaitMessages(t, phone, 1)
	if !strings.Contains(msgs[0].Body, "подтверждена") {
		t.Errorf("the citizen was told %q", msgs[0].Body)
	}
	got := strings.Join(actions(e.audit(t), "operator:"+e.opID), " ")
	want := "operator.login account.search account.search account.search account.search account.view account.confirm"
	if got != want {
		t.Errorf("audit trail %q, want %q", got, want)
	}
	for _, ev := range e.audit(t) {
		for _, v := range ev.Details {
			if strings.Contains(v, "11223344595") || strings.Contains(v, "123456") || strings.Contains(v, "9991112233") {
				t.Errorf("the audit trail holds personal data: %+v", ev)
			}
		}
	}
}

// Unlock and reject are audited; reject needs a reason from the list.
func TestUnlockAndReject(t *testing.T) {
	e := newEnv(t)
	a := e.login(t, "ivanova")
	card := get(t, a, "/operator/accounts/citizen")
	if done := submit(t, a, card, formWith(t, card, "unlock"), url.Values{"action": {"unlock"}}); done.Status != http.StatusSeeOther {
		t.Fatalf("unlock: %d", done.Status)
	}
	if bad := submit(t, a, card, formWith(t, card, "reject"), url.Values{"action": {"reject"}, "reason": {"whatever"}}); bad.Status != http.StatusBadRequest {
		t.Fatalf("reject with an unknown reason: %d", bad.Status)
	}
	if done := submit(t, a, card, formWith(t, card, "reject"), url.Values{"action": {"reject"}, "reason": {"document_mismatch"}}); done.Status != http.StatusSeeOther {
		t.Fatalf("reject: %d", done.Status)
	}
	if acct, _ := e.Srv.Durable.GetAccount(context.Background(), "citizen"); acct.Level != store.LevelStandard {
		t.Errorf("a refusal changed the level to %s", acct.Level)
	}
	events := e.audit(t)
	if got := strings.Join(actions(events, "operator:"+e.opID), " "); got != "operator.login account.view account.unlock account.reject" {
		t.Errorf("audit trail %q", got)
	}
	if events[0].Action != "account.reject" || events[0].Details["reason"] != "document_mismatch" || events[0].AccountID != "citizen" {
		t.Errorf("the refusal's event %+v", events[0])
	}
}

// The console takes neither the admin token nor a citizen's session; a
// wrong password is refused like an unknown login; the audit trail is the
// supervisors'.
func TestConsoleAccess(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// The admin token.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.Issuer+"/operator/accounts/citizen", nil)
	req.Header.Set("Authorization", "Bearer admin-token-for-tests-only-0123456789abcdef")
	resp, err := testserver.NewAgent(e.Issuer, nil).HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/operator/login" {
		t.Errorf("the admin token opened the console: %d", resp.StatusCode)
	}
	// A citizen's session.
	c := e.Agent()
	login := get(t, c, "/account")
	for login.Location() != nil {
		login = get(t, c, login.Location().RequestURI())
	}
	if done := submit(t, c, login, 0, url.Values{"identifier": {phone}, "password": {citizenPass}}); done.Location() == nil {
		t.Fatalf("citizen login: %d", done.Status)
	}
	if p := get(t, c, "/operator/accounts/citizen"); p.Status != http.StatusSeeOther {
		t.Errorf("a citizen's session opened the console: %d", p.Status)
	}
	// A POST without a session is refused, not redirected.
	if p := submit(t, c, get(t, c, "/operator/login"), 0, nil); p.Status == http.StatusOK {
		t.Errorf("empty login: %d", p.Status)
	}
	// Wrong password and unknown login: the same answer.
	a := e.Agent()
	page := get(t, a, "/operator/login")
	wrong := submit(t, a, page, 0, url.Values{"identifier": {"ivanova"}, "password": {"nope"}})
	unknown := submit(t, a, page, 0, url.Values{"identifier": {"nobody"}, "password": {"nope"}})
	if wrong.Status != http.StatusUnauthorized || unknown.Status != http.StatusUnauthorized {
		t.Errorf("wrong password %d, unknown login %d", wrong.Status, unknown.Status)
	}
	// An operator cannot read the trail; a supervisor can.
	op := e.login(t, "ivanova")
	if p := get(t, op, "/operator/audit"); p.Status != http.StatusForbidden {
		t.Errorf("an operator read the audit trail: %d", p.Status)
	}
	sup := e.login(t, "petrov")
	trail := get(t, sup, "/operator/audit?actor="+url.QueryEscape("operator:"+e.opID))
	if trail.Status != http.StatusOK || !strings.Contains(trail.Body, `data-action="operator.login"`) {
		t.Fatalf("the supervisor's audit page: %d\n%s", trail.Status, trail.Body)
	}
	if strings.Contains(trail.Body, "operator:"+e.supID+"</td>") {
		t.Errorf("the actor filter let the supervisor's own events through")
	}
	// Logout ends the session.
	home := get(t, sup, "/operator")
	for i, f := range home.Forms() {
		if f.Action == "/operator/logout" {
			if out := submit(t, sup, home, i, nil); out.Status != http.StatusSeeOther {
				t.Fatalf("logout: %d", out.Status)
			}
		}
	}
	if p := get(t, sup, "/operator"); p.Status != http.StatusSeeOther {
		t.Errorf("the console after logout: %d", p.Status)
	}
}

// The confirmation applies to the data the card showed: data changed
// meanwhile (and checked again) are refused, and so is an account whose
// data are not checked.
func TestConfirmOnlyWhatWasSeen(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := e.login(t, "ivanova")
	card := get(t, a, "/operator/accounts/citizen")
	if _, err := e.Srv.Durable.UpdateAccount(ctx, "citizen", func(acct *store.Account) error {
		acct.Passport.Number = "999999"
		d := account.CheckedDigest(acct)
		acct.Verification.Digest = d
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	refused := submit(t, a, card, formWith(t, card, "confirm"), url.Values{"action": {"confirm"}, "document_checked": {"on"}})
	if refused.Status != http.StatusConflict || !strings.Contains(refused.Body, "999999") {
		t.Fatalf("confirm of changed data: %d\n%s", refused.Status, refused.Body)
	}
	if acct, _ := e.Srv.Durable.GetAccount(ctx, "citizen"); acct.Level != store.LevelStandard {
		t.Fatalf("changed data were confirmed: %s", acct.Level)
	}
	if acts := actions(e.audit(t), "operator:"+e.opID); slices.Contains(acts, "account.confirm") {
		t.Errorf("a refused confirmation is in the audit trail: %v", acts)
	}
	// Unchecked data: no confirm form, and a forged post is refused.
	if _, err := e.Srv.Durable.UpdateAccount(ctx, "citizen", func(acct *store.Account) error {
		acct.Verification = nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	card = get(t, a, "/operator/accounts/citizen")
	if strings.Contains(card.Body, `value="confirm"`) {
		t.Errorf("a confirm button for unchecked data")
	}
	forged := submit(t, a, card, formWith(t, card, "unlock"), url.Values{"action": {"confirm"}, "document_checked": {"on"}})
	if forged.Status != http.StatusConflict {
		t.Errorf("confirm of unchecked data: %d", forged.Status)
	}
}
