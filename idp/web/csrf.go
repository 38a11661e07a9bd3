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

// CSRF cookie and form field names.
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
	key    []byte
	secure bool
	// previous keys still verify tokens and browser ids made before the
	// server's secret was rotated; nothing new is made under them.
	previous [][]byte
}

// NewCSRF returns a CSRF with the given HMAC key (at least 32 bytes; derive
// it from the server's secret) that marks its cookie Secure when secure.
// Tokens made under a previous key (the keys derived from the secrets of
// IDP_SECRET_KEY_PREVIOUS) still verify, so forms open while the secret is
// rotated still post.
func NewCSRF(key []byte, secure bool, previous ...[]byte) (*CSRF, error) {
	c := &CSRF{key: append([]byte(nil), key...), secure: secure}
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

// cookie returns the browser's "csrf" cookie, setting a new one when the
// request has none.
func (c *CSRF) cookie(w http.ResponseWriter, req *http.Request) string {
	v := csrfCookieValue(req)
	if v == "" {
		v = pendingCookie(w, CSRFCookie)
	}
	if !validCSRFCookie(v) {
		b := make([]byte, csrfCookieBytes)
		_, _ = rand.Read(b) // crypto/rand.Read never fails
		v = base64.RawURLEncoding.EncodeToString(b)
		SetCookie(w, CSRFCookie, v, 0, c.secure)
	}
	return v
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
	v := csrfCookieValue(req)
	if v == "" || id == "" {
		return false
	}
	return c.matches(v, browserPurpose, id)
}

// Verify reports whether the posted form field "csrf_token" is the token
// bound to bindTo for this browser's cookie. The comparison takes constant
// time.
func (c *CSRF) Verify(req *http.Request, bindTo string) bool {
	v := csrfCookieValue(req)
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

// csrfCookieValue returns the request's well-formed "csrf" cookie, or "".
func csrfCookieValue(req *http.Request) string {
	ck, err := req.Cookie(CSRFCookie)
	if err != nil || !validCSRFCookie(ck.Value) {
		return ""
	}
	return ck.Value
}

func validCSRFCookie(v string) bool {
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == csrfCookieBytes
}

// pendingCookie returns the value of a cookie already set on this response,
// or "".
func pendingCookie(w http.ResponseWriter, name string) string {
	for _, line := range w.Header().Values("Set-Cookie") {
		if ck, err := http.ParseSetCookie(line); err == nil && ck.Name == name && ck.MaxAge >= 0 {
			return ck.Value
		}
	}
	return ""
}

// SetCookie sets a cookie for the whole site with HttpOnly and
// SameSite=Lax, Secure when secure. maxAge is in seconds: 0 makes a session
// cookie, a negative value deletes the cookie.
func SetCookie(w http.ResponseWriter, name, value string, maxAge int, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}
