package selfservice_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

// The bound certificates on the security page: listed with their centre,
// serial and validity; unbinding one takes the password; the history
// shows it; the other factors stay.
func TestUnbindCertificate(t *testing.T) {
	p := newIDP(t)
	a := p.loggedIn(t)
	now := time.Now().UTC()
	fp := strings.Repeat("ab", 32)
	if _, err := p.srv.Durable.UpdateAccount(context.Background(), p.taken.ID, func(u *store.Account) error {
		u.Factors = &store.SecondFactors{Certificates: []store.BoundCertificate{{
			Fingerprint: fp, Subject: "Петрова Анна", Serial: "1f2e", Issuer: "Тестовый УЦ",
			NotAfter: now.AddDate(1, 0, 0), Qualified: true, BoundAt: now,
		}}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sec := get(t, a, "/account/security")
	wantStatus(t, sec, http.StatusOK)
	for _, want := range []string{`data-certificate="` + fp + `"`, "Петрова Анна", "Тестовый УЦ", "1f2e", "квалифицированный", `value="remove_certificate"`} {
		if !strings.Contains(sec.Body, want) {
			t.Errorf("the security page does not show %q", want)
		}
	}

	// The password first: without it, the confirmation page.
	confirm := securityAction(t, a, "remove_certificate", url.Values{"factor": {fp}})
	wantStatus(t, confirm, http.StatusOK)
	if !confirm.Has("password") || !strings.Contains(confirm.Body, "Отвязать сертификат?") {
		t.Fatalf("no password asked:\n%s", confirm.Body)
	}
	wrong := submit(t, a, confirm, "/account/security", url.Values{"password": {"wrong-password"}})
	if p.account(t, p.taken.ID).Factors.Certificate(fp) == nil || fieldError(wrong, "password") == "" {
		t.Fatalf("unbound with a wrong password (%d)", wrong.Status)
	}
	done := submit(t, a, confirm, "/account/security", url.Values{"password": {takenPassword}})
	if loc := done.Location(); done.Status != http.StatusSeeOther || loc == nil || loc.Query().Get("done") != "certificate_removed" {
		t.Fatalf("unbind: %d %v\n%s", done.Status, done.Header.Get("Location"), done.Body)
	}
	if f := p.account(t, p.taken.ID).Factors; f != nil {
		t.Errorf("factors left after the only certificate went: %+v", f)
	}
	after := follow(t, a, done)
	if !strings.Contains(after.Body, "Сертификат отвязан") || !strings.Contains(after.Body, "Отвязан сертификат электронной подписи") {
		t.Errorf("no notice or history entry of the unbinding:\n%s", after.Body)
	}
	// Gone: a second try says so.
	again := securityAction(t, a, "remove_certificate", url.Values{"factor": {fp}})
	wantStatus(t, again, http.StatusConflict)
}
