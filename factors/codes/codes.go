// Package codes issues and checks one-time codes sent to a citizen by SMS,
// e-mail or post (registration, and later second factors, contact changes
// and recovery).
//
// A code is six random digits. It is stored only as a keyed hash
// (HMAC-SHA-256 under a key derived from the server's secret, bound to the
// code's purpose and what it is bound to), compared in constant time, valid
// for Policy.TTL, and takes at most Policy.Attempts wrong tries, counted
// across replicas before the comparison so that parallel guesses cannot
// exceed the limit. A right code is taken atomically: it is good once.
//
// A code is bound to a Purpose and to a binding chosen by the caller (a
// registration's id, a login flow's id): a code issued for one cannot confirm
// another. Issuing a new code for the same purpose and binding replaces the
// previous one, at most once per Policy.ResendAfter; and sends are limited
// per recipient (Policy.SendsPerRecipient per Policy.SendWindow) and per
// client address (Policy.SendsPerIP), so that nobody can flood a phone or
// run up the SMS bill.
//
// Store keys never hold a recipient or a binding in the clear: they are
// keyed hashes, as the lockout's are.
package codes

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"time"

	"github.com/esia-oidc/idp/store"
)

// Purpose says what a code confirms; a code confirms nothing else.
type Purpose string

// Purposes.
const (
	PurposeRegister Purpose = "register" // a registration's phone or e-mail
	PurposeContact  Purpose = "contact"  // a new phone or e-mail of an account
	PurposeLogin    Purpose = "login"    // a second factor of a login flow
	PurposeRecover  Purpose = "recover"  // a recovery's proof of a contact
)

// Policy sets the limits. Zero fields take the defaults of DefaultPolicy.
type Policy struct {
	TTL               time.Duration // how long a code is valid
	Attempts          int           // wrong tries a code takes; the next one voids it
	ResendAfter       time.Duration // the shortest time between two codes of one binding
	SendsPerRecipient int           // codes sent to one recipient per SendWindow
	SendsPerIP        int           // codes requested from one address per SendWindow
	SendWindow        time.Duration
}

// DefaultPolicy returns what the issue asks of registration codes: valid
// 300 s, 5 attempts, a resend after 60 s, 5 sends per recipient and 30 per
// address an hour.
func DefaultPolicy() Policy {
	return Policy{
		TTL: 300 * time.Second, Attempts: 5, ResendAfter: 60 * time.Second,
		SendsPerRecipient: 5, SendsPerIP: 30, SendWindow: time.Hour,
	}
}

func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.TTL <= 0 {
		p.TTL = d.TTL
	}
	if p.Attempts <= 0 {
		p.Attempts = d.Attempts
	}
	if p.ResendAfter <= 0 {
		p.ResendAfter = d.ResendAfter
	}
	if p.SendsPerRecipient <= 0 {
		p.SendsPerRecipient = d.SendsPerRecipient
	}
	if p.SendsPerIP <= 0 {
		p.SendsPerIP = d.SendsPerIP
	}
	if p.SendWindow <= 0 {
		p.SendWindow = d.SendWindow
	}
	return p
}

// Store is what the codes are kept in: the ephemeral store, shared by every
// replica.
type Store interface {
	store.Entries
	store.Counters
}

// Codes issues and checks codes. It is safe for concurrent use.
type Codes struct {
	st     Store
	policy Policy
	key    []byte
	now    store.Clock
}

// minKeyBytes is the shortest key New accepts.
const minKeyBytes = 32

// New returns Codes over st. key (at least 32 bytes, derived from the
// server's secret, the same on every replica) keys the codes' hashes and the
// store keys. A nil now means time.Now.
func New(st Store, p Policy, key []byte, now store.Clock) (*Codes, error) {
	if len(key) < minKeyBytes {
		return nil, errors.New("codes: key must be at least 32 bytes")
	}
	if now == nil {
		now = time.Now
	}
	return &Codes{st: st, policy: p.withDefaults(), key: append([]byte(nil), key...), now: now}, nil
}

// Policy returns the limits in force.
func (c *Codes) Policy() Policy { return c.policy }

