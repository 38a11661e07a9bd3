package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/idp/identifier"
	"github.com/esia-oidc/idp/internal/testserver"
	"github.com/esia-oidc/idp/store"
)

// Recovery of a forgotten password through the pages, on two server
// processes of one deployment (PostgreSQL and Redis): by phone and by
// SNILS (the code going to the confirmed phone), after which every session
// of the account is over and every refresh token refused, the old password
// refused and the new one accepted; identifiers that name no account get
// the same answers at every step they reach; and wrong recovery codes sent
// to both processes at once are judged exactly the policy's number of
// times.

// recoverEnv: development mode (the outbox holds the codes), and the
// servers trust the loopback proxy, so that each browser of the test comes
// from an address of its own (X-Forwarded-For) and no browser meets the
// proof of work asked of an address after a few recoveries.
var recoverEnv = append([]string{"IDP_TRUSTED_PROXIES=127.0.0.1/32"}, registerEnv...)

// recoverBrowser is a browser with an address of its own (fromAddr: it
// reads the pages in English), on one process.
func recoverBrowser(t *testing.T, d *factorDeployment, srv *testserver.Server) (*factorFlow, *testserver.Agent) {
	ip := fmt.Sprintf("10.%s.%s.%s", smallNumber(), smallNumber(), smallNumber())
	return &factorFlow{t: t, d: d, srv: srv}, testserver.NewAgent(d.a.URL, fromAddr(ip))
}

func smallNumber() string {
	n := 0
	for _, c := range randomDigits(3) {
		n = n*10 + int(c-'0')
	}
	return fmt.Sprint(1 + n%250)
}

func newRecoveryDeployment(t *testing.T) *factorDeployment {
	t.Helper()
	return newDeployment(t, recoverEnv, adminclient.ClientMetadata{
		ClientName: "Keeps refresh tokens", RedirectURIs: []string{replicaRedirect},
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scope: "openid offline_access",
		TokenEndpointAuthMethod: "none", SubjectType: "public",
	})
}

