package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
)

// CSRF cookie (its base name: see Cookies.Name) and form field names.
const (
	CSRFCookie = "csrf"
	CSRFField  = "csrf_token"
)

const (
	csrfCookieBytes = 32
	minCSRFKeyBytes = 32
)

// CSRF issues and checks double-submit tokens bound to a purpose. Each
// browser gets a random cookie "csrf"; a form carries
// base64url(HMAC-SHA-256(key, cookie + "|" + bindTo)), where bindTo is, for
// example, the id of the login flow the form belongs to. A forged form
// cannot carry a valid token without reading the cookie, and a token is
// useless for another flow. Safe for concurrent use.
type CSRF struct {
	key     []byte
	cookies Cookies
	// previous keys still verify tokens and browser ids made before the
	// server's secret was rotated; nothing new is made under them.
	previous [][]byte
}

// NewCSRF returns a CSRF with the given HMAC key (at least 32 bytes; derive
// it from the server's secret) that writes its cookie with cookies. Tokens
// made under a previous key (the keys derived from the secrets of
// IDP_SECRET_KEY_PREVIOUS) still verify, so forms open while the secret is
// rotated still post.
func NewCSRF(key []byte, cookies Cookies, previous ...[]byte) (*CSRF, error) {
	c := &CSRF{key: append([]byte(nil), key...), cookies: cookies}
	for _, k := range append([][]byte{key}, previous...) {
		if len(k) < minCSRFKeyBytes {
			return nil, errors.New("web: CSRF key must be at least 32 bytes")
		}
	}
	for _, k := range previous {
		c.previous = append(c.previous, append([]byte(nil), k...))
	}
	return c, nil
}

// Token returns the form token bound to bindTo. It sets the "csrf" cookie
// when the request has none (once per response, however many forms the
// page holds).
func (c *CSRF) Token(w http.ResponseWriter, req *http.Request, bindTo string) string {
	return c.sign(c.cookie(w, req), bindTo)
}

// cookie returns the browser's "csrf" cookie as it will be after this
// response: the one the response sets (a new one, or a rotated one), else
// the request's, else a new one that it sets.
func (c *CSRF) cookie(w http.ResponseWriter, req *http.Request) string {
	v := c.cookies.Pending(w, CSRFCookie)
	if !validCSRFCookie(v) {
		v = c.requestCookie(req)
	}
	if !validCSRFCookie(v) {
		v = c.newCookie(w)
	}
	return v
}

func (c *CSRF) newCookie(w http.ResponseWriter) string {
	b := make([]byte, csrfCookieBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	v := base64.RawURLEncoding.EncodeToString(b)
	c.cookies.Set(w, CSRFCookie, v, 0)
	return v
}

// Rotate gives the browser a new "csrf" cookie and returns its new browser
// id (see Browser). The provider rotates it at login, so that a cookie
// planted or read before login is worthless after it, and at logout, so
// that every login flow the browser had pending, bound to the old id, ends
// with the session: on a shared computer the next person cannot finish the
// previous citizen's flow.
func (c *CSRF) Rotate(w http.ResponseWriter) string {
	return c.sign(c.newCookie(w), browserPurpose)
}

// browserPurpose separates browser ids from form tokens.
const browserPurpose = "\x00browser"

// Browser returns an id of this browser (a keyed hash of its "csrf" cookie,
// which it sets when absent). A login flow records it, so that only the
// browser that started the flow can continue it: a flow id that leaks, or
// that an attacker hands to a victim, is worthless elsewhere.
func (c *CSRF) Browser(w http.ResponseWriter, req *http.Request) string {
	return c.sign(c.cookie(w, req), browserPurpose)
}

// SameBrowser reports, in constant time, whether req comes from the browser
// with the id that Browser returned.
func (c *CSRF) SameBrowser(req *http.Request, id string) bool {
	v := c.requestCookie(req)
	if v == "" || id == "" {
		return false
	}
	return c.matches(v, browserPurpose, id)
}

// Verify reports whether the posted form field "csrf_token" is the token
// bound to bindTo for this browser's cookie. The comparison takes constant
// time.
func (c *CSRF) Verify(req *http.Request, bindTo string) bool {
	v := c.requestCookie(req)
	if v == "" {
		return false
	}
	got := req.PostFormValue(CSRFField)
	if got == "" {
		return false
	}
	return c.matches(v, bindTo, got)
}

// matches reports, in constant time, whether got is the token of cookie and
// bindTo under the key or a previous one.
func (c *CSRF) matches(cookie, bindTo, got string) bool {
	ok := subtle.ConstantTimeCompare([]byte(got), []byte(c.sign(cookie, bindTo))) == 1
	for _, k := range c.previous {
		ok = ok || subtle.ConstantTimeCompare([]byte(got), []byte(signWith(k, cookie, bindTo))) == 1
	}
	return ok
}

func (c *CSRF) sign(cookie, bindTo string) string { return signWith(c.key, cookie, bindTo) }

func signWith(key []byte, cookie, bindTo string) string {
	m := hmac.New(sha256.New, key)
	// The cookie is base64url and never holds "|", so the input splits
	// one way only.
	m.Write([]byte(cookie))
	m.Write([]byte("|"))
	m.Write([]byte(bindTo))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// requestCookie returns the request's well-formed "csrf" cookie, or "".
func (c *CSRF) requestCookie(req *http.Request) string {
	v := c.cookies.Get(req, CSRFCookie)
	if !validCSRFCookie(v) {
		return ""
	}
	return v
}

func validCSRFCookie(v string) bool {
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == csrfCookieBytes
}