// LimitError says that a code may not be sent now, and from when it may.
type LimitError struct {
	// Reason: "resend" (the last code is younger than ResendAfter),
	// "recipient" (too many codes to this recipient) or "ip" (too many
	// from this address).
	Reason  string
	RetryAt time.Time
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("codes: send limit (%s) until %s", e.Reason, e.RetryAt.Format(time.RFC3339))
}

// ErrMalformed: the input is not a code (ParseCode).
var ErrMalformed = errors.New("codes: malformed code")

// ParseCode reads a typed code: six ASCII digits, spaces and hyphens aside
// (as a citizen may copy "123 456" or "123-456" from a message).
func ParseCode(s string) (string, error) {
	if len(s) > 32 {
		return "", ErrMalformed
	}
	out := make([]byte, 0, 6)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			if len(out) == 6 {
				return "", ErrMalformed
			}
			out = append(out, c)
		case c == ' ' || c == '-' || c == '\t':
		default:
			return "", ErrMalformed
		}
	}
	if len(out) != 6 {
		return "", ErrMalformed
	}
	return string(out), nil
}

// Errors of Check.
var (
	// ErrWrong: the code does not match; the caller may try again.
	ErrWrong = errors.New("codes: wrong code")
	// ErrExpired: there is no live code (never issued, expired, used, or
	// voided by too many wrong tries): a new one must be sent.
	ErrExpired = errors.New("codes: no live code")
)

// WrongError is the ErrWrong of a code that takes Left more tries.
type WrongError struct{ Left int }

func (e *WrongError) Error() string        { return fmt.Sprintf("codes: wrong code, %d tries left", e.Left) }
func (e *WrongError) Is(target error) bool { return target == ErrWrong }

// record is a live code in the store.
type record struct {
	Hash   []byte    `json:"h"`
	SentAt time.Time `json:"s"`
}

// Issue makes a new code for purpose and binding, to be sent to recipient
// (a normalized phone, e-mail or address) from the client address ip, and
// returns it; it replaces the binding's previous code. It returns a
// *LimitError when a send limit holds; a refused send counts towards no limit.
func (c *Codes) Issue(ctx context.Context, purpose Purpose, binding, recipient string, ip netip.Addr) (string, error) {
	now := c.now()
	// One code per binding per ResendAfter, across replicas: the marker is
	// created atomically.
	resendKey := c.name("code-resend", string(purpose), binding)
	if err := c.st.CreateEntry(ctx, resendKey, []byte(now.UTC().Format(time.RFC3339Nano)), c.policy.ResendAfter); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return "", &LimitError{Reason: "resend", RetryAt: c.resendAt(ctx, resendKey, now)}
		}
		return "", err
	}
	undoResend := func() { _ = c.st.DeleteEntry(context.WithoutCancel(ctx), resendKey) }

	// The send limits: counted first, given back when over (or when the
	// code is not stored), so that concurrent sends cannot pass together.
	var taken []string
	giveBack := func() {
		for _, k := range taken {
			_, _ = c.st.Decr(context.WithoutCancel(ctx), k)
		}
	}
	for _, lim := range []struct {
		reason, key string
		max         int
	}{
		{"recipient", c.name("code-sends", recipient), c.policy.SendsPerRecipient},
		{"ip", c.name("code-sends-ip", ipKey(ip)), c.policy.SendsPerIP},
	} {
		n, err := c.st.Incr(ctx, lim.key, c.policy.SendWindow)
		if err != nil {
			giveBack()
			undoResend()
			return "", err
		}
		taken = append(taken, lim.key)
		if n.N > int64(lim.max) {
			giveBack()
			undoResend()
			return "", &LimitError{Reason: lim.reason, RetryAt: n.ExpiresAt}
		}
	}

	code, err := randomDigits(6)
	if err != nil {
		giveBack()
		undoResend()
		return "", err
	}
	b, _ := json.Marshal(record{Hash: c.hash(purpose, binding, code), SentAt: now.UTC()})
	if err := c.st.PutEntry(ctx, c.name("code", string(purpose), binding), b, c.policy.TTL); err != nil {
		giveBack()
		undoResend()
		return "", err
	}
	// A new code starts with all its tries.
	if err := c.st.ResetCounter(ctx, c.name("code-tries", string(purpose), binding)); err != nil {
		return "", err
	}
	return code, nil
}

