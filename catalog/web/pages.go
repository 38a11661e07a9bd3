package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/esia-oidc/idp/catalog/services"
	"github.com/esia-oidc/idp/catalog/store"
)

// homeView is the catalog's front page.
type homeView struct {
	Query      string
	Searching  bool
	Results    []services.Service
	Categories []categoryView
	LoggedOut  bool
}

type categoryView struct {
	Category services.Category
	Services []services.Service
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	sess, err := h.session(r)
	if err != nil {
		h.error(w, r, http.StatusInternalServerError, "error.internal", err)
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	v := homeView{Query: q, Searching: q != "", LoggedOut: r.URL.Query().Has("logged_out") && sess == nil}
	if v.Searching {
		v.Results = h.cfg.Catalog.Search(q)
	}
	for _, c := range h.cfg.Catalog.Categories {
		if list := h.cfg.Catalog.InCategory(c.ID); len(list) > 0 {
			v.Categories = append(v.Categories, categoryView{Category: c, Services: list})
		}
	}
	h.render(w, r, http.StatusOK, "home", sess, v)
}

// serviceView is a service's page.
type serviceView struct {
	Service    *services.Service
	Meets      bool
	LoginURL   string // log in, landing on the form
	RaiseURL   string // step-up login with acr_values, landing back here
	ScopeNames []string
}

func (h *Handler) service(w http.ResponseWriter, r *http.Request) {
	s, ok := h.cfg.Catalog.Get(r.PathValue("id"))
	if !ok {
		h.error(w, r, http.StatusNotFound, "error.not_found", nil)
		return
	}
	sess, err := h.session(r)
	if err != nil {
		h.error(w, r, http.StatusInternalServerError, "error.internal", err)
		return
	}
	v := serviceView{Service: s, LoginURL: loginURL("/services/"+s.ID+"/apply", ""), ScopeNames: s.Scopes}
	if sess != nil {
		v.Meets = services.Level(sess.Level).Meets(s.Level)
		if !v.Meets {
			v.RaiseURL = loginURL("/services/"+s.ID, string(s.Level))
		}
	}
	h.render(w, r, http.StatusOK, "service", sess, v)
}

// fieldView is one field of the application form.
type fieldView struct {
	services.Field
	Value    string
	Verified bool
	Error    string // message key
}

// DescribedBy lists the ids of the hint, checked mark and error of the
// field, for aria-describedby.
func (f fieldView) DescribedBy() string {
	var ids []string
	if f.Hint.RU != "" {
		ids = append(ids, "f-"+f.Name+"-hint")
	}
	if f.Verified {
		ids = append(ids, "f-"+f.Name+"-verified")
	}
	if f.Error != "" {
		ids = append(ids, "f-"+f.Name+"-error")
	}
	return strings.Join(ids, " ")
}

// applyView is the application form.
type applyView struct {
	Service   *services.Service
	Fields    []fieldView
	CSRF      string
	HasErrors bool
}

// maxFieldLen bounds a form value, in characters; maxFormBytes a posted
// form.
const (
	maxFieldLen  = 200
	maxFormBytes = 64 << 10
)

// ready returns the session and service of an application request, or
// answers (redirects to login or to the service page) and returns nil.
func (h *Handler) ready(w http.ResponseWriter, r *http.Request) (*store.Session, *services.Service) {
	s, ok := h.cfg.Catalog.Get(r.PathValue("id"))
	if !ok {
		h.error(w, r, http.StatusNotFound, "error.not_found", nil)
		return nil, nil
	}
	sess, err := h.session(r)
	if err != nil {
		h.error(w, r, http.StatusInternalServerError, "error.internal", err)
		return nil, nil
	}
	if sess == nil {
		http.Redirect(w, r, loginURL("/services/"+s.ID+"/apply", ""), http.StatusSeeOther)
		return nil, nil
	}
	if !services.Level(sess.Level).Meets(s.Level) {
		http.Redirect(w, r, "/services/"+s.ID, http.StatusSeeOther)
		return nil, nil
	}
	return sess, s
}

func (h *Handler) applyForm(w http.ResponseWriter, r *http.Request) {
	sess, s := h.ready(w, r)
	if sess == nil {
		return
	}
	claims, err := h.freshClaims(r.Context(), sess)
	if errors.Is(err, errSessionEnded) {
		h.cfg.Logger.InfoContext(r.Context(), "catalog: session ended at the provider", "err", err)
		h.cfg.Cookies.Delete(w, sessionCookie)
		http.Redirect(w, r, loginURL("/services/"+s.ID+"/apply", ""), http.StatusSeeOther)
		return
	}
	if err != nil {
		h.error(w, r, http.StatusBadGateway, "error.provider", err)
		return
	}
	v := applyView{Service: s, CSRF: h.cfg.CSRF.Token(w, r, "apply:"+s.ID+":"+sess.ID)}
	for _, f := range s.Fields {
		fv := fieldView{Field: f}
		if f.Claim != "" {
			fv.Value, fv.Verified = claims.String(f.Claim)
		}
		v.Fields = append(v.Fields, fv)
	}
	h.render(w, r, http.StatusOK, "apply", sess, v)
}

func (h *Handler) applySubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	sess, s := h.ready(w, r)
	if sess == nil {
		return
	}
	if !h.cfg.CSRF.Verify(r, "apply:"+s.ID+":"+sess.ID) {
		h.error(w, r, http.StatusForbidden, "error.csrf", errors.New("apply: CSRF token"))
		return
	}
	claims := storedClaims(sess)
	v := applyView{Service: s, CSRF: h.cfg.CSRF.Token(w, r, "apply:"+s.ID+":"+sess.ID)}
	app := &store.Application{Subject: sess.Subject, ServiceID: s.ID, Fields: map[string]string{}, Created: h.cfg.Now()}
	for _, f := range s.Fields {
		fv := fieldView{Field: f, Value: strings.TrimSpace(r.PostFormValue(f.Name))}
		if f.Claim != "" {
			// A checked value is the provider's, whatever the form says.
			if val, ok := claims.String(f.Claim); ok {
				fv.Value, fv.Verified = val, true
			}
		}
		switch {
		case f.Required && fv.Value == "":
			fv.Error = "field.required"
		case utf8.RuneCountInString(fv.Value) > maxFieldLen:
			fv.Error = "field.too_long"
		}
		if fv.Error != "" {
			v.HasErrors = true
		}
		if fv.Value != "" {
			app.Fields[f.Name] = fv.Value
		}
		if fv.Verified {
			app.Verified = append(app.Verified, f.Name)
		}
		v.Fields = append(v.Fields, fv)
	}
	if v.HasErrors {
		h.render(w, r, http.StatusUnprocessableEntity, "apply", sess, v)
		return
	}
	app.Append(store.StatusSubmitted, h.cfg.Now(), "")
	if err := h.cfg.Store.CreateApplication(r.Context(), app); err != nil {
		h.error(w, r, http.StatusInternalServerError, "error.internal", err)
		return
	}
	h.cfg.Logger.InfoContext(r.Context(), "catalog: application submitted", "number", app.Number, "service", s.ID)
	http.Redirect(w, r, "/applications/"+strconv.FormatInt(app.Number, 10)+"?new=1", http.StatusSeeOther)
}