// recoverCitizen is an account with a confirmed phone and a SNILS.
func recoverCitizen(t *testing.T, d *factorDeployment, password string) (phone, snils string) {
	t.Helper()
	phone, snils = randomPhone(t), randomSNILS()
	acct, err := d.a.Admin().CreateAccount(ctxT(t), adminclient.NewAccount{Phone: phone, Password: password, LastName: "Кузнецова", FirstName: "Анна"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.db.UpdateAccount(ctxT(t), acct.ID, func(a *store.Account) error {
		a.PhoneVerified = true
		a.SNILS = snils
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return phone, snils
}

// randomSNILS is a valid SNILS (11 digits, the control number right) whose
// number is past those without a control number.
func randomSNILS() string {
	n := "1" + randomDigits(8)
	sum := 0
	for i := range 9 {
		sum += int(n[i]-'0') * (9 - i)
	}
	c := sum
	switch {
	case sum == 100 || sum == 101:
		c = 0
	case sum > 101:
		c = sum % 101
		if c == 100 {
			c = 0
		}
	}
	return fmt.Sprintf("%s%02d", n, c)
}

func (d *factorDeployment) refreshConfig() *oauth2.Config {
	return &oauth2.Config{ClientID: d.client, RedirectURL: replicaRedirect, Scopes: []string{"openid", "offline_access"},
		Endpoint: oauth2.Endpoint{AuthURL: d.a.URL + "/authorize", TokenURL: d.a.URL + "/token", AuthStyle: oauth2.AuthStyleInParams}}
}

// signInForRefresh logs in with the password in ag and returns the tokens,
// or the error of the authorization (the page it stopped at).
func (d *factorDeployment) signInForRefresh(t *testing.T, ag *testserver.Agent, phone, password string) (*oauth2.Token, *testserver.Page, error) {
	t.Helper()
	conf := d.refreshConfig()
	auth := newBrowserAuth(t, conf)
	cb, page, err := ag.Authorize(ctxT(t), auth.url, testserver.Login{Identifier: phone, Password: password})
	if err != nil {
		return nil, page, err
	}
	if cb.Query().Get("code") == "" {
		t.Fatalf("no code for the client: %s", cb)
	}
	tok, err := conf.Exchange(ctxT(t), cb.Query().Get("code"), oauth2.VerifierOption(auth.verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}
	return tok, page, nil
}

// pageShape is what a recovery page tells a visitor: its status, where it
// is (or where it sends), and the names of its form fields.
type pageShape struct {
	Status int
	Path   string
	Fields string
}

var (
	shapeFormRe = regexp.MustCompile(`(?s)<form[^>]*>.*?</form>`)
	shapeNameRe = regexp.MustCompile(`name="([^"]*)"`)
)

func shapeOf(p *testserver.Page) pageShape {
	s := pageShape{Status: p.Status, Path: p.URL.Path}
	if loc := p.Location(); loc != nil {
		s.Path = "-> " + loc.Path
	}
	var names []string
	for _, f := range shapeFormRe.FindAllString(p.Body, -1) {
		for _, m := range shapeNameRe.FindAllStringSubmatch(f, -1) {
			if !slices.Contains(names, m[1]) {
				names = append(names, m[1])
			}
		}
	}
	slices.Sort(names)
	s.Fields = strings.Join(names, ",")
	return s
}

// recoveryCodes is every recovery code the outboxes of both processes
// hold for `to`.
func recoveryCodes(t *testing.T, d *factorDeployment, to string) []string {
	t.Helper()
	var out []string
	for _, srv := range []*testserver.Server{d.a, d.b} {
		for _, m := range outbox(t, srv, to) {
			if m.Code != "" {
				out = append(out, m.Code)
			}
		}
	}
	return out
}

// newRecoveryCode waits for a code to `to` that is not among before.
func newRecoveryCode(t *testing.T, d *factorDeployment, to string, before []string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		all := recoveryCodes(t, d, to)
		if len(all) > len(before) {
			rest := slices.Clone(all)
			for _, c := range before {
				if i := slices.Index(rest, c); i >= 0 {
					rest = slices.Delete(rest, i, i+1)
				}
			}
			return rest[len(rest)-1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no recovery code sent to %s", to)
	return ""
}

// recoverSteps walks a recovery up to the code step and sends one wrong
// code: the shapes of the answers to the identifier, of the code page,
// and of the answer to the wrong code, and the code page.
func recoverSteps(ff *factorFlow, ag *testserver.Agent, ident, wrong string) ([]pageShape, *testserver.Page) {
	ff.t.Helper()
	start := ff.get(ag, ff.srv.URL+"/recover")
	if start.Status != http.StatusOK || !start.Has("identifier") {
		ff.t.Fatalf("/recover: %d without the identifier field", start.Status)
	}
	var shapes []pageShape
	sent, err := ag.Submit(ctxT(ff.t), start, start.Forms()[0], url.Values{"identifier": {ident}})
	if err != nil {
		ff.t.Fatal(err)
	}
	shapes = append(shapes, shapeOf(sent))
	codePage := ff.follow(ag, sent)
	shapes = append(shapes, shapeOf(codePage))
	if codePage.URL.Path != "/recover/code" || codePage.Status != http.StatusOK {
		ff.t.Fatalf("after the identifier: %d at %s", codePage.Status, codePage.URL.Path)
	}
	shapes = append(shapes, shapeOf(ff.submit(ag, codePage, "", url.Values{"code": {wrong}})))
	return shapes, codePage
}

func TestRecoveryEndToEnd(t *testing.T) {
	t.Parallel()
	d := newRecoveryDeployment(t)
	passwords := []string{"Kedr-Tundra-7Sever!", "Olen-Taiga-4Buran!", "Sosna-Vyuga-9Moroz!"}
	phone, snils := recoverCitizen(t, d, passwords[0])
	conf := d.refreshConfig()

	for i, tc := range []struct {
		name           string
		ident, unknown string
		srv            *testserver.Server
	}{
		// By phone on the other process than the one browser A uses; by
		// SNILS (the code to the confirmed phone) on the same one.
		{"phone", phone, randomPhone(t), d.b},
		{"snils", identifier.FormatSNILS(snils), identifier.FormatSNILS(randomSNILS()), d.a},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oldPw, newPw := passwords[i], passwords[i+1]

			// Browser A: signed in, with a refresh token that works.
			ffA, agA := recoverBrowser(t, d, d.a)
			tok, page, err := d.signInForRefresh(t, agA, phone, oldPw)
			if err != nil {
				t.Fatalf("sign in with the password: %v at %s (%d)", err, page.URL.Path, page.Status)
			}
			if tok, err = conf.TokenSource(ctxT(t), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil || tok.RefreshToken == "" {
				t.Fatalf("refresh before the recovery: %v", err)
			}
			if acc := ffA.get(agA, d.a.URL+"/account"); acc.URL.Path != "/account" || acc.Status != http.StatusOK {
				t.Fatalf("browser A's account page before the recovery: %d at %s", acc.Status, acc.URL.Path)
			}

			// Browser B recovers; browser C tries an identifier of no
			// account, step by step alike.
			ffB, agB := recoverBrowser(t, d, tc.srv)
			before := recoveryCodes(t, d, phone)
			known, codePage := recoverSteps(ffB, agB, tc.ident, "000000")
			code := newRecoveryCode(t, d, phone, before)
			if code == "000000" {
				t.Fatal("the code sent is the wrong code the test typed; run again")
			}
			ffC, agC := recoverBrowser(t, d, tc.srv)
			unknown, _ := recoverSteps(ffC, agC, tc.unknown, "000000")
			for step, want := range []pageShape{
				{Status: http.StatusSeeOther, Path: "-> /recover/code"},
				{Status: http.StatusOK, Path: "/recover/code"},
				{Status: http.StatusUnprocessableEntity, Path: "/recover/code"},
			} {
				if known[step].Status != want.Status || known[step].Path != want.Path {
					t.Errorf("step %d for the account: %+v, want %d %s", step+1, known[step], want.Status, want.Path)
				}
				if unknown[step] != known[step] {
					t.Errorf("step %d: an identifier of no account answers %+v, one of an account %+v", step+1, unknown[step], known[step])
				}
			}
			if !strings.Contains(known[1].Fields, "code") {
				t.Errorf("the code page has no code field: %s", known[1].Fields)
			}

			// The right code, then the new password.
			pwPage := ffB.submit(agB, codePage, "", url.Values{"code": {code}})
			if pwPage.URL.Path != "/recover/password" || pwPage.Status != http.StatusOK || !pwPage.Has("password") || !pwPage.Has("password_confirm") {
				t.Fatalf("after the right code: %d at %s", pwPage.Status, pwPage.URL.Path)
			}
			done := ffB.submit(agB, pwPage, "", url.Values{"password": {newPw}, "password_confirm": {newPw}})
			if done.Status != http.StatusOK || done.Has("password") {
				t.Fatalf("the new password: %d at %s: %.600s", done.Status, done.URL.Path, done.Body)
			}
			// The recovery did not log browser B in.
			if acc := ffB.get(agB, tc.srv.URL+"/account"); acc.URL.Path != "/login" {
				t.Errorf("browser B after the recovery: at %s (%d), want the login page", acc.URL.Path, acc.Status)
			}

			// A's refresh token is refused, A's session is over.
			_, err = conf.TokenSource(ctxT(t), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
			if c, status := oauthErrorOf(t, err); c != "invalid_grant" || status != http.StatusBadRequest {
				t.Errorf("browser A's refresh token after the recovery: %d %q, want 400 invalid_grant", status, c)
			}
			if acc := ffA.get(agA, d.a.URL+"/account"); acc.URL.Path != "/login" {
				t.Errorf("browser A's account page after the recovery: at %s (%d), want the login page", acc.URL.Path, acc.Status)
			}

			// The old password is refused, the new one works.
			_, agOld := recoverBrowser(t, d, d.a)
			if _, page, err := d.signInForRefresh(t, agOld, phone, oldPw); !errors.Is(err, testserver.ErrStopped) || page.URL.Path != "/login" {
				t.Errorf("the old password after the recovery: %v at %s (%d), want refused", err, page.URL.Path, page.Status)
			}
			_, agNew := recoverBrowser(t, d, d.a)
			if _, page, err := d.signInForRefresh(t, agNew, phone, newPw); err != nil {
				t.Errorf("the new password: %v at %s (%d)", err, page.URL.Path, page.Status)
			}
		})
	}

	t.Run("lockout across replicas", func(t *testing.T) {
		const attempts = 5 // the default lockout policy
		phone, _ := recoverCitizen(t, d, passwords[0])
		// One recovery of the same phone begun on each process: the
		// lockout counts the identifier, whichever recovery and process.
		type side struct {
			codeSide
			code string
		}
		var sides []side
		for _, srv := range []*testserver.Server{d.a, d.b} {
			ff, ag := recoverBrowser(t, d, srv)
			before := recoveryCodes(t, d, phone)
			start := ff.get(ag, srv.URL+"/recover")
			page := ff.submit(ag, start, "", url.Values{"identifier": {phone}})
			if page.URL.Path != "/recover/code" || page.Status != http.StatusOK {
				t.Fatalf("recovery on %s: %d at %s", srv.URL, page.Status, page.URL.Path)
			}
			sides = append(sides, side{codeSide{ag, page}, newRecoveryCode(t, d, phone, before)})
		}
		wrong := "000000"
		for slices.ContainsFunc(sides, func(s side) bool { return s.code == wrong }) {
			wrong = randomDigits(6)
		}
		burstUntilLocked(t, []codeSide{sides[0].codeSide, sides[1].codeSide}, wrong, attempts, http.StatusUnprocessableEntity, recoverLockedText)
		// Locked on both processes, even for the right code.
		for _, s := range sides {
			wantLocked(t, s.codeSide, s.code, recoverLockedText)
		}
	})
}

// recoverLockedText is the English message of a locked recovery step.
const recoverLockedText = "Too many wrong codes"
