package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"golang.org/x/oauth2"
	"google.golang.org/protobuf/proto"

	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/httpx"
	"github.com/esia-oidc/idp/internal/idptest"
	"github.com/esia-oidc/idp/internal/testserver"
	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/postgres/postgrestest"
	"github.com/esia-oidc/idp/store/redis/redistest"
)

// collector is an OTLP/HTTP trace receiver in the test: it decodes every
// export request (protobuf) and keeps the spans.
type collector struct {
	*httptest.Server
	mu       sync.Mutex
	requests int
	spans    []*tracepb.Span
}

func newCollector(t *testing.T) *collector {
	c := &collector{}
	c.Server = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.Close)
	return c
}

func (c *collector) serve(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.requests++
	c.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want POST /v1/traces with protobuf", http.StatusBadRequest)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(data, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			c.spans = append(c.spans, ss.GetSpans()...)
		}
	}
	c.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (c *collector) snapshot() (requests int, spans []*tracepb.Span) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests, append([]*tracepb.Span(nil), c.spans...)
}

// requestIDs is a RoundTripper that notes the request id of every answer.
type requestIDs struct {
	mu  sync.Mutex
	ids []string
}

func (r *requestIDs) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.ids = append(r.ids, resp.Header.Get(httpx.RequestIDHeader))
		r.mu.Unlock()
	}
	return resp, err
}

func (r *requestIDs) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

const (
	flowClient   = "traced-rp"
	flowRedirect = "https://rp.example/cb"
	flowPhone    = "+79990004455"
	flowPassword = "Zq7!vernal-Otter"
)

// codeFlow registers a public client and a citizen, then logs in through
// the hosted pages and exchanges the code, every request going through
// transport.
func codeFlow(t *testing.T, p *idptest.IDP, transport http.RoundTripper) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	if err := p.Srv.Durable.CreateClient(ctx, &store.Client{
		ID: flowClient, Name: "RP", RedirectURIs: []string{flowRedirect},
		GrantTypes: []string{"authorization_code"}, ResponseTypes: []string{"code"},
		Scopes: []string{"openid"}, TokenEndpointAuthMethod: "none", CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		t.Fatal(err)
	}
	hash, err := p.Srv.Passwords.Hash(ctx, flowPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Srv.Durable.CreateAccount(ctx, &store.Account{
		ID: "traced-citizen", Level: store.LevelSimplified, LastName: "Петрова", FirstName: "Анна",
		Phone: flowPhone, PhoneVerified: true, PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{
		ClientID: flowClient, RedirectURL: flowRedirect, Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: p.Issuer + "/authorize", TokenURL: p.Issuer + "/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier))
	cb, page, err := testserver.NewAgent(p.Issuer, transport).Authorize(ctx, authURL, testserver.Login{Identifier: flowPhone, Password: flowPassword})
	if err != nil {
		t.Fatalf("login: %v (page %d %.300s)", err, page.Status, page.Body)
	}
	xctx := context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: transport})
	tok, err := conf.Exchange(xctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	if tok.Extra("id_token") == nil {
		t.Fatal("no ID token")
	}
}

func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.GetAttributes() {
		if kv.GetKey() == key {
			if v := kv.GetValue(); v.GetStringValue() != "" {
				return v.GetStringValue()
			}
			return kv.GetValue().String()
		}
	}
	return ""
}

// TestTracesOfACodeFlow is the acceptance test of traces (issue 12): with
// IDP_OTLP_ENDPOINT set to a collector, a code flow on PostgreSQL and Redis
// gives one trace per HTTP request, rooted at the request's server span
// (with its request id), and the store calls and password hashing of the
// request are spans within it, under the request's span.
func TestTracesOfACodeFlow(t *testing.T) {
	t.Parallel()
	col := newCollector(t)
	p := idptest.New(t, func(cfg *config.Config) {
		cfg.OTLPEndpoint = col.URL
		cfg.DatabaseURL = postgrestest.NewSchemaURL(t)
		cfg.Migrate = true
		cfg.RedisURL, cfg.RedisPrefix = redistest.NewPrefix(t)
	})
	if p.Srv.Tracing == nil {
		t.Fatal("IDP_OTLP_ENDPOINT is set but the server has no tracer provider")
	}
	ids := &requestIDs{}
	codeFlow(t, p, ids)
	requests := ids.all()
	if len(requests) < 4 {
		t.Fatalf("the flow made %d requests", len(requests))
	}

	// Spans end as the handlers return; flush until every request's span
	// has reached the collector.
	var spans []*tracepb.Span
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := p.Srv.Tracing.ForceFlush(context.Background()); err != nil {
			t.Fatalf("flush: %v", err)
		}
		_, spans = col.snapshot()
		n := 0
		for _, s := range spans {
			if s.GetKind() == tracepb.Span_SPAN_KIND_SERVER {
				n++
			}
		}
		if n >= len(requests) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d server spans reached the collector, want %d", n, len(requests))
		}
		time.Sleep(20 * time.Millisecond)
	}

	byID := map[string]*tracepb.Span{} // span id -> span
	for _, s := range spans {
		byID[hex.EncodeToString(s.GetSpanId())] = s
	}
	roots := map[string]*tracepb.Span{} // trace id -> root span
	serverOf := map[string]*tracepb.Span{}
	for _, s := range spans {
		if len(s.GetParentSpanId()) != 0 {
			continue
		}
		tid := hex.EncodeToString(s.GetTraceId())
		if other, ok := roots[tid]; ok {
			t.Errorf("trace %s has two roots: %q and %q", tid, other.GetName(), s.GetName())
		}
		roots[tid] = s
		if s.GetKind() == tracepb.Span_SPAN_KIND_SERVER {
			id := attr(s, "request_id")
			if _, dup := serverOf[id]; dup || id == "" {
				t.Errorf("server span %q has request id %q (empty or seen before)", s.GetName(), id)
			}
			serverOf[id] = s
		}
	}
	// One trace per request: each request's server span is the root of a
	// trace of its own.
	for _, id := range requests {
		if serverOf[id] == nil {
			t.Errorf("no root server span with request_id %s", id)
		}
	}
	if len(serverOf) != len(requests) {
		t.Errorf("%d root server spans for %d requests", len(serverOf), len(requests))
	}
	for _, s := range spans {
		if s.GetKind() == tracepb.Span_SPAN_KIND_SERVER && len(s.GetParentSpanId()) != 0 {
			t.Errorf("server span %q is not the root of its trace", s.GetName())
		}
	}

	// Every other span hangs, through its parents, from its trace's root.
	// kinds[request span name] counts what lies under it.
	under := map[string]map[string]int{}
	for _, s := range spans {
		if len(s.GetParentSpanId()) == 0 {
			continue
		}
		cur, hops := s, 0
		for len(cur.GetParentSpanId()) != 0 && hops < 20 {
			parent := byID[hex.EncodeToString(cur.GetParentSpanId())]
			if parent == nil || !bytes.Equal(parent.GetTraceId(), s.GetTraceId()) {
				t.Fatalf("span %q: parent %x is not in its trace", cur.GetName(), cur.GetParentSpanId())
			}
			cur, hops = parent, hops+1
		}
		root := cur
		if root.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
			continue // a background job's trace
		}
		kind := s.GetName()
		switch sys := attr(s, "db.system.name"); sys {
		case "postgresql", "redis":
			kind = sys
			if s.GetKind() != tracepb.Span_SPAN_KIND_CLIENT {
				t.Errorf("%s span %q is not a client span", sys, s.GetName())
			}
		}
		if kind == "password.verify" && !bytes.Equal(s.GetParentSpanId(), root.GetSpanId()) {
			t.Errorf("password.verify is not a child of the request span %q", root.GetName())
		}
		if under[root.GetName()] == nil {
			under[root.GetName()] = map[string]int{}
		}
		under[root.GetName()][kind]++
	}
	login := under["POST /login"]
	if login["password.verify"] != 1 || login["postgresql"] == 0 || login["redis"] == 0 {
		t.Errorf("under POST /login: %v; want one password.verify and PostgreSQL and Redis spans", login)
	}
	if tok := under["POST /token"]; tok["postgresql"]+tok["redis"] == 0 {
		t.Errorf("under POST /token: %v; want store spans", tok)
	}
	for _, s := range spans {
		if q := attr(s, "db.query.text"); strings.Contains(q, flowPhone) || strings.Contains(q, "argon2id$") {
			t.Errorf("span %q records values: %.200s", s.GetName(), q)
		}
	}
}

