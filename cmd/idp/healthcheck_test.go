package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	var gotPath string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.URL.Path
		w.WriteHeader(status)
	}))
	t.Cleanup(ts.Close)
	noEnv := func(string) string { return "" }
	ctx := context.Background()

	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"healthcheck", "--url", ts.URL + "/healthz"}, noEnv, &out, &errOut); err != nil {
		t.Fatalf("healthy server: %v", err)
	}
	if out.String() != "ok\n" || gotPath != "/healthz" {
		t.Errorf("printed %q, path %q", out.String(), gotPath)
	}

	status = http.StatusServiceUnavailable
	err := run(ctx, []string{"healthcheck", "--url", ts.URL + "/healthz"}, noEnv, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("503 server: err = %v, want one naming 503", err)
	}

	// Nothing listening: an error, within the timeout.
	closed := httptest.NewServer(http.NotFoundHandler())
	addr := closed.URL
	closed.Close()
	start := time.Now()
	if err := run(ctx, []string{"healthcheck", "--url", addr + "/healthz", "--timeout", "2s"}, noEnv, &out, &errOut); err == nil {
		t.Error("closed port: no error")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("closed port took %s", d)
	}

	if err := run(ctx, []string{"healthcheck", "extra"}, noEnv, &out, &errOut); err == nil {
		t.Error("an extra argument was accepted")
	}
}

func TestDefaultHealthURL(t *testing.T) {
	for listen, want := range map[string]string{
		"":               "http://127.0.0.1:8080/healthz",
		":9000":          "http://127.0.0.1:9000/healthz",
		"0.0.0.0:8443":   "http://127.0.0.1:8443/healthz",
		"127.0.0.1:8080": "http://127.0.0.1:8080/healthz",
		"[::]:7000":      "http://127.0.0.1:7000/healthz",
		"garbage":        "http://127.0.0.1:8080/healthz",
	} {
		if got := defaultHealthURL(listen); got != want {
			t.Errorf("defaultHealthURL(%q) = %q, want %q", listen, got, want)
		}
	}
}
