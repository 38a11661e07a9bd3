package rp_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/catalog/rp"
	"github.com/esia-oidc/idp/catalog/rp/rptest"
)

func newClient(t *testing.T, p *rptest.Provider) *rp.Client {
	t.Helper()
	c, err := rp.New(t.Context(), rp.Config{Issuer: p.URL, ClientID: p.ClientID, RedirectURL: "http://rp.test/callback",
		PostLogoutRedirectURL: "http://rp.test/"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// authorize sends the authorization request to the fake provider and
// returns the callback's query.
func authorize(t *testing.T, c *rp.Client, r rp.Request, scopes []string, acr string) url.Values {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(c.AuthURL(r, scopes, acr, "ru"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d %v", resp.StatusCode, err)
	}
	return loc.Query()
}

func TestCodeFlowRefreshRevokeLogout(t *testing.T) {
	p := rptest.New(t, "cat")
	p.Set(func(p *rptest.Provider) {
		p.UserInfo = map[string]any{"family_name": "Иванов", "email": "i@example.ru", "email_verified": true, "phone_number": "+79990000001",
			"verified_claims": map[string]any{
				"verification": map[string]any{"trust_framework": "ru_esia", "evidence": []any{map[string]any{"type": "registry_check"}}},
				"claims":       map[string]any{"snils": "11223344595", "family_name": "Иванов"},
			}}
	})
	c := newClient(t, p)
	r := rp.NewRequest()
	q := authorize(t, c, r, []string{"openid", "fullname", "snils"}, "standard")
	p.Get(func(p *rptest.Provider) {
		req := p.Requests[0]
		if req.Get("acr_values") != "standard" || req.Get("code_challenge_method") != "S256" || req.Get("nonce") != r.Nonce || req.Get("ui_locales") != "ru" {
			t.Errorf("authorization request %v", req)
		}
	})
	code, err := c.Callback(q, r)
	if err != nil {
		t.Fatalf("Callback: %v", err)
	}
	tok, id, err := c.Exchange(t.Context(), r, code)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if id.Subject != "sub-1" || id.SID != "sid-1" || id.Level != "standard" || tok.RefreshToken == "" || !slices.Equal(tok.Scopes, []string{"openid", "fullname", "snils"}) {
		t.Errorf("identity %+v tokens %+v", id, tok)
	}
	// The code is single use and bound to the verifier.
	if _, _, err := c.Exchange(t.Context(), r, code); err == nil {
		t.Error("a code was redeemed twice")
	}

	claims, err := c.UserInfo(t.Context(), tok.AccessToken)
	if err != nil {
		t.Fatalf("UserInfo: %v", err)
	}
	for name, want := range map[string]bool{"snils": true, "family_name": true, "email": true, "phone_number": false} {
		v, verified := claims.String(name)
		if v == "" || verified != want {
			t.Errorf("claim %s = %q verified %v, want verified %v", name, v, verified, want)
		}
	}

	p.ExpireAccessTokens()
	if _, err := c.UserInfo(t.Context(), tok.AccessToken); err == nil {
		t.Fatal("userinfo accepted an expired access token")
	}
	fresh, err := c.Refresh(t.Context(), tok.RefreshToken, tok.IDToken)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken || fresh.IDToken == "" {
		t.Errorf("refreshed tokens %+v", fresh)
	}
	if _, err := c.UserInfo(t.Context(), fresh.AccessToken); err != nil {
		t.Errorf("userinfo with the refreshed token: %v", err)
	}
	if _, err := c.Refresh(t.Context(), tok.RefreshToken, ""); err == nil {
		t.Error("an old refresh token was accepted again")
	}

	if err := c.Revoke(t.Context(), fresh.RefreshToken, "refresh_token"); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if !p.IsRevoked(fresh.RefreshToken) {
		t.Error("the provider saw no revocation")
	}
	end, err := url.Parse(c.EndSessionURL(tok.IDToken, "st"))
	if err != nil {
		t.Fatal(err)
	}
	eq := end.Query()
	if end.Path != "/logout" || eq.Get("id_token_hint") != tok.IDToken || eq.Get("post_logout_redirect_uri") != "http://rp.test/" || eq.Get("state") != "st" || eq.Get("client_id") != "cat" {
		t.Errorf("end session URL %s", end)
	}
}

func TestCallbackRefusals(t *testing.T) {
	p := rptest.New(t, "cat")
	c := newClient(t, p)
	r := rp.NewRequest()
	for name, q := range map[string]url.Values{
		"other state":  {"state": {"x"}, "code": {"c"}},
		"other issuer": {"state": {r.State}, "code": {"c"}, "iss": {"https://evil.example"}},
		"no code":      {"state": {r.State}},
	} {
		if _, err := c.Callback(q, r); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	p.Set(func(p *rptest.Provider) { p.AuthError = "access_denied" })
	_, err := c.Callback(authorize(t, c, r, []string{"openid"}, ""), r)
	var ce *rp.ErrCallback
	if !errors.As(err, &ce) || ce.Code != "access_denied" {
		t.Errorf("error answer: %v", err)
	}
}

// TestIDTokenRefusals: a tampered, expired, wrong-audience, wrong-issuer,
// wrong-nonce or foreign-key ID token is refused.
func TestIDTokenRefusals(t *testing.T) {
	p := rptest.New(t, "cat")
	c := newClient(t, p)
	now := time.Now()
	good := func() map[string]any {
		return map[string]any{"iss": p.URL, "aud": "cat", "sub": "s", "nonce": "n", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	if _, err := c.VerifyIDToken(t.Context(), p.Sign(good()), "n"); err != nil {
		t.Fatalf("a good ID token: %v", err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	with := func(k string, v any) string { m := good(); m[k] = v; return p.Sign(m) }
	tampered := p.Sign(good())
	parts := strings.Split(tampered, ".")
	payload, _ := json.Marshal(map[string]any{"iss": p.URL, "aud": "cat", "sub": "admin", "nonce": "n", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	for name, raw := range map[string]string{
		"tampered":       strings.Join(parts, "."),
		"expired":        with("exp", now.Add(-time.Minute).Unix()),
		"wrong audience": with("aud", "other"),
		"wrong issuer":   with("iss", "https://evil.example"),
		"foreign key":    rptest.SignWith(other, p.KeyID, good()),
		"unsigned":       unsigned(good()),
	} {
		if _, err := c.VerifyIDToken(t.Context(), raw, "n"); err == nil {
			t.Errorf("%s ID token accepted", name)
		}
	}
	if _, err := c.VerifyIDToken(t.Context(), p.Sign(good()), "other"); err == nil {
		t.Error("wrong nonce accepted")
	}
}

func unsigned(claims map[string]any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	b, _ := json.Marshal(claims)
	return h + "." + base64.RawURLEncoding.EncodeToString(b) + "."
}

// TestLogoutTokenRefusals follows Back-Channel Logout 1.0 §2.6.
func TestLogoutTokenRefusals(t *testing.T) {
	p := rptest.New(t, "cat")
	c := newClient(t, p)
	lt, err := c.VerifyLogoutToken(t.Context(), p.Sign(p.LogoutClaims("s", "sid")))
	if err != nil {
		t.Fatalf("a good logout token: %v", err)
	}
	if lt.Subject != "s" || lt.SID != "sid" || lt.JTI == "" || !lt.Expires.After(time.Now()) {
		t.Errorf("logout token %+v", lt)
	}
	if lt, err := c.VerifyLogoutToken(t.Context(), p.Sign(p.LogoutClaims("", "sid"))); err != nil || lt.SID != "sid" {
		t.Errorf("sid only: %v", err)
	}
	noExp := p.LogoutClaims("s", "")
	delete(noExp, "exp")
	if _, err := c.VerifyLogoutToken(t.Context(), p.Sign(noExp)); err != nil {
		t.Errorf("without exp (optional): %v", err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	mod := func(fn func(m map[string]any)) string { m := p.LogoutClaims("s", "sid"); fn(m); return p.Sign(m) }
	for name, raw := range map[string]string{
		"unsigned":         unsigned(p.LogoutClaims("s", "sid")),
		"foreign key":      rptest.SignWith(other, p.KeyID, p.LogoutClaims("s", "sid")),
		"other audience":   mod(func(m map[string]any) { m["aud"] = "other" }),
		"other issuer":     mod(func(m map[string]any) { m["iss"] = "https://evil.example" }),
		"with nonce":       mod(func(m map[string]any) { m["nonce"] = "n" }),
		"no event":         mod(func(m map[string]any) { delete(m, "events") }),
		"other event":      mod(func(m map[string]any) { m["events"] = map[string]any{"urn:other": map[string]any{}} }),
		"no sub nor sid":   mod(func(m map[string]any) { delete(m, "sub"); delete(m, "sid") }),
		"no jti":           mod(func(m map[string]any) { delete(m, "jti") }),
		"no iat":           mod(func(m map[string]any) { delete(m, "iat") }),
		"old iat":          mod(func(m map[string]any) { m["iat"] = time.Now().Add(-time.Hour).Unix(); delete(m, "exp") }),
		"future iat":       mod(func(m map[string]any) { m["iat"] = time.Now().Add(time.Hour).Unix() }),
		"expired":          mod(func(m map[string]any) { m["exp"] = time.Now().Add(-5 * time.Minute).Unix() }),
		"an ID token":      p.Sign(map[string]any{"iss": p.URL, "aud": "cat", "sub": "s", "nonce": "n", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}),
		"not a JWT at all": "garbage",
	} {
		_, err := c.VerifyLogoutToken(t.Context(), raw)
		if !errors.Is(err, rp.ErrLogoutToken) {
			t.Errorf("%s: %v, want ErrLogoutToken", name, err)
		}
	}
}

func TestVerifiedClaimsShapes(t *testing.T) {
	m := map[string]any{"verified_claims": []any{
		map[string]any{"verification": map[string]any{"trust_framework": "ru_esia"}, "claims": map[string]any{"snils": "1"}},
		map[string]any{"verification": map[string]any{}, "claims": map[string]any{"inn": "2"}},
		map[string]any{"claims": map[string]any{"birthdate": "3"}},
		"junk",
	}}
	got := rp.VerifiedClaims(m)
	if len(got) != 1 || got["snils"] != "1" {
		t.Errorf("VerifiedClaims = %v, want only snils", got)
	}
}
