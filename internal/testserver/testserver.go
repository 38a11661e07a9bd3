// Package testserver runs the built idp binary as a real process for
// end-to-end tests and benchmarks: on PostgreSQL (its own schema) and Redis
// (its own key prefix), in production mode on a loopback http issuer.
package testserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/internal/childproc"
	"github.com/esia-oidc/idp/internal/listenfd"
	"github.com/esia-oidc/idp/internal/logbuf"
	"github.com/esia-oidc/idp/store/postgres/postgrestest"
	"github.com/esia-oidc/idp/store/redis/redistest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/idp once per process and returns its path. When this
// program runs with the race detector, the server is built with it too.
func Binary() (string, error) {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "idp-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "idp")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "github.com/esia-oidc/idp/cmd/idp")...)
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
	if catalogBin != "" {
		os.RemoveAll(filepath.Dir(catalogBin))
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
	t.Helper()
	return NewSharedOn(t, redistest.Standalone)
}

// NewSharedOn is NewShared on the test Redis of the topology (standalone,
// Cluster or Sentinel: see redistest): the servers get its URL as
// IDP_REDIS_URL.
func NewSharedOn(t testing.TB, tp redistest.Topology) *Shared {
	t.Helper()
	redisURL, prefix := redistest.NewPrefixOn(t, tp)
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
	Issuer string // its IDP_ISSUER: URL, unless started with Options.Issuer
	Shared *Shared
	Env    []string // extra IDP_* settings, "KEY=value"

	bin     string
	sockets []listenfd.Named // bound here, passed in at every start, closed by Stop
	cmd     *exec.Cmd
	logs    *logbuf.Buffer // every start's output, restarts included
	done    chan error
}

// Options are the settings of a server process beyond its deployment.
type Options struct {
	// Issuer is the server's IDP_ISSUER; empty means its own URL. A replica
	// behind a shared public URL names that URL.
	Issuer string
	// Env are extra settings, "KEY=value". They come after the harness's
	// own and override them, among them the cheap argon2 parameters of the
	// tests (IDP_ARGON2_MEMORY_KIB, IDP_ARGON2_TIME).
	Env []string
	// Sockets names listening sockets passed in beside the public one
	// (socket activation, see cmd/idp): "metrics" serves /metrics in place
	// of the public listener, "pprof" the profiler. Addr gives their
	// addresses.
	Sockets []string
}

// Start runs a server of the deployment sh with extra environment settings
// and stops it at the end of the test. It fails the test if the server is
// not ready within 30 s.
func Start(t testing.TB, sh *Shared, env ...string) *Server {
	t.Helper()
	return StartWith(t, sh, Options{Env: env})
}

// StartWithIssuer is Start for a replica behind a shared public URL: the
// process listens on a port of its own (URL) but names issuer as its issuer,
// so that its discovery document, tokens and redirects say issuer. An empty
// issuer means the server's own URL, as with Start.
func StartWithIssuer(t testing.TB, sh *Shared, issuer string, env ...string) *Server {
	t.Helper()
	return StartWith(t, sh, Options{Issuer: issuer, Env: env})
}

// StartWith runs a server of the deployment sh and stops it at the end of
// the test. It fails the test if the server is not ready within 30 s, and,
// at the end, if the server's log shows a data race (when the tests run
// with the race detector, so does the server).
func StartWith(t testing.TB, sh *Shared, o Options) *Server {
	t.Helper()
	s, err := newServer(sh, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		CheckRaces(t, "server "+s.URL, s.Logs())
		if t.Failed() {
			t.Logf("server %s log:\n%s", s.URL, s.Logs())
		}
	})
	if err := s.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// StartProcess runs a server of the deployment sh without a testing.TB (for
// commands such as cmd/idpbench). It fails if the server is not ready
// within 30 s or ctx ends first; otherwise the caller stops it with Stop.
func StartProcess(ctx context.Context, sh *Shared, o Options) (*Server, error) {
	s, err := newServer(sh, o)
	if err != nil {
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// newServer builds the binary and binds the server's sockets: the public
// one on a free loopback port, then the named ones.
func newServer(sh *Shared, o Options) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	s := &Server{Issuer: o.Issuer, Shared: sh, Env: o.Env, bin: bin, logs: &logbuf.Buffer{}}
	for _, name := range append([]string{"http"}, o.Sockets...) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			s.closeSockets()
			return nil, err
		}
		s.sockets = append(s.sockets, listenfd.Named{Name: name, Listener: ln})
	}
	s.URL = "http://" + s.Addr("http")
	if s.Issuer == "" {
		s.Issuer = s.URL
	}
	return s, nil
}

// Addr is the address of the socket of that name ("http" is the public
// one), or "" if the server has none.
func (s *Server) Addr(socket string) string {
	for _, n := range s.sockets {
		if n.Name == socket {
			return n.Listener.Addr().String()
		}
	}
	return ""
}

// start runs the process on the sockets bound by newServer; env settings
// come after the harness's own, so they override them (the last value of
// a key wins in exec.Cmd.Env). The process dies with this one.
func (s *Server) start(ctx context.Context) error {
	cmd := exec.Command(s.bin, "serve")
	cmd.Env = append(os.Environ(),
		"IDP_ISSUER="+s.Issuer,
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
	cmd.Env = append(cmd.Env, s.Env...)
	cmd.Stdout = s.logs
	cmd.Stderr = s.logs
	closeFiles, err := listenfd.Pass(cmd, s.sockets...)
	if err != nil {
		return err
	}
	childproc.DieWithParent(cmd)
	err = cmd.Start()
	closeFiles()
	if err != nil {
		return err
	}
	s.cmd = cmd
	s.done = make(chan error, 1)
	go func() { s.done <- cmd.Wait() }()
	if err := s.waitReady(ctx, 30*time.Second); err != nil {
		s.stopProcess()
		return err
	}
	return nil
}

// waitReady polls /readyz until it answers 200, the process exits, ctx
// ends or limit passes. A request made before the process serves waits in
// the socket's queue; each has a short timeout of its own, so that an exit
// is noticed.
func (s *Server) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("server exited: %v\n%s", err, s.Logs())
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("server %s not ready after %s\n%s", s.URL, limit, s.Logs())
		case <-tick.C:
		}
	}
}

// Stop ends the process with SIGTERM (it drains requests), waits, and
// closes its sockets.
func (s *Server) Stop() {
	s.stopProcess()
	s.closeSockets()
}

// stopProcess ends the process and waits for it; the sockets stay open.
func (s *Server) stopProcess() {
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

func (s *Server) closeSockets() {
	for _, n := range s.sockets {
		n.Listener.Close()
	}
	s.sockets = nil
}

// Kill ends the process with SIGKILL, as a crash does (nothing drains,
// nothing is saved), and waits for it; the sockets stay open for Restart.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart stops the process and starts it again on the same sockets.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.stopProcess()
	fmt.Fprintf(s.logs, "=== testserver: restart\n")
	if err := s.start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// PID is the process id of the running server.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Logs returns what the server printed so far, over every start.
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

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
