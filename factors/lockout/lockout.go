// Package lockout throttles password guessing over shared counters
// (store.Counters), so that every replica sees the same counts.
//
// Two counters are kept. The identifier counter counts failed logins for one
// normalized identifier (phone, e-mail or SNILS); at Policy.Attempts failures
// the identifier is locked for Policy.Lock. The IP counter counts failed
// logins from one client address (IPv4 address, or IPv6 /64 network) for
// every identifier together; at Policy.IPLimit failures that address is
// blocked for Policy.IPWindow. Both windows slide: every failure restarts the
// counter's expiry, so a lock ends Lock (IPWindow) after the last counted
// failure. Callers do not verify the password, and do not call Fail, while
// Check says Locked.
//
// Counter keys never hold the identifier itself: it is hashed (SHA-256, hex).
// Unknown identifiers are counted exactly like known ones, so the lock does
// not tell whether an account exists.
package lockout

import (
	"context"
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
	ScopeIdentifier Scope = "identifier" // too many failures for this identifier
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
	// Remaining is how many more failures the identifier may have before it
	// is locked (0 when the identifier is locked). It is reported even when
	// the address is blocked.
	Remaining int
}

// ErrEmptyIdentifier: the identifier is empty (the caller must normalize and
// reject empty input before throttling).
var ErrEmptyIdentifier = errors.New("lockout: empty identifier")

// Limiter applies a Policy over shared counters. It is safe for concurrent use.
type Limiter struct {
	counters store.Counters
	policy   Policy
}

// New returns a Limiter over counters. Zero fields of p take the defaults.
func New(counters store.Counters, p Policy) *Limiter {
	return &Limiter{counters: counters, policy: p.withDefaults()}
}

// Policy returns the effective policy (defaults filled in).
func (l *Limiter) Policy() Policy { return l.policy }

// IdentifierKey returns the counter key of a normalized identifier:
// "lock:id:" and the hex SHA-256 of the identifier.
func IdentifierKey(identifier string) string {
	sum := sha256.Sum256([]byte(identifier))
	return "lock:id:" + hex.EncodeToString(sum[:])
}

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

// Check tells whether a login for the identifier from ip may verify a
// password now. It changes nothing. An invalid ip (the zero Addr) is not
// throttled by address. On error the Decision is the zero value, which is not
// Allowed: callers fail closed.
func (l *Limiter) Check(ctx context.Context, identifier string, ip netip.Addr) (Decision, error) {
	if identifier == "" {
		return Decision{}, ErrEmptyIdentifier
	}
	id, err := l.counters.GetCounter(ctx, IdentifierKey(identifier))
	if err != nil {
		return Decision{}, fmt.Errorf("lockout: read identifier counter: %w", err)
	}
	var addr store.Counter
	if key := IPKey(ip); key != "" {
		if addr, err = l.counters.GetCounter(ctx, key); err != nil {
			return Decision{}, fmt.Errorf("lockout: read address counter: %w", err)
		}
	}
	return l.decide(id, addr), nil
}

// Fail counts a failed login for the identifier and from ip, and returns the
// decision that follows, so that the page can say "locked until ..." on the
// failure that locks.
func (l *Limiter) Fail(ctx context.Context, identifier string, ip netip.Addr) (Decision, error) {
	if identifier == "" {
		return Decision{}, ErrEmptyIdentifier
	}
	id, err := l.counters.Incr(ctx, IdentifierKey(identifier), l.policy.Lock)
	if err != nil {
		return Decision{}, fmt.Errorf("lockout: count identifier failure: %w", err)
	}
	var addr store.Counter
	if key := IPKey(ip); key != "" {
		if addr, err = l.counters.Incr(ctx, key, l.policy.IPWindow); err != nil {
			return Decision{}, fmt.Errorf("lockout: count address failure: %w", err)
		}
	}
	return l.decide(id, addr), nil
}

// Succeed forgets the failures of the identifier after a successful login
// (an operator's unlock does the same). The address counter is left alone:
// it counts failures only, and a success does not wipe them.
func (l *Limiter) Succeed(ctx context.Context, identifier string) error {
	if identifier == "" {
		return ErrEmptyIdentifier
	}
	if err := l.counters.ResetCounter(ctx, IdentifierKey(identifier)); err != nil {
		return fmt.Errorf("lockout: reset identifier counter: %w", err)
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
