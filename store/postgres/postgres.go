// Package postgres is the PostgreSQL backend of the store of record
// (store.Durable): accounts, clients, consents, signing keys, operators, the
// audit trail and the grants that must survive a restart (refresh tokens). It uses a pgx connection pool;
// its schema is created by the embedded, versioned migrations that Migrate
// applies.
//
// Expiry is decided by the injected clock when a row is read, never by the
// database's now(); Sweep deletes expired grants to collect garbage.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/esia-oidc/idp/store"
)

// Store is a store.Durable on PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	now  store.Clock

	river          *river.Client[pgx.Tx] // inserts jobs; NewJobRunner makes the clients that work them
	jobMaxAttempts atomic.Int64          // of jobs enqueued without MaxAttempts
}

var _ store.Durable = (*Store)(nil)

// DefaultMaxConns is the pool size when the URL sets no pool_max_conns:
// enough for commits of concurrent requests to be flushed together, few
// enough for several replicas within PostgreSQL's default 100 connections.
const DefaultMaxConns = 24

// Open connects to the database at databaseURL (a postgres:// URL or a
// keyword/value string; pgxpool parameters such as pool_max_conns are
// honoured, and any other parameter, such as search_path, is set on every
// connection) and checks that it answers. A nil clock means time.Now. Open
// does not create the schema: call Migrate for that.
func Open(ctx context.Context, databaseURL string, now store.Clock) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database URL: %w", err)
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		// pgx's default, max(4, CPUs), serializes the token endpoint behind a
		// few connections each waiting for its commit to reach the disk.
		cfg.MaxConns = DefaultMaxConns
	}
	// Queries made within a recording span get spans of their own.
	cfg.ConnConfig.Tracer = tracer{}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	inserter, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: job queue: %w", err)
	}
	s := &Store{pool: pool, now: now, river: inserter}
	s.jobMaxAttempts.Store(int64(store.DefaultJobConfig().MaxAttempts))
	return s, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes every connection of the pool.
func (s *Store) Close() { s.pool.Close() }

// clock returns the current time of the injected clock, in UTC and at the
// microsecond precision of timestamptz, so that what is returned to a caller
// equals what a later read returns.
func (s *Store) clock() time.Time { return dbTime(s.now()) }

// dbTime truncates t to the precision PostgreSQL keeps and puts it in UTC.
func dbTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Microsecond).UTC()
}

// nullTime maps the zero time to SQL NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = dbTime(t)
	return &t
}

// fromNullTime maps SQL NULL to the zero time.
func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// textArray makes a nil slice an empty SQL array rather than NULL.
func textArray(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// fromTextArray returns nil for an empty array, as Go code expects of an
// absent list.
func fromTextArray(v []string) []string {
	if len(v) == 0 {
		return nil
	}
	return v
}

// sqlStateUniqueViolation is the SQLSTATE of a unique-constraint violation.
const sqlStateUniqueViolation = "23505"

// mapErr wraps a driver error for op, turning "no rows" into
// store.ErrNotFound and a unique violation into store.ErrConflict.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == sqlStateUniqueViolation {
		return fmt.Errorf("postgres: %s: %w (constraint %s)", op, store.ErrConflict, pgErr.ConstraintName)
	}
	return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
}

// notFound is the error of op when no row matched.
func notFound(op string) error {
	return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
}

// storable reports whether PostgreSQL's text can hold every value: valid
// UTF-8 without a NUL byte (the database's encoding is UTF8). A key it cannot
// hold names no row, so a lookup by one answers store.ErrNotFound at once
// instead of sending it and getting a driver error (SQLSTATE 22021) that
// callers would report as a failure of the store. Such keys come from
// request paths and forms: /admin/clients/a%00b, client_id=%FF.
func storable(values ...string) bool {
	for _, v := range values {
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			return false
		}
	}
	return true
}

// conflict is the error of op when a compare-and-set found the row in
// another state.
func conflict(op, why string) error {
	return fmt.Errorf("postgres: %s: %w (%s)", op, store.ErrConflict, why)
}

// querier runs statements: the pool, or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type atomicKey struct{}

// atomicTx returns the transaction that Atomically put in ctx, or nil.
func atomicTx(ctx context.Context) pgx.Tx {
	tx, _ := ctx.Value(atomicKey{}).(pgx.Tx)
	return tx
}

// db returns what reads of ctx run on: the transaction of Atomically, if
// there is one, else the pool.
func (s *Store) db(ctx context.Context) querier {
	if tx := atomicTx(ctx); tx != nil {
		return tx
	}
	return s.pool
}

// exec runs one write: on the pool, or in the transaction of Atomically
// behind a savepoint, so that its failure (a conflict) leaves the
// transaction usable.
func (s *Store) exec(ctx context.Context, op, sql string, args ...any) error {
	if atomicTx(ctx) == nil {
		_, err := s.pool.Exec(ctx, sql, args...)
		return mapErr(op, err)
	}
	return s.inTx(ctx, op, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sql, args...)
		return mapErr(op, err)
	})
}

// inTx runs fn in a transaction, committing when it returns nil and rolling
// back otherwise. fn's error is returned as it is. In the transaction of
// Atomically, fn's transaction is a savepoint of it, and its commit waits
// for that of Atomically.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	var tx pgx.Tx
	var err error
	if outer := atomicTx(ctx); outer != nil {
		tx, err = outer.Begin(ctx)
	} else {
		tx, err = s.pool.Begin(ctx)
	}
	if err != nil {
		return mapErr(op+": begin", err)
	}
	defer func() { _ = tx.Rollback(ctx) }() // no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return mapErr(op+": commit", err)
	}
	return nil
}
