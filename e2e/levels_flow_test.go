package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/internal/testserver"
)

// formIndex is the index of the first form of p whose HTML holds marker.
func formIndex(t *testing.T, p *testserver.Page, marker string) int {
	t.Helper()
	parts := strings.Split(p.Body, "<form")
	for i, f := range parts[1:] {
		if end := strings.Index(f, "</form>"); end >= 0 && strings.Contains(f[:end], marker) {
			return i
		}
	}
	t.Fatalf("no form with %q on %s (%d):\n%s", marker, p.URL, p.Status, p.Body)
	return -1
}

// link returns the first href of p matching the pattern's group 1.
func link(t *testing.T, p *testserver.Page, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(`href="(` + pattern + `)"`).FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no link %s on %s (%d):\n%s", pattern, p.URL, p.Status, p.Body)
	}
	return strings.ReplaceAll(m[1], "&amp;", "&")
}

// personalData is the personal-data form of a citizen with this SNILS and
// passport number.
func personalData(last, first, snils, series, number string) url.Values {
	return url.Values{
		"last_name": {last}, "first_name": {first}, "birth_date": {"17.05.1990"}, "gender": {"F"},
		"birth_place": {"г. Тула"}, "citizenship": {"RUS"}, "snils": {snils}, "doc_type": {"passport"},
		"passport_series": {series}, "passport_number": {number}, "passport_issue_date": {"01.06.2010"},
		"passport_issuer": {"ОВД района Арбат г. Москвы"}, "passport_department_code": {"770-001"},
	}
}

