package httpx

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// leaks are the marks of internal detail that must never reach a client.
var leaks = []string{"sql:", ".go:", "goroutine", "connection refused", "panic"}

func TestRecover(t *testing.T) {
	t.Parallel()
	logger, buf := newTestLogger()
	h := Chain(testMux(), RequestID, Recover(logger))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cookie-then-panic", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "half-made"})
		panic(errors.New("sql: no rows in result set"))
	})
	h2 := Chain(mux, RequestID, Recover(logger))

	for _, tc := range []struct {
		h      http.Handler
		target string
		value  string
	}{
		{h, "/panic", "sql: connection refused at store.go:42"},
		{h2, "/cookie-then-panic", "sql: no rows in result set"},
	} {
		rr := httptest.NewRecorder()
		tc.h.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, tc.target, nil))
		if rr.Code != http.StatusInternalServerError {
			t.Errorf("%s: status %d, want 500", tc.target, rr.Code)
		}
		body := rr.Body.String()
		for _, leak := range leaks {
			if strings.Contains(body, leak) {
				t.Errorf("%s: body leaks %q: %s", tc.target, leak, body)
			}
		}
		var e struct{ Error string }
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error != "server_error" {
			t.Errorf("%s: body %q, want a server_error JSON error", tc.target, body)
		}
		if rr.Header().Get("Set-Cookie") != "" {
			t.Errorf("%s: the 500 sets a cookie of the failed handler", tc.target)
		}
		recs := buf.records(t)
		r := recs[len(recs)-1]
		stack, _ := r["stack"].(string)
		if r["level"] != "ERROR" || r["panic"] != tc.value || !strings.Contains(stack, "recover_test.go") && !strings.Contains(stack, "accesslog_test.go") {
			t.Errorf("%s: logged %v, want the panic value and its stack", tc.target, r)
		}
		if r["request_id"] != rr.Header().Get(RequestIDHeader) {
			t.Errorf("%s: panic record request_id %v, response %q", tc.target, r["request_id"], rr.Header().Get(RequestIDHeader))
		}
	}
}

func TestRecoverAbortsAStartedResponse(t *testing.T) {
	t.Parallel()
	logger, buf := newTestLogger()
	srv := httptest.NewServer(Recover(logger)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("partial "))
		http.NewResponseController(w).Flush()
		panic("late failure")
	})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err == nil {
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr == nil {
			t.Fatalf("a response that panicked half way was read whole: %d %q", resp.StatusCode, body)
		}
	}
	if !strings.Contains(buf.String(), "late failure") {
		t.Errorf("the panic was not logged: %s", buf)
	}
}

func TestRecoverPassesAbortHandler(t *testing.T) {
	t.Parallel()
	logger, buf := newTestLogger()
	h := Recover(logger)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", p)
		}
		if buf.String() != "" {
			t.Errorf("an aborted handler was logged: %s", buf)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
}
