package oidc_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/config"
)

// Behaviours an OpenID Provider conformance review found wrong, each pinned
// to the clause it follows.

func secretBasic() http.Header { return basicAuth(secretClientID) }

// oauthError decodes an error answer and checks its status.
func oauthError(t *testing.T, r *response, status int, code string) {
	t.Helper()
	var e struct {
		Error string `json:"error"`
		Desc  string `json:"error_description"`
	}
	if err := json.Unmarshal([]byte(r.body), &e); err != nil {
		t.Fatalf("%s: status %d, not JSON: %s", r.Request.URL.Path, r.StatusCode, r.body)
	}
	if r.StatusCode != status || e.Error != code {
		t.Errorf("%s: status %d error %q (%s), want %d %s", r.Request.URL.Path, r.StatusCode, e.Error, e.Desc, status, code)
	}
	if e.Error != "" && e.Desc == "" {
		t.Errorf("%s: %s without a description", r.Request.URL.Path, e.Error)
	}
}

// RFC 6749 §4.1.1 / OpenID Connect Core §3.1.2.1: state is recommended, not
// required; §4.1.2: it comes back only when it was sent.
func TestAuthorizeWithoutState(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	b := idp.newBrowser(t)
	q := with(authzParams("openid"), "state", "")
	r := b.submitLogin(b.startLogin(q), citizenPhone, citizenPassword)
	if r.StatusCode == http.StatusSeeOther && strings.HasPrefix(r.Header.Get("Location"), "/consent") {
		r = b.consent(r, "allow")
	}
	p := expectClientRedirect(t, r)
	if p.Get("code") == "" || p.Has("state") || p.Get("iss") != testIssuer || p.Get("error") != "" {
		t.Fatalf("authorization response %v: want a code and iss, no state", p)
	}
	if resp, tr := idp.exchange(t, p.Get("code")); resp.StatusCode != http.StatusOK || tr.IDToken == "" {
		t.Errorf("exchange: status %d, %+v", resp.StatusCode, tr)
	}

	// An error without state: no state either.
	p = expectClientRedirect(t, b.authorize(with(q, "response_type", "token")))
	if p.Get("error") != "unsupported_response_type" || p.Has("state") {
		t.Errorf("error response %v: want unsupported_response_type without state", p)
	}
	// An empty state is an absent one (RFC 6749 §3.1).
	p = expectClientRedirect(t, b.authorize(with(q, "response_type", "token", "state", "")))
	if p.Has("state") {
		t.Errorf("error response %v has a state", p)
	}
}

// RFC 6749 §3.1: parameters must not be repeated. The error goes to the
// client unless client_id or redirect_uri is what is repeated.
func TestAuthorizeRepeatedParameter(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	b := idp.newBrowser(t)
	base := authzParams("openid").Encode()

	r := b.get("/authorize?" + base + "&state=second")
	p := expectClientRedirect(t, r)
	if p.Get("error") != "invalid_request" || p.Get("code") != "" || !strings.Contains(p.Get("error_description"), "state") {
		t.Errorf("repeated state: %v", p)
	}
	for _, name := range []string{"redirect_uri", "client_id"} {
		// Alone, and with another repeated parameter that sorts first.
		for _, extra := range []string{"", "&acr_values=a&acr_values=b"} {
			r := b.get("/authorize?" + base + "&" + name + "=" + url.QueryEscape(rpRedirect+"x") + extra)
			if r.StatusCode != http.StatusBadRequest || r.Header.Get("Location") != "" {
				t.Errorf("repeated %s%s: status %d, Location %q; want a 400 page", name, extra, r.StatusCode, r.Header.Get("Location"))
			}
		}
	}

	// A value in the query and another in a POST body count as two.
	r = b.post("/authorize?state=in-query", authzParams("openid"))
	if p := expectClientRedirect(t, r); p.Get("error") != "invalid_request" {
		t.Errorf("state in query and body: %v", p)
	}
	// A POST alone is an authorization request like a GET (Core §3.1.2.1).
	expectStep(t, b.post("/authorize", authzParams("openid")), "/login")

	// The client's own text is not echoed in the description.
	r = b.get("/authorize?" + base + "&x%3Cscript%3E=1&x%3Cscript%3E=2")
	if p := expectClientRedirect(t, r); p.Get("error") != "invalid_request" || strings.Contains(p.Get("error_description"), "script") {
		t.Errorf("repeated unknown parameter: %v", p)
	}
}

