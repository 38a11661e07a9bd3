// Package postgrestest gives tests a private PostgreSQL schema: a fresh
// schema per call, a database URL that selects it, and its removal when the
// test ends. The server is the one named by IDP_TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable); when it cannot
// be reached the test fails, it is never skipped.
package postgrestest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/postgres"
)

// EnvDatabaseURL names the environment variable holding the test server's URL.
const EnvDatabaseURL = "IDP_TEST_DATABASE_URL"

// DefaultDatabaseURL is used when EnvDatabaseURL is unset.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// BaseURL returns the test server's URL from the environment, or the default.
func BaseURL() string {
	if u := os.Getenv(EnvDatabaseURL); u != "" {
		return u
	}
	return DefaultDatabaseURL
}

// NewSchemaURL creates an empty schema named t_<random hex>, returns a
// database URL whose connections use it (search_path), and drops the schema
// with everything in it when the test and its subtests end. Close pools that
// use the URL in cleanups registered after this call (they run first).
func NewSchemaURL(t testing.TB) string {
	t.Helper()
	base := BaseURL()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("postgrestest: random schema name: %v", err)
	}
	schema := "t_" + hex.EncodeToString(b[:])

	exec(t, base, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { exec(t, base, "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })

	u, err := withSearchPath(base, schema)
	if err != nil {
		t.Fatalf("postgrestest: %s is not a valid database URL", EnvDatabaseURL)
	}
	return u
}

// NewStore opens a store on a fresh schema (NewSchemaURL), migrates it, and
// closes it when the test ends. A nil clock means time.Now.
func NewStore(t testing.TB, now store.Clock) *postgres.Store {
	t.Helper()
	dbURL := NewSchemaURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := postgres.Open(ctx, dbURL, now)
	if err != nil {
		t.Fatalf("postgrestest: open: %v", err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("postgrestest: migrate: %v", err)
	}
	return s
}

// exec runs one statement on a connection of its own.
func exec(t testing.TB, dbURL, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("postgrestest: connect to the test database (set %s): %v", EnvDatabaseURL, err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("postgrestest: %s: %v", sql, err)
	}
}

// withSearchPath sets search_path on a postgres:// URL or a keyword/value
// connection string.
func withSearchPath(dbURL, schema string) (string, error) {
	if strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://") {
		u, err := url.Parse(dbURL)
		if err != nil {
			return "", err
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return dbURL + " search_path=" + schema, nil
}
