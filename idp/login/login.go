package login

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/esia-oidc/idp/consent"
	"github.com/esia-oidc/idp/factors"
	"github.com/esia-oidc/idp/factors/lockout"
	"github.com/esia-oidc/idp/idp/httpx"
	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// Protocol is the authorization protocol's side of a flow (idp/oidc). The
// login calls it once per flow, when the flow ends.
type Protocol interface {
	// Finish completes the flow's authorization for the account: the
	// client gets its code, with acr and amr from the flow's proofs.
	Finish(w http.ResponseWriter, r *http.Request, f *Flow, acct *store.Account)
	// Fail ends the flow's authorization with one of the errors below
	// (ErrLoginRequired, ErrConsentRequired, ErrUnmetLevel, ErrAccessDenied,
	// ErrWrongCitizen), which the client is told.
	Fail(w http.ResponseWriter, r *http.Request, f *Flow, err error)
	// Accepts reports whether the account may answer the flow's request
	// (a request may name the citizen it wants: the claims parameter's sub).
	Accepts(f *Flow, accountID string) bool
}

// Why a flow fails; the protocol maps each to its error for the client.
var (
	ErrLoginRequired   = errors.New("login: the citizen must log in, and no page may be shown")
	ErrConsentRequired = errors.New("login: the citizen must consent, and no page may be shown")
	ErrUnmetLevel      = errors.New("login: the account's level is below what the request needs")
	ErrAccessDenied    = errors.New("login: the citizen declined")
	ErrWrongCitizen    = errors.New("login: the citizen who logged in is not the one the request names")
)

// Passwords verifies passwords (factors/password).
type Passwords interface {
	Verify(ctx context.Context, password, encoded string) (bool, error)
	VerifyDummy(ctx context.Context, password string) (bool, error)
	NeedsRehash(encoded string) bool
	Hash(ctx context.Context, password string) (string, error)
}

// Clients finds registered clients (the protocol's cached view).
type Clients interface {
	GetClient(ctx context.Context, id string) (*store.Client, error)
}

// Accounts is what the login reads and writes of accounts and consents.
type Accounts interface {
	store.Accounts
	store.BankLinks
	store.Consents
}

// Login runs the hosted login: the engine and its steps. Every field but
// LoginOutcome and Logger is required.
type Login struct {
	Pages     *web.Renderer
	CSRF      *web.CSRF
	Passwords Passwords
	Limiter   *lockout.Limiter
	ClientIP  func(*http.Request) netip.Addr
	Sessions  *session.Manager
	Accounts  Accounts
	Clients   Clients
	// Flows keeps the flows (and the per-account login markers).
	Flows        store.Entries
	FlowLifetime time.Duration
	Protocol     Protocol
	Now          store.Clock
	Logger       *slog.Logger
	// LoginOutcome is told of every login attempt (metrics); may be nil.
	LoginOutcome func(outcome string)
	// Event records what happened to an account for its owner's history
	// (the security page): logins, failed passwords, consents. May be nil.
	Event func(ctx context.Context, accountID, action string, details map[string]string)
	// Factors are the second factors a login may ask.
	Factors *factors.Registry
	// Notify sends a message (a login code); it must not block the page.
	Notify func(ctx context.Context, m notify.Message)

	// Banks are the banks a citizen may log in through (bank*.go); nil:
	// none. Issuer is the public base URL (the QR hand-off's links). An
	// account registered through a bank is made with NewAccountID in one
	// transaction (Atomic) with its registry check's job (Registry; nil:
	// no checks).
	Banks        Banks
	Issuer       string
	NewAccountID func() string
	Atomic       store.Atomic
	Registry     RegistryChecker
	// Signature is the electronic-signature login; nil when off.
	Signature *Signature
}