// OpenID Connect Core §5.4: scope values not understood are ignored; a
// known scope the client may not ask for is still refused.
func TestAuthorizeIgnoresUnknownScopes(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	b := idp.newBrowser(t)
	code := b.codeFor(authzParams("openid no-such-scope fullname"))
	r, tr := idp.exchange(t, code)
	if r.StatusCode != http.StatusOK || tr.Scope != "openid fullname" {
		t.Errorf("status %d scope %q, want openid fullname", r.StatusCode, tr.Scope)
	}
	p := expectClientRedirect(t, b.authorize(authzParams("openid snils")))
	if p.Get("error") != "invalid_scope" {
		t.Errorf("a known scope not registered for the client: %v", p)
	}
	// Nothing known at all: refused, not turned into a request without
	// scope.
	p = expectClientRedirect(t, b.authorize(authzParams("bogus other")))
	if p.Get("error") != "invalid_scope" || p.Get("code") != "" {
		t.Errorf("only unknown scopes: %v", p)
	}
}

// RFC 6749 §5.2: the token endpoint's error codes.
func TestTokenErrorCodes(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name   string
		body   string
		header http.Header
		status int
		error  string
	}{
		{"unsupported grant", "grant_type=password&username=a&password=b", secretBasic(), 400, "unsupported_grant_type"},
		{"unknown grant", "grant_type=urn:example:%3Cfoo%3E", secretBasic(), 400, "unsupported_grant_type"},
		{"unparseable body", "%zz", secretBasic(), 400, "invalid_request"},
		{"no code", "grant_type=authorization_code&redirect_uri=" + url.QueryEscape("https://rp2.example/cb"), secretBasic(), 400, "invalid_request"},
		{"no refresh token", "grant_type=refresh_token", secretBasic(), 400, "invalid_request"},
		{"repeated grant_type", "grant_type=client_credentials&grant_type=client_credentials", secretBasic(), 400, "invalid_request"},
		{"no client authentication", "grant_type=client_credentials", nil, 401, "invalid_client"},
		{"another client_id than authenticated", "grant_type=client_credentials&client_id=" + publicClientID, secretBasic(), 400, "invalid_request"},
		{"public client, client credentials", "grant_type=client_credentials&client_id=" + publicClientID, nil, 400, "unauthorized_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := idp.rawPost(t, "/token", form, tc.body, tc.header)
			oauthError(t, r, tc.status, tc.error)
			if strings.Contains(r.body, "foo") {
				t.Errorf("the client's text is echoed: %s", r.body)
			}
			if tc.status == http.StatusUnauthorized && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("401 without WWW-Authenticate: Basic")
			}
			if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
		})
	}
}

// refreshTokens runs a code flow for the public client with offline_access.
func (idp *testIDP) refreshTokens(t *testing.T) tokenResponse {
	t.Helper()
	b := idp.newBrowser(t)
	r, tr := idp.exchange(t, b.codeFor(authzParams("openid email offline_access")))
	if r.StatusCode != http.StatusOK || tr.RefreshToken == "" || tr.AccessToken == "" {
		t.Fatalf("exchange: status %d, %+v", r.StatusCode, tr)
	}
	return tr
}

func (idp *testIDP) refresh(t *testing.T, token, scope string) (*response, tokenResponse) {
	t.Helper()
	v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}, "client_id": {publicClientID}}
	if scope != "" {
		v.Set("scope", scope)
	}
	return idp.postToken(t, v)
}

// RFC 6749 §6: a refresh may not ask for more than was granted.
func TestRefreshScope(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	tr := idp.refreshTokens(t)

	r, _ := idp.refresh(t, tr.RefreshToken, "openid email offline_access fullname")
	oauthError(t, r, http.StatusBadRequest, "invalid_scope")
	// The refused request spent nothing: the same token still works, and
	// a narrower scope is accepted (the tokens keep the grant's scope,
	// which the response says).
	r, next := idp.refresh(t, tr.RefreshToken, "openid offline_access")
	if r.StatusCode != http.StatusOK || next.Scope != "openid email offline_access" || next.RefreshToken == "" {
		t.Fatalf("narrower refresh: status %d, %+v", r.StatusCode, next)
	}
	if r, again := idp.refresh(t, next.RefreshToken, ""); r.StatusCode != http.StatusOK || again.Scope != next.Scope {
		t.Errorf("refresh without scope: status %d, %+v", r.StatusCode, again)
	}
}

func (idp *testIDP) introspect(t *testing.T, token string) map[string]any {
	t.Helper()
	return idp.introspectAs(t, secretClientID, token)
}

