// Package selfservice holds the citizen's own pages outside the login:
// registration (/register), recovery of a forgotten password (/recover,
// see recover.go), and the account pages (/account), among them the
// security page with the second factors' enrolment.
//
// Registration is a chain of steps, each bound to the one before: the
// citizen's name and a phone or e-mail (/register), the code sent there
// (/register/code), a password (/register/password). The state of a
// registration lives in the ephemeral store under "reg:"+id for at most
// Lifetime, bound to the browser that started it; a step is served only
// when the state says the previous one is done. Whether an account already
// holds the phone or e-mail is looked up only after the code is confirmed:
// before that the pages answer the same for every identifier.
package selfservice

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/esia-oidc/idp/factors"
	"github.com/esia-oidc/idp/factors/captcha"
	"github.com/esia-oidc/idp/factors/codes"
	"github.com/esia-oidc/idp/factors/lockout"
	"github.com/esia-oidc/idp/factors/pow"
	"github.com/esia-oidc/idp/factors/totp"
	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// Passwords hashes new passwords and checks one typed again
// (factors/password).
type Passwords interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (bool, error)
}

// Login is the part of the hosted login (idp/login) the pages use: a
// registration started from a login flow returns to it, and the account
// pages start a local login.
type Login interface {
	// Continue takes up a login flow with a session just started; false
	// when the flow is gone.
	Continue(w http.ResponseWriter, r *http.Request, flowID string, sso *session.Session, browser string) bool
	// FlowClient names the client a flow logs in to; ok false when the
	// flow is gone.
	FlowClient(r *http.Request, flowID string) (name string, ok bool)
	// StartLocal sends the browser to log in and come back to returnTo.
	StartLocal(w http.ResponseWriter, r *http.Request, returnTo string)
	// StepUpLocal sends the browser to prove a second factor (after the
	// password, when the session has none) and come back to returnTo.
	StepUpLocal(w http.ResponseWriter, r *http.Request, returnTo string)
}

// Pages serves the self-service pages. Every field but Logger and Notify
// is required.
type Pages struct {
	Pages *web.Renderer
	CSRF  *web.CSRF
	Codes *codes.Codes
	// Factors are the second factors the security page enrols and the
	// recovery asks; TOTP and Backup make new ones.
	Factors   *factors.Registry
	TOTP      *totp.TOTP
	Backup    *factors.Backup
	Passwords Passwords
	Accounts  store.Accounts
	// Atomic groups the writes of a change and the jobs it starts.
	Atomic store.Atomic
	// Audit keeps the trail of what citizens do to their accounts.
	Audit store.Audit
	// Event records an account event for the security page's history; may
	// be nil.
	Event func(ctx context.Context, accountID, action string, details map[string]string)
	// Checker starts registry checks of saved personal data; nil when no
	// registry is configured (the data are saved unchecked).
	Checker Checker
	// State keeps registrations in progress.
	State store.Entries
	// Counters count changes of identifying numbers (personal data).
	Counters store.Counters
	Sessions *session.Manager
	// Limiter counts wrong passwords typed again for a sensitive change
	// towards the account's login lockout.
	Limiter *lockout.Limiter
	Login   Login
	// Notify sends a message; it must not block the page on a slow
	// gateway (the server queues it).
	Notify func(ctx context.Context, m notify.Message)
	// Notices enqueues a notification within a transaction (letters).
	Notices Notices
	// LetterKey keys the hashes of letter codes (at least 32 bytes).
	LetterKey []byte
	ClientIP  func(*http.Request) netip.Addr
	NewID     func() string
	Now       store.Clock
	Logger    *slog.Logger
	// Lifetime bounds a registration left half-way (30 minutes when zero).
	Lifetime time.Duration
	// Revoke revokes every code, refresh and access token of the account
	// (of one client, when clientID is set): after a password reset,
	// before a deletion, when a consent is revoked; nil revokes nothing.
	Revoke func(ctx context.Context, accountID, clientID string) error
	// Consents are the account's remembered consents, listed and revoked
	// on the security page.
	Consents store.Consents
	// Clients names the clients of the consents; a client gone is shown by
	// its id.
	Clients interface {
		GetClient(ctx context.Context, id string) (*store.Client, error)
	}
	// BankName names a configured bank in the language ("" when the bank
	// is not configured); nil shows banks by id.
	BankName func(id, lang string) string
	// PoW makes and checks the proof of work that repeated recoveries from
	// one address must bring; nil asks none. Captcha is the image a
	// browser without JavaScript is asked to read instead; nil offers
	// none.
	PoW     *pow.PoW
	Captcha *captcha.Captcha
}

