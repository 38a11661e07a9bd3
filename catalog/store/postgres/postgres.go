// Package postgres is the catalog store on PostgreSQL (pgx): its tables live
// in a schema of their own (catalog by default), created with the embedded
// migrations that Migrate applies.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/esia-oidc/idp/catalog/store"
)

// DefaultSchema is the schema of the catalog's tables.
const DefaultSchema = "catalog"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is a store.Store on PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	schema string
	now    store.Clock
}

var _ store.Store = (*Store)(nil)

// Open connects to databaseURL and uses the tables of schema (empty:
// DefaultSchema) on every connection. A nil clock means time.Now. Call
// Migrate to create the schema and its tables.
func Open(ctx context.Context, databaseURL, schema string, now store.Clock) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	if schema == "" {
		schema = DefaultSchema
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, errors.New("catalog postgres: the database URL does not parse")
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("catalog postgres: open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("catalog postgres: connect: %w", err)
	}
	return &Store{pool: pool, schema: schema, now: now}, nil
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close implements store.Store.
func (s *Store) Close() { s.pool.Close() }

// Migrate creates the schema when missing and applies the embedded
// migrations it has not seen, each in a transaction under an advisory lock,
// recorded in schema_migrations of that schema.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{s.schema}.Sanitize()); err != nil {
		return fmt.Errorf("catalog postgres: create schema: %w", err)
	}
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(path.Base(name), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("catalog postgres: migration %s: bad version", name)
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(474, hashtext($1))`, s.schema); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)`); err != nil {
				return err
			}
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, v).Scan(&done); err != nil || done {
				return err
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, v, s.now())
			return err
		})
		if err != nil {
			return fmt.Errorf("catalog postgres: migration %s: %w", path.Base(name), err)
		}
	}
	return nil
}

func mapErr(op string, err error) error {
	var pe *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("catalog postgres: %s: %w", op, store.ErrNotFound)
	case errors.As(err, &pe) && pe.Code == "23505":
		return fmt.Errorf("catalog postgres: %s: %w", op, store.ErrConflict)
	}
	return fmt.Errorf("catalog postgres: %s: %w", op, err)
}

type history struct {
	Status  store.Status `json:"status"`
	At      time.Time    `json:"at"`
	Comment string       `json:"comment,omitempty"`
}

func encodeHistory(h []store.StatusChange) ([]byte, error) {
	out := make([]history, len(h))
	for i, c := range h {
		out[i] = history{c.Status, c.At.UTC(), c.Comment}
	}
	return json.Marshal(out)
}

const appColumns = `number, subject, service_id, status, fields, verified, history, created_at, updated_at`

func scanApp(row pgx.Row) (*store.Application, error) {
	var a store.Application
	var fields, verified, hist []byte
	if err := row.Scan(&a.Number, &a.Subject, &a.ServiceID, &a.Status, &fields, &verified, &hist, &a.Created, &a.Updated); err != nil {
		return nil, err
	}
	var h []history
	if err := errors.Join(json.Unmarshal(fields, &a.Fields), json.Unmarshal(verified, &a.Verified), json.Unmarshal(hist, &h)); err != nil {
		return nil, err
	}
	for _, c := range h {
		a.History = append(a.History, store.StatusChange{Status: c.Status, At: c.At, Comment: c.Comment})
	}
	return &a, nil
}

// CreateApplication implements store.Store.
func (s *Store) CreateApplication(ctx context.Context, a *store.Application) error {
	if len(a.History) == 0 {
		return errors.New("catalog postgres: application without history")
	}
	fields, _ := json.Marshal(a.Fields)
	verified, _ := json.Marshal(append([]string{}, a.Verified...))
	hist, err := encodeHistory(a.History)
	if err != nil {
		return err
	}
	err = s.pool.QueryRow(ctx, `INSERT INTO applications (subject, service_id, status, fields, verified, history, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING number`,
		a.Subject, a.ServiceID, a.Status, fields, verified, hist, a.Created, a.Updated).Scan(&a.Number)
	if err != nil {
		return mapErr("create application", err)
	}
	return nil
}

// GetApplication implements store.Store.
func (s *Store) GetApplication(ctx context.Context, number int64) (*store.Application, error) {
	a, err := scanApp(s.pool.QueryRow(ctx, `SELECT `+appColumns+` FROM applications WHERE number = $1`, number))
	if err != nil {
		return nil, mapErr("get application", err)
	}
	return a, nil
}

// ListApplications implements store.Store.
func (s *Store) ListApplications(ctx context.Context, f store.ApplicationFilter) ([]store.Application, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Subject != "" {
		add("subject = $%d", f.Subject)
	}
	if f.ServiceID != "" {
		add("service_id = $%d", f.ServiceID)
	}
	if f.Status != "" {
		add("status = $%d", string(f.Status))
	}
	if !f.UpdatedBefore.IsZero() {
		add("updated_at < $%d", f.UpdatedBefore)
	}
	q := `SELECT ` + appColumns + ` FROM applications`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY number DESC"
	if f.Limit > 0 {
		q += " LIMIT " + strconv.Itoa(f.Limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, mapErr("list applications", err)
	}
	defer rows.Close()
	var out []store.Application
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, mapErr("list applications", err)
		}
		out = append(out, *a)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("list applications", err)
	}
	return out, nil
}

