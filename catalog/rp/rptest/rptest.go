// Package rptest is a small fake OpenID provider for the catalog's unit
// tests: discovery, JWKS, an authorize endpoint that answers at once (with
// a code, or with an error the test chooses), a token endpoint that checks
// PKCE and issues signed ID tokens, userinfo, revocation and an end-session
// endpoint; and Sign, to build logout tokens and broken ID tokens.
package rptest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Provider is a running fake provider.
type Provider struct {
	*httptest.Server
	ClientID string
	Key      *rsa.PrivateKey
	KeyID    string

	mu sync.Mutex
	// Subject, SID, Level and ACR go into the ID tokens it issues.
	Subject, SID, Level string
	// UserInfo is what the userinfo endpoint answers (sub is added).
	UserInfo map[string]any
	// AuthError, when set, is the error every authorization answers with.
	AuthError string
	// AccessTTL is the lifetime of access tokens (default 5 minutes).
	AccessTTL time.Duration
	// MaxLevel, when set, makes an authorization with acr_values above it
	// answer unmet_authentication_requirements.
	MaxLevel string

	codes     map[string]codeGrant
	access    map[string]bool
	refresh   map[string]bool
	Revoked   []string
	Requests  []url.Values // every authorization request
	Refreshes int
}

type codeGrant struct {
	nonce, challenge, redirect string
	scopes                     []string
}

// New starts a fake provider for clientID; it stops at the end of the test.
func New(t testing.TB, clientID string) *Provider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{ClientID: clientID, Key: key, KeyID: "k1", Subject: "sub-1", SID: "sid-1", Level: "standard",
		UserInfo: map[string]any{"family_name": "Иванов", "given_name": "Иван"},
		codes:    map[string]codeGrant{}, access: map[string]bool{}, refresh: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userinfo)
	mux.HandleFunc("POST /revoke", p.revoke)
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Close)
	return p
}

// Set changes the provider's settings under its lock.
func (p *Provider) Set(fn func(p *Provider)) { p.mu.Lock(); defer p.mu.Unlock(); fn(p) }

// Get reads the provider's state under its lock.
func (p *Provider) Get(fn func(p *Provider)) { p.mu.Lock(); defer p.mu.Unlock(); fn(p) }

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{
		"issuer":                                p.URL,
		"authorization_endpoint":                p.URL + "/authorize",
		"token_endpoint":                        p.URL + "/token",
		"userinfo_endpoint":                     p.URL + "/userinfo",
		"jwks_uri":                              p.URL + "/jwks",
		"revocation_endpoint":                   p.URL + "/revoke",
		"end_session_endpoint":                  p.URL + "/logout",
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"backchannel_logout_supported":          true,
		"backchannel_logout_session_supported":  true,
	})
}

func (p *Provider) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.Key.PublicKey, KeyID: p.KeyID, Algorithm: "RS256", Use: "sig"}}})
}

var levelRank = map[string]int{"simplified": 1, "standard": 2, "confirmed": 3}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.Requests = append(p.Requests, q)
	back, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || q.Get("client_id") != p.ClientID {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	a := url.Values{"state": {q.Get("state")}, "iss": {p.URL}}
	errCode := p.AuthError
	if acr := q.Get("acr_values"); errCode == "" && acr != "" && p.MaxLevel != "" && levelRank[acr] > levelRank[p.MaxLevel] {
		errCode = "unmet_authentication_requirements"
	}
	switch {
	case errCode != "":
		a.Set("error", errCode)
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "":
		a.Set("error", "invalid_request")
	default:
		code := random()
		p.codes[code] = codeGrant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri"), scopes: strings.Fields(q.Get("scope"))}
		a.Set("code", code)
	}
	back.RawQuery = a.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ttl := p.AccessTTL
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	answer := func(scopes []string, nonce string) {
		at, rt := random(), random()
		p.access[at], p.refresh[rt] = true, true
		claims := map[string]any{"iss": p.URL, "aud": p.ClientID, "sub": p.Subject, "sid": p.SID, "level": p.Level, "acr": p.Level,
			"amr": []string{"pwd"}, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(), "auth_time": time.Now().Unix()}
		if nonce != "" {
			claims["nonce"] = nonce
		}
		writeJSON(w, map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": int(ttl.Seconds()),
			"refresh_token": rt, "id_token": p.sign(claims), "scope": strings.Join(scopes, " ")})
	}
	switch r.PostFormValue("grant_type") {
	case "authorization_code":
		g, ok := p.codes[r.PostFormValue("code")]
		delete(p.codes, r.PostFormValue("code"))
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		if !ok || g.redirect != r.PostFormValue("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge || r.PostFormValue("client_id") != p.ClientID {
			w.WriteHeader(http.StatusBadRequest)
			writeJSON(w, map[string]string{"error": "invalid_grant"})
			return
		}
		answer(g.scopes, g.nonce)
	case "refresh_token":
		rt := r.PostFormValue("refresh_token")
		if !p.refresh[rt] {
			w.WriteHeader(http.StatusBadRequest)
			writeJSON(w, map[string]string{"error": "invalid_grant"})
			return
		}
		delete(p.refresh, rt)
		p.Refreshes++
		answer(nil, "")
	default:
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, map[string]string{"error": "unsupported_grant_type"})
	}
}

func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !p.access[at] {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	out := map[string]any{"sub": p.Subject}
	for k, v := range p.UserInfo {
		out[k] = v
	}
	writeJSON(w, out)
}

func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tok := r.PostFormValue("token")
	p.Revoked = append(p.Revoked, tok)
	delete(p.access, tok)
	delete(p.refresh, tok)
	w.WriteHeader(http.StatusOK)
}

// IsRevoked reports whether the token was revoked.
func (p *Provider) IsRevoked(tok string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.Revoked, tok)
}

// ExpireAccessTokens makes every access token issued so far invalid at
// userinfo.
func (p *Provider) ExpireAccessTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.access)
}

// Sign signs claims with the provider's key as a JWT (RS256, its kid).
func (p *Provider) Sign(claims map[string]any) string { return p.sign(claims) }

func (p *Provider) sign(claims map[string]any) string {
	return SignWith(p.Key, p.KeyID, claims)
}

// SignWith signs claims with another key, as a JWT (RS256).
func SignWith(key *rsa.PrivateKey, kid string, claims map[string]any) string {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := sig.Sign(b)
	if err != nil {
		panic(err)
	}
	s, _ := jws.CompactSerialize()
	return s
}

// LogoutClaims are the claims of a valid logout token for sub and sid.
func (p *Provider) LogoutClaims(sub, sid string) map[string]any {
	c := map[string]any{"iss": p.URL, "aud": p.ClientID, "iat": time.Now().Unix(), "exp": time.Now().Add(2 * time.Minute).Unix(),
		"jti": random(), "events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}}
	if sub != "" {
		c["sub"] = sub
	}
	if sid != "" {
		c["sid"] = sid
	}
	return c
}

func random() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
