package selfservice_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/esia-oidc/idp/internal/testserver"
	"github.com/esia-oidc/idp/store"
)

// Deleting the account takes the password and a tick; the account, its
// consents and every session go, its phone and e-mail are free again, an
// audit event without personal data stays, and the contacts are told.
func TestDeleteAccount(t *testing.T) {
	p := newIDP(t)
	ctx := context.Background()
	if err := p.srv.Durable.PutConsent(ctx, &store.Consent{AccountID: p.taken.ID, ClientID: clientID, Scopes: []string{"openid", "fullname"}}); err != nil {
		t.Fatal(err)
	}
	rv := p.watchRevocations()
	a := p.loggedIn(t)
	other := p.loggedIn(t) // another browser of the same citizen
	page := get(t, a, "/account/delete")
	wantStatus(t, page, http.StatusOK)
	wantStatus(t, submit(t, a, page, "/account/delete", url.Values{"password": {takenPassword}}), http.StatusBadRequest)
	wantStatus(t, submit(t, a, page, "/account/delete", url.Values{"password": {"wrong"}, "confirm_delete": {"on"}}), http.StatusUnauthorized)
	if _, err := p.srv.Durable.GetAccount(ctx, p.taken.ID); err != nil {
		t.Fatalf("refused deletions deleted: %v", err)
	}
	if got := rv.list(); len(got) != 0 {
		t.Fatalf("refused deletions revoked %v", got)
	}
	// The tokens cannot be revoked: nothing is deleted.
	watch := p.srv.RevokeGrants
	p.srv.RevokeGrants = func(context.Context, string, string) error { return errors.New("store down") }
	if f := submit(t, a, page, "/account/delete", url.Values{"password": {takenPassword}, "confirm_delete": {"on"}}); f.Status < 500 {
		t.Errorf("deletion whose revocation failed: %d, want a server error", f.Status)
	}
	if _, err := p.srv.Durable.GetAccount(ctx, p.taken.ID); err != nil {
		t.Fatalf("a deletion whose revocation failed deleted: %v", err)
	}
	p.srv.RevokeGrants = watch
	done := submit(t, a, page, "/account/delete", url.Values{"password": {takenPassword}, "confirm_delete": {"on"}})
	wantStatus(t, done, http.StatusOK)
	if !strings.Contains(done.Body, "удалены") {
		t.Errorf("the page after deletion:\n%s", done.Body)
	}
	if _, err := p.srv.Durable.GetAccount(ctx, p.taken.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the account is still there: %v", err)
	}
	if got := rv.list(); len(got) != 1 || got[0] != p.taken.ID+"/" {
		t.Errorf("revoked %v, want every token of the account once", got)
	}
	if _, err := p.srv.Durable.FindAccount(ctx, store.IdentifierPhone, takenPhone); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the phone is still taken: %v", err)
	}
	if _, err := p.srv.Durable.GetConsent(ctx, p.taken.ID, clientID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the consent is still there: %v", err)
	}
	if sessions, err := p.srv.Sessions.List(ctx, p.taken.ID); err != nil || len(sessions) != 0 {
		t.Errorf("sessions left: %v, %v", sessions, err)
	}
	for name, ag := range map[string]*testserver.Agent{"this browser": a, "the other browser": other} {
		if loc := get(t, ag, "/account").Location(); loc == nil || loc.Path != "/login" {
			t.Errorf("%s is still signed in: %v", name, loc)
		}
	}
	events, err := p.srv.Durable.ListAudit(ctx, store.AuditQuery{AccountID: p.taken.ID})
	// The newest event is the deletion (the logins before it are the
	// account's history), and it holds no personal data.
	if err != nil || len(events) == 0 || events[0].Action != "account.delete" || events[0].Actor != "citizen:"+p.taken.ID || len(events[0].Details) != 0 {
		t.Errorf("audit %+v, %v", events, err)
	}
	if msgs := p.WaitMessages(t, takenEmail, 1); !strings.Contains(msgs[0].Body, "удалена") {
		t.Errorf("the e-mail was told %q", msgs[0].Body)
	}
}
