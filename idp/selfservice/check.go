package selfservice

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/esia-oidc/idp/factors/lockout"
	"github.com/esia-oidc/idp/idp/web"
)

// Checks of a secret (a code, a password typed again) against a lockout
// subject, one at a time across replicas (lockout.Guard).

// secret is what a page checks, for its messages when a check is refused.
type secret struct{ locked, busy string }

var (
	aCode     = secret{locked: "recover.locked", busy: "recover.busy"}
	aPassword = secret{locked: "login.locked_short", busy: "login.busy"}
)

// beginCheck begins a check of a secret against the lockout subject s and
// returns it with its context; or renders page saying why not (another
// check in progress, a lock, an error) and returns nil. The caller defers
// the check's Close and gives its verdict with Fail or Succeed.
func (p *Pages) beginCheck(w http.ResponseWriter, r *http.Request, s lockout.Subject, sec secret, page string, form web.Form) (*lockout.Check, context.Context) {
	g := &lockout.Guard{Limiter: p.Limiter, Marks: p.State, Now: p.Now, Logger: p.Logger}
	chk, d, err := g.Begin(r.Context(), s, p.ClientIP(r))
	switch {
	case errors.Is(err, lockout.ErrBusy):
		w.Header().Set("Retry-After", "1")
		form.FormError = web.M(sec.busy)
		p.Pages.FormPage(w, r, http.StatusTooManyRequests, page, form)
	case err != nil:
		p.Pages.Error(w, r, err)
	case chk == nil:
		p.lockedForm(w, r, sec, page, form, d)
	default:
		return chk, chk.Context()
	}
	return nil, nil
}

// failCheck counts a wrong secret and returns the decision that follows;
// or renders page (locked now, or the error) and returns false.
func (p *Pages) failCheck(w http.ResponseWriter, r *http.Request, chk *lockout.Check, sec secret, page string, form web.Form) (lockout.Decision, bool) {
	d, err := chk.Fail()
	if err != nil {
		p.Pages.Error(w, r, err)
		return d, false
	}
	if d.Locked {
		p.lockedForm(w, r, sec, page, form, d)
		return d, false
	}
	return d, true
}

// lockedForm renders page saying that tries are locked until d.RetryAt.
func (p *Pages) lockedForm(w http.ResponseWriter, r *http.Request, sec secret, page string, form web.Form, d lockout.Decision) {
	form.Errors = nil
	form.FormError = web.M(sec.locked)
	if d.Scope == lockout.ScopeIP {
		form.FormError = web.M("login.ip_limited")
	}
	form.RetryAfter = d.RetryAt
	if s := int(d.RetryAt.Sub(p.now()).Seconds()); s > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(s))
	}
	p.Pages.FormPage(w, r, http.StatusTooManyRequests, page, form)
}
