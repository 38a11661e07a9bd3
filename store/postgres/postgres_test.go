package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/postgres"
	"github.com/esia-oidc/idp/store/postgres/postgrestest"
	"github.com/esia-oidc/idp/store/storetest"
)

func TestDurable(t *testing.T) {
	storetest.RunDurable(t, func(t *testing.T, now store.Clock) store.Durable {
		return postgrestest.NewStore(t, now)
	})
}

func TestJobs(t *testing.T) {
	storetest.RunJobs(t, func(t *testing.T, now store.Clock) store.Durable {
		return postgrestest.NewStore(t, now)
	})
}

// open opens a store on dbURL without migrating it and closes it at cleanup.
func open(t *testing.T, dbURL string, now store.Clock) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dbURL, now)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// appliedVersions returns the versions recorded in schema_migrations.
func appliedVersions(t *testing.T, dbURL string) []int {
	t.Helper()
	s := open(t, dbURL, nil)
	rows, err := postgres.QueryForTest(t.Context(), s, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	return rows
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	dbURL := postgrestest.NewSchemaURL(t)
	clk := storetest.NewClock()
	s := open(t, dbURL, clk.Now)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	first := appliedVersions(t, dbURL)
	if len(first) == 0 || first[0] != 1 {
		t.Fatalf("after Migrate schema_migrations holds %v, want versions from 1", first)
	}
	// Data written between the runs survives the second one.
	if err := s.CreateClient(t.Context(), &store.Client{ID: "rp", TokenEndpointAuthMethod: "none",
		CreatedAt: clk.Now(), UpdatedAt: clk.Now()}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	clk.Advance(time.Hour)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	if again := appliedVersions(t, dbURL); !equalInts(first, again) {
		t.Fatalf("second Migrate changed schema_migrations from %v to %v", first, again)
	}
	if _, err := s.GetClient(t.Context(), "rp"); err != nil {
		t.Fatalf("GetClient after second Migrate: %v", err)
	}
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	dbURL := postgrestest.NewSchemaURL(t)
	// Two stores stand for two processes: separate pools, same schema.
	stores := []*postgres.Store{open(t, dbURL, nil), open(t, dbURL, nil)}
	errs := make([]error, len(stores))
	var start, done sync.WaitGroup
	start.Add(1)
	for i, s := range stores {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			errs[i] = s.Migrate(t.Context())
		}()
	}
	start.Done()
	done.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Migrate #%d: %v", i, err)
		}
	}
	versions := appliedVersions(t, dbURL)
	if len(versions) == 0 {
		t.Fatal("no migration recorded")
	}
	// Every embedded migration once each (a version may be left free for
	// another branch's migration).
	want, err := postgres.MigrationVersionsForTest()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(versions, want) {
		t.Fatalf("schema_migrations holds %v, want %v once each", versions, want)
	}
	// Both stores work on the migrated schema.
	for i, s := range stores {
		if _, err := s.GetAccount(t.Context(), "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("store #%d: GetAccount after Migrate: got %v, want ErrNotFound", i, err)
		}
	}
}

func TestSchemaURLIsolates(t *testing.T) {
	t.Parallel()
	a, b := postgrestest.NewStore(t, nil), postgrestest.NewStore(t, nil)
	if err := a.CreateAccount(t.Context(), &store.Account{ID: "acc-1", Level: store.LevelSimplified,
		Email: "a@example.ru"}); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	if _, err := b.GetAccount(t.Context(), "acc-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("account of schema A seen in schema B: got %v, want ErrNotFound", err)
	}
	got, err := a.GetAccount(t.Context(), "acc-1")
	if err != nil {
		t.Fatalf("GetAccount: %v", err)
	}
	if got.CreatedAt.IsZero() || !got.CreatedAt.Equal(got.UpdatedAt) {
		t.Fatalf("zero CreatedAt/UpdatedAt not set from the clock: %v %v", got.CreatedAt, got.UpdatedAt)
	}
}

