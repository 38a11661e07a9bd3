package keys

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/seal"
	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/memory"
)

// The real sealer and store fit what the manager needs.
var (
	_ Sealer     = (*seal.Sealer)(nil)
	_ store.Keys = (*memory.Store)(nil)
)

// TestWithMemoryStoreAndSealer runs a rotation over the in-memory store and
// the real sealer, on two replicas.
func TestWithMemoryStoreAndSealer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := newClock()
	st := memory.New(clk.Now)
	sealer, err := seal.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	a := New(st, sealer, clk.Now, nil)
	b := New(st, sealer, clk.Now, nil)
	if err := a.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if list, err := st.ListKeys(ctx); err != nil || len(list) != 2 {
		t.Fatalf("after Ensure on two replicas: %d keys, %v; want 2", len(list), err)
	}
	old := currentKID(t, b, RS256)
	oldToken, _ := sign(t, b, RS256)

	nk, err := a.Rotate(ctx, RS256, 30*time.Second, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kids(jwksOf(t, b)); got[nk.ID] != RS256 || got[old] != RS256 {
		t.Errorf("replica JWKS %v", got)
	}
	if _, kid := sign(t, b, RS256); kid != old {
		t.Errorf("replica signs with %s before the new key is active, want %s", kid, old)
	}
	clk.Advance(30 * time.Second)
	tok, kid := sign(t, b, RS256)
	if kid != nk.ID {
		t.Errorf("replica signs with %s after activation, want %s", kid, nk.ID)
	}
	for _, tk := range []string{tok, oldToken} {
		if _, _, err := a.Verify(tk); err != nil {
			t.Errorf("Verify on the other replica: %v", err)
		}
	}

	// Another master secret cannot open the keys.
	wrong, err := seal.New(bytes.Repeat([]byte{8}, 32))
	if err != nil {
		t.Fatal(err)
	}
	// A replica with it refuses to start, and makes no keys of its own.
	err = New(st, wrong, clk.Now, nil).Ensure(ctx)
	if !errors.Is(err, seal.ErrOpen) || !errors.Is(err, ErrNoSigningKey) {
		t.Errorf("Ensure with a wrong secret key: err = %v, want ErrNoSigningKey and seal.ErrOpen wrapped", err)
	}
	if list, err := st.ListKeys(ctx); err != nil || len(list) != 3 {
		t.Errorf("after Ensure with a wrong secret key: %d keys, %v; want the 3 there were", len(list), err)
	}
}
