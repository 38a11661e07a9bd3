package bank

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/esia-oidc/idp/factors"
)

// fakeBank is an OpenID provider just big enough for the connector: it
// remembers the authorization request of a code, checks the PKCE verifier
// and client secret at the token endpoint, and signs ID tokens with ES256.
type fakeBank struct {
	*httptest.Server
	key *ecdsa.PrivateKey

	mu    sync.Mutex
	codes map[string]url.Values // code -> the authorization request
	// knobs of the next answers
	nonce       string // overrides the ID token's nonce when set
	userinfoSub string // overrides userinfo's sub when set
}

func newFakeBank(t *testing.T) *fakeBank {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b := &fakeBank{key: key, codes: map[string]url.Values{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": b.URL, "authorization_endpoint": b.URL + "/authorize", "token_endpoint": b.URL + "/token",
			"userinfo_endpoint": b.URL + "/userinfo", "jwks_uri": b.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"ES256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		b.mu.Lock()
		req, ok := b.codes[r.FormValue("code")]
		delete(b.codes, r.FormValue("code"))
		b.mu.Unlock()
		sum := sha256.Sum256([]byte(r.FormValue("code_verifier")))
		if id != "our-client" || secret != "s3cret" || !ok || req.Get("code_challenge_method") != "S256" ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != req.Get("code_challenge") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		nonce := req.Get("nonce")
		b.mu.Lock()
		if b.nonce != "" {
			nonce = b.nonce
		}
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at-1", "token_type": "Bearer", "expires_in": 60, "id_token": b.sign(t, nonce)})
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer at-1" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		sub := "bank-sub-1"
		b.mu.Lock()
		if b.userinfoSub != "" {
			sub = b.userinfoSub
		}
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"sub": sub, "family_name": "Иванов", "phone_number": "+79990000001", "phone_number_verified": true,
			"verified_claims": map[string]any{"verification": map[string]any{"trust_framework": "ru_esia"}, "claims": map[string]any{"snils": "11223344595"}},
		})
	})
	b.Server = httptest.NewServer(mux)
	t.Cleanup(b.Close)
	return b
}

func (b *fakeBank) sign(t *testing.T, nonce string) string {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: b.key, KeyID: "k1"}}, nil)
	if err != nil {
		t.Error(err)
		return ""
	}
	now := time.Now()
	tok, err := jwt.Signed(s).Claims(map[string]any{
		"iss": b.URL, "aud": "our-client", "sub": "bank-sub-1", "nonce": nonce,
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "given_name": "Иван",
	}).Serialize()
	if err != nil {
		t.Error(err)
	}
	return tok
}

// authorize plays the citizen at the bank: the code for the request URL.
func (b *fakeBank) authorize(t *testing.T, target string) url.Values {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if !strings.HasPrefix(target, b.URL+"/authorize?") || q.Get("client_id") != "our-client" || q.Get("redirect_uri") != "https://idp.example/login/bank/callback" ||
		q.Get("response_type") != "code" || !strings.Contains(q.Get("scope"), "openid") || q.Get("state") == "" || q.Get("nonce") == "" {
		t.Fatalf("authorization request %s", target)
	}
	code := "code-" + q.Get("state")
	b.mu.Lock()
	b.codes[code] = q
	b.mu.Unlock()
	return url.Values{"state": {q.Get("state")}, "code": {code}, "iss": {b.URL}}
}

func newConnector(t *testing.T, b *fakeBank) *Connector {
	c, err := New(Config{ID: "fake", NameRU: "Банк", Issuer: b.URL, ClientID: "our-client", ClientSecret: "s3cret", IdentifiesInPerson: true},
		"https://idp.example/login/bank/callback", b.Client())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFinish(t *testing.T) {
	b := newFakeBank(t)
	c := newConnector(t, b)
	target, p, err := c.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	u, err := c.Finish(t.Context(), p, b.authorize(t, target))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]factors.Value{
		FieldFirstName: {Value: "Иван"}, FieldLastName: {Value: "Иванов"},
		FieldPhone: {Value: "+79990000001", Verified: true}, FieldSNILS: {Value: "11223344595", Verified: true},
	}
	if u.Factor != "fake" || u.Subject != "bank-sub-1" || len(u.Fields) != len(want) {
		t.Fatalf("Finish = %+v", u)
	}
	for k, v := range want {
		if u.Fields[k] != v {
			t.Fatalf("field %s = %+v, want %+v", k, u.Fields[k], v)
		}
	}
}

