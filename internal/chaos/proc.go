package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/esia-oidc/idp/internal/childproc"
	"github.com/esia-oidc/idp/internal/logbuf"
)

// proc is one run of a child process whose output goes to a log.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error // set before done closes
}

// startProc starts cmd with its output in logs and its life tied to this
// process's.
func startProc(cmd *exec.Cmd, logs *logbuf.Buffer) (*proc, error) {
	cmd.Stdout, cmd.Stderr = logs, logs
	childproc.DieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig and waits for the end, at most grace, then kills.
func (p *proc) stop(sig os.Signal, grace time.Duration) {
	if p == nil || p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the process with SIGKILL, as a crash does, and waits.
func (p *proc) kill() { p.stop(syscall.SIGKILL, time.Minute) }

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitFor polls check every 50 ms until it passes, p exits (when not
// nil), ctx ends or limit passes.
func waitFor(ctx context.Context, what string, limit time.Duration, p *proc, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		var done <-chan struct{}
		if p != nil {
			done = p.done
		}
		select {
		case <-done:
			return fmt.Errorf("%s: the process exited: %v", what, p.err)
		case <-ctx.Done():
			return fmt.Errorf("%s: not ready after %s: %w", what, limit, errors.Join(ctx.Err(), last))
		case <-tick.C:
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
