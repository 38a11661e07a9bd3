package e2e

import (
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
)

// TestSecretKeyRotation rotates IDP_SECRET_KEY on one deployment as the
// operator guide says: start with key A and get tokens; restart with key B
// and A as IDP_SECRET_KEY_PREVIOUS, where the refresh token, the client
// secret and the signing keys made under A still work; run `idp secret
// reseal`; restart with B and A; and finally drop A: what was used or
// re-sealed during the rotation works under B alone.
func TestSecretKeyRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := ctxT(t)
	keyA := e.srv.Shared.SecretKey
	keyB := strings.Repeat("b7", 32)
	conf := e.oauth2Config()
	cc := clientcredentials.Config{ClientID: e.client.ClientID, ClientSecret: e.client.ClientSecret, TokenURL: e.provider.Endpoint().TokenURL}
	refresh := func(rt string) (*oauth2.Token, error) {
		return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	}
	verify := func(what string, tok *oauth2.Token) {
		t.Helper()
		raw, _ := tok.Extra("id_token").(string)
		if raw == "" {
			t.Fatalf("%s: no ID token", what)
		}
		p, err := oidc.NewProvider(ctx, e.srv.URL) // the JWKS of the running process
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Verifier(&oidc.Config{ClientID: conf.ClientID}).Verify(ctx, raw); err != nil {
			t.Errorf("%s: ID token does not verify: %v", what, err)
		}
	}

	// Under A: a session whose refresh token is used during the rotation,
	// one whose refresh token is not, and a second confidential client
	// that does not authenticate during the rotation.
	_, _, tokA, _ := e.signIn(t, conf)
	_, _, idleA, _ := e.signIn(t, conf)
	if tokA.RefreshToken == "" || idleA.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	idle, err := e.srv.Admin().CreateClient(ctx, adminclient.ClientMetadata{
		ClientName: "Idle", RedirectURIs: []string{rpRedirect}, GrantTypes: []string{"client_credentials"}, Scope: "openid",
	})
	if err != nil {
		t.Fatal(err)
	}
	idleCC := clientcredentials.Config{ClientID: idle.ClientID, ClientSecret: idle.ClientSecret, TokenURL: cc.TokenURL}

	// B, with A previous: everything made under A still works.
	e.srv.Env = append(e.srv.Env, "IDP_SECRET_KEY="+keyB, "IDP_SECRET_KEY_PREVIOUS="+keyA)
	e.srv.Restart(t)
	tokB, err := refresh(tokA.RefreshToken)
	if err != nil {
		t.Fatalf("refresh a token made under A, after the rotation: %v", err)
	}
	verify("refresh after the rotation", tokB)
	if _, err := cc.Token(ctx); err != nil {
		t.Fatalf("client credentials with a secret hashed under A, after the rotation: %v", err)
	}
	if m := e.introspect(t, tokB.AccessToken); m["active"] != true {
		t.Errorf("introspection of a token issued after the rotation: %v", m)
	}

	// Re-seal, twice: the second run has nothing to do.
	run := func() string {
		t.Helper()
		cmd, err := e.srv.Shared.Command(ctx, []string{"IDP_SECRET_KEY=" + keyB, "IDP_SECRET_KEY_PREVIOUS=" + keyA}, "secret", "reseal")
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("idp secret reseal: %v\n%s", err, out)
		}
		return string(out)
	}
	first := run()
	if !strings.Contains(first, "2 re-sealed under the current secret key") || !strings.Contains(first, "2 confidential clients") {
		t.Errorf("first reseal:\n%s", first)
	}
	// The client that authenticated moved at that use; the idle one is
	// still under A.
	if !strings.Contains(first, "1 under the current secret key, 1 under a previous key") || !strings.Contains(first, "not done") {
		t.Errorf("first reseal does not report the one unused client secret:\n%s", first)
	}
	if second := run(); !strings.Contains(second, "0 re-sealed") {
		t.Errorf("second reseal is not idempotent:\n%s", second)
	}

	// B with A still previous: fine.
	e.srv.Restart(t)
	tokB2, err := refresh(tokB.RefreshToken)
	if err != nil {
		t.Fatalf("refresh after the reseal: %v", err)
	}
	verify("refresh after the reseal", tokB2)

	// A dropped: the keys, the secret used during the rotation and the
	// refresh token made under B still work; what was made under A and not
	// used meanwhile no longer does (the operator guide's "re-logins").
	e.srv.Env = append(e.srv.Env, "IDP_SECRET_KEY_PREVIOUS=")
	e.srv.Restart(t)
	tokB3, err := refresh(tokB2.RefreshToken)
	if err != nil {
		t.Fatalf("refresh under B alone: %v", err)
	}
	verify("refresh under B alone", tokB3)
	if _, err := cc.Token(ctx); err != nil {
		t.Errorf("client credentials under B alone: %v", err)
	}
	// A refresh token whose HMAC no longer verifies is invalid_grant (RFC
	// 6749 §5.2; fosite alone would say invalid_request).
	if _, err := refresh(idleA.RefreshToken); err == nil {
		t.Error("a refresh token made under A works once A is dropped")
	} else if code, status := oauthError(t, err); code != "invalid_grant" || status != 400 {
		t.Errorf("a refresh token made under A once A is dropped: %d %q, want 400 invalid_grant", status, code)
	}
	if _, err := idleCC.Token(ctx); err == nil {
		t.Error("a client secret hashed under A and unused during the rotation works once A is dropped")
	} else if code, _ := oauthError(t, err); code != "invalid_client" {
		t.Errorf("an idle client secret once A is dropped: %q, want invalid_client", code)
	}
}
