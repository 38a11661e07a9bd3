package registry

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/memory"
)

// fakeRegistry answers with res or err and counts the calls.
type fakeRegistry struct {
	calls atomic.Int32
	res   Result
	err   error
}

func (f *fakeRegistry) Check(context.Context, Request) (Result, error) {
	f.calls.Add(1)
	return f.res, f.err
}

// pendingAccount stores a simplified account whose data wait for check id.
func pendingAccount(t *testing.T, st *memory.Store, c *Checker, number, id string) *store.Account {
	t.Helper()
	a := &store.Account{
		ID: "acc-" + id, Level: store.LevelSimplified, LastName: "Иванова", FirstName: "Мария", Birthdate: "1990-05-17",
		SNILS: "112233445" + id[len(id)-2:], Citizenship: "RUS",
		Passport: &store.Document{Type: store.DocPassport, Series: "45" + id[len(id)-2:], Number: number, IssueDate: "2010-06-01", DepartmentCode: "770-001", Issuer: "ОВД"},
	}
	c.Begin(a, id)
	if err := st.CreateAccount(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	return a
}

func job(accountID, id string) *store.Job {
	b, _ := json.Marshal(jobArgs{AccountID: accountID, VerificationID: id})
	return &store.Job{Kind: JobKind, Args: b, Attempt: 1}
}

func TestCheckerOutcomes(t *testing.T) {
	ctx := context.Background()
	st := memory.New(nil)
	var told []string
	c := &Checker{Store: st, Registry: Simulator{}, Tell: func(ctx context.Context, a *store.Account, v *store.Verification) error {
		told = append(told, a.ID+":"+string(v.Status))
		return nil
	}}

	ok := pendingAccount(t, st, c, "123456", "v-01")
	if err := c.Handle(ctx, job(ok.ID, "v-01")); err != nil {
		t.Fatal(err)
	}
	a, _ := st.GetAccount(ctx, ok.ID)
	if a.Level != store.LevelStandard || a.Verification.Status != store.VerificationApproved || a.Verification.DecidedAt.IsZero() ||
		len(a.Evidence) != 1 || a.Evidence[0].Kind != store.EvidenceRegistry || a.Evidence[0].Digest != a.Verification.Digest {
		t.Fatalf("approved: %+v %+v %+v", a.Level, a.Verification, a.Evidence)
	}
	// Run again (a crash after the work): nothing more happens.
	if err := c.Handle(ctx, job(ok.ID, "v-01")); err != nil {
		t.Fatal(err)
	}
	if a2, _ := st.GetAccount(ctx, ok.ID); len(a2.Evidence) != 1 || len(told) != 1 {
		t.Errorf("the job run twice recorded twice: evidence %d, told %v", len(a2.Evidence), told)
	}

	bad := pendingAccount(t, st, c, RejectedPassportNumber, "v-02")
	if err := c.Handle(ctx, job(bad.ID, "v-02")); err != nil {
		t.Fatal(err)
	}
	a, _ = st.GetAccount(ctx, bad.ID)
	if a.Level != store.LevelSimplified || a.Verification.Status != store.VerificationRejected || a.Verification.Reason != "passport_not_found" || len(a.Evidence) != 0 {
		t.Fatalf("rejected: %+v %+v", a.Level, a.Verification)
	}

	// Superseded: the account now waits for another check.
	old := pendingAccount(t, st, c, "123456", "v-03")
	if _, err := st.UpdateAccount(ctx, old.ID, func(a *store.Account) error { c.Begin(a, "v-04"); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := c.Handle(ctx, job(old.ID, "v-03")); err != nil {
		t.Fatal(err)
	}
	if a, _ := st.GetAccount(ctx, old.ID); a.Verification.ID != "v-04" || a.Verification.Status != store.VerificationPending {
		t.Errorf("a superseded job decided: %+v", a.Verification)
	}
	// Data changed without a new request: not decided either.
	if _, err := st.UpdateAccount(ctx, old.ID, func(a *store.Account) error { a.Passport.Number = "999999"; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := c.Handle(ctx, job(old.ID, "v-04")); err != nil {
		t.Fatal(err)
	}
	if a, _ := st.GetAccount(ctx, old.ID); a.Verification.Status != store.VerificationPending || a.Level != store.LevelSimplified {
		t.Errorf("a check of other data decided: %+v", a.Verification)
	}
	// A deleted account, and arguments that make no sense.
	if err := c.Handle(ctx, job("nobody", "v-05")); err != nil {
		t.Errorf("deleted account: %v", err)
	}
	if err := c.Handle(ctx, &store.Job{Kind: JobKind, Args: []byte("{")}); !errors.Is(err, store.ErrJobPermanent) {
		t.Errorf("bad arguments: %v", err)
	}
	if len(told) != 2 {
		t.Errorf("told %v, want the approval and the rejection", told)
	}
}

func TestCheckerFailures(t *testing.T) {
	ctx := context.Background()
	st := memory.New(nil)
	down := &fakeRegistry{err: transient("down")}
	c := &Checker{Store: st, Registry: down}
	a := pendingAccount(t, st, c, "123456", "v-11")
	if err := c.Handle(ctx, job(a.ID, "v-11")); !errors.Is(err, ErrTransient) {
		t.Fatalf("transient failure: %v, want it returned for a retry", err)
	}
	if got, _ := st.GetAccount(ctx, a.ID); got.Verification.Status != store.VerificationPending {
		t.Errorf("after a transient failure: %+v", got.Verification)
	}
	// The last attempt's transient failure gives the check up, said so:
	// the data are not locked for good.
	last := job(a.ID, "v-11")
	last.Attempt, last.MaxAttempts = 10, 10
	if err := c.Handle(ctx, last); err != nil {
		t.Fatalf("the last attempt: %v", err)
	}
	if got, _ := st.GetAccount(ctx, a.ID); got.Verification.Status != store.VerificationRejected || got.Verification.Reason != "registry_unavailable" {
		t.Errorf("after the last attempt: %+v", got.Verification)
	}
	if _, err := st.UpdateAccount(ctx, a.ID, func(a *store.Account) error { c.Begin(a, "v-11"); return nil }); err != nil {
		t.Fatal(err)
	}
	c.Registry = &fakeRegistry{err: errors.New("registry: the service refused the request (400)")}
	if err := c.Handle(ctx, job(a.ID, "v-11")); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.GetAccount(ctx, a.ID); got.Verification.Status != store.VerificationRejected || got.Verification.Reason != "registry_refused" {
		t.Errorf("after a refusal: %+v", got.Verification)
	}
	// Telling fails: the outcome is not recorded either (one transaction),
	// and the job is tried again.
	b := pendingAccount(t, st, c, "123456", "v-12")
	c.Registry = Simulator{}
	c.Tell = func(context.Context, *store.Account, *store.Verification) error { return errors.New("queue down") }
	if err := c.Handle(ctx, job(b.ID, "v-12")); err == nil {
		t.Fatal("a failed notice was swallowed")
	}
	if got, _ := st.GetAccount(ctx, b.ID); got.Verification.Status != store.VerificationPending || got.Level != store.LevelSimplified {
		t.Errorf("recorded without its notice: %+v", got.Verification)
	}
}

// Through the store's job runner: enqueued in the transaction that saves
// the data, the check runs and decides once.
func TestCheckerJob(t *testing.T) {
	ctx := context.Background()
	st := memory.New(nil)
	reg := &fakeRegistry{res: Result{Outcome: Approved}}
	c := &Checker{Store: st, Registry: reg}
	a := &store.Account{ID: "acc", Level: store.LevelSimplified, LastName: "Иванова", FirstName: "Мария", SNILS: "11223344595"}
	if err := st.CreateAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	cfg := store.DefaultJobConfig()
	cfg.PollInterval, cfg.Backoff = 10*time.Millisecond, 10*time.Millisecond
	runner, err := st.NewJobRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runner.Handle(JobKind, c.Handle)
	if err := runner.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer runner.Stop(ctx)
	// A transaction that fails leaves neither the data nor the job.
	failed := st.Atomically(ctx, func(ctx context.Context) error {
		if _, err := st.UpdateAccount(ctx, a.ID, func(a *store.Account) error { c.Begin(a, "v-21"); return nil }); err != nil {
			return err
		}
		if err := c.Enqueue(ctx, a.ID, "v-21"); err != nil {
			return err
		}
		return errors.New("the page failed")
	})
	if failed == nil {
		t.Fatal("Atomically swallowed the error")
	}
	err = st.Atomically(ctx, func(ctx context.Context) error {
		if _, err := st.UpdateAccount(ctx, a.ID, func(a *store.Account) error { a.Birthdate = "1990-05-17"; c.Begin(a, "v-22"); return nil }); err != nil {
			return err
		}
		return c.Enqueue(ctx, a.ID, "v-22")
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := st.GetAccount(ctx, a.ID)
		if got.Verification.Status == store.VerificationApproved {
			if got.Verification.ID != "v-22" || got.Level != store.LevelStandard {
				t.Fatalf("decided %+v at %s", got.Verification, got.Level)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the check did not run: %+v", got.Verification)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if n := reg.calls.Load(); n != 1 {
		t.Errorf("the registry was asked %d times, want once (the failed transaction's job must not exist)", n)
	}
}
