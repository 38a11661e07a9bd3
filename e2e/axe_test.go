package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/factors/signature"
	"github.com/esia-oidc/idp/factors/signature/devca"
	"github.com/esia-oidc/idp/factors/totp"
	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/idp/server"
	"github.com/esia-oidc/idp/internal/testserver"
)

// axeScript is axe-core, fetched by scripts/axe.sh (make axe; make test
// runs it). A missing file fails the test: CI must not skip accessibility.
func axeScript(t *testing.T) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join("..", ".cache", "axe", "axe-core-*.min.js"))
	if len(matches) == 0 {
		t.Fatal("axe-core is missing: run scripts/axe.sh (make axe)")
	}
	b, err := os.ReadFile(matches[len(matches)-1])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// axeViolation is one rule a page breaks, with the elements that break it.
type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
}

// axeRun runs axe-core on the browser's current page (WCAG 2.1 A and AA,
// and axe's best practices) and returns the violations and how many rules
// the page passed (a page that passes none was not checked at all).
func axeRun(ctx context.Context, script string) ([]axeViolation, int, error) {
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](script+";true")); err != nil {
		return nil, 0, err
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}}).then(r => JSON.stringify({passes: r.passes.length, violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map(n => n.target.join(" "))}))}))`, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, 0, err
	}
	var res struct {
		Passes     int            `json:"passes"`
		Violations []axeViolation `json:"violations"`
	}
	err = json.Unmarshal([]byte(out), &res)
	return res.Violations, res.Passes, err
}

// axeCheck returns a check of the browser's current page: axe-core must
// pass rules on it and find no violation; each check counts in checked.
func axeCheck(t *testing.T, ctx context.Context, script string, checked *int) func(name string) {
	return func(name string) {
		t.Helper()
		vs, passes, err := axeRun(ctx, script)
		if err != nil {
			t.Fatalf("%s: run axe: %v", name, err)
		}
		if passes < 10 {
			t.Errorf("%s: axe passed only %d rules: did it run?", name, passes)
		}
		*checked++
		for _, v := range vs {
			t.Errorf("%s: %s (%s): %s at %s", name, v.ID, v.Impact, v.Help, strings.Join(v.Targets, "; "))
		}
	}
}

// axeDo returns a runner of browser actions that fails the test, saying
// where the browser was, when one fails.
func axeDo(t *testing.T, ctx context.Context) func(what string, actions ...chromedp.Action[chromedp.Void]) {
	return func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s (at %s): %v", what, loc, err)
		}
	}
}

// TestAccessibility opens every page a citizen and an operator walk
// through in headless Chromium at phone width, with the forms also showing
// their errors, and runs axe-core on each: no page may break a WCAG 2.1 A
// or AA rule or one of axe's best practices.
func TestAccessibility(t *testing.T) {
	t.Parallel()
	script := axeScript(t)
	sigCA, sigCAFile := axeSignatureCA(t)
	srv := testserver.Start(t, testserver.NewShared(t), "IDP_DEV=true", "IDP_REGISTRY_SIM_DELAY=0s", "IDP_JOB_POLL_INTERVAL=50ms",
		"IDP_SIGNATURE_CA="+sigCAFile, "IDP_SIGNATURE_FAIL_OPEN=true")
	adm := srv.Admin()
	ctx0 := context.Background()
	cl, err := adm.CreateClient(ctx0, adminclient.ClientMetadata{
		ClientName: "Портал", RedirectURIs: []string{replicaRedirect}, GrantTypes: []string{"authorization_code"},
		Scope: "openid fullname snils", TokenEndpointAuthMethod: "none",
	})
	if err != nil {
		t.Fatal(err)
	}
	mfaCl, err := adm.CreateClient(ctx0, adminclient.ClientMetadata{
		ClientName: "Налоги", RedirectURIs: []string{replicaRedirect}, GrantTypes: []string{"authorization_code"},
		Scope: "openid", TokenEndpointAuthMethod: "none", RequireMFA: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	phone := randomPhone(t)
	acct, err := adm.CreateAccount(ctx0, adminclient.NewAccount{Phone: phone, Password: registerPassword, LastName: "Смирнова", FirstName: "Ольга"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateOperator(ctx0, adminclient.NewOperator{Login: "axe", Password: "Operator-Pass-2026!", Name: "Окно", Roles: []string{"operator", "supervisor"}}); err != nil {
		t.Fatal(err)
	}
	mfaConf := &oauth2.Config{ClientID: mfaCl.ClientID, RedirectURL: replicaRedirect, Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token"}}
	conf := &oauth2.Config{ClientID: cl.ClientID, RedirectURL: replicaRedirect, Scopes: []string{"openid", "fullname", "snils"},
		Endpoint: oauth2.Endpoint{AuthURL: srv.URL + "/authorize", TokenURL: srv.URL + "/token"}}

	bctx := newBrowser(t)
	ctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)); err != nil {
		t.Fatal(err)
	}
	checked := 0
	check := axeCheck(t, ctx, script, &checked)
	do := axeDo(t, ctx)
	visible := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(chromedp.CSS(sel)) }
	submit := chromedp.Click(chromedp.CSS(`form button[type="submit"].button-primary`))

	// Registration, with and without errors, through the code to the password.
	do("registration page", chromedp.Navigate(srv.URL+"/register"), visible(`input[name="last_name"]`))
	check("register")
	do("registration errors", submit, visible(`.field-error`))
	check("register with errors")
	newPhone := randomPhone(t)
	do("registration form",
		chromedp.SendKeys(chromedp.CSS(`input[name="last_name"]`), "Соколова"),
		chromedp.SendKeys(chromedp.CSS(`input[name="first_name"]`), "Дарья"),
		chromedp.SendKeys(chromedp.CSS(`input[name="phone"]`), newPhone),
		chromedp.Click(chromedp.CSS(`input[name="accept_terms"]`)),
		submit, visible(`input[name="code"]`))
	check("registration code")
	do("wrong code", chromedp.SendKeys(chromedp.CSS(`input[name="code"]`), "000001"), submit, visible(`.field-error`))
	check("registration code with an error")
	code := outboxCode(t, srv, newPhone, 0)
	do("code", chromedp.SetValue(chromedp.CSS(`input[name="code"]`), code), submit, visible(`button[value="generate"]`))
	check("registration password")
	do("generate", chromedp.Click(chromedp.CSS(`button[value="generate"]`)), visible(`#generated-password`))
	check("registration password generated")
	do("finish", submit, visible(`[data-level]`))
	check("account after registration")
	do("log out of the new account", chromedp.Navigate(srv.URL+"/logout"), visible(`form button[type="submit"]`))
	check("logout confirmation")
	do("confirm logout", chromedp.Click(chromedp.CSS(`form button[type="submit"]`)), chromedp.WaitNotPresent(chromedp.CSS(`form button[type="submit"]`)))
	check("logged out")

	// The signature pages: the challenge, a refusal, the notice of a
	// certificate to bind.
	sigURL := conf.AuthCodeURL("state-axe-sig", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("nonce", "nonce-axe-sig"))
	do("signature page", chromedp.Navigate(sigURL), visible(`#signature-link`), chromedp.Click(chromedp.CSS(`#signature-link`)), visible(`#signature-challenge`))
	check("signature")
	do("signature refused", chromedp.SetValue(chromedp.CSS(`textarea[name="signature"]`), "not a signature"), submit, visible(`.field-error`))
	check("signature with an error")
	challenge, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#signature-challenge`), "data-challenge"))
	if err != nil {
		t.Fatal(err)
	}
	do("signature", chromedp.SetValue(chromedp.CSS(`textarea[name="signature"]`), axeSign(t, sigCA, challenge.Value)), submit, visible(`[data-signature-notice]`))
	check("signature notice")

	// Login for a client that needs standard: the level-up page.
	authURL := conf.AuthCodeURL("state-axe-123", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("acr_values", "standard"), oauth2.SetAuthURLParam("nonce", "nonce-axe-123"))
	do("login page", chromedp.Navigate(authURL), visible(`input[name="identifier"]`))
	check("login")
	do("wrong login", chromedp.SendKeys(chromedp.CSS(`input[name="identifier"]`), phone), chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "wrong"), submit, visible(`#form-error`))
	check("login with an error")
	do("login", chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), registerPassword), submit, visible(`a[href^="/login/resume"]`))
	check("level-up")

	// The account pages.
	do("personal data", chromedp.Click(chromedp.CSS(`a[href^="/account/personal"]`)), visible(`input[name="snils"]`))
	check("personal data")
	do("personal data errors",
		chromedp.SendKeys(chromedp.CSS(`input[name="snils"]`), "123"),
		submit, visible(`.field-error`))
	check("personal data with errors")
	fill := []chromedp.Action[chromedp.Void]{}
	for name, v := range map[string]string{
		"snils": "112-233-445 95", "birth_date": "17.05.1990", "birth_place": "г. Тула", "passport_series": "4510",
		"passport_number": "123456", "passport_issue_date": "01.06.2010", "passport_issuer": "ОВД", "passport_department_code": "770-001",
	} {
		fill = append(fill, chromedp.SetValue(chromedp.CSS(`input[name="`+name+`"]`), v))
	}
	fill = append(fill, chromedp.SetValue(chromedp.CSS(`select[name="gender"]`), "F"), submit, visible(`[data-level]`))
	do("save personal data", fill...)
	check("account with a check")
	waitLevel(t, adm, acct.ID, "standard", 30*time.Second)
	do("letter", chromedp.Navigate(srv.URL+"/account/confirm/letter"), visible(`input[name="address"]`))
	check("letter")
	do("order letter", chromedp.SendKeys(chromedp.CSS(`input[name="address"]`), "101000, г. Москва, ул. Мясницкая, д. 10"), submit, visible(`input[name="code"]`))
	check("letter code")
	do("contacts", chromedp.Navigate(srv.URL+"/account/contacts"), visible(`input[name="password"]`))
	check("contacts")
	do("delete", chromedp.Navigate(srv.URL+"/account/delete"), visible(`input[name="confirm_delete"]`))
	check("delete")
	do("change password", chromedp.Navigate(srv.URL+"/account/password"), visible(`input[name="current_password"]`))
	check("change password")
	do("change password refused", submit, visible(`#current_password-error`))
	check("change password refused")
	do("security", chromedp.Navigate(srv.URL+"/account/security"), visible(`ul.sessions`))
	check("security")
	do("account", chromedp.Navigate(srv.URL+"/account"), visible(`[data-level="standard"]`))
	check("account")

	// Consent, and the error page.
	authURL = conf.AuthCodeURL("state-axe-456", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("nonce", "nonce-axe-456"))
	do("consent", chromedp.Navigate(authURL), visible(`button[name="decision"]`))
	check("consent")
	do("error page", chromedp.Navigate(srv.URL+"/no-such-page"), visible(`h1`))
	check("error")

	// Second factors: a client that requires one offers the citizen who
	// has none to set one up; the app's enrolment (with an error); backup
	// codes; the security page with factors and the password page of a
	// change; then a new login's second-factor step (with an error) and
	// its backup-code variant.
	mfaURL := func(state string) string {
		return mfaConf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("nonce", "nonce-"+state))
	}
	codeField := chromedp.CSS(`input[name="code"]`)
	do("second factor offer", chromedp.Navigate(mfaURL("state-axe-mfa-1")), visible(`#enrol-totp`))
	check("second factor offer")
	do("app enrolment", chromedp.Click(chromedp.CSS(`#enrol-totp`)), visible(`#totp-secret`))
	check("app enrolment")
	do("malformed app code", chromedp.SendKeys(codeField, "12345"), submit, visible(`.field-error`))
	check("app enrolment with an error")
	// Enrolled from the security page (no login waiting: the flow's
	// client would take the browser to its callback).
	do("app enrolment from the security page", chromedp.Navigate(srv.URL+"/account/security/totp"), visible(`#totp-secret`))
	secret, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#totp-secret`)))
	if err != nil {
		t.Fatal(err)
	}
	appCode, err := totp.Code(strings.TrimSpace(secret), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	do("app code", chromedp.SetValue(codeField, appCode), submit, visible(`li[data-factor="totp"]`))
	check("security with the app")
	do("backup codes", chromedp.Click(chromedp.CSS(`button[name="action"][value="backup_generate"]`)), visible(`.backup-code`))
	check("backup codes")
	do("codes saved", chromedp.Click(chromedp.CSS(`a.button-primary`)), visible(`li[data-factor="backup"]`))
	check("security with factors")
	do("remove the app", chromedp.Click(chromedp.CSS(`li[data-factor="totp"] button[value="remove_factor"]`)), visible(`input[name="password"]`))
	check("factor change password")
	do("no password", submit, visible(`.field-error`))
	check("factor change password with an error")
	do("log out before the second factor", chromedp.Navigate(srv.URL+"/logout"), visible(`form button[type="submit"]`),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)), chromedp.WaitNotPresent(chromedp.CSS(`form button[type="submit"]`)))
	do("login for the second factor", chromedp.Navigate(mfaURL("state-axe-mfa-2")), visible(`input[name="identifier"]`),
		chromedp.SetValue(chromedp.CSS(`input[name="identifier"]`), phone),
		chromedp.SetValue(chromedp.CSS(`input[name="password"]`), registerPassword),
		submit, visible(`[data-factor="totp"]`))
	check("second factor")
	do("malformed second factor", chromedp.SendKeys(codeField, "12345"), submit, visible(`.field-error`))
	check("second factor with an error")
	do("backup code instead", chromedp.Click(chromedp.CSS(`a[href*="factor=backup"]`)), visible(`[data-factor="backup"]`))
	check("second factor: a backup code")

	// The operator console.
	do("operator login", chromedp.Navigate(srv.URL+"/operator/login"), visible(`input[name="identifier"]`))
	check("operator login")
	do("operator logs in",
		chromedp.SendKeys(chromedp.CSS(`input[name="identifier"]`), "axe"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "Operator-Pass-2026!"),
		submit, visible(`input[name="q"]`))
	check("operator search")
	do("operator finds", chromedp.Navigate(srv.URL+"/operator?q="+url.QueryEscape(phone)), visible(`.results a`))
	check("operator results")
	do("operator card", chromedp.Navigate(srv.URL+"/operator/accounts/"+acct.ID), visible(`input[name="document_checked"]`))
	check("operator card")
	do("operator audit", chromedp.Navigate(srv.URL+"/operator/audit"), visible(`table.audit`))
	check("operator audit")
	if checked < 39 {
		t.Errorf("only %d pages checked", checked)
	}
}

