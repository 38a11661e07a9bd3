// Package web holds the catalog portal's pages: the service catalog with
// search, service pages that explain the account level they need, the
// application form pre-filled from the provider's claims, the citizen's
// applications, login through the provider (catalog/rp) and logout, and the
// back-channel logout receiver. Pages are server-rendered html/template,
// Russian first with English switchable, usable without JavaScript; forms
// carry CSRF tokens (idp/web's CSRF) and cookies are idp/web's Cookies with
// a prefix of the portal's own.
package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/esia-oidc/idp/catalog/rp"
	"github.com/esia-oidc/idp/catalog/services"
	"github.com/esia-oidc/idp/catalog/store"
	idpweb "github.com/esia-oidc/idp/idp/web"
)

//go:embed templates/*.html static/*
var assets embed.FS

var pageNames = []string{"home", "service", "apply", "application", "applications", "explain", "error"}

// Config are a Handler's dependencies.
type Config struct {
	Catalog *services.Catalog
	Store   store.Store
	RP      *rp.Client
	Cookies idpweb.Cookies // give it a Prefix: browsers share cookies across ports
	CSRF    *idpweb.CSRF
	Logger  *slog.Logger
	Now     func() time.Time
	// SessionTTL is how long a portal session lasts (default 8 h).
	SessionTTL time.Duration
	// Scopes are asked at every login; default: every scope a service
	// asks for plus offline_access (for the refresh token).
	Scopes []string
}

// Handler serves the portal. Mount it on a mux.
type Handler struct {
	cfg    Config
	pages  map[string]*template.Template
	static http.Handler
	idp    *idpweb.Renderer // the provider's pages: static assets and the scopes' descriptions
	css    []byte
	csp    string
}

// New parses the templates.
func New(cfg Config) (*Handler, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = append(cfg.Catalog.Scopes(), "offline_access")
	}
	if cfg.Catalog == nil || cfg.Store == nil || cfg.RP == nil || cfg.CSRF == nil {
		return nil, errors.New("catalog web: Catalog, Store, RP and CSRF are required")
	}
	h := &Handler{cfg: cfg, pages: map[string]*template.Template{}}
	layout, err := template.ParseFS(assets, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("catalog web: %w", err)
	}
	for _, name := range pageNames {
		t, err := layout.Clone()
		if err == nil {
			_, err = t.ParseFS(assets, "templates/"+name+".html")
		}
		if err != nil {
			return nil, fmt.Errorf("catalog web: page %s: %w", name, err)
		}
		h.pages[name] = t
	}
	// The provider's stylesheet and icon are reused as they are; the
	// portal's own rules come after them.
	r, err := idpweb.New(cfg.Logger, cfg.Cookies)
	if err != nil {
		return nil, err
	}
	h.idp, h.static = r, r.Static()
	if h.css, err = assets.ReadFile("static/catalog.css"); err != nil {
		return nil, err
	}
	// Forms post to the portal; the logout form's redirect goes on to the
	// provider's end-session endpoint.
	formAction := "'self'"
	if u, err := url.Parse(cfg.RP.Issuer()); err == nil && u.Host != "" {
		formAction += " " + u.Scheme + "://" + u.Host
	}
	h.csp = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action " + formAction
	return h, nil
}

// Mount registers the portal's routes.
func (h *Handler) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", h.home)
	mux.HandleFunc("GET /services/{id}", h.service)
	mux.HandleFunc("GET /services/{id}/apply", h.applyForm)
	mux.HandleFunc("POST /services/{id}/apply", h.applySubmit)
	mux.HandleFunc("GET /applications", h.applications)
	mux.HandleFunc("GET /applications/{number}", h.application)
	mux.HandleFunc("GET /login", h.login)
	mux.HandleFunc("GET /callback", h.callback)
	mux.HandleFunc("POST /logout", h.logout)
	mux.HandleFunc("POST /backchannel-logout", h.backchannelLogout)
	mux.Handle("GET /static/", h.static)
	mux.HandleFunc("GET /assets/catalog.css", h.stylesheet)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.error(w, r, http.StatusNotFound, "error.not_found", nil)
	})
}

