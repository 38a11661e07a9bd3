package login

import (
	"net/http"
	"net/url"

	"github.com/esia-oidc/idp/idp/web"
)

// The level-up step: an account below the level the request needs is shown
// how to raise it; its link gives up, and the client is told
// unmet_authentication_requirements.

// levelUp saves the flow and explains how to reach the level it needs.
func (l *Login) levelUp(w http.ResponseWriter, r *http.Request, f *Flow) {
	if err := l.saveFlow(r.Context(), f); err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	l.Pages.Error(w, r, &web.PageError{
		Status:  http.StatusForbidden,
		Key:     "error.level_" + string(f.Needs.MinLevel),
		BackURL: "/authorize/cancel?flow=" + url.QueryEscape(f.ID),
	})
}

// handleCancel gives up a flow and sends the citizen back to the client
// with unmet_authentication_requirements.
func (l *Login) handleCancel(w http.ResponseWriter, r *http.Request) {
	f := l.flowFromRequest(w, r)
	if f == nil {
		return
	}
	l.fail(w, r, f, ErrUnmetLevel)
}
