package e2e

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esia-oidc/idp/factors/signature/devca"
	"github.com/esia-oidc/idp/internal/testserver"
)

// Over the client-certificate route, revoked (by OCSP, and by CRL when
// the responder is down) and expired certificates are refused, each with
// its message on the signature page.
func TestSignatureTLSRefusals(t *testing.T) {
	d := newSigDeployment(t)
	revokedOCSP, _ := d.issue("tls-revoked-ocsp", d.citizen(), devca.Options{Key: devca.KeyECDSA, Qualified: true}, d.ca)
	revokedCRL, _ := d.issue("tls-revoked-crl", d.citizen(), devca.Options{Key: devca.KeyRSA, Qualified: true}, d.ca)
	expired, _ := d.issue("tls-expired", d.citizen(), devca.Options{Key: devca.KeyECDSA, Qualified: true,
		NotBefore: time.Now().AddDate(-2, 0, 0), NotAfter: time.Now().AddDate(0, 0, -1)}, d.ca)
	d.ca.Revoke(revokedOCSP.Leaf.SerialNumber)
	d.ca.Revoke(revokedCRL.Leaf.SerialNumber)

	p, _ := d.tlsLogin(d.agent(&revokedOCSP))
	wantRefusal(t, p, "Сертификат отозван")
	p, _ = d.tlsLogin(d.agent(&expired))
	wantRefusal(t, p, "Срок действия сертификата истёк")
	// The responder down: the CRL tells the revocation.
	d.ocspDown.Store(true)
	p, _ = d.tlsLogin(d.agent(&revokedCRL))
	wantRefusal(t, p, "Сертификат отозван")

	logs := d.srv.Logs()
	if !strings.Contains(logs, "signature: certificate revoked (ocsp)") || !strings.Contains(logs, "signature: certificate revoked (crl)") {
		t.Errorf("the log does not show a revocation by OCSP and one by CRL:\n%s", logs)
	}
}

// tlsResult follows the page's client-certificate link to the mTLS
// listener and returns where it sends the browser back: the result URL on
// the provider (not followed).
func (d *sigDeployment) tlsResult(a *testserver.Agent) string {
	d.t.Helper()
	p, _, _ := d.signaturePage(a)
	m := tlsLinkRe.FindStringSubmatch(p.Body)
	if m == nil {
		d.t.Fatalf("no client-certificate link: %.800s", p.Body)
	}
	p, err := a.Get(ctxT(d.t), html.UnescapeString(m[1]))
	if err != nil {
		d.t.Fatal(err)
	}
	loc := p.Location()
	if loc == nil || !strings.HasPrefix(loc.String(), d.srv.URL+"/login/signature/tls/done?") || loc.Query().Get("result") == "" {
		d.t.Fatalf("the listener answered %d %v, want the result on the provider", p.Status, loc)
	}
	return loc.String()
}

// The listener's result carried to another browser is refused: under the
// flow it names (another browser's flow), and under that browser's own
// flow (the result names another flow), without spending it: the browser
// it belongs to then goes on, once.
func TestSignatureTLSResultOtherBrowser(t *testing.T) {
	d := newSigDeployment(t)
	cert, _ := d.issue("tls-carried", d.citizen(), devca.Options{Key: devca.KeyECDSA, Qualified: true}, d.ca)
	victim := d.agent(&cert)
	result := d.tlsResult(victim)

	// Another browser, with the victim's flow: not its flow.
	other := d.agent(nil)
	p := d.ff.get(other, result)
	if p.Status != http.StatusForbidden || !strings.Contains(html.UnescapeString(p.Body), "Вход был начат в другом браузере") {
		t.Fatalf("the result in another browser: %s %d %.600s", p.URL.Path, p.Status, p.Body)
	}

	// Another browser, under a flow of its own: the result names another
	// flow.
	own, _, _ := d.signaturePage(other)
	u, err := url.Parse(result)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("flow", own.URL.Query().Get("flow"))
	u.RawQuery = q.Encode()
	p = d.ff.get(other, u.String())
	wantRefusal(t, p, "Вход с сертификатом не завершён вовремя")
	if p.Location() != nil || strings.Contains(p.Body, `data-signature-notice=`) {
		t.Fatalf("another browser went on with the result: %d %.600s", p.Status, p.Body)
	}

	// The victim's own browser goes on (the certificate is new: the
	// password comes next), once.
	p = d.ff.get(victim, result)
	if !strings.Contains(p.Body, `data-signature-notice=`) {
		t.Fatalf("the result in its own browser after the others' tries: %s %d %.600s", p.URL.Path, p.Status, p.Body)
	}
	p = d.ff.get(victim, result)
	wantRefusal(t, p, "Вход с сертификатом не завершён вовремя")
}

// The same signature posted twice at once in one flow: exactly one request
// takes the challenge and goes on, the other is refused.
func TestSignatureConcurrentPosts(t *testing.T) {
	d := newSigDeployment(t)
	_, prefix := d.issue("race", d.citizen(), devca.Options{Key: devca.KeyECDSA}, d.ca)
	a := d.agent(nil)
	p, ch, _ := d.signaturePage(a)
	sig := d.sign(ch, prefix+".p12")
	var form *testserver.Form
	for _, f := range p.Forms() {
		if f.Action == "/login/signature" {
			form = &f
		}
	}
	if form == nil {
		t.Fatalf("no signature form: %.600s", p.Body)
	}
	const n = 2
	pages := make([]*testserver.Page, n)
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			pages[i], errs[i] = a.Submit(ctxT(t), p, *form, url.Values{"signature": {sig}})
		}()
	}
	start.Done()
	done.Wait()
	won, refused := 0, 0
	for i, p := range pages {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		body := html.UnescapeString(p.Body)
		switch {
		case p.Status == http.StatusOK && strings.Contains(p.Body, `data-signature-notice="bind"`):
			won++
		case p.Status == http.StatusUnprocessableEntity &&
			(strings.Contains(body, "Эта подпись уже использована") || strings.Contains(body, "Срок действия текста истёк")):
			refused++
		default:
			t.Errorf("a post answered %d %.600s", p.Status, p.Body)
		}
	}
	if won != 1 || refused != 1 {
		t.Fatalf("%d won, %d refused; want exactly one of each", won, refused)
	}
}
