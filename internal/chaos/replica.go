package chaos

import (
	"context"
	"fmt"
	"net/http"
	"syscall"
	"time"

	"github.com/esia-oidc/idp/internal/logbuf"
	"github.com/esia-oidc/idp/internal/testserver"
)

// Replica is one `idp serve` process of the deployment, listening on a
// port of its own (IDP_LISTEN, not socket activation: a killed replica's
// port refuses connections, as a dead host's does) and naming the proxy's
// URL as its issuer.
type Replica struct {
	Name string
	Addr string // 127.0.0.1:port
	Logs *logbuf.Buffer

	sh  *testserver.Shared
	env []string
	p   *proc
}

// NewReplica reserves a port for a replica of the deployment sh behind
// issuer; env are extra settings.
func NewReplica(name string, sh *testserver.Shared, issuer string, env ...string) (*Replica, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + itoa(port)
	return &Replica{
		Name: name, Addr: addr, Logs: &logbuf.Buffer{}, sh: sh,
		env: append([]string{"IDP_ISSUER=" + issuer, "IDP_LISTEN=" + addr}, env...),
	}, nil
}

// Start runs the process and waits (at most a minute) until its /readyz
// answers 200.
func (r *Replica) Start(ctx context.Context) error {
	cmd, err := r.sh.Command(context.Background(), r.env, "serve")
	if err != nil {
		return err
	}
	fmt.Fprintf(r.Logs, "=== chaos: start %s\n", r.Name)
	p, err := startProc(cmd, r.Logs)
	if err != nil {
		return err
	}
	r.p = p
	client := &http.Client{Timeout: time.Second}
	return waitFor(ctx, "replica "+r.Name, time.Minute, p, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.Addr+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %s", resp.Status)
		}
		return nil
	})
}

// Kill ends the process with SIGKILL: nothing drains.
func (r *Replica) Kill() {
	fmt.Fprintf(r.Logs, "=== chaos: SIGKILL %s\n", r.Name)
	r.p.kill()
}

// Stop ends the process with SIGTERM (it drains its requests) and waits.
func (r *Replica) Stop() {
	fmt.Fprintf(r.Logs, "=== chaos: SIGTERM %s\n", r.Name)
	r.p.stop(syscall.SIGTERM, 30*time.Second)
}

// Running reports whether the process runs.
func (r *Replica) Running() bool { return r.p != nil && !r.p.exited() }

// Races is how many data races the race detector reported in the
// replica's log (when it was built with it).
func (r *Replica) Races() int { return testserver.DataRaces(r.Logs.String()) }
