package adminclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRequestsAndErrors(t *testing.T) {
	type seen struct{ method, path, auth, contentType, body string }
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)})
		switch r.URL.Path {
		case "/admin/clients/a/b":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"not_found","error_description":"no client with this client_id"}`)
		case "/admin/keys":
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "<html>proxy error</html>")
		case "/admin/keys/rotate":
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"kid":"k1","alg":"ES256","state":"next","created_at":"2025-01-01T00:00:00Z","active_at":"2025-01-01T01:00:00Z"}`)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	c := New(srv.URL+"/", "tok", nil)
	ctx := context.Background()

	_, err := c.GetClient(ctx, "a/b")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Code != "not_found" || ae.Description != "no client with this client_id" {
		t.Errorf("GetClient error = %#v", err)
	}
	if !IsCode(err, "not_found") || IsCode(err, "conflict") || IsCode(errors.New("x"), "not_found") {
		t.Error("IsCode is wrong")
	}
	if s := err.Error(); s != "admin API: 404 not_found: no client with this client_id" {
		t.Errorf("Error() = %q", s)
	}

	_, err = c.ListKeys(ctx)
	if !errors.As(err, &ae) || ae.Status != 502 || ae.Code != "" || ae.Description != "Bad Gateway" || strings.Contains(err.Error(), "html") {
		t.Errorf("ListKeys error = %#v", err)
	}

	k, err := c.RotateKey(ctx, "ES256")
	if err != nil || k.KID != "k1" || k.State != KeyNext || !k.RetiredAt.IsZero() {
		t.Errorf("RotateKey = %+v, %v", k, err)
	}
	if err := c.DeleteClient(ctx, "x y"); err != nil {
		t.Errorf("DeleteClient: %v", err)
	}

	want := []seen{
		{"GET", "/admin/clients/a%2Fb", "Bearer tok", "", ""},
		{"GET", "/admin/keys", "Bearer tok", "", ""},
		{"POST", "/admin/keys/rotate", "Bearer tok", "application/json", `{"alg":"ES256"}`},
		{"DELETE", "/admin/clients/x%20y", "Bearer tok", "", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("requests = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := New(url, "tok", nil).ListClients(context.Background())
	var ae *APIError
	if err == nil || errors.As(err, &ae) {
		t.Errorf("err = %v, want a transport error", err)
	}
}