// waitLevel waits until the account has the level (and no check runs).
func waitLevel(t *testing.T, adm *adminclient.Client, id, level string, within time.Duration) *adminclient.AccountInfo {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		a, err := adm.GetAccount(context.Background(), id)
		if err == nil && a.Level == level {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("account %s did not reach %s: %+v, %v", id, level, a, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLevelsEndToEnd walks a citizen from registration to the confirmed
// level on PostgreSQL and Redis, as a relying party that demands it sees
// it: registered from an authorization request for acr_values=confirmed,
// the citizen fills in personal data from the level-up page, passes the
// registry check to standard, gives up (the client gets
// unmet_authentication_requirements), is confirmed by an operator, and
// then signs in with level confirmed in the ID token and a SNILS that
// userinfo releases both plainly and as verified_claims with the registry
// and operator evidence. A second citizen is confirmed by a letter code.
func TestLevelsEndToEnd(t *testing.T) {
	t.Parallel()
	sh := testserver.NewShared(t)
	srv := testserver.Start(t, sh, "IDP_DEV=true", "IDP_REGISTRY_SIM_DELAY=0s", "IDP_JOB_POLL_INTERVAL=50ms")
	ctx := context.Background()
	adm := srv.Admin()
	cl, err := adm.CreateClient(ctx, adminclient.ClientMetadata{
		ClientName: "Госуслуги региона", RedirectURIs: []string{replicaRedirect},
		GrantTypes: []string{"authorization_code"}, Scope: "openid fullname snils id_doc",
		TokenEndpointAuthMethod: "none", SubjectType: "public",
	})
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{
		ClientID:    cl.ClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: replicaRedirect,
		Scopes:      []string{oidc.ScopeOpenID, "fullname", "snils", "id_doc"},
	}
	confirmed := oauth2.SetAuthURLParam("acr_values", "confirmed")

	// Registration from the authorization request, by phone.
	phone := randomPhone(t)
	auth := newBrowserAuthWith(t, conf, confirmed)
	r := newRegistrant(t, srv, srv.URL)
	login := r.follow(r.get(auth.url))
	codePage := r.start(r.get(link(t, login, `/register\?flow=[^"]+`)), "phone", phone)
	levelUp := r.follow(r.finish(codePage, outboxCode(t, srv, phone, 0)))
	if levelUp.Status != http.StatusForbidden || !strings.Contains(levelUp.Body, `data-level="simplified"`) {
		t.Fatalf("after registration for a confirmed-level client: %d %s\n%s", levelUp.Status, levelUp.URL, levelUp.Body)
	}

	// Personal data from the level-up page; the check passes.
	personal := r.get(link(t, levelUp, `/account/personal\?flow=[^"]+`))
	snils := "112-233-445 95"
	saved := r.submit(personal, 0, personalData("Смирнова", "Ольга", snils, "4510", "123456"))
	if loc := saved.Location(); saved.Status != http.StatusSeeOther || loc == nil || loc.Path != "/account" {
		t.Fatalf("save personal data: %d\n%s", saved.Status, saved.Body)
	}
	account := r.follow(saved)
	accountID := findAccountID(t, srv, phone)
	std := waitLevel(t, adm, accountID, "standard", 30*time.Second)
	if std.Verification == nil || std.Verification.Status != "approved" {
		t.Fatalf("verification %+v", std.Verification)
	}

	// Still below confirmed: the level-up page again; giving up answers
	// the client.
	levelUp = r.follow(r.get(link(t, account, `/login/resume\?flow=[^"]+`)))
	if levelUp.Status != http.StatusForbidden || !strings.Contains(levelUp.Body, "/account/confirm/letter?flow=") {
		t.Fatalf("continue at standard: %d\n%s", levelUp.Status, levelUp.Body)
	}
	gaveUp := r.get(link(t, levelUp, `/authorize/cancel\?flow=[^"]+`))
	if loc := gaveUp.Location(); loc == nil || loc.Query().Get("error") != "unmet_authentication_requirements" || loc.Query().Get("state") != auth.state {
		t.Fatalf("giving up: %v", gaveUp.Header.Get("Location"))
	}

	// An operator confirms in person.
	if _, err := adm.CreateOperator(ctx, adminclient.NewOperator{Login: "okno1", Password: "Operator-Pass-2026!", Name: "Окно 1", Roles: []string{"operator"}}); err != nil {
		t.Fatal(err)
	}
	op := newRegistrant(t, srv, srv.URL)
	opLogin := op.get("/operator/login")
	if p := op.submit(opLogin, 0, url.Values{"identifier": {"okno1"}, "password": {"Operator-Pass-2026!"}}); p.Status != http.StatusSeeOther {
		t.Fatalf("operator login: %d\n%s", p.Status, p.Body)
	}
	found := op.get("/operator?q=" + url.QueryEscape(snils))
	card := op.get(link(t, found, `/operator/accounts/[^"]+`))
	done := op.submit(card, formIndex(t, card, `value="confirm"`), url.Values{"action": {"confirm"}, "document_checked": {"on"}})
	if done.Status != http.StatusSeeOther {
		t.Fatalf("confirm: %d\n%s", done.Status, done.Body)
	}
	waitLevel(t, adm, accountID, "confirmed", 10*time.Second)

	// Now the relying party gets what it demands.
	auth = newBrowserAuthWith(t, conf, confirmed)
	consent := r.follow(r.get(auth.url))
	cb := consent.Location()
	if cb == nil || !strings.HasPrefix(cb.String(), replicaRedirect) {
		cb = r.submit(consent, 0, url.Values{"decision": {"allow"}}).Location()
	}
	if cb == nil || !strings.HasPrefix(cb.String(), replicaRedirect) {
		t.Fatalf("the confirmed citizen's authorization: %d\n%s", consent.Status, consent.Body)
	}
	tok, err := conf.Exchange(ctx, browserCheckCallback(t, cb.Query(), auth.state, srv.URL), oauth2.VerifierOption(auth.verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt := browserVerify(t, ctx, oidc.NewVerifier(srv.URL, oidc.NewRemoteKeySet(ctx, srv.URL+"/jwks"), &oidc.Config{ClientID: cl.ClientID}), tok, auth.nonce)
	var claims struct {
		Level string `json:"level"`
		ACR   string `json:"acr"`
	}
	if err := idt.Claims(&claims); err != nil || claims.Level != "confirmed" {
		t.Fatalf("ID token level %q (%v)", claims.Level, err)
	}
	info := userinfo(t, srv, tok.AccessToken)
	if info["snils"] != "11223344595" {
		t.Errorf("userinfo snils %v", info["snils"])
	}
	methods := verifiedEvidence(t, info, "snils")
	if !slices.Equal(methods, []string{"data", "vpip"}) {
		t.Errorf("verified_claims evidence check methods %v, want the registry check and the operator", methods)
	}

	// A second citizen: standard through the pages, confirmed by a letter.
	phone2 := randomPhone(t)
	second, err := adm.CreateAccount(ctx, adminclient.NewAccount{Phone: phone2, Password: registerPassword, LastName: "Орлова", FirstName: "Ольга"})
	if err != nil {
		t.Fatal(err)
	}
	c2 := newRegistrant(t, srv, srv.URL)
	loginPage := c2.follow(c2.get("/account"))
	if p := c2.submit(loginPage, 0, url.Values{"identifier": {phone2}, "password": {registerPassword}}); p.Location() == nil {
		t.Fatalf("second citizen's login: %d", p.Status)
	}
	c2.submit(c2.get("/account/personal"), 0, personalData("Орлова", "Ольга", "123-456-789 64", "4511", "654321"))
	waitLevel(t, adm, second.ID, "standard", 30*time.Second)
	const address = "101000, г. Москва, ул. Мясницкая, д. 10, кв. 5"
	sent := c2.submit(c2.get("/account/confirm/letter"), 0, url.Values{"address": {address}})
	if sent.Status != http.StatusSeeOther {
		t.Fatalf("order a letter: %d\n%s", sent.Status, sent.Body)
	}
	code := outboxCode(t, srv, address, 0)
	if p := c2.submit(c2.follow(sent), 0, url.Values{"code": {code}}); p.Status != http.StatusSeeOther {
		t.Fatalf("the letter's code: %d\n%s", p.Status, p.Body)
	}
	if a := waitLevel(t, adm, second.ID, "confirmed", 5*time.Second); a.ConfirmationMethod != "letter" {
		t.Errorf("confirmed by %q, want letter", a.ConfirmationMethod)
	}
}

// newBrowserAuthWith is newBrowserAuth with extra authorization parameters.
func newBrowserAuthWith(t *testing.T, conf *oauth2.Config, opts ...oauth2.AuthCodeOption) browserAuth {
	a := browserAuth{state: browserRandom(t), nonce: browserRandom(t), verifier: oauth2.GenerateVerifier()}
	a.url = conf.AuthCodeURL(a.state, append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(a.verifier), oidc.Nonce(a.nonce)}, opts...)...)
	return a
}

// findAccountID returns the id of the account that logs in with the
// phone and registerPassword (the admin API reads accounts by id only): the
// sub of an ID token for a client of its own.
func findAccountID(t *testing.T, srv *testserver.Server, phone string) string {
	t.Helper()
	cl, err := srv.Admin().CreateClient(context.Background(), adminclient.ClientMetadata{
		ClientName: "lookup", RedirectURIs: []string{replicaRedirect}, GrantTypes: []string{"authorization_code"},
		Scope: "openid", TokenEndpointAuthMethod: "none", SubjectType: "public",
	})
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: cl.ClientID, RedirectURL: replicaRedirect, Scopes: []string{oidc.ScopeOpenID},
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
	auth := newBrowserAuth(t, conf)
	cb, page, err := testserver.NewAgent(srv.URL, nil).Authorize(context.Background(), auth.url, testserver.Login{Identifier: phone, Password: registerPassword})
	if err != nil {
		t.Fatalf("login to find the account: %v\n%s", err, page.Body)
	}
	tok, err := conf.Exchange(context.Background(), cb.Query().Get("code"), oauth2.VerifierOption(auth.verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := oidc.NewVerifier(srv.URL, oidc.NewRemoteKeySet(context.Background(), srv.URL+"/jwks"), &oidc.Config{ClientID: cl.ClientID}).Verify(context.Background(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	return idt.Subject
}

// userinfo calls the userinfo endpoint with the access token.
func userinfo(t *testing.T, srv *testserver.Server, token string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("userinfo: %d, %v", resp.StatusCode, err)
	}
	return out
}

// verifiedEvidence checks that claim is inside userinfo's verified_claims
// under the ru_esia trust framework and returns the evidence's check
// methods in order.
func verifiedEvidence(t *testing.T, info map[string]any, claim string) []string {
	t.Helper()
	vc, ok := info["verified_claims"].(map[string]any)
	if !ok {
		t.Fatalf("no verified_claims in %v", info)
	}
	claims, _ := vc["claims"].(map[string]any)
	verification, _ := vc["verification"].(map[string]any)
	if claims[claim] == nil || verification["trust_framework"] != "ru_esia" {
		t.Fatalf("verified_claims %v", vc)
	}
	var methods []string
	evidence, _ := verification["evidence"].([]any)
	for _, e := range evidence {
		details, _ := e.(map[string]any)["check_details"].([]any)
		if len(details) > 0 {
			methods = append(methods, details[0].(map[string]any)["check_method"].(string))
		}
	}
	return methods
}