// TestBankAccessibility runs axe-core on the bank login's pages at phone
// width: the login page with its bank link, the list of banks, the QR
// hand-off and the phone's page, the registration from the bank's data
// (and its error), the linking of an existing account (and its error),
// and the security page listing the linked bank.
func TestBankAccessibility(t *testing.T) {
	t.Parallel()
	script := axeScript(t)
	newcomer, linker := randomPhone(t), randomPhone(t)
	second := newCitizen(linker, "23456789099")
	second.Passport.Number = "654321"
	e := newBankEnv(t, []server.SimCitizen{newCitizen(newcomer, "12345678964"), second})
	if _, err := e.srv.Admin().CreateAccount(context.Background(), adminclient.NewAccount{
		Phone: linker, Password: registerPassword, LastName: "Банкова", FirstName: "Анна", // matched by the bank's phone
	}); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for i, phone := range []string{newcomer, linker} {
		bctx := newBrowser(t)
		ctx, cancel := context.WithTimeout(bctx, time.Minute)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)); err != nil {
			t.Fatal(err)
		}
		check := axeCheck(t, ctx, script, &checked)
		do := axeDo(t, ctx)
		visible := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(chromedp.CSS(sel)) }
		click := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
		submit := click(`form button[type="submit"].button-primary`)

		auth := newBrowserAuth(t, e.conf)
		do("login page", chromedp.Navigate(auth.url), visible(`#bank-link`))
		if i == 0 {
			check("login with banks")
		}
		do("banks", click(`#bank-link`), visible(`button[name="way"][value="qr"]`))
		if i == 0 {
			check("banks")
			do("QR code", click(`button[name="way"][value="qr"]`), visible(`#bank-qr`))
			check("bank QR code")
			phoneURL, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#bank-qr-url`)))
			if err != nil {
				t.Fatal(err)
			}
			do("the phone's page", chromedp.Navigate(phoneURL), visible(`form button[type="submit"]`))
			check("bank phone")
			do("banks again", chromedp.Navigate(auth.url), visible(`#bank-link`), click(`#bank-link`), visible(`button[name="way"][value="here"]`))
		}
		do("to the bank", click(`button[name="way"][value="here"]`), visible(`input[name="identifier"]`))
		do("log in at the bank", chromedp.SendKeys(chromedp.CSS(`input[name="identifier"]`), phone),
			chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), server.DemoPassword), submit,
			visible(`button[name="decision"][value="allow"]`))
		do("allow at the bank", click(`button[name="decision"][value="allow"]`))
		if i == 0 {
			do("registration from the bank", visible(`input[name="accept_terms"]`))
			check("bank registration")
			do("registration without the terms", submit, visible(`#accept_terms-error`))
			check("bank registration with an error")
			continue
		}
		do("linking", visible(`input[name="password"]`))
		check("bank link")
		do("linking with a wrong password", chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "wrong"), submit, visible(`#password-error`))
		check("bank link with an error")
		do("linked", chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), registerPassword), submit, visible(`button[name="decision"]`))
		do("security with a bank", chromedp.Navigate(e.srv.URL+"/account/security"), visible(`[data-bank="sim"]`))
		check("security with a bank")
	}
	if checked != 9 {
		t.Errorf("%d pages checked, want 9", checked)
	}
}

// axeSignatureCA makes a development centre for the signature pages and
// writes its certificate to a file the server trusts. Its certificates
// name no CRL or OCSP, so the server runs fail-open for them.
func axeSignatureCA(t *testing.T) (*devca.CA, string) {
	t.Helper()
	ca, err := devca.New("Axe CA", devca.KeyECDSA, "")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := devca.WritePEM(file, 0o644, "CERTIFICATE", ca.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	return ca, file
}

// axeSign signs the challenge as a citizen's tool would.
func axeSign(t *testing.T, ca *devca.CA, challenge string) string {
	t.Helper()
	cert, key, err := ca.Issue(devca.Citizen{SNILS: randomSNILS(), LastName: "Смирнова", FirstName: "Ольга"}, devca.Options{Key: devca.KeyECDSA})
	if err != nil {
		t.Fatal(err)
	}
	der, err := signature.SignCMS([]byte(challenge), cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}