// Mount registers the steps' pages.
func (l *Login) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /authorize/cancel", l.handleCancel)
	mux.HandleFunc("GET /login/resume", l.handleResume)
	mux.HandleFunc("GET /login", l.handleLoginPage)
	mux.HandleFunc("POST /login", l.handleLogin)
	mux.HandleFunc("GET /login/factor", l.handleFactorPage)
	mux.HandleFunc("POST /login/factor", l.handleFactor)
	mux.HandleFunc("GET /login/bank", l.handleBankPage)
	mux.HandleFunc("POST /login/bank", l.handleBankStart)
	mux.HandleFunc("GET /login/bank/callback", l.handleBankCallback)
	mux.HandleFunc("GET /login/bank/link", l.handleBankLinkPage)
	mux.HandleFunc("POST /login/bank/link", l.handleBankLink)
	mux.HandleFunc("GET /login/bank/register", l.handleBankRegisterPage)
	mux.HandleFunc("POST /login/bank/register", l.handleBankRegister)
	mux.HandleFunc("GET /login/bank/qr", l.handleHandoffPage)
	mux.HandleFunc("GET /login/bank/qr/status", l.handleHandoffStatus)
	mux.HandleFunc("GET /login/bank/m/{id}", l.handlePhonePage)
	mux.HandleFunc("POST /login/bank/m/{id}", l.handlePhone)
	mux.HandleFunc("GET /login/signature", l.handleSignaturePage)
	mux.HandleFunc("POST /login/signature", l.handleSignature)
	mux.HandleFunc("GET "+tlsDonePath, l.handleTLSDone)
	mux.HandleFunc("GET /consent", l.handleConsentPage)
	mux.HandleFunc("POST /consent", l.handleConsent)
}

func (l *Login) logger() *slog.Logger {
	if l.Logger == nil {
		return slog.Default()
	}
	return l.Logger
}

func (l *Login) now() time.Time {
	if l.Now == nil {
		return time.Now()
	}
	return l.Now()
}

// event records an account event, if a recorder is set; a failure to record
// is logged and does not fail the login.
func (l *Login) event(ctx context.Context, accountID, action string, details map[string]string) {
	if l.Event != nil && accountID != "" {
		l.Event(ctx, accountID, action, details)
	}
}

func (l *Login) outcome(o string) {
	if l.LoginOutcome != nil {
		l.LoginOutcome(o)
	}
}

// Start runs a new flow as far as it can go without the citizen.
func (l *Login) Start(w http.ResponseWriter, r *http.Request, f *Flow) {
	l.advance(w, r, f, nil)
}

// advance is the engine: it takes a flow as far as it can go, picking the
// next step (identify, raise the level, consent) or finishing the flow.
// fresh is the session this response has just started, if any; otherwise
// the browser's session is read from the request.
func (l *Login) advance(w http.ResponseWriter, r *http.Request, f *Flow, fresh *session.Session) {
	ctx := r.Context()
	sso := fresh
	if sso == nil {
		sso = l.currentSession(r)
	}
	// A flow stays bound to the session that authenticated it. Once that
	// session has ended (logout) or another has replaced it (someone else
	// logged in on this browser), the flow forgets who logged in and what
	// they allowed: a consent page left open cannot finish the flow for the
	// previous citizen.
	if f.AccountID != "" && (sso == nil || sso.ID != f.SID) {
		f.forgetLogin()
	}

	// Step: identify. The browser's session serves unless the request
	// wants a fresh login, a more recent one, or another citizen.
	if f.AccountID == "" {
		if sso != nil && !f.Needs.PromptLogin && l.recentEnough(f, sso.AuthTime) && l.accepts(f, sso.AccountID) {
			f.AccountID, f.SID = sso.AccountID, sso.ID
			for _, m := range sso.AMR {
				f.Proofs = append(f.Proofs, Proof{Method: m, At: sso.AuthTime})
			}
		} else {
			if f.Needs.PromptNone {
				l.fail(w, r, f, ErrLoginRequired)
				return
			}
			l.redirectToStep(w, r, f, "/login")
			return
		}
	}
	acct, err := l.Accounts.GetAccount(ctx, f.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		// The account went away while logged in.
		l.endSession(w, r)
		f.forgetLogin()
		f.Browser = l.CSRF.Browser(w, r) // endSession rotated the browser id
		l.redirectToStep(w, r, f, "/login")
		return
	}
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	if !l.accepts(f, acct.ID) {
		l.fail(w, r, f, ErrWrongCitizen)
		return
	}
	// Step: a certificate the flow brought is bound, proven, and may
	// confirm the identity (signature_bind.go).
	if f.Signature != nil && !l.signatureBind(w, r, f, acct, sso) {
		return
	}

	// Step: the second factor, when the request or the account asks for
	// one and the login has proven none yet. A session that proved only
	// its password is stepped up: only the missing factor is asked.
	if l.wantsSecondFactor(f, acct) && !f.SecondFactorDone() {
		if f.Needs.PromptNone {
			l.fail(w, r, f, ErrLoginRequired)
			return
		}
		l.redirectToStep(w, r, f, "/login/factor")
		return
	}
	// Step: a bank the citizen chose to link after the password, linked
	// now that the second factor is proven too (bank_account.go).
	if f.BankLink != nil && !l.bankLinkAfterFactor(w, r, f, acct, sso) {
		return
	}
	if f.Local() {
		// The provider's own pages: no level to reach, nothing to consent.
		l.dropFlow(ctx, f)
		http.Redirect(w, r, f.Return, http.StatusSeeOther)
		return
	}

	// Step: raise the level. The page explains how; its link gives up.
	if acct.Level.Rank() < f.Needs.MinLevel.Rank() {
		if f.Needs.PromptNone {
			l.fail(w, r, f, ErrUnmetLevel)
			return
		}
		l.levelUp(w, r, f, acct)
		return
	}

	// Step: consent, for the scopes the account's level can release.
	requested := consent.Grantable(acct.Level, f.Needs.Scopes)
	if !f.Consented && consent.NeedsQuestion(requested) != nil {
		remembered, err := l.Accounts.GetConsent(ctx, acct.ID, f.ClientID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			l.Pages.Error(w, r, err)
			return
		}
		if remembered == nil || f.Needs.PromptConsent || !consent.Covered(remembered.Scopes, requested) {
			if f.Needs.PromptNone {
				l.fail(w, r, f, ErrConsentRequired)
				return
			}
			l.redirectToStep(w, r, f, "/consent")
			return
		}
	}

	// Done: the session signed the citizen in to this client (what
	// back-channel logout tells when it ends), and the protocol issues.
	if err := l.Sessions.AddClient(ctx, f.SID, f.ClientID); err != nil {
		l.logger().WarnContext(ctx, "record the session's client", "err", err)
	}
	l.dropFlow(ctx, f)
	l.Protocol.Finish(w, r, f, acct)
}

