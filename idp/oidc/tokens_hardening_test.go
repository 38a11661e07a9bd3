package oidc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

// userinfo fetches userinfo with the bearer token and decodes it.
func (idp *testIDP) userinfo(t *testing.T, token string) (*response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, idp.ts.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	r := idp.rawDo(t, req)
	var m map[string]any
	if r.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(r.body), &m); err != nil {
			t.Fatalf("userinfo is not JSON: %v", err)
		}
	}
	return r, m
}

// addClient stores another client.
func (idp *testIDP) addClient(t *testing.T, c *store.Client) {
	t.Helper()
	now := time.Now().UTC()
	c.CreatedAt, c.UpdatedAt = now, now
	if err := idp.srv.Durable.CreateClient(context.Background(), c); err != nil {
		t.Fatalf("add client %s: %v", c.ID, err)
	}
}

// TestRefreshTokenIsNotABearerToken: a refresh token opens nothing but the
// token endpoint. fosite's introspection falls back to refresh tokens;
// userinfo must refuse one, and the refused use must not spend it.
func TestRefreshTokenIsNotABearerToken(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	tr := idp.refreshTokens(t)

	for _, how := range []string{"header", "form"} {
		var req *http.Request
		if how == "header" {
			req, _ = http.NewRequest(http.MethodGet, idp.ts.URL+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tr.RefreshToken)
		} else {
			req, _ = http.NewRequest(http.MethodPost, idp.ts.URL+"/userinfo", strings.NewReader(url.Values{"access_token": {tr.RefreshToken}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		r := idp.rawDo(t, req)
		oauthError(t, r, http.StatusUnauthorized, "invalid_token")
		if strings.Contains(r.body, idp.account.ID) || strings.Contains(r.body, citizenEmail) {
			t.Errorf("refresh token in the %s: userinfo answered personal data: %s", how, r.body)
		}
	}
	// The refresh token was not touched: it still refreshes once.
	if r, next := idp.refresh(t, tr.RefreshToken, ""); r.StatusCode != http.StatusOK || next.AccessToken == "" {
		t.Fatalf("refresh after the refused bearer use: %d %s", r.StatusCode, r.body)
	}
	// The access token works where the refresh token did not.
	if r, _ := idp.userinfo(t, tr.AccessToken); r.StatusCode != http.StatusUnauthorized {
		// rotated by the refresh above: its access token is revoked
		t.Errorf("access token of a rotated refresh token: userinfo %d", r.StatusCode)
	}
}

// TestUserinfoRefusesTokenInQuery: RFC 6750 §2.3's query method puts the
// token in logs and history; it is refused.
func TestUserinfoRefusesTokenInQuery(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	_, tr := idp.exchange(t, idp.newBrowser(t).codeFor(authzParams("openid")))
	r := idp.rawDo(t, mustRequest(t, http.MethodGet, idp.ts.URL+"/userinfo?access_token="+url.QueryEscape(tr.AccessToken)))
	oauthError(t, r, http.StatusBadRequest, "invalid_request")
	if r, _ := idp.userinfo(t, tr.AccessToken); r.StatusCode != http.StatusOK {
		t.Errorf("the same token in the header: %d", r.StatusCode)
	}
}

func mustRequest(t *testing.T, method, u string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestIntrospectionOnlyByTheTokensClient: another confidential client
// learns nothing about a token (not its sub, sid, level, client or scope);
// the token's own client, and a client in its audience, do.
func TestIntrospectionOnlyByTheTokensClient(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	tr := idp.confidentialTokens(t, "openid email offline_access")
	for name, tok := range map[string]string{"access": tr.AccessToken, "refresh": tr.RefreshToken} {
		own := idp.introspectAs(t, secretClientID, tok)
		if own["active"] != true || own["sub"] != idp.account.ID || own["client_id"] != secretClientID {
			t.Errorf("%s token introspected by its own client: %v", name, own)
		}
		stranger := idp.introspectAs(t, otherClientID, tok)
		if len(stranger) != 1 || stranger["active"] != false {
			t.Errorf("%s token introspected by another client: %v, want {active:false} alone", name, stranger)
		}
	}
	// The same holds for a client credentials token.
	cc := idp.rawPost(t, "/token", "application/x-www-form-urlencoded",
		url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}.Encode(), basicAuth(secretClientID))
	var ccTok tokenResponse
	if cc.StatusCode != http.StatusOK || json.Unmarshal([]byte(cc.body), &ccTok) != nil {
		t.Fatalf("client credentials: %d %s", cc.StatusCode, cc.body)
	}
	if m := idp.introspectAs(t, otherClientID, ccTok.AccessToken); m["active"] != false {
		t.Errorf("a client credentials token introspected by a stranger: %v", m)
	}
	if m := idp.introspectAs(t, secretClientID, ccTok.AccessToken); m["active"] != true {
		t.Errorf("a client credentials token introspected by its client: %v", m)
	}
}

// TestPairwiseSubjects: a client registered for pairwise subjects gets a
// sub of its own, stable across logins, different from the account id and
// from another pairwise client's, the same in the ID token, the access
// token, userinfo and introspection; an ID token with it logs out at once.
func TestPairwiseSubjects(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	const pwRedirect = "https://pw.example/cb"
	for _, id := range []string{"pw-1", "pw-2"} {
		idp.addClient(t, &store.Client{
			ID: id, Name: "Pairwise " + id, SecretHash: idp.srv.Sealer.HashSecret(rpClientSecret),
			RedirectURIs: []string{pwRedirect}, PostLogoutRedirectURIs: []string{"https://pw.example/bye"},
			GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
			Scopes: []string{"openid", "email"}, TokenEndpointAuthMethod: "client_secret_basic",
			SubjectType: store.SubjectPairwise, SubjectSalt: []byte("salt of " + id + " -- 32 bytes long!"),
		})
	}
	b := idp.newBrowser(t)
	login := func(clientID string) (tokenResponse, string) {
		t.Helper()
		code := b.code(with(authzParams("openid email"), "client_id", clientID, "redirect_uri", pwRedirect))
		v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {pwRedirect}, "code_verifier": {testVerifier}}
		resp := idp.rawPost(t, "/token", "application/x-www-form-urlencoded", v.Encode(), basicAuth(clientID))
		var tr tokenResponse
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(resp.body), &tr) != nil {
			t.Fatalf("%s exchange: %d %s", clientID, resp.StatusCode, resp.body)
		}
		_, claims := idp.verifyJWT(t, tr.IDToken)
		sub, _ := claims["sub"].(string)
		return tr, sub
	}
	tr1, sub1 := login("pw-1")
	_, again := login("pw-1")
	tr2, sub2 := login("pw-2")
	// One SSO session, but each pairwise client sees its own sid: the
	// shared sid would link the two subs.
	_, id1 := idp.verifyJWT(t, tr1.IDToken)
	_, id2 := idp.verifyJWT(t, tr2.IDToken)
	if id1["sid"] == nil || id1["sid"] == id2["sid"] {
		t.Errorf("two pairwise clients share the sid %v", id1["sid"])
	}
	switch {
	case sub1 == "" || sub1 == idp.account.ID:
		t.Fatalf("pairwise sub %q: empty or the account id", sub1)
	case again != sub1:
		t.Errorf("pairwise sub changed between logins: %q then %q", sub1, again)
	case sub2 == sub1:
		t.Errorf("two pairwise clients got the same sub %q", sub1)
	}
	if _, at := idp.verifyJWT(t, tr1.AccessToken); at["sub"] != sub1 {
		t.Errorf("access token sub %v, ID token sub %s", at["sub"], sub1)
	}
	if r, ui := idp.userinfo(t, tr1.AccessToken); r.StatusCode != http.StatusOK || ui["sub"] != sub1 {
		t.Errorf("userinfo sub %v (status %d), want %s", ui["sub"], r.StatusCode, sub1)
	}
	if m := idp.introspectAs(t, "pw-1", tr1.AccessToken); m["sub"] != sub1 {
		t.Errorf("introspection sub %v, want %s", m["sub"], sub1)
	}
	// The public clients still get the account id.
	_, pub := idp.exchange(t, b.code(authzParams("openid")))
	if _, id := idp.verifyJWT(t, pub.IDToken); id["sub"] != idp.account.ID {
		t.Errorf("public client sub %v, want the account id", id["sub"])
	}
	// A pairwise ID token names the browser's session: logout is immediate.
	r := b.get("/logout?" + url.Values{"id_token_hint": {tr1.IDToken}, "post_logout_redirect_uri": {"https://pw.example/bye"}}.Encode())
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "https://pw.example/bye") {
		t.Fatalf("logout with a pairwise hint: %d %q, want a redirect without confirmation", r.StatusCode, r.Header.Get("Location"))
	}
}

// TestPersonalDataOnlyAtUserinfo: scope claims are released at userinfo,
// in the ID token only when the claims parameter asks for them there, and
// no stored grant (code, access or refresh record) holds personal data.
// A refresh issues tokens with the account as it is now.
func TestPersonalDataOnlyAtUserinfo(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	ctx := context.Background()
	b := idp.newBrowser(t)
	scope := "openid fullname email mobile offline_access"

	code := b.codeFor(authzParams(scope))
	codeGrant, err := idp.srv.Ephemeral.GetGrant(ctx, store.GrantAuthorizeCode, code[strings.LastIndex(code, ".")+1:])
	if err != nil {
		t.Fatalf("the code's record: %v", err)
	}
	_, tr := idp.exchange(t, code)
	_, id := idp.verifyJWT(t, tr.IDToken)
	for _, k := range []string{"family_name", "given_name", "middle_name", "name", "email", "email_verified", "phone_number", "phone_number_verified"} {
		if v, ok := id[k]; ok {
			t.Errorf("ID token carries %s = %v without the claims parameter", k, v)
		}
	}
	if id["level"] != "simplified" {
		t.Errorf("ID token level %v", id["level"])
	}
	if r, ui := idp.userinfo(t, tr.AccessToken); r.StatusCode != http.StatusOK || ui["family_name"] != idp.account.LastName || ui["email"] != citizenEmail || ui["phone_number"] != citizenPhone {
		t.Errorf("userinfo %d %v", r.StatusCode, ui)
	}

	accessGrant := mustGrant(t, idp.srv.Ephemeral, store.GrantAccessToken, accessDigest(tr.AccessToken))
	refreshGrant := mustGrant(t, idp.srv.Durable, store.GrantRefreshToken, tr.RefreshToken[strings.LastIndex(tr.RefreshToken, ".")+1:])
	for name, g := range map[string]*store.Grant{"code": codeGrant, "access": accessGrant, "refresh": refreshGrant} {
		for _, pd := range []string{idp.account.LastName, idp.account.FirstName, idp.account.MiddleName, citizenEmail, citizenPhone} {
			if bytes.Contains(g.Data, []byte(pd)) {
				t.Errorf("the %s record holds %q", name, pd)
			}
		}
	}

	// The claims parameter puts named claims in the ID token, those of
	// granted scopes only.
	claims := `{"id_token":{"family_name":null,"email":{"essential":true},"snils":null},"userinfo":{"email":null}}`
	code = b.code(with(authzParams(scope), "claims", claims))
	_, tr2 := idp.exchange(t, code)
	_, id2 := idp.verifyJWT(t, tr2.IDToken)
	if id2["family_name"] != idp.account.LastName || id2["email"] != citizenEmail {
		t.Errorf("ID token with the claims parameter: %v", id2)
	}
	for _, k := range []string{"given_name", "phone_number", "snils"} {
		if v, ok := id2[k]; ok {
			t.Errorf("ID token carries %s = %v, not asked for (or not granted)", k, v)
		}
	}
	refresh2 := mustGrant(t, idp.srv.Durable, store.GrantRefreshToken, tr2.RefreshToken[strings.LastIndex(tr2.RefreshToken, ".")+1:])
	if bytes.Contains(refresh2.Data, []byte(idp.account.LastName)) || bytes.Contains(refresh2.Data, []byte(citizenEmail)) {
		t.Error("the refresh record of a claims request holds personal data")
	}

	// The account changes; a refresh issues what is true now.
	if _, err := idp.srv.Durable.UpdateAccount(ctx, idp.account.ID, func(a *store.Account) error {
		a.LastName, a.Level = "Смирнова", store.LevelStandard
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r, next := idp.refresh(t, tr2.RefreshToken, "")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.StatusCode, r.body)
	}
	_, id3 := idp.verifyJWT(t, next.IDToken)
	_, at3 := idp.verifyJWT(t, next.AccessToken)
	if id3["family_name"] != "Смирнова" || id3["level"] != "standard" || at3["level"] != "standard" {
		t.Errorf("refreshed tokens are stale: ID token %v, access token level %v", id3, at3["level"])
	}

	// A malformed claims parameter is refused at the client's redirect URI.
	r = b.authorize(with(authzParams("openid"), "claims", "{not json"))
	if p := expectClientRedirect(t, r); p.Get("error") != "invalid_request" {
		t.Errorf("malformed claims: %v", p)
	}
}

// accessDigest is the key of an access token's record: the SHA-256 of the
// whole token (idp/oidc/strategy.go).
func accessDigest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func mustGrant(t *testing.T, g store.Grants, kind store.GrantKind, sig string) *store.Grant {
	t.Helper()
	got, err := g.GetGrant(context.Background(), kind, sig)
	if err != nil {
		t.Fatalf("%s record: %v", kind, err)
	}
	return got
}

// TestDeletedAccountEndsRefresh: the refresh tokens of a deleted account
// are dead (invalid_grant), not a server error.
func TestDeletedAccountEndsRefresh(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	tr := idp.refreshTokens(t)
	// The store has no account deletion yet (the accounts issue adds it):
	// rewrite the refresh record to name an account that does not exist.
	ctx := context.Background()
	g := mustGrant(t, idp.srv.Durable, store.GrantRefreshToken, tr.RefreshToken[strings.LastIndex(tr.RefreshToken, ".")+1:])
	data := bytes.ReplaceAll(g.Data, []byte(idp.account.ID), []byte("gone-account"))
	if err := idp.srv.Durable.DeleteGrant(ctx, store.GrantRefreshToken, g.Signature); err != nil {
		t.Fatal(err)
	}
	g.Data = data
	if err := idp.srv.Durable.CreateGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	r, _ := idp.refresh(t, tr.RefreshToken, "")
	oauthError(t, r, http.StatusBadRequest, "invalid_grant")
}

// TestPKCERequiredOfConfidentialClients: RFC 9700 §2.1.1; only a client the
// operator registered without PKCE may skip it, and look-alikes of S256 are
// refused for every client.
func TestPKCERequiredOfConfidentialClients(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	b := idp.newBrowser(t)
	q := confidentialParams("openid")
	r := b.authorize(with(q, "code_challenge", "", "code_challenge_method", ""))
	if p := expectRedirectTo(t, r, secretRedirect); p.Get("error") != "invalid_request" || !strings.Contains(p.Get("error_description"), "code_challenge") {
		t.Errorf("confidential client without PKCE: %v", p)
	}
	for _, method := range []string{"plain", "s256", "S256 ", "", "S512"} {
		r := b.authorize(with(q, "code_challenge_method", method))
		if p := expectRedirectTo(t, r, secretRedirect); p.Get("error") != "invalid_request" {
			t.Errorf("code_challenge_method %q: %v", method, p)
		}
	}
	// A code issued with a challenge needs the verifier, and the right one.
	code := idp.newBrowser(t).codeFor(q)
	for _, verifier := range []string{"", "wrong-verifier-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEF"} {
		v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {secretRedirect}}
		if verifier != "" {
			v.Set("code_verifier", verifier)
		}
		r := idp.rawPost(t, "/token", "application/x-www-form-urlencoded", v.Encode(), basicAuth(secretClientID))
		if r.StatusCode != http.StatusBadRequest || (!strings.Contains(r.body, "invalid_grant") && !strings.Contains(r.body, "invalid_request")) {
			t.Errorf("verifier %q: %d %s", verifier, r.StatusCode, r.body)
		}
	}

	// The operator's explicit opt-out lets a legacy client in without PKCE.
	const legacyRedirect = "https://legacy.example/cb"
	idp.addClient(t, &store.Client{
		ID: "legacy", Name: "Legacy", SecretHash: idp.srv.Sealer.HashSecret(rpClientSecret),
		RedirectURIs: []string{legacyRedirect}, GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid"}, TokenEndpointAuthMethod: "client_secret_basic", PKCEOptional: true,
	})
	legacy := with(q, "client_id", "legacy", "redirect_uri", legacyRedirect, "code_challenge", "", "code_challenge_method", "")
	code = idp.newBrowser(t).codeFor(legacy)
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {legacyRedirect}}
	if r := idp.rawPost(t, "/token", "application/x-www-form-urlencoded", v.Encode(), basicAuth("legacy")); r.StatusCode != http.StatusOK {
		t.Errorf("legacy client without PKCE: %d %s", r.StatusCode, r.body)
	}
	// Even it cannot use plain.
	r = b.authorize(with(legacy, "code_challenge", "abc", "code_challenge_method", "plain"))
	if p := expectRedirectTo(t, r, legacyRedirect); p.Get("error") != "invalid_request" {
		t.Errorf("legacy client with plain: %v", p)
	}
}