func TestSchemaURLSelectsSchema(t *testing.T) {
	t.Parallel()
	dbURL := postgrestest.NewSchemaURL(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("NewSchemaURL returned an unparsable URL: %v", err)
	}
	schema := u.Query().Get("search_path")
	if schema == "" {
		t.Fatalf("NewSchemaURL: no search_path in the URL")
	}
	s := open(t, dbURL, nil)
	got, err := postgres.CurrentSchemaForTest(t.Context(), s)
	if err != nil {
		t.Fatalf("current_schema: %v", err)
	}
	if got != schema {
		t.Fatalf("connections use schema %q, want %q", got, schema)
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// Port 1 on localhost: nothing listens there.
	s, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", nil)
	if err == nil {
		s.Close()
		t.Fatal("Open(unreachable server) succeeded")
	}
}

func TestSweep(t *testing.T) {
	t.Parallel()
	clk := storetest.NewClock()
	s := postgrestest.NewStore(t, clk.Now)
	mk := func(sig string, ttl time.Duration) {
		t.Helper()
		g := &store.Grant{Kind: store.GrantRefreshToken, Signature: sig, RequestID: "req", ClientID: "rp",
			Active: true, RequestedAt: clk.Now()}
		if ttl > 0 {
			g.ExpiresAt = clk.Now().Add(ttl)
		}
		if err := s.CreateGrant(t.Context(), g); err != nil {
			t.Fatalf("CreateGrant(%s): %v", sig, err)
		}
	}
	mk("short", time.Minute)
	mk("long", time.Hour)
	mk("forever", 0)
	if n, err := s.Sweep(t.Context()); err != nil || n != 0 {
		t.Fatalf("Sweep before expiry: %d, %v; want 0, nil", n, err)
	}
	clk.Advance(time.Minute)
	if n, err := s.Sweep(t.Context()); err != nil || n != 1 {
		t.Fatalf("Sweep after a minute: %d, %v; want 1, nil", n, err)
	}
	// The swept signature is free again; the others are intact.
	mk("short", time.Minute)
	for _, sig := range []string{"short", "long", "forever"} {
		if _, err := s.GetGrant(t.Context(), store.GrantRefreshToken, sig); err != nil {
			t.Fatalf("GetGrant(%s) after sweep: %v", sig, err)
		}
	}
	clk.Advance(24 * time.Hour)
	if n, err := s.Sweep(t.Context()); err != nil || n != 2 {
		t.Fatalf("Sweep after a day: %d, %v; want 2, nil", n, err)
	}
	if _, err := s.GetGrant(t.Context(), store.GrantRefreshToken, "forever"); err != nil {
		t.Fatalf("GetGrant(forever) after sweep: %v", err)
	}
}

func TestCreateGrantReplacesExpired(t *testing.T) {
	t.Parallel()
	clk := storetest.NewClock()
	s := postgrestest.NewStore(t, clk.Now)
	g := &store.Grant{Kind: store.GrantRefreshToken, Signature: "sig", RequestID: "req-1", ClientID: "rp",
		Active: true, RequestedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Minute)}
	if err := s.CreateGrant(t.Context(), g); err != nil {
		t.Fatalf("CreateGrant: %v", err)
	}
	clk.Advance(time.Minute)
	// Expired but not swept: the signature counts as free.
	g2 := *g
	g2.RequestID, g2.RequestedAt, g2.ExpiresAt = "req-2", clk.Now(), clk.Now().Add(time.Minute)
	if err := s.CreateGrant(t.Context(), &g2); err != nil {
		t.Fatalf("CreateGrant over an expired grant: %v", err)
	}
	got, err := s.GetGrant(t.Context(), store.GrantRefreshToken, "sig")
	if err != nil {
		t.Fatalf("GetGrant: %v", err)
	}
	if got.RequestID != "req-2" {
		t.Fatalf("GetGrant: RequestID %q, want req-2", got.RequestID)
	}
	if err := s.CreateGrant(t.Context(), &g2); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CreateGrant over a live grant: got %v, want ErrConflict", err)
	}
	// Deleting an expired grant collects it but reports it absent.
	clk.Advance(time.Minute)
	if err := s.DeleteGrant(t.Context(), store.GrantRefreshToken, "sig"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteGrant(expired): got %v, want ErrNotFound", err)
	}
	if n, err := s.Sweep(t.Context()); err != nil || n != 0 {
		t.Fatalf("Sweep after deleting the expired grant: %d, %v; want 0, nil", n, err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestFailuresAreUnavailable: a failure of the server (here: a closed pool)
// is store.ErrUnavailable, so that callers answer 503, not 500.
func TestFailuresAreUnavailable(t *testing.T) {
	t.Parallel()
	s := postgrestest.NewStore(t, nil)
	s.Close()
	ctx := t.Context()
	_, err := s.GetAccount(ctx, "acc")
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAccount on a closed pool: %v, want ErrUnavailable", err)
	}
	if _, err := s.UpdateClient(ctx, "rp", func(*store.Client) error { return nil }); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("UpdateClient on a closed pool: %v, want ErrUnavailable", err)
	}
	if err := s.CreateGrant(ctx, &store.Grant{Kind: store.GrantRefreshToken, Signature: "s", RequestID: "r", ClientID: "rp", Active: true}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("CreateGrant on a closed pool: %v, want ErrUnavailable", err)
	}
}
