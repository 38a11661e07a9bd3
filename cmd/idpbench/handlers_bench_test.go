package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/server"
)

// The Go benchmarks of the hot handlers: the assembled server (idp/server)
// on the in-memory store, called through httptest without a network, so
// they measure the handlers' own cost (ns/op, allocs/op) apart from
// PostgreSQL, Redis and TCP.

// handlerEnv is an assembled server with a registered confidential client.
type handlerEnv struct {
	tb     testing.TB
	h      http.Handler
	basic  string // Authorization header of the client
	issuer string
}

func newHandlerEnv(tb testing.TB, alg string) *handlerEnv {
	tb.Helper()
	cfg := config.Defaults()
	cfg.Issuer = "http://127.0.0.1:8080"
	cfg.Listen = "127.0.0.1:0"
	cfg.Dev = true // in-memory storage is a development setting
	cfg.SecretKey = strings.Repeat("5a", 32)
	cfg.AdminToken = strings.Repeat("bench-admin-token-", 3)
	cfg.Argon2 = config.Argon2{MemoryKiB: 64, Time: 1, Threads: 1}
	cfg.AccessTokenAlg = alg
	cfg.LogLevel = "error"
	if err := cfg.Validate(); err != nil {
		tb.Fatalf("config: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(context.Background(), cfg, logger)
	if err != nil {
		tb.Fatalf("server.New: %v", err)
	}
	tb.Cleanup(srv.Close)
	// What serve runs beside the handlers: key refresh, the sweep, and the
	// token cache's change feed, without which the cache stays off.
	runCtx, stop := context.WithCancel(context.Background())
	tb.Cleanup(stop)
	go srv.Run(runCtx)
	e := &handlerEnv{tb: tb, h: srv.Handler, issuer: cfg.Issuer}

	body, _ := json.Marshal(adminclient.ClientMetadata{
		ClientName:              "bench",
		GrantTypes:              []string{"client_credentials"},
		Scope:                   "fullname",
		TokenEndpointAuthMethod: "client_secret_basic",
	})
	req := httptest.NewRequest(http.MethodPost, cfg.Issuer+"/admin/clients", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+cfg.AdminToken)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	var ci adminclient.ClientInfo
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &ci) != nil || ci.ClientSecret == "" {
		tb.Fatalf("create client: %d %s", rec.Code, rec.Body.String())
	}
	cred := url.QueryEscape(ci.ClientID) + ":" + url.QueryEscape(ci.ClientSecret)
	e.basic = "Basic " + base64.StdEncoding.EncodeToString([]byte(cred))
	return e
}

// request builds a request as the server would hand it to the handler.
// httptest.NewRequest parses a whole request text, which costs more than
// some of the handlers measured here; http.NewRequest does not.
func (e *handlerEnv) request(method, path string, body io.Reader) *http.Request {
	req, err := http.NewRequest(method, e.issuer+path, body)
	if err != nil {
		e.tb.Fatalf("request %s %s: %v", method, path, err)
	}
	req.RemoteAddr = "192.0.2.1:1234"
	req.RequestURI = path
	return req
}

// post serves a form post with client authentication.
func (e *handlerEnv) post(path, form string) *httptest.ResponseRecorder {
	req := e.request(http.MethodPost, path, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", e.basic)
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

func (e *handlerEnv) get(path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, e.request(http.MethodGet, path, nil))
	return rec
}

const ccBenchForm = "grant_type=client_credentials&scope=fullname"

// accessToken returns a client-credentials access token.
func (e *handlerEnv) accessToken(tb testing.TB) string {
	tb.Helper()
	rec := e.post("/token", ccBenchForm)
	var tr tokenResponse
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &tr) != nil || tr.AccessToken == "" {
		tb.Fatalf("token: %d %s", rec.Code, rec.Body.String())
	}
	return tr.AccessToken
}

// TestHandlerBenchSetup checks once what the benchmarks repeat, so that a
// broken setup fails the tests rather than only the benchmarks.
func TestHandlerBenchSetup(t *testing.T) {
	for _, alg := range []string{config.AlgRS256, config.AlgES256} {
		t.Run(alg, func(t *testing.T) {
			e := newHandlerEnv(t, alg)
			at := e.accessToken(t)
			h, err := jwtHeader(at)
			if err != nil || h.Alg != alg || h.Typ != "at+jwt" {
				t.Errorf("access token header = %+v, %v; want alg %s, typ at+jwt", h, err, alg)
			}
			rec := e.post("/introspect", introspectForm(at))
			if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), activeTrue) {
				t.Errorf("introspect: %d %s", rec.Code, rec.Body.String())
			}
			rec = e.post("/introspect", introspectForm("not-a-token"))
			if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), activeTrue) {
				t.Errorf("introspect of garbage: %d %s", rec.Code, rec.Body.String())
			}
			if rec := e.get("/.well-known/openid-configuration"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"issuer": "http://127.0.0.1:8080"`) {
				t.Errorf("discovery: %d %.200s", rec.Code, rec.Body.String())
			}
			if rec := e.get("/jwks"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"keys"`) {
				t.Errorf("jwks: %d %.200s", rec.Code, rec.Body.String())
			}
		})
	}
}

type joseHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
}

func jwtHeader(token string) (joseHeader, error) {
	var h joseHeader
	head, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return h, err
	}
	err = json.Unmarshal(b, &h)
	return h, err
}

func benchmarkClientCredentials(b *testing.B, alg string) {
	e := newHandlerEnv(b, alg)
	b.ReportAllocs()
	for b.Loop() {
		if rec := e.post("/token", ccBenchForm); rec.Code != http.StatusOK {
			b.Fatalf("token: %d %s", rec.Code, rec.Body.String())
		}
	}
}

func BenchmarkTokenClientCredentialsRS256(b *testing.B) {
	benchmarkClientCredentials(b, config.AlgRS256)
}

func BenchmarkTokenClientCredentialsES256(b *testing.B) {
	benchmarkClientCredentials(b, config.AlgES256)
}

func BenchmarkIntrospect(b *testing.B) {
	e := newHandlerEnv(b, config.AlgRS256)
	form := introspectForm(e.accessToken(b))
	b.ReportAllocs()
	for b.Loop() {
		if rec := e.post("/introspect", form); rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), activeTrue) {
			b.Fatalf("introspect: %d %s", rec.Code, rec.Body.String())
		}
	}
}

func BenchmarkDiscovery(b *testing.B) {
	e := newHandlerEnv(b, config.AlgRS256)
	b.ReportAllocs()
	for b.Loop() {
		if rec := e.get("/.well-known/openid-configuration"); rec.Code != http.StatusOK {
			b.Fatalf("discovery: %d", rec.Code)
		}
	}
}

func BenchmarkJWKS(b *testing.B) {
	e := newHandlerEnv(b, config.AlgRS256)
	b.ReportAllocs()
	for b.Loop() {
		if rec := e.get("/jwks"); rec.Code != http.StatusOK {
			b.Fatalf("jwks: %d", rec.Code)
		}
	}
}
