package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/esia-oidc/idp/idp/config"
)

// TestMain lets the bench start this test binary as its ceiling server.
func TestMain(m *testing.M) {
	maybeServeCeiling()
	os.Exit(m.Run())
}

func TestArgon2Env(t *testing.T) {
	p := config.Argon2{MemoryKiB: 7168, Time: 1, Threads: 2}
	got, err := parseArgon2Env(formatArgon2Env(p))
	if err != nil || got != p {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "1,2", "0,1,1", "1,x,1", "1,1,256", "1,1,1,1"} {
		if _, err := parseArgon2Env(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCeilingHandler(t *testing.T) {
	h, pub, err := newCeilingHandler(config.Argon2{MemoryKiB: 64, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	tokens := func(path string, form url.Values) (int, map[string]any) {
		t.Helper()
		resp, err := http.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
				t.Fatal(err)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("%s: Cache-Control %q", path, cc)
			}
		}
		return resp.StatusCode, m
	}
	// A real RS256 signature, type at+jwt, over a token with a fresh jti.
	jti := func(tok any) string {
		t.Helper()
		s, _ := tok.(string)
		jws, err := jose.ParseSigned(s, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatalf("not a JWS: %v", err)
		}
		payload, err := jws.Verify(pub)
		if err != nil {
			t.Fatalf("signature: %v", err)
		}
		if typ := jws.Signatures[0].Protected.ExtraHeaders["typ"]; typ != "at+jwt" {
			t.Errorf("typ %v", typ)
		}
		var claims struct {
			JTI string `json:"jti"`
			Exp int64  `json:"exp"`
		}
		if err := json.Unmarshal(payload, &claims); err != nil || claims.JTI == "" || claims.Exp <= time.Now().Unix() {
			t.Fatalf("claims %+v, %v", claims, err)
		}
		return claims.JTI
	}
	status, a := tokens("/rs256", url.Values{"grant_type": {"client_credentials"}})
	_, b := tokens("/rs256", url.Values{"grant_type": {"client_credentials"}})
	if status != http.StatusOK || jti(a["access_token"]) == jti(b["access_token"]) {
		t.Errorf("/rs256: status %d, jti repeated", status)
	}

	status, m := tokens("/login", url.Values{"password": {ceilingPassword}})
	if status != http.StatusOK || jti(m["access_token"]) == jti(m["id_token"]) {
		t.Errorf("/login: status %d, %v", status, m)
	}
	if status, _ := tokens("/login", url.Values{"password": {ceilingPassword + "x"}}); status != http.StatusUnauthorized {
		t.Errorf("/login with a wrong password: status %d", status)
	}
}

// Each throughput target is read against the ceiling at its own
// concurrency, and says so when that ceiling was not measured.
func TestEvaluateReadsCeiling(t *testing.T) {
	res := func(sc string, conc int, ok int64) result {
		return result{Scenario: sc, Concurrency: conc, Elapsed: time.Second, OK: ok}
	}
	rep := &report{Results: []result{
		res(scCeilRS256, 8, 2000), res(scCeilRS256, 64, 700), res(scCCRS256, 64, 630), res(scRefresh, 64, 280),
		res(scCodeFlow, 8, 60),
	}}
	got := map[string]verdict{}
	for _, v := range evaluate(rep) {
		got[v.Target] = v
	}
	for target, want := range map[string]verdict{
		"cc-rs256 at 64 ≥ 0.90 × ceiling-rs256":    {Got: "0.90 (630.0/s of 700.0/s)", Verdict: "ok"},
		"refresh at 64 ≥ 0.75 × ceiling-rs256 / 2": {Got: "0.80 (280.0/s of 350.0/s = 700.0/s / 2)", Verdict: "ok"},
		"codeflow at 8 ≥ 0.85 × ceiling-login":     {Got: "60.0/s; no ceiling-login at 8 in this run", Verdict: "not run"},
	} {
		if v := got[target]; v.Got != want.Got || v.Verdict != want.Verdict {
			t.Errorf("%s: %q %s, want %q %s", target, v.Got, v.Verdict, want.Got, want.Verdict)
		}
	}
}
