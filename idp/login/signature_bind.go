package login

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/store"
)

// The engine's step for a certificate the flow brought (Flow.Signature),
// once the flow knows its account: bind it if it is new (the password
// having been proven in this login, and the second factor when the login
// wants one and the account has one), add its proof, and confirm the
// account's identity when a qualified certificate matches the checked
// personal data. A certificate of another SNILS than the account's is
// explained and changes nothing; so is a qualified certificate whose data
// differ from the checked ones.

// errNotThisAccount: the certificate names another citizen than the
// account signed in.
var errNotThisAccount = errors.New("login: the certificate's SNILS is not the account's")

// signatureBind runs the step; false when it has written the response (a
// notice page).
func (l *Login) signatureBind(w http.ResponseWriter, r *http.Request, f *Flow, acct *store.Account, sso *session.Session) bool {
	ctx := r.Context()
	p := f.Signature
	f.Signature = nil
	resume := "/login/resume?flow=" + url.QueryEscape(f.ID)
	if sso == nil {
		sso = l.currentSession(r)
	}
	if sso == nil || sso.ID != f.SID {
		return true // advance sends the flow to log in again
	}
	now := l.now().UTC()
	if acct.Factors.Certificate(p.Fingerprint) == nil {
		if !slices.ContainsFunc(f.Proofs, func(pr Proof) bool { return pr.Method == "pwd" }) {
			return true // only after the password
		}
		if acct.SNILS == p.SNILS && l.secondFactorFirst(f, acct) {
			// Only after the second factor too, proven without the
			// certificate: the factor step, then back here (advance).
			f.Signature = p
			return true
		}
		updated, err := l.Accounts.UpdateAccount(ctx, acct.ID, func(a *store.Account) error {
			if a.SNILS != p.SNILS {
				return errNotThisAccount
			}
			if a.Factors.Certificate(p.Fingerprint) != nil {
				return nil
			}
			if a.Factors == nil {
				a.Factors = &store.SecondFactors{}
			}
			c := p.BoundCertificate
			c.BoundAt = now
			a.Factors.Certificates = append(a.Factors.Certificates, c)
			a.UpdatedAt = now
			return nil
		})
		if errors.Is(err, errNotThisAccount) {
			l.event(ctx, acct.ID, "signature.mismatch", map[string]string{"certificate": p.Fingerprint[:16]})
			if !l.saveFlowOrError(w, r, f) {
				return false
			}
			l.signatureNotice(w, r, "mismatch", resume)
			return false
		}
		if err != nil {
			l.Pages.Error(w, r, err)
			return false
		}
		*acct = *updated
		l.logger().InfoContext(ctx, "certificate bound", "account", acct.ID, "qualified", p.Qualified)
		l.event(ctx, acct.ID, "signature.bind", map[string]string{"certificate": p.Fingerprint[:16], "serial": p.Serial})
		l.tellContacts(r, acct, "signature.bound_subject", "signature.bound_text", p.Issuer)
	}
	if !slices.ContainsFunc(f.Proofs, func(pr Proof) bool { return pr.Method == p.AMR }) {
		raised, err := l.Sessions.Raise(ctx, sso, p.AMR)
		if errors.Is(err, session.ErrNoSession) {
			return true
		}
		if err != nil {
			l.Pages.Error(w, r, err)
			return false
		}
		f.Proofs = append(f.Proofs, Proof{Method: p.AMR, At: raised.AuthTime})
		l.event(ctx, acct.ID, "login.signature", map[string]string{"client": f.ClientID, "certificate": p.Fingerprint[:16]})
	}
	return l.confirmBySignature(w, r, f, acct, p, resume)
}

// confirmBySignature raises a standard account to confirmed when the
// qualified certificate's SNILS and name are the checked data; on a
// mismatch it explains, and changes nothing. False when it has written
// the response.
func (l *Login) confirmBySignature(w http.ResponseWriter, r *http.Request, f *Flow, acct *store.Account, p *SignatureProof, resume string) bool {
	if !p.Qualified || acct.Level != store.LevelStandard {
		return true
	}
	ctx := r.Context()
	id := account.SignedIdentity{SNILS: p.SNILS, LastName: p.LastName, FirstName: p.FirstName, MiddleName: p.MiddleName, Fingerprint: p.Fingerprint, Qualified: p.Qualified}
	var changed bool
	updated, err := l.Accounts.UpdateAccount(ctx, acct.ID, func(a *store.Account) error {
		var err error
		changed, err = account.ConfirmBySignature(a, id, l.now().UTC())
		return err
	})
	switch {
	case errors.Is(err, account.ErrSignatureSNILS), errors.Is(err, account.ErrSignatureName):
		what := "confirm_snils"
		if errors.Is(err, account.ErrSignatureName) {
			what = "confirm_name"
		}
		l.event(ctx, acct.ID, "signature.confirm_refused", map[string]string{"reason": what})
		if !l.saveFlowOrError(w, r, f) {
			return false
		}
		l.signatureNotice(w, r, what, resume)
		return false
	case errors.Is(err, account.ErrSignatureUnchecked), errors.Is(err, account.ErrSignatureNotQualified):
		return true
	case err != nil:
		l.Pages.Error(w, r, err)
		return false
	}
	if changed {
		*acct = *updated
		l.logger().InfoContext(ctx, "identity confirmed by a qualified signature", "account", acct.ID)
		l.event(ctx, acct.ID, "signature.confirm", map[string]string{"certificate": p.Fingerprint[:16]})
	}
	return true
}

// saveFlowOrError saves the flow, or renders the error and returns false.
func (l *Login) saveFlowOrError(w http.ResponseWriter, r *http.Request, f *Flow) bool {
	if err := l.saveFlow(r.Context(), f); err != nil {
		l.Pages.Error(w, r, err)
		return false
	}
	return true
}

// secondFactorFirst reports whether a new way to log in without the
// password (a certificate to bind, a bank to link) must wait for the
// second factor: the account has a factor of its own, the login wants
// one, and the flow's proofs so far make none.
func (l *Login) secondFactorFirst(f *Flow, acct *store.Account) bool {
	return l.wantsSecondFactor(f, acct) && !f.SecondFactorDone() && len(l.Factors.Enrolled(acct)) > 0
}

// tellContacts tells the account's confirmed phone and e-mail of a new
// way to log in without the password (the message keys subject and text,
// the text's arguments args), in the page's language.
func (l *Login) tellContacts(r *http.Request, acct *store.Account, subject, text string, args ...any) {
	if l.Notify == nil {
		return
	}
	ctx := context.WithoutCancel(r.Context())
	lang := l.Pages.Lang(r)
	body := l.Pages.T(lang, text, args...)
	for _, m := range notify.ToContacts(acct, body, l.Pages.T(lang, subject), body) {
		l.Notify(ctx, m)
	}
}
