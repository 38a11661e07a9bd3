package selfservice

import (
	"context"
	"net/http"
	"slices"

	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The electronic-signature certificates on the security page: each bound
// certificate (bound by its first use after the password, idp/login) with
// its subject, centre, serial number and validity, and "remove", which
// takes the password again (action=remove_certificate, factor=the
// certificate's fingerprint). A removed certificate logs in no more
// without the password; it may be bound again by using it.

// certificateView is one bound certificate as the page lists it.
type certificateView struct {
	Fingerprint, Subject, Issuer, Serial, NotAfter, BoundAt string
	Qualified, Expired                                      bool
}

func (p *Pages) certificatesView(a *store.Account) []certificateView {
	if a.Factors == nil {
		return nil
	}
	now := p.now()
	var out []certificateView
	for _, c := range a.Factors.Certificates {
		out = append(out, certificateView{
			Fingerprint: c.Fingerprint, Subject: c.Subject, Issuer: c.Issuer, Serial: c.Serial,
			NotAfter: c.NotAfter.In(moscow).Format("02.01.2006"), BoundAt: c.BoundAt.In(moscow).Format("02.01.2006 15:04"),
			Qualified: c.Qualified, Expired: now.After(c.NotAfter),
		})
	}
	return out
}

// keepWaysToLogIn is what is left of the second factors when the last
// factor goes: the bound certificates and linked banks, if any.
func keepWaysToLogIn(f *store.SecondFactors) *store.SecondFactors {
	if f == nil {
		return nil
	}
	if k := (&store.SecondFactors{Certificates: f.Certificates, Banks: f.Banks}); !k.Empty() {
		return k
	}
	return nil
}

// dropWayIn removes a way to log in (a bound certificate, a linked bank)
// from the account's factors in one update: drop edits them, and factors
// left with nothing are none.
func (p *Pages) dropWayIn(ctx context.Context, accountID string, drop func(*store.SecondFactors)) error {
	_, err := p.Accounts.UpdateAccount(ctx, accountID, func(u *store.Account) error {
		if u.Factors == nil {
			return nil
		}
		drop(u.Factors)
		if u.Factors.Empty() {
			u.Factors = nil
		}
		u.UpdatedAt = p.now().UTC()
		return nil
	})
	return err
}

// removeCertificate unbinds a certificate after the password.
func (p *Pages) removeCertificate(w http.ResponseWriter, r *http.Request, a *store.Account, s *session.Session) {
	fp := r.PostFormValue("factor")
	if a.Factors.Certificate(fp) == nil {
		p.securityError(w, r, a, s, "", http.StatusConflict, web.M("security.certificate_gone"))
		return
	}
	if !p.passwordFirst(w, r, a, s, "", "remove_certificate") {
		return
	}
	ctx := r.Context()
	err := p.dropWayIn(ctx, a.ID, func(f *store.SecondFactors) {
		f.Certificates = slices.DeleteFunc(f.Certificates, func(c store.BoundCertificate) bool { return c.Fingerprint == fp })
	})
	if err != nil {
		p.Pages.Error(w, r, err)
		return
	}
	p.logger().InfoContext(ctx, "certificate unbound", "account", a.ID)
	p.event(ctx, a.ID, "signature.remove", map[string]string{"certificate": fp[:min(16, len(fp))]})
	p.tellContacts(r, a, "security.removed_subject", "security.removed_text")
	http.Redirect(w, r, "/account/security?done=certificate_removed#certificates", http.StatusSeeOther)
}