// TestLoopbackLookAlikes: a confidential client registered with a loopback
// redirect URI gets only RFC 8252's port exception; hosts that merely look
// like loopback never receive a redirect.
func TestLoopbackLookAlikes(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	const registered = "http://127.0.0.1:8765/cb"
	idp.addClient(t, &store.Client{
		ID: "loopback", Name: "Loopback", SecretHash: idp.srv.Sealer.HashSecret(rpClientSecret),
		RedirectURIs: []string{registered}, GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid"}, TokenEndpointAuthMethod: "client_secret_basic",
	})
	b := idp.newBrowser(t)
	q := with(authzParams("openid"), "client_id", "loopback")
	for _, u := range []string{
		"http://127.0.0.1.evil.example:8765/cb",
		"http://localhost:8765/cb",
		"http://127.0.0.2:8765/cb",
		"http://[::1]:8765/cb",
		"http://127.0.0.1:8765@evil.example/cb",
		"http://127.0.0.1:8765/cb/../evil",
		"http://127.0.0.1:8765/cb?x=1",
		"https://127.0.0.1:8765/cb",
		"http://0x7f.0.0.1:8765/cb",
		"http://2130706433:8765/cb",
	} {
		r := b.authorize(with(q, "redirect_uri", u))
		if r.StatusCode != http.StatusBadRequest || r.Header.Get("Location") != "" {
			t.Errorf("redirect_uri %s: %d %q, want an error page and no redirect", u, r.StatusCode, r.Header.Get("Location"))
		}
	}
	// The registered one, and the same with another port, are accepted.
	for _, u := range []string{registered, "http://127.0.0.1:9999/cb"} {
		r := b.authorize(with(q, "redirect_uri", u))
		if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("redirect_uri %s: %d %q, want the login step", u, r.StatusCode, r.Header.Get("Location"))
		}
	}
}

