package selfservice

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The pages keep what is half-way (a registration, a contact change) as
// JSON entries in the ephemeral store, named by an id that travels in the
// page's URL and forms.

// saveState stores v under key for ttl.
func (p *Pages) saveState(ctx context.Context, key string, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return p.State.PutEntry(ctx, key, b, ttl)
}

// loadState reads into v the state named by the request's param (stored
// under key(id)); ok is false, with the page rendered, when the id is
// missing or too long, the state is gone or unreadable, or it names
// another id (gone, a "start again" page). idOf returns the id v holds.
func (p *Pages) loadState(w http.ResponseWriter, r *http.Request, param string, key func(string) string, gone *web.PageError, v any, idOf func() string) bool {
	id := r.FormValue(param)
	if id == "" || len(id) > maxRegID {
		p.Pages.Error(w, r, gone)
		return false
	}
	b, err := p.State.GetEntry(r.Context(), key(id))
	if errors.Is(err, store.ErrNotFound) {
		p.Pages.Error(w, r, gone)
		return false
	}
	if err != nil {
		p.Pages.Error(w, r, err)
		return false
	}
	if err := json.Unmarshal(b, v); err != nil || idOf() != id {
		p.Pages.Error(w, r, gone)
		return false
	}
	return true
}

// loadBrowserState is loadState for a state that only the browser that
// began it may go on with (a registration, a recovery): browserOf returns
// the browser id v holds; another browser gets "other browser".
func (p *Pages) loadBrowserState(w http.ResponseWriter, r *http.Request, param string, key func(string) string, gone *web.PageError, v any, idOf, browserOf func() string) bool {
	if !p.loadState(w, r, param, key, gone, v, idOf) {
		return false
	}
	if !p.CSRF.SameBrowser(r, browserOf()) {
		p.Pages.Error(w, r, &web.PageError{Status: http.StatusForbidden, Key: "error.other_browser"})
		return false
	}
	return true
}
