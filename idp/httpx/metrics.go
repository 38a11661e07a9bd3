package httpx

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the server's Prometheus metrics on a registry of their own
// (no global state: tests and several servers in one process do not
// collide). A nil *Metrics records nothing, so handlers may hold one
// optionally.
//
// Label values must come from fixed sets (route patterns, grant types the
// server supports, outcome names chosen by the caller), never from request
// input: every distinct value is a new time series.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	grants   *prometheus.CounterVec
	logins   *prometheus.CounterVec
	tokens   *prometheus.CounterVec
}

// NewMetrics creates the metrics, with the Go runtime and process
// collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "HTTP request duration by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		grants: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idp_grants_total",
			Help: "Token endpoint grants by grant type and outcome.",
		}, []string{"grant_type", "outcome"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idp_logins_total",
			Help: "Login attempts by outcome.",
		}, []string{"outcome"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idp_token_cache_lookups_total",
			Help: "Access-token lookups (introspection, userinfo) by whether the process's token cache answered.",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.grants, m.logins, m.tokens,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry, for collectors of other packages (a
// connection pool's statistics, say).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format; mount it
// at GET /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// GrantIssued counts a token endpoint request of grantType ending with
// outcome (e.g. "issued", "invalid_grant").
func (m *Metrics) GrantIssued(grantType, outcome string) {
	if m == nil {
		return
	}
	m.grants.WithLabelValues(grantType, outcome).Inc()
}

// Login counts a login attempt ending with outcome (e.g. "success",
// "bad_password", "locked").
func (m *Metrics) Login(outcome string) {
	if m == nil {
		return
	}
	m.logins.WithLabelValues(outcome).Inc()
}

// TokenCacheLookup counts an access-token lookup answered by the token
// cache (hit) or by the store.
func (m *Metrics) TokenCacheLookup(hit bool) {
	if m == nil {
		return
	}
	result := "miss"
	if hit {
		result = "hit"
	}
	m.tokens.WithLabelValues(result).Inc()
}

// Middleware counts requests and observes their duration by the route
// pattern that served them (OtherRoute when none matched).
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		r, rt := withRoute(r)
		rec := wrap(w)
		serve(next, rec, r)
		route := rt.name()
		m.requests.WithLabelValues(route, methodLabel(r.Method), strconv.Itoa(rec.Status())).Inc()
		m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// methodLabel keeps the method label to a fixed set.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}
