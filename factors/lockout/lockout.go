// Package lockout throttles password guessing over shared counters
// (store.Counters), so that every replica sees the same counts.
//
// Two counters are kept. The subject counter counts failed logins against
// one account, whichever of its identifiers (phone, e-mail, SNILS) was typed,
// or, when the typed identifier names no account, against that identifier;
// at Policy.Attempts failures the subject is locked for Policy.Lock. The IP
// counter counts failed logins from one client address (IPv4 address, or
// IPv6 /64 network) for every subject together; at Policy.IPLimit failures
// that address is blocked for Policy.IPWindow. Both windows slide: every
// failure restarts the counter's expiry, so a lock ends Lock (IPWindow) after
// the last counted failure.
//
// An attempt is counted among its address's attempts in flight before the
// password is checked (Begin) and released when it ends; an address whose
// failures and attempts in flight reach the limit takes no more, so a burst
// of attempts in flight at once cannot exceed the address's limit either.
// A Guard checks one secret per subject at a time across replicas, inside
// these counts: the pages that check passwords and codes use it.
//
// Counter keys never hold an identifier or an account id: they are keyed
// hashes (HMAC-SHA-256 under a key derived from the server's secret), which a
// copy of the store does not reverse by enumerating phone numbers or SNILS.
// Unknown identifiers are counted exactly like accounts, so the lock does not
// tell whether an account exists.
package lockout

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/esia-oidc/idp/store"
)

// Policy sets the limits. Zero fields take the defaults of DefaultPolicy.
type Policy struct {
	Attempts int           // failures of one identifier before it is locked
	Lock     time.Duration // how long an identifier stays locked after its last failure
	IPLimit  int           // failures from one address (any identifiers) before it is blocked
	IPWindow time.Duration // window of the address counter, and how long a block lasts
}

// DefaultPolicy returns 5 attempts and a 15-minute lock per identifier, and
// 100 failures in a 10-minute window per address.
func DefaultPolicy() Policy {
	return Policy{Attempts: 5, Lock: 15 * time.Minute, IPLimit: 100, IPWindow: 10 * time.Minute}
}

func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.Attempts <= 0 {
		p.Attempts = d.Attempts
	}
	if p.Lock <= 0 {
		p.Lock = d.Lock
	}
	if p.IPLimit <= 0 {
		p.IPLimit = d.IPLimit
	}
	if p.IPWindow <= 0 {
		p.IPWindow = d.IPWindow
	}
	return p
}

// Scope tells what a lock applies to.
type Scope string

// Lock scopes.
const (
	ScopeNone       Scope = ""           // not locked
	ScopeIdentifier Scope = "identifier" // too many failures for this account (or unknown identifier)
	ScopeIP         Scope = "ip"         // too many failures from this address
)

// Decision is the verdict of Check or Fail.
type Decision struct {
	// Allowed: the password may be verified. When false, Locked is true.
	Allowed bool
	Locked  bool
	// Scope is what the lock applies to; when both are locked, the one that
	// ends later.
	Scope Scope
	// RetryAt is when the lock ends (zero when allowed).
	RetryAt time.Time
	// Remaining is how many more failures the subject may have before it
	// is locked (0 when the subject is locked). It is reported even when
	// the address is blocked.
	Remaining int
}

// ErrEmptySubject: the subject is the zero Subject (the caller must
// normalize and reject empty input before throttling).
var ErrEmptySubject = errors.New("lockout: empty subject")

// minKeyBytes is the shortest key New accepts.
const minKeyBytes = 32

// Limiter applies a Policy over shared counters. It is safe for concurrent use.
type Limiter struct {
	counters store.Counters
	policy   Policy
	key      []byte
}

// New returns a Limiter over counters. Zero fields of p take the defaults.
// key (at least 32 bytes, derived from the server's secret, the same on
// every replica) keys the hashes that name the counters.
func New(counters store.Counters, p Policy, key []byte) (*Limiter, error) {
	if len(key) < minKeyBytes {
		return nil, errors.New("lockout: key must be at least 32 bytes")
	}
	return &Limiter{counters: counters, policy: p.withDefaults(), key: append([]byte(nil), key...)}, nil
}

// Policy returns the effective policy (defaults filled in).
func (l *Limiter) Policy() Policy { return l.policy }

// Subject is what failed logins are counted against.
type Subject struct{ key string }

// Account is the subject of an account, whichever identifier was typed.
func (l *Limiter) Account(accountID string) Subject { return l.subject("acct", accountID) }

