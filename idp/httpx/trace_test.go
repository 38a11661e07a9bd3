package httpx

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// A traceparent with a sampled parent (W3C Trace Context §3.2).
const (
	parentTrace     = "4bf92f3577b34da6a3ce929d0e0e4736"
	parentSpan      = "00f067aa0ba902b7"
	testTraceparent = "00-" + parentTrace + "-" + parentSpan + "-01"
)

// newRecordingProvider returns a provider that samples everything and keeps
// ended spans in memory.
func newRecordingProvider(t testing.TB) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, exp
}

func attrOf(s tracetest.SpanStub, k attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes {
		if kv.Key == k {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// tracedMux serves "GET /things/{id}" and "POST /fail" behind RequestID and
// Trace, and reports the span context its handlers saw.
func tracedMux(tp trace.TracerProvider, trusted []netip.Prefix, seen *trace.SpanContext) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		*seen = trace.SpanContextFromContext(r.Context())
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("POST /fail", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	return Chain(mux, RequestID, Trace(tp, trusted))
}

// TestTraceParentOnlyFromTrustedProxies: a traceparent from a peer that is
// not a trusted proxy is ignored (a new root trace, the client's trace id
// and sampling decision unused); from a trusted proxy the request's span
// continues the proxy's trace as a child of its span.
func TestTraceParentOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name     string
		remote   string
		honoured bool
	}{
		{"untrusted peer", "192.0.2.7:4711", false},
		{"trusted proxy", "10.1.2.3:4711", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tp, exp := newRecordingProvider(t)
			var seen trace.SpanContext
			h := tracedMux(tp, trusted, &seen)
			req := httptest.NewRequest(http.MethodGet, "/things/42?code=secret", nil)
			req.RemoteAddr = tc.remote
			req.Header.Set("traceparent", testTraceparent)
			req.Header.Set("tracestate", "vendor=x")
			// A forwarded hop in the trusted range does not make the
			// peer a trusted proxy.
			req.Header.Set("X-Forwarded-For", "10.9.9.9")
			h.ServeHTTP(httptest.NewRecorder(), req)

			spans := exp.GetSpans()
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			s := spans[0]
			if !s.SpanContext.Equal(seen) {
				t.Errorf("the handler saw span %v, the ended span is %v", seen, s.SpanContext)
			}
			fromParent := s.SpanContext.TraceID().String() == parentTrace
			if fromParent != tc.honoured {
				t.Errorf("trace id %s: continued the client's trace = %v, want %v", s.SpanContext.TraceID(), fromParent, tc.honoured)
			}
			if tc.honoured {
				if got := s.Parent.SpanID().String(); got != parentSpan || !s.Parent.IsRemote() {
					t.Errorf("parent %s (remote %v), want the proxy's span %s", got, s.Parent.IsRemote(), parentSpan)
				}
				if s.SpanContext.TraceState().Get("vendor") != "x" {
					t.Errorf("tracestate %q not carried from the trusted proxy", s.SpanContext.TraceState())
				}
			} else {
				if s.Parent.IsValid() {
					t.Errorf("span has parent %v; a request from an untrusted peer starts a root trace", s.Parent)
				}
				if s.SpanContext.TraceState().Len() != 0 {
					t.Errorf("tracestate %q taken from an untrusted peer", s.SpanContext.TraceState())
				}
			}
		})
	}
}