// TestTamperedRefreshTokenIsInvalidGrant: a refresh token whose HMAC does
// not verify is invalid_grant (RFC 6749 §5.2), and spends nothing.
func TestTamperedRefreshTokenIsInvalidGrant(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	tr := idp.refreshTokens(t)
	dot := strings.LastIndex(tr.RefreshToken, ".")
	// Change a character in the middle of the key part (the last one may
	// carry only padding bits); the signature part, the lookup, stays.
	key := []byte(tr.RefreshToken[:dot])
	i := len(key) - 10
	if key[i] == 'A' {
		key[i] = 'B'
	} else {
		key[i] = 'A'
	}
	r, _ := idp.refresh(t, string(key)+tr.RefreshToken[dot:], "")
	oauthError(t, r, http.StatusBadRequest, "invalid_grant")
	// A key part that is not base64 at all is invalid_grant too.
	r, _ = idp.refresh(t, "ory_rt_@@@"+tr.RefreshToken[dot:], "")
	oauthError(t, r, http.StatusBadRequest, "invalid_grant")
	if r, _ := idp.refresh(t, tr.RefreshToken, ""); r.StatusCode != http.StatusOK {
		t.Errorf("the untampered token after the refusal: %d %s", r.StatusCode, r.body)
	}
}

// TestClaimsParameterRequirements: the claims parameter's MUSTs (OpenID
// Connect Core §5.5.1): an acr asked for is enforced as a minimum level
// like acr_values, an essential acr that cannot be met fails, and a sub
// value lets only that citizen's login answer.
func TestClaimsParameterRequirements(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t) // the citizen is simplified
	b := idp.newBrowser(t)
	b.code(authzParams("openid")) // an SSO session
	none := with(authzParams("openid"), "prompt", "none")
	withClaims := func(q url.Values, claims string) url.Values { return with(q, "claims", claims) }

	for _, claims := range []string{
		`{"id_token":{"acr":{"essential":true,"values":["standard","confirmed"]}}}`,
		`{"id_token":{"acr":{"value":"confirmed"}}}`,
	} {
		if p := expectClientRedirect(t, b.authorize(withClaims(none, claims))); p.Get("error") != "unmet_authentication_requirements" {
			t.Errorf("claims %s for a simplified citizen: %v", claims, p)
		}
	}
	// Met: an acr the account's level satisfies.
	if p := expectClientRedirect(t, b.authorize(withClaims(none, `{"id_token":{"acr":{"essential":true,"values":["simplified"]}}}`))); p.Get("code") == "" {
		t.Errorf("an essential acr that is met: %v", p)
	}
	// Essential and not supported at all: refused before any page.
	fresh := idp.newBrowser(t)
	if p := expectClientRedirect(t, fresh.authorize(withClaims(authzParams("openid"), `{"id_token":{"acr":{"essential":true,"values":["urn:mace:incommon:iap:gold"]}}}`))); p.Get("error") != "unmet_authentication_requirements" {
		t.Errorf("an essential acr that is not supported: %v", p)
	}

	// sub: another citizen's value is never answered by this session.
	other := `{"id_token":{"sub":{"value":"someone-else"}}}`
	if p := expectClientRedirect(t, b.authorize(withClaims(none, other))); p.Get("error") != "login_required" {
		t.Errorf("sub of someone else, prompt=none: %v", p)
	}
	r := b.authorize(withClaims(authzParams("openid"), other))
	page := b.get(expectStep(t, r, "/login").String())
	r = b.submitLogin(page, citizenPhone, citizenPassword)
	if p := expectClientRedirect(t, r); p.Get("error") != "login_required" || p.Get("code") != "" {
		t.Errorf("sub of someone else, then this citizen logs in: %v", p)
	}
	mine := `{"id_token":{"sub":{"value":"` + idp.account.ID + `"}}}`
	if p := expectClientRedirect(t, b.authorize(withClaims(none, mine))); p.Get("code") == "" {
		t.Errorf("this citizen's own sub: %v", p)
	}
}

