package server

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/postgres/postgrestest"
)

// TestServerRunsJobs: handlers registered on srv.Jobs after New work the
// jobs enqueued in the store of record once Run has started, in memory and
// on PostgreSQL; StopJobs stops the runner.
func TestServerRunsJobs(t *testing.T) {
	t.Parallel()
	for name, dbURL := range map[string]func(t *testing.T) string{
		"memory":     func(*testing.T) string { return "" },
		"postgresql": func(t *testing.T) string { return postgrestest.NewSchemaURL(t) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(dbURL(t))
			cfg.JobPollInterval, cfg.JobBackoff, cfg.JobMaxBackoff = 50*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond
			srv, err := newServer(t, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var runs atomic.Int32
			srv.Jobs.Handle("test.hello", func(_ context.Context, j *store.Job) error {
				if string(j.Args) != "hi" {
					return store.ErrJobPermanent
				}
				if runs.Add(1) == 1 && j.Attempt == 1 {
					return context.DeadlineExceeded // fail once: retried
				}
				return nil
			})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			go srv.Run(ctx)
			acc := &store.Account{ID: "acc-1", Level: store.LevelSimplified, Phone: "+79001234567"}
			if err := srv.Durable.CreateAccount(ctx, acc); err != nil {
				t.Fatal(err)
			}
			err = srv.Durable.Atomically(ctx, func(c context.Context) error {
				if _, err := srv.Durable.UpdateAccount(c, "acc-1", func(a *store.Account) error {
					a.Verification = &store.Verification{ID: "chk-1", Status: store.VerificationPending}
					return nil
				}); err != nil {
					return err
				}
				return srv.Durable.EnqueueJob(c, "test.hello", []byte("hi"), store.JobOptions{})
			})
			if err != nil {
				t.Fatalf("Atomically: %v", err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for runs.Load() < 2 {
				if time.Now().After(deadline) {
					t.Fatalf("the job ran %d times, want a failure and a success", runs.Load())
				}
				time.Sleep(10 * time.Millisecond)
			}
			stop, stopCancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer stopCancel()
			if err := srv.StopJobs(stop); err != nil {
				t.Fatalf("StopJobs: %v", err)
			}
			if err := srv.StopJobs(stop); err != nil {
				t.Fatalf("StopJobs again: %v", err)
			}
			time.Sleep(200 * time.Millisecond)
			if n := runs.Load(); n != 2 {
				t.Fatalf("the job ran %d times, want 2", n)
			}
		})
	}
}
