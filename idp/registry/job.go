package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/store"
)

// JobKind is the kind of the durable job that runs a registry check.
const JobKind = "registry.check"

// jobArgs name the check: the account and its verification, whose ID the
// job compares with the account's current one (a newer request supersedes
// an older job).
type jobArgs struct {
	AccountID      string `json:"account_id"`
	VerificationID string `json:"verification_id"`
}

// Store is what the checker reads and writes.
type Store interface {
	store.Accounts
	store.Jobs
	store.Atomic
}

// Outcome notices: what the citizen is told, given a context of the
// transaction that records the outcome (so the notice is sent if and only
// if the outcome is recorded).
type Tell func(ctx context.Context, a *store.Account, v *store.Verification) error

// Checker requests registry checks and records their outcomes.
type Checker struct {
	Store    Store
	Registry Registry
	// Tell, when set, tells the citizen the outcome.
	Tell Tell
	Now  store.Clock
	// MaxAttempts of a check's job (the runner's default when zero).
	MaxAttempts int
}

func (c *Checker) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// Begin marks the account's personal data, as they are now, as waiting
// for the check id: call it in the update that saves the data. Enqueue
// then adds the check's job, in the same transaction (Atomically).
func (c *Checker) Begin(a *store.Account, id string) {
	a.Verification = &store.Verification{ID: id, Status: store.VerificationPending, Digest: account.CheckedDigest(a), RequestedAt: c.now().UTC()}
}

// Enqueue adds the job of the check id of the account; with a context of
// Atomically, the job exists only if the transaction commits.
func (c *Checker) Enqueue(ctx context.Context, accountID, id string) error {
	args, err := json.Marshal(jobArgs{AccountID: accountID, VerificationID: id})
	if err != nil {
		return err
	}
	return c.Store.EnqueueJob(ctx, JobKind, args, store.JobOptions{MaxAttempts: c.MaxAttempts})
}

// RequestOf is what is sent to the registries for the account.
func RequestOf(a *store.Account) Request {
	req := Request{
		LastName: a.LastName, FirstName: a.FirstName, MiddleName: a.MiddleName, BirthDate: a.Birthdate,
		Gender: a.Gender, SNILS: a.SNILS, INN: a.INN,
	}
	if a.Verification != nil {
		req.ID = a.Verification.ID
	}
	switch {
	case a.Passport != nil:
		d := a.Passport
		req.Document = &Document{Type: DocPassport, Series: d.Series, Number: d.Number, IssueDate: d.IssueDate, DepartmentCode: d.DepartmentCode, Issuer: d.Issuer, ExpiryDate: d.ExpiryDate, Citizenship: a.Citizenship}
	case a.ForeignDocument != nil:
		d := a.ForeignDocument
		req.Document = &Document{Type: DocForeign, Series: d.Series, Number: d.Number, IssueDate: d.IssueDate, Issuer: d.Issuer, ExpiryDate: d.ExpiryDate, Citizenship: a.Citizenship}
	}
	return req
}

// errSuperseded: the account no longer waits for this check.
var errSuperseded = errors.New("registry: the check was superseded")

// Handle is the job: it asks the registries and records the outcome once.
// A job whose check was superseded (newer data, a newer request) or already
// decided does nothing, so a job run again after a crash cannot record a
// second outcome. A transient failure is retried with backoff; a refusal
// by the service is recorded as a rejection the citizen can fix.
func (c *Checker) Handle(ctx context.Context, j *store.Job) error {
	var args jobArgs
	if err := json.Unmarshal(j.Args, &args); err != nil {
		return fmt.Errorf("%w: registry job arguments: %v", store.ErrJobPermanent, err)
	}
	a, err := c.Store.GetAccount(ctx, args.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return err
	}
	if !waiting(a, args.VerificationID) {
		return nil
	}
	res, err := c.Registry.Check(ctx, RequestOf(a))
	switch {
	case errors.Is(err, ErrTransient) && j.MaxAttempts > 0 && j.Attempt >= j.MaxAttempts:
		// The last attempt: the check is given up, and said so, so that
		// the data are not locked for good and the citizen may save again.
		res = Result{Outcome: Rejected, Reason: "registry_unavailable", Message: "the verification service did not answer"}
	case errors.Is(err, ErrTransient):
		return err
	case err != nil:
		res = Result{Outcome: Rejected, Reason: "registry_refused", Message: "the verification service refused the request"}
	}
	return c.record(ctx, args, res)
}

// waiting reports whether the account still waits for the check id, on the
// data it was asked about.
func waiting(a *store.Account, id string) bool {
	v := a.Verification
	return v != nil && v.ID == id && v.Status == store.VerificationPending && v.Digest == account.CheckedDigest(a)
}

// record writes the outcome (and the notice) in one transaction, if the
// account still waits for this check.
func (c *Checker) record(ctx context.Context, args jobArgs, res Result) error {
	err := c.Store.Atomically(ctx, func(ctx context.Context) error {
		now := c.now().UTC()
		a, err := c.Store.UpdateAccount(ctx, args.AccountID, func(a *store.Account) error {
			if !waiting(a, args.VerificationID) {
				return errSuperseded
			}
			v := a.Verification
			v.DecidedAt = now
			switch res.Outcome {
			case Approved:
				v.Status, v.Reason = store.VerificationApproved, ""
				a.Evidence = append(a.Evidence, store.Evidence{Kind: store.EvidenceRegistry, At: now, Ref: v.ID, Digest: v.Digest})
				if a.Level.Rank() < store.LevelStandard.Rank() {
					a.Level = store.LevelStandard
				}
				// A bank that identified the citizen in person vouched for
				// these data before the check (registration through it).
				account.ConfirmWaiting(a)
			default:
				v.Status, v.Reason = store.VerificationRejected, res.Reason
				if v.Reason == "" {
					v.Reason = "rejected"
				}
			}
			a.UpdatedAt = now
			return nil
		})
		if err != nil {
			return err
		}
		if c.Tell != nil {
			return c.Tell(ctx, a, a.Verification)
		}
		return nil
	})
	if errors.Is(err, errSuperseded) || errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}
