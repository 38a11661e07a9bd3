package chaos

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// backendNamed answers its name, and /readyz with ready's status.
func backendNamed(t *testing.T, name string, ready *int) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			w.WriteHeader(*ready)
		case "/die":
			// Taken and never answered: the process died.
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		default:
			body, _ := io.ReadAll(r.Body)
			io.WriteString(w, name+" "+r.Method+" "+string(body))
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func get(t *testing.T, p *Proxy, path string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(p.URL+path, "text/plain", strings.NewReader("form"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestProxy(t *testing.T) {
	ok, down := http.StatusOK, http.StatusServiceUnavailable
	a, b := backendNamed(t, "a", &ok), backendNamed(t, "b", &ok)
	// c's port refuses connections.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()

	p, err := Listen(time.Hour) // no health check runs during the test
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetBackends(a.Listener.Addr().String(), dead, b.Listener.Addr().String())

	seen := map[string]int{}
	for range 6 {
		resp, body := get(t, p, "/x")
		if resp.StatusCode != http.StatusOK || !strings.HasSuffix(body, " POST form") {
			t.Fatalf("through the proxy: %d %q", resp.StatusCode, body)
		}
		seen[body[:1]]++
	}
	// Round robin over a and b; the refused one is skipped and marked.
	if seen["a"] == 0 || seen["b"] == 0 || seen["a"]+seen["b"] != 6 {
		t.Errorf("answers by backend: %v, want both a and b", seen)
	}
	if p.Retried.Load() == 0 {
		t.Error("the refused backend was never skipped")
	}
	if h := p.Healthy(); len(h) != 2 {
		t.Errorf("healthy backends %v, want a and b", h)
	}

	// A backend that takes the request and dies: 502 marked with it, never
	// sent again.
	resp, _ := get(t, p, "/die")
	if resp.StatusCode != http.StatusBadGateway || resp.Header.Get(ProxyErrorHeader) == "" {
		t.Errorf("a backend dying under a request: %d %v, want 502 with %s", resp.StatusCode, resp.Header, ProxyErrorHeader)
	}

	// No healthy backend: the proxy fails open and the servers answer.
	ok = down
	p.checkOnce()
	if h := p.Healthy(); len(h) != 0 {
		t.Fatalf("healthy %v after every /readyz failed", h)
	}
	if resp, body := get(t, p, "/x"); resp.StatusCode != http.StatusOK || body == "" {
		t.Errorf("with every backend unready: %d %q, want a backend's answer", resp.StatusCode, body)
	}

	// Nothing accepts a connection: 503 with Retry-After.
	p.SetBackends(dead)
	if resp, _ := get(t, p, "/x"); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || resp.Header.Get(NoBackendHeader) == "" {
		t.Errorf("no backend at all: %d %v, want 503 with Retry-After", resp.StatusCode, resp.Header)
	}
}
