package e2e

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/esia-oidc/idp/internal/testserver"
)

// -screenshots saves the pages the browser tests walk, at phone width, into
// docs/img for the guides. CI never passes it: the files are written only
// when someone asks:
//
//	go test ./e2e -run 'TestBrowser(Register|CatalogDemo|TOTP)' -screenshots
var screenshots = flag.Bool("screenshots", false, "save the browser tests' screenshots into docs/img")

// phoneWidth is the viewport of the browser tests that show the pages as a
// phone does (a common 390 × 844 CSS-pixel phone).
const phoneWidth, phoneHeight = 390, 844

// saveScreenshot writes a full-page PNG of the current page to docs/img/name
// when -screenshots is set.
func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if !*screenshots {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join("..", "docs", "img", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserRegister: in headless Chromium at phone width, a citizen opens
// the account page, follows the login page's link to registration, types a
// name and a phone as people write them, enters the SMS code, takes a
// generated password, and lands on the account page at the simplified
// level.
func TestBrowserRegister(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t, testserver.NewShared(t), registerEnv...)
	bctx := newBrowser(t)
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	phone := randomPhone(t)
	typed := "8 (" + phone[2:5] + ") " + phone[5:8] + "-" + phone[8:10] + "-" + phone[10:]

	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(phoneWidth, phoneHeight, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait),
		chromedp.Navigate(srv.URL+"/account"),
		chromedp.WaitVisible(chromedp.CSS(`#register-link`)),
		chromedp.Click(chromedp.CSS(`#register-link`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="last_name"]`)),
	)
	if err != nil {
		t.Fatalf("from the account page to registration: %v", err)
	}
	saveScreenshot(t, ctx, "register.png")
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name="last_name"]`), " Соколова-Ильина "),
		chromedp.SendKeys(chromedp.CSS(`input[name="first_name"]`), "Дарья"),
		chromedp.SendKeys(chromedp.CSS(`input[name="phone"]`), typed),
		chromedp.Click(chromedp.CSS(`input[name="accept_terms"]`)),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="code"]`)),
	)
	if err != nil {
		t.Fatalf("fill the registration form: %v", err)
	}
	saveScreenshot(t, ctx, "register-code.png")
	code := outboxCode(t, srv, phone, 0)
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name="code"]`), code),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[name="action"][value="generate"]`)),
		chromedp.Click(chromedp.CSS(`button[name="action"][value="generate"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#generated-password`)),
	)
	if err != nil {
		t.Fatalf("enter the code and generate a password: %v", err)
	}
	saveScreenshot(t, ctx, "register-password.png")
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form button.button-primary`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-level]`)),
	)
	if err != nil {
		t.Fatalf("finish the registration: %v", err)
	}
	saveScreenshot(t, ctx, "account.png")
	landed, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	level, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`[data-level]`), "data-level"))
	if err != nil {
		t.Fatal(err)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`h1`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(landed, srv.URL+"/account") || level.Value != "simplified" || strings.TrimSpace(heading) != "Соколова-Ильина Дарья" {
		t.Errorf("landed on %s at level %q with heading %q", landed, level.Value, heading)
	}
	// The page fits a phone: nothing wider than the viewport.
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if wide {
		t.Errorf("the account page scrolls sideways at %d px", phoneWidth)
	}
	// The personal-data page from the account page's link fits a phone too.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href="/account/personal"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="snils"]`)),
	)
	if err != nil {
		t.Fatalf("open the personal-data page: %v", err)
	}
	saveScreenshot(t, ctx, "personal.png")
	if wide, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); err != nil || wide {
		t.Errorf("the personal-data page scrolls sideways at %d px (%v)", phoneWidth, err)
	}
}