// UpdateApplication implements store.Store: the row is locked while fn runs.
func (s *Store) UpdateApplication(ctx context.Context, number int64, fn func(*store.Application) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		a, err := scanApp(tx.QueryRow(ctx, `SELECT `+appColumns+` FROM applications WHERE number = $1 FOR UPDATE`, number))
		if err != nil {
			return mapErr("update application", err)
		}
		if err := fn(a); err != nil {
			return err
		}
		fields, _ := json.Marshal(a.Fields)
		verified, _ := json.Marshal(append([]string{}, a.Verified...))
		hist, err := encodeHistory(a.History)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE applications SET status = $2, fields = $3, verified = $4, history = $5, updated_at = $6 WHERE number = $1`,
			number, a.Status, fields, verified, hist, a.Updated)
		if err != nil {
			return mapErr("update application", err)
		}
		return nil
	})
}

const sessionColumns = `id, subject, sid, level, acr, name, scopes, claims, access_token, refresh_token, id_token, token_expiry, created_at, expires_at`

func scanSession(row pgx.Row) (*store.Session, error) {
	var x store.Session
	var scopes []byte
	if err := row.Scan(&x.ID, &x.Subject, &x.SID, &x.Level, &x.ACR, &x.Name, &scopes, &x.Claims,
		&x.AccessToken, &x.RefreshToken, &x.IDToken, &x.TokenExpiry, &x.Created, &x.Expires); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(scopes, &x.Scopes); err != nil {
		return nil, err
	}
	return &x, nil
}

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, x *store.Session) error {
	scopes, _ := json.Marshal(append([]string{}, x.Scopes...))
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)`,
		x.ID, x.Subject, x.SID, x.Level, x.ACR, x.Name, scopes, x.Claims, x.AccessToken, x.RefreshToken, x.IDToken, x.TokenExpiry, x.Created, x.Expires)
	if err != nil {
		return mapErr("create session", err)
	}
	return nil
}

// GetSession implements store.Store.
func (s *Store) GetSession(ctx context.Context, id string) (*store.Session, error) {
	x, err := scanSession(s.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1 AND expires_at > $2`, id, s.now()))
	if err != nil {
		return nil, mapErr("get session", err)
	}
	return x, nil
}

// UpdateSession implements store.Store.
func (s *Store) UpdateSession(ctx context.Context, id string, fn func(*store.Session) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		x, err := scanSession(tx.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1 AND expires_at > $2 FOR UPDATE`, id, s.now()))
		if err != nil {
			return mapErr("update session", err)
		}
		if err := fn(x); err != nil {
			return err
		}
		scopes, _ := json.Marshal(append([]string{}, x.Scopes...))
		_, err = tx.Exec(ctx, `UPDATE sessions SET subject=$2, sid=$3, level=$4, acr=$5, name=$6, scopes=$7, claims=$8,
			access_token=$9, refresh_token=$10, id_token=$11, token_expiry=$12, expires_at=$13 WHERE id = $1`,
			id, x.Subject, x.SID, x.Level, x.ACR, x.Name, scopes, x.Claims, x.AccessToken, x.RefreshToken, x.IDToken, x.TokenExpiry, x.Expires)
		if err != nil {
			return mapErr("update session", err)
		}
		return nil
	})
}

// DeleteSession implements store.Store.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id); err != nil {
		return mapErr("delete session", err)
	}
	return nil
}

// DeleteSessions implements store.Store.
func (s *Store) DeleteSessions(ctx context.Context, subject, sid string) (int, error) {
	if subject == "" && sid == "" {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE ($1 = '' OR subject = $1) AND ($2 = '' OR sid = $2)`, subject, sid)
	if err != nil {
		return 0, mapErr("delete sessions", err)
	}
	return int(tag.RowsAffected()), nil
}

// PutPendingLogin implements store.Store.
func (s *Store) PutPendingLogin(ctx context.Context, p *store.PendingLogin) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM pending_logins WHERE expires_at <= $1`, s.now()); err != nil {
		return mapErr("put pending login", err)
	}
	scopes, _ := json.Marshal(append([]string{}, p.Scopes...))
	_, err := s.pool.Exec(ctx, `INSERT INTO pending_logins (state, browser, nonce, verifier, return_to, acr, scopes, expires_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`, p.State, p.Browser, p.Nonce, p.Verifier, p.ReturnTo, p.ACR, scopes, p.Expires)
	if err != nil {
		return mapErr("put pending login", err)
	}
	return nil
}

// TakePendingLogin implements store.Store.
func (s *Store) TakePendingLogin(ctx context.Context, state string) (*store.PendingLogin, error) {
	var p store.PendingLogin
	var scopes []byte
	err := s.pool.QueryRow(ctx, `DELETE FROM pending_logins WHERE state = $1
		RETURNING state, browser, nonce, verifier, return_to, acr, scopes, expires_at`, state).
		Scan(&p.State, &p.Browser, &p.Nonce, &p.Verifier, &p.ReturnTo, &p.ACR, &scopes, &p.Expires)
	if err != nil {
		return nil, mapErr("take pending login", err)
	}
	if !s.now().Before(p.Expires) {
		return nil, fmt.Errorf("catalog postgres: take pending login: expired: %w", store.ErrNotFound)
	}
	if err := json.Unmarshal(scopes, &p.Scopes); err != nil {
		return nil, err
	}
	return &p, nil
}

// UseLogoutJTI implements store.Store.
func (s *Store) UseLogoutJTI(ctx context.Context, jti string, expires time.Time) error {
	now := s.now()
	if _, err := s.pool.Exec(ctx, `DELETE FROM logout_jtis WHERE expires_at <= $1`, now); err != nil {
		return mapErr("use logout jti", err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO logout_jtis (jti, expires_at) VALUES ($1, $2)
		ON CONFLICT (jti) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE logout_jtis.expires_at <= $3`, jti, expires, now)
	if err != nil {
		return mapErr("use logout jti", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("catalog postgres: logout token jti: %w", store.ErrConflict)
	}
	return nil
}
