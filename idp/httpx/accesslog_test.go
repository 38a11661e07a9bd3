package httpx

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func testMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("thing " + r.PathValue("id")))
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) {
		panic("sql: connection refused at store.go:42")
	})
	return mux
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	logger, buf := newTestLogger()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	h := Chain(testMux(), RequestID, AccessLog(logger, trusted))

	type want struct {
		method, route string
		status        float64
		bytes         float64
		ip            string
	}
	tests := []struct {
		method, target, remote, xff string
		want                        want
	}{
		{"GET", "/things/42?code=topsecret", "192.0.2.1:1234", "", want{"GET", "GET /things/{id}", 201, 8, "192.0.2.1"}},
		{"POST", "/token", "10.1.1.1:1234", "203.0.113.7", want{"POST", "POST /token", 200, 0, "203.0.113.7"}},
		{"GET", "/nope", "192.0.2.1:1234", "203.0.113.7", want{"GET", OtherRoute, 404, 19, "192.0.2.1"}},
		{"DELETE", "/things/1", "[2001:db8::1]:1234", "", want{"DELETE", OtherRoute, 405, 19, "2001:db8::1"}},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.target, nil)
		req.RemoteAddr = tt.remote
		if tt.xff != "" {
			req.Header.Set("X-Forwarded-For", tt.xff)
		}
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, req)
		recs := buf.records(t)
		r := recs[len(recs)-1]
		w := tt.want
		if r["msg"] != "http request" || r["level"] != "INFO" || r["method"] != w.method || r["route"] != w.route ||
			r["status"] != w.status || r["bytes"] != w.bytes || r["remote_ip"] != w.ip {
			t.Errorf("%s %s: logged %v, want %+v", tt.method, tt.target, r, w)
		}
		if d, ok := r["duration"].(float64); !ok || d < 0 {
			t.Errorf("%s %s: duration %v", tt.method, tt.target, r["duration"])
		}
		if id := rr.Header().Get(RequestIDHeader); id == "" || r["request_id"] != id {
			t.Errorf("%s %s: request_id %v, response id %q", tt.method, tt.target, r["request_id"], id)
		}
	}
	if logs := buf.String(); strings.Contains(logs, "topsecret") || strings.Contains(logs, "/things/42") {
		t.Errorf("the access log contains the path or query:\n%s", logs)
	}
}

// TestRouteSurvivesRequestCopies checks that the route is known whatever
// the order of this package's middlewares, even when one that copies the
// request (RequestID) sits between the recording ones and the mux.
func TestRouteSurvivesRequestCopies(t *testing.T) {
	t.Parallel()
	logger, buf := newTestLogger()
	m := NewMetrics()
	h := Chain(testMux(), AccessLog(logger, nil), m.Middleware, RequestID, SecurityHeaders(false))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/things/7", nil))
	recs := buf.records(t)
	if len(recs) != 1 || recs[0]["route"] != "GET /things/{id}" {
		t.Errorf("logged %v, want route GET /things/{id}", recs)
	}
	if got := counterValue(t, m, "http_requests_total", map[string]string{"route": "GET /things/{id}", "method": "GET", "status": "201"}); got != 1 {
		t.Errorf("http_requests_total = %v, want 1", got)
	}
}
