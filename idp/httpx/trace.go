package httpx

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/esia-oidc/idp/internal/tracing"
)

// RequestIDKey is the span attribute holding the request id, under the
// name the logs give it.
const RequestIDKey = attribute.Key("request_id")

// Trace starts a server span for each request with tp: a child of the W3C
// traceparent (and tracestate) the request carries only when the
// connection comes from a trusted proxy, and a new root trace otherwise, the
// header ignored (a client must not pick trace ids or the sampling
// decision). The span is named by the method and the route pattern, and
// holds the method, route, status, client IP address (ClientIP) and the
// request id (put RequestID outside Trace); never the path or the query,
// which may carry codes. Put Trace outside the access log so that its line
// carries the trace_id (NewLogHandler).
//
// A nil tp means tracing is off: Trace returns the handler unchanged, so
// that it costs nothing.
func Trace(tp trace.TracerProvider, trusted []netip.Prefix) func(http.Handler) http.Handler {
	if tp == nil {
		return func(next http.Handler) http.Handler { return next }
	}
	tracer := tp.Tracer(tracing.ScopeName)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := r.Context()
			if peer, ok := parseHop(r.RemoteAddr); ok && isTrusted(peer, trusted) {
				ctx = tracing.Propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
			}
			attrs := []attribute.KeyValue{
				semconv.HTTPRequestMethodKey.String(r.Method),
				semconv.URLScheme(scheme(r)),
			}
			if ip := ClientIP(r, trusted); ip.IsValid() {
				attrs = append(attrs, semconv.ClientAddress(ip.String()))
			}
			if id := RequestIDFrom(ctx); id != "" {
				attrs = append(attrs, RequestIDKey.String(id))
			}
			ctx, span := tracer.Start(ctx, r.Method,
				trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
			defer span.End()
			r, rt := withRoute(r.WithContext(ctx))
			rec := wrap(w)
			serve(next, rec, r)
			status := rec.Status()
			route := rt.name()
			span.SetName(spanName(r.Method, route))
			span.SetAttributes(semconv.HTTPRoute(route), semconv.HTTPResponseStatusCode(status))
			if status >= 500 {
				span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
				span.SetStatus(codes.Error, "")
			}
		})
	}
}

// spanName is "METHOD /path/pattern": the pattern without a method of its
// own gets the request's; no matched route gives the method alone.
func spanName(method, route string) string {
	if route == OtherRoute {
		return method
	}
	if strings.Contains(route, " ") { // "POST /token"
		return route
	}
	return method + " " + route
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
