package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/esia-oidc/idp/internal/logbuf"
)

// Postgres is a private PostgreSQL instance (initdb in a temporary
// directory, the postmaster on a spare loopback port, trust
// authentication), so that restarting it disturbs no other test. When this
// process runs as root, the instance runs as the system's postgres user,
// since PostgreSQL refuses to run as root.
type Postgres struct {
	URL  string // of database "chaos", user postgres
	Logs *logbuf.Buffer

	bin  string // directory of initdb and postgres
	dir  string
	port int
	cred *syscall.Credential
	p    *proc
}

// StartPostgres creates and starts an instance in a directory under base.
func StartPostgres(ctx context.Context, base string) (*Postgres, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	pg := &Postgres{Logs: &logbuf.Buffer{}, bin: bin, dir: filepath.Join(base, "pg"), port: port}
	if err := os.MkdirAll(pg.dir, 0o700); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and no postgres user to run PostgreSQL as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		// The base must be reachable by that user.
		for _, d := range []string{base, pg.dir} {
			if err := os.Chown(d, uid, gid); err != nil {
				return nil, err
			}
		}
	}
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", filepath.Join(pg.dir, "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "--no-instructions")
	pg.as(initdb)
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if err := pg.Start(ctx); err != nil {
		return pg, err
	}
	if err := pg.exec(ctx, "postgres", "CREATE DATABASE chaos"); err != nil {
		return pg, err
	}
	pg.URL = pg.url("chaos")
	return pg, nil
}

func (pg *Postgres) url(db string) string {
	return "postgres://postgres@127.0.0.1:" + itoa(pg.port) + "/" + db + "?sslmode=disable"
}

func (pg *Postgres) as(cmd *exec.Cmd) {
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	if pg.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	}
}

// Start runs the postmaster (again) and waits until it accepts
// connections. fsync is off: the instance is thrown away.
func (pg *Postgres) Start(ctx context.Context) error {
	cmd := exec.Command(filepath.Join(pg.bin, "postgres"),
		"-D", filepath.Join(pg.dir, "data"), "-p", itoa(pg.port), "-k", pg.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200",
		"-c", "logging_collector=off")
	pg.as(cmd)
	p, err := startProc(cmd, pg.Logs)
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	pg.p = p
	return waitFor(ctx, "postgres", 60*time.Second, p, func(ctx context.Context) error {
		return pg.exec(ctx, "postgres", "SELECT 1")
	})
}

// Stop shuts the instance down fast (SIGINT: sessions are ended, nothing
// committed is lost) and waits.
func (pg *Postgres) Stop() { pg.p.stop(syscall.SIGINT, 30*time.Second) }

// Close stops the instance.
func (pg *Postgres) Close() {
	if pg.p != nil {
		pg.Stop()
	}
}

// Exec runs one statement in database "chaos".
func (pg *Postgres) Exec(ctx context.Context, sql string) error { return pg.exec(ctx, "chaos", sql) }

func (pg *Postgres) exec(ctx context.Context, db, sql string) error {
	conn, err := pgx.Connect(ctx, pg.url(db))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	_, err = conn.Exec(ctx, sql)
	return err
}

// postgresBin finds the directory of initdb and postgres:
// IDP_CHAOS_PG_BIN, else the newest /usr/lib/postgresql/*/bin (Debian),
// else the directory of initdb on PATH.
func postgresBin() (string, error) {
	if d := os.Getenv("IDP_CHAOS_PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return a > b
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no PostgreSQL server binaries (initdb): install postgresql or set IDP_CHAOS_PG_BIN")
}
