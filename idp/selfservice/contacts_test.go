package selfservice_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/internal/testserver"
	"github.com/esia-oidc/idp/store"
)

// loggedIn logs the taken citizen in on a new agent through /account.
func (p *idp) loggedIn(t *testing.T) *testserver.Agent {
	t.Helper()
	a := p.agent()
	login := follow(t, a, get(t, a, "/account"))
	done := follow(t, a, submit(t, a, login, "", url.Values{"identifier": {takenPhone}, "password": {takenPassword}}))
	if done.URL.Path != "/account" || done.Status != http.StatusOK {
		t.Fatalf("login: %s %d", done.URL, done.Status)
	}
	return a
}

// Changing the phone takes the password and a code sent to the new phone;
// the old phone is told.
func TestChangePhone(t *testing.T) {
	p := newIDP(t)
	a := p.loggedIn(t)
	page := get(t, a, "/account/contacts")
	wantStatus(t, page, http.StatusOK)
	const newPhone = "+79995550011"
	wrong := submit(t, a, page, "/account/contacts", url.Values{"phone": {"8 999 555 00 11"}, "password": {"not-it"}})
	wantStatus(t, wrong, http.StatusUnauthorized)
	if fieldError(wrong, "password") == "" || !strings.Contains(wrong.Body, `value="8 999 555 00 11"`) {
		t.Errorf("wrong password: no message, or the phone typed is lost")
	}
	since := time.Now()
	codePage := follow(t, a, submit(t, a, page, "/account/contacts", url.Values{"phone": {"8 999 555 00 11"}, "password": {takenPassword}}))
	if codePage.URL.Path != "/account/contacts/code" {
		t.Fatalf("after the password: %s %d\n%s", codePage.URL, codePage.Status, codePage.Body)
	}
	code := p.codeFor(t, newPhone, since)
	// Another browser cannot finish this change.
	other := p.loggedIn(t)
	wantStatus(t, get(t, other, codePage.URL.RequestURI()), http.StatusNotFound)

	done := submit(t, a, codePage, "/account/contacts/code", url.Values{"code": {code}})
	if loc := done.Location(); loc == nil || loc.Path != "/account" {
		t.Fatalf("after the code: %d %v\n%s", done.Status, done.Header.Get("Location"), done.Body)
	}
	acct, err := p.srv.Durable.GetAccount(context.Background(), p.taken.ID)
	if err != nil {
		t.Fatal(err)
	}
	if acct.Phone != newPhone || !acct.PhoneVerified {
		t.Errorf("phone %q verified %v", acct.Phone, acct.PhoneVerified)
	}
	waitMessages(t, p, takenPhone, 1)
	if _, m := p.messagesTo(takenPhone); m.Code != "" || !strings.Contains(m.Body, "новый номер") {
		t.Errorf("the old phone was told %+v", m)
	}
	// The old phone no longer logs in; the new one does.
	b := p.agent()
	login := follow(t, b, get(t, b, "/account"))
	wantStatus(t, submit(t, b, login, "", url.Values{"identifier": {takenPhone}, "password": {takenPassword}}), http.StatusUnauthorized)
	if loc := submit(t, b, login, "", url.Values{"identifier": {newPhone}, "password": {takenPassword}}).Location(); loc == nil || loc.Path != "/account" {
		t.Errorf("the new phone does not log in")
	}
}

// An e-mail another account holds is refused after the code, and nothing
// changes.
func TestChangeEmailTaken(t *testing.T) {
	p := newIDP(t)
	ctx := context.Background()
	now := time.Now().UTC()
	if err := p.srv.Durable.CreateAccount(ctx, &store.Account{ID: "other", Level: store.LevelSimplified, LastName: "Орлов", FirstName: "Олег",
		Email: "orlov@example.ru", EmailVerified: true, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	a := p.loggedIn(t)
	page := get(t, a, "/account/contacts")
	since := time.Now()
	codePage := follow(t, a, submit(t, a, page, "/account/contacts", url.Values{"email": {"Orlov@Example.ru"}, "password": {takenPassword}}))
	done := submit(t, a, codePage, "/account/contacts/code", url.Values{"code": {p.codeFor(t, "orlov@example.ru", since)}})
	wantStatus(t, done, http.StatusConflict)
	acct, err := p.srv.Durable.GetAccount(ctx, p.taken.ID)
	if err != nil || acct.Email != takenEmail {
		t.Fatalf("e-mail now %q, %v", acct.Email, err)
	}
	// Without a session the page logs in first; a post without one is refused.
	anon := p.agent()
	if loc := get(t, anon, "/account/contacts").Location(); loc == nil || loc.Path != "/login" {
		t.Errorf("the contacts page without a session: %v", loc)
	}
}
