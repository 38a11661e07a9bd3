// Package httpx holds the HTTP plumbing every handler of the provider
// shares: request ids and a slog handler that logs them, a span per request
// (OpenTelemetry, when tracing is on), an access log,
// Prometheus metrics on a private registry, security headers, the client's
// IP address behind trusted proxies, panic recovery, and JSON responses.
//
// The middlewares name a request by the pattern of the http.ServeMux route
// that served it (r.Pattern, "other" when none matched). Wrap the mux so
// that the recovery sits inside the access log and the metrics (a panic is
// then logged and counted as a 500) and the request id outside everything:
//
//	handler := httpx.Chain(mux,
//		httpx.RequestID,
//		httpx.Trace(tracerProvider, trusted), // nil: tracing off, no cost
//		httpx.AccessLog(logger, trusted),
//		metrics.Middleware,
//		httpx.Recover(logger),
//		httpx.SecurityHeaders(cfg.IssuerHTTPS()),
//	)
//
// The mux sets r.Pattern on the request it receives; these middlewares
// carry it back out through a holder in the context, in any order among
// themselves. A middleware of another package that hands the mux a copy of
// the request (r.WithContext) hides the pattern from the ones outside it:
// put such middlewares outside this package's, or inside the routes.
//
// Create the logger with slog.New(httpx.NewLogHandler(inner)) so that
// every record logged with a request's context carries its request_id (and
// trace_id when tracing is on).
package httpx

import "net/http"

// Chain wraps h in the middlewares, the first one outermost:
// Chain(h, a, b) is a(b(h)).
func Chain(h http.Handler, middlewares ...func(http.Handler) http.Handler) http.Handler {
	for i := len(middlewares) - 1; i >= 0; i-- {
		h = middlewares[i](h)
	}
	return h
}
