package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one versioned schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations ordered by version. A file is
// named NNNN_description.sql; versions must be unique and positive.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("postgres: list migrations: %w", err)
	}
	var ms []migration
	seen := make(map[int]string)
	for _, name := range names {
		base := path.Base(name)
		prefix, _, ok := strings.Cut(base, "_")
		if !ok {
			return nil, fmt.Errorf("postgres: migration %s: name is not NNNN_description.sql", base)
		}
		v, err := strconv.Atoi(prefix)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("postgres: migration %s: bad version %q", base, prefix)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("postgres: migrations %s and %s share version %d", other, base, v)
		}
		seen[v] = base
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("postgres: read migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// migrateLockClass is the first key of the advisory lock taken while
// migrating; the second is a hash of the schema being migrated, so that
// migrations of different schemas do not wait for each other.
const migrateLockClass = 0x1d9

// Migrate applies the embedded migrations that the database has not seen yet,
// each in its own transaction, recording them in schema_migrations, and then
// those of the job queue (River's, recorded in river_migration). It is
// idempotent, and safe when several processes run it at once: each
// transaction first takes a transaction-scoped advisory lock, then checks
// whether its version is already applied.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := s.applyMigration(ctx, m); err != nil {
			return err
		}
	}
	return s.migrateRiver(ctx)
}

// applyMigration applies m in one transaction unless it is already recorded.
func (s *Store) applyMigration(ctx context.Context, m migration) error {
	op := "migrate " + m.name
	return s.inTx(ctx, op, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx,
			`SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))`,
			migrateLockClass); err != nil {
			return mapErr(op+": lock", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer     PRIMARY KEY,
			applied_at timestamptz NOT NULL
		)`); err != nil {
			return mapErr(op+": create schema_migrations", err)
		}
		var applied bool
		if err := tx.QueryRow(ctx,
			`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`,
			m.version).Scan(&applied); err != nil {
			return mapErr(op+": read schema_migrations", err)
		}
		if applied {
			return nil
		}
		// Without arguments pgx sends the file in the simple protocol, so it
		// may hold several statements.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return mapErr(op, err)
		}
		if _, err := tx.Exec(ctx,
			`INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
			m.version, s.clock()); err != nil {
			return mapErr(op+": record", err)
		}
		return nil
	})
}
