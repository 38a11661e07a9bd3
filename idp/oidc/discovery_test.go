package oidc_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (regenerate with -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (review, then regenerate with -update)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestDiscoveryGolden(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	r := idp.newBrowser(t).get("/.well-known/openid-configuration")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", r.StatusCode)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatalf("discovery is not JSON: %v", err)
	}
	if doc["issuer"] != testIssuer {
		t.Errorf("issuer %v, want %s", doc["issuer"], testIssuer)
	}
	// Re-encode so that the golden file does not depend on the server's
	// whitespace, only on the content (map keys are sorted).
	norm, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "discovery.golden.json", append(norm, '\n'))
}

func TestJWKSShape(t *testing.T) {
	t.Parallel()
	idp := newTestIDP(t)
	r := idp.newBrowser(t).get("/jwks")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", r.StatusCode)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/jwk-set+json") && !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/jwk-set+json", ct)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.body), &set); err != nil {
		t.Fatalf("JWKS is not JSON: %v\n%s", err, r.body)
	}
	if len(set.Keys) == 0 {
		t.Fatal("JWKS has no keys")
	}
	// Members of a public JWK (RFC 7517, RFC 7518 §6); anything else, and
	// above all a private member, must not be published.
	public := map[string][]string{
		"RSA": {"alg", "e", "kid", "kty", "n", "use"},
		"EC":  {"alg", "crv", "kid", "kty", "use", "x", "y"},
	}
	private := []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
	var algs []string
	kids := map[string]bool{}
	for i, k := range set.Keys {
		kty, _ := k["kty"].(string)
		kid, _ := k["kid"].(string)
		alg, _ := k["alg"].(string)
		if kid == "" || alg == "" || k["use"] != "sig" {
			t.Errorf("key %d: kid %q alg %q use %v; want kid, alg and use=sig", i, kid, alg, k["use"])
		}
		if kids[kid] {
			t.Errorf("key %d: kid %q published twice", i, kid)
		}
		kids[kid] = true
		algs = append(algs, alg)
		for _, m := range private {
			if _, ok := k[m]; ok {
				t.Errorf("key %d (%s): private member %q published", i, kid, m)
			}
		}
		want, ok := public[kty]
		if !ok {
			t.Errorf("key %d: kty %q, want RSA or EC", i, kty)
			continue
		}
		var got []string
		for m := range k {
			got = append(got, m)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("key %d (%s): members %v, want %v", i, kty, got, want)
		}
	}
	for _, alg := range []string{"RS256", "ES256"} {
		if !slices.Contains(algs, alg) {
			t.Errorf("no %s key published; algs %v", alg, algs)
		}
	}
}
