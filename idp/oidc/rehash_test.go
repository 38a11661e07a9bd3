package oidc_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/store"
)

// TestLoginRehashesOldPasswordHashes: a hash made with other argon2
// parameters is replaced at the next successful login.
func TestLoginRehashesOldPasswordHashes(t *testing.T) {
	idp := newTestIDP(t)
	ctx := context.Background()
	p := idp.srv.Passwords.Params()
	p.Time++ // an older (different) parameter set
	old, err := password.New(p, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	oldHash, err := old.Hash(ctx, citizenPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := idp.srv.Durable.UpdateAccount(ctx, idp.account.ID, func(a *store.Account) error {
		a.PasswordHash = oldHash
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b := idp.newBrowser(t)
	page := b.startLogin(authzParams("openid"))
	if r := b.submitLogin(page, citizenPhone, citizenPassword); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", r.StatusCode)
	}
	a, err := idp.srv.Durable.GetAccount(ctx, idp.account.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.PasswordHash == oldHash || idp.srv.Passwords.NeedsRehash(a.PasswordHash) || !strings.HasPrefix(a.PasswordHash, "$argon2id$") {
		t.Errorf("hash not upgraded: %s", a.PasswordHash[:30])
	}
	if ok, err := idp.srv.Passwords.Verify(ctx, citizenPassword, a.PasswordHash); !ok || err != nil {
		t.Errorf("new hash does not verify: %v %v", ok, err)
	}
}
