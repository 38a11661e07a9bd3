package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/reseal"
	"github.com/esia-oidc/idp/idp/seal"
	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/postgres/postgrestest"
)

const (
	keyA = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	keyB = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
)

// clientCredentials asks srv for a token as the client and returns the status.
func clientCredentials(t *testing.T, srv *Server, id, secret string) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	rec := httptest.NewRecorder()
	srv.Handler.ServeHTTP(rec, req)
	return rec.Code
}

// TestClientSecretSurvivesKeyRotation: a client secret hashed under the
// old secret key works after the rotation (new key, old one previous), and
// its first use there moves the stored hash to the new key, so that it
// keeps working once the previous key is dropped; a secret not used in
// between stops working then.
func TestClientSecretSurvivesKeyRotation(t *testing.T) {
	t.Parallel()
	dbURL := postgrestest.NewSchemaURL(t)
	cfgA := testConfig(dbURL)
	cfgA.SecretKey = keyA
	a, err := newServer(t, cfgA)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, id := range []string{"rp-used", "rp-idle"} {
		if err := a.Durable.CreateClient(t.Context(), &store.Client{ID: id, SecretHash: a.Sealer.HashSecret(id + "-secret"),
			GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "client_secret_basic", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	if got := clientCredentials(t, a, "rp-used", "rp-used-secret"); got != http.StatusOK {
		t.Fatalf("under key A: %d", got)
	}
	// Outside a rotation a hash stays in the format every release reads
	// (the bare HMAC): a rolling upgrade or a rollback keeps working.
	if c, err := a.Durable.GetClient(t.Context(), "rp-used"); err != nil || len(c.SecretHash) != 32 {
		t.Fatalf("hash under A alone after a use: %d bytes, %v; want the untagged 32", len(c.SecretHash), err)
	}
	a.Close()

	cfgB := testConfig(dbURL)
	cfgB.SecretKey = keyB
	cfgB.SecretKeysPrevious = []string{keyA}
	b, err := newServer(t, cfgB)
	if err != nil {
		t.Fatalf("key B with A previous: %v", err)
	}
	hashOf := func(id string) []byte {
		t.Helper()
		c, err := b.Durable.GetClient(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		return c.SecretHash
	}
	// Made under A alone, outside a rotation: untagged, which B (rotating)
	// cannot place without the secret.
	if got := b.Sealer.SecretHashState(hashOf("rp-used")); got != seal.HashUntagged {
		t.Fatalf("before its use the hash is in state %d, want HashUntagged", got)
	}
	if got := clientCredentials(t, b, "rp-used", "wrong"); got != http.StatusUnauthorized {
		t.Errorf("a wrong secret after the rotation: %d, want 401", got)
	}
	if got := b.Sealer.SecretHashState(hashOf("rp-used")); got != seal.HashUntagged {
		t.Errorf("a failed use moved the hash (state %d)", got)
	}
	if got := clientCredentials(t, b, "rp-used", "rp-used-secret"); got != http.StatusOK {
		t.Fatalf("the old secret after the rotation: %d, want 200", got)
	}
	if got := b.Sealer.SecretHashState(hashOf("rp-used")); got != seal.HashCurrent {
		t.Errorf("after a successful use the hash is in state %d, want HashCurrent", got)
	}
	if got := b.Sealer.SecretHashState(hashOf("rp-idle")); got != seal.HashUntagged {
		t.Errorf("an unused client's hash is in state %d, want HashUntagged", got)
	}
	// Re-seal the signing keys (what `idp secret reseal` runs), then drop A.
	r, err := reseal.Run(t.Context(), b.Durable.(reseal.Store), b.Sealer)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Resealed) != 2 || !slices.Equal(r.SecretsOld, []string{"rp-idle"}) {
		t.Errorf("reseal: re-sealed %v, old secrets %v; want the 2 keys and rp-idle", r.Resealed, r.SecretsOld)
	}
	b.Close()
	cfgB.SecretKeysPrevious = nil
	onlyB, err := newServer(t, cfgB)
	if err != nil {
		t.Fatalf("key B alone after the reseal: %v", err)
	}
	if got := clientCredentials(t, onlyB, "rp-used", "rp-used-secret"); got != http.StatusOK {
		t.Errorf("a secret used during the rotation, once A is dropped: %d, want 200", got)
	}
	if got := clientCredentials(t, onlyB, "rp-idle", "rp-idle-secret"); got != http.StatusUnauthorized {
		t.Errorf("a secret unused during the rotation, once A is dropped: %d, want 401", got)
	}
}
