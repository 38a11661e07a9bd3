package httpx

import (
	"net/http"
	"net/url"
	"strings"
)

// DefaultFormActions are the form-action sources that SecurityHeaders
// allows beside 'self'.
//
// A login or consent form posts to the provider, which answers 303 to the
// relying party's redirect URI on another origin. Chromium applies
// form-action to every redirect that follows a form submission, so
// "form-action 'self'" alone blocks that redirect and the user is stuck on
// the provider's page (checked with Chromium 156 through chromedp: 'self'
// and 'self' https: both stopped a 303 to an http://127.0.0.1 callback;
// 'self' https: http: and 'self' plus the callback's origin let it through). Registered redirect URIs are https (or http on
// loopback, RFC 8252), hence "https:" and "http:" by default. A page that
// knows the one origin its form ends on narrows the policy:
// w.Header().Set("Content-Security-Policy", httpx.CSP(origin)) after
// SecurityHeaders ran (the login, consent and logout pages do).
// Native apps' private-use URI schemes (RFC 8252 section 7.1) need their
// scheme added the same way.
var DefaultFormActions = []string{"https:", "http:"}

// CSP returns the provider's Content-Security-Policy with formActions
// allowed beside 'self' as form targets: no inline scripts or styles, images
// from self and data: URIs, no framing, no <base>.
func CSP(formActions ...string) string {
	fa := "'self'"
	if len(formActions) > 0 {
		fa += " " + strings.Join(formActions, " ")
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"form-action " + fa + "; frame-ancestors 'none'; base-uri 'none'"
}

// hstsValue asks browsers to use https only for a year.
const hstsValue = "max-age=31536000"

// SecurityHeaders sets the security headers on every response before the
// handler runs (a handler may override them): CSP (see CSP and
// DefaultFormActions), X-Frame-Options DENY, X-Content-Type-Options nosniff,
// Referrer-Policy no-referrer, and Strict-Transport-Security when hsts is
// true (the issuer is https).
func SecurityHeaders(hsts bool) func(http.Handler) http.Handler {
	csp := CSP(DefaultFormActions...)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Frame-Options", "DENY")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			if hsts {
				h.Set("Strict-Transport-Security", hstsValue)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// NarrowFormAction lets the forms of the page being answered submit only to
// this provider and to the origin of uri, where the flow ends (the redirect
// after a form submission is subject to form-action too); an empty uri,
// only to this provider. uri was matched against a client's registered
// URIs; anything that does not make a plain scheme://host[:port] origin
// leaves the default policy.
func NarrowFormAction(w http.ResponseWriter, uri string) {
	if uri == "" {
		w.Header().Set("Content-Security-Policy", CSP())
		return
	}
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return
	}
	for _, c := range u.Host {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return
		}
	}
	w.Header().Set("Content-Security-Policy", CSP(u.Scheme+"://"+u.Host))
}
