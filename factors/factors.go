// Package factors holds the second factors as capabilities: one interface
// per kind (Checker: checks a secret the citizen types; Sender: sends a
// code first, then checks it; Redirector: sends the citizen to an
// upstream, such as a bank, and takes its answer back), the adapters of the factor packages
// (totp, backup, codes) to those interfaces, and a Registry that the login
// asks what an account can offer.
//
// A factor's Check says only whether the proof holds: wrong tries are
// counted by the caller (factors/lockout), the same way on every path.
package factors

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/esia-oidc/idp/store"
)

// Kind is how a factor is proven.
type Kind int

// Kinds.
const (
	// KindSecret: the citizen types a secret the factor checks (TOTP,
	// backup code).
	KindSecret Kind = iota
	// KindSender: the factor sends a code, which the citizen types back
	// (SMS, e-mail).
	KindSender
	// KindRedirect: the citizen is sent to an upstream provider (a bank)
	// and comes back with its answer (Redirector).
	KindRedirect
)

// Factor is a second factor.
type Factor interface {
	// Name is the factor's stable name: "totp", "sms", "email", "backup".
	Name() string
	Kind() Kind
	// AMR is the RFC 8176 method a proof of the factor adds.
	AMR() string
	// Enrolled reports whether the account has the factor.
	Enrolled(a *store.Account) bool
}

// Checker checks a proof: nil when it holds. binding is what a sent code
// is bound to (the login flow's or recovery's id); factors that send
// nothing ignore it.
type Checker interface {
	Factor
	Check(ctx context.Context, a *store.Account, binding, code string) error
}

// Destination is where a Sender's code goes.
type Destination struct {
	Channel string // store.CodeChannelSMS or store.CodeChannelEmail
	To      string // the normalized phone or e-mail
}

// Sender is a Checker whose code is sent first.
type Sender interface {
	Checker
	// Issue makes a new code for the binding and returns it and where it
	// is to be sent; the caller sends it (in the citizen's language). A
	// send limit is a *codes.LimitError.
	Issue(ctx context.Context, a *store.Account, binding string, ip netip.Addr) (code string, to Destination, err error)
	// NextSend is when a new code may be issued to the account for the
	// binding (zero: now).
	NextSend(ctx context.Context, a *store.Account, binding string) time.Time
}

// Redirector is proven at an upstream provider: Start makes the URL the
// browser is sent to and what the caller keeps, bound to that browser,
// until the upstream sends it back; Finish checks the callback against it
// and returns who the upstream says the citizen is. A Redirector is a way
// to log in rather than a second factor: the login lists redirectors
// apart from the Registry.
type Redirector interface {
	Factor
	Start(ctx context.Context) (target string, p Pending, err error)
	Finish(ctx context.Context, p Pending, callback url.Values) (*Upstream, error)
}

// Pending is a redirect under way: the protocol values the callback must
// match (OAuth 2.0 state, OpenID Connect nonce, the PKCE verifier). It is
// a secret of the server: it never reaches the browser but as the state.
type Pending struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
}

// Upstream is what an upstream provider said of the citizen: its stable
// subject, and the citizen's data by this provider's field names (see
// factors/bank's Field constants), each with whether the upstream
// vouches for it.
type Upstream struct {
	// Factor is the Redirector's Name; Subject the upstream's sub.
	Factor, Subject string
	Fields          map[string]Value
}

// Value is one field an upstream released.
type Value struct {
	Value    string
	Verified bool
}

// Verified returns the field's value when the upstream vouches for it,
// else "".
func (u *Upstream) Verified(field string) string {
	if v := u.Fields[field]; v.Verified {
		return v.Value
	}
	return ""
}

// Errors of Check, whatever the factor.
var (
	// ErrMalformed: the input cannot be a proof of the factor (not counted
	// as a wrong try: the page says how it should look).
	ErrMalformed = errors.New("factors: malformed code")
	// ErrWrong: the proof does not hold (a wrong or replayed code).
	ErrWrong = errors.New("factors: wrong code")
	// ErrExpired: no live code to check (a sent code expired, was used, or
	// took its tries): a new one must be sent.
	ErrExpired = errors.New("factors: no live code")
	// ErrNotEnrolled: the account does not have the factor (any more).
	ErrNotEnrolled = errors.New("factors: not enrolled")
)

// Registry is the set of factors the server offers, in the order of
// preference of the login (the first enrolled is asked first).
type Registry struct{ list []Factor }

// NewRegistry returns a registry of fs, in that order of preference.
func NewRegistry(fs ...Factor) *Registry { return &Registry{list: fs} }

// Enrolled returns the account's factors, in the order of preference.
func (r *Registry) Enrolled(a *store.Account) []Factor {
	var out []Factor
	for _, f := range r.list {
		if f.Enrolled(a) {
			out = append(out, f)
		}
	}
	return out
}

// Get returns the factor of the name, or nil.
func (r *Registry) Get(name string) Factor {
	for _, f := range r.list {
		if f.Name() == name {
			return f
		}
	}
	return nil
}

// SecondFactorAMR reports whether an RFC 8176 method proves a second
// factor beside a password: a one-time code (app, backup, SMS, e-mail) or a
// key (signature).
func SecondFactorAMR(m string) bool {
	switch m {
	case "otp", "sms", "hwk", "swk":
		return true
	}
	return false
}

// MultiFactor reports whether the methods of a login (RFC 8176 amr) make
// it a multi-factor one: a second factor beside another method, or a
// hardware key alone (a qualified signature's key lives on a certified
// token that a PIN unlocks: possession and knowledge). A software key
// (swk) alone is one factor: a file, whose password the provider never
// sees.
func MultiFactor(amr []string) bool {
	for _, m := range amr {
		if !SecondFactorAMR(m) {
			continue
		}
		if m == "hwk" || slices.ContainsFunc(amr, func(o string) bool { return o != m }) {
			return true
		}
	}
	return false
}
