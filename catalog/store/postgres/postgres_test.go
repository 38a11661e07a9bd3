package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/esia-oidc/idp/catalog/store"
	"github.com/esia-oidc/idp/catalog/store/postgres"
	"github.com/esia-oidc/idp/catalog/store/storetest"
	"github.com/esia-oidc/idp/store/postgres/postgrestest"
)

// newStore opens a store on a schema of its own, migrated, dropped at the
// end of the test.
func newStore(t *testing.T, now store.Clock) *postgres.Store {
	t.Helper()
	var b [8]byte
	rand.Read(b[:])
	schema := "catalog_t_" + hex.EncodeToString(b[:])
	base := postgrestest.BaseURL()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	s, err := postgres.Open(t.Context(), base, schema, now)
	if err != nil {
		t.Fatalf("Open (set %s): %v", postgrestest.EnvDatabaseURL, err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now store.Clock) store.Store { return newStore(t, now) })
}

func TestMigrateTwice(t *testing.T) {
	s := newStore(t, nil)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	a := &store.Application{Subject: "s", ServiceID: "x", Fields: map[string]string{}, Created: time.Now(), Updated: time.Now()}
	a.Append(store.StatusSubmitted, time.Now(), "")
	if err := s.CreateApplication(t.Context(), a); err != nil || a.Number != 1 {
		t.Fatalf("after two migrations: number %d, %v", a.Number, err)
	}
}
