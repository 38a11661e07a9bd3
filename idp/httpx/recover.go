package httpx

import (
	"log/slog"
	"net/http"
	"runtime/debug"
)

// Recover turns a panic in a handler into a 500 with a generic JSON body
// (error "server_error"); the panic value and the stack go to the log at
// Error, never to the client. If the response had already started, the
// connection is aborted instead (http.ErrAbortHandler), so that a truncated
// body is not taken for a whole one. http.ErrAbortHandler itself passes
// through.
func Recover(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := wrap(w)
			defer func() {
				p := recover()
				if p == nil {
					return
				}
				if p == http.ErrAbortHandler {
					panic(p)
				}
				logger.LogAttrs(r.Context(), slog.LevelError, "panic serving request",
					slog.String("method", r.Method),
					slog.String("route", r.Pattern),
					slog.Any("panic", p),
					slog.String("stack", string(debug.Stack())),
				)
				if rec.wrote() {
					panic(http.ErrAbortHandler)
				}
				h := w.Header()
				for _, k := range []string{"Set-Cookie", "Location", "Content-Length", "Content-Encoding", "Content-Disposition", "ETag", "Last-Modified", "Refresh"} {
					h.Del(k)
				}
				WriteJSONError(rec, http.StatusInternalServerError, "server_error", "The server encountered an internal error.")
			}()
			next.ServeHTTP(rec, r)
		})
	}
}
