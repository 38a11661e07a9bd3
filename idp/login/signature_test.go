package login_test

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/factors/signature"
	"github.com/esia-oidc/idp/factors/signature/devca"
	"github.com/esia-oidc/idp/idp/account"
	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/internal/testserver"
	"github.com/esia-oidc/idp/store"
)

// The signature step in process: a development centre served over HTTP
// (CRL, OCSP), the provider trusting it, and a citizen with checked
// personal data whose SNILS the certificates name.

const sigSNILS = "11223344595"

var sigCitizen = devca.Citizen{SNILS: sigSNILS, LastName: "Петрова", FirstName: "Анна", MiddleName: "Ивановна"}

type sigEnv struct {
	*mfaEnv
	ca *devca.CA
}

func newSigEnv(t *testing.T, configure ...func(*config.Config)) *sigEnv {
	t.Helper()
	var h http.Handler = http.NotFoundHandler()
	pki := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(pki.Close)
	ca, err := devca.New("Test CA", devca.KeyECDSA, pki.URL)
	if err != nil {
		t.Fatal(err)
	}
	h = ca.Handler()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := devca.WritePEM(caFile, 0o644, "CERTIFICATE", ca.Cert.Raw); err != nil {
		t.Fatal(err)
	}
	configure = append([]func(*config.Config){func(c *config.Config) { c.SignatureCA = []string{caFile} }}, configure...)
	e := &sigEnv{mfaEnv: newMFAEnv(t, configure...), ca: ca}
	// The citizen: standard level, personal data checked as they are.
	hash, err := e.p.Srv.Passwords.Hash(e.ctx, mfaPassword)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	a := &store.Account{
		ID: "sig-citizen", Level: store.LevelStandard, LastName: "Петрова", FirstName: "Анна", MiddleName: "Ивановна",
		Phone: "+79990001122", PhoneVerified: true, SNILS: sigSNILS, PasswordHash: hash, CreatedAt: now, UpdatedAt: now,
	}
	a.Verification = &store.Verification{ID: "ver-1", Status: store.VerificationApproved, Digest: account.CheckedDigest(a), RequestedAt: now, DecidedAt: now}
	a.Evidence = []store.Evidence{{Kind: store.EvidenceRegistry, At: now, Ref: "ver-1", Digest: a.Verification.Digest}}
	if err := e.p.Srv.Durable.CreateAccount(e.ctx, a); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *sigEnv) issue(c devca.Citizen, o devca.Options) (*x509.Certificate, crypto.Signer) {
	e.t.Helper()
	cert, key, err := e.ca.Issue(c, o)
	if err != nil {
		e.t.Fatal(err)
	}
	return cert, key
}

var challengeRe = regexp.MustCompile(`data-challenge="([^"]+)"`)

// signaturePage starts an authorization and opens the signature page from
// the login page's link; it returns the page and its challenge.
func (e *sigEnv) signaturePage(a *testserver.Agent) (*testserver.Page, string) {
	e.t.Helper()
	p := e.authorize(a, "plain-rp", "verifier-0123456789-0123456789-0123456789-01")
	if p.URL.Path != "/login" || !strings.Contains(p.Body, `id="signature-link"`) {
		e.t.Fatalf("on %s (%d), want the login page with the signature link", p.URL.Path, p.Status)
	}
	p = e.get(a, e.p.Issuer+"/login/signature?flow="+url.QueryEscape(p.URL.Query().Get("flow")))
	m := challengeRe.FindStringSubmatch(p.Body)
	if p.Status != http.StatusOK || m == nil {
		e.t.Fatalf("signature page %d: %.400s", p.Status, p.Body)
	}
	return p, html.UnescapeString(m[1])
}

