package web

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/esia-oidc/idp/internal/logbuf"
)

// TestErrorPageLogLevels: a page the client caused (4xx) is not an error of
// the server and is not logged at ERROR or WARN, whoever asks for it: a
// scanner's 404s and forged cross-site posts (403) would otherwise flood
// the level that pages an operator. 404 and 405 are logged at DEBUG (the
// access log already has them at INFO), other 4xx at INFO with their cause;
// only 5xx pages are logged at ERROR.
func TestErrorPageLogLevels(t *testing.T) {
	cause := errors.New("the cause of it")
	for _, tc := range []struct {
		name  string
		err   error
		level string
	}{
		{"404 unknown route", &PageError{Status: http.StatusNotFound, Key: "error.not_found"}, "DEBUG"},
		{"404 flow expired", &PageError{Status: http.StatusNotFound, Key: "error.flow_expired", Cause: cause}, "DEBUG"},
		{"405", &PageError{Status: http.StatusMethodNotAllowed}, "DEBUG"},
		{"403 CSRF", &PageError{Status: http.StatusForbidden, Key: "error.csrf"}, "INFO"},
		{"403 other browser", &PageError{Status: http.StatusForbidden, Key: "error.other_browser", Cause: cause}, "INFO"},
		{"400", &PageError{Status: http.StatusBadRequest, Key: "error.unknown_client", Cause: cause}, "INFO"},
		{"429", &PageError{Status: http.StatusTooManyRequests}, "INFO"},
		{"500 page error", &PageError{Status: http.StatusInternalServerError, Cause: cause}, "ERROR"},
		{"503 page error", &PageError{Status: http.StatusServiceUnavailable, Cause: cause}, "ERROR"},
		{"plain error", cause, "ERROR"},
		{"invalid status", &PageError{Status: 200, Cause: cause}, "ERROR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logbuf.Buffer{}
			r, err := New(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Cookies{Secure: true})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodGet, "/somewhere?token=secret", nil)
			r.Error(httptest.NewRecorder(), req, tc.err)
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("logged %d lines, want 1:\n%s", len(lines), logs)
			}
			if !strings.Contains(lines[0], "level="+tc.level+" ") {
				t.Errorf("logged %q, want level %s", lines[0], tc.level)
			}
			var pe *PageError
			if errors.As(tc.err, &pe) && pe.Cause != nil && !strings.Contains(lines[0], "the cause of it") {
				t.Errorf("the cause was not logged: %q", lines[0])
			}
			if strings.Contains(lines[0], "secret") {
				t.Errorf("the query was logged: %q", lines[0])
			}
		})
	}
}
