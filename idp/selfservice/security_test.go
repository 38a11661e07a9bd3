package selfservice_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

// The security page lists the account's sessions with their browser and
// network; ending another session logs that browser out, and "end all
// others" leaves only this one.
func TestSecuritySessions(t *testing.T) {
	p := newIDP(t)
	a := p.loggedIn(t)
	b := p.loggedIn(t)
	c := p.loggedIn(t)
	page := get(t, a, "/account/security")
	wantStatus(t, page, http.StatusOK)
	if n := strings.Count(page.Body, "<li data-sid="); n != 3 {
		t.Fatalf("%d sessions listed, want 3:\n%s", n, page.Body)
	}
	if strings.Count(page.Body, `data-current="true"`) != 1 || !strings.Contains(page.Body, "127.0.0.0/24") {
		t.Errorf("this browser or the networks are not shown:\n%s", page.Body)
	}
	sessions, err := p.srv.Sessions.List(context.Background(), p.taken.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The session of b: the oldest but one (a, then b, then c).
	bSID := sessions[1].ID
	var form = -1
	for i, f := range page.Forms() {
		if f.Fields.Get("sid") == bSID {
			form = i
		}
	}
	if form < 0 {
		t.Fatalf("no end_session form for %s", bSID)
	}
	done, err := a.Submit(context.Background(), page, page.Forms()[form], url.Values{"action": {"end_session"}})
	if err != nil || done.Status != http.StatusSeeOther {
		t.Fatalf("end a session: %v %d", err, done.Status)
	}
	if loc := get(t, b, "/account").Location(); loc == nil || loc.Path != "/login" {
		t.Errorf("the ended session still serves: %v", loc)
	}
	if get(t, c, "/account").Status != http.StatusOK {
		t.Errorf("another session ended too")
	}
	page = get(t, a, "/account/security")
	forms := page.Forms()
	last := forms[len(forms)-1] // the end_others form follows the sessions'
	if last.Fields.Get("sid") != "" {
		t.Fatalf("no end_others form:\n%s", page.Body)
	}
	others, err := a.Submit(context.Background(), page, last, url.Values{"action": {"end_others"}})
	if err != nil || others.Status != http.StatusSeeOther {
		t.Fatalf("end others: %v %d", err, others.Status)
	}
	if loc := get(t, c, "/account").Location(); loc == nil || loc.Path != "/login" {
		t.Errorf("end_others left another session: %v", loc)
	}
	if get(t, a, "/account").Status != http.StatusOK {
		t.Errorf("end_others ended this session too")
	}
	// A forged form without the token is refused.
	forged := page.Forms()[0]
	forged.Fields.Del("csrf_token")
	if p2, _ := a.Submit(context.Background(), page, forged, url.Values{"action": {"end_others"}}); p2.Status != http.StatusForbidden {
		t.Errorf("no CSRF token: %d", p2.Status)
	}
}

// The security page shows the account's events of the last 90 days,
// newest first: logins, wrong passwords, operators' actions (marked).
func TestSecurityHistory(t *testing.T) {
	p := newIDP(t)
	ctx := context.Background()
	if err := p.srv.Durable.AppendAudit(ctx, &store.AuditEvent{At: time.Now().Add(-100 * 24 * time.Hour), Actor: "citizen:" + p.taken.ID,
		Action: "personal.save", AccountID: p.taken.ID}); err != nil {
		t.Fatal(err)
	}
	if err := p.srv.Durable.AppendAudit(ctx, &store.AuditEvent{Actor: "operator:op1", Action: "account.view", AccountID: p.taken.ID}); err != nil {
		t.Fatal(err)
	}
	b := p.agent()
	login := follow(t, b, get(t, b, "/account"))
	wantStatus(t, submit(t, b, login, "", url.Values{"identifier": {takenPhone}, "password": {"wrong"}}), http.StatusUnauthorized)
	a := p.loggedIn(t)
	page := get(t, a, "/account/security")
	body := page.Body
	for _, want := range []string{"Вход по паролю", "Неверный пароль", "Данные просмотрены в центре обслуживания", `<span class="badge">оператор</span>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the history lacks %q", want)
		}
	}
	if strings.Contains(body, "Изменены личные данные") {
		t.Errorf("an event older than 90 days is shown")
	}
	if strings.Index(body, "Вход по паролю") > strings.Index(body, "Неверный пароль") {
		t.Errorf("the history is not newest first")
	}
}

// The security page lists the consents given to services, with the
// client's name, the scopes described and the date; revoking one (with the
// page's CSRF token) forgets it and records the event.
func TestSecurityConsents(t *testing.T) {
	p := newIDP(t)
	ctx := context.Background()
	for _, c := range []*store.Consent{
		{AccountID: p.taken.ID, ClientID: clientID, Scopes: []string{"openid", "snils", "custom_x"}, GrantedAt: time.Now().Add(-time.Hour)},
		{AccountID: p.taken.ID, ClientID: "rp-gone", Scopes: []string{"openid"}, GrantedAt: time.Now()},
	} {
		if err := p.srv.Durable.PutConsent(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	a := p.loggedIn(t)
	page := get(t, a, "/account/security")
	wantStatus(t, page, http.StatusOK)
	for _, want := range []string{clientName, "rp-gone", "СНИЛС", "custom_x", "Отозвать доступ"} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the consents lack %q:\n%s", want, page.Body)
		}
	}
	if strings.Index(page.Body, `data-client="rp-gone"`) > strings.Index(page.Body, `data-client="`+clientID+`"`) {
		t.Errorf("the consents are not newest first")
	}
	form := -1
	for i, f := range page.Forms() {
		if f.Fields.Get("client") == clientID {
			form = i
		}
	}
	if form < 0 {
		t.Fatalf("no revoke form for %s:\n%s", clientID, page.Body)
	}
	// A forged form without the token is refused and revokes nothing.
	forged := page.Forms()[form]
	forged.Fields.Del("csrf_token")
	if f, _ := a.Submit(ctx, page, forged, url.Values{"action": {"revoke_consent"}}); f.Status != http.StatusForbidden {
		t.Errorf("no CSRF token: %d", f.Status)
	}
	if _, err := p.srv.Durable.GetConsent(ctx, p.taken.ID, clientID); err != nil {
		t.Fatalf("a forged form revoked the consent: %v", err)
	}
	rv := p.watchRevocations()
	done, err := a.Submit(ctx, page, page.Forms()[form], url.Values{"action": {"revoke_consent"}})
	if err != nil || done.Status != http.StatusSeeOther {
		t.Fatalf("revoke: %v %d", err, done.Status)
	}
	if _, err := p.srv.Durable.GetConsent(ctx, p.taken.ID, clientID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the consent is still stored: %v", err)
	}
	if _, err := p.srv.Durable.GetConsent(ctx, p.taken.ID, "rp-gone"); err != nil {
		t.Errorf("another consent went too: %v", err)
	}
	if got := rv.list(); len(got) != 1 || got[0] != p.taken.ID+"/"+clientID {
		t.Errorf("revoked %v, want the client's tokens of the account", got)
	}
	page = get(t, a, "/account/security?revoked=consent")
	if strings.Contains(page.Body, `data-client="`+clientID+`"`) || !strings.Contains(page.Body, "Доступ сервиса к данным отозван") {
		t.Errorf("the revoked consent is listed or no notice:\n%s", page.Body)
	}
	if !strings.Contains(page.Body, "Отозван доступ сервиса к данным") {
		t.Errorf("the history lacks the revocation")
	}
	events, err := p.srv.Durable.ListAudit(ctx, store.AuditQuery{AccountID: p.taken.ID, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events {
		found = found || e.Action == "consent.revoke"
	}
	if !found {
		t.Errorf("no consent.revoke event among %d", len(events))
	}
}
