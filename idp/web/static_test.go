package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestStatic(t *testing.T) {
	r, _ := newRenderer(t)
	h := r.Static()
	css := r.static["style.css"]
	cases := []struct {
		name, method, target string
		status               int
		contentType, cache   string
	}{
		{"versioned css", "GET", "/static/style.css?v=" + css.version, 200, "text/css; charset=utf-8", "public, max-age=31536000, immutable"},
		{"unversioned css", "GET", "/static/style.css", 200, "text/css; charset=utf-8", "public, max-age=86400"},
		{"stale version", "GET", "/static/style.css?v=000000000000", 200, "text/css; charset=utf-8", "public, max-age=86400"},
		{"icon", "GET", "/static/favicon.svg", 200, "image/svg+xml", "public, max-age=86400"},
		{"head", "HEAD", "/static/style.css", 200, "text/css; charset=utf-8", "public, max-age=86400"},
		{"missing", "GET", "/static/nope.css", 404, "", ""},
		{"directory", "GET", "/static/", 404, "", ""},
		{"traversal", "GET", "/static/../templates/login.html", 404, "", ""},
		{"template", "GET", "/static/templates/login.html", 404, "", ""},
		{"post", "POST", "/static/style.css", 405, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, "/", nil)
			req.URL.Path, req.URL.RawQuery, _ = strings.Cut(c.target, "?")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != c.status {
				t.Fatalf("status = %d, want %d", res.StatusCode, c.status)
			}
			if c.status != 200 {
				return
			}
			if got := res.Header.Get("Content-Type"); got != c.contentType {
				t.Errorf("Content-Type = %q, want %q", got, c.contentType)
			}
			if got := res.Header.Get("Cache-Control"); got != c.cache {
				t.Errorf("Cache-Control = %q, want %q", got, c.cache)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("ETag") == "" {
				t.Errorf("headers: %v", res.Header)
			}
			if c.method == "GET" && len(body) == 0 {
				t.Error("empty body")
			}
		})
	}

	// A conditional request with the ETag is answered 304.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/static/style.css", nil))
	req := httptest.NewRequest("GET", "/static/style.css", nil)
	req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("conditional GET: %d, want 304", rec.Code)
	}
}

// sameOriginScript is the one way a page may load a script: a static asset
// of this provider, by its versioned URL, with nothing inline.
var sameOriginScript = regexp.MustCompile(`<script src="\{\{\$?\.Static "[a-z]+\.js"\}\}" defer></script>`)

func TestAssetsHaveNoInlineCode(t *testing.T) {
	for _, dir := range []string{"templates", "static"} {
		entries, err := assets.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) == 0 {
			t.Fatalf("no files in %s", dir)
		}
		for _, e := range entries {
			b, err := assets.ReadFile(dir + "/" + e.Name())
			if err != nil {
				t.Fatal(err)
			}
			s := strings.ToLower(sameOriginScript.ReplaceAllString(string(b), ""))
			for _, bad := range []string{"<script", "<style", " style=", "javascript:", " onclick=", " onload=", " onsubmit="} {
				if strings.Contains(s, bad) {
					t.Errorf("%s/%s contains %q", dir, e.Name(), bad)
				}
			}
		}
	}
}