// TestNoTracesWhenOff: without IDP_OTLP_ENDPOINT the server has no tracer
// provider and exports nothing, not even to the collector named by the
// OpenTelemetry SDK's own variable, through a whole code flow and the stop.
func TestNoTracesWhenOff(t *testing.T) {
	col := newCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", col.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", col.URL+"/v1/traces")
	p := idptest.New(t)
	if p.Srv.Tracing != nil {
		t.Fatal("tracing is off but the server made a tracer provider")
	}
	codeFlow(t, p, http.DefaultTransport)
	p.Srv.Close() // what would flush spans
	if n, _ := col.snapshot(); n != 0 {
		t.Errorf("%d export requests reached the collector with tracing off", n)
	}
}

// TestTraceparentFromTrustedProxiesOnly: the server continues the trace of
// a request's traceparent when the peer is a trusted proxy, and starts a
// trace of its own otherwise.
func TestTraceparentFromTrustedProxiesOnly(t *testing.T) {
	t.Parallel()
	const parentTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, trusted := range []bool{false, true} {
		col := newCollector(t)
		p := idptest.New(t, func(cfg *config.Config) {
			cfg.OTLPEndpoint = col.URL
			if trusted {
				cfg.TrustedProxies = []string{"127.0.0.0/8", "::1"}
			}
		})
		req, _ := http.NewRequest(http.MethodGet, p.Issuer+"/healthz", nil)
		req.Header.Set("traceparent", "00-"+parentTrace+"-00f067aa0ba902b7-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var server *tracepb.Span
		for deadline := time.Now().Add(20 * time.Second); server == nil; {
			if err := p.Srv.Tracing.ForceFlush(context.Background()); err != nil {
				t.Fatal(err)
			}
			_, spans := col.snapshot()
			for _, s := range spans {
				if s.GetKind() == tracepb.Span_SPAN_KIND_SERVER {
					server = s
				}
			}
			if server == nil && time.Now().After(deadline) {
				t.Fatal("no server span reached the collector")
			}
			time.Sleep(10 * time.Millisecond)
		}
		continued := hex.EncodeToString(server.GetTraceId()) == parentTrace
		if continued != trusted {
			t.Errorf("trusted peer %v: the request continued the traceparent's trace = %v", trusted, continued)
		}
		if hasParent := len(server.GetParentSpanId()) != 0; hasParent != trusted {
			t.Errorf("trusted peer %v: the server span has a parent = %v", trusted, hasParent)
		}
	}
}