// Factor is the subject of an account's second-factor checks (codes, the
// app, backup codes): counted apart from its passwords, so that a right
// password does not reset the count of wrong codes.
func (l *Limiter) Factor(accountID string) Subject { return l.subject("factor", accountID) }

// Recovery is the subject of a recovery's codes sent for an identifier
// (whether or not it names an account).
func (l *Limiter) Recovery(identifier string) Subject { return l.subject("recover", identifier) }

// Identifier is the subject of a normalized identifier that names no
// account.
func (l *Limiter) Identifier(identifier string) Subject { return l.subject("id", identifier) }

func (l *Limiter) subject(kind, value string) Subject {
	if value == "" {
		return Subject{}
	}
	m := hmac.New(sha256.New, l.key)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return Subject{key: "lock:" + kind + ":" + hex.EncodeToString(m.Sum(nil))}
}

// Key is the subject's counter key ("lock:acct:" or "lock:id:" and a keyed
// hash): a name for other per-subject state that must not reveal it either.
func (s Subject) Key() string { return s.key }

// IPKey returns the counter key of a client address: "lock:ip:" and the IPv4
// address (IPv4-mapped IPv6 addresses are unmapped), or the IPv6 /64 network,
// since one IPv6 client usually holds a whole /64. It returns "" for an
// invalid address.
func IPKey(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return "lock:ip:" + ip.String()
	}
	return "lock:ip:" + netip.PrefixFrom(ip, 64).Masked().String()
}

// Check tells whether a login of the subject from ip may verify a password
// now. It changes nothing. An invalid ip (the zero Addr) is not throttled by
// address. On error the Decision is the zero value, which is not Allowed:
// callers fail closed.
func (l *Limiter) Check(ctx context.Context, s Subject, ip netip.Addr) (Decision, error) {
	if s.key == "" {
		return Decision{}, ErrEmptySubject
	}
	id, err := l.counters.GetCounter(ctx, s.key)
	if err != nil {
		return Decision{}, fmt.Errorf("lockout: read subject counter: %w", err)
	}
	var addr store.Counter
	if key := IPKey(ip); key != "" {
		if addr, err = l.counters.GetCounter(ctx, key); err != nil {
			return Decision{}, fmt.Errorf("lockout: read address counter: %w", err)
		}
	}
	return l.decide(id, addr), nil
}

// CheckAddress tells whether logins from ip may go on, before anything is
// known of whose login it is: a blocked address costs no account lookup.
func (l *Limiter) CheckAddress(ctx context.Context, ip netip.Addr) (Decision, error) {
	var addr store.Counter
	if key := IPKey(ip); key != "" {
		var err error
		if addr, err = l.counters.GetCounter(ctx, key); err != nil {
			return Decision{}, fmt.Errorf("lockout: read address counter: %w", err)
		}
	}
	return l.decide(store.Counter{}, addr), nil
}

// CheckSubject tells whether the subject may verify a password now,
// whatever the address.
func (l *Limiter) CheckSubject(ctx context.Context, s Subject) (Decision, error) {
	return l.Check(ctx, s, netip.Addr{})
}

// UnlockAccount lifts every lockout of the account at once: its
// password's and its second factors' (an operator's unlock, a recovery).
func (l *Limiter) UnlockAccount(ctx context.Context, accountID string) error {
	return errors.Join(l.Unlock(ctx, l.Account(accountID)), l.Unlock(ctx, l.Factor(accountID)))
}

// Unlock forgets the subject's failures at once.
func (l *Limiter) Unlock(ctx context.Context, s Subject) error {
	if s.key == "" {
		return ErrEmptySubject
	}
	if err := l.counters.ResetCounter(ctx, s.key); err != nil {
		return fmt.Errorf("lockout: reset subject counter: %w", err)
	}
	return nil
}

// Attempt is a password check under way, counted against its address in
// advance. End it with exactly one of Fail, Succeed or Abandon; pass them a
// context that the client hanging up does not cancel, so that a failure is
// counted whatever the client does.
type Attempt struct {
	l         *Limiter
	subject   Subject
	ipKey     string // the address's failure counter
	flightKey string // the address's attempts in flight
}

// flightKey is the counter of an address's attempts in flight.
func flightKey(ipKey string) string { return "lock:flight:" + ipKey[len("lock:ip:"):] }

// flightTTL bounds how long an attempt that never ends (its process died)
// holds a place of its address.
const flightTTL = time.Minute

