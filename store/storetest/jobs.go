package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

// JobTestConfig is the runner configuration of the jobs suite: quick
// retries and polling, so that tests wait little.
func JobTestConfig() store.JobConfig {
	return store.JobConfig{
		Workers:      2,
		MaxAttempts:  5,
		Backoff:      20 * time.Millisecond,
		MaxBackoff:   100 * time.Millisecond,
		Timeout:      10 * time.Second,
		RescueAfter:  20 * time.Second,
		PollInterval: 50 * time.Millisecond,
	}
}

// RunJobs runs the suite of store.JobStore: jobs handled once, retried
// after an error, given up on a permanent error or after their attempts,
// and enqueued in a transaction of Atomically with an account change
// (both or neither). Jobs run on the wall clock, so these tests wait (for
// a few hundred milliseconds each).
func RunJobs(t *testing.T, open func(t *testing.T, now store.Clock) store.Durable) {
	t.Helper()
	run(t, open, []group[store.Durable]{{"Jobs", []test[store.Durable]{
		{"HandledOnce", testJobHandledOnce},
		{"RetryThenSuccess", testJobRetry},
		{"PermanentErrorStops", testJobPermanent},
		{"AttemptsRunOut", testJobAttemptsRunOut},
		{"UnknownKindRetried", testJobUnknownKind},
		{"Delay", testJobDelay},
		{"RollbackLeavesNeither", testJobRollback},
		{"CommitHasBoth", testJobCommit},
		{"ConflictInTransaction", testTxConflict},
	}}})
}

// jobLog records the attempts a handler saw.
type jobLog struct {
	mu    sync.Mutex
	calls []store.Job
}

func (l *jobLog) add(j *store.Job) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := *j
	c.Args = bytes.Clone(j.Args)
	l.calls = append(l.calls, c)
}

