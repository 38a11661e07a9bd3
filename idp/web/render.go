package web

import (
	"bytes"
	"embed"
	"fmt"
	"html"
	"html/template"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"
)

//go:embed templates/*.html static/*
var assets embed.FS

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{
	"login", "consent", "logout", "logged_out", "error",
	"register", "register_code", "register_password", "register_exists", "account", "levelup",
	"recover", "recover_code", "recover_factor", "recover_password", "recover_done",
	"contacts", "contacts_code", "personal", "letter", "letter_code", "delete", "deleted", "security",
	"security_totp", "security_backup", "security_confirm", "password_change",
	"operator_login", "operator", "operator_account", "operator_audit",
	"factor", "factor_enrol", "signature", "signature_notice",
	"bank", "bank_link", "bank_register", "bank_mismatch", "bank_qr", "bank_phone",
}

// Renderer renders the hosted pages and serves their static assets. The
// templates are parsed once by New; a Renderer is safe for concurrent use.
type Renderer struct {
	// SignatureLogin: the login page offers the electronic signature.
	SignatureLogin bool

	logger  *slog.Logger
	cookies Cookies
	pages   map[string]*template.Template
	static  map[string]staticFile
	msk     *time.Location
}

// New parses the embedded templates and loads the static assets.
// cookies writes the cookie the renderer sets (the remembered language).
// A nil logger means slog.Default().
func New(logger *slog.Logger, cookies Cookies) (*Renderer, error) {
	if logger == nil {
		logger = slog.Default()
	}
	r := &Renderer{logger: logger, cookies: cookies, pages: make(map[string]*template.Template)}
	var err error
	if r.static, err = loadStatic(assets); err != nil {
		return nil, err
	}
	layout, err := template.ParseFS(assets, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse layout: %w", err)
	}
	for _, name := range pageNames {
		t, err := layout.Clone()
		if err != nil {
			return nil, fmt.Errorf("web: clone layout: %w", err)
		}
		if _, err := t.ParseFS(assets, "templates/"+name+".html"); err != nil {
			return nil, fmt.Errorf("web: parse page %s: %w", name, err)
		}
		if t.Lookup("content") == nil || t.Lookup("title") == nil {
			return nil, fmt.Errorf("web: page %s must define title and content", name)
		}
		r.pages[name] = t
	}
	// Moscow has kept UTC+3 all year since 2014; the fixed zone stands in
	// where the system has no time zone database.
	r.msk, err = time.LoadLocation("Europe/Moscow")
	if err != nil {
		r.msk = time.FixedZone("MSK", 3*60*60)
	}
	return r, nil
}

// LoginData is what the login page shows. The form posts identifier,
// password, flow and csrf_token to Action (the page's own URL when empty).
type LoginData struct {
	Flow, CSRF, ClientName, Identifier string
	// FieldErrors maps a field ("identifier", "password") to a message key.
	FieldErrors map[string]string
	// FormError is the message key of an error about the whole form, shown
	// in a role="alert" region; FormErrorArgs are its arguments.
	FormError     string
	FormErrorArgs []any
	// RetryAfter, when set, is when the user may try again. It is shown as
	// HH:MM Moscow time: as the argument of FormError when FormErrorArgs is
	// empty and the message takes one (login.locked), else as a separate
	// sentence (login.retry_at).
	RetryAfter time.Time
	// Action is where the form posts; empty posts back to the page's URL.
	Action string
	// Banks: banks are configured (the page links to /login/bank).
	Banks bool
}

// ConsentData is what the consent page shows. The form posts flow,
// csrf_token and decision=allow or decision=deny.
type ConsentData struct {
	Flow, CSRF, ClientName string
	Scopes                 []ScopeView
	Action                 string // empty posts back to the page's URL
}

// ScopeView is one requested scope. Description is already localized by the
// caller, usually with T(lang, "scope."+name); when empty, Name is shown.
type ScopeView struct{ Name, Description string }

// LogoutData is what the logout confirmation shows. Flow is an opaque id of
// the pending logout; the form posts flow and csrf_token.
type LogoutData struct {
	Flow, CSRF, ClientName string
	Action                 string // empty posts back to the page's URL
}

// LoggedOutData is what the page after logout shows: an optional link back
// to the relying party.
type LoggedOutData struct{ BackURL, ClientName string }

// view is what the layout and every page template execute on.
type view struct {
	Lang      string
	LangLinks []langLink
	RequestID string
	Data      any

	static map[string]staticFile
}

// T translates key into the page's language.
func (v *view) T(key string, args ...any) string { return translate(v.Lang, key, args...) }