// TestLevelDropReleasesLess: a scope granted while the account's level
// allowed it releases nothing once the level has dropped, at userinfo and
// in refreshed ID tokens.
func TestLevelDropReleasesLess(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	ctx := context.Background()
	if _, err := idp.srv.Durable.UpdateAccount(ctx, idp.account.ID, func(a *store.Account) error {
		a.Level, a.SNILS = store.LevelStandard, "11223344595"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	const redirect = "https://snils.example/cb"
	idp.addClient(t, &store.Client{
		ID: "snils-rp", Name: "SNILS RP", RedirectURIs: []string{redirect},
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid", "snils", "offline_access"}, TokenEndpointAuthMethod: "none",
	})
	q := with(authzParams("openid snils offline_access"), "client_id", "snils-rp", "redirect_uri", redirect,
		"claims", `{"id_token":{"snils":null}}`)
	code := idp.newBrowser(t).code(q)
	r, tr := idp.postToken(t, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
		"client_id": {"snils-rp"}, "code_verifier": {testVerifier}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("exchange: %d %s", r.StatusCode, r.body)
	}
	if _, ui := idp.userinfo(t, tr.AccessToken); ui["snils"] != "11223344595" {
		t.Fatalf("userinfo at standard: %v", ui)
	}
	if _, err := idp.srv.Durable.UpdateAccount(ctx, idp.account.ID, func(a *store.Account) error {
		a.Level = store.LevelSimplified
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, ui := idp.userinfo(t, tr.AccessToken); ui["snils"] != nil || ui["level"] != "simplified" {
		t.Errorf("userinfo after the level dropped: %v", ui)
	}
	r, next := idp.postToken(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}, "client_id": {"snils-rp"}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.StatusCode, r.body)
	}
	if _, id := idp.verifyJWT(t, next.IDToken); id["snils"] != nil || id["level"] != "simplified" {
		t.Errorf("refreshed ID token after the level dropped: %v", id)
	}
}
