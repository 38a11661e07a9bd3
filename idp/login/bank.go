package login

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/esia-oidc/idp/factors"
	"github.com/esia-oidc/idp/factors/bank"
	"github.com/esia-oidc/idp/idp/httpx"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The bank step: "Войти через банк". The login page links to
// /login/bank?flow=, which lists the configured banks; the citizen picks
// one and either goes there in this browser or scans a QR code with a
// phone (bank_qr.go). The bank sends the browser back to
// /login/bank/callback with the state of a pending record kept in the
// ephemeral store (single use, bound to the browser that went to the
// bank, 10 minutes); the connector checks the answer (factors/bank) and
// the flow learns who the bank says the citizen is (Flow.Bank). Then
// (bank_account.go): a linked bank subject logs in directly; otherwise an
// account whose SNILS or phone the bank vouches for is offered to link,
// after its password; otherwise an account is registered from the bank's
// verified data. A login through a bank proves "fed" (RFC 8176).

// Banks are the banks a citizen may log in through (factors/bank.Set).
type Banks interface {
	List() []*bank.Connector
	Get(id string) *bank.Connector
}

// BankIdentity is what a bank said of the citizen during a flow, until
// the citizen logs in, links or registers with it.
type BankIdentity struct {
	Upstream factors.Upstream `json:"upstream"`
	At       time.Time        `json:"at"`
	// Candidate is the account the bank's data matched, waiting for its
	// password to be linked; empty when none matched.
	Candidate string `json:"candidate,omitempty"`
}

// bankPending is a redirect to a bank under way, stored under
// bankStateKey(its state).
type bankPending struct {
	Connector string          `json:"connector"`
	Pending   factors.Pending `json:"pending"`
	// Browser is the browser that went to the bank (web.CSRF.Browser):
	// only it may come back with the state.
	Browser string `json:"browser"`
	// Flow is the login flow of this browser; Handoff, instead, the QR
	// hand-off a phone's trip serves (bank_qr.go).
	Flow    string `json:"flow,omitempty"`
	Handoff string `json:"handoff,omitempty"`
}

// bankStateTTL bounds the trip to the bank.
const bankStateTTL = 10 * time.Minute

func bankStateKey(state string) string { return "bank-state:" + state }

// bankView is a bank as the pages list it.
type bankView struct{ ID, Name string }

// bankListPage is what /login/bank shows.
type bankListPage struct {
	ClientName string
	Banks      []bankView
	BackURL    string
}

// banks returns the configured banks (none when Banks is nil).
func (l *Login) banks() []*bank.Connector {
	if l.Banks == nil {
		return nil
	}
	return l.Banks.List()
}

// bankByID returns the configured bank of the id, or nil.
func (l *Login) bankByID(id string) *bank.Connector {
	if l.Banks == nil || id == "" {
		return nil
	}
	return l.Banks.Get(id)
}

// allowBankForms lets the page's forms end at a bank: a form posted to
// the provider is answered with a redirect to the bank, which form-action
// governs too (see httpx.DefaultFormActions).
func allowBankForms(w http.ResponseWriter) {
	w.Header().Set("Content-Security-Policy", httpx.CSP(httpx.DefaultFormActions...))
}

func (l *Login) handleBankPage(w http.ResponseWriter, r *http.Request) {
	f := l.flowFromRequest(w, r)
	if f == nil {
		return
	}
	l.bankPage(w, r, f, http.StatusOK, web.Msg{})
}

// bankPage renders the list of banks, with an error about the last try.
func (l *Login) bankPage(w http.ResponseWriter, r *http.Request, f *Flow, status int, msg web.Msg) {
	lang := l.Pages.Lang(r)
	page := bankListPage{ClientName: l.clientName(r, f.ClientID), BackURL: "/login?flow=" + url.QueryEscape(f.ID)}
	for _, c := range l.banks() {
		page.Banks = append(page.Banks, bankView{ID: c.Name(), Name: c.DisplayName(lang)})
	}
	if len(page.Banks) == 0 {
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusNotFound, Key: "bank.none"})
		return
	}
	allowBankForms(w)
	l.Pages.FormPage(w, r, status, "bank", web.Form{
		Action:    "/login/bank",
		CSRF:      l.CSRF.Token(w, r, f.ID),
		Hidden:    []web.Hidden{{Name: "flow", Value: f.ID}},
		FormError: msg,
		Page:      page,
	})
}