// Begin starts an attempt: if neither the subject nor the address is
// locked, it counts the attempt among its address's attempts in flight and
// returns it; an address whose failures and attempts in flight together
// reach IPLimit takes no more, so a burst in flight cannot exceed the limit.
// (The attempts in flight have a counter of their own, so that a success
// does not slide the window of the address's failures.) Otherwise it
// returns a nil Attempt and the Decision that refused it. On error nothing
// is counted and the Decision is not Allowed.
func (l *Limiter) Begin(ctx context.Context, s Subject, ip netip.Addr) (*Attempt, Decision, error) {
	d, err := l.Check(ctx, s, ip)
	if err != nil || !d.Allowed {
		return nil, d, err
	}
	a := &Attempt{l: l, subject: s, ipKey: IPKey(ip)}
	if a.ipKey == "" {
		return a, d, nil
	}
	a.flightKey = flightKey(a.ipKey)
	flight, err := l.counters.Incr(ctx, a.flightKey, flightTTL)
	if err != nil {
		return nil, Decision{}, fmt.Errorf("lockout: count address attempt: %w", err)
	}
	failures, err := l.counters.GetCounter(ctx, a.ipKey)
	if err != nil {
		a.release(ctx)
		return nil, Decision{}, fmt.Errorf("lockout: read address counter: %w", err)
	}
	if failures.N+flight.N > int64(l.policy.IPLimit) {
		// Others in flight took the last places: give this one back.
		if err := a.release(ctx); err != nil {
			return nil, Decision{}, err
		}
		retry := failures.ExpiresAt
		if retry.IsZero() || flight.ExpiresAt.Before(retry) {
			retry = flight.ExpiresAt // the burst in flight ends first
		}
		d.Allowed, d.Locked, d.Scope, d.RetryAt = false, true, ScopeIP, retry
		return nil, d, nil
	}
	return a, d, nil
}

// Fail counts the failure against the subject and the address, releases
// the attempt's place, and returns the decision that follows, so that the
// page can say "locked until ..." on the failure that locks.
func (a *Attempt) Fail(ctx context.Context) (Decision, error) {
	id, err := a.l.counters.Incr(ctx, a.subject.key, a.l.policy.Lock)
	if err != nil {
		return Decision{}, fmt.Errorf("lockout: count subject failure: %w", err)
	}
	var addr store.Counter
	if a.ipKey != "" {
		// The failure is counted before the place is released, so the two
		// counters together never undercount.
		if addr, err = a.l.counters.Incr(ctx, a.ipKey, a.l.policy.IPWindow); err != nil {
			return Decision{}, fmt.Errorf("lockout: count address failure: %w", err)
		}
		if err := a.release(ctx); err != nil {
			return Decision{}, err
		}
	}
	return a.l.decide(id, addr), nil
}

// Succeed forgets the subject's failures (an operator's unlock does the
// same) and releases the attempt's place; the address keeps its failures
// and their window.
func (a *Attempt) Succeed(ctx context.Context) error {
	if err := a.l.counters.ResetCounter(ctx, a.subject.key); err != nil {
		return fmt.Errorf("lockout: reset subject counter: %w", err)
	}
	return a.Abandon(ctx)
}

// Abandon releases the attempt's place: no password was judged (the check
// was shed as busy, or failed for another reason).
func (a *Attempt) Abandon(ctx context.Context) error { return a.release(ctx) }

func (a *Attempt) release(ctx context.Context) error {
	if a.flightKey == "" {
		return nil
	}
	if _, err := a.l.counters.Decr(ctx, a.flightKey); err != nil {
		return fmt.Errorf("lockout: release address attempt: %w", err)
	}
	return nil
}

// decide turns the two counters into a Decision. A counter that is missing
// or has lapsed reads as zero.
func (l *Limiter) decide(id, addr store.Counter) Decision {
	d := Decision{Allowed: true, Remaining: max(l.policy.Attempts-int(id.N), 0)}
	if id.N >= int64(l.policy.Attempts) {
		d.Allowed, d.Locked, d.Scope, d.RetryAt = false, true, ScopeIdentifier, id.ExpiresAt
	}
	if addr.N >= int64(l.policy.IPLimit) && (d.Allowed || addr.ExpiresAt.After(d.RetryAt)) {
		d.Allowed, d.Locked, d.Scope, d.RetryAt = false, true, ScopeIP, addr.ExpiresAt
	}
	return d
}
