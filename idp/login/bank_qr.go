package login

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/skip2/go-qrcode"

	"encoding/base64"
	"html/template"

	"github.com/esia-oidc/idp/factors/bank"
	"github.com/esia-oidc/idp/idp/httpx"
	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The QR hand-off: the desktop page shows a QR code of a short-lived
// single-use URL (/login/bank/m/{id}); a phone opens it, confirms, and
// signs in at the bank; the bank's answer is left for the desktop, whose
// page (a meta refresh without JavaScript, a small script polling
// /login/bank/qr/status with it) takes it, once, and goes on with the
// flow as if the bank had answered there. The phone is told to return to
// the computer. Three records of the ephemeral store, shared by every
// replica, hold it for handoffTTL:
//
//   - bank-qr:{id}: the hand-off (the flow, the bank, the desktop browser);
//   - bank-qr-claim:{id}: the phone that took the URL (created once: a
//     second scan is refused);
//   - bank-qr-done:{id}: the bank's answer (created once by the callback,
//     taken once by the desktop).
//
// The id is 192 random bits; the desktop's page is bound to its browser
// through the flow.

// handoffTTL bounds a hand-off, from the QR code to the desktop taking the
// answer.
const handoffTTL = 5 * time.Minute

// bankHandoff is a QR hand-off under way. The desktop's browser, network
// and start time are shown on the phone, so that a citizen sent someone
// else's code can see it is not their computer.
type bankHandoff struct {
	Flow      string    `json:"flow"`
	Connector string    `json:"connector"`
	Browser   string    `json:"browser,omitempty"` // web.BrowserName of the desktop
	Place     string    `json:"place,omitempty"`   // session.Place of its address
	Started   time.Time `json:"started,omitzero"`
}

// handoffResult is the bank's answer left for the desktop: who the bank
// says the citizen is, or the message key of its failure.
type handoffResult struct {
	Upstream *bankUpstream `json:"upstream,omitempty"`
	Error    string        `json:"error,omitempty"`
}

func qrKey(id string) string    { return "bank-qr:" + id }
func claimKey(id string) string { return "bank-qr-claim:" + id }
func doneKey(id string) string  { return "bank-qr-done:" + id }

// startHandoff makes the hand-off and shows its QR code.
func (l *Login) startHandoff(w http.ResponseWriter, r *http.Request, f *Flow, c *bank.Connector) {
	id := NewID()
	h := bankHandoff{Flow: f.ID, Connector: c.Name(), Browser: web.BrowserName(r.UserAgent()), Started: l.now().UTC()}
	if l.ClientIP != nil {
		h.Place = session.Place(l.ClientIP(r))
	}
	b, err := json.Marshal(h)
	if err == nil {
		err = l.Flows.CreateEntry(r.Context(), qrKey(id), b, handoffTTL)
	}
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	http.Redirect(w, r, handoffPage(f.ID, id), http.StatusSeeOther)
}

func handoffPage(flow, id string) string {
	return "/login/bank/qr?flow=" + url.QueryEscape(flow) + "&h=" + url.QueryEscape(id)
}

// loadHandoff returns the hand-off of the id, or nil when it is gone.
func (l *Login) loadHandoff(r *http.Request, id string) (*bankHandoff, error) {
	if id == "" || len(id) > maxFlowID {
		return nil, nil
	}
	b, err := l.Flows.GetEntry(r.Context(), qrKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var h bankHandoff
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// bankQRPage is what the desktop shows while the phone signs in.
type bankQRPage struct {
	Bank      string
	QR        template.URL // data: URI of the PNG
	URL       string       // what the QR code holds
	StatusURL string
	BackURL   string
}

// handleHandoffPage shows the QR code, or takes the phone's answer once it
// is there.
func (l *Login) handleHandoffPage(w http.ResponseWriter, r *http.Request) {
	f := l.flowFromRequest(w, r)
	if f == nil {
		return
	}
	ctx := r.Context()
	id := r.FormValue("h")
	h, err := l.loadHandoff(r, id)
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	if h == nil || h.Flow != f.ID {
		l.bankPage(w, r, f, http.StatusGone, web.M("bank.qr_expired"))
		return
	}
	raw, err := l.Flows.TakeEntry(ctx, doneKey(id))
	switch {
	case err == nil:
		l.Flows.DeleteEntry(ctx, qrKey(id))
		var res handoffResult
		if err := json.Unmarshal(raw, &res); err != nil {
			l.Pages.Error(w, r, err)
			return
		}
		if res.Error != "" || res.Upstream == nil {
			l.bankPage(w, r, f, http.StatusBadGateway, web.M(res.Error))
			return
		}
		l.bankIdentified(w, r, f, res.Upstream)
		return
	case !errors.Is(err, store.ErrNotFound):
		l.Pages.Error(w, r, err)
		return
	}
	target := l.Issuer + "/login/bank/m/" + url.PathEscape(id)
	png, err := qrcode.Encode(target, qrcode.Medium, 256)
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	page := bankQRPage{
		QR:        template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)),
		URL:       target,
		StatusURL: "/login/bank/qr/status?flow=" + url.QueryEscape(f.ID) + "&h=" + url.QueryEscape(id),
		BackURL:   "/login/bank?flow=" + url.QueryEscape(f.ID),
	}
	if c := l.bankByID(h.Connector); c != nil {
		page.Bank = c.DisplayName(l.Pages.Lang(r))
	}
	l.Pages.FormPage(w, r, http.StatusOK, "bank_qr", web.Form{Page: page})
}

