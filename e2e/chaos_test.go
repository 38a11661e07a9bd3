package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/internal/chaos"
)

// TestFaultsUnderLoad runs three server processes behind a load-balancing
// proxy on a PostgreSQL instance and a Redis Sentinel group of their own,
// under a load of logins, code exchanges, refreshes, client-credentials
// grants and admin registrations, and during it kills a replica, restarts
// every replica in turn, restarts Redis, restarts PostgreSQL and fails the
// Redis primary over. Nothing written before a fault may be lost, no
// refresh token may be accepted twice, lockout counts stay exact, and a
// request may fail only with 503 and Retry-After or, on a replica that
// died, a connection error, never a 500 or a hang past the request bound;
// every operation passes again within the recovery bound of each repair.
// See internal/chaos; make chaos runs the longer version.
func TestFaultsUnderLoad(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := chaos.DefaultConfig()
	cfg.Logf = t.Logf
	rep, err := chaos.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.Print(&b)
	t.Log("\n" + b.String())
	for _, v := range rep.Violations {
		t.Error(v)
	}
	if len(rep.Phases) != len(cfg.Faults) {
		t.Errorf("%d faults ran, want %d", len(rep.Phases), len(cfg.Faults))
	}
	for _, op := range []string{chaos.OpLogin, chaos.OpExchange, chaos.OpRefresh, chaos.OpCC, chaos.OpAdmin} {
		if rep.Ops[op].OK == 0 {
			t.Errorf("no %s succeeded: the load did not run", op)
		}
	}
	for _, what := range []string{"refresh families alive", "rotated tokens reused", "accounts", "clients", "consents", "keys", "lockout counts"} {
		if rep.Checked[what] == 0 {
			t.Errorf("the checks covered no %s", what)
		}
	}
}