// handleBankStart sends the browser to the chosen bank (way=here), or
// starts the QR hand-off (way=qr).
func (l *Login) handleBankStart(w http.ResponseWriter, r *http.Request) {
	f := l.flowFromRequest(w, r)
	if f == nil || !l.checkCSRF(w, r, f.ID) {
		return
	}
	c := l.bankByID(r.PostFormValue("bank"))
	if c == nil {
		l.bankPage(w, r, f, http.StatusBadRequest, web.M("bank.choose"))
		return
	}
	if r.PostFormValue("way") == "qr" {
		l.startHandoff(w, r, f, c)
		return
	}
	target, err := l.toBank(r.Context(), c, bankPending{Browser: f.Browser, Flow: f.ID})
	if err != nil {
		l.bankFailed(w, r, f, err)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// toBank starts a trip to the bank and keeps what its callback needs.
func (l *Login) toBank(ctx context.Context, c *bank.Connector, p bankPending) (string, error) {
	target, pending, err := c.Start(ctx)
	if err != nil {
		return "", err
	}
	p.Connector, p.Pending = c.Name(), pending
	b, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	if err := l.Flows.CreateEntry(ctx, bankStateKey(pending.State), b, bankStateTTL); err != nil {
		return "", err
	}
	return target, nil
}

// bankFailed explains on the list of banks why the bank did not log the
// citizen in.
func (l *Login) bankFailed(w http.ResponseWriter, r *http.Request, f *Flow, err error) {
	key, status := bankErrorKey(err)
	if key == "" {
		l.Pages.Error(w, r, err)
		return
	}
	l.logger().WarnContext(r.Context(), "bank login failed", "err", err)
	l.bankPage(w, r, f, status, web.M(key))
}

// bankErrorKey is the message and status of a bank's failure; "" for an
// error of our own (the error page).
func bankErrorKey(err error) (string, int) {
	switch {
	case errors.Is(err, bank.ErrDenied):
		return "bank.denied", http.StatusForbidden
	case errors.Is(err, bank.ErrUnavailable):
		return "bank.unavailable", http.StatusBadGateway
	case errors.Is(err, bank.ErrRefused):
		return "bank.refused", http.StatusBadGateway
	}
	return "", 0
}

// handleBankCallback takes the bank's answer: the pending record of its
// state (once), from the browser that went there; then the connector
// checks the answer.
func (l *Login) handleBankCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	cb, err := bank.ParseCallback(r.URL.Query())
	if err != nil {
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "bank.callback_invalid", Cause: err})
		return
	}
	raw, err := l.Flows.TakeEntry(ctx, bankStateKey(cb.State))
	if errors.Is(err, store.ErrNotFound) {
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusNotFound, Key: "bank.callback_expired"})
		return
	}
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	var p bankPending
	if err := json.Unmarshal(raw, &p); err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	if !l.CSRF.SameBrowser(r, p.Browser) {
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusForbidden, Key: "error.other_browser"})
		return
	}
	c := l.bankByID(p.Connector)
	if c == nil {
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusNotFound, Key: "bank.callback_expired", Cause: errors.New("the bank is no longer configured")})
		return
	}
	up, ferr := c.Finish(ctx, p.Pending, r.URL.Query())
	if p.Handoff != "" {
		l.finishPhone(w, r, p, c, up, ferr)
		return
	}
	f, err := l.loadFlow(ctx, p.Flow)
	if err != nil || !l.CSRF.SameBrowser(r, f.Browser) {
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusNotFound, Key: "error.flow_expired", Cause: err})
		return
	}
	if f.RedirectURI != "" {
		httpx.NarrowFormAction(w, f.RedirectURI)
	}
	if ferr != nil {
		l.bankFailed(w, r, f, ferr)
		return
	}
	l.bankIdentified(w, r, f, up)
}
