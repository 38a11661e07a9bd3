package selfservice_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/esia-oidc/idp/store"
)

// Changing the password: the current one first (a wrong one is counted and
// refused next to its field), the new one under the policy and not the
// same; then the other sessions end, this one stays, the history and the
// contacts are told, the old password no longer logs in.
func TestChangePassword(t *testing.T) {
	p := newIDP(t)
	ctx := context.Background()
	rv := p.watchRevocations()
	a := p.loggedIn(t)
	other := p.loggedIn(t) // another browser of the same citizen
	page := get(t, a, "/account/password")
	wantStatus(t, page, http.StatusOK)
	for _, f := range []string{`name="current_password"`, `autocomplete="current-password"`, `name="password"`, `name="password_confirm"`, `autocomplete="new-password"`} {
		if !strings.Contains(page.Body, f) {
			t.Fatalf("the page lacks %s:\n%s", f, page.Body)
		}
	}
	for _, tc := range []struct {
		name    string
		vals    url.Values
		status  int
		field   string
		message string
	}{
		{"no current password", url.Values{"password": {goodPassword}, "password_confirm": {goodPassword}}, http.StatusBadRequest, "current_password", "Введите пароль"},
		{"a wrong current password", url.Values{"current_password": {"Wrong-Passw0rd!"}, "password": {goodPassword}, "password_confirm": {goodPassword}}, http.StatusUnauthorized, "current_password", "Неверный пароль"},
		{"the same password", url.Values{"current_password": {takenPassword}, "password": {takenPassword}, "password_confirm": {takenPassword}}, http.StatusBadRequest, "password", "совпадает с текущим"},
		{"a weak one", url.Values{"current_password": {takenPassword}, "password": {"12345678"}, "password_confirm": {"12345678"}}, http.StatusBadRequest, "password", ""},
		{"not confirmed", url.Values{"current_password": {takenPassword}, "password": {goodPassword}, "password_confirm": {goodPassword + "x"}}, http.StatusBadRequest, "password_confirm", ""},
	} {
		res := submit(t, a, page, "/account/password", tc.vals)
		wantStatus(t, res, tc.status)
		if !strings.Contains(res.Body, `id="`+tc.field+`-error"`) || !strings.Contains(res.Body, tc.message) {
			t.Errorf("%s: no error at %s (%q):\n%s", tc.name, tc.field, tc.message, res.Body)
		}
		if strings.Contains(res.Body, goodPassword) || strings.Contains(res.Body, takenPassword) {
			t.Errorf("%s: a typed password is sent back", tc.name)
		}
	}
	if acct := p.account(t, p.taken.ID); !p.passwordIs(t, acct, takenPassword) {
		t.Fatal("a refused change changed the password")
	}
	if got := rv.list(); len(got) != 0 {
		t.Fatalf("refused changes revoked %v", got)
	}

	// A forged form changes nothing.
	forged := page.Forms()[0]
	forged.Fields.Del("csrf_token")
	if f, _ := a.Submit(ctx, page, forged, url.Values{"current_password": {takenPassword}, "password": {goodPassword}, "password_confirm": {goodPassword}}); f.Status != http.StatusForbidden {
		t.Errorf("no CSRF token: %d", f.Status)
	}

	done := submit(t, a, page, "/account/password", url.Values{"current_password": {takenPassword}, "password": {goodPassword}, "password_confirm": {goodPassword}})
	if loc := done.Location(); done.Status != http.StatusSeeOther || loc == nil || loc.Path != "/account/security" || loc.Query().Get("done") != "password" {
		t.Fatalf("change: %d %v", done.Status, done.Location())
	}
	acct := p.account(t, p.taken.ID)
	if !p.passwordIs(t, acct, goodPassword) || p.passwordIs(t, acct, takenPassword) {
		t.Fatal("the password is not the new one")
	}
	if got := rv.list(); len(got) != 1 || got[0] != p.taken.ID+"/" {
		t.Errorf("revoked %v, want every token of the account once", got)
	}
	sec := follow(t, a, done)
	if sec.URL.Path != "/account/security" || !strings.Contains(sec.Body, "Пароль изменён") {
		t.Errorf("this session after the change: %s\n%s", sec.URL.Path, sec.Body)
	}
	if page := follow(t, other, get(t, other, "/account")); page.URL.Path == "/account" {
		t.Errorf("the other session survived the change")
	}
	events, err := p.srv.Durable.ListAudit(ctx, store.AuditQuery{AccountID: p.taken.ID, Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	for _, e := range events {
		if e.Action == "password.change" && e.Details["sessions"] == "1" {
			changes++
		}
	}
	if changes != 1 {
		t.Errorf("%d password.change events ending 1 session, want 1", changes)
	}
	msgs := p.WaitMessages(t, takenPhone, 1)
	if last := msgs[len(msgs)-1]; !strings.Contains(last.Body, "Пароль вашей учётной записи изменён") || strings.Contains(last.Body, goodPassword) {
		t.Errorf("the notice: %+v", last)
	}
}

// passwordIs reports whether pw is the account's password.
func (p *idp) passwordIs(t *testing.T, a *store.Account, pw string) bool {
	t.Helper()
	ok, err := p.srv.Passwords.Verify(context.Background(), pw, a.PasswordHash)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// An account without a password (made through a bank): the password page
// and every action that takes the password again say, next to the field,
// that a password is set through recovery; nothing fails, nothing is
// counted.
func TestNoPasswordPointsToRecovery(t *testing.T) {
	p := newIDP(t)
	a := p.loggedIn(t)
	if _, err := p.srv.Durable.UpdateAccount(context.Background(), p.taken.ID, func(u *store.Account) error {
		u.PasswordHash = ""
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	const recover = "восстановление доступа (/recover)"
	page := get(t, a, "/account/password")
	wantStatus(t, page, http.StatusOK)
	if !strings.Contains(page.Body, recover) {
		t.Fatalf("the password page does not point to recovery:\n%s", page.Body)
	}
	for _, tc := range []struct {
		name, path, field string
		vals              url.Values
		status            int
	}{
		{"a current password typed", "/account/password", "current_password", url.Values{"current_password": {"Some-Passw0rd!"}, "password": {goodPassword}, "password_confirm": {goodPassword}}, http.StatusConflict},
		{"none typed", "/account/password", "current_password", url.Values{"password": {goodPassword}, "password_confirm": {goodPassword}}, http.StatusBadRequest},
		{"a contact change", "/account/contacts", "password", url.Values{"phone": {"8 999 555 00 11"}, "password": {"Some-Passw0rd!"}}, http.StatusConflict},
		{"a contact change without one", "/account/contacts", "password", url.Values{"phone": {"8 999 555 00 11"}}, http.StatusBadRequest},
	} {
		form := get(t, a, tc.path)
		wantStatus(t, form, http.StatusOK)
		res := submit(t, a, form, tc.path, tc.vals)
		wantStatus(t, res, tc.status)
		if !strings.Contains(fieldError(res, tc.field), recover) {
			t.Errorf("%s: the %s field does not point to recovery:\n%s", tc.name, tc.field, res.Body)
		}
	}
	if acct := p.account(t, p.taken.ID); acct.PasswordHash != "" {
		t.Fatal("a password was set without recovery")
	}
}
