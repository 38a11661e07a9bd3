package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserCatalogDemo walks the demo path in headless Chromium at phone
// width: the catalog's home, a service, the provider's login and consent,
// the pre-filled application form, the numbered application, a
// confirmed-level service with its step-up button, the provider's
// explanation, giving up onto the catalog's explanation, and logout.
func TestBrowserCatalogDemo(t *testing.T) {
	t.Parallel()
	e := newCatalogEnv(t)
	bctx := newBrowser(t)
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()

	shot := func(name string) {
		t.Helper()
		saveScreenshot(t, ctx, name+".png")
	}
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s (at %s): %v", what, loc, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	step("phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	step("catalog home",
		chromedp.Navigate(e.catalog.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/services/traffic-fines"]`)))
	shot("catalog-home")
	step("service page",
		chromedp.Click(chromedp.CSS(`a[href="/services/traffic-fines"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#start`)))
	shot("catalog-service")
	step("to the provider's login",
		chromedp.Click(chromedp.CSS(`#start`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="identifier"]`)))
	shot("catalog-provider-login")
	step("log in",
		chromedp.SendKeys(chromedp.CSS(`input[name="identifier"]`), e.phone),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), citizenPwd),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[name="decision"][value="allow"]`)))
	shot("catalog-provider-consent")
	step("allow",
		chromedp.Click(chromedp.CSS(`button[name="decision"][value="allow"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#f-vehicle_plate`)))
	shot("catalog-apply")
	if v, _ := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#f-last_name`), "value")); v.Value != "Смирнова" {
		t.Errorf("the form's last name = %q, want it from the claims", v.Value)
	}
	step("submit",
		chromedp.SendKeys(chromedp.CSS(`#f-vehicle_plate`), "А123ВС777"),
		chromedp.Click(chromedp.CSS(`#submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#status`)))
	if s := text(`#status`); s != "Отправлено" && s != "На рассмотрении" {
		t.Errorf("new application status %q", s)
	}
	appURL, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	// The development simulator decides within a few seconds.
	decided := false
	for deadline := time.Now().Add(30 * time.Second); !decided && time.Now().Before(deadline); {
		time.Sleep(300 * time.Millisecond)
		step("reload the application", chromedp.Navigate(appURL), chromedp.WaitVisible(chromedp.CSS(`#status`)))
		decided, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#history li[data-status="approved"], #history li[data-status="rejected"]') !== null`))
		if err != nil {
			t.Fatal(err)
		}
	}
	if !decided {
		t.Fatal("the application was not decided within 30 s")
	}
	step("decided", chromedp.WaitVisible(chromedp.CSS(`#history li[data-status="in_review"]`)))
	shot("catalog-application")
	step("my applications",
		chromedp.Navigate(e.catalog.URL+"/applications"),
		chromedp.WaitVisible(chromedp.CSS(`#applications`)))
	shot("catalog-applications")
	step("a confirmed-level service",
		chromedp.Navigate(e.catalog.URL+"/services/foreign-passport"),
		chromedp.WaitVisible(chromedp.CSS(`#raise`)))
	shot("catalog-step-up")
	step("step-up at the provider",
		chromedp.Click(chromedp.CSS(`#raise`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href*="/authorize/cancel"]`)))
	shot("catalog-provider-level")
	step("give up",
		chromedp.Click(chromedp.CSS(`a[href*="/authorize/cancel"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#explain[data-reason="unmet"]`)))
	shot("catalog-explain")
	step("log out",
		chromedp.Click(chromedp.CSS(`#logout`)),
		chromedp.WaitVisible(chromedp.CSS(`#login`)))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc, e.catalog.URL+"/") {
		t.Errorf("after logout the browser is at %s, want the catalog", loc)
	}
}