// resendAt reads when the resend marker was set and returns when it lapses;
// if it cannot tell, a full ResendAfter from now.
func (c *Codes) resendAt(ctx context.Context, key string, now time.Time) time.Time {
	b, err := c.st.GetEntry(ctx, key)
	if err != nil {
		return now.Add(c.policy.ResendAfter)
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return now.Add(c.policy.ResendAfter)
	}
	return t.Add(c.policy.ResendAfter)
}

// NextSend returns when a new code for purpose and binding may be issued
// (the zero time when it may be now), for a page that offers a resend.
func (c *Codes) NextSend(ctx context.Context, purpose Purpose, binding string) time.Time {
	key := c.name("code-resend", string(purpose), binding)
	if _, err := c.st.GetEntry(ctx, key); err != nil {
		return time.Time{}
	}
	return c.resendAt(ctx, key, c.now())
}

// Check checks code against the live code of purpose and binding and takes
// it when it matches: nil means the code was right and is now used. A wrong
// code is a *WrongError (errors.Is ErrWrong) while tries are left; the last
// wrong try voids the code and answers ErrExpired, as does a binding with no
// live code.
func (c *Codes) Check(ctx context.Context, purpose Purpose, binding, code string) error {
	codeKey := c.name("code", string(purpose), binding)
	b, err := c.st.GetEntry(ctx, codeKey)
	if errors.Is(err, store.ErrNotFound) {
		return ErrExpired
	}
	if err != nil {
		return err
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return ErrExpired
	}
	// The try counts before the comparison: of parallel guesses at most
	// Attempts are compared.
	tries, err := c.st.Incr(ctx, c.name("code-tries", string(purpose), binding), c.policy.TTL)
	if err != nil {
		return err
	}
	if tries.N > int64(c.policy.Attempts) {
		_ = c.st.DeleteEntry(ctx, codeKey)
		return ErrExpired
	}
	if subtle.ConstantTimeCompare(c.hash(purpose, binding, code), rec.Hash) != 1 {
		left := c.policy.Attempts - int(tries.N)
		if left <= 0 {
			_ = c.st.DeleteEntry(ctx, codeKey)
			return ErrExpired
		}
		return &WrongError{Left: left}
	}
	// Right: take it, once. A parallel right try that took it first wins.
	taken, err := c.st.TakeEntry(ctx, codeKey)
	if errors.Is(err, store.ErrNotFound) {
		return ErrExpired
	}
	if err != nil {
		return err
	}
	if !bytes32Equal(taken, b) {
		// Replaced by a new code between the read and the take: the
		// new one was taken by mistake; it is void now, like the old.
		return ErrExpired
	}
	_ = c.st.ResetCounter(ctx, c.name("code-tries", string(purpose), binding))
	return nil
}

// Forget voids the live code of purpose and binding, if any.
func (c *Codes) Forget(ctx context.Context, purpose Purpose, binding string) error {
	return c.st.DeleteEntry(ctx, c.name("code", string(purpose), binding))
}

func bytes32Equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// hash is the code's keyed hash, bound to its purpose and binding.
func (c *Codes) hash(purpose Purpose, binding, code string) []byte {
	m := hmac.New(sha256.New, c.key)
	for _, part := range []string{"code", string(purpose), binding, code} {
		m.Write([]byte(part))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// name names a store entry or counter by a keyed hash of its parts.
func (c *Codes) name(prefix string, parts ...string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(prefix))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return prefix + ":" + hex.EncodeToString(m.Sum(nil)[:16])
}

// ipKey is the address an IP limit counts: an IPv4 address, or an IPv6 /64.
func ipKey(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		p, err := ip.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return ip.String()
}

// randomDigits returns n uniformly random decimal digits.
func randomDigits(n int) (string, error) {
	b := make([]byte, n)
	ten := big.NewInt(10)
	for i := range b {
		d, err := rand.Int(rand.Reader, ten)
		if err != nil {
			return "", err
		}
		b[i] = byte('0' + d.Int64())
	}
	return string(b), nil
}
