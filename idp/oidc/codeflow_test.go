package oidc_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// verifyJWT checks a compact JWS against the provider's published key set
// and returns its header and claims.
func (idp *testIDP) verifyJWT(t *testing.T, raw string) (jose.Header, map[string]any) {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse JWS: %v", err)
	}
	if len(jws.Signatures) != 1 {
		t.Fatalf("%d signatures, want 1", len(jws.Signatures))
	}
	h := jws.Signatures[0].Protected
	r := idp.newBrowser(t).get("/jwks")
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(r.body), &set); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d published keys, want 1", h.KeyID, len(keys))
	}
	if keys[0].Algorithm != h.Algorithm {
		t.Errorf("token alg %s signed with a %s key", h.Algorithm, keys[0].Algorithm)
	}
	payload, err := jws.Verify(keys[0].Key)
	if err != nil {
		t.Fatalf("signature does not verify with the published key: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatalf("claims: %v", err)
	}
	return h, claims
}

// numeric returns a NumericDate claim as a time.
func numeric(t *testing.T, claims map[string]any, name string) time.Time {
	t.Helper()
	f, ok := claims[name].(float64)
	if !ok {
		t.Fatalf("claim %s = %v, want a number", name, claims[name])
	}
	return time.Unix(int64(f), 0)
}

// The authorization code flow end to end: authorize, login, consent, token
// with PKCE, userinfo.
func TestCodeFlow(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	b := idp.newBrowser(t)
	start := time.Now().Add(-time.Second).Truncate(time.Second)
	q := authzParams("openid fullname")
	code := b.codeFor(q)

	r, tr := idp.exchange(t, code)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("token: status %d: %s", r.StatusCode, r.body)
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("token response Cache-Control %q, want no-store", cc)
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Errorf("token response Content-Type %q", r.Header.Get("Content-Type"))
	}
	if !strings.EqualFold(tr.TokenType, "bearer") || tr.AccessToken == "" || tr.IDToken == "" || tr.ExpiresIn <= 0 {
		t.Fatalf("token response %+v", tr)
	}
	if tr.RefreshToken != "" {
		t.Errorf("a refresh token without offline_access")
	}

	// The ID token.
	h, id := idp.verifyJWT(t, tr.IDToken)
	if h.Algorithm != "RS256" {
		t.Errorf("ID token alg %s, want RS256", h.Algorithm)
	}
	end := time.Now().Add(time.Second)
	want := map[string]any{
		"iss":   testIssuer,
		"sub":   idp.account.ID,
		"level": "simplified",
		"acr":   "simplified",
		"nonce": q.Get("nonce"),
	}
	for k, v := range want {
		if id[k] != v {
			t.Errorf("ID token %s = %v, want %v", k, id[k], v)
		}
	}
	// fullname releases the name claims at userinfo only (OpenID Connect
	// Core §5.4: an access token is issued), never in the ID token unless
	// the claims parameter asks for them there.
	for _, k := range []string{"family_name", "given_name", "middle_name", "name"} {
		if v, ok := id[k]; ok {
			t.Errorf("ID token carries %s = %v", k, v)
		}
	}
	if aud, _ := id["aud"].([]any); !slices.Contains(aud, any(publicClientID)) {
		if id["aud"] != publicClientID {
			t.Errorf("ID token aud %v, want %s", id["aud"], publicClientID)
		}
	}
	if amr, _ := id["amr"].([]any); len(amr) != 1 || amr[0] != "pwd" {
		t.Errorf("ID token amr %v, want [pwd]", id["amr"])
	}
	if at := numeric(t, id, "auth_time"); at.Before(start) || at.After(end) {
		t.Errorf("auth_time %v outside the test's run %v..%v", at, start, end)
	}
	if exp := numeric(t, id, "exp"); !exp.After(time.Now()) {
		t.Errorf("ID token expired at %v", exp)
	}
	sid, _ := id["sid"].(string)
	if sid == "" {
		t.Error("ID token has no sid")
	}
	if _, ok := id["email"]; ok {
		t.Error("ID token releases email without the email scope")
	}

	// The access token (RFC 9068).
	h, at := idp.verifyJWT(t, tr.AccessToken)
	if typ, _ := h.ExtraHeaders["typ"].(string); typ != "at+jwt" {
		t.Errorf("access token typ %q, want at+jwt", typ)
	}
	if at["sub"] != idp.account.ID || at["client_id"] != publicClientID || at["iss"] != testIssuer {
		t.Errorf("access token claims %v", at)
	}
	if at["scope"] != "openid fullname" {
		t.Errorf("access token scope %v, want \"openid fullname\"", at["scope"])
	}

	// Userinfo, GET with the header, POST with the header and POST with the
	// form parameter (RFC 6750 §2.1, §2.2).
	for _, tc := range []struct {
		name string
		req  func() *http.Request
	}{
		{"GET bearer", func() *http.Request {
			req, _ := http.NewRequest(http.MethodGet, idp.ts.URL+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
			return req
		}},
		{"POST bearer", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, idp.ts.URL+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
			return req
		}},
		{"POST form", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, idp.ts.URL+"/userinfo",
				strings.NewReader(url.Values{"access_token": {tr.AccessToken}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return req
		}},
	} {
		t.Run("userinfo "+tc.name, func(t *testing.T) {
			r := idp.rawDo(t, tc.req())
			if r.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", r.StatusCode, r.body)
			}
			if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
			var ui map[string]any
			if err := json.Unmarshal([]byte(r.body), &ui); err != nil {
				t.Fatalf("userinfo is not JSON: %v", err)
			}
			if ui["sub"] != idp.account.ID || ui["level"] != "simplified" || ui["family_name"] != idp.account.LastName {
				t.Errorf("userinfo %v", ui)
			}
			if _, ok := ui["email"]; ok {
				t.Error("userinfo releases email without the email scope")
			}
		})
	}

	// A code works once.
	r, tr2 := idp.exchange(t, code)
	if r.StatusCode != http.StatusBadRequest || tr2.Error != "invalid_grant" {
		t.Errorf("second exchange: status %d error %q, want 400 invalid_grant", r.StatusCode, tr2.Error)
	}

	// A second authorization in the same SSO session keeps auth_time and sid.
	code2 := expectClientRedirect(t, b.authorize(q)).Get("code")
	r, tr3 := idp.exchange(t, code2)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("token: status %d: %s", r.StatusCode, r.body)
	}
	_, id2 := idp.verifyJWT(t, tr3.IDToken)
	if id2["sid"] != sid || id2["auth_time"] != id["auth_time"] {
		t.Errorf("second ID token sid %v auth_time %v, want %v %v", id2["sid"], id2["auth_time"], sid, id["auth_time"])
	}
}

