// Package login is the hosted login of an authorization, as a flow of
// steps: a typed Flow (what the request needs; what has been proven so far),
// an engine that picks the next step (Login.advance), and the steps
// (identify with a password, raise the level, consent). The protocol
// (idp/oidc) starts a flow with what it parsed from the authorization
// request and is called back, through Protocol, to finish the
// authorization or fail it: neither reaches into the other's fields.
package login

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/esia-oidc/idp/factors"
	"github.com/esia-oidc/idp/store"
)

// Flow is an authorization waiting for the citizen, stored under
// "flow:"+ID in the ephemeral store; the ID travels in page URLs and a
// hidden form field.
type Flow struct {
	ID          string    `json:"id"`
	ClientID    string    `json:"client_id"`
	RequestedAt time.Time `json:"requested_at"`
	// Request is the protocol's own record of the authorization request
	// (idp/oidc: its query), opaque to the login.
	Request string `json:"request"`
	// RedirectURI is where the flow ends at the client: the pages' forms
	// may submit there (CSP form-action), and nowhere else outside.
	RedirectURI string `json:"redirect_uri,omitempty"`
	// Browser binds the flow to the browser that started it (web.CSRF.Browser).
	Browser string `json:"browser"`
	// Return, for a local flow (no client: the citizen logs in to the
	// provider's own pages, such as /account), is the local path the flow
	// ends at. A local flow has no ClientID, no consent and no protocol.
	Return string `json:"return,omitempty"`

	// Needs is what the request needs of the login.
	Needs Requirements `json:"needs"`

	// What is proven so far: who logged in, in which SSO session, and how.
	AccountID string  `json:"account_id,omitempty"`
	SID       string  `json:"sid,omitempty"`
	Proofs    []Proof `json:"proofs,omitempty"`
	// Consented: the citizen allowed the requested scopes during this flow.
	Consented bool `json:"consented,omitempty"`
	// CodeSent names the factor whose code was sent for this flow (the
	// factor page sends one when first shown, then only on request).
	CodeSent string `json:"code_sent,omitempty"`
	// Bank is what a bank said of the citizen, until they log in, link or
	// register with it (bank_account.go).
	Bank *BankIdentity `json:"bank,omitempty"`
	// Signature is a verified certificate waiting to be bound or used
	// (signature_bind.go).
	Signature *SignatureProof `json:"signature,omitempty"`
	// BankLink is a bank the citizen chose to link after the password,
	// waiting for the second factor the login asks (bank_account.go).
	BankLink *factors.Upstream `json:"bank_link,omitempty"`
}

// Requirements is what an authorization request needs of the login.
type Requirements struct {
	// MinLevel is the lowest account level the request accepts.
	MinLevel store.Level `json:"min_level,omitempty"`
	// MFA: the login needs a second factor (the client requires one, or the
	// request's acr values do).
	MFA bool `json:"mfa,omitempty"`
	// MaxAge, when set, is how long ago the citizen may have authenticated
	// (OpenID Connect Core §3.1.2.1 max_age).
	MaxAge *time.Duration `json:"max_age,omitempty"`
	// Prompt: none (no page may be shown), login (authenticate again),
	// consent (ask again even when remembered).
	PromptNone    bool `json:"prompt_none,omitempty"`
	PromptLogin   bool `json:"prompt_login,omitempty"`
	PromptConsent bool `json:"prompt_consent,omitempty"`
	// Scopes are the requested scopes this provider knows.
	Scopes []string `json:"scopes,omitempty"`
	// LoginHint prefills the identifier; Locale ("ru", "en" or "") chooses
	// the pages' language.
	LoginHint string `json:"login_hint,omitempty"`
	Locale    string `json:"locale,omitempty"`
}

// Proof is one authentication made during the flow (or by the SSO session
// it reuses): its method as an RFC 8176 amr value, and when.
type Proof struct {
	Method string    `json:"method"`
	At     time.Time `json:"at"`
}

// AMR lists the methods of the flow's proofs, each once, in order, and
// "mfa" (RFC 8176) after them when a second factor joined the first.
func (f *Flow) AMR() []string {
	var out []string
	for _, p := range f.Proofs {
		if !slices.Contains(out, p.Method) {
			out = append(out, p.Method)
		}
	}
	if len(out) > 1 && f.SecondFactorDone() && !slices.Contains(out, "mfa") {
		out = append(out, "mfa")
	}
	return out
}

// SecondFactorDone reports whether the flow's proofs make a multi-factor
// login (factors.MultiFactor).
func (f *Flow) SecondFactorDone() bool {
	methods := make([]string, len(f.Proofs))
	for i, p := range f.Proofs {
		methods[i] = p.Method
	}
	return factors.MultiFactor(methods)
}

// AuthTime is when the citizen last authenticated in this flow's login:
// the latest proof.
func (f *Flow) AuthTime() time.Time {
	var t time.Time
	for _, p := range f.Proofs {
		if p.At.After(t) {
			t = p.At
		}
	}
	return t
}

// Local reports whether the flow logs in to the provider's own pages
// rather than to a client.
func (f *Flow) Local() bool { return f.ClientID == "" }

// forgetLogin drops what the flow knew of a login (and the consent given
// during it).
func (f *Flow) forgetLogin() {
	f.AccountID, f.SID, f.Proofs, f.Consented, f.CodeSent = "", "", nil, false, ""
	f.BankLink = nil
}

// NewID returns a new random flow id (192 bits).
func NewID() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func flowKey(id string) string { return "flow:" + id }

// maxFlowID bounds a flow id worth looking up.
const maxFlowID = 64

func (l *Login) saveFlow(ctx context.Context, f *Flow) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return l.Flows.PutEntry(ctx, flowKey(f.ID), b, l.FlowLifetime)
}

// errFlowExpired: the flow is unknown or has expired.
var errFlowExpired = errors.New("flow expired")

func (l *Login) loadFlow(ctx context.Context, id string) (*Flow, error) {
	if id == "" || len(id) > maxFlowID {
		return nil, errFlowExpired
	}
	b, err := l.Flows.GetEntry(ctx, flowKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errFlowExpired
	}
	if err != nil {
		return nil, err
	}
	var f Flow
	if err := json.Unmarshal(b, &f); err != nil || f.ID != id {
		return nil, fmt.Errorf("decode flow: %w", errFlowExpired)
	}
	return &f, nil
}

// dropFlow deletes the flow: it has ended.
func (l *Login) dropFlow(ctx context.Context, f *Flow) {
	if err := l.Flows.DeleteEntry(context.WithoutCancel(ctx), flowKey(f.ID)); err != nil {
		l.logger().WarnContext(ctx, "delete a finished flow", "err", err)
	}
}
