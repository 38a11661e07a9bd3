package httpx

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// counterValue returns the value of the counter (or the sample count of the
// histogram) name with exactly labels, 0 when absent.
func counterValue(t *testing.T, m *Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, metric := range f.GetMetric() {
			if !labelsEqual(metric.GetLabel(), labels) {
				continue
			}
			if h := metric.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return metric.GetCounter().GetValue()
		}
	}
	return 0
}

func labelsEqual(pairs []*dto.LabelPair, want map[string]string) bool {
	if len(pairs) != len(want) {
		return false
	}
	for _, p := range pairs {
		if v, ok := want[p.GetName()]; !ok || v != p.GetValue() {
			return false
		}
	}
	return true
}

func TestMetricsMiddleware(t *testing.T) {
	t.Parallel()
	logger, _ := newTestLogger()
	m := NewMetrics()
	h := Chain(testMux(), RequestID, m.Middleware, Recover(logger))
	for _, req := range []struct{ method, target string }{
		{"GET", "/things/1"}, {"GET", "/things/2"}, {"GET", "/nope"}, {"BREW", "/things/1"}, {"GET", "/panic"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.target, nil))
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"http_requests_total", map[string]string{"route": "GET /things/{id}", "method": "GET", "status": "201"}, 2},
		{"http_requests_total", map[string]string{"route": OtherRoute, "method": "GET", "status": "404"}, 1},
		{"http_requests_total", map[string]string{"route": OtherRoute, "method": "OTHER", "status": "405"}, 1},
		{"http_requests_total", map[string]string{"route": "GET /panic", "method": "GET", "status": "500"}, 1},
		{"http_request_duration_seconds", map[string]string{"route": "GET /things/{id}"}, 2},
		{"http_request_duration_seconds", map[string]string{"route": OtherRoute}, 2},
	} {
		if got := counterValue(t, m, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

func TestMetricsCountersAndHandler(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	other := NewMetrics() // a second set in the same process must not collide
	m.GrantIssued("authorization_code", "issued")
	m.GrantIssued("authorization_code", "issued")
	m.GrantIssued("refresh_token", "invalid_grant")
	m.Login("success")
	other.Login("success")

	if got := counterValue(t, m, "idp_grants_total", map[string]string{"grant_type": "authorization_code", "outcome": "issued"}); got != 2 {
		t.Errorf("idp_grants_total = %v, want 2", got)
	}
	if got := counterValue(t, m, "idp_logins_total", map[string]string{"outcome": "success"}); got != 1 {
		t.Errorf("idp_logins_total = %v, want 1", got)
	}

	rr := httptest.NewRecorder()
	m.Handler().ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rr.Body)
	for _, want := range []string{
		`idp_grants_total{grant_type="authorization_code",outcome="issued"} 2`,
		`idp_grants_total{grant_type="refresh_token",outcome="invalid_grant"} 1`,
		`idp_logins_total{outcome="success"} 1`,
		"go_goroutines",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if rr.Code != http.StatusOK {
		t.Errorf("/metrics status %d", rr.Code)
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	t.Parallel()
	var m *Metrics
	m.GrantIssued("client_credentials", "issued")
	m.Login("success")
	called := false
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })
	m.Middleware(next).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if !called {
		t.Error("nil Metrics' middleware did not call the handler")
	}
}
