package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/esia-oidc/idp/internal/roundtrips"
	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/postgres"
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

// A held write that fails makes the transaction fail: a rotation whose new
// grant conflicts is not committed.
func TestTransactionHeldWriteFails(t *testing.T) {
	st := postgrestest.NewStore(t, nil)
	ctx := context.Background()
	grant := func(sig string) *store.Grant {
		return &store.Grant{Kind: store.GrantRefreshToken, Signature: sig, RequestID: "r", ClientID: "c",
			Active: true, RequestedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour), Data: []byte("d")}
	}
	for _, sig := range []string{"old", "taken"} {
		if err := st.CreateGrant(ctx, grant(sig)); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := st.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeactivateGrant(tx, store.GrantRefreshToken, "old"); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateGrant(tx, grant("taken")); err != nil {
		t.Fatalf("CreateGrant in a transaction: %v (held until the commit)", err)
	}
	if err := st.Commit(tx); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Commit with a conflicting grant: %v, want store.ErrConflict", err)
	}
	if err := st.Rollback(tx); err != nil {
		t.Errorf("Rollback after a failed Commit: %v", err)
	}
	if g, err := st.GetGrant(ctx, store.GrantRefreshToken, "old"); err != nil || !g.Active {
		t.Errorf("the rotation of a failed transaction was kept: %+v, %v", g, err)
	}

	// The same, where the failure is reported by the next statement.
	tx, err = st.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateGrant(tx, grant("taken")); err != nil {
		t.Fatal(err)
	}
	if err := st.DeactivateGrant(tx, store.GrantRefreshToken, "old"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("the statement after a conflicting held grant: %v, want store.ErrConflict", err)
	}
	if err := st.Rollback(tx); err != nil {
		t.Fatal(err)
	}
	if g, err := st.GetGrant(ctx, store.GrantRefreshToken, "old"); err != nil || !g.Active {
		t.Errorf("after Rollback: %+v, %v", g, err)
	}
	// The pool is not left with a broken connection.
	if err := st.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// Writes held in a transaction are seen by its later statements, and by
// nobody else before the commit.
func TestTransactionReadsItsHeldWrites(t *testing.T) {
	st := postgrestest.NewStore(t, nil)
	ctx := context.Background()
	g := &store.Grant{Kind: store.GrantRefreshToken, Signature: "held", RequestID: "fam", ClientID: "c",
		Active: true, RequestedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour), Data: []byte("d")}
	tx, err := st.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Rollback(tx)
	if err := st.CreateGrant(tx, g); err != nil {
		t.Fatal(err)
	}
	if got, err := st.GetGrant(tx, store.GrantRefreshToken, "held"); err != nil || !got.Active {
		t.Fatalf("held grant read in its transaction: %+v, %v", got, err)
	}
	if err := st.DeactivateRequest(tx, store.GrantRefreshToken, "fam"); err != nil {
		t.Fatal(err)
	}
	if got, err := st.GetGrant(tx, store.GrantRefreshToken, "held"); err != nil || got.Active {
		t.Fatalf("held revocation read in its transaction: %+v, %v", got, err)
	}
	if _, err := st.GetGrant(ctx, store.GrantRefreshToken, "held"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("uncommitted grant visible outside: %v", err)
	}
	if err := st.Commit(tx); err != nil {
		t.Fatal(err)
	}
	if got, err := st.GetGrant(ctx, store.GrantRefreshToken, "held"); err != nil || got.Active {
		t.Errorf("after commit: %+v, %v", got, err)
	}
	if err := st.Commit(tx); err == nil {
		t.Error("a second Commit succeeded")
	}

	// A transaction of held writes only is one implicit transaction; one
	// with nothing in it sends nothing.
	tx, err = st.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g2 := *g
	g2.Signature = "held-2"
	if err := st.CreateGrant(tx, &g2); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(tx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetGrant(ctx, store.GrantRefreshToken, "held-2"); err != nil {
		t.Errorf("held-only transaction: %v", err)
	}
}

// The round trips of a refresh's storage (docs/performance.md): the read
// of the token, then the rotation with BEGIN, then the new token with
// COMMIT; counted by a proxy in front of the server.
func TestTransactionRoundTrips(t *testing.T) {
	dbURL := postgrestest.NewSchemaURL(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := roundtrips.Listen(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	u.Host = proxy.Addr()
	ctx := context.Background()
	st, err := postgres.Open(ctx, u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	grant := func(sig string) *store.Grant {
		return &store.Grant{Kind: store.GrantRefreshToken, Signature: sig, RequestID: "r", ClientID: "c",
			Active: true, RequestedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour), Data: []byte("d")}
	}
	if err := st.CreateGrant(ctx, grant("t0")); err != nil {
		t.Fatal(err)
	}
	// Each statement is prepared on a connection's first use of it, and a
	// connection idle for a second is pinged: the fewest of three counts.
	var trips []int64
	for i := 1; i <= 3; i++ {
		before := proxy.Count()
		prev, next := fmt.Sprintf("t%d", i-1), fmt.Sprintf("t%d", i)
		if _, err := st.GetGrant(ctx, store.GrantRefreshToken, prev); err != nil {
			t.Fatal(err)
		}
		tx, err := st.BeginTX(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.DeactivateGrant(tx, store.GrantRefreshToken, prev); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateGrant(tx, grant(next)); err != nil {
			t.Fatal(err)
		}
		if err := st.Commit(tx); err != nil {
			t.Fatal(err)
		}
		trips = append(trips, proxy.Count()-before)
	}
	if got := slices.Min(trips); got != 3 {
		t.Errorf("read, rotate and insert in a transaction: %v round trips, want 3 at best", trips)
	}
}
