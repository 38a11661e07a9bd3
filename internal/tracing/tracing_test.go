package tracing

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestTracesURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://collector:4318":         "http://collector:4318/v1/traces",
		"http://collector:4318/":        "http://collector:4318/v1/traces",
		"https://otel.example/ingest/":  "https://otel.example/ingest/v1/traces",
		"https://otel.example/a%2Fb":    "https://otel.example/a/b/v1/traces",
		"http://[::1]:4318":             "http://[::1]:4318/v1/traces",
		"http://127.0.0.1:4318/otlp/v1": "http://127.0.0.1:4318/otlp/v1/v1/traces",
	} {
		got, err := TracesURL(in)
		if err != nil || got != want {
			t.Errorf("TracesURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{
		"collector:4318", "/v1/traces", "ftp://collector", "http://user:secret@collector:4318",
		"http://collector:4318?token=secret", "http://collector:4318#x", "http://",
	} {
		err := CheckEndpoint(bad)
		if err == nil {
			t.Errorf("CheckEndpoint(%q) accepted it", bad)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("CheckEndpoint(%q): %q repeats the URL", bad, err)
		}
	}
}

// TestSetupOff: no endpoint, no provider (and no exporter).
func TestSetupOff(t *testing.T) {
	t.Parallel()
	tp, err := Setup(context.Background(), Config{SampleRatio: 1})
	if err != nil || tp != nil {
		t.Fatalf("Setup without an endpoint = %v, %v; want nil, nil", tp, err)
	}
	if _, err := Setup(context.Background(), Config{Endpoint: "http://127.0.0.1:4318", SampleRatio: 2}); err == nil {
		t.Error("Setup accepted a sample ratio of 2")
	}
}

// TestStart: a child of the recording span in the context, with that
// span's provider; nothing without one.
func TestStart(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())

	ctx := context.Background()
	got, span := Start(ctx, "orphan", trace.SpanKindClient)
	if got != ctx || span.IsRecording() || span.SpanContext().IsValid() {
		t.Error("Start without a span in the context started one")
	}
	span.End()

	ctx, parent := tp.Tracer("test").Start(ctx, "request")
	cctx, child := Start(ctx, "child", trace.SpanKindClient)
	if !child.IsRecording() || trace.SpanFromContext(cctx) != child {
		t.Fatal("Start within a recording span started no span")
	}
	child.End()
	parent.End()
	spans := exp.GetSpans()
	if len(spans) != 2 || spans[0].Name != "child" || spans[0].Parent.SpanID() != parent.SpanContext().SpanID() || spans[0].SpanKind != trace.SpanKindClient {
		t.Fatalf("spans %+v, want child of request", spans)
	}

	// A span that is not sampled has no children either.
	never := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	nctx, _ := never.Tracer("test").Start(context.Background(), "unsampled")
	if _, s := Start(nctx, "child", trace.SpanKindInternal); s.IsRecording() {
		t.Error("Start under an unsampled span recorded a span")
	}
}

// TestTransport: within a recording span an outbound request gets a client
// span and carries its traceparent, without changing the caller's request;
// outside one it goes out untouched.
func TestTransport(t *testing.T) {
	t.Parallel()
	var got []string
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("traceparent"))
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer peer.Close()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	client := &http.Client{Transport: Transport("registry", nil)}

	send := func(ctx context.Context) *http.Request {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, peer.URL+"/check?key=secret", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return req
	}
	send(context.Background())
	ctx, parent := tp.Tracer("test").Start(context.Background(), "job")
	req := send(ctx)
	parent.End()

	if len(got) != 2 || got[0] != "" || got[1] == "" {
		t.Fatalf("traceparent headers %q, want none outside a span and one within", got)
	}
	if req.Header.Get("traceparent") != "" {
		t.Error("the caller's request was changed")
	}
	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	c := spans[0]
	if c.Name != "POST" || c.SpanKind != trace.SpanKindClient || c.Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("client span %q kind %v parent %v", c.Name, c.SpanKind, c.Parent.SpanID())
	}
	if !strings.Contains(got[1], c.SpanContext.SpanID().String()) {
		t.Errorf("traceparent %q does not name the client span %s", got[1], c.SpanContext.SpanID())
	}
	for _, kv := range c.Attributes {
		if strings.Contains(kv.Value.Emit(), "secret") || strings.Contains(kv.Value.Emit(), "/check") {
			t.Errorf("attribute %s = %q holds the path or query", kv.Key, kv.Value.Emit())
		}
		if kv.Key == PeerServiceKey && kv.Value.AsString() != "registry" {
			t.Errorf("peer.service %q", kv.Value.AsString())
		}
	}
	if c.Status.Code.String() != "Error" {
		t.Errorf("a 503 left the span's status %v", c.Status.Code)
	}
}

// BenchmarkStartOff is what a store call or a hash pays with tracing off.
func BenchmarkStartOff(b *testing.B) {
	ctx := context.WithValue(context.Background(), struct{}{}, 1)
	b.ReportAllocs()
	for b.Loop() {
		_, span := Start(ctx, "SELECT", trace.SpanKindClient)
		span.End()
	}
}
