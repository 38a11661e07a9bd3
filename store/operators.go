package store

import (
	"context"
	"time"
)

// Service-centre operators and the audit trail.

// Operator roles.
const (
	RoleOperator   = "operator"   // confirms identities at a service centre
	RoleSupervisor = "supervisor" // also reads the audit trail
)

// Operator is a service-centre employee who uses the operator console.
type Operator struct {
	ID           string
	Login        string // unique
	Name         string
	PasswordHash string // PHC string (argon2id)
	Roles        []string
	Disabled     bool

	CreatedAt time.Time
	UpdatedAt time.Time
}

// HasRole reports whether the operator has the role.
func (o *Operator) HasRole(r string) bool {
	for _, have := range o.Roles {
		if have == r {
			return true
		}
	}
	return false
}

// Operators stores operator accounts.
type Operators interface {
	// CreateOperator stores a new operator; ErrConflict when the ID or the
	// login is taken.
	CreateOperator(ctx context.Context, o *Operator) error
	// GetOperator returns the operator with the ID, or ErrNotFound.
	GetOperator(ctx context.Context, id string) (*Operator, error)
	// FindOperator returns the operator with the login, or ErrNotFound.
	FindOperator(ctx context.Context, login string) (*Operator, error)
	// ListOperators returns every operator ordered by login.
	ListOperators(ctx context.Context) ([]*Operator, error)
	// UpdateOperator applies update in one transaction (see UpdateAccount);
	// ErrConflict when the new login is taken.
	UpdateOperator(ctx context.Context, id string, update func(*Operator) error) (*Operator, error)
}

// AuditEvent is one entry of the audit trail. It names the account by id
// and holds no personal data.
type AuditEvent struct {
	ID        string // sorts by time; see NewAuditID
	At        time.Time
	Actor     string // "operator:<id>", "citizen:<id>", "admin", "system"
	Action    string // such as "account.confirm"
	AccountID string // empty when no account is concerned
	Details   map[string]string
}

// AuditQuery selects audit events. Empty fields do not filter.
type AuditQuery struct {
	AccountID string
	Actor     string
	Before    string // only events whose ID sorts before this one (the cursor of the next page)
	Limit     int    // at most this many; 0 or less means DefaultAuditLimit
}

// DefaultAuditLimit is the page size of ListAudit when the query sets none;
// MaxAuditLimit the largest it honours.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// PageSize is the number of events the query asks for, within
// [1, MaxAuditLimit]: DefaultAuditLimit when Limit is not positive.
func (q AuditQuery) PageSize() int {
	if q.Limit <= 0 {
		return DefaultAuditLimit
	}
	return min(q.Limit, MaxAuditLimit)
}

// Audit stores the audit trail; events are never changed once appended.
type Audit interface {
	// AppendAudit stores e. A zero At is set from the store's clock and an
	// empty ID from At (NewAuditID); both are written back to e.
	// ErrConflict when the ID is taken.
	AppendAudit(ctx context.Context, e *AuditEvent) error
	// ListAudit returns the events the query selects, newest (greatest ID)
	// first.
	ListAudit(ctx context.Context, q AuditQuery) ([]*AuditEvent, error)
}