// introspectAs introspects a token as the confidential client callerID.
func (idp *testIDP) introspectAs(t *testing.T, callerID, token string) map[string]any {
	t.Helper()
	r := idp.rawPost(t, "/introspect", "application/x-www-form-urlencoded", url.Values{"token": {token}}.Encode(), basicAuth(callerID))
	var m map[string]any
	if r.StatusCode != http.StatusOK || json.Unmarshal([]byte(r.body), &m) != nil {
		t.Fatalf("introspect: status %d, %s", r.StatusCode, r.body)
	}
	return m
}

// RFC 7662 §2.2: exp is the introspected token's own.
func TestIntrospectionMembers(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	tr := idp.confidentialTokens(t, "openid email offline_access")
	now := time.Now().Unix()
	def := config.Defaults() // newTestIDP's lifetimes

	at := idp.introspect(t, tr.AccessToken)
	rt := idp.introspect(t, tr.RefreshToken)
	for name, m := range map[string]map[string]any{"access": at, "refresh": rt} {
		if m["active"] != true || m["iss"] != testIssuer || m["client_id"] != secretClientID || m["sub"] != idp.account.ID || m["scope"] != "openid email offline_access" {
			t.Errorf("%s token: %v", name, m)
		}
	}
	atExp, _ := at["exp"].(float64)
	rtExp, _ := rt["exp"].(float64)
	if d := int64(atExp) - now - int64(def.AccessTokenLifetime.Seconds()); d < -5 || d > 5 {
		t.Errorf("access token exp %v, want about now + %s", at["exp"], def.AccessTokenLifetime)
	}
	if d := int64(rtExp) - now - int64(def.RefreshTokenLifetime.Seconds()); d < -5 || d > 5 {
		t.Errorf("refresh token exp %v, want about now + %s", rt["exp"], def.RefreshTokenLifetime)
	}
	if at["token_type"] != "Bearer" || rt["token_type"] != nil {
		t.Errorf("token_type: access %v, refresh %v", at["token_type"], rt["token_type"])
	}

	if m := idp.introspect(t, "no-such-token"); len(m) != 1 || m["active"] != false {
		t.Errorf("unknown token: %v", m)
	}
}

// RFC 7009 §2.1: a client may revoke only its own tokens, and is told when
// it may not; §2.2: an unknown token is 200.
func TestRevocationErrors(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	tr := idp.refreshTokens(t) // the public client's
	const form = "application/x-www-form-urlencoded"

	r := idp.rawPost(t, "/revoke", form, url.Values{"token": {tr.AccessToken}}.Encode(), secretBasic())
	oauthError(t, r, http.StatusBadRequest, "unauthorized_client")
	if status := idp.userinfoStatus(t, tr.AccessToken); status != http.StatusOK {
		t.Fatalf("another client's revocation revoked the token: userinfo %d", status)
	}

	bad := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(secretClientID+":wrong"))}}
	r = idp.rawPost(t, "/revoke", form, url.Values{"token": {tr.AccessToken}}.Encode(), bad)
	oauthError(t, r, http.StatusUnauthorized, "invalid_client")
	if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("401 without WWW-Authenticate: Basic")
	}
	r = idp.rawPost(t, "/revoke", form, url.Values{"token": {tr.AccessToken}}.Encode(), nil)
	oauthError(t, r, http.StatusUnauthorized, "invalid_client")
	// A body that cannot be parsed is a bad request, whoever sent it.
	oauthError(t, idp.rawPost(t, "/revoke", form, "%zz", nil), http.StatusBadRequest, "invalid_request")
	oauthError(t, idp.rawPost(t, "/revoke", form, "token=a&token=b&client_id="+publicClientID, nil), http.StatusBadRequest, "invalid_request")
	// The same client_id rules as at the token endpoint.
	oauthError(t, idp.rawPost(t, "/revoke", form, url.Values{"token": {tr.AccessToken}, "client_id": {publicClientID}}.Encode(), secretBasic()), http.StatusBadRequest, "invalid_request")

	r = idp.rawPost(t, "/revoke", form, url.Values{"token": {"no-such-token"}}.Encode(), secretBasic())
	if r.StatusCode != http.StatusOK {
		t.Errorf("unknown token: status %d %s", r.StatusCode, r.body)
	}
	r = idp.rawPost(t, "/revoke", form, url.Values{"token": {tr.RefreshToken}, "client_id": {publicClientID}}.Encode(), nil)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("own token: status %d %s", r.StatusCode, r.body)
	}
	if status := idp.userinfoStatus(t, tr.AccessToken); status != http.StatusUnauthorized {
		t.Errorf("revoking the refresh token left its access token usable: userinfo %d", status)
	}
}

