package reseal_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"slices"
	"strings"
	"testing"

	"github.com/esia-oidc/idp/idp/keys"
	"github.com/esia-oidc/idp/idp/reseal"
	"github.com/esia-oidc/idp/idp/seal"
	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/postgres/postgrestest"
)

func sealer(t *testing.T, current byte, previous ...byte) *seal.Sealer {
	t.Helper()
	var prev [][]byte
	for _, p := range previous {
		prev = append(prev, bytes.Repeat([]byte{p}, 32))
	}
	s, err := seal.New(bytes.Repeat([]byte{current}, 32), prev...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestResealOnPostgres runs the job on a real schema: signing keys sealed
// under the old secret key (A) are sealed again under the new one (B), so
// that B alone opens them afterwards; client secrets are reported by the
// key they are under; a second run changes nothing; a key no configured
// key opens is reported and left alone.
func TestResealOnPostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := postgrestest.NewStore(t, nil)
	a, b, rotated := sealer(t, 1), sealer(t, 2), sealer(t, 2, 1)

	// Keys made under A: RS256, ES256 and a rotated RS256.
	m := keys.New(st, a, nil, nil)
	if err := m.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Rotate(ctx, keys.RS256, 0, 0); err != nil {
		t.Fatal(err)
	}
	jwksBefore := m.JWKS()
	if err := keys.New(st, b, nil, nil).Ensure(ctx); err == nil {
		t.Fatal("B alone opens the keys before the reseal")
	}

	untagged := make([]byte, 32) // a hash made outside a rotation: it names no key
	rand.Read(untagged)
	clients := map[string][]byte{
		"rp-a":        sealer(t, 1, 5).HashSecret("secret-a"), // tagged with A, in an earlier rotation
		"rp-untagged": untagged,
		"rp-b":        rotated.HashSecret("secret-b"),         // tagged with B, during this one
		"rp-c":        sealer(t, 3, 4).HashSecret("secret-c"), // tagged with a key not held
		"rp-public":   nil,
	}
	for id, hash := range clients {
		if err := st.CreateClient(ctx, &store.Client{ID: id, SecretHash: hash, TokenEndpointAuthMethod: "client_secret_basic"}); err != nil {
			t.Fatal(err)
		}
	}

	r, err := reseal.Run(ctx, st, rotated)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if r.Keys != 3 || len(r.Resealed) != 3 || len(r.Unreadable) != 0 {
		t.Errorf("keys: %d, re-sealed %v, unreadable %v; want 3 re-sealed", r.Keys, r.Resealed, r.Unreadable)
	}
	slices.Sort(r.SecretsOld)
	if r.Confidential != 4 || r.SecretsCurrent != 1 || !slices.Equal(r.SecretsOld, []string{"rp-a", "rp-untagged"}) || !slices.Equal(r.SecretsUnknown, []string{"rp-c"}) {
		t.Errorf("client secrets: %d confidential, %d current, old %v, unknown %v", r.Confidential, r.SecretsCurrent, r.SecretsOld, r.SecretsUnknown)
	}
	if r.Done() {
		t.Error("Done with secrets still under A")
	}
	var out strings.Builder
	if err := r.Write(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"3 re-sealed", "rp-a", "rp-untagged", "UNKNOWN KEY   rp-c", "not done"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	for _, secret := range []string{"secret-a", "secret-b"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("report holds a secret:\n%s", out.String())
		}
	}

	// B alone now opens every key, and they are the same keys.
	mb := keys.New(st, b, nil, nil)
	if err := mb.Ensure(ctx); err != nil {
		t.Fatalf("B alone after the reseal: %v", err)
	}
	if mb.Unreadable() != 0 || !bytes.Equal(mb.JWKS(), jwksBefore) {
		t.Errorf("after the reseal: %d unreadable, JWKS changed %v", mb.Unreadable(), !bytes.Equal(mb.JWKS(), jwksBefore))
	}
	if list, _ := st.ListKeys(ctx); len(list) != 3 {
		t.Errorf("%d keys in the store, want the 3 there were", len(list))
	}

	// A second run has nothing to do.
	r, err = reseal.Run(ctx, st, rotated)
	if err != nil || len(r.Resealed) != 0 || len(r.Unreadable) != 0 {
		t.Errorf("second run: re-sealed %v, unreadable %v, %v; want nothing", r.Resealed, r.Unreadable, err)
	}

	// A key sealed under neither key is reported and left as it is.
	list, _ := st.ListKeys(ctx)
	bad := list[0]
	foreign, err := sealer(t, 4).Seal(keys.SealPurpose, []byte("not a key"), []byte(bad.ID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpdateKey(ctx, bad.ID, func(k *store.SigningKey) error { k.Sealed = foreign; return nil }); err != nil {
		t.Fatal(err)
	}
	r, err = reseal.Run(ctx, st, rotated)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Unreadable) != 1 || r.Unreadable[0].ID != bad.ID || len(r.Resealed) != 0 {
		t.Errorf("with a foreign key: unreadable %v, re-sealed %v", r.Unreadable, r.Resealed)
	}
	if list, _ := st.ListKeys(ctx); !bytes.Equal(list[0].Sealed, foreign) {
		t.Error("the job changed a key it cannot open")
	}
}
