package login_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esia-oidc/idp/factors/bank"
	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/server"
	"github.com/esia-oidc/idp/internal/idptest"
	"github.com/esia-oidc/idp/internal/testserver"
	"github.com/esia-oidc/idp/store"
)

// banked is our provider with a bank: a second provider in process
// playing the bank simulator, whose client redirects to ours.
type banked struct {
	ours, bank *idptest.IDP
}

func newBanked(t *testing.T) *banked {
	t.Helper()
	b := idptest.New(t, func(c *config.Config) { c.BankSim = true })
	if err := b.Srv.SeedBankSim(context.Background()); err != nil {
		t.Fatal(err)
	}
	ours := idptest.New(t, func(c *config.Config) {
		c.Banks = []bank.Config{{ID: "sim", NameRU: "Банк-симулятор", Issuer: b.Issuer,
			ClientID: server.BankSimClientID, ClientSecret: server.BankSimClientSecret, IdentifiesInPerson: true}}
	})
	_, err := b.Srv.Durable.UpdateClient(context.Background(), server.BankSimClientID, func(c *store.Client) error {
		c.RedirectURIs = []string{ours.Issuer + "/login/bank/callback"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return &banked{ours: ours, bank: b}
}

func get(t *testing.T, a *testserver.Agent, u string) *testserver.Page {
	t.Helper()
	p, err := a.Get(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func submit(t *testing.T, a *testserver.Agent, p *testserver.Page, form int, vals url.Values) *testserver.Page {
	t.Helper()
	forms := p.Forms()
	if len(forms) <= form {
		t.Fatalf("%s (%d) has no form %d:\n%s", p.URL, p.Status, form, p.Body)
	}
	next, err := a.Submit(context.Background(), p, forms[form], vals)
	if err != nil {
		t.Fatal(err)
	}
	return next
}

// follow follows redirects on the agent's own provider.
func follow(t *testing.T, a *testserver.Agent, p *testserver.Page) *testserver.Page {
	t.Helper()
	for range 10 {
		loc := p.Location()
		if loc == nil || !strings.HasPrefix(loc.String(), a.Issuer+"/") {
			return p
		}
		p = get(t, a, loc.String())
	}
	t.Fatal("too many redirects")
	return nil
}

// banksPage opens the list of banks of a local login in browser a.
func (e *banked) banksPage(t *testing.T, a *testserver.Agent) *testserver.Page {
	t.Helper()
	login := follow(t, a, get(t, a, e.ours.Issuer+"/account"))
	if !strings.Contains(login.Body, `id="bank-link"`) {
		t.Fatalf("the login page has no bank link: %d\n%s", login.Status, login.Body)
	}
	q := login.URL.Query().Get("flow")
	return get(t, a, e.ours.Issuer+"/login/bank?flow="+url.QueryEscape(q))
}

// atBank walks the citizen of the phone through the bank from the
// redirect p (to the bank) and returns the callback URL, with decision
// at the bank's consent.
func (e *banked) atBank(t *testing.T, p *testserver.Page, phone, decision string) *url.URL {
	t.Helper()
	loc := p.Location()
	if loc == nil || !strings.HasPrefix(loc.String(), e.bank.Issuer+"/authorize?") {
		t.Fatalf("not sent to the bank: %d %v\n%s", p.Status, loc, p.Body)
	}
	cb, page, err := e.bank.Agent().Authorize(context.Background(), loc.String(), testserver.Login{Identifier: phone, Password: server.DemoPassword, Decision: decision})
	if err != nil {
		t.Fatalf("at the bank: %v\n%s", err, page.Body)
	}
	return cb
}

func TestBankCallbackOnceAndInItsBrowser(t *testing.T) {
	e := newBanked(t)
	a := e.ours.Agent()
	cb := e.atBank(t, submit(t, a, e.banksPage(t, a), 0, url.Values{"way": {"here"}}), server.DemoPhone, "")

	// Another browser with the callback URL gets nothing, and spends it.
	if p := get(t, e.ours.Agent(), cb.String()); p.Status != http.StatusForbidden {
		t.Fatalf("the callback in another browser: %d", p.Status)
	}
	if p := get(t, a, cb.String()); p.Status != http.StatusNotFound {
		t.Fatalf("the callback spent by another browser, in its own: %d", p.Status)
	}

	// A fresh trip: the callback works once.
	cb = e.atBank(t, submit(t, a, e.banksPage(t, a), 0, url.Values{"way": {"here"}}), server.DemoPhone, "")
	if p := get(t, a, cb.String()); p.Status != http.StatusSeeOther || !strings.Contains(p.Header.Get("Location"), "/login/bank/register?flow=") {
		t.Fatalf("the callback: %d %s\n%s", p.Status, p.Header.Get("Location"), p.Body)
	}
	if p := get(t, a, cb.String()); p.Status != http.StatusNotFound || !strings.Contains(p.Body, "уже использован") {
		t.Fatalf("the callback again: %d\n%s", p.Status, p.Body)
	}
}

func TestBankDeclined(t *testing.T) {
	e := newBanked(t)
	a := e.ours.Agent()
	cb := e.atBank(t, submit(t, a, e.banksPage(t, a), 0, url.Values{"way": {"here"}}), server.DemoPhone, "deny")
	if cb.Query().Get("error") != "access_denied" {
		t.Fatalf("the bank answered %s", cb)
	}
	p := get(t, a, cb.String())
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, "Вы отменили вход в банке") || !p.Has("way") {
		t.Fatalf("declined at the bank: %d\n%s", p.Status, p.Body)
	}
}

func TestBankCallbackMalformed(t *testing.T) {
	e := newBanked(t)
	a := e.ours.Agent()
	for q, want := range map[string]int{
		"":                                    http.StatusBadRequest,
		"?state=x":                            http.StatusBadRequest,
		"?state=x&code=1&error=access_denied": http.StatusBadRequest,
		"?state=x&state=y&code=1":             http.StatusBadRequest,
		"?state=unknown&code=1":               http.StatusNotFound,
	} {
		if p := get(t, a, e.ours.Issuer+"/login/bank/callback"+q); p.Status != want {
			t.Errorf("callback%s: %d, want %d", q, p.Status, want)
		}
	}
}

// TestHandoffClaimedOnce: of phones that post the QR code's form at once,
// one goes to the bank; the others are told the code was used.
func TestHandoffClaimedOnce(t *testing.T) {
	e := newBanked(t)
	a := e.ours.Agent()
	qr := follow(t, a, submit(t, a, e.banksPage(t, a), 0, url.Values{"way": {"qr"}}))
	i := strings.Index(qr.Body, `id="bank-qr-url">`)
	if qr.Status != http.StatusOK || i < 0 {
		t.Fatalf("the QR page: %d\n%s", qr.Status, qr.Body)
	}
	target := qr.Body[i+len(`id="bank-qr-url">`):]
	target = target[:strings.Index(target, "<")]
	const phones = 6
	pages := make([]*testserver.Page, phones)
	agents := make([]*testserver.Agent, phones)
	for n := range phones {
		agents[n] = e.ours.Agent()
		pages[n] = get(t, agents[n], target)
		if pages[n].Status != http.StatusOK {
			t.Fatalf("phone %d: %d", n, pages[n].Status)
		}
	}
	var wg sync.WaitGroup
	status := make([]int, phones)
	for n := range phones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			forms := pages[n].Forms()
			p, err := agents[n].Submit(context.Background(), pages[n], forms[0], nil)
			if err == nil {
				status[n] = p.Status
			}
		}()
	}
	wg.Wait()
	went, refused := 0, 0
	for _, s := range status {
		switch s {
		case http.StatusSeeOther:
			went++
		case http.StatusGone:
			refused++
		}
	}
	if went != 1 || refused != phones-1 {
		t.Fatalf("statuses %v: want one 303 and the rest 410", status)
	}
}

// An account whose app code is asked at every login, matched by the
// bank's phone: the bank is linked only after the password and the app's
// code, never after the password alone.
func TestBankLinkAfterRequiredFactor(t *testing.T) {
	e := newBanked(t)
	ctx := context.Background()
	me := &mfaEnv{t: t, p: e.ours, ctx: ctx}
	app, secret := me.enrolTOTP("bank-totp")
	me.citizen("bank-totp", server.DemoPhone, &store.SecondFactors{TOTP: app, Required: true})
	linked := func() bool {
		t.Helper()
		acct, err := e.ours.Srv.Durable.GetAccount(ctx, "bank-totp")
		if err != nil {
			t.Fatal(err)
		}
		return acct.Factors.Bank("sim") != nil
	}

	a := e.ours.Agent()
	cb := e.atBank(t, submit(t, a, e.banksPage(t, a), 0, url.Values{"way": {"here"}}), server.DemoPhone, "")
	p := follow(t, a, get(t, a, cb.String()))
	if p.URL.Path != "/login/bank/link" {
		t.Fatalf("want the link page: %d %s\n%s", p.Status, p.URL, p.Body)
	}
	p = follow(t, a, submit(t, a, p, 0, url.Values{"password": {mfaPassword}}))
	onFactorPage(t, p, "totp")
	if linked() {
		t.Fatal("the bank was linked after the password alone")
	}
	p = follow(t, a, submit(t, a, p, 0, url.Values{"code": {totpCode(t, secret)}}))
	if p.URL.Path != "/account" || p.Status != http.StatusOK {
		t.Fatalf("after the app's code: %d %s\n%.600s", p.Status, p.URL, p.Body)
	}
	if !linked() {
		t.Fatal("the bank is not linked after the password and the app's code")
	}
	// The confirmed phone is told of the new way to log in.
	msgs := e.ours.WaitMessages(t, server.DemoPhone, 1)
	if len(msgs) != 1 || !strings.Contains(msgs[0].Body, "привязан вход через Банк-симулятор") {
		t.Fatalf("the notice of the link: %+v", msgs)
	}
	// The next bank login is the linked one: the app's code again, and
	// no password.
	b := e.ours.Agent()
	cb = e.atBank(t, submit(t, b, e.banksPage(t, b), 0, url.Values{"way": {"here"}}), server.DemoPhone, "")
	onFactorPage(t, follow(t, b, get(t, b, cb.String())), "totp")
}

// The bank's SNILS offers to link only an account whose personal data
// were checked: a SNILS typed on an account and never checked may be
// someone else's.
func TestBankSNILSMatchesCheckedDataOnly(t *testing.T) {
	e := newBanked(t)
	ctx := context.Background()
	me := &mfaEnv{t: t, p: e.ours, ctx: ctx}
	me.citizen("bank-snils", "+79990007788", nil)
	if _, err := e.ours.Srv.Durable.UpdateAccount(ctx, "bank-snils", func(a *store.Account) error {
		a.SNILS = server.DemoSNILS
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	landing := func() string {
		t.Helper()
		a := e.ours.Agent()
		cb := e.atBank(t, submit(t, a, e.banksPage(t, a), 0, url.Values{"way": {"here"}}), server.DemoPhone, "")
		return follow(t, a, get(t, a, cb.String())).URL.Path
	}
	if got := landing(); got != "/login/bank/register" {
		t.Fatalf("a SNILS never checked: on %s, want the registration", got)
	}

	// The same SNILS, checked: the link is offered.
	if _, err := e.ours.Srv.Durable.UpdateAccount(ctx, "bank-snils", func(a *store.Account) error {
		now := time.Now().UTC()
		a.Level = store.LevelStandard
		a.Verification = &store.Verification{ID: "ver-1", Status: store.VerificationApproved, Digest: account.CheckedDigest(a), RequestedAt: now, DecidedAt: now}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := landing(); got != "/login/bank/link" {
		t.Fatalf("a checked SNILS: on %s, want the link page", got)
	}
}
