package selfservice

import (
	"context"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/esia-oidc/idp/factors/captcha"
	"github.com/esia-oidc/idp/factors/codes"
	"github.com/esia-oidc/idp/factors/lockout"
	"github.com/esia-oidc/idp/factors/pow"
	"github.com/esia-oidc/idp/idp/identifier"
	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// Recovery of a forgotten password (/recover), a chain of steps each bound
// to the one before, in one browser:
//
//  1. /recover: an identifier (phone, e-mail, SNILS, INN, passport). The
//     answer is the same whatever it names: a recovery is started and the
//     page says that, if the data match an account, a code went to the
//     phone or e-mail confirmed in it. For an account the code goes to the
//     identifier itself when it is the account's confirmed phone or
//     e-mail, else to its confirmed phone, else to its confirmed e-mail;
//     for no account (or one with no confirmed contact) a code is made the
//     same way and sent nowhere, so that the next step behaves alike and
//     no code matches.
//  2. /recover/code: the code, counted per code (factors/codes) and
//     towards the lockout subject of the identifier as typed (the same
//     whether or not an account holds it).
//  3. /recover/factor: the account's second factor, if it has one (never
//     skipped): a factor that sends its code by the same channel as the
//     recovery's code is not asked, and when no other remains the recovery
//     code stands for it. Counted towards the account's factor lockout.
//  4. /recover/password: a new password under the registration's policy.
//     Then every session of the account ends, its tokens are revoked, its
//     lockouts are lifted, every confirmed contact is told, and the page
//     sends the citizen to log in: a recovery never logs in by itself.
//
// After a few starts from one address (recoverStartsFree an hour) the first
// step asks a proof of work (factors/pow) that the page's script solves,
// or, in a browser without JavaScript, the digits of an image made here
// (factors/captcha).

// Form fields of the recovery besides the registration's.
const (
	fieldIdentifier = "identifier"
	fieldRec        = "rec"
	fieldPoW        = "pow"
	// The image challenge (no JavaScript): its token and the digits read.
	fieldCaptcha       = "captcha"
	fieldCaptchaAnswer = "captcha_answer"
	fieldFactor        = "factor"
)

// recoverLifetime bounds a recovery left half-way.
const recoverLifetime = 15 * time.Minute

// recoverSendsPerContact is how many recovery codes one phone or e-mail
// is sent an hour.
const recoverSendsPerContact = 5

// recoverStartsFree is how many recoveries one address may start in
// recoverStartsWindow before each further start needs a proof of work.
const (
	recoverStartsFree   = 3
	recoverStartsWindow = time.Hour
)

// recovery is a recovery in progress, under "recover:"+ID.
type recovery struct {
	ID      string `json:"id"`
	Browser string `json:"browser"`
	// Flow is the login flow the recovery started from, if any: the last
	// page links back to it.
	Flow string `json:"flow,omitempty"`
	// Subject is the identifier as typed and read ("phone:+79..."): the
	// lockout subject of the code step and what the send limits count,
	// whether or not an account holds it. Not the account: two identifiers
	// of one account sharing a counter would tell that they belong
	// together.
	Subject string `json:"subject"`
	// AccountID is the account being recovered; empty when the identifier
	// names none (or the account has no confirmed contact): then no code
	// was sent and the recovery cannot pass the code step.
	AccountID string `json:"account_id,omitempty"`
	// Channel is where the recovery code went (store.CodeChannelSMS or
	// store.CodeChannelEmail), To the normalized phone or e-mail; for no
	// account, To is the identifier and Channel empty.
	Channel string `json:"channel,omitempty"`
	To      string `json:"to"`
	// CodeDone: the code was right. FactorDone: the second factor was
	// proven (or the account has none to ask).
	CodeDone   bool `json:"code_done,omitempty"`
	FactorDone bool `json:"factor_done,omitempty"`
	// Factor is the second factor asked; Sent names a sending factor whose
	// code was sent for this recovery.
	Factor string `json:"factor,omitempty"`
	Sent   string `json:"sent,omitempty"`
}

func recoverKey(id string) string { return "recover:" + id }

// recoverCSRF binds a form's token to the recovery (or, on the first page,
// to the login flow it came from).
func recoverCSRF(id string) string { return "recover:" + id }

// startURL is the first page of a recovery, keeping the login flow.
func startURL(flow string) string {
	if flow == "" {
		return "/recover"
	}
	return "/recover?flow=" + url.QueryEscape(flow)
}

func (p *Pages) saveRecovery(ctx context.Context, rc *recovery) error {
	return p.saveState(ctx, recoverKey(rc.ID), rc, recoverLifetime)
}

func (p *Pages) dropRecovery(ctx context.Context, rc *recovery) {
	if err := p.State.DeleteEntry(context.WithoutCancel(ctx), recoverKey(rc.ID)); err != nil {
		p.logger().WarnContext(ctx, "delete a recovery", "err", err)
	}
}

var errRecoverGone = &web.PageError{Status: http.StatusNotFound, Key: "recover.expired", BackURL: "/recover"}

// loadRecovery loads the recovery named by the request's "rec" parameter,
// started in this browser, or renders the "start again" page.
func (p *Pages) loadRecovery(w http.ResponseWriter, r *http.Request) *recovery {
	var rc recovery
	if !p.loadBrowserState(w, r, fieldRec, recoverKey, errRecoverGone, &rc, func() string { return rc.ID }, func() string { return rc.Browser }) {
		return nil
	}
	return &rc
}

// outOfOrder ends a recovery whose step was reached before the steps
// before it were done, and sends the citizen back to the start.
func (p *Pages) outOfOrder(w http.ResponseWriter, r *http.Request, rc *recovery) {
	p.dropRecovery(r.Context(), rc)
	p.Pages.Error(w, r, &web.PageError{Status: http.StatusConflict, Key: "recover.out_of_order", BackURL: startURL(rc.Flow)})
}

// The first step: the identifier.

// recoverPage is what /recover shows besides the form.
type recoverPage struct {
	// Challenge, when set, is a proof of work the form must carry in the
	// field "pow" (the page's script solves it); Bits its difficulty.
	Challenge string
	Bits      int
	// Image and ImageToken, when set, are the image challenge a browser
	// without JavaScript answers instead (fields "captcha" and
	// "captcha_answer"; the page shows them inside noscript).
	Image      template.URL
	ImageToken string
}

func (p *Pages) recoverForm(w http.ResponseWriter, r *http.Request, flow string) web.Form {
	f := web.Form{CSRF: p.CSRF.Token(w, r, recoverCSRF(flow)), Order: []string{fieldIdentifier}, Values: map[string]string{}, Page: recoverPage{}}
	if flow != "" {
		f.Hidden = []web.Hidden{{Name: fieldFlow, Value: flow}}
	}
	return f
}

// withChallenge adds a new proof-of-work challenge to the form, and the
// image challenge for browsers without JavaScript.
func (p *Pages) withChallenge(f *web.Form) error {
	if p.PoW == nil {
		return nil
	}
	c, err := p.PoW.Challenge()
	if err != nil {
		return err
	}
	page := recoverPage{Challenge: c, Bits: p.PoW.Bits()}
	if p.Captcha != nil {
		img, err := p.Captcha.Issue()
		if err != nil {
			return err
		}
		// A data: URI of a PNG made here (the pages' CSP allows data:
		// images); trusted as a URL for that reason only.
		page.Image = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(img.PNG))
		page.ImageToken = img.Token
	}
	f.Page = page
	return nil
}

