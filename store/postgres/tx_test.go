package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/postgres/postgrestest"
)

func TestTransactions(t *testing.T) {
	st := postgrestest.NewStore(t, nil)
	ctx := context.Background()
	grant := func(sig string) *store.Grant {
		return &store.Grant{Kind: store.GrantRefreshToken, Signature: sig, RequestID: "r", ClientID: "c",
			Active: true, RequestedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour), Data: []byte("d")}
	}
	// A rolled back transaction leaves nothing.
	tx, err := st.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateGrant(tx, grant("rolled-back")); err != nil {
		t.Fatal(err)
	}
	if err := st.Rollback(tx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetGrant(ctx, store.GrantRefreshToken, "rolled-back"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("grant of a rolled back transaction: %v", err)
	}
	// A committed one is seen by everyone, and only after the commit.
	if err := st.CreateGrant(ctx, grant("old")); err != nil {
		t.Fatal(err)
	}
	tx, err = st.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeactivateGrant(tx, store.GrantRefreshToken, "old"); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateGrant(tx, grant("new")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetGrant(ctx, store.GrantRefreshToken, "new"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("uncommitted grant visible outside: %v", err)
	}
	if err := st.Commit(tx); err != nil {
		t.Fatal(err)
	}
	if g, err := st.GetGrant(ctx, store.GrantRefreshToken, "old"); err != nil || g.Active {
		t.Errorf("old grant after commit: %+v %v", g, err)
	}
	if _, err := st.GetGrant(ctx, store.GrantRefreshToken, "new"); err != nil {
		t.Errorf("new grant after commit: %v", err)
	}
	if _, err := st.BeginTX(tx); err == nil {
		t.Error("nested BeginTX accepted")
	}

	// Concurrent rotations of one token in transactions: exactly one wins.
	if err := st.CreateGrant(ctx, grant("contended")); err != nil {
		t.Fatal(err)
	}
	var wins, conflicts int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tx, err := st.BeginTX(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			err = st.DeactivateGrant(tx, store.GrantRefreshToken, "contended")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
				if err := st.Commit(tx); err != nil {
					t.Error(err)
				}
			case errors.Is(err, store.ErrConflict):
				conflicts++
				st.Rollback(tx)
			default:
				t.Error(err)
				st.Rollback(tx)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || conflicts != 7 {
		t.Errorf("wins %d, conflicts %d; want 1 and 7", wins, conflicts)
	}
}