func (e *sigEnv) cms(challenge string, cert *x509.Certificate, key crypto.Signer) string {
	e.t.Helper()
	der, err := signature.SignCMS([]byte(challenge), cert, key)
	if err != nil {
		e.t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// refused checks that the page refused the signature with the reason.
func refused(t *testing.T, p *testserver.Page, code string) {
	t.Helper()
	pages, err := web.New(nil, web.Cookies{})
	if err != nil {
		t.Fatal(err)
	}
	want := html.EscapeString(pages.T("ru", "signature.refused_"+code))
	if p.URL.Path != "/login/signature" || p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Body, want) {
		t.Fatalf("want the refusal %q: %s %d %.600s", code, p.URL.Path, p.Status, p.Body)
	}
}

func TestSignatureLogin(t *testing.T) {
	e := newSigEnv(t)
	verifier := "verifier-0123456789-0123456789-0123456789-01"
	cert, key := e.issue(sigCitizen, devca.Options{Key: devca.KeyECDSA, Qualified: true})

	// First use: the certificate is verified, then the password binds it;
	// the qualified certificate matching the checked data confirms the
	// account.
	a := e.p.Agent()
	p, ch := e.signaturePage(a)
	p = e.submit(a, p, url.Values{"signature": {e.cms(ch, cert, key)}})
	if p.Status != http.StatusOK || !strings.Contains(p.Body, `data-signature-notice="bind"`) {
		t.Fatalf("first use: %d %.600s", p.Status, p.Body)
	}
	p = e.follow(a, e.get(a, e.p.Issuer+linkOf(t, p, "signature-continue")))
	p = e.password(a, p, "+79990001122")
	c := e.claims(p, "plain-rp", verifier)
	if got := amr(c); !slices.Equal(got, []string{"pwd", "hwk", "mfa"}) {
		t.Errorf("amr after the bind %v, want [pwd hwk mfa]", got)
	}
	acct, err := e.p.Srv.Durable.GetAccount(e.ctx, "sig-citizen")
	if err != nil {
		t.Fatal(err)
	}
	if acct.Factors.Certificate(signature.Fingerprint(cert)) == nil || acct.Level != store.LevelConfirmed || acct.ConfirmationMethod != store.EvidenceSignature {
		t.Fatalf("after the bind: level %s by %q, certificates %+v", acct.Level, acct.ConfirmationMethod, acct.Factors)
	}

	// Later uses log in directly: amr hwk.
	a = e.p.Agent()
	p, ch = e.signaturePage(a)
	sig := e.cms(ch, cert, key)
	p = e.submit(a, p, url.Values{"signature": {sig}})
	c = e.claims(p, "plain-rp", verifier)
	if got := amr(c); !slices.Equal(got, []string{"hwk"}) {
		t.Errorf("amr of a signature login %v, want [hwk]", got)
	}

	// Refusals, each on the page with its reason.
	a = e.p.Agent()
	p, ch = e.signaturePage(a)
	refused(t, e.submit(a, p, url.Values{"signature": {sig}}), "reused_challenge")
	p, _ = e.signaturePage(a)
	refused(t, e.submit(a, p, url.Values{"signature": {e.cms(signature.NewChallenge("elsewhere"), cert, key)}}), "wrong_challenge")

	revoked, rkey := e.issue(sigCitizen, devca.Options{Key: devca.KeyECDSA, Qualified: true})
	e.ca.Revoke(revoked.SerialNumber)
	p, ch = e.signaturePage(a)
	refused(t, e.submit(a, p, url.Values{"signature": {e.cms(ch, revoked, rkey)}}), "revoked")

	expired, ekey := e.issue(sigCitizen, devca.Options{Key: devca.KeyECDSA, NotBefore: time.Now().AddDate(-2, 0, 0), NotAfter: time.Now().AddDate(-1, 0, 0)})
	p, ch = e.signaturePage(a)
	refused(t, e.submit(a, p, url.Values{"signature": {e.cms(ch, expired, ekey)}}), "expired")

	other, err := devca.New("Other CA", devca.KeyRSA, "")
	if err != nil {
		t.Fatal(err)
	}
	foreign, fkey, err := other.Issue(sigCitizen, devca.Options{Key: devca.KeyRSA})
	if err != nil {
		t.Fatal(err)
	}
	p, ch = e.signaturePage(a)
	refused(t, e.submit(a, p, url.Values{"signature": {e.cms(ch, foreign, fkey)}}), "untrusted")
	p, _ = e.signaturePage(a)
	refused(t, e.submit(a, p, url.Values{"signature": {"not a signature"}}), "malformed")
}

// A certificate of another SNILS is not bound by the password of an
// account (explained; the login goes on by the password alone), and a
// qualified certificate whose name differs from the checked data binds
// but confirms nothing.
func TestSignatureMismatch(t *testing.T) {
	e := newSigEnv(t)
	verifier := "verifier-0123456789-0123456789-0123456789-01"
	stranger, skey := e.issue(devca.Citizen{SNILS: "08765430300", LastName: "Сидоров", FirstName: "Пётр"}, devca.Options{Key: devca.KeyRSA, Qualified: true})
	a := e.p.Agent()
	p, ch := e.signaturePage(a)
	p = e.submit(a, p, url.Values{"signature": {e.cms(ch, stranger, skey)}})
	p = e.follow(a, e.get(a, e.p.Issuer+linkOf(t, p, "signature-continue")))
	p = e.password(a, p, "+79990001122")
	if !strings.Contains(p.Body, `data-signature-notice="mismatch"`) {
		t.Fatalf("another SNILS: %d %.600s", p.Status, p.Body)
	}
	p = e.follow(a, e.get(a, e.p.Issuer+linkOf(t, p, "signature-continue")))
	if got := amr(e.claims(p, "plain-rp", verifier)); !slices.Equal(got, []string{"pwd"}) {
		t.Errorf("amr %v, want [pwd]", got)
	}

	renamed, rkey := e.issue(devca.Citizen{SNILS: sigSNILS, LastName: "Иванова", FirstName: "Анна", MiddleName: "Ивановна"}, devca.Options{Key: devca.KeyECDSA, Qualified: true})
	a = e.p.Agent()
	p, ch = e.signaturePage(a)
	p = e.submit(a, p, url.Values{"signature": {e.cms(ch, renamed, rkey)}})
	p = e.follow(a, e.get(a, e.p.Issuer+linkOf(t, p, "signature-continue")))
	p = e.password(a, p, "+79990001122")
	if !strings.Contains(p.Body, `data-signature-notice="confirm_name"`) {
		t.Fatalf("another name: %d %.600s", p.Status, p.Body)
	}
	acct, err := e.p.Srv.Durable.GetAccount(e.ctx, "sig-citizen")
	if err != nil {
		t.Fatal(err)
	}
	if acct.Level != store.LevelStandard || acct.Factors.Certificate(signature.Fingerprint(renamed)) == nil {
		t.Errorf("level %s, bound %v: want standard and bound", acct.Level, acct.Factors)
	}
}

var linkRe = regexp.MustCompile(`href="([^"]+)"[^>]*id="([^"]+)"`)

// linkOf returns the href of the link with the id.
func linkOf(t *testing.T, p *testserver.Page, id string) string {
	t.Helper()
	for _, m := range linkRe.FindAllStringSubmatch(p.Body, -1) {
		if m[2] == id {
			return html.UnescapeString(m[1])
		}
	}
	t.Fatalf("no link %s on %s: %.600s", id, p.URL.Path, p.Body)
	return ""
}

func TestRefusalsHaveMessages(t *testing.T) {
	for _, code := range append(signature.ReasonCodes(), "challenge_expired", "no_certificate", "tls_expired") {
		if !web.HasMessage("signature.refused_" + code) {
			t.Errorf("no message signature.refused_%s", code)
		}
	}
}

// A request that needs the confirmed level: the level-up page offers the
// signature; a qualified certificate signed in the logged-in flow is bound
// on the spot (the password was proven in this session), confirms the
// account, and the authorization finishes.
func TestSignatureRaisesLevel(t *testing.T) {
	e := newSigEnv(t)
	verifier := "verifier-0123456789-0123456789-0123456789-01"
	cert, key := e.issue(sigCitizen, devca.Options{Key: devca.KeyRSA, Qualified: true})
	a := e.p.Agent()
	p := e.authorize(a, "plain-rp", verifier, oauth2.SetAuthURLParam("acr_values", "confirmed"))
	p = e.password(a, p, "+79990001122")
	if p.Status != http.StatusForbidden || !strings.Contains(p.Body, `id="levelup-signature"`) {
		t.Fatalf("want the level-up page offering the signature: %s %d %.600s", p.URL.Path, p.Status, p.Body)
	}
	p = e.get(a, e.p.Issuer+linkOf(t, p, "levelup-signature"))
	m := challengeRe.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no challenge: %d %.400s", p.Status, p.Body)
	}
	p = e.submit(a, p, url.Values{"signature": {e.cms(html.UnescapeString(m[1]), cert, key)}})
	c := e.claims(p, "plain-rp", verifier)
	if got := amr(c); !slices.Equal(got, []string{"pwd", "hwk", "mfa"}) || c["level"] != "confirmed" {
		t.Errorf("amr %v level %v, want [pwd hwk mfa] confirmed", got, c["level"])
	}
}

