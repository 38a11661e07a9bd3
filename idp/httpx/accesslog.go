package httpx

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"
)

// AccessLog logs one Info record per request: method, route pattern,
// status, duration, bytes written and the client's IP address (see
// ClientIP). It never logs the path or the query, which may carry codes.
func AccessLog(logger *slog.Logger, trusted []netip.Prefix) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			r, rt := withRoute(r)
			rec := wrap(w)
			serve(next, rec, r)
			logger.LogAttrs(r.Context(), slog.LevelInfo, "http request",
				slog.String("method", r.Method),
				slog.String("route", rt.name()),
				slog.Int("status", rec.Status()),
				slog.Duration("duration", time.Since(start)),
				slog.Int64("bytes", rec.bytes),
				slog.String("remote_ip", ipString(ClientIP(r, trusted))),
			)
		})
	}
}

func ipString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
