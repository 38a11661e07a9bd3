package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/esia-oidc/idp/idp/keys"
	"github.com/esia-oidc/idp/store"
)

// TestUnreadableKeysMetric: /metrics counts the signing keys the replica
// could not open at its last refresh.
func TestUnreadableKeysMetric(t *testing.T) {
	t.Parallel()
	srv, err := newServer(t, testConfig(""))
	if err != nil {
		t.Fatal(err)
	}
	metric := func() string {
		t.Helper()
		rec := httptest.NewRecorder()
		srv.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		b, _ := io.ReadAll(rec.Result().Body)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "idp_signing_keys_unreadable ") {
				return line
			}
		}
		t.Fatalf("no idp_signing_keys_unreadable in /metrics:\n%s", b)
		return ""
	}
	if got := metric(); got != "idp_signing_keys_unreadable 0" {
		t.Errorf("before: %q", got)
	}
	kid, err := srv.Keys.CurrentKeyID(keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Durable.UpdateKey(t.Context(), kid, func(k *store.SigningKey) error {
		k.Sealed = []byte("corrupt")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Keys.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := metric(); got != "idp_signing_keys_unreadable 1" {
		t.Errorf("after a row was corrupted: %q", got)
	}
}