// accepts asks the protocol whether the account may answer the flow's
// request; a local flow takes anyone.
func (l *Login) accepts(f *Flow, accountID string) bool {
	return f.Local() || l.Protocol.Accepts(f, accountID)
}

// recentEnough reports whether an authentication at authTime satisfies the
// flow's max_age.
func (l *Login) recentEnough(f *Flow, authTime time.Time) bool {
	return f.Needs.MaxAge == nil || !l.now().After(authTime.Add(*f.Needs.MaxAge))
}

// fail ends the flow and tells the client why; a local flow has no client,
// and ends on the page it started from.
func (l *Login) fail(w http.ResponseWriter, r *http.Request, f *Flow, err error) {
	l.dropFlow(r.Context(), f)
	if f.Local() {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	l.Protocol.Fail(w, r, f, err)
}

// StartLocal starts a local flow: the citizen logs in to the provider's own
// pages and comes back to returnTo, a local path (it must start with one
// slash; anything else returns to /account).
func (l *Login) StartLocal(w http.ResponseWriter, r *http.Request, returnTo string) {
	if !localPath(returnTo) {
		returnTo = "/account"
	}
	f := &Flow{
		ID:          NewID(),
		RequestedAt: l.now().UTC(),
		Browser:     l.CSRF.Browser(w, r),
		Return:      returnTo,
	}
	l.Start(w, r, f)
}

// StepUpLocal starts a local flow that needs a second factor: a citizen
// signed in with a password alone proves one of their factors (only that
// is asked) and comes back to returnTo, a local path.
func (l *Login) StepUpLocal(w http.ResponseWriter, r *http.Request, returnTo string) {
	if !localPath(returnTo) {
		returnTo = "/account"
	}
	f := &Flow{
		ID:          NewID(),
		RequestedAt: l.now().UTC(),
		Browser:     l.CSRF.Browser(w, r),
		Return:      returnTo,
		Needs:       Requirements{MFA: true},
	}
	l.Start(w, r, f)
}

// Continue takes up the flow named flowID after a login made outside the
// flow's own steps (registration): sso is the session this response has
// just started for the account, proven by the methods amr, and browser the
// CSRF browser id the response has just rotated to. It reports false, and
// writes nothing, when the flow is gone or belongs to another browser: the
// caller then shows its own page.
func (l *Login) Continue(w http.ResponseWriter, r *http.Request, flowID string, sso *session.Session, browser string) bool {
	f, err := l.loadFlow(r.Context(), flowID)
	if err != nil || !l.CSRF.SameBrowser(r, f.Browser) {
		return false
	}
	if f.RedirectURI != "" {
		httpx.NarrowFormAction(w, f.RedirectURI)
	}
	f.Browser = browser
	f.AccountID, f.SID, f.Proofs, f.Consented = sso.AccountID, sso.ID, nil, false
	for _, m := range sso.AMR {
		f.Proofs = append(f.Proofs, Proof{Method: m, At: sso.AuthTime})
	}
	l.advance(w, r, f, sso)
	return true
}

// FlowClient returns the name of the client a flow logs in to (empty for
// a local flow), or ok false when the flow is gone or belongs to another
// browser; pages outside the flow (registration) show it.
func (l *Login) FlowClient(r *http.Request, flowID string) (name string, ok bool) {
	f, err := l.loadFlow(r.Context(), flowID)
	if err != nil || !l.CSRF.SameBrowser(r, f.Browser) {
		return "", false
	}
	if f.Local() {
		return "", true
	}
	return l.clientName(r, f.ClientID), true
}

// redirectToStep saves the flow and sends the browser to a step's page.
func (l *Login) redirectToStep(w http.ResponseWriter, r *http.Request, f *Flow, path string) {
	if err := l.saveFlow(r.Context(), f); err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	target := path + "?flow=" + url.QueryEscape(f.ID)
	if f.Needs.Locale != "" {
		target += "&lang=" + f.Needs.Locale
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// flowFromRequest loads the flow named by the "flow" parameter, or renders
// the "start again" page.
func (l *Login) flowFromRequest(w http.ResponseWriter, r *http.Request) *Flow {
	f, err := l.loadFlow(r.Context(), r.FormValue("flow"))
	if err != nil {
		if errors.Is(err, errFlowExpired) {
			err = &web.PageError{Status: http.StatusNotFound, Key: "error.flow_expired", Cause: err}
		}
		l.Pages.Error(w, r, err)
		return nil
	}
	// Only the browser that started the flow may continue it.
	if !l.CSRF.SameBrowser(r, f.Browser) {
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusForbidden, Key: "error.other_browser"})
		return nil
	}
	if f.RedirectURI != "" {
		httpx.NarrowFormAction(w, f.RedirectURI)
	}
	return f
}

// checkCSRF verifies the form's token, bound to the flow; on failure it
// renders the error page.
func (l *Login) checkCSRF(w http.ResponseWriter, r *http.Request, bind string) bool {
	if l.CSRF.Verify(r, bind) {
		return true
	}
	l.Pages.Error(w, r, &web.PageError{Status: http.StatusForbidden, Key: "error.csrf"})
	return false
}

// clientName is the client's name for the pages.
func (l *Login) clientName(r *http.Request, id string) string {
	c, err := l.Clients.GetClient(r.Context(), id)
	if err != nil || c.Name == "" {
		return id
	}
	return c.Name
}

// currentSession returns the browser's SSO session, or nil; a store error
// is logged and taken as no session (the citizen is asked to log in).
func (l *Login) currentSession(r *http.Request) *session.Session {
	s, err := l.Sessions.Current(r)
	if err != nil {
		l.logger().ErrorContext(r.Context(), "load sso session", "err", err)
		return nil
	}
	return s
}

// EndSession ends the browser's SSO session, if its request carried one,
// and rotates the CSRF cookie, which ends every login flow of the browser
// (they are bound to it). A request without the session cookie changes
// nothing: it may be a cross-site POST, for which the browser withholds
// SameSite=Lax cookies, and a response to it must not log the citizen out
// (nor orphan their flows) behind their back. It returns the session that
// ended, if any.
func (l *Login) EndSession(w http.ResponseWriter, r *http.Request) *session.Session {
	if !l.Sessions.HasCookie(r) {
		return nil
	}
	s, err := l.Sessions.End(w, r)
	if err != nil {
		l.logger().ErrorContext(r.Context(), "end sso session", "err", err)
	}
	l.CSRF.Rotate(w)
	return s
}

func (l *Login) endSession(w http.ResponseWriter, r *http.Request) { l.EndSession(w, r) }

// signedIn reports whether the flow's login is the browser's current
// session (see advance); otherwise a step sends it back to login.
func (l *Login) signedIn(r *http.Request, f *Flow) bool {
	sso := l.currentSession(r)
	return f.AccountID != "" && sso != nil && sso.ID == f.SID
}

// localPath reports whether s is a path of this site: one leading slash,
// no scheme or host however a browser might read it (backslashes and
// control characters, which browsers drop or turn into slashes, are
// refused).
func localPath(s string) bool {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsRune(s, '\\') {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil
}
