package selfservice_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The account page logs a browser without a session in first (a login
// that belongs to no client: no consent) and comes back to it.
func TestAccountLogsInFirst(t *testing.T) {
	p := newIDP(t)
	a := p.agent()
	login := follow(t, a, get(t, a, "/account"))
	wantStatus(t, login, http.StatusOK)
	if login.URL.Path != "/login" || !login.Has("identifier") {
		t.Fatalf("/account without a session led to %s", login.URL)
	}
	if !strings.Contains(login.Body, `href="/register?flow=`) {
		t.Errorf("the login page offers no registration")
	}
	wrong := submit(t, a, login, "", url.Values{"identifier": {takenPhone}, "password": {"wrong"}})
	wantStatus(t, wrong, http.StatusUnauthorized)
	done := submit(t, a, login, "", url.Values{"identifier": {takenPhone}, "password": {takenPassword}})
	if loc := done.Location(); loc == nil || loc.Path != "/account" {
		t.Fatalf("login led to %d %v, want /account", done.Status, done.Header.Get("Location"))
	}
	page := follow(t, a, done)
	wantStatus(t, page, http.StatusOK)
	for _, want := range []string{`data-level="simplified"`, "Петрова Анна", takenEmail} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("the account page lacks %q", want)
		}
	}
	if strings.Contains(page.Body, `data-verification=`) {
		t.Errorf("no check runs, yet the page says one does")
	}
}