// passChallenge checks the challenge a start past the free ones brings:
// the proof of work when the form carries one (the page's script), else
// the image's answer (a browser without JavaScript). It returns whether
// it passed; a refusal is put on the form (the caller shows the page
// again with new challenges); err is a store failure.
func (p *Pages) passChallenge(ctx context.Context, r *http.Request, form *web.Form) (bool, error) {
	work, token := r.PostFormValue(fieldPoW), r.PostFormValue(fieldCaptcha)
	if work == "" && token != "" && p.Captcha != nil {
		err := p.Captcha.Verify(ctx, token, r.PostFormValue(fieldCaptchaAnswer))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, captcha.ErrMalformed) && r.PostFormValue(fieldCaptchaAnswer) == "":
			form.Errors = map[string]web.Msg{fieldCaptchaAnswer: web.M("recover.captcha_required")}
		case errors.Is(err, captcha.ErrMalformed):
			form.Errors = map[string]web.Msg{fieldCaptchaAnswer: web.M("recover.captcha_malformed")}
		case errors.Is(err, captcha.ErrForged), errors.Is(err, captcha.ErrExpired), errors.Is(err, captcha.ErrUsed), errors.Is(err, captcha.ErrWrong):
			form.Errors = map[string]web.Msg{fieldCaptchaAnswer: web.M("recover.captcha_wrong")}
		default:
			return false, err
		}
		form.FormError = web.M("recover.challenge_required")
		return false, nil
	}
	err := p.PoW.Verify(ctx, work)
	if err == nil {
		return true, nil
	}
	if !isPoWRefusal(err) {
		return false, err
	}
	form.FormError = web.M("recover.challenge_required")
	if work != "" {
		form.FormError = web.M("recover.challenge_failed")
	}
	return false, nil
}

