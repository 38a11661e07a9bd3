package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/esia-oidc/idp/factors/signature"
	"github.com/esia-oidc/idp/factors/signature/devca"
	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/internal/testserver"
	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/postgres"
)

// The electronic-signature login end to end, on PostgreSQL and Redis: a
// development centre (this process) serves its CRL and OCSP; an idp
// process trusts it and serves the mTLS listener on an inherited socket.
// A citizen logs in with a TLS client certificate (bound by the first use
// after the password, then directly), and by pasting what `idp sign`
// printed for the page's challenge; each refusal is shown with its reason.

type sigDeployment struct {
	t        *testing.T
	srv      *testserver.Server
	ff       *factorFlow
	ca       *devca.CA
	dir      string
	ocspDown atomic.Bool
	client   string
	mtlsURL  string
	phone    string
	password string
	snils    string
	id       string
}

func newSigDeployment(t *testing.T) *sigDeployment {
	t.Helper()
	d := &sigDeployment{t: t, dir: t.TempDir()}
	var h http.Handler = http.NotFoundHandler()
	pki := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/ocsp") && d.ocspDown.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(pki.Close)
	ca, err := devca.New("E2E CA", devca.KeyRSA, pki.URL)
	if err != nil {
		t.Fatal(err)
	}
	d.ca, h = ca, ca.Handler()
	caFile := filepath.Join(d.dir, "ca.pem")
	if err := devca.WritePEM(caFile, 0o644, "CERTIFICATE", ca.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	server, err := ca.IssueServer("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(d.dir, "mtls.pem"), filepath.Join(d.dir, "mtls-key.pem")
	writeChain(t, certFile, keyFile, server)

	sh := testserver.NewShared(t)
	d.srv = testserver.StartWith(t, sh, testserver.Options{
		Sockets: []string{"mtls"},
		Env: []string{
			"IDP_SIGNATURE_CA=" + caFile,
			"IDP_MTLS_CERT_FILE=" + certFile, "IDP_MTLS_KEY_FILE=" + keyFile,
			"IDP_LOG_LEVEL=info",
		},
	})
	d.mtlsURL = "https://" + d.srv.Addr("mtls")
	d.ff = &factorFlow{t: t, srv: d.srv}
	cl, err := d.srv.Admin().CreateClient(ctxT(t), adminclient.ClientMetadata{
		ClientName: "Signature RP", RedirectURIs: []string{replicaRedirect},
		Scope: "openid", TokenEndpointAuthMethod: "none", SubjectType: "public",
	})
	if err != nil {
		t.Fatal(err)
	}
	d.client = cl.ClientID

	// The citizen: standard level, personal data checked as they are.
	d.phone, d.password, d.snils = randomPhone(t), "подпись-"+browserRandom(t), randomSNILS()
	acct, err := d.srv.Admin().CreateAccount(ctxT(t), adminclient.NewAccount{
		Phone: d.phone, Password: d.password, SNILS: d.snils, LastName: "Кузнецова", FirstName: "Мария", MiddleName: "Олеговна", Level: "standard",
	})
	if err != nil {
		t.Fatal(err)
	}
	d.id = acct.ID
	db, err := postgres.Open(context.Background(), sh.DatabaseURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if _, err := db.UpdateAccount(ctxT(t), acct.ID, func(a *store.Account) error {
		now := time.Now().UTC()
		a.PhoneVerified = true
		a.Verification = &store.Verification{ID: "ver-e2e", Status: store.VerificationApproved, Digest: account.CheckedDigest(a), RequestedAt: now, DecidedAt: now}
		a.Evidence = []store.Evidence{{Kind: store.EvidenceRegistry, At: now, Ref: "ver-e2e", Digest: a.Verification.Digest}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return d
}

func writeChain(t *testing.T, certFile, keyFile string, c tls.Certificate) {
	t.Helper()
	var chain []byte
	for _, der := range c.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	if err := os.WriteFile(certFile, chain, 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := devca.WritePEM(keyFile, 0o600, "PRIVATE KEY", k); err != nil {
		t.Fatal(err)
	}
}

func (d *sigDeployment) citizen() devca.Citizen {
	return devca.Citizen{SNILS: d.snils, LastName: "Кузнецова", FirstName: "Мария", MiddleName: "Олеговна"}
}

// issue makes a certificate and writes it as PEM files and a PKCS#12 file
// (password "dev") under name; it returns the prefix.
func (d *sigDeployment) issue(name string, c devca.Citizen, o devca.Options, ca *devca.CA) (tls.Certificate, string) {
	d.t.Helper()
	cert, key, err := ca.Issue(c, o)
	if err != nil {
		d.t.Fatal(err)
	}
	prefix := filepath.Join(d.dir, name)
	tc := tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	writeChain(d.t, prefix+".pem", prefix+"-key.pem", tc)
	p12, err := pkcs12.Modern.Encode(key, cert, []*x509.Certificate{ca.Cert}, "dev")
	if err != nil {
		d.t.Fatal(err)
	}
	if err := os.WriteFile(prefix+".p12", p12, 0o600); err != nil {
		d.t.Fatal(err)
	}
	return tc, prefix
}

// agent is a browser whose TLS client certificate, if any, is c.
func (d *sigDeployment) agent(c *tls.Certificate) *testserver.Agent {
	roots := x509.NewCertPool()
	roots.AddCert(d.ca.Cert)
	cfg := &tls.Config{RootCAs: roots}
	if c != nil {
		cfg.Certificates = []tls.Certificate{*c}
	}
	return testserver.NewAgent(d.srv.URL, &http.Transport{TLSClientConfig: cfg})
}

var sigChallengeRe = regexp.MustCompile(`data-challenge="([^"]+)"`)

// signaturePage starts an authorization and opens the signature page.
func (d *sigDeployment) signaturePage(a *testserver.Agent) (*testserver.Page, string, browserAuth) {
	d.t.Helper()
	p, auth := d.ff.authorize(a, d.client)
	if p.URL.Path != "/login" || !strings.Contains(p.Body, `id="signature-link"`) {
		d.t.Fatalf("at %s (%d), want the login page with the signature link", p.URL.Path, p.Status)
	}
	p = d.ff.get(a, d.srv.URL+"/login/signature?flow="+url.QueryEscape(p.URL.Query().Get("flow")))
	m := sigChallengeRe.FindStringSubmatch(p.Body)
	if m == nil {
		d.t.Fatalf("no challenge on %s (%d): %.600s", p.URL.Path, p.Status, p.Body)
	}
	return p, html.UnescapeString(m[1]), auth
}

// sign runs `idp sign` as a citizen would.
func (d *sigDeployment) sign(challenge, p12 string, args ...string) string {
	d.t.Helper()
	bin, err := testserver.Binary()
	if err != nil {
		d.t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"sign", "--challenge", challenge, "--p12", p12}, args...)...)
	cmd.Env = append(os.Environ(), "IDP_SIGN_PASSWORD=dev")
	out, err := cmd.Output()
	if err != nil {
		d.t.Fatalf("idp sign: %v", err)
	}
	return strings.TrimSpace(string(out))
}

var tlsLinkRe = regexp.MustCompile(`href="([^"]+)"[^>]*id="signature-tls"`)

// tlsLogin opens the signature page and follows its client-certificate
// link through the mTLS listener back to the provider.
func (d *sigDeployment) tlsLogin(a *testserver.Agent) (*testserver.Page, browserAuth) {
	d.t.Helper()
	p, _, auth := d.signaturePage(a)
	m := tlsLinkRe.FindStringSubmatch(p.Body)
	if m == nil || !strings.HasPrefix(html.UnescapeString(m[1]), d.mtlsURL+"/login/signature/tls?handoff=") {
		d.t.Fatalf("no client-certificate link to %s: %.800s", d.mtlsURL, p.Body)
	}
	return d.ff.get(a, html.UnescapeString(m[1])), auth
}

var sigContinueRe = regexp.MustCompile(`href="([^"]+)"[^>]*id="signature-continue"`)

func (d *sigDeployment) continueLink(p *testserver.Page, notice string) string {
	d.t.Helper()
	m := sigContinueRe.FindStringSubmatch(p.Body)
	if !strings.Contains(p.Body, `data-signature-notice="`+notice+`"`) || m == nil {
		d.t.Fatalf("want the %s notice: %s %d %.800s", notice, p.URL.Path, p.Status, p.Body)
	}
	return d.srv.URL + html.UnescapeString(m[1])
}

func (d *sigDeployment) account() *adminclient.AccountInfo {
	d.t.Helper()
	a, err := d.srv.Admin().GetAccount(ctxT(d.t), d.id)
	if err != nil {
		d.t.Fatal(err)
	}
	return a
}

func TestSignatureLoginTLS(t *testing.T) {
	d := newSigDeployment(t)
	cert, _ := d.issue("token", d.citizen(), devca.Options{Key: devca.KeyECDSA, Qualified: true}, d.ca)

	// First use: the certificate is judged on the mTLS listener, the
	// password binds it, and the qualified certificate matching the
	// checked data confirms the account.
	a := d.agent(&cert)
	p, auth := d.tlsLogin(a)
	p = d.ff.get(a, d.continueLink(p, "bind"))
	p = d.ff.submit(a, p, "", url.Values{"identifier": {d.phone}, "password": {d.password}})
	if got := claimAMR(d.ff.idTokenClaims(p, d.client, auth)); !slices.Equal(got, []string{"pwd", "hwk", "mfa"}) {
		t.Errorf("amr of the first use %v, want [pwd hwk mfa]", got)
	}
	if info := d.account(); info.Level != "confirmed" || info.ConfirmationMethod != "signature" {
		t.Errorf("after a matching qualified certificate: level %s by %q", info.Level, info.ConfirmationMethod)
	}

	// Later: the certificate logs in directly, in a fresh browser.
	a = d.agent(&cert)
	p, auth = d.tlsLogin(a)
	if got := claimAMR(d.ff.idTokenClaims(p, d.client, auth)); !slices.Equal(got, []string{"hwk"}) {
		t.Errorf("amr of a certificate login %v, want [hwk]", got)
	}

	// No certificate, and one from another centre: explained on the page.
	p, _ = d.tlsLogin(d.agent(nil))
	wantRefusal(t, p, "Браузер не передал сертификат")
	other, err := devca.New("Unknown CA", devca.KeyECDSA, "")
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := d.issue("foreign-tls", d.citizen(), devca.Options{Key: devca.KeyECDSA}, other)
	p, _ = d.tlsLogin(d.agent(&foreign))
	wantRefusal(t, p, "удостоверяющим центром, которому этот сайт не доверяет")
}

func TestSignatureLoginChallenge(t *testing.T) {
	d := newSigDeployment(t)
	_, prefix := d.issue("soft", d.citizen(), devca.Options{Key: devca.KeyRSA}, d.ca)
	p12 := prefix + ".p12"

	// First use of a software certificate, signed by `idp sign` (CMS).
	a := d.agent(nil)
	p, ch, auth := d.signaturePage(a)
	p = d.ff.submit(a, p, "/login/signature", url.Values{"signature": {d.sign(ch, p12)}})
	p = d.ff.get(a, d.continueLink(p, "bind"))
	p = d.ff.submit(a, p, "", url.Values{"identifier": {d.phone}, "password": {d.password}})
	if got := claimAMR(d.ff.idTokenClaims(p, d.client, auth)); !slices.Equal(got, []string{"pwd", "swk", "mfa"}) {
		t.Errorf("amr of the first use %v, want [pwd swk mfa]", got)
	}
	if info := d.account(); info.Level != "standard" {
		t.Errorf("a software certificate changed the level to %s", info.Level)
	}

	// Later: a JWS from `idp sign` logs in directly.
	a = d.agent(nil)
	p, ch, auth = d.signaturePage(a)
	used := d.sign(ch, p12, "--format", "jws")
	p = d.ff.submit(a, p, "/login/signature", url.Values{"signature": {used}})
	if got := claimAMR(d.ff.idTokenClaims(p, d.client, auth)); !slices.Equal(got, []string{"swk"}) {
		t.Errorf("amr of a signature login %v, want [swk]", got)
	}

	// Refusals.
	refuse := func(sig, want string) {
		t.Helper()
		a := d.agent(nil)
		p, _, _ := d.signaturePage(a)
		p = d.ff.submit(a, p, "/login/signature", url.Values{"signature": {sig}})
		if p.Status != http.StatusUnprocessableEntity {
			t.Fatalf("want a refusal, got %s %d", p.URL.Path, p.Status)
		}
		wantRefusal(t, p, want)
	}
	refuse(used, "Эта подпись уже использована")
	refuse(d.sign(signature.NewChallenge("another.example"), p12), "Подписан другой текст")

	_, revokedOCSP := d.issue("revoked-ocsp", d.citizen(), devca.Options{Key: devca.KeyRSA}, d.ca)
	_, revokedCRL := d.issue("revoked-crl", d.citizen(), devca.Options{Key: devca.KeyECDSA}, d.ca)
	_, expired := d.issue("expired", d.citizen(), devca.Options{Key: devca.KeyRSA, NotBefore: time.Now().AddDate(-2, 0, 0), NotAfter: time.Now().AddDate(0, 0, -1)}, d.ca)
	other, err := devca.New("Unknown CA", devca.KeyRSA, "")
	if err != nil {
		t.Fatal(err)
	}
	_, foreign := d.issue("foreign", d.citizen(), devca.Options{Key: devca.KeyRSA}, other)
	for _, prefix := range []string{revokedOCSP, revokedCRL} {
		certs, err := signature.ReadCertificates(prefix + ".pem")
		if err != nil {
			t.Fatal(err)
		}
		d.ca.Revoke(certs[0].SerialNumber)
	}
	refuseWith := func(prefix, want string) {
		t.Helper()
		a := d.agent(nil)
		p, ch, _ := d.signaturePage(a)
		p = d.ff.submit(a, p, "/login/signature", url.Values{"signature": {d.sign(ch, prefix+".p12")}})
		wantRefusal(t, p, want)
	}
	refuseWith(revokedOCSP, "Сертификат отозван")
	refuseWith(expired, "Срок действия сертификата истёк")
	refuseWith(foreign, "которому этот сайт не доверяет")
	// The responder down: the CRL tells the revocation.
	d.ocspDown.Store(true)
	refuseWith(revokedCRL, "Сертификат отозван")
	logs := d.srv.Logs()
	if !strings.Contains(logs, "signature: certificate revoked (ocsp)") || !strings.Contains(logs, "signature: certificate revoked (crl)") {
		t.Errorf("the log does not show a revocation by OCSP and one by CRL:\n%s", logs)
	}
}

// wantRefusal checks the signature page shows the message.
func wantRefusal(t *testing.T, p *testserver.Page, msg string) {
	t.Helper()
	if p.URL.Path != "/login/signature" || !strings.Contains(html.UnescapeString(p.Body), msg) {
		t.Fatalf("want the signature page saying %q: %s %d %.800s", msg, p.URL.Path, p.Status, p.Body)
	}
}
