package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/esia-oidc/idp/factors/totp"
	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/internal/testserver"
)

// TestBrowserTOTP: in headless Chromium at phone width, a citizen logs in
// to the account pages with the password, adds an authenticator app on the
// security page (the code computed here from the secret the page shows as
// text), makes backup codes, asks for the second factor at every login, and
// logs out. Logging in again asks the app's code after the password: the
// code typed at enrolment is refused (used already, or out of its window),
// the next one takes the citizen to the account page. With -screenshots
// the enrolment, backup-codes, security and second-factor pages go to
// docs/img.
func TestBrowserTOTP(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t, testserver.NewShared(t), registerEnv...)
	phone := randomPhone(t)
	if _, err := srv.Admin().CreateAccount(ctxT(t), adminclient.NewAccount{
		Phone: phone, Password: registerPassword, LastName: "Кузнецова", FirstName: "Анна",
	}); err != nil {
		t.Fatalf("create account: %v", err)
	}
	bctx := newBrowser(t)
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s (at %s): %v", what, loc, err)
		}
	}
	visible := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(chromedp.CSS(sel)) }
	submit := chromedp.Click(chromedp.CSS(`form button[type="submit"].button-primary`))
	fitsPhone := func(page string) {
		t.Helper()
		wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if wide {
			t.Errorf("the %s scrolls sideways at %d px", page, phoneWidth)
		}
	}
	login := func(what string, then string) {
		t.Helper()
		do(what,
			chromedp.Navigate(srv.URL+"/account"),
			visible(`input[name="identifier"]`),
			chromedp.SendKeys(chromedp.CSS(`input[name="identifier"]`), phone),
			chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), registerPassword),
			submit, visible(then))
	}

	do("phone viewport", chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait))
	login("log in with the password", `[data-level]`)

	// The security page: no factor yet, the app offered.
	do("open the security page", chromedp.Navigate(srv.URL+"/account/security"), visible(`a[href^="/account/security/totp"]`))
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("li[data-factor]").length`)); err != nil || n != 0 {
		t.Fatalf("a new account lists %d factors (%v)", n, err)
	}

	// The enrolment page: a QR image, and the secret as text.
	do("open the app enrolment", chromedp.Click(chromedp.CSS(`a[href^="/account/security/totp"]`)), visible(`#totp-secret`), visible(`img.qr`))
	saveScreenshot(t, ctx, "totp-enrol.png")
	fitsPhone("app enrolment page")
	secret, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#totp-secret`)))
	if err != nil {
		t.Fatal(err)
	}
	secret = strings.TrimSpace(secret)
	uri, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#totp-secret`), "data-otpauth"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(uri.Value, "otpauth://totp/") || !strings.Contains(uri.Value, "secret="+secret) {
		t.Errorf("data-otpauth = %q, want an otpauth URI with the shown secret", uri.Value)
	}
	qrSrc, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`img.qr`), "src"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(qrSrc.Value, "data:image/png;base64,") {
		t.Errorf("the QR image is %.40q, want a PNG made by the server", qrSrc.Value)
	}
	enrolCode, err := totp.Code(secret, time.Now())
	if err != nil {
		t.Fatalf("a code from the shown secret %q: %v", secret, err)
	}
	do("type the app's first code",
		chromedp.SendKeys(chromedp.CSS(`input[name="code"]`), enrolCode),
		submit, visible(`li[data-factor="totp"]`))

	// Backup codes, shown once.
	do("make backup codes",
		chromedp.Click(chromedp.CSS(`button[name="action"][value="backup_generate"]`)),
		visible(`.backup-code`))
	saveScreenshot(t, ctx, "backup-codes.png")
	fitsPhone("backup codes page")
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(".backup-code").length`)); err != nil || n != 10 {
		t.Errorf("the backup codes page shows %d codes (%v), want 10", n, err)
	}

	// Back on the security page: ask the factor at every login.
	do("back to the security page",
		chromedp.Click(chromedp.CSS(`a.button-primary`)),
		visible(`li[data-factor="backup"]`),
		chromedp.Click(chromedp.CSS(`button[name="action"][value="require_on"]`)),
		visible(`[data-required="true"]`))
	saveScreenshot(t, ctx, "security-factors.png")
	fitsPhone("security page")
	listed, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("li[data-factor]"), li => li.dataset.factor)`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(listed, ",") != "totp,backup" {
		t.Errorf("the security page lists the factors %v, want the app and backup codes", listed)
	}

	do("log out",
		chromedp.Navigate(srv.URL+"/logout"), visible(`form button[type="submit"]`),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`form button[type="submit"]`)))

	// The password alone no longer reaches the account: the app's code is
	// asked.
	login("log in again with the password", `[data-factor="totp"]`)
	saveScreenshot(t, ctx, "factor-login.png")
	fitsPhone("second-factor page")
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasPrefix(loc, srv.URL+"/login/factor?") {
		t.Fatalf("after the password at %s (%v), want the second-factor page", loc, err)
	}
	// The code typed at enrolment: used already within its window (or
	// past it), refused either way.
	do("type the enrolment's code again",
		chromedp.SendKeys(chromedp.CSS(`input[name="code"]`), enrolCode),
		submit, visible(`.field-error`))
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.Contains(loc, "/login/factor") {
		t.Fatalf("a used code led to %s (%v), want the second-factor page again", loc, err)
	}
	// The next step's code, accepted within the skew, and never used.
	next, err := totp.Code(secret, time.Now().Add(totp.Period))
	if err != nil {
		t.Fatal(err)
	}
	do("type the next code",
		chromedp.SetValue(chromedp.CSS(`input[name="code"]`), next),
		submit, visible(`[data-level]`))
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasPrefix(loc, srv.URL+"/account") {
		t.Errorf("the app's code led to %s (%v), want the account page", loc, err)
	}
}
