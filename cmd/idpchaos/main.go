// Command idpchaos runs the provider's faults under load (make chaos): the
// longer version of the end-to-end test TestFaultsUnderLoad. It builds
// cmd/idp, starts a PostgreSQL instance and a Redis Sentinel group of its
// own on spare loopback ports, two or three `idp serve` processes behind a
// loopback load balancer, and a load of logins, code exchanges, refreshes,
// client-credentials grants and admin registrations; during it, it kills a
// replica, restarts every replica in turn, restarts Redis, restarts
// PostgreSQL and fails the Redis primary over, -rounds times. It prints the
// figures (requests and failed operations by kind, per fault the time to
// repair, the outage and the recovery) and what the checks afterwards
// found lost or wrong, and exits 1 if they found anything.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/esia-oidc/idp/internal/chaos"
	"github.com/esia-oidc/idp/internal/testserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	testserver.RemoveBinary()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case errors.Is(err, errViolations):
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "idpchaos:", err)
		os.Exit(1)
	}
}

var errViolations = errors.New("violations found")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := chaos.DefaultConfig()
	fs := flag.NewFlagSet("idpchaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.Replicas, "replicas", 3, "idp serve processes behind the proxy")
	fs.IntVar(&cfg.Workers, "workers", 8, "goroutines of load")
	accounts := fs.Int("accounts", 0, "accounts the workers log in as (default: twice the workers)")
	fs.DurationVar(&cfg.Steady, "steady", 5*time.Second, "load with no fault before the first fault and after each")
	fs.DurationVar(&cfg.Outage, "outage", 3*time.Second, "how long a killed replica and PostgreSQL stay down (Redis: at most 1s)")
	fs.DurationVar(&cfg.RequestTimeout, "request-timeout", 10*time.Second, "bound of every request; a request without an answer by then is a hang")
	fs.DurationVar(&cfg.RecoveryBound, "recovery-bound", 20*time.Second, "every operation must pass again within this of a repair")
	fs.IntVar(&cfg.LockAttempts, "lock-attempts", 4, "wrong passwords that lock an account (IDP_LOGIN_LOCKOUT_ATTEMPTS)")
	faults := fs.String("faults", strings.Join(chaos.AllFaults, ","), "comma-separated faults, in order: "+strings.Join(chaos.AllFaults, ", "))
	rounds := fs.Int("rounds", 2, "how many times the faults run")
	verbose := fs.Bool("v", false, "print progress")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var problems []string
	cfg.Faults = nil
	for range *rounds {
		for _, f := range strings.Split(*faults, ",") {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			if !slices.Contains(chaos.AllFaults, f) {
				problems = append(problems, fmt.Sprintf("unknown fault %q", f))
			}
			cfg.Faults = append(cfg.Faults, f)
		}
	}
	if *rounds < 1 || len(cfg.Faults) == 0 {
		problems = append(problems, "no fault to run")
	}
	if cfg.Replicas < 2 {
		problems = append(problems, "-replicas must be at least 2: one is killed while the others serve")
	}
	if cfg.Workers < 1 {
		problems = append(problems, "-workers must be at least 1")
	}
	cfg.Accounts = *accounts
	if cfg.Accounts == 0 {
		cfg.Accounts = 2 * cfg.Workers
	}
	if cfg.Accounts < cfg.Workers {
		problems = append(problems, "-accounts must be at least -workers")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	if *verbose {
		cfg.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	}
	fmt.Fprintf(stderr, "idpchaos: building idp and running %d faults; this takes a few minutes\n", len(cfg.Faults))
	rep, err := chaos.Run(ctx, cfg)
	if err != nil {
		return err
	}
	rep.Print(stdout)
	if len(rep.Violations) > 0 {
		return errViolations
	}
	return nil
}