func TestFinishRefuses(t *testing.T) {
	b := newFakeBank(t)
	c := newConnector(t, b)
	for _, tc := range []struct {
		name  string
		setup func()
		edit  func(p *factors.Pending, q url.Values)
		want  error
	}{
		{"declined", nil, func(p *factors.Pending, q url.Values) { q.Del("code"); q.Set("error", "access_denied") }, ErrDenied},
		{"bank error", nil, func(p *factors.Pending, q url.Values) { q.Del("code"); q.Set("error", "server_error") }, ErrRefused},
		{"another state", nil, func(p *factors.Pending, q url.Values) { q.Set("state", "other") }, ErrRefused},
		{"no pending state", nil, func(p *factors.Pending, q url.Values) { p.State = "" }, ErrRefused},
		{"mix-up", nil, func(p *factors.Pending, q url.Values) { q.Set("iss", "https://evil.example") }, ErrRefused},
		{"wrong verifier", nil, func(p *factors.Pending, q url.Values) { p.Verifier = otherFirst(p.Verifier) }, ErrRefused},
		{"another nonce", func() { b.nonce = "replayed" }, nil, ErrRefused},
		{"userinfo of another subject", func() { b.userinfoSub = "someone-else" }, nil, ErrRefused},
		{"code used twice", nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.mu.Lock()
			b.nonce, b.userinfoSub = "", ""
			if tc.setup != nil {
				tc.setup()
			}
			b.mu.Unlock()
			target, p, err := c.Start(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			q := b.authorize(t, target)
			if tc.edit != nil {
				tc.edit(&p, q)
			}
			_, err = c.Finish(t.Context(), p, q)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("first use: %v", err)
				}
				_, err = c.Finish(t.Context(), p, q)
				tc.want = ErrRefused
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Finish = %v, want %v", err, tc.want)
			}
		})
	}
}

// otherFirst changes the first character of s (a verifier starting with
// "x" would have made "x"+s[1:] the same verifier: 1 run in 64).
func otherFirst(s string) string {
	if s[0] == 'x' {
		return "y" + s[1:]
	}
	return "x" + s[1:]
}

func TestStartUnavailable(t *testing.T) {
	b := newFakeBank(t)
	c := newConnector(t, b)
	b.Close()
	if _, _, err := c.Start(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Start with the bank down = %v, want ErrUnavailable", err)
	}
}

func TestValidate(t *testing.T) {
	good := Config{ID: "sber", NameRU: "Сбер", Issuer: "https://id.bank.example", ClientID: "c", ClientSecret: "s"}
	if p := good.Validate(); len(p) != 0 {
		t.Fatalf("valid config: %v", p)
	}
	for _, c := range []struct {
		name string
		edit func(*Config)
	}{
		{"id", func(c *Config) { c.ID = "Sber Bank" }},
		{"name", func(c *Config) { c.NameRU = " " }},
		{"http issuer", func(c *Config) { c.Issuer = "http://bank.example" }},
		{"issuer with query", func(c *Config) { c.Issuer = "https://bank.example/?x=1" }},
		{"client id", func(c *Config) { c.ClientID = "" }},
		{"secret", func(c *Config) { c.ClientSecret = "" }},
		{"claims", func(c *Config) { c.Claims = map[string]string{"x": "y"} }},
		{"confirm", func(c *Config) { c.Confirm = []string{"shoe"} }},
	} {
		cfg := good
		c.edit(&cfg)
		if p := cfg.Validate(); len(p) != 1 {
			t.Errorf("%s: problems %v, want one", c.name, p)
		}
	}
	loop := good
	loop.Issuer = "http://127.0.0.1:8090"
	if p := loop.Validate(); len(p) != 0 {
		t.Fatalf("loopback http issuer: %v", p)
	}
}
