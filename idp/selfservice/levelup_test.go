package selfservice_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/esia-oidc/idp/store"
)

// A citizen below the level a request needs sees what is missing and how
// to raise it; once the level is raised, "continue" finishes the same
// authorization. Giving up sends unmet_authentication_requirements.
func TestLevelUpThenContinue(t *testing.T) {
	p := newIDP(t)
	ctx := context.Background()
	a := p.agent()
	authz := p.authorizeURL() + "&acr_values=standard"
	login := follow(t, a, get(t, a, authz))
	page := follow(t, a, submit(t, a, login, "", url.Values{"identifier": {takenPhone}, "password": {takenPassword}}))
	wantStatus(t, page, http.StatusForbidden)
	body := html.UnescapeString(page.Body)
	for _, want := range []string{"/account/personal?flow=", "/login/resume?flow=", "/authorize/cancel?flow=", "стандартная"} {
		if !strings.Contains(body, want) {
			t.Errorf("the level-up page lacks %q", want)
		}
	}
	if strings.Contains(body, "/account/confirm/letter") {
		t.Errorf("the page offers a letter for the standard level")
	}
	resume := regexp.MustCompile(`href="(/login/resume\?flow=[^"]+)"`).FindStringSubmatch(body)
	if resume == nil {
		t.Fatal("no continue link")
	}
	// Not raised yet: the same page again.
	wantStatus(t, get(t, a, resume[1]), http.StatusForbidden)
	if _, err := p.srv.Durable.UpdateAccount(ctx, p.taken.ID, func(acct *store.Account) error {
		acct.Level = store.LevelStandard
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	consent := follow(t, a, get(t, a, resume[1]))
	if consent.URL.Path != "/consent" {
		t.Fatalf("continue after raising the level: %s (%d)", consent.URL, consent.Status)
	}
	back := submit(t, a, consent, "", url.Values{"decision": {"allow"}})
	if loc := back.Location(); loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("the authorization did not finish: %v", back.Header.Get("Location"))
	}

	// For confirmed, a standard citizen is offered the letter and the
	// service centre, not the personal data again; giving up answers the
	// client.
	b := p.agent()
	login = follow(t, b, get(t, b, p.authorizeURL()+"&acr_values=confirmed"))
	page = follow(t, b, submit(t, b, login, "", url.Values{"identifier": {takenPhone}, "password": {takenPassword}}))
	wantStatus(t, page, http.StatusForbidden)
	body = html.UnescapeString(page.Body)
	if !strings.Contains(body, "/account/confirm/letter?flow=") || strings.Contains(body, "/account/personal?flow=") {
		t.Errorf("the ways to confirmed for a standard account:\n%s", body)
	}
	cancel := regexp.MustCompile(`href="(/authorize/cancel\?flow=[^"]+)"`).FindStringSubmatch(body)
	gaveUp := get(t, b, cancel[1])
	if loc := gaveUp.Location(); loc == nil || loc.Query().Get("error") != "unmet_authentication_requirements" {
		t.Fatalf("giving up: %v", gaveUp.Header.Get("Location"))
	}
}
