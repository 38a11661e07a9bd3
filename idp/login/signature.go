package login

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/esia-oidc/idp/factors/signature"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The signature step: the citizen logs in with an electronic signature,
// in one of two ways that end the same: a TLS client certificate on the
// mTLS listener (signature_tls.go), or a signed one-time challenge pasted
// on /login/signature. The certificate, judged by signature.Verifier
// (trust, validity, revocation), names the citizen's SNILS:
//
//   - a certificate bound to the account of that SNILS logs in directly
//     (amr hwk for a qualified certificate, swk for a software one);
//   - any other is remembered in the flow and the citizen logs in once
//     with the password: then it is bound to the account, if the
//     account's SNILS is the certificate's (signature_bind.go).
//
// Either way, a qualified certificate whose SNILS and name match the
// account's checked personal data confirms the account's identity.
//
// A challenge is bound to the flow (the ephemeral store's
// "sig-challenge:"+flow), lives ChallengeLifetime, and is good once: the
// signature over it is taken only by the request that deletes it, and its
// hash is then marked used ("sig-used:") so that the same signature
// brought again is told apart from a signature over another challenge.

// Signature is the signature login's configuration; Login.Signature nil
// turns the step off.
type Signature struct {
	Verifier *signature.Verifier
	// Site names the provider in challenges (the issuer's host).
	Site string
	// Issuer is the provider's public base URL, where the mTLS listener
	// hands the flow back.
	Issuer string
	// MTLSURL is the mTLS listener's public base URL; empty when there is
	// none.
	MTLSURL string
	// ChallengeLifetime bounds a challenge (5 minutes when zero).
	ChallengeLifetime time.Duration
}

func (s *Signature) challengeLifetime() time.Duration {
	if s.ChallengeLifetime <= 0 {
		return 5 * time.Minute
	}
	return s.ChallengeLifetime
}

// usedMemory is how long a used challenge is remembered as used.
const usedMemory = time.Hour

// SignatureProof is a verified certificate the flow carries until it is
// bound (after the password) or used: what the account will keep of it,
// and what it says of the citizen.
type SignatureProof struct {
	store.BoundCertificate
	SNILS      string    `json:"snils"`
	LastName   string    `json:"last_name,omitempty"`
	FirstName  string    `json:"first_name,omitempty"`
	MiddleName string    `json:"middle_name,omitempty"`
	AMR        string    `json:"amr"`
	At         time.Time `json:"at"`
}

func proofOf(c *signature.Certificate, now time.Time) *SignatureProof {
	return &SignatureProof{
		BoundCertificate: store.BoundCertificate{
			Fingerprint: c.Fingerprint(),
			Subject:     c.Person.CommonName,
			Serial:      c.Leaf.SerialNumber.Text(16),
			Issuer:      c.Leaf.Issuer.CommonName,
			NotAfter:    c.Leaf.NotAfter.UTC(),
			Qualified:   c.Person.Qualified,
		},
		SNILS: c.Person.SNILS, LastName: c.Person.LastName, FirstName: c.Person.FirstName, MiddleName: c.Person.MiddleName,
		AMR: c.AMR(), At: now,
	}
}

// SignaturePage is what the signature page shows.
type SignaturePage struct {
	ClientName string
	// Challenge is the text to sign.
	Challenge string
	// TLSURL starts the client-certificate way; empty when there is no
	// mTLS listener.
	TLSURL string
	// LoginURL goes back to the password.
	LoginURL string
}

func challengeKey(flow string) string { return "sig-challenge:" + flow }

func usedKey(digest []byte) string { return "sig-used:" + hex.EncodeToString(digest) }

