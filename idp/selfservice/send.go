package selfservice

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/esia-oidc/idp/factors/codes"
	"github.com/esia-oidc/idp/idp/web"
)

// notSent renders why a code was not sent: page saying when a code may be
// asked for again when a send limit refused it (a *codes.LimitError), the
// error page for anything else.
func (p *Pages) notSent(w http.ResponseWriter, r *http.Request, page string, form web.Form, err error) {
	var le *codes.LimitError
	if !errors.As(err, &le) {
		p.Pages.Error(w, r, err)
		return
	}
	form.FormError = web.M("register.send_limited")
	form.RetryAfter = le.RetryAt
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(le.RetryAt.Sub(p.now()).Seconds()))))
	p.Pages.FormPage(w, r, http.StatusTooManyRequests, page, form)
}

// resendIn is in how many seconds a new code may be asked for, when it is
// next (zero: now); "" when it may be now.
func (p *Pages) resendIn(next time.Time) string {
	if s := int(next.Sub(p.now()).Seconds()); !next.IsZero() && s > 0 {
		return strconv.Itoa(s)
	}
	return ""
}