func (l *jobLog) get() []store.Job {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// startRunner starts a runner of s with h for kind "test" and stops it when
// the test ends.
func startRunner(t *testing.T, s store.Durable, h store.JobHandler) store.JobRunner {
	t.Helper()
	r, err := s.NewJobRunner(JobTestConfig())
	if err != nil {
		t.Fatalf("NewJobRunner: %v", err)
	}
	r.Handle("test", h)
	if err := r.Start(context.WithoutCancel(ctx(t))); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Stop(c); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return r
}

// waitFor polls cond until it holds, failing the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settle waits long enough for a wrongly repeated attempt to show: several
// poll intervals and the longest backoff.
func settle() { time.Sleep(10 * JobTestConfig().PollInterval) }

func mustEnqueue(t *testing.T, s store.Jobs, c context.Context, args string, opts store.JobOptions) {
	t.Helper()
	if err := s.EnqueueJob(c, "test", []byte(args), opts); err != nil {
		t.Fatalf("EnqueueJob: %v", err)
	}
}

func testJobHandledOnce(t *testing.T, s store.Durable, _ *Clock) {
	var log jobLog
	startRunner(t, s, func(_ context.Context, j *store.Job) error { log.add(j); return nil })
	mustEnqueue(t, s, ctx(t), `{"n":1}`, store.JobOptions{})
	waitFor(t, "the job", func() bool { return len(log.get()) > 0 })
	settle()
	calls := log.get()
	if len(calls) != 1 {
		t.Fatalf("handled %d times, want once: %+v", len(calls), calls)
	}
	if c := calls[0]; c.Kind != "test" || string(c.Args) != `{"n":1}` || c.Attempt != 1 || c.ID == 0 ||
		c.MaxAttempts != JobTestConfig().MaxAttempts {
		t.Fatalf("handler saw %+v", c)
	}
}

func testJobRetry(t *testing.T, s store.Durable, _ *Clock) {
	var log jobLog
	startRunner(t, s, func(_ context.Context, j *store.Job) error {
		log.add(j)
		if j.Attempt < 3 {
			return fmt.Errorf("attempt %d: registry unreachable", j.Attempt)
		}
		return nil
	})
	mustEnqueue(t, s, ctx(t), "retry", store.JobOptions{})
	waitFor(t, "the third attempt", func() bool { return len(log.get()) >= 3 })
	settle()
	calls := log.get()
	if len(calls) != 3 {
		t.Fatalf("%d attempts, want 3 (two failures, then success)", len(calls))
	}
	for i, c := range calls {
		if c.Attempt != i+1 || c.ID != calls[0].ID || string(c.Args) != "retry" {
			t.Fatalf("attempt #%d: %+v", i, c)
		}
	}
}

func testJobPermanent(t *testing.T, s store.Durable, _ *Clock) {
	var log jobLog
	startRunner(t, s, func(_ context.Context, j *store.Job) error {
		log.add(j)
		return fmt.Errorf("bad arguments: %w", store.ErrJobPermanent)
	})
	mustEnqueue(t, s, ctx(t), "x", store.JobOptions{})
	waitFor(t, "the job", func() bool { return len(log.get()) > 0 })
	settle()
	if n := len(log.get()); n != 1 {
		t.Fatalf("a job that failed for good was tried %d times, want once", n)
	}
}

func testJobAttemptsRunOut(t *testing.T, s store.Durable, _ *Clock) {
	var log jobLog
	startRunner(t, s, func(_ context.Context, j *store.Job) error { log.add(j); return errBoom })
	mustEnqueue(t, s, ctx(t), "x", store.JobOptions{MaxAttempts: 2})
	waitFor(t, "two attempts", func() bool { return len(log.get()) >= 2 })
	settle()
	calls := log.get()
	if len(calls) != 2 || calls[1].MaxAttempts != 2 {
		t.Fatalf("attempts %+v, want 2 of at most 2", calls)
	}
}

func testJobUnknownKind(t *testing.T, s store.Durable, _ *Clock) {
	// A job of a kind this runner does not know yet is tried again, and
	// done once a handler is registered.
	var log jobLog
	r := startRunner(t, s, func(_ context.Context, j *store.Job) error { log.add(j); return nil })
	if err := s.EnqueueJob(ctx(t), "later", []byte("l"), store.JobOptions{MaxAttempts: 25}); err != nil {
		t.Fatalf("EnqueueJob: %v", err)
	}
	time.Sleep(3 * JobTestConfig().PollInterval)
	r.Handle("later", func(_ context.Context, j *store.Job) error { log.add(j); return nil })
	waitFor(t, "the job of the late kind", func() bool { return len(log.get()) > 0 })
	settle()
	calls := log.get()
	if len(calls) != 1 || calls[0].Kind != "later" || calls[0].Attempt < 1 {
		t.Fatalf("calls %+v, want one of kind later", calls)
	}
}

func testJobDelay(t *testing.T, s store.Durable, _ *Clock) {
	var log jobLog
	var at time.Time
	var mu sync.Mutex
	startRunner(t, s, func(_ context.Context, j *store.Job) error {
		mu.Lock()
		at = time.Now()
		mu.Unlock()
		log.add(j)
		return nil
	})
	const delay = 500 * time.Millisecond
	start := time.Now()
	mustEnqueue(t, s, ctx(t), "d", store.JobOptions{Delay: delay})
	waitFor(t, "the delayed job", func() bool { return len(log.get()) > 0 })
	mu.Lock()
	defer mu.Unlock()
	if at.Sub(start) < delay-10*time.Millisecond {
		t.Fatalf("a job delayed by %v ran after %v", delay, at.Sub(start))
	}
}

func testJobRollback(t *testing.T, s store.Durable, clk *Clock) {
	var log jobLog
	startRunner(t, s, func(_ context.Context, j *store.Job) error { log.add(j); return nil })
	a := newAccount(clk, "acc-1", "+79001234567", "", "")
	mustCreateAccount(t, s, a)
	err := s.Atomically(ctx(t), func(c context.Context) error {
		if _, err := s.UpdateAccount(c, "acc-1", func(u *store.Account) error {
			u.Level = store.LevelConfirmed
			u.Verification = &store.Verification{ID: "chk-1", Status: store.VerificationPending}
			return nil
		}); err != nil {
			return err
		}
		// Reads in the transaction see its writes.
		got, err := s.GetAccount(c, "acc-1")
		if err != nil || got.Level != store.LevelConfirmed {
			return fmt.Errorf("read in transaction: %v, %v", got, err)
		}
		if err := s.AppendAudit(c, &store.AuditEvent{Actor: "system", Action: "check.start", AccountID: "acc-1"}); err != nil {
			return err
		}
		if err := s.PutConsent(c, &store.Consent{AccountID: "acc-1", ClientID: "rp", Scopes: []string{"openid"}, GrantedAt: clk.Now()}); err != nil {
			return err
		}
		if _, err := s.GetConsent(c, "acc-1", "rp"); err != nil {
			return fmt.Errorf("consent read in transaction: %w", err)
		}
		if err := s.CreateOperator(c, newOperator(clk, "op-1", "ivanova")); err != nil {
			return err
		}
		if err := s.EnqueueJob(c, "test", []byte("rolled back"), store.JobOptions{}); err != nil {
			return err
		}
		return fmt.Errorf("later step: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Atomically: got %v, want fn's error", err)
	}
	checkAccount(t, "account after rollback", mustGetAccount(t, s, "acc-1"), a)
	if list := mustList(t, s, store.AuditQuery{}); len(list) != 0 {
		t.Fatalf("audit events after rollback: %+v", list)
	}
	if _, err := s.GetConsent(ctx(t), "acc-1", "rp"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetConsent after rollback: got %v, want ErrNotFound", err)
	}
	if _, err := s.FindOperator(ctx(t), "ivanova"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("FindOperator after rollback: got %v, want ErrNotFound", err)
	}
	settle()
	if calls := log.get(); len(calls) != 0 {
		t.Fatalf("the job of a rolled-back transaction ran: %+v", calls)
	}
}

func testJobCommit(t *testing.T, s store.Durable, clk *Clock) {
	var log jobLog
	var seen []*store.Account
	var mu sync.Mutex
	startRunner(t, s, func(c context.Context, j *store.Job) error {
		// The handler sees the change its job was enqueued with.
		a, err := s.GetAccount(c, string(j.Args))
		if err != nil {
			return err
		}
		mu.Lock()
		seen = append(seen, a)
		mu.Unlock()
		log.add(j)
		return nil
	})
	mustCreateAccount(t, s, newAccount(clk, "acc-1", "+79001234567", "", ""))
	err := s.Atomically(ctx(t), func(c context.Context) error {
		if _, err := s.UpdateAccount(c, "acc-1", func(u *store.Account) error {
			u.Verification = &store.Verification{ID: "chk-1", Status: store.VerificationPending, RequestedAt: clk.Now()}
			return nil
		}); err != nil {
			return err
		}
		return s.EnqueueJob(c, "test", []byte("acc-1"), store.JobOptions{})
	})
	if err != nil {
		t.Fatalf("Atomically: %v", err)
	}
	if v := mustGetAccount(t, s, "acc-1").Verification; v == nil || v.Status != store.VerificationPending {
		t.Fatalf("verification after commit: %+v", v)
	}
	waitFor(t, "the committed job", func() bool { return len(log.get()) > 0 })
	settle()
	if n := len(log.get()); n != 1 {
		t.Fatalf("the committed job ran %d times, want once", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if v := seen[0].Verification; v == nil || v.ID != "chk-1" {
		t.Fatalf("the handler saw verification %+v, want the committed one", v)
	}
}

func testTxConflict(t *testing.T, s store.Durable, clk *Clock) {
	mustCreateAccount(t, s, newAccount(clk, "acc-1", "+79001234567", "", ""))
	err := s.Atomically(ctx(t), func(c context.Context) error {
		err := s.CreateAccount(c, newAccount(clk, "acc-2", "+79001234567", "", ""))
		if !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("CreateAccount(taken phone) in a transaction: got %v, want ErrConflict", err)
		}
		// The transaction goes on after the conflict.
		if err := s.CreateAccount(c, newAccount(clk, "acc-3", "+79007654321", "", "")); err != nil {
			return err
		}
		_, err = s.UpdateAccount(c, "acc-1", func(u *store.Account) error { u.FirstName = "Changed"; return nil })
		return err
	})
	if err != nil {
		t.Fatalf("Atomically: %v", err)
	}
	if got := mustGetAccount(t, s, "acc-1"); got.FirstName != "Changed" {
		t.Fatalf("update in the transaction lost: %+v", got)
	}
	mustGetAccount(t, s, "acc-3")
	if _, err := s.GetAccount(ctx(t), "acc-2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetAccount(refused acc-2): got %v, want ErrNotFound", err)
	}
	// Nested transactions are refused, not deadlocked.
	err = s.Atomically(ctx(t), func(c context.Context) error {
		return s.Atomically(c, func(context.Context) error { return nil })
	})
	if err == nil {
		t.Fatal("nested Atomically: no error")
	}
}