// Mount registers the pages.
func (p *Pages) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /register", p.handleRegisterPage)
	mux.HandleFunc("POST /register", p.handleRegister)
	mux.HandleFunc("GET /register/code", p.handleCodePage)
	mux.HandleFunc("POST /register/code", p.handleCode)
	mux.HandleFunc("GET /register/password", p.handlePasswordPage)
	mux.HandleFunc("POST /register/password", p.handlePassword)
	mux.HandleFunc("GET /recover", p.handleRecoverPage)
	mux.HandleFunc("POST /recover", p.handleRecover)
	mux.HandleFunc("GET /recover/code", p.handleRecoverCodePage)
	mux.HandleFunc("POST /recover/code", p.handleRecoverCode)
	mux.HandleFunc("GET /recover/factor", p.handleRecoverFactorPage)
	mux.HandleFunc("POST /recover/factor", p.handleRecoverFactor)
	mux.HandleFunc("GET /recover/password", p.handleRecoverPasswordPage)
	mux.HandleFunc("POST /recover/password", p.handleRecoverPassword)
	mux.HandleFunc("GET /account", p.handleAccount)
	mux.HandleFunc("GET /account/personal", p.handlePersonalPage)
	mux.HandleFunc("POST /account/personal", p.handlePersonal)
	mux.HandleFunc("GET /account/confirm/letter", p.handleLetterPage)
	mux.HandleFunc("POST /account/confirm/letter", p.handleLetter)
	mux.HandleFunc("GET /account/confirm/code", p.handleLetterCodePage)
	mux.HandleFunc("POST /account/confirm/code", p.handleLetterCode)
	mux.HandleFunc("GET /account/security", p.handleSecurityPage)
	mux.HandleFunc("POST /account/security", p.handleSecurity)
	mux.HandleFunc("GET /account/security/confirm", p.handleSecurityStepUp)
	mux.HandleFunc("GET /account/security/totp", p.handleTOTPPage)
	mux.HandleFunc("POST /account/security/totp", p.handleTOTP)
	mux.HandleFunc("GET /account/password", p.handlePasswordChangePage)
	mux.HandleFunc("POST /account/password", p.handlePasswordChange)
	mux.HandleFunc("GET /account/delete", p.handleDeletePage)
	mux.HandleFunc("POST /account/delete", p.handleDelete)
	mux.HandleFunc("GET /account/contacts", p.handleContactsPage)
	mux.HandleFunc("POST /account/contacts", p.handleContacts)
	mux.HandleFunc("GET /account/contacts/code", p.handleChangeCodePage)
	mux.HandleFunc("POST /account/contacts/code", p.handleChangeCode)
}

func (p *Pages) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}

func (p *Pages) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

func (p *Pages) lifetime() time.Duration {
	if p.Lifetime <= 0 {
		return 30 * time.Minute
	}
	return p.Lifetime
}

// checkCSRF verifies the form's token bound to bind, or renders the error page.
func (p *Pages) checkCSRF(w http.ResponseWriter, r *http.Request, bind string) bool {
	if p.CSRF.Verify(r, bind) {
		return true
	}
	p.Pages.Error(w, r, &web.PageError{Status: http.StatusForbidden, Key: "error.csrf"})
	return false
}

// currentAccount returns the account of the browser's SSO session, or nil
// when there is none (or it has gone).
func (p *Pages) currentAccount(r *http.Request) (*store.Account, *session.Session, error) {
	s, err := p.Sessions.Current(r)
	if err != nil || s == nil {
		return nil, nil, err
	}
	a, err := p.Accounts.GetAccount(r.Context(), s.AccountID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	// An account that asks for its second factor at every login is not
	// signed in by a session that proved only a password (a login left at
	// the factor step): the pages send it back to the login.
	if a.Factors != nil && a.Factors.Required && a.Factors.Any() && !factors.MultiFactor(s.AMR) {
		return nil, nil, nil
	}
	return a, s, nil
}

// event records an account event, if a recorder is set.
func (p *Pages) event(ctx context.Context, accountID, action string, details map[string]string) {
	if p.Event != nil {
		p.Event(ctx, accountID, action, details)
	}
}