// startsKey counts the recoveries started from an address.
func startsKey(ip string) string { return "recover-starts:" + ip }

func (p *Pages) handleRecoverPage(w http.ResponseWriter, r *http.Request) {
	flow := r.URL.Query().Get(fieldFlow)
	if !validFlow(flow) {
		flow = ""
	}
	form := p.recoverForm(w, r, flow)
	if key := lockout.IPKey(p.ClientIP(r)); key != "" {
		n, err := p.Counters.GetCounter(r.Context(), startsKey(key))
		if err != nil {
			p.Pages.Error(w, r, err)
			return
		}
		if n.N >= recoverStartsFree {
			if err := p.withChallenge(&form); err != nil {
				p.Pages.Error(w, r, err)
				return
			}
		}
	}
	p.Pages.FormPage(w, r, http.StatusOK, "recover", form)
}

func (p *Pages) handleRecover(w http.ResponseWriter, r *http.Request) {
	flow := r.PostFormValue(fieldFlow)
	if flow != "" && !validFlow(flow) {
		p.Pages.Error(w, r, &web.PageError{Status: http.StatusBadRequest, Key: "error.bad_request"})
		return
	}
	if !p.checkCSRF(w, r, recoverCSRF(flow)) {
		return
	}
	ctx := r.Context()
	ip := p.ClientIP(r)
	form := p.recoverForm(w, r, flow)
	raw := r.PostFormValue(fieldIdentifier)
	form.Values[fieldIdentifier] = raw

	// Every start counts; past the free ones, each needs a proof of work.
	if key := lockout.IPKey(ip); key != "" {
		n, err := p.Counters.Incr(ctx, startsKey(key), recoverStartsWindow)
		if err != nil {
			p.Pages.Error(w, r, err)
			return
		}
		if n.N > recoverStartsFree && p.PoW != nil {
			passed, err := p.passChallenge(ctx, r, &form)
			if err == nil && !passed {
				err = p.withChallenge(&form)
			}
			if err != nil {
				p.Pages.Error(w, r, err)
				return
			}
			if !passed {
				p.Pages.FormPage(w, r, http.StatusTooManyRequests, "recover", form)
				return
			}
		}
	}

	candidates, err := identifier.ParseRecovery(raw)
	if err != nil {
		key := "recover.identifier_unrecognized"
		switch {
		case errors.Is(err, identifier.ErrEmpty):
			key = "recover.identifier_required"
		case !errors.Is(err, identifier.ErrUnrecognized):
			key = messageKey(err, key)
		}
		form.Errors = map[string]web.Msg{fieldIdentifier: web.M(key)}
		p.Pages.FormPage(w, r, http.StatusBadRequest, "recover", form)
		return
	}

	rc := &recovery{ID: p.NewID(), Browser: p.CSRF.Browser(w, r), Flow: flow}
	acct, typed, err := p.findRecovered(ctx, candidates)
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	rc.Subject, rc.To = string(typed.Kind)+":"+typed.Value, typed.Value
	if acct != nil {
		if ch, to := recoveryContact(acct, typed); to != "" {
			rc.AccountID, rc.Channel, rc.To = acct.ID, ch, to
		}
	}
	if err := p.sendRecoveryCode(ctx, r, rc); err != nil {
		p.notSent(w, r, "recover", form, err)
		return
	}
	if err := p.saveRecovery(ctx, rc); err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	http.Redirect(w, r, "/recover/code?rec="+url.QueryEscape(rc.ID), http.StatusSeeOther)
}