// Static returns the versioned URL of a static asset.
func (v *view) Static(name string) string {
	if f, ok := v.static[name]; ok {
		return "/static/" + name + "?v=" + f.version
	}
	return "/static/" + name
}

// loginView adds the localized messages to LoginData.
type loginView struct {
	LoginData
	FormErrors      []string
	IdentifierError string
	PasswordError   string
	RetryNote       string
	// Autofocus names the first field with an error.
	Autofocus string
	// Signature: the page offers the electronic signature.
	Signature bool
}

// Login renders the login page with the given status.
func (r *Renderer) Login(w http.ResponseWriter, req *http.Request, status int, d LoginData) {
	lang := r.Lang(req)
	v := loginView{LoginData: d, Signature: r.SignatureLogin}
	retry := ""
	if !d.RetryAfter.IsZero() {
		retry = d.RetryAfter.In(r.msk).Format("15:04")
	}
	if d.FormError != "" {
		args := d.FormErrorArgs
		if len(args) == 0 && retry != "" && d.FormError == "login.locked" {
			args, retry = []any{retry}, ""
		}
		v.FormErrors = append(v.FormErrors, translate(lang, d.FormError, args...))
	}
	if retry != "" {
		v.RetryNote = translate(lang, "login.retry_at", retry)
	}
	for _, field := range slices.Sorted(maps.Keys(d.FieldErrors)) {
		msg := translate(lang, d.FieldErrors[field])
		switch field {
		case "identifier":
			v.IdentifierError = msg
		case "password":
			v.PasswordError = msg
		default:
			// A field this page does not have: do not drop the message.
			v.FormErrors = append(v.FormErrors, msg)
		}
	}
	switch {
	case v.IdentifierError != "":
		v.Autofocus = "identifier"
	case v.PasswordError != "":
		v.Autofocus = "password"
	}
	r.render(w, req, status, "login", lang, v)
}

// Consent renders the consent page with the given status.
func (r *Renderer) Consent(w http.ResponseWriter, req *http.Request, status int, d ConsentData) {
	r.render(w, req, status, "consent", r.Lang(req), d)
}

// Logout renders the logout confirmation with the given status.
func (r *Renderer) Logout(w http.ResponseWriter, req *http.Request, status int, d LogoutData) {
	r.render(w, req, status, "logout", r.Lang(req), d)
}

// LoggedOut renders the page shown after logout with the given status.
func (r *Renderer) LoggedOut(w http.ResponseWriter, req *http.Request, status int, d LoggedOutData) {
	r.render(w, req, status, "logged_out", r.Lang(req), d)
}

// render executes a page into a buffer and writes it with its headers; a
// template error becomes a plain 500 page, never half a page.
func (r *Renderer) render(w http.ResponseWriter, req *http.Request, status int, page, lang string, data any) {
	v := &view{
		Lang:      lang,
		LangLinks: langLinks(req, lang),
		RequestID: requestID(w, req),
		Data:      data,
		static:    r.static,
	}
	var buf bytes.Buffer
	t, ok := r.pages[page]
	var err error
	if !ok {
		err = fmt.Errorf("no page %q", page)
	} else {
		err = t.ExecuteTemplate(&buf, "layout", v)
	}
	if err != nil {
		r.logger.ErrorContext(req.Context(), "web: render page", "page", page, "request_id", v.RequestID, "err", err)
		buf.Reset()
		buf.WriteString(fallbackPage(lang))
		status = http.StatusInternalServerError
	}
	r.rememberLang(w, req)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Language", lang)
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("X-Content-Type-Options", "nosniff")
	setDefault(h, "Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'")
	setDefault(h, "X-Frame-Options", "DENY")
	setDefault(h, "Referrer-Policy", "no-referrer")
	if status < 100 || status > 999 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// setDefault sets a header unless a middleware already did.
func setDefault(h http.Header, key, value string) {
	if h.Get(key) == "" {
		h.Set(key, value)
	}
}

// fallbackPage is the page written when a template fails: no layout, no
// data, only the generic message.
func fallbackPage(lang string) string {
	return `<!doctype html><html lang="` + lang + `"><meta charset="utf-8">` +
		`<meta name="viewport" content="width=device-width, initial-scale=1">` +
		`<title>` + html.EscapeString(translate(lang, "app.name")) + `</title>` +
		`<h1>` + html.EscapeString(translate(lang, "error.title")) + `</h1>` +
		`<p>` + html.EscapeString(translate(lang, "error.internal")) + `</p></html>`
}