// TestTraceSpan: the span is a server span named by the method and route,
// with the status, the route and the request id, and never the path's
// values or the query.
func TestTraceSpan(t *testing.T) {
	t.Parallel()
	tp, exp := newRecordingProvider(t)
	var seen trace.SpanContext
	h := tracedMux(tp, nil, &seen)
	req := httptest.NewRequest(http.MethodGet, "/things/42?code=secret", nil)
	req.Header.Set(RequestIDHeader, "req-123")
	h.ServeHTTP(httptest.NewRecorder(), req)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/fail", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/nowhere", nil))

	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	s := spans[0]
	if s.Name != "GET /things/{id}" || s.SpanKind != trace.SpanKindServer {
		t.Errorf("span %q kind %v, want server span \"GET /things/{id}\"", s.Name, s.SpanKind)
	}
	for k, want := range map[attribute.Key]string{
		"request_id":          "req-123",
		"http.route":          "GET /things/{id}",
		"http.request.method": "GET",
		"client.address":      "192.0.2.1", // httptest.NewRequest's peer
	} {
		if v, ok := attrOf(s, k); !ok || v.Emit() != want {
			t.Errorf("%s = %q, want %q", k, v.Emit(), want)
		}
	}
	if v, _ := attrOf(s, "http.response.status_code"); v.AsInt64() != 200 {
		t.Errorf("status %d, want 200", v.AsInt64())
	}
	for _, kv := range s.Attributes {
		if v := kv.Value.Emit(); v == "/things/42" || v == "secret" || v == "/things/42?code=secret" {
			t.Errorf("attribute %s holds the path or query %q", kv.Key, v)
		}
	}
	if s.Status.Code != codes.Unset {
		t.Errorf("status %v for a 200", s.Status.Code)
	}
	if f := spans[1]; f.Name != "POST /fail" || f.Status.Code != codes.Error {
		t.Errorf("502: span %q status %v, want \"POST /fail\" with an error status", f.Name, f.Status.Code)
	}
	if o := spans[2]; o.Name != "GET" {
		t.Errorf("unmatched route: span %q, want \"GET\"", o.Name)
	}
	if spans[0].SpanContext.TraceID() == spans[1].SpanContext.TraceID() {
		t.Error("two requests share a trace")
	}
}

// TestTraceOffIsNoMiddleware: with no tracer provider Trace hands back the
// handler itself.
func TestTraceOffIsNoMiddleware(t *testing.T) {
	t.Parallel()
	var called bool
	h := &flagHandler{called: &called}
	if got := Trace(nil, nil)(h); got != http.Handler(h) {
		t.Fatalf("Trace(nil) wrapped the handler in %T", got)
	}
}

type flagHandler struct{ called *bool }

func (f *flagHandler) ServeHTTP(http.ResponseWriter, *http.Request) { *f.called = true }

// TestLogHandlerTraceID: a record logged within a span carries its trace
// and span ids; one logged outside carries none.
func TestLogHandlerTraceID(t *testing.T) {
	t.Parallel()
	tp, _ := newRecordingProvider(t)
	logger, buf := newTestLogger()
	ctx, span := tp.Tracer("test").Start(WithRequestID(context.Background(), "r1"), "op")
	logger.InfoContext(ctx, "inside")
	span.End()
	logger.InfoContext(context.Background(), "outside")
	recs := buf.records(t)
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	sc := span.SpanContext()
	if recs[0]["trace_id"] != sc.TraceID().String() || recs[0]["span_id"] != sc.SpanID().String() || recs[0]["request_id"] != "r1" {
		t.Errorf("record within the span: %v, want trace_id %s span_id %s request_id r1", recs[0], sc.TraceID(), sc.SpanID())
	}
	if _, ok := recs[1]["trace_id"]; ok {
		t.Errorf("record outside any span has a trace_id: %v", recs[1])
	}
}

// benchChain is the server's chain around a handler that writes a small
// body, with Trace made from tp (nil: tracing off).
func benchChain(tp trace.TracerProvider) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	return Chain(mux, RequestID, Trace(tp, nil), AccessLog(benchLogger(), nil), SecurityHeaders(false))
}

// benchLogger writes JSON, with request and trace ids, to nowhere.
func benchLogger() *slog.Logger {
	return slog.New(NewLogHandler(slog.NewJSONHandler(io.Discard, nil)))
}

func benchServe(b *testing.B, h http.Handler) {
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
}

// BenchmarkTrace compares the chain without Trace, with Trace off (nil
// provider), with a provider that samples nothing, and with one that
// records every span (exported to nowhere).
func BenchmarkTrace(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	b.Run("without", func(b *testing.B) {
		benchServe(b, Chain(mux, RequestID, AccessLog(benchLogger(), nil), SecurityHeaders(false)))
	})
	b.Run("off", func(b *testing.B) { benchServe(b, benchChain(nil)) })
	b.Run("never-sampled", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		benchServe(b, benchChain(tp))
	})
	b.Run("on", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
			sdktrace.WithSpanProcessor(sdktrace.NewBatchSpanProcessor(discardExporter{})))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		benchServe(b, benchChain(tp))
	})
}

type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }
