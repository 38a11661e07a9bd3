package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRequestID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		incoming string
		keep     bool
	}{
		{"absent", "", false},
		{"sane", "abc-DEF_123.x", true},
		{"64 chars", strings.Repeat("a", 64), true},
		{"65 chars", strings.Repeat("a", 65), false},
		{"space", "abc def", false},
		{"header injection", "abc\r\nSet-Cookie: x=y", false},
		{"non-ASCII", "идентификатор", false},
		{"slash", "a/b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var seen string
			h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = RequestIDFrom(r.Context())
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.incoming != "" {
				req.Header.Set(RequestIDHeader, tt.incoming)
			}
			rr := httptest.NewRecorder()
			h.ServeHTTP(rr, req)
			got := rr.Header().Get(RequestIDHeader)
			if got != seen {
				t.Errorf("response id %q, context id %q", got, seen)
			}
			if tt.keep && got != tt.incoming {
				t.Errorf("id %q, want the incoming %q", got, tt.incoming)
			}
			if !tt.keep && (got == tt.incoming || !validRequestID(got)) {
				t.Errorf("id %q: want a fresh valid id instead of %q", got, tt.incoming)
			}
		})
	}
}

func TestRequestIDGeneratedAreDistinct(t *testing.T) {
	t.Parallel()
	h := RequestID(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	seen := map[string]bool{}
	for range 100 {
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/", nil))
		id := rr.Header().Get(RequestIDHeader)
		if seen[id] {
			t.Fatalf("id %q generated twice", id)
		}
		seen[id] = true
	}
}

func TestLogHandlerAddsRequestID(t *testing.T) {
	t.Parallel()
	logger, buf := newTestLogger()
	ctx := WithRequestID(t.Context(), "req-1")

	logger.InfoContext(ctx, "with id")
	logger.Info("without context")
	logger.With("component", "test").WarnContext(ctx, "derived logger")
	logger.DebugContext(t.Context(), "context without id")

	recs := buf.records(t)
	if len(recs) != 4 {
		t.Fatalf("got %d records, want 4:\n%s", len(recs), buf)
	}
	want := []any{"req-1", nil, "req-1", nil}
	for i, r := range recs {
		if r["request_id"] != want[i] {
			t.Errorf("record %d (%v): request_id = %v, want %v", i, r["msg"], r["request_id"], want[i])
		}
	}
	if recs[2]["component"] != "test" {
		t.Errorf("WithAttrs lost: %v", recs[2])
	}
}

func TestLogHandlerEnabledFollowsWrapped(t *testing.T) {
	t.Parallel()
	var b logBuffer
	h := NewLogHandler(slogJSON(&b, 4)) // warn
	if h.Enabled(t.Context(), 0) {
		t.Error("info enabled under a warn handler")
	}
	if !h.Enabled(t.Context(), 8) {
		t.Error("error disabled under a warn handler")
	}
	g := h.WithGroup("g")
	if _, ok := g.(*LogHandler); !ok {
		t.Errorf("WithGroup returned %T, want *LogHandler", g)
	}
}
