// Package testserver runs the built idp binary as a real process for
// end-to-end tests and benchmarks: on PostgreSQL (its own schema) and Redis
// (its own key prefix), in production mode on a loopback http issuer.
package testserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/esia-oidc/idp/internal/logbuf"

	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/store/postgres/postgrestest"
	"github.com/esia-oidc/idp/store/redis/redistest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/idp once per process and returns its path.
func Binary() (string, error) {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "idp-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "idp")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/esia-oidc/idp/cmd/idp")
		cmd.Dir = moduleRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build idp: %v\n%s", err, out)
		}
	})
	return binPath, buildErr
}

// RemoveBinary deletes what Binary built; call it when the process is done
// with servers (TestMain, the end of the bench).
func RemoveBinary() {
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Shared is what several server processes of one deployment share.
type Shared struct {
	DatabaseURL string
	RedisURL    string
	RedisPrefix string
	SecretKey   string
	AdminToken  string
}

// NewShared makes a fresh deployment: its own PostgreSQL schema and Redis
// prefix, dropped at the end of the test, and random secrets.
func NewShared(t testing.TB) *Shared {
	redisURL, prefix := redistest.NewPrefix(t)
	return &Shared{
		DatabaseURL: postgrestest.NewSchemaURL(t),
		RedisURL:    redisURL,
		RedisPrefix: prefix,
		SecretKey:   randomHex(32),
		AdminToken:  randomHex(32),
	}
}

// Server is a running idp process.
type Server struct {
	URL    string // where the process listens
	Issuer string // its IDP_ISSUER: URL, unless started by StartWithIssuer
	Shared *Shared
	Env    []string // extra IDP_* settings, "KEY=value"

	bin  string
	cmd  *exec.Cmd
	logs *logbuf.Buffer
	done chan error
}

// Start runs a server of the deployment sh with extra environment settings
// and stops it at the end of the test. It fails the test if the server is
// not ready within 30 s.
func Start(t testing.TB, sh *Shared, env ...string) *Server {
	t.Helper()
	return StartWithIssuer(t, sh, "", env...)
}

// StartWithIssuer is Start for a replica behind a shared public URL: the
// process listens on a port of its own (URL) but names issuer as its issuer,
// so that its discovery document, tokens and redirects say issuer. An empty
// issuer means the server's own URL, as with Start.
func StartWithIssuer(t testing.TB, sh *Shared, issuer string, env ...string) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Issuer: issuer, Shared: sh, Env: env, bin: bin}
	if s.Issuer == "" {
		s.Issuer = s.URL
	}
	if err := s.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("server %s log:\n%s", s.URL, s.Logs())
		}
	})
	return s
}

// start runs the process; env settings come after the harness's own, so
// they override them (the last value of a key wins in exec.Cmd.Env).
func (s *Server) start(ctx context.Context) error {
	u := strings.TrimPrefix(s.URL, "http://")
	s.cmd = exec.Command(s.bin, "serve")
	s.cmd.Env = append(os.Environ(),
		"IDP_ISSUER="+s.Issuer,
		"IDP_LISTEN="+u,
		"IDP_DATABASE_URL="+s.Shared.DatabaseURL,
		"IDP_REDIS_URL="+s.Shared.RedisURL,
		"IDP_REDIS_PREFIX="+s.Shared.RedisPrefix,
		"IDP_SECRET_KEY="+s.Shared.SecretKey,
		"IDP_ADMIN_TOKEN="+s.Shared.AdminToken,
		"IDP_MIGRATE=true",
		"IDP_DEV=false",
		"IDP_LOG_LEVEL=warn",
		// Cheap hashing keeps tests fast; the bench uses the defaults.
		"IDP_ARGON2_MEMORY_KIB=7168",
		"IDP_ARGON2_TIME=1",
	)
	s.cmd.Env = append(s.cmd.Env, s.Env...)
	s.logs = &logbuf.Buffer{}
	s.cmd.Stdout = s.logs
	s.cmd.Stderr = s.logs
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.cmd.Wait() }()
	if err := s.waitReady(ctx, 30*time.Second); err != nil {
		s.Stop()
		return err
	}
	return nil
}

func (s *Server) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("server exited: %v\n%s", err, s.Logs())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("server %s not ready after %s\n%s", s.URL, limit, s.Logs())
}

// Stop ends the process with SIGTERM (it drains requests) and waits.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// Restart stops the process and starts it again on the same address.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// PID is the process id of the running server.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Logs returns what the server printed so far.
func (s *Server) Logs() string { return s.logs.String() }

// Admin returns a client of the server's admin API.
func (s *Server) Admin() *adminclient.Client {
	return adminclient.New(s.URL, s.Shared.AdminToken, &http.Client{Timeout: 30 * time.Second})
}

// Run runs an idp CLI command against the server and returns its output.
func (s *Server) Run(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = append(os.Environ(), "IDP_ISSUER="+s.URL, "IDP_ADMIN_TOKEN="+s.Shared.AdminToken)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
