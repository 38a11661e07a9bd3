package web

import (
	"net/http"
	"strconv"
	"strings"
)

// langCookie remembers a language chosen with ?lang=.
const (
	langCookie = "lang"
	langParam  = "lang"
	// langCookieMaxAge keeps the choice for a year.
	langCookieMaxAge = 365 * 24 * 60 * 60
)

func validLang(s string) bool { return s == LangRU || s == LangEN }

// Lang picks the page language for req: "ru" or "en". An explicit ?lang=
// wins (the renderer then remembers it in the "lang" cookie), then the
// cookie, then the Accept-Language header (the acceptable language with the
// highest weight; Russian on a tie), and Russian otherwise.
func (r *Renderer) Lang(req *http.Request) string {
	if l := req.URL.Query().Get(langParam); validLang(l) {
		return l
	}
	if c := r.cookies.Get(req, langCookie); validLang(c) {
		return c
	}
	return langFromAccept(req.Header.Get("Accept-Language"))
}

// langFromAccept chooses between ru and en by the weights of an
// Accept-Language header (RFC 9110, section 12.5.4).
func langFromAccept(header string) string {
	best, bestQ := LangRU, 0.0
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if !validLang(primary) {
			continue
		}
		q := 1.0
		if params = strings.TrimSpace(params); params != "" {
			name, value, ok := strings.Cut(params, "=")
			if !ok || strings.TrimSpace(name) != "q" {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil || v < 0 || v > 1 {
				continue
			}
			q = v
		}
		if q > bestQ || (q == bestQ && q > 0 && primary == LangRU) {
			best, bestQ = primary, q
		}
	}
	return best
}

// rememberLang stores an explicit ?lang= choice in the "lang" cookie.
func (r *Renderer) rememberLang(w http.ResponseWriter, req *http.Request) {
	l := req.URL.Query().Get(langParam)
	if !validLang(l) {
		return
	}
	if r.cookies.Get(req, langCookie) == l {
		return
	}
	r.cookies.Set(w, langCookie, l, langCookieMaxAge)
}

// langLink is one entry of the language switch.
type langLink struct {
	Lang    string // "ru" or "en"
	Label   string // "RU" or "EN"
	URL     string // the current path and query with lang set
	Current bool
}

// langLinks builds the RU | EN switch: each link keeps the current path and
// query and sets lang.
func langLinks(req *http.Request, current string) []langLink {
	path := req.URL.EscapedPath()
	// A path such as "//host" would make a protocol-relative link to
	// another site; keep the link on this one.
	path = "/" + strings.TrimLeft(path, "/\\")
	links := make([]langLink, 0, 2)
	for _, l := range []string{LangRU, LangEN} {
		q := req.URL.Query() // a fresh copy on every call
		q.Set(langParam, l)
		links = append(links, langLink{
			Lang:    l,
			Label:   strings.ToUpper(l),
			URL:     path + "?" + q.Encode(),
			Current: l == current,
		})
	}
	return links
}
