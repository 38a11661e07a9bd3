package oidc_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestFlowStaysWithItsBrowser: a flow started by one browser cannot be
// continued by another, neither before nor after the citizen logs in (an
// attacker who starts an authorization and hands its link to a victim must
// not be able to finish it and take the code).
func TestFlowStaysWithItsBrowser(t *testing.T) {
	idp := newTestIDP(t)
	attacker := idp.newBrowser(t)
	victim := idp.newBrowser(t)

	// The attacker starts an authorization and gets the login page's URL.
	login := attacker.startLogin(authzParams("openid fullname"))
	loginURL := login.Request.URL.RequestURI()

	// The victim, given that link, is refused.
	if r := victim.get(loginURL); r.StatusCode != http.StatusForbidden || !strings.Contains(textOf(t, r.body), "another browser") {
		t.Fatalf("victim opening the attacker's flow: %d", r.StatusCode)
	}

	// The other way round: the victim logs in on its own flow, and the
	// attacker, knowing the flow id, cannot reach its consent step.
	page := victim.startLogin(authzParams("openid fullname"))
	flow := onlyForm(t, page.body).fields.Get("flow")
	r := victim.submitLogin(page, citizenPhone, citizenPassword)
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/consent?flow=") {
		t.Fatalf("victim login: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	consentPath := "/consent?" + url.Values{"flow": {flow}}.Encode()
	if r := attacker.get(consentPath); r.StatusCode != http.StatusForbidden {
		t.Errorf("attacker GET of the victim's consent: %d", r.StatusCode)
	}
	// Even with a form token of its own, the attacker's POST is refused.
	tok := onlyForm(t, attacker.startLogin(authzParams("openid")).body).fields.Get("csrf_token")
	r = attacker.post("/consent", url.Values{"flow": {flow}, "csrf_token": {tok}, "decision": {"allow"}})
	if r.StatusCode != http.StatusForbidden || r.Header.Get("Location") != "" {
		t.Errorf("attacker POST to the victim's consent: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := attacker.get("/authorize/cancel?" + url.Values{"flow": {flow}}.Encode()); r.StatusCode != http.StatusForbidden {
		t.Errorf("attacker cancelling the victim's flow: %d", r.StatusCode)
	}
	// The victim still can.
	if r := victim.get(consentPath); r.StatusCode != http.StatusOK {
		t.Errorf("victim's own consent page: %d", r.StatusCode)
	}
}
