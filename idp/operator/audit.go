package operator

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// auditPage is what /operator/audit shows: the trail, newest first, a page
// at a time.
type auditPage struct {
	Operator   string
	Events     []*store.AuditEvent
	NextURL    string
	LogoutCSRF string
}

// auditPageSize is how many events a page shows.
const auditPageSize = 50

// handleAudit shows the audit trail to a supervisor, filtered by account
// or actor.
func (c *Console) handleAudit(w http.ResponseWriter, r *http.Request, op *store.Operator) {
	if !op.HasRole(store.RoleSupervisor) {
		c.Pages.Error(w, r, &web.PageError{Status: http.StatusForbidden, Key: "operator.supervisors_only"})
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	query := store.AuditQuery{
		AccountID: limit(q.Get("account"), 64),
		Actor:     limit(q.Get("actor"), 80),
		Before:    limit(q.Get("before"), 64),
		Limit:     auditPageSize,
	}
	events, err := c.Store.ListAudit(ctx, query)
	if err != nil {
		c.Pages.Error(w, r, err)
		return
	}
	if err := c.audit(ctx, op, "audit.read", query.AccountID, nil); err != nil {
		c.Pages.Error(w, r, err)
		return
	}
	page := auditPage{Operator: op.Name, Events: events, LogoutCSRF: c.CSRF.Token(w, r, csrfBind(op))}
	if len(events) == auditPageSize {
		next := url.Values{"before": {events[len(events)-1].ID}}
		if query.AccountID != "" {
			next.Set("account", query.AccountID)
		}
		if query.Actor != "" {
			next.Set("actor", query.Actor)
		}
		page.NextURL = "/operator/audit?" + next.Encode()
	}
	form := web.Form{Action: "/operator/audit", Values: map[string]string{"account": query.AccountID, "actor": query.Actor}, Page: page}
	c.Pages.FormPage(w, r, http.StatusOK, "operator_audit", form)
}

func limit(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n]
	}
	return s
}