func (h *Handler) stylesheet(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "catalog.css", time.Time{}, bytes.NewReader(h.css))
}

// lang picks the page language: ?lang=, then the lang cookie, then
// Accept-Language (English only when it comes before Russian), Russian
// otherwise.
func (h *Handler) lang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); l == "ru" || l == "en" {
		return l
	}
	if l := h.cfg.Cookies.Get(r, "lang"); l == "ru" || l == "en" {
		return l
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "ru"):
			return "ru"
		case strings.HasPrefix(tag, "en"):
			return "en"
		}
	}
	return "ru"
}

// langLink is an entry of the language switch.
type langLink struct {
	Lang, Label, URL string
	Current          bool
}

// view is what every template executes on.
type view struct {
	Lang       string
	LangLinks  []langLink
	Session    *store.Session
	LogoutCSRF string
	RequestID  string
	Data       any

	idp *idpweb.Renderer
}

// Scope describes a scope as the provider's consent page does.
func (v *view) Scope(name string) string {
	if d := v.idp.T(v.Lang, "scope."+name); d != "scope."+name {
		return d
	}
	return name
}

// T translates key into the page's language.
func (v *view) T(key string, args ...any) string { return translate(v.Lang, key, args...) }

// Level names an account level in the page's language.
func (v *view) Level(l string) string {
	if services.Level(l).Rank() == 0 {
		return v.T("level.none")
	}
	return v.T("level." + l)
}

// msk is Moscow time (UTC+3 all year since 2014).
var msk = time.FixedZone("MSK", 3*60*60)

// Time shows a time as DD.MM.YYYY HH:MM Moscow time.
func (v *view) Time(t time.Time) string { return t.In(msk).Format("02.01.2006 15:04") }

// Text picks a catalog text in the page's language.
func (v *view) Text(t services.Text) string { return t.In(v.Lang) }

// render writes a page with the portal's security headers.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, sess *store.Session, data any) {
	lang := h.lang(r)
	v := &view{Lang: lang, Session: sess, Data: data, RequestID: w.Header().Get("X-Request-Id"), idp: h.idp}
	path := "/" + strings.TrimLeft(r.URL.EscapedPath(), "/\\")
	for _, l := range []string{"ru", "en"} {
		q := r.URL.Query()
		q.Set("lang", l)
		v.LangLinks = append(v.LangLinks, langLink{Lang: l, Label: strings.ToUpper(l), URL: path + "?" + q.Encode(), Current: l == lang})
	}
	if sess != nil {
		v.LogoutCSRF = h.cfg.CSRF.Token(w, r, "logout")
	}
	var buf bytes.Buffer
	if err := h.pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		h.cfg.Logger.ErrorContext(r.Context(), "catalog: render", "page", page, "err", err)
		buf.Reset()
		buf.WriteString("<!doctype html><title>Error</title><p>" + template.HTMLEscapeString(translate(lang, "error.internal")))
		status = http.StatusInternalServerError
	}
	if l := r.URL.Query().Get("lang"); (l == "ru" || l == "en") && h.cfg.Cookies.Get(r, "lang") != l {
		h.cfg.Cookies.Set(w, "lang", l, 365*24*3600)
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Language", lang)
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorView is what the error page shows.
type errorView struct{ Message string }

// error renders the error page with a catalog message; cause is only
// logged.
func (h *Handler) error(w http.ResponseWriter, r *http.Request, status int, key string, cause error) {
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	if cause != nil || status >= 500 {
		h.cfg.Logger.Log(r.Context(), level, "catalog: error page", "status", status, "message", key, "path", r.URL.Path, "err", cause)
	}
	sess, _ := h.session(r)
	h.render(w, r, status, "error", sess, errorView{Message: translate(h.lang(r), key)})
}
