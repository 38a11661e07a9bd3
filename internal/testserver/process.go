package testserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	idpredis "github.com/esia-oidc/idp/store/redis"
	"github.com/esia-oidc/idp/store/redis/redistest"
)

// NewSharedFrom makes a fresh deployment outside a test (for commands such
// as cmd/idpbench): a new schema on the PostgreSQL server at databaseURL, a
// new key prefix on the Redis server at redisURL, and random secrets. The
// caller runs cleanup when done; it drops the schema and deletes the keys.
func NewSharedFrom(ctx context.Context, databaseURL, redisURL string) (sh *Shared, cleanup func() error, err error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, nil, err
	}
	name := hex.EncodeToString(b[:])
	schema, prefix := "t_"+name, "idptest:"+name+":"

	opts, err := idpredis.ParseURL(redisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("redis URL: %w", err)
	}
	rc := goredis.NewUniversalClient(opts)
	if err := rc.Ping(ctx).Err(); err != nil {
		_ = rc.Close()
		return nil, nil, fmt.Errorf("redis is not reachable: %w", err)
	}
	schemaURL, err := withSearchPath(databaseURL, schema)
	if err != nil {
		_ = rc.Close()
		return nil, nil, err
	}
	if err := execSQL(ctx, databaseURL, "CREATE SCHEMA "+schema); err != nil {
		_ = rc.Close()
		return nil, nil, err
	}
	cleanup = func() error {
		// The caller's context may be done already.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		errDB := execSQL(ctx, databaseURL, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		errRedis := redistest.DeletePrefix(ctx, rc, prefix)
		_ = rc.Close()
		return errors.Join(errDB, errRedis)
	}
	return &Shared{
		DatabaseURL: schemaURL,
		RedisURL:    redisURL,
		RedisPrefix: prefix,
		SecretKey:   randomHex(32),
		AdminToken:  randomHex(32),
	}, cleanup, nil
}

// execSQL runs one statement on a connection of its own.
func execSQL(ctx context.Context, dbURL, sql string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// withSearchPath sets search_path on a postgres:// URL or a keyword/value
// connection string (as store/postgres/postgrestest does for tests).
func withSearchPath(dbURL, schema string) (string, error) {
	if strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://") {
		u, err := url.Parse(dbURL)
		if err != nil {
			return "", errors.New("database URL does not parse")
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return dbURL + " search_path=" + schema, nil
}