// challenge returns the flow's live challenge, making one if none is.
func (l *Login) challenge(ctx context.Context, f *Flow) (string, error) {
	key := challengeKey(f.ID)
	b, err := l.Flows.GetEntry(ctx, key)
	if err == nil {
		return string(b), nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	c := signature.NewChallenge(l.Signature.Site)
	err = l.Flows.CreateEntry(ctx, key, []byte(c), l.Signature.challengeLifetime())
	if errors.Is(err, store.ErrConflict) {
		// Another request made one meanwhile: show that.
		b, err = l.Flows.GetEntry(ctx, key)
		return string(b), err
	}
	return c, err
}

// signatureForm builds the page, with a live challenge and a hand-off to
// the mTLS listener.
func (l *Login) signatureForm(w http.ResponseWriter, r *http.Request, f *Flow) (web.Form, error) {
	ctx := r.Context()
	ch, err := l.challenge(ctx, f)
	if err != nil {
		return web.Form{}, err
	}
	page := &SignaturePage{ClientName: l.clientName(r, f.ClientID), Challenge: ch, LoginURL: "/login?flow=" + url.QueryEscape(f.ID)}
	if l.Signature.MTLSURL != "" {
		h, err := l.handoff(ctx, f)
		if err != nil {
			return web.Form{}, err
		}
		page.TLSURL = l.Signature.MTLSURL + tlsPath + "?handoff=" + url.QueryEscape(h)
	}
	return web.Form{
		Action: "/login/signature",
		CSRF:   l.CSRF.Token(w, r, f.ID),
		Hidden: []web.Hidden{{Name: "flow", Value: f.ID}},
		Order:  []string{"signature"},
		Values: map[string]string{},
		Page:   page,
	}, nil
}

// signatureStep loads the flow of a signature page; nil when the step is
// off or the flow cannot go on (the response is written).
func (l *Login) signatureStep(w http.ResponseWriter, r *http.Request) *Flow {
	if l.Signature == nil {
		l.Pages.Error(w, r, &web.PageError{Status: http.StatusNotFound, Key: "error.not_found"})
		return nil
	}
	f := l.flowFromRequest(w, r)
	if f == nil || (r.Method == http.MethodPost && !l.checkCSRF(w, r, f.ID)) {
		return nil
	}
	return f
}

func (l *Login) handleSignaturePage(w http.ResponseWriter, r *http.Request) {
	f := l.signatureStep(w, r)
	if f == nil {
		return
	}
	form, err := l.signatureForm(w, r, f)
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	if code := r.URL.Query().Get("refused"); code != "" && web.HasMessage("signature.refused_"+code) {
		// The mTLS listener's refusal, handed back.
		form.FormError = web.M("signature.refused_" + code)
	}
	l.Pages.FormPage(w, r, http.StatusOK, "signature", form)
}

// handleSignature checks a pasted signature of the flow's challenge.
func (l *Login) handleSignature(w http.ResponseWriter, r *http.Request) {
	f := l.signatureStep(w, r)
	if f == nil {
		return
	}
	ctx := r.Context()
	sig := r.PostFormValue("signature")
	if sig == "" {
		l.signatureRefused(w, r, f, "", web.M("signature.required"))
		return
	}
	key := challengeKey(f.ID)
	cur, err := l.Flows.GetEntry(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		l.signatureRefused(w, r, f, sig, web.M("signature.refused_challenge_expired"))
		return
	}
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	signer, extra, err := signature.Open(sig, cur)
	if errors.Is(err, signature.ErrWrongChallenge) && l.usedBefore(ctx, sig) {
		err = signature.ErrReusedChallenge
	}
	var c *signature.Certificate
	if err == nil {
		c, err = l.Signature.Verifier.Verify(ctx, signer, extra)
	}
	if err == nil {
		// Good once: only the request that takes the challenge goes on.
		if _, terr := l.Flows.TakeEntry(ctx, key); errors.Is(terr, store.ErrNotFound) {
			err = signature.ErrReusedChallenge
		} else if terr != nil {
			l.Pages.Error(w, r, terr)
			return
		}
	}
	if err != nil {
		code := signature.Reason(err)
		if code == "" {
			l.Pages.Error(w, r, err)
			return
		}
		l.logger().InfoContext(ctx, "signature refused", "reason", code, "err", err)
		l.outcome("signature_refused")
		l.signatureRefused(w, r, f, sig, web.M("signature.refused_"+code))
		return
	}
	sum := sha256.Sum256(cur)
	if err := l.Flows.PutEntry(ctx, usedKey(sum[:]), []byte{1}, usedMemory); err != nil {
		l.logger().WarnContext(ctx, "mark a used challenge", "err", err)
	}
	l.signedWith(w, r, f, proofOf(c, l.now().UTC()))
}

// usedBefore reports whether sig is over a challenge already used.
func (l *Login) usedBefore(ctx context.Context, sig string) bool {
	d, ok := signature.SignedDigest(sig)
	if !ok {
		return false
	}
	_, err := l.Flows.GetEntry(ctx, usedKey(d))
	return err == nil
}

// signatureRefused shows the page again with the refusal.
func (l *Login) signatureRefused(w http.ResponseWriter, r *http.Request, f *Flow, sig string, msg web.Msg) {
	form, err := l.signatureForm(w, r, f)
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	form.Values["signature"] = sig
	form.Errors = map[string]web.Msg{"signature": msg}
	l.Pages.FormPage(w, r, http.StatusUnprocessableEntity, "signature", form)
}

// signedWith goes on with a verified certificate: a login when it is bound
// to the account of its SNILS (or binds it to the signed-in account), the
// password first otherwise.
func (l *Login) signedWith(w http.ResponseWriter, r *http.Request, f *Flow, p *SignatureProof) {
	ctx := r.Context()
	acct, err := l.Accounts.FindAccount(ctx, store.IdentifierSNILS, p.SNILS)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		l.Pages.Error(w, r, err)
		return
	}
	bound := acct != nil && acct.Factors.Certificate(p.Fingerprint) != nil
	if f.AccountID != "" && l.signedIn(r, f) {
		// Signed in already (raising the level): the certificate must be
		// the signed-in citizen's; bound on the spot, the password having
		// been proven in this session.
		f.Signature = p
		l.advance(w, r, f, nil)
		return
	}
	if !bound {
		// First use: the password once, then the bind (advance).
		f.forgetLogin()
		f.Signature = p
		f.Needs.PromptLogin = true
		if err := l.saveFlow(ctx, f); err != nil {
			l.Pages.Error(w, r, err)
			return
		}
		l.signatureNotice(w, r, "bind", "/login?flow="+url.QueryEscape(f.ID))
		return
	}
	if !l.accepts(f, acct.ID) {
		l.fail(w, r, f, ErrWrongCitizen)
		return
	}
	l.outcome("success")
	sso, err := l.Sessions.Start(w, r, acct.ID, []string{p.AMR})
	if err != nil {
		l.Pages.Error(w, r, err)
		return
	}
	l.noticeNewDevice(ctx, acct, sso)
	l.event(ctx, acct.ID, "login.signature", map[string]string{"client": f.ClientID, "certificate": p.Fingerprint[:16]})
	f.Browser = l.CSRF.Rotate(w)
	f.AccountID, f.SID = acct.ID, sso.ID
	f.Proofs = []Proof{{Method: p.AMR, At: sso.AuthTime}}
	f.Signature = p
	l.advance(w, r, f, sso)
}

// SignatureNotice is what the signature's notice page shows: a message
// ("signature.notice_"+What, with Args) and where to go on.
type SignatureNotice struct {
	What        string
	Args        []any
	ContinueURL string
}

func (l *Login) signatureNotice(w http.ResponseWriter, r *http.Request, what, next string, args ...any) {
	l.Pages.FormPage(w, r, http.StatusOK, "signature_notice", web.Form{Page: SignatureNotice{What: what, Args: args, ContinueURL: next}})
}
