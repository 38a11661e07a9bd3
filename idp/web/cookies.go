package web

import "net/http"

// Cookies writes and reads the provider's cookies, the one place that does.
// Every cookie is for the whole site (Path=/), HttpOnly and SameSite=Lax.
// When Secure (the issuer is https) it is also Secure and its name carries
// the __Host- prefix, which a browser accepts only from this very host, over
// https, with Path=/ and no Domain: a sibling subdomain or a network
// attacker on plain http can then neither plant nor overwrite it (a planted
// CSRF or session cookie is the start of a fixation attack).
type Cookies struct {
	Secure bool
	// Prefix is put before every base name. Browsers do not separate
	// cookies by port, so another application on the same host (the
	// catalog portal beside the provider in development) names its cookies
	// apart with a prefix of its own.
	Prefix string
}

// hostPrefix is RFC 6265bis's __Host- cookie name prefix.
const hostPrefix = "__Host-"

// Name is the name a cookie called base has on the wire.
func (c Cookies) Name(base string) string {
	if c.Secure {
		return hostPrefix + c.Prefix + base
	}
	return c.Prefix + base
}

// Set sets the cookie called base. maxAge is in seconds: 0 makes a browser
// session cookie, a negative value deletes the cookie.
func (c Cookies) Set(w http.ResponseWriter, base, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     c.Name(base),
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   c.Secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

// Delete deletes the cookie called base.
func (c Cookies) Delete(w http.ResponseWriter, base string) { c.Set(w, base, "", -1) }

// Get returns the request's cookie called base, or "" when it has none.
func (c Cookies) Get(req *http.Request, base string) string {
	ck, err := req.Cookie(c.Name(base))
	if err != nil {
		return ""
	}
	return ck.Value
}

// Pending returns the value of the cookie called base that this response
// sets, or "" when it sets none (or deletes it).
func (c Cookies) Pending(w http.ResponseWriter, base string) string {
	name := c.Name(base)
	value := ""
	for _, line := range w.Header().Values("Set-Cookie") {
		if ck, err := http.ParseSetCookie(line); err == nil && ck.Name == name {
			value = ""
			if ck.MaxAge >= 0 {
				value = ck.Value
			}
		}
	}
	return value
}
