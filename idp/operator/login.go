package operator

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/esia-oidc/idp/factors/lockout"
	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The console's own login: an operator's login and password. A wrong
// password and an unknown login look the same, and both count towards the
// lockout of that login and of the address.

var loginOrder = []string{"identifier", "password"}

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) web.Form {
	return web.Form{Action: "/operator/login", CSRF: c.CSRF.Token(w, r, csrfBind(nil)), Order: loginOrder, Values: map[string]string{}}
}

func (c *Console) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	if op, err := c.current(r); err == nil && op != nil {
		http.Redirect(w, r, "/operator", http.StatusSeeOther)
		return
	}
	c.Pages.FormPage(w, r, http.StatusOK, "operator_login", c.loginForm(w, r))
}

func (c *Console) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !c.checkCSRF(w, r, nil) {
		return
	}
	ctx := r.Context()
	form := c.loginForm(w, r)
	login := strings.TrimSpace(r.PostFormValue("identifier"))
	pw := r.PostFormValue("password")
	form.Values["identifier"] = login
	errs := map[string]web.Msg{}
	if login == "" {
		errs["identifier"] = web.M("operator.login_required")
	}
	if pw == "" {
		errs["password"] = web.M("login.password_required")
	}
	if len(errs) > 0 || len(login) > 100 {
		if len(errs) == 0 {
			errs["identifier"] = web.M("operator.invalid_credentials")
		}
		form.Errors = errs
		c.Pages.FormPage(w, r, http.StatusBadRequest, "operator_login", form)
		return
	}
	// One check of the login at a time, across replicas (lockout.Guard).
	g := &lockout.Guard{Limiter: c.Limiter, Marks: c.Sessions, Now: c.Now, Logger: c.Logger}
	chk, d, err := g.Begin(ctx, c.Limiter.Identifier("operator:"+strings.ToLower(login)), c.ClientIP(r))
	if errors.Is(err, lockout.ErrBusy) {
		w.Header().Set("Retry-After", "1")
		form.FormError = web.M("login.busy")
		c.Pages.FormPage(w, r, http.StatusTooManyRequests, "operator_login", form)
		return
	}
	if err != nil {
		c.Pages.Error(w, r, err)
		return
	}
	if chk == nil {
		c.locked(w, r, form, d.RetryAt)
		return
	}
	defer chk.Close()
	op, err := c.Store.FindOperator(ctx, strings.ToLower(login))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		c.Pages.Error(w, r, err)
		return
	}
	var ok bool
	if op != nil && op.PasswordHash != "" && !op.Disabled {
		ok, err = c.Passwords.Verify(ctx, pw, op.PasswordHash)
	} else {
		_, err = c.Passwords.VerifyDummy(ctx, pw)
	}
	if err != nil {
		if errors.Is(err, password.ErrBusy) {
			w.Header().Set("Retry-After", "5")
			form.FormError = web.M("login.busy")
			c.Pages.FormPage(w, r, http.StatusServiceUnavailable, "operator_login", form)
			return
		}
		c.Pages.Error(w, r, err)
		return
	}
	if !ok {
		d, err := chk.Fail()
		if err != nil {
			c.Pages.Error(w, r, err)
			return
		}
		if d.Locked {
			c.locked(w, r, form, d.RetryAt)
			return
		}
		form.FormError = web.M("operator.invalid_credentials")
		c.Pages.FormPage(w, r, http.StatusUnauthorized, "operator_login", form)
		return
	}
	if err := chk.Succeed(); err != nil {
		c.Pages.Error(w, r, err)
		return
	}
	if err := c.audit(ctx, op, "operator.login", "", nil); err != nil {
		c.Pages.Error(w, r, err)
		return
	}
	if err := c.startSession(w, r, op); err != nil {
		c.Pages.Error(w, r, err)
		return
	}
	c.CSRF.Rotate(w)
	http.Redirect(w, r, "/operator", http.StatusSeeOther)
}

func (c *Console) locked(w http.ResponseWriter, r *http.Request, form web.Form, retry time.Time) {
	form.FormError = web.M("operator.locked")
	form.RetryAfter = retry
	if s := int(retry.Sub(c.now()).Seconds()); s > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(s))
	}
	c.Pages.FormPage(w, r, http.StatusTooManyRequests, "operator_login", form)
}

func (c *Console) handleLogout(w http.ResponseWriter, r *http.Request) {
	op, err := c.current(r)
	if err != nil {
		c.Pages.Error(w, r, err)
		return
	}
	if !c.checkCSRF(w, r, op) {
		return
	}
	if cookie := c.Cookies.Get(r, sessionCookie); cookie != "" && len(cookie) <= 64 {
		if err := c.Sessions.DeleteEntry(r.Context(), sessionKey(cookie)); err != nil {
			c.Pages.Error(w, r, err)
			return
		}
	}
	c.Cookies.Delete(w, sessionCookie)
	c.CSRF.Rotate(w)
	http.Redirect(w, r, "/operator/login", http.StatusSeeOther)
}
