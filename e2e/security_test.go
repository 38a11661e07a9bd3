package e2e

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/internal/testserver"
	"github.com/esia-oidc/idp/store"
)

// The security page ends sessions and revokes consents for the relying
// parties too, on PostgreSQL and Redis with two server processes: a
// session ended on the page (by one process) loses its refresh tokens (at
// the other), a revoked consent loses the client's tokens, and the
// client's next authorization asks for consent again.

// rpSignIn runs a code flow of conf in the browser a (logging in with
// creds and allowing the consent when asked) and returns the tokens.
func (ff *factorFlow) rpSignIn(a *testserver.Agent, conf *oauth2.Config, creds url.Values) *oauth2.Token {
	ff.t.Helper()
	auth := newBrowserAuth(ff.t, conf)
	p := ff.get(a, auth.url)
	if p.Has("password") {
		p = ff.submit(a, p, "", creds)
	}
	if p.Has("decision") {
		p = ff.submit(a, p, "", url.Values{"decision": {"allow"}})
	}
	loc := p.Location()
	if loc == nil || loc.Query().Get("code") == "" {
		ff.t.Fatalf("no code for the client: %d at %s: %.600s", p.Status, p.URL.Path, p.Body)
	}
	tok, err := conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(auth.verifier))
	if err != nil || tok.RefreshToken == "" {
		ff.t.Fatalf("exchange: %v (refresh token %t)", err, tok != nil && tok.RefreshToken != "")
	}
	return tok
}

// refresh uses the refresh token at conf's token endpoint: the new tokens,
// or the OAuth error code.
func refresh(t *testing.T, conf *oauth2.Config, rt string) (*oauth2.Token, string) {
	t.Helper()
	tok, err := conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt}).Token()
	var re *oauth2.RetrieveError
	switch {
	case err == nil:
		return tok, ""
	case errors.As(err, &re):
		return nil, re.ErrorCode
	}
	t.Fatalf("refresh: %v", err)
	return nil, ""
}

func TestSecurityPageEndsSessionsAndConsentsForRelyingParties(t *testing.T) {
	t.Parallel()
	d := newFactorDeployment(t)
	ff := &factorFlow{t: t, d: d, srv: d.a}
	cl, err := d.a.Admin().CreateClient(ctxT(t), adminclient.ClientMetadata{
		ClientName: "Портал услуг", RedirectURIs: []string{replicaRedirect},
		GrantTypes: []string{"authorization_code", "refresh_token"},
		Scope:      "openid email offline_access", TokenEndpointAuthMethod: "none", SubjectType: "public",
	})
	if err != nil {
		t.Fatal(err)
	}
	conf := ff.conf(cl.ClientID)
	conf.Scopes = []string{"openid", "email", "offline_access"}
	atB := *conf // the same client, at the other process
	atB.Endpoint.TokenURL = d.b.URL + "/token"
	phone, password := d.citizen(t, func(string) *store.SecondFactors { return nil })
	creds := url.Values{"identifier": {phone}, "password": {password}}

	owner := testserver.NewAgent(d.a.URL, nil)
	other := testserver.NewAgent(d.a.URL, nil)
	ownerTok := ff.rpSignIn(owner, conf, creds)
	otherTok := ff.rpSignIn(other, conf, creds)

	// The owner ends the other browser's session on the security page.
	sec := ff.get(owner, d.a.URL+"/account/security")
	if !strings.Contains(sec.Body, "data-last-used=") {
		t.Errorf("the other session's last use is not shown")
	}
	var endOther *testserver.Form
	for _, f := range sec.Forms() {
		if f.Fields.Get("sid") != "" {
			if endOther != nil {
				t.Fatalf("more than one other session listed")
			}
			endOther = &f
		}
	}
	if endOther == nil {
		t.Fatalf("no 'end this session' form for the other browser: %.800s", sec.Body)
	}
	ended, err := owner.Submit(ctxT(t), sec, *endOther, url.Values{"action": {"end_session"}})
	if err != nil || ended.Location() == nil {
		t.Fatalf("end_session: %v %d", err, ended.Status)
	}
	if _, code := refresh(t, &atB, otherTok.RefreshToken); code != "invalid_grant" {
		t.Errorf("the ended session's refresh token at the other process: %q, want invalid_grant", code)
	}
	if p := ff.get(other, d.a.URL+"/account"); p.URL.Path == "/account" {
		t.Errorf("the ended session still opens the account page")
	}
	fresh, code := refresh(t, &atB, ownerTok.RefreshToken)
	if code != "" {
		t.Fatalf("the owner's own refresh token after ending the other session: %q", code)
	}

	// The owner revokes the portal's access: its tokens go, and its next
	// authorization asks again although the session lives on.
	sec = ff.get(owner, d.a.URL+"/account/security")
	if !strings.Contains(sec.Body, `data-client="`+cl.ClientID+`"`) {
		t.Fatalf("the portal's consent is not listed: %.800s", sec.Body)
	}
	var revoke *testserver.Form
	for _, f := range sec.Forms() {
		if f.Fields.Get("client") == cl.ClientID {
			revoke = &f
		}
	}
	if revoke == nil {
		t.Fatal("no revoke form for the portal")
	}
	if done, err := owner.Submit(ctxT(t), sec, *revoke, url.Values{"action": {"revoke_consent"}}); err != nil || done.Location() == nil {
		t.Fatalf("revoke_consent: %v %d", err, done.Status)
	}
	if _, code := refresh(t, &atB, fresh.RefreshToken); code != "invalid_grant" {
		t.Errorf("the portal's refresh token after the consent's revocation: %q, want invalid_grant", code)
	}
	auth := newBrowserAuth(t, conf)
	p := ff.get(owner, auth.url)
	if p.Has("password") || !p.Has("decision") {
		t.Fatalf("after the revocation the portal's authorization shows %s (%d), want the consent page without a login", p.URL.Path, p.Status)
	}
	if p = ff.submit(owner, p, "", url.Values{"decision": {"allow"}}); p.Location() == nil || p.Location().Query().Get("code") == "" {
		t.Fatalf("consent given again: %d at %s", p.Status, p.URL.Path)
	}
}