// An account whose app code is asked at every login: a certificate
// brought to a login is bound only after the password and the app's
// code, never after the password alone.
func TestSignatureBindAfterRequiredFactor(t *testing.T) {
	e := newSigEnv(t)
	verifier := "verifier-0123456789-0123456789-0123456789-01"
	app, secret := e.enrolTOTP("sig-citizen")
	if _, err := e.p.Srv.Durable.UpdateAccount(e.ctx, "sig-citizen", func(a *store.Account) error {
		a.Factors = &store.SecondFactors{TOTP: app, Required: true}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cert, key := e.issue(sigCitizen, devca.Options{Key: devca.KeyECDSA})
	bound := func() bool {
		t.Helper()
		acct, err := e.p.Srv.Durable.GetAccount(e.ctx, "sig-citizen")
		if err != nil {
			t.Fatal(err)
		}
		return acct.Factors.Certificate(signature.Fingerprint(cert)) != nil
	}

	a := e.p.Agent()
	p, ch := e.signaturePage(a)
	p = e.submit(a, p, url.Values{"signature": {e.cms(ch, cert, key)}})
	p = e.follow(a, e.get(a, e.p.Issuer+linkOf(t, p, "signature-continue")))
	p = e.password(a, p, "+79990001122")
	onFactorPage(t, p, "totp")
	if bound() {
		t.Fatal("the certificate was bound after the password alone")
	}
	p = e.submit(a, p, url.Values{"code": {totpCode(t, secret)}})
	if got := amr(e.claims(p, "plain-rp", verifier)); !slices.Equal(got, []string{"pwd", "otp", "swk", "mfa"}) {
		t.Errorf("amr after the bind %v, want [pwd otp swk mfa]", got)
	}
	if !bound() {
		t.Fatal("the certificate is not bound after the password and the app's code")
	}
	// The confirmed phone is told of the new way to log in.
	msgs := e.p.WaitMessages(t, "+79990001122", 1)
	if len(msgs) != 1 || !strings.Contains(msgs[0].Body, "привязан сертификат электронной подписи") || !strings.Contains(msgs[0].Body, "Test CA") {
		t.Fatalf("the notice of the bind: %+v", msgs)
	}
}

// Showing the signature page again in one flow reuses its hand-off to the
// mTLS listener (one stored per flow, not one per view, as the challenge);
// once the listener took it, it is gone and the page shows a new one.
func TestSignatureHandoffReused(t *testing.T) {
	e := newSigEnv(t, func(c *config.Config) { c.MTLSListen, c.MTLSURL = "127.0.0.1:8443", "https://mtls.idp.test" })
	a := e.p.Agent()
	p, _ := e.signaturePage(a)
	page := p.URL.String()
	first := linkOf(t, p, "signature-tls")
	for range 3 {
		if again := linkOf(t, e.get(a, page), "signature-tls"); again != first {
			t.Fatalf("the page shown again links %s, want the same hand-off %s", again, first)
		}
	}
	// The listener, given no client certificate, takes the hand-off and
	// sends the browser back refused.
	take := func(link string) *httptest.ResponseRecorder {
		t.Helper()
		u, err := url.Parse(link)
		if err != nil || u.Host != "mtls.idp.test" {
			t.Fatalf("hand-off link %s: %v", link, err)
		}
		rec := httptest.NewRecorder()
		e.p.Srv.MTLSHandler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u.RequestURI(), nil))
		return rec
	}
	if rec := take(first); rec.Code != http.StatusSeeOther || !strings.Contains(rec.Header().Get("Location"), "refused=no_certificate") {
		t.Fatalf("listener: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	if rec := take(first); rec.Code != http.StatusNotFound {
		t.Fatalf("a taken hand-off again: %d, want 404", rec.Code)
	}
	next := linkOf(t, e.get(a, page), "signature-tls")
	if next == first {
		t.Fatal("the page after the listener took the hand-off shows it still")
	}
	if rec := take(next); rec.Code != http.StatusSeeOther {
		t.Fatalf("the new hand-off: %d", rec.Code)
	}
}
