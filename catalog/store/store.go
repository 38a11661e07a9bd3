// Package store is the catalog portal's storage contract: citizens'
// applications with their status history, the portal's server-side
// sessions with the tokens the provider issued, pending logins (state,
// nonce, PKCE verifier) and the ids of logout tokens already used. The
// memory package is the default; postgres keeps them in a schema of its
// own. storetest is the one conformance suite both pass.
package store

import (
	"context"
	"errors"
	"time"
)

// Errors of the contract; implementations wrap them.
var (
	ErrNotFound = errors.New("catalog store: not found")
	ErrConflict = errors.New("catalog store: already exists")
)

// Status is the state of an application.
type Status string

// The statuses: submitted → in_review → approved or rejected.
const (
	StatusSubmitted Status = "submitted"
	StatusInReview  Status = "in_review"
	StatusApproved  Status = "approved"
	StatusRejected  Status = "rejected"
)

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusSubmitted, StatusInReview, StatusApproved, StatusRejected:
		return true
	}
	return false
}

// Final reports whether no status follows s.
func (s Status) Final() bool { return s == StatusApproved || s == StatusRejected }

// StatusChange is one entry of an application's history.
type StatusChange struct {
	Status  Status
	At      time.Time
	Comment string // the department's comment, if any
}

// Application is a citizen's application for a service.
type Application struct {
	Number    int64  // assigned by CreateApplication, from 1 up
	Subject   string // the citizen's sub at the provider
	ServiceID string
	// Fields are the form's values; Verified names the fields whose value
	// came from a claim the provider had checked.
	Fields   map[string]string
	Verified []string
	Status   Status
	History  []StatusChange // oldest first; the last one is Status
	Created  time.Time
	Updated  time.Time
}

// ApplicationFilter selects applications; empty fields match anything.
type ApplicationFilter struct {
	Subject   string
	ServiceID string
	Status    Status
	// UpdatedBefore, when set, selects applications last changed before it.
	UpdatedBefore time.Time
	Limit         int // 0: no limit
}

// Session is a login at the portal, found by the hash of its cookie.
type Session struct {
	ID      string // the hash of the cookie's value, never the value
	Subject string // sub
	SID     string // the provider's session id (sid), for back-channel logout
	Level   string // the account level claim
	ACR     string
	Name    string // for the header
	// Scopes the provider granted; Claims is the last userinfo answer (JSON).
	Scopes       []string
	Claims       []byte
	AccessToken  string
	RefreshToken string
	IDToken      string
	TokenExpiry  time.Time // of the access token
	Created      time.Time
	Expires      time.Time // of the session
}

// PendingLogin is an authorization request on its way: kept until the
// callback takes it by its state.
type PendingLogin struct {
	State    string
	Browser  string // hash of the browser's login cookie: only that browser may finish it
	Nonce    string
	Verifier string // PKCE
	ReturnTo string // local path to land on
	ACR      string // acr_values asked for (step-up), if any
	Scopes   []string
	Expires  time.Time
}

// Store is the storage contract.
type Store interface {
	// CreateApplication assigns a.Number and stores a (its History must
	// hold at least one entry).
	CreateApplication(ctx context.Context, a *Application) error
	GetApplication(ctx context.Context, number int64) (*Application, error)
	// ListApplications lists the matching applications, newest first.
	ListApplications(ctx context.Context, f ApplicationFilter) ([]Application, error)
	// UpdateApplication runs fn on the current application and stores what
	// it leaves, atomically; an error from fn is returned and nothing is
	// stored.
	UpdateApplication(ctx context.Context, number int64, fn func(*Application) error) error

	// CreateSession stores s; ErrConflict if its ID exists.
	CreateSession(ctx context.Context, s *Session) error
	// GetSession returns a session that has not expired, else ErrNotFound.
	GetSession(ctx context.Context, id string) (*Session, error)
	UpdateSession(ctx context.Context, id string, fn func(*Session) error) error
	DeleteSession(ctx context.Context, id string) error
	// DeleteSessions ends every session of the subject with the provider
	// session sid; an empty sid ends every session of the subject. It
	// returns how many it ended.
	DeleteSessions(ctx context.Context, subject, sid string) (int, error)

	// PutPendingLogin stores p; ErrConflict if its state exists.
	PutPendingLogin(ctx context.Context, p *PendingLogin) error
	// TakePendingLogin returns and removes the pending login of the state,
	// once; ErrNotFound when unknown, taken or expired.
	TakePendingLogin(ctx context.Context, state string) (*PendingLogin, error)

	// UseLogoutJTI records the jti of a logout token until expires;
	// ErrConflict when it was recorded before (a replay).
	UseLogoutJTI(ctx context.Context, jti string, expires time.Time) error

	Ping(ctx context.Context) error
	Close()
}

// Clock is the time source of a store.
type Clock func() time.Time

// Append adds a status change to a and makes it the current status.
func (a *Application) Append(status Status, at time.Time, comment string) {
	a.History = append(a.History, StatusChange{Status: status, At: at, Comment: comment})
	a.Status = status
	a.Updated = at
}