// FormatNumber is how an application number is shown.
func FormatNumber(n int64) string { return fmt.Sprintf("%08d", n) }

// applicationView is one application.
type applicationView struct {
	App     store.Application
	Number  string
	Service *services.Service
	New     bool
	Fields  []fieldView
}

// requireSession returns the session, or redirects to login and returns nil.
func (h *Handler) requireSession(w http.ResponseWriter, r *http.Request) *store.Session {
	sess, err := h.session(r)
	if err != nil {
		h.error(w, r, http.StatusInternalServerError, "error.internal", err)
		return nil
	}
	if sess == nil {
		http.Redirect(w, r, loginURL(r.URL.RequestURI(), ""), http.StatusSeeOther)
	}
	return sess
}

func (h *Handler) application(w http.ResponseWriter, r *http.Request) {
	sess := h.requireSession(w, r)
	if sess == nil {
		return
	}
	n, err := strconv.ParseInt(r.PathValue("number"), 10, 64)
	if err != nil {
		h.error(w, r, http.StatusNotFound, "error.not_found", nil)
		return
	}
	app, err := h.cfg.Store.GetApplication(r.Context(), n)
	if errors.Is(err, store.ErrNotFound) || (err == nil && app.Subject != sess.Subject) {
		// Another citizen's application is as absent as a missing one.
		h.error(w, r, http.StatusNotFound, "error.not_found", nil)
		return
	}
	if err != nil {
		h.error(w, r, http.StatusInternalServerError, "error.internal", err)
		return
	}
	v := applicationView{App: *app, Number: FormatNumber(app.Number), New: r.URL.Query().Has("new")}
	v.Service, _ = h.cfg.Catalog.Get(app.ServiceID)
	if v.Service != nil {
		for _, f := range v.Service.Fields {
			if val, ok := app.Fields[f.Name]; ok {
				v.Fields = append(v.Fields, fieldView{Field: f, Value: val, Verified: slices.Contains(app.Verified, f.Name)})
			}
		}
	}
	h.render(w, r, http.StatusOK, "application", sess, v)
}

// applicationsView is the citizen's list.
type applicationsView struct {
	Rows     []applicationRow
	Status   string
	Service  string
	Statuses []store.Status
	Services []services.Service
}

type applicationRow struct {
	App     store.Application
	Number  string
	Service *services.Service
}

func (h *Handler) applications(w http.ResponseWriter, r *http.Request) {
	sess := h.requireSession(w, r)
	if sess == nil {
		return
	}
	q := r.URL.Query()
	f := store.ApplicationFilter{Subject: sess.Subject, Limit: 200}
	if st := store.Status(q.Get("status")); st.Valid() {
		f.Status = st
	}
	if _, ok := h.cfg.Catalog.Get(q.Get("service")); ok {
		f.ServiceID = q.Get("service")
	}
	list, err := h.cfg.Store.ListApplications(r.Context(), f)
	if err != nil {
		h.error(w, r, http.StatusInternalServerError, "error.internal", err)
		return
	}
	v := applicationsView{Status: string(f.Status), Service: f.ServiceID, Services: h.cfg.Catalog.Services,
		Statuses: []store.Status{store.StatusSubmitted, store.StatusInReview, store.StatusApproved, store.StatusRejected}}
	for _, a := range list {
		s, _ := h.cfg.Catalog.Get(a.ServiceID)
		v.Rows = append(v.Rows, applicationRow{App: a, Number: FormatNumber(a.Number), Service: s})
	}
	h.render(w, r, http.StatusOK, "applications", sess, v)
}