// isPoWRefusal reports whether err is the proof of work's refusal (not a
// store failure).
func isPoWRefusal(err error) bool {
	for _, e := range []error{pow.ErrMalformed, pow.ErrForged, pow.ErrExpired, pow.ErrWork, pow.ErrUsed} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// findRecovered looks the readings of the identifier up in turn: the
// first account found, with the reading that found it; or no account and
// the first reading.
func (p *Pages) findRecovered(ctx context.Context, candidates []identifier.Candidate) (*store.Account, identifier.Candidate, error) {
	for _, c := range candidates {
		a, err := p.Accounts.FindAccount(ctx, c.Kind, c.Value)
		if err == nil {
			return a, c, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, identifier.Candidate{}, err
		}
	}
	return nil, candidates[0], nil
}

// recoveryContact is where an account's recovery code goes: the typed
// identifier itself when it is the account's confirmed phone or e-mail,
// else the confirmed phone, else the confirmed e-mail; "" when none is
// confirmed.
func recoveryContact(a *store.Account, typed identifier.Candidate) (channel, to string) {
	switch {
	case typed.Kind == store.IdentifierPhone && a.PhoneVerified && a.Phone == typed.Value:
		return store.CodeChannelSMS, a.Phone
	case typed.Kind == store.IdentifierEmail && a.EmailVerified && a.Email == typed.Value:
		return store.CodeChannelEmail, a.Email
	case a.PhoneVerified && a.Phone != "":
		return store.CodeChannelSMS, a.Phone
	case a.EmailVerified && a.Email != "":
		return store.CodeChannelEmail, a.Email
	}
	return "", ""
}

// sendRecoveryCode issues the recovery's code and sends it, when the
// recovery has an account; for none the code is issued the same way (and
// counts towards the same send limits) and sent nowhere. A send limit is
// a *codes.LimitError.
func (p *Pages) sendRecoveryCode(ctx context.Context, r *http.Request, rc *recovery) error {
	code, err := p.Codes.Issue(ctx, codes.PurposeRecover, rc.ID, rc.Subject, p.ClientIP(r))
	if err != nil {
		return err
	}
	if rc.AccountID == "" {
		return nil
	}
	// The send limits above count the typed identifier, alike for every
	// identifier; the contact itself takes at most recoverSendsPerContact
	// codes an hour however many identifiers lead to it, silently: the page
	// must not tell that they lead to one contact.
	sent, err := p.Counters.Incr(ctx, "recover-sent:"+p.Limiter.Recovery("to:"+rc.To).Key(), time.Hour)
	if err != nil {
		return err
	}
	if sent.N > recoverSendsPerContact {
		p.logger().WarnContext(ctx, "recovery code not sent: the contact's hourly limit", "account", rc.AccountID)
		return nil
	}
	lang := p.Pages.Lang(r)
	m := notify.Message{To: rc.To, Code: code, Body: p.Pages.T(lang, "recover.code_text", code), Channel: notify.SMS}
	if rc.Channel == store.CodeChannelEmail {
		m.Channel, m.Subject = notify.Email, p.Pages.T(lang, "recover.code_subject")
	}
	p.notify(ctx, m)
	return nil
}
