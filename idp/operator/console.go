// Package operator is the service-centre console (/operator): operators log
// in with their own login and password (never the admin token, never a
// citizen's session), find a citizen by SNILS, passport, phone or e-mail,
// and confirm their identity after checking the passport in person, unlock
// the account, or refuse the confirmation. Every action, and every look at
// a citizen's data, is an audit event with the operator's id; a supervisor
// reads the audit trail.
package operator

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/esia-oidc/idp/factors/lockout"
	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// Store is what the console reads and writes.
type Store interface {
	store.Accounts
	store.Operators
	store.Audit
	store.Atomic
}

// Passwords verifies operators' passwords (factors/password).
type Passwords interface {
	Verify(ctx context.Context, password, encoded string) (bool, error)
	VerifyDummy(ctx context.Context, password string) (bool, error)
}

// Console serves /operator. Every field but Logger and Notify is required.
type Console struct {
	Pages     *web.Renderer
	CSRF      *web.CSRF
	Cookies   web.Cookies
	Store     Store
	Passwords Passwords
	Limiter   *lockout.Limiter
	// Sessions keeps operator sessions (the ephemeral store).
	Sessions store.Entries
	ClientIP func(*http.Request) netip.Addr
	// Unlock lifts the account's login lockout.
	Unlock func(ctx context.Context, accountID string) error
	// Notify tells the citizen (without blocking the page); may be nil.
	Notify func(ctx context.Context, m notify.Message)
	Now    store.Clock
	Logger *slog.Logger
	// SessionLifetime bounds an operator's session (8 hours when zero):
	// a working day, then log in again.
	SessionLifetime time.Duration
}

// Mount registers the console's pages.
func (c *Console) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /operator/login", c.handleLoginPage)
	mux.HandleFunc("POST /operator/login", c.handleLogin)
	mux.HandleFunc("POST /operator/logout", c.handleLogout)
	mux.HandleFunc("GET /operator", c.operatorOnly(c.handleSearch))
	mux.HandleFunc("GET /operator/accounts/{id}", c.operatorOnly(c.handleAccount))
	mux.HandleFunc("POST /operator/accounts/{id}", c.operatorOnly(c.handleAction))
	mux.HandleFunc("GET /operator/audit", c.operatorOnly(c.handleAudit))
}

func (c *Console) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.Default()
	}
	return c.Logger
}

func (c *Console) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c *Console) lifetime() time.Duration {
	if c.SessionLifetime <= 0 {
		return 8 * time.Hour
	}
	return c.SessionLifetime
}

// sessionCookie is the operator session's cookie (apart from the
// citizens' SSO cookie).
const sessionCookie = "operator"

// opSession is an operator's session in the ephemeral store, under the
// hash of the cookie's value.
type opSession struct {
	OperatorID string    `json:"operator_id"`
	Started    time.Time `json:"started"`
}

func sessionKey(cookie string) string {
	h := sha256.Sum256([]byte(cookie))
	return "operator-session:" + hex.EncodeToString(h[:])
}

// startSession logs the operator in on this browser.
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, op *store.Operator) error {
	b := make([]byte, 32)
	rand.Read(b)
	cookie := base64.RawURLEncoding.EncodeToString(b)
	data, err := json.Marshal(opSession{OperatorID: op.ID, Started: c.now().UTC()})
	if err != nil {
		return err
	}
	if err := c.Sessions.PutEntry(r.Context(), sessionKey(cookie), data, c.lifetime()); err != nil {
		return err
	}
	c.Cookies.Set(w, sessionCookie, cookie, 0)
	return nil
}

// current returns the operator of the request's session, or nil.
func (c *Console) current(r *http.Request) (*store.Operator, error) {
	cookie := c.Cookies.Get(r, sessionCookie)
	if cookie == "" || len(cookie) > 64 {
		return nil, nil
	}
	data, err := c.Sessions.GetEntry(r.Context(), sessionKey(cookie))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s opSession
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, nil
	}
	op, err := c.Store.GetOperator(r.Context(), s.OperatorID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if op.Disabled || !(op.HasRole(store.RoleOperator) || op.HasRole(store.RoleSupervisor)) {
		return nil, nil
	}
	return op, nil
}

// operatorOnly serves h to a logged-in operator and sends anyone else to
// the console's login.
func (c *Console) operatorOnly(h func(http.ResponseWriter, *http.Request, *store.Operator)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		op, err := c.current(r)
		if err != nil {
			c.Pages.Error(w, r, err)
			return
		}
		if op == nil {
			if r.Method != http.MethodGet {
				c.Pages.Error(w, r, &web.PageError{Status: http.StatusForbidden, Key: "operator.login_needed"})
				return
			}
			http.Redirect(w, r, "/operator/login", http.StatusSeeOther)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r, op)
	}
}

// audit records an operator's action; the action must not go unrecorded,
// so a failure to record it fails the action's page.
func (c *Console) audit(ctx context.Context, op *store.Operator, action, accountID string, details map[string]string) error {
	return c.Store.AppendAudit(ctx, &store.AuditEvent{
		Actor: "operator:" + op.ID, Action: action, AccountID: accountID, Details: details,
	})
}

// csrfBind binds the console's form tokens to the operator (or, on the
// login page, to the console).
func csrfBind(op *store.Operator) string {
	if op == nil {
		return "operator"
	}
	return "operator:" + op.ID
}

func (c *Console) checkCSRF(w http.ResponseWriter, r *http.Request, op *store.Operator) bool {
	if c.CSRF.Verify(r, csrfBind(op)) {
		return true
	}
	c.Pages.Error(w, r, &web.PageError{Status: http.StatusForbidden, Key: "error.csrf"})
	return false
}