// userinfoStatus is the status of a userinfo request with the access token.
func (idp *testIDP) userinfoStatus(t *testing.T, accessToken string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, idp.ts.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	return idp.rawDo(t, req).StatusCode
}

// OpenID Connect Core §3.1.2.1: max_age is a number of seconds, and an
// id_token_hint is an ID token (not, say, an access token, typ at+jwt).
func TestAuthorizeHintAndMaxAge(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	b := idp.newBrowser(t)
	_, tr := idp.exchange(t, b.codeFor(authzParams("openid")))
	for name, q := range map[string]url.Values{
		"max_age not a number":        with(authzParams("openid"), "max_age", "abc"),
		"max_age negative":            with(authzParams("openid"), "max_age", "-1"),
		"access token as a hint":      with(authzParams("openid"), "id_token_hint", tr.AccessToken),
		"garbage as a hint":           with(authzParams("openid"), "id_token_hint", "not-a-jwt"),
		"access token hint, no login": with(authzParams("openid"), "id_token_hint", tr.AccessToken, "prompt", "none"),
	} {
		p := expectClientRedirect(t, b.authorize(q))
		if p.Get("error") != "invalid_request" || p.Get("code") != "" {
			t.Errorf("%s: %v, want invalid_request", name, p)
		}
	}
	// The real ID token as the hint, with a numeric max_age: a code.
	p := expectClientRedirect(t, b.authorize(with(authzParams("openid"), "id_token_hint", tr.IDToken, "max_age", "3600", "prompt", "none")))
	if p.Get("code") == "" {
		t.Errorf("ID token hint: %v, want a code", p)
	}
}

// RFC 6750 §2: a client sends the access token one way only.
func TestUserinfoOneTokenMethod(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	b := idp.newBrowser(t)
	_, tr := idp.exchange(t, b.codeFor(authzParams("openid")))
	body := url.Values{"access_token": {tr.AccessToken}}.Encode()
	req, _ := http.NewRequest(http.MethodPost, idp.ts.URL+"/userinfo", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
	r := idp.rawDo(t, req)
	oauthError(t, r, http.StatusBadRequest, "invalid_request")
	if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_request"`) {
		t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}
	req, _ = http.NewRequest(http.MethodGet, idp.ts.URL+"/userinfo?access_token="+url.QueryEscape(tr.AccessToken), nil)
	req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
	oauthError(t, idp.rawDo(t, req), http.StatusBadRequest, "invalid_request")

	// Each alone works.
	req, _ = http.NewRequest(http.MethodPost, idp.ts.URL+"/userinfo", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r := idp.rawDo(t, req); r.StatusCode != http.StatusOK {
		t.Errorf("form body alone: status %d %s", r.StatusCode, r.body)
	}
}

// RP-Initiated Logout 1.0 §2: ui_locales chooses the pages' language, over
// the browser's Accept-Language (en in these tests).
func TestLogoutUILocales(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	b, _ := idp.loggedIn(t)
	r := b.get("/logout?client_id=" + publicClientID + "&ui_locales=" + url.QueryEscape("de ru-RU en"))
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, `<html lang="ru">`) {
		t.Errorf("status %d; want the confirmation page in Russian:\n%s", r.StatusCode, r.body)
	}
	// Without a session: the logged-out page, in Russian too.
	r = idp.newBrowser(t).get("/logout?ui_locales=ru")
	if !strings.Contains(r.body, `<html lang="ru">`) {
		t.Errorf("want the page in Russian:\n%s", r.body)
	}
}

// The metadata is also at RFC 8414's path, and the metadata and the keys
// may be read from any origin (a relying party in a browser).
func TestMetadataPathsAndCORS(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	b := idp.newBrowser(t)
	oidcDoc := b.get("/.well-known/openid-configuration")
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/jwks"} {
		r := b.get(path)
		if r.StatusCode != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: status %d, Access-Control-Allow-Origin %q", path, r.StatusCode, r.Header.Get("Access-Control-Allow-Origin"))
		}
		if strings.HasPrefix(path, "/.well-known/") && r.body != oidcDoc.body {
			t.Errorf("%s differs from the OpenID configuration", path)
		}
	}
	var meta struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal([]byte(oidcDoc.body), &meta); err != nil || meta.Issuer != testIssuer {
		t.Errorf("metadata issuer %q, %v", meta.Issuer, err)
	}
}
