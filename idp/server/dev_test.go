package server

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/postgres"
	"github.com/esia-oidc/idp/store/postgres/postgrestest"
)

// testConfig is a configuration New accepts: production mode on the
// database at dbURL (in memory when empty), cheap hashing.
func testConfig(dbURL string) *config.Config {
	cfg := config.Defaults()
	cfg.Issuer = "http://127.0.0.1:8080"
	cfg.Listen = "127.0.0.1:0"
	cfg.DatabaseURL = dbURL
	cfg.Migrate = dbURL != ""
	cfg.AdminToken = "admin-token-for-tests-only-0123456789abcdef"
	cfg.SecretKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	cfg.Argon2 = config.Argon2{MemoryKiB: 64, Time: 1, Threads: 1}
	return cfg
}

func newServer(t *testing.T, cfg *config.Config) (*Server, error) {
	t.Helper()
	srv, err := New(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Cleanup(srv.Close)
	}
	return srv, err
}

// openDB opens a migrated store on the schema at dbURL.
func openDB(t *testing.T, dbURL string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(t.Context(), dbURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return st
}

// plantDemo stores what `idp serve --dev` seeded into a database before it
// stopped doing so: the demo client and the demo citizen.
func plantDemo(t *testing.T, st store.Durable) (accountID string) {
	t.Helper()
	ctx := t.Context()
	hasher, err := password.New(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := hasher.Hash(ctx, DemoPassword)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := st.CreateClient(ctx, &store.Client{ID: DemoClientID, RedirectURIs: []string{DemoRedirectURI},
		TokenEndpointAuthMethod: "none", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	acct := &store.Account{ID: "demo-" + newID(), Level: store.LevelStandard, Phone: DemoPhone, Email: DemoEmail,
		SNILS: DemoSNILS, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateAccount(ctx, acct); err != nil {
		t.Fatal(err)
	}
	if err := st.PutConsent(ctx, &store.Consent{AccountID: acct.ID, ClientID: DemoClientID, Scopes: []string{"openid"}}); err != nil {
		t.Fatal(err)
	}
	return acct.ID
}

// TestProductionRefusesDemoData: production does not start on a database
// that holds the demo client or the demo citizen, names them, and the SQL
// its message gives removes them (then it starts).
func TestProductionRefusesDemoData(t *testing.T) {
	t.Parallel()
	dbURL := postgrestest.NewSchemaURL(t)
	st := openDB(t, dbURL)
	accountID := plantDemo(t, st)

	_, err := newServer(t, testConfig(dbURL))
	var demo *DemoDataError
	if !errors.As(err, &demo) {
		t.Fatalf("New on a database with the demo data: err = %v, want a *DemoDataError", err)
	}
	if !demo.Client || len(demo.Accounts) != 1 || demo.Accounts[0] != accountID {
		t.Errorf("found %+v, want the client and account %s", demo, accountID)
	}
	msg := err.Error()
	for _, want := range []string{DemoClientID, accountID, "DELETE FROM accounts", "IDP_DATABASE_URL"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, msg)
		}
	}

	// Follow the message's instructions.
	_, script, ok := strings.Cut(msg, "  BEGIN;")
	if !ok {
		t.Fatalf("no SQL in the message:\n%s", msg)
	}
	script, _, _ = strings.Cut(script, "COMMIT;")
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "BEGIN;"+script+"COMMIT;"); err != nil {
		t.Fatalf("the message's SQL fails: %v\n%s", err, script)
	}
	if _, err := st.GetClient(t.Context(), DemoClientID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("demo client after the SQL: %v", err)
	}
	if _, err := st.GetConsent(t.Context(), accountID, DemoClientID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("demo consent after the SQL: %v", err)
	}
	if _, err := newServer(t, testConfig(dbURL)); err != nil {
		t.Fatalf("New after the demo data were removed: %v", err)
	}
}

// TestProductionKeepsCitizenWithDemoIdentifier: a citizen who happens to
// hold the demo phone (+7 999 is a real operator's prefix) with a password
// of their own is not demo data.
func TestProductionKeepsCitizenWithDemoIdentifier(t *testing.T) {
	t.Parallel()
	dbURL := postgrestest.NewSchemaURL(t)
	st := openDB(t, dbURL)
	hasher, err := password.New(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := hasher.Hash(t.Context(), "a password of their own")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAccount(t.Context(), &store.Account{ID: "citizen", Level: store.LevelSimplified,
		Phone: DemoPhone, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	if _, err := newServer(t, testConfig(dbURL)); err != nil {
		t.Fatalf("New with a citizen on the demo phone: %v", err)
	}
}

// TestDevSeedsOnlyInMemory: development mode seeds the demo data into the
// in-memory store, and refuses to seed a database.
func TestDevSeedsOnlyInMemory(t *testing.T) {
	t.Parallel()
	cfg := testConfig("")
	cfg.Dev = true
	mem, err := newServer(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !mem.SeedsDemo() {
		t.Fatal("development mode in memory does not seed the demo data")
	}
	if err := mem.SeedDemo(t.Context()); err != nil {
		t.Fatalf("SeedDemo in memory: %v", err)
	}
	if _, err := mem.Durable.GetClient(t.Context(), DemoClientID); err != nil {
		t.Errorf("demo client in memory: %v", err)
	}

	dbURL := postgrestest.NewSchemaURL(t)
	cfg = testConfig(dbURL)
	cfg.Dev = true
	db, err := newServer(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if db.SeedsDemo() {
		t.Error("development mode on a database says it seeds the demo data")
	}
	if err := db.SeedDemo(t.Context()); !errors.Is(err, ErrSeedNotInMemory) {
		t.Errorf("SeedDemo on a database: err = %v, want ErrSeedNotInMemory", err)
	}
	if _, err := db.Durable.GetClient(t.Context(), DemoClientID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("demo client in the database: %v, want none", err)
	}
	if _, err := db.Durable.FindAccount(t.Context(), store.IdentifierPhone, DemoPhone); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("demo citizen in the database: %v, want none", err)
	}
}

// TestDevHintShowsOnlyAGeneratedAdminToken: the printed hint shows the
// admin token when this run generated it, and never one the operator set.
func TestDevHintShowsOnlyAGeneratedAdminToken(t *testing.T) {
	for _, generated := range []bool{true, false} {
		cfg := testConfig("")
		cfg.Dev, cfg.AdminTokenGenerated = true, generated
		srv, err := newServer(t, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		srv.PrintDevHint(&out)
		if shown := strings.Contains(out.String(), cfg.AdminToken); shown != generated {
			t.Errorf("admin token generated=%v: shown=%v\n%s", generated, shown, out.String())
		}
	}
}