// The token endpoint refuses a code exchanged without the verifier, with a
// wrong one, or for another redirect URI.
func TestCodeFlowTokenErrors(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	tests := []struct {
		name   string
		change func(url.Values)
		status int
		want   string
	}{
		{"no verifier", func(v url.Values) { v.Del("code_verifier") }, http.StatusBadRequest, "invalid_grant"},
		{"wrong verifier", func(v url.Values) { v.Set("code_verifier", strings.Repeat("x", 50)) }, http.StatusBadRequest, "invalid_grant"},
		{"other redirect_uri", func(v url.Values) { v.Set("redirect_uri", "https://rp.example/other") }, http.StatusBadRequest, "invalid_grant"},
		{"other client", func(v url.Values) { v.Set("client_id", "no-such-client") }, http.StatusUnauthorized, "invalid_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := idp.newBrowser(t)
			code := b.codeFor(authzParams("openid"))
			v := url.Values{
				"grant_type":    {"authorization_code"},
				"code":          {code},
				"redirect_uri":  {rpRedirect},
				"client_id":     {publicClientID},
				"code_verifier": {testVerifier},
			}
			tc.change(v)
			r := idp.rawPost(t, "/token", "application/x-www-form-urlencoded", v.Encode(), nil)
			var tr tokenResponse
			if err := json.Unmarshal([]byte(r.body), &tr); err != nil {
				t.Fatalf("not JSON: %s", r.body)
			}
			if r.StatusCode != tc.status || tr.Error != tc.want || tr.AccessToken != "" {
				t.Errorf("status %d error %q, want %d %s", r.StatusCode, tr.Error, tc.status, tc.want)
			}
			if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
		})
	}
}
