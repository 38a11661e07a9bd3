// Package registry checks a citizen's personal data against the state
// registries (the standard level): a Registry interface, an HTTP adapter to
// an external verification service, and a simulator for development and
// tests. The check runs as a durable job (see Handler in the server's
// wiring): the adapter makes one attempt per call, and the job retries
// what failed for a reason that may pass (ErrTransient).
package registry

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Request is what is checked: the personal data as the citizen entered
// them. ID is the verification's id; a service may use it to answer a
// repeated request with the same outcome (the job may send one twice after
// a crash).
type Request struct {
	ID         string    `json:"request_id"`
	LastName   string    `json:"last_name"`
	FirstName  string    `json:"first_name"`
	MiddleName string    `json:"middle_name,omitempty"`
	BirthDate  string    `json:"birth_date"` // YYYY-MM-DD
	Gender     string    `json:"gender,omitempty"`
	SNILS      string    `json:"snils"` // 11 digits
	INN        string    `json:"inn,omitempty"`
	Document   *Document `json:"document,omitempty"`
}

// Document is the identity document checked with the SNILS.
type Document struct {
	Type           string `json:"type"` // "RF_PASSPORT" or "FOREIGN"
	Series         string `json:"series,omitempty"`
	Number         string `json:"number"`
	IssueDate      string `json:"issue_date"` // YYYY-MM-DD
	DepartmentCode string `json:"department_code,omitempty"`
	Issuer         string `json:"issuer,omitempty"`
	ExpiryDate     string `json:"expiry_date,omitempty"`
	Citizenship    string `json:"citizenship,omitempty"` // ISO 3166 alpha-3
}

// Document types.
const (
	DocPassport = "RF_PASSPORT"
	DocForeign  = "FOREIGN"
)

// Outcome is what the registries said.
type Outcome string

// Outcomes.
const (
	Approved Outcome = "approved"
	Rejected Outcome = "rejected"
)

// Result is a decided check. Reason is a short machine-readable code of a
// rejection ("passport_not_found", "snils_mismatch", ...); Message the
// service's words for a person, which may be shown to the citizen.
type Result struct {
	Outcome Outcome `json:"status"`
	Reason  string  `json:"reason,omitempty"`
	Message string  `json:"message,omitempty"`
}

// Registry checks personal data.
type Registry interface {
	// Check asks once. An error wrapping ErrTransient may pass later (the
	// service is down, slow, or still deciding); any other error will not
	// (the service refused the request as malformed).
	Check(ctx context.Context, req Request) (Result, error)
}

// ErrTransient marks a failure worth trying again later.
var ErrTransient = errors.New("registry: try again later")

// transient wraps err as worth trying again.
func transient(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrTransient, fmt.Sprintf(format, args...))
}

// Simulator plays the registries in development and tests (design.md): it
// approves every well-formed record except one whose passport number is
// 000000 ("passport not found"), after Delay.
type Simulator struct {
	Delay time.Duration
}

// RejectedPassportNumber is the passport number the simulator does not find.
const RejectedPassportNumber = "000000"

// Check answers after the delay.
func (s Simulator) Check(ctx context.Context, req Request) (Result, error) {
	if s.Delay > 0 {
		t := time.NewTimer(s.Delay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return Result{}, transient("the check was cut short: %v", ctx.Err())
		case <-t.C:
		}
	}
	switch {
	case req.SNILS == "" || req.LastName == "" || req.FirstName == "" || req.BirthDate == "" || req.Document == nil || req.Document.Number == "":
		return Result{Outcome: Rejected, Reason: "incomplete", Message: "not enough data to check"}, nil
	case req.Document.Number == RejectedPassportNumber:
		return Result{Outcome: Rejected, Reason: "passport_not_found", Message: "passport not found"}, nil
	}
	return Result{Outcome: Approved}, nil
}
