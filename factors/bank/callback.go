package bank

import (
	"errors"
	"net/url"
	"strings"
	"unicode"
)

// Callback is what the bank sent back to the redirect URI (RFC 6749
// §4.1.2, §4.1.2.1; RFC 9207's iss).
type Callback struct {
	State string
	Code  string
	// Error is the bank's error code (access_denied when the citizen
	// declined); empty on success.
	Error string
	// Issuer is the iss parameter (RFC 9207); empty when the bank sends
	// none.
	Issuer string
}

// Bounds of callback parameters worth reading.
const (
	maxState = 128
	maxCode  = 4096
	maxError = 64
	maxIss   = 512
)

// ErrCallback: the callback's parameters are not a response to an
// authorization request (missing, repeated, too long or malformed).
var ErrCallback = errors.New("bank: malformed callback")

// ParseCallback reads a callback's query. Every parameter appears at most
// once; state is required; either code or error is, not both. An error
// code is kept only when it is a token of printable ASCII (it is shown
// and logged).
func ParseCallback(q url.Values) (Callback, error) {
	one := func(name string, limit int) (string, bool) {
		v := q[name]
		switch {
		case len(v) == 0:
			return "", true
		case len(v) > 1 || len(v[0]) > limit:
			return "", false
		}
		return v[0], true
	}
	var c Callback
	var ok [4]bool
	c.State, ok[0] = one("state", maxState)
	c.Code, ok[1] = one("code", maxCode)
	c.Error, ok[2] = one("error", maxError)
	c.Issuer, ok[3] = one("iss", maxIss)
	for _, o := range ok {
		if !o {
			return Callback{}, ErrCallback
		}
	}
	if c.State == "" || (c.Code == "") == (c.Error == "") || !printable(c.State) || !printable(c.Code) {
		return Callback{}, ErrCallback
	}
	if c.Error != "" && !token(c.Error) {
		c.Error = "invalid_error"
	}
	return c, nil
}

// printable reports whether s is printable ASCII without spaces.
func printable(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r > '~' })
}

// token reports whether s is a lower-case error code such as access_denied.
func token(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r != '_' && !unicode.IsLower(r) || r > unicode.MaxASCII })
}