// handleHandoffStatus answers the desktop page's script: {"done": true}
// once the phone's answer is there, {"expired": true} when the hand-off
// is gone.
func (l *Login) handleHandoffStatus(w http.ResponseWriter, r *http.Request) {
	f, err := l.loadFlow(r.Context(), r.FormValue("flow"))
	if err != nil || !l.CSRF.SameBrowser(r, f.Browser) {
		httpx.WriteJSON(w, http.StatusOK, map[string]bool{"expired": true})
		return
	}
	id := r.FormValue("h")
	h, err := l.loadHandoff(r, id)
	if err != nil {
		httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]bool{})
		return
	}
	if h == nil || h.Flow != f.ID {
		httpx.WriteJSON(w, http.StatusOK, map[string]bool{"expired": true})
		return
	}
	_, err = l.Flows.GetEntry(r.Context(), doneKey(id))
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, map[string]bool{"done": err == nil})
}

// bankPhonePage is what the phone shows before it goes to the bank, and
// after.
type bankPhonePage struct {
	Bank, ClientName string
	// The desktop that shows the code: its browser, network and when the
	// login began (Moscow time).
	Browser, Place, Started string
	Done                    bool
}

// phoneHandoff loads the hand-off of the phone's URL, or renders why it
// cannot be used (gone, or scanned already).
func (l *Login) phoneHandoff(w http.ResponseWriter, r *http.Request) (string, *bankHandoff, *bank.Connector) {
	id := r.PathValue("id")
	h, err := l.loadHandoff(r, id)
	if err != nil {
		l.Pages.Error(w, r, err)
		return "", nil, nil
	}
	c := (*bank.Connector)(nil)
	if h != nil {
		c = l.bankByID(h.Connector)
	}
	if c == nil {
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusGone, Key: "bank.qr_expired"})
		return "", nil, nil
	}
	if _, err := l.Flows.GetEntry(r.Context(), claimKey(id)); err == nil {
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusGone, Key: "bank.qr_used"})
		return "", nil, nil
	}
	return id, h, c
}

// handlePhonePage asks the phone's owner to confirm that they are signing
// in on their own computer (a QR code shown by someone else would sign
// them in on the other's), before the bank.
func (l *Login) handlePhonePage(w http.ResponseWriter, r *http.Request) {
	id, h, c := l.phoneHandoff(w, r)
	if c == nil {
		return
	}
	page := bankPhonePage{Bank: c.DisplayName(l.Pages.Lang(r)), Browser: h.Browser, Place: h.Place}
	if !h.Started.IsZero() {
		page.Started = h.Started.In(moscow).Format("02.01.2006 15:04")
	}
	if f, err := l.loadFlow(r.Context(), h.Flow); err == nil {
		page.ClientName = l.clientName(r, f.ClientID)
	}
	allowBankForms(w)
	l.Pages.FormPage(w, r, http.StatusOK, "bank_phone", web.Form{
		Action: "/login/bank/m/" + url.PathEscape(id),
		CSRF:   l.CSRF.Token(w, r, qrKey(id)),
		Page:   page,
	})
}

// handlePhone takes the URL for this phone (once) and sends it to the bank.
func (l *Login) handlePhone(w http.ResponseWriter, r *http.Request) {
	id, _, c := l.phoneHandoff(w, r)
	if c == nil || !l.checkCSRF(w, r, qrKey(id)) {
		return
	}
	ctx := r.Context()
	err := l.Flows.CreateEntry(ctx, claimKey(id), []byte{1}, handoffTTL)
	if errors.Is(err, store.ErrConflict) {
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusGone, Key: "bank.qr_used"})
		return
	}
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	target, err := l.toBank(ctx, c, bankPending{Browser: l.CSRF.Browser(w, r), Handoff: id})
	if err != nil {
		key, status := bankErrorKey(err)
		if key == "" {
			l.Pages.Error(w, r, err)
			return
		}
		l.Pages.Error(w, r, &web.PageError{Status: status, Key: key, Cause: err})
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// finishPhone leaves the bank's answer for the desktop and tells the
// phone to return to the computer.
func (l *Login) finishPhone(w http.ResponseWriter, r *http.Request, p bankPending, c *bank.Connector, up *bankUpstream, ferr error) {
	ctx := r.Context()
	h, err := l.loadHandoff(r, p.Handoff)
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	if h == nil {
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusGone, Key: "bank.qr_expired"})
		return
	}
	res := handoffResult{Upstream: up}
	if ferr != nil {
		key, _ := bankErrorKey(ferr)
		if key == "" {
			key = "bank.refused"
		}
		l.logger().WarnContext(ctx, "bank login on a phone failed", "err", ferr)
		res = handoffResult{Error: key}
	}
	b, err := json.Marshal(res)
	if err == nil {
		err = l.Flows.CreateEntry(ctx, doneKey(p.Handoff), b, handoffTTL)
	}
	if errors.Is(err, store.ErrConflict) {
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusGone, Key: "bank.qr_used"})
		return
	}
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	if ferr != nil {
		key, status := bankErrorKey(ferr)
		if key == "" {
			key, status = "bank.refused", http.StatusBadGateway
		}
		l.Pages.Error(w, r, &web.PageError{Status: status, Key: key})
		return
	}
	l.Pages.FormPage(w, r, http.StatusOK, "bank_phone", web.Form{Page: bankPhonePage{Bank: c.DisplayName(l.Pages.Lang(r)), Done: true}})
}
