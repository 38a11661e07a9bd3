package httpx

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	for _, hsts := range []bool{false, true} {
		h := SecurityHeaders(hsts)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("page"))
		}))
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/login", nil))
		want := map[string]string{
			"X-Frame-Options":        "DENY",
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
			"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
				"form-action 'self' https: http:; frame-ancestors 'none'; base-uri 'none'",
		}
		if hsts {
			want["Strict-Transport-Security"] = "max-age=31536000"
		}
		for k, v := range want {
			if got := rr.Header().Get(k); got != v {
				t.Errorf("hsts=%v: %s = %q, want %q", hsts, k, got, v)
			}
		}
		if !hsts && rr.Header().Get("Strict-Transport-Security") != "" {
			t.Error("HSTS sent for an http issuer")
		}
	}
}

func TestCSPNarrowedByAHandler(t *testing.T) {
	t.Parallel()
	h := SecurityHeaders(true)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", CSP("https://rp.example"))
	}))
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/consent", nil))
	got := rr.Header().Get("Content-Security-Policy")
	if !strings.Contains(got, "form-action 'self' https://rp.example;") || strings.Contains(got, "http:") {
		t.Errorf("CSP = %q, want form-action narrowed to the relying party", got)
	}
	if got := CSP(); !strings.Contains(got, "form-action 'self';") {
		t.Errorf("CSP() = %q, want form-action 'self' only", got)
	}
}
