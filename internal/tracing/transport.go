package tracing

import (
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// PeerServiceKey names the service an outbound call goes to ("registry",
// "sms-gateway", ...).
const PeerServiceKey = attribute.Key("peer.service")

// Transport wraps base (http.DefaultTransport when nil) so that a request
// made within a recording span gets a client span of its own, named by
// its method, and carries that span's traceparent to the peer. The span
// records the method, the peer's host, port and scheme and the status; never
// the path or the query, which may hold keys. Outside a recording span the
// request goes to base unchanged.
func Transport(peer string, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{peer: peer, base: base}
}

type transport struct {
	peer string
	base http.RoundTripper
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, span := Start(r.Context(), r.Method, trace.SpanKindClient)
	if !span.IsRecording() {
		return t.base.RoundTrip(r)
	}
	defer span.End()
	attrs := []attribute.KeyValue{
		PeerServiceKey.String(t.peer),
		semconv.HTTPRequestMethodKey.String(r.Method),
		semconv.ServerAddress(r.URL.Hostname()),
		semconv.URLScheme(r.URL.Scheme),
	}
	if p, err := strconv.Atoi(r.URL.Port()); err == nil {
		attrs = append(attrs, semconv.ServerPort(p))
	}
	span.SetAttributes(attrs...)
	// A RoundTripper must not change the caller's request.
	r = r.Clone(ctx)
	Propagator.Inject(ctx, propagation.HeaderCarrier(r.Header))
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		span.SetAttributes(semconv.ErrorType(err))
		span.SetStatus(codes.Error, "no answer")
		return resp, err
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(resp.StatusCode)))
		span.SetStatus(codes.Error, "")
	}
	return resp, nil
}

// CloseIdleConnections passes the call on to base, as http.Client expects
// of a transport.
func (t *transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
