package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/factors/signature"
	"github.com/esia-oidc/idp/factors/signature/devca"
	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/postgres"
)

// A citizen logs in with a client certificate in headless Chromium. Chromium
// on Linux keeps client certificates in the NSS database under
// $HOME/.pki/nssdb: the test makes one in a temporary HOME with certutil
// and pk12util (libnss3-tools, which scripts/chromium.sh installs), with
// the citizen's PKCS#12 file and the development centre as a trusted CA (it
// issued the mTLS listener's certificate). Chromium shows a certificate
// picker when a site asks for one; the AutoSelectCertificateForUrls policy
// picks the certificate instead, and Chromium reads policies only from
// /etc/chromium/policies/managed, so the test writes a policy there naming
// only its own mTLS listener's origin (no other site is affected) and
// removes it at the end.

const chromiumPolicies = "/etc/chromium/policies/managed"

// nssHome makes a HOME whose NSS database holds the PKCS#12 file's key and
// certificate, and trusts the CA file.
func nssHome(t *testing.T, p12, password, caFile string) string {
	t.Helper()
	home := t.TempDir()
	db := filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(db, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"certutil", "-N", "-d", "sql:" + db, "--empty-password"},
		{"certutil", "-A", "-d", "sql:" + db, "-n", "dev-ca", "-t", "C,,", "-i", caFile},
		{"pk12util", "-d", "sql:" + db, "-i", p12, "-W", password},
	} {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s (install libnss3-tools: scripts/chromium.sh): %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return home
}

// autoSelectPolicy makes Chromium pick the centre's certificate for the
// origin, until the test ends.
func autoSelectPolicy(t *testing.T, origin, issuerCN string) {
	t.Helper()
	rule, err := json.Marshal(map[string]any{"pattern": origin, "filter": map[string]any{"ISSUER": map[string]string{"CN": issuerCN}}})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := json.Marshal(map[string]any{"AutoSelectCertificateForUrls": []string{string(rule)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(chromiumPolicies, 0o755); err != nil {
		t.Fatalf("Chromium reads policies only from %s, which this user cannot write: %v", chromiumPolicies, err)
	}
	file := filepath.Join(chromiumPolicies, fmt.Sprintf("idp-e2e-%d-%s.json", os.Getpid(), browserRandom(t)[:8]))
	if err := os.WriteFile(file, policy, 0o644); err != nil {
		t.Fatalf("write the Chromium policy: %v", err)
	}
	t.Cleanup(func() { os.Remove(file) })
}

func TestBrowserSignatureClientCertificate(t *testing.T) {
	d := newSigDeployment(t)
	rp := newBrowserRP(t)
	_, prefix := d.issue("browser", d.citizen(), devca.Options{Key: devca.KeyECDSA, Qualified: true}, d.ca)
	certs, err := signature.ReadCertificates(prefix + ".pem")
	if err != nil {
		t.Fatal(err)
	}
	// Bound already (the first use after the password is the other tests'
	// business): the certificate logs in directly.
	db, err := postgres.Open(context.Background(), d.srv.Shared.DatabaseURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.UpdateAccount(ctxT(t), d.id, func(a *store.Account) error {
		a.Factors = &store.SecondFactors{Certificates: []store.BoundCertificate{{
			Fingerprint: signature.Fingerprint(certs[0]), Subject: certs[0].Subject.CommonName, Serial: certs[0].SerialNumber.Text(16),
			Issuer: certs[0].Issuer.CommonName, NotAfter: certs[0].NotAfter, Qualified: true, BoundAt: time.Now().UTC(),
		}}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cl, err := d.srv.Admin().CreateClient(ctxT(t), adminclient.ClientMetadata{
		ClientName: "Браузер и подпись", RedirectURIs: []string{rp.redirectURI()},
		Scope: "openid", TokenEndpointAuthMethod: "none", SubjectType: "public",
	})
	if err != nil {
		t.Fatal(err)
	}

	home := nssHome(t, prefix+".p12", "dev", filepath.Join(d.dir, "ca.pem"))
	autoSelectPolicy(t, d.mtlsURL, d.ca.Cert.Subject.CommonName)
	bctx := newBrowser(t, chromedp.Env("HOME="+home))

	conf := &oauth2.Config{
		ClientID: cl.ClientID, RedirectURL: rp.redirectURI(), Scopes: []string{oidc.ScopeOpenID},
		Endpoint: oauth2.Endpoint{AuthURL: d.srv.URL + "/authorize", TokenURL: d.srv.URL + "/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	auth := newBrowserAuth(t, conf)
	tctx, cancel := context.WithTimeout(bctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx,
		chromedp.Navigate(auth.url),
		chromedp.WaitVisible(chromedp.CSS(`#signature-link`)),
		chromedp.Click(chromedp.CSS(`#signature-link`)),
		chromedp.WaitVisible(chromedp.CSS(`#signature-tls`)),
		chromedp.Click(chromedp.CSS(`#signature-tls`)),
		chromedp.WaitVisible(chromedp.CSS(`#rp-done`)),
	); err != nil {
		loc, _ := chromedp.Run(tctx, chromedp.Location())
		body, _ := chromedp.Run(tctx, chromedp.OuterHTML(chromedp.CSS(`body`)))
		t.Fatalf("log in with the client certificate: %v\nat %s\n%.1500s", err, loc, body)
	}
	q := rp.next(t)
	if q.Get("state") != auth.state || q.Get("code") == "" {
		t.Fatalf("callback %v", q)
	}
	tok, err := conf.Exchange(ctxT(t), q.Get("code"), oauth2.VerifierOption(auth.verifier))
	if err != nil {
		t.Fatal(err)
	}
	provider, err := oidc.NewProvider(ctxT(t), d.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	id := browserVerify(t, ctxT(t), provider.Verifier(&oidc.Config{ClientID: cl.ClientID}), tok, auth.nonce)
	var claims struct {
		AMR []string `json:"amr"`
	}
	if err := id.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(claims.AMR, []string{"hwk"}) || id.Subject != d.id {
		t.Errorf("sub %s amr %v, want %s [hwk]", id.Subject, claims.AMR, d.id)
	}
}
