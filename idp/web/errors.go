package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/esia-oidc/idp/store"
)

// PageError is an error shown to a person as a page: an HTTP status and a
// catalog message, with an internal cause that is only logged.
type PageError struct {
	Status  int    // HTTP status; 0 means 500
	Key     string // message key, e.g. "error.flow_expired"; empty means "error.internal"
	Args    []any  // arguments of the message
	Cause   error  // logged, never shown
	BackURL string // optional link back to the relying party
}

// Error describes the error for logs; it is never shown on a page.
func (e *PageError) Error() string {
	if e.Cause == nil {
		return fmt.Sprintf("page error %d %s", e.Status, e.Key)
	}
	return fmt.Sprintf("page error %d %s: %v", e.Status, e.Key, e.Cause)
}

// Unwrap returns the cause.
func (e *PageError) Unwrap() error { return e.Cause }

// errorView is what the error page shows.
type errorView struct {
	Message string
	BackURL string
}

// Error renders the error page for err. A *PageError anywhere in err's chain
// gives the status, message and back link; a store failure
// (store.ErrUnavailable) is a 503 with Retry-After and "error.unavailable";
// any other error is a 500 with the generic "error.internal" message. err
// is logged with the request's context, at a level that depends on the
// status (logLevel), and never shown.
func (r *Renderer) Error(w http.ResponseWriter, req *http.Request, err error) {
	status, key, back := http.StatusInternalServerError, "error.internal", ""
	var args []any
	var pe *PageError
	if errors.Is(err, store.ErrUnavailable) {
		// A store failed: the request may be tried again shortly.
		status, key = http.StatusServiceUnavailable, "error.unavailable"
		w.Header().Set("Retry-After", "5")
	}
	if errors.As(err, &pe) {
		if pe.Status >= 400 && pe.Status <= 599 {
			status = pe.Status
		}
		if pe.Key != "" && hasMessage(pe.Key) {
			key, args = pe.Key, pe.Args
		}
		back = pe.BackURL
	}
	if err == nil {
		err = errors.New("web: Error called with a nil error")
	}
	r.logger.Log(req.Context(), logLevel(status), "web: error page",
		"status", status,
		"message", key,
		"method", req.Method,
		"path", req.URL.Path, // never the query: it may hold tokens
		"request_id", requestID(w, req),
		"err", err)
	lang := r.Lang(req)
	r.render(w, req, status, "error", lang, errorView{
		Message: translate(lang, key, args...),
		BackURL: back,
	})
}

// logLevel is the level an error page of the status is logged at. Only a
// failure of the server (5xx) is an ERROR. A 4xx is the client's doing and
// anyone can cause it at will (a scanner's 404s, a forged cross-site post's
// 403), so it never reaches ERROR or WARN, where it would bury what needs
// an operator: 404 and 405 at DEBUG (the access log already records them at
// INFO), other 4xx (CSRF failures, expired or foreign flows, a level too
// low) at INFO with their cause, for support to follow a citizen's request.
// Volumes of 4xx are for alerts on http_requests_total, not for the log.
func logLevel(status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case status == http.StatusNotFound, status == http.StatusMethodNotAllowed:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

type requestIDKey struct{}

// WithRequestID returns a context that carries the request id, which pages
// show (small) so that a person can quote it to support.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id stored by WithRequestID, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestID is the id from the request's context, else the X-Request-Id a
// middleware put on the response (never the client's own header).
func requestID(w http.ResponseWriter, req *http.Request) string {
	if id := RequestIDFrom(req.Context()); id != "" {
		return id
	}
	return w.Header().Get("X-Request-Id")
}
