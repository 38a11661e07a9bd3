package lockout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
)

// fakeCounters is a minimal store.Counters with an injected clock, following
// the contract: Incr restarts a lapsed counter and slides its expiry.
type fakeCounters struct {
	mu   sync.Mutex
	now  time.Time
	m    map[string]store.Counter
	fail error // returned by every call when set
}

var _ store.Counters = (*fakeCounters)(nil)

func newFake() *fakeCounters {
	return &fakeCounters{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), m: map[string]store.Counter{}}
}

func (f *fakeCounters) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func (f *fakeCounters) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeCounters) keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ks []string
	for k := range f.m {
		ks = append(ks, k)
	}
	return ks
}

func (f *fakeCounters) Incr(_ context.Context, key string, ttl time.Duration) (store.Counter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return store.Counter{}, f.fail
	}
	c := f.m[key]
	if !c.ExpiresAt.After(f.now) {
		c = store.Counter{}
	}
	c.N++
	c.ExpiresAt = f.now.Add(ttl)
	f.m[key] = c
	return c, nil
}

func (f *fakeCounters) GetCounter(_ context.Context, key string) (store.Counter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return store.Counter{}, f.fail
	}
	c, ok := f.m[key]
	if !ok || !c.ExpiresAt.After(f.now) {
		return store.Counter{}, nil
	}
	return c, nil
}

func (f *fakeCounters) Decr(_ context.Context, key string) (store.Counter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return store.Counter{}, f.fail
	}
	c, ok := f.m[key]
	if !ok || !c.ExpiresAt.After(f.now) {
		return store.Counter{}, nil
	}
	if c.N > 0 {
		c.N--
	}
	f.m[key] = c
	return c, nil
}

func (f *fakeCounters) ResetCounter(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	delete(f.m, key)
	return nil
}

var (
	ctx     = context.Background()
	ipA     = netip.MustParseAddr("203.0.113.7")
	ipB     = netip.MustParseAddr("198.51.100.20")
	phone   = "+79123456789"
	testKey = []byte("lockout key for tests: 32 bytes!")
)

func newLimiter(t *testing.T, c store.Counters, p Policy) *Limiter {
	t.Helper()
	l, err := New(c, p, testKey)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// subject is an identifier's subject (no account), as the tests name them.
func subject(l *Limiter, id string) Subject { return l.Identifier(id) }

func mustCheck(t *testing.T, l *Limiter, id string, ip netip.Addr) Decision {
	t.Helper()
	d, err := l.Check(ctx, subject(l, id), ip)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	return d
}

// mustFail makes one failed attempt; when Begin refuses, its decision.
func mustFail(t *testing.T, l *Limiter, id string, ip netip.Addr) Decision {
	t.Helper()
	a, d, err := l.Begin(ctx, subject(l, id), ip)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if a == nil {
		return d
	}
	d, err = a.Fail(ctx)
	if err != nil {
		t.Fatalf("Fail: %v", err)
	}
	return d
}

// mustSucceed makes one successful attempt.
func mustSucceed(t *testing.T, l *Limiter, s Subject, ip netip.Addr) {
	t.Helper()
	a, d, err := l.Begin(ctx, s, ip)
	if err != nil || a == nil {
		t.Fatalf("Begin: %+v %v", d, err)
	}
	if err := a.Succeed(ctx); err != nil {
		t.Fatalf("Succeed: %v", err)
	}
}

func TestDefaults(t *testing.T) {
	want := Policy{Attempts: 5, Lock: 15 * time.Minute, IPLimit: 100, IPWindow: 10 * time.Minute}
	if got := DefaultPolicy(); got != want {
		t.Fatalf("DefaultPolicy() = %+v, want %+v", got, want)
	}
	if got := newLimiter(t, newFake(), Policy{}).Policy(); got != want {
		t.Fatalf("New with a zero policy uses %+v, want %+v", got, want)
	}
	if got := newLimiter(t, newFake(), Policy{Attempts: 3}).Policy(); got.Attempts != 3 || got.Lock != want.Lock {
		t.Fatalf("New with Attempts 3 uses %+v", got)
	}
	if _, err := New(newFake(), Policy{}, make([]byte, 16)); err == nil {
		t.Fatal("New accepted a 16-byte key")
	}
}

func TestIdentifierLock(t *testing.T) {
	f := newFake()
	l := newLimiter(t, f, DefaultPolicy())

	if d := mustCheck(t, l, phone, ipA); !d.Allowed || d.Locked || d.Remaining != 5 || !d.RetryAt.IsZero() {
		t.Fatalf("fresh Check = %+v", d)
	}
	for i := 1; i <= 4; i++ {
		d := mustFail(t, l, phone, ipA)
		if !d.Allowed || d.Locked || d.Remaining != 5-i {
			t.Fatalf("failure %d: %+v, want allowed with %d remaining", i, d, 5-i)
		}
		f.advance(time.Minute)
	}
	lockedAt := f.clock()
	d := mustFail(t, l, phone, ipA)
	want := Decision{Locked: true, Scope: ScopeIdentifier, RetryAt: lockedAt.Add(15 * time.Minute)}
	if d != want {
		t.Fatalf("5th failure: %+v, want %+v", d, want)
	}
	if d := mustCheck(t, l, phone, ipA); d != want {
		t.Fatalf("Check while locked: %+v, want %+v", d, want)
	}
	// The lock is per identifier: from another address it holds too, and
	// another identifier from the same address is not locked.
	if d := mustCheck(t, l, phone, ipB); d.Allowed || d.Scope != ScopeIdentifier {
		t.Fatalf("Check from another address: %+v", d)
	}
	if d := mustCheck(t, l, "user@example.com", ipA); !d.Allowed {
		t.Fatalf("Check of another identifier: %+v", d)
	}

	f.advance(15*time.Minute - time.Second)
	if d := mustCheck(t, l, phone, ipA); d.Allowed {
		t.Fatalf("Check a second before RetryAt: %+v", d)
	}
	f.advance(time.Second)
	if d := mustCheck(t, l, phone, ipA); !d.Allowed || d.Remaining != 5 {
		t.Fatalf("Check at RetryAt: %+v, want allowed with 5 remaining", d)
	}
}

func TestWindowSlides(t *testing.T) {
	f := newFake()
	l := newLimiter(t, f, DefaultPolicy())
	// Failures 14 minutes apart keep the counter alive ...
	for i := 1; i < 5; i++ {
		mustFail(t, l, phone, ipA)
		f.advance(14 * time.Minute)
	}
	if d := mustFail(t, l, phone, ipA); d.Allowed {
		t.Fatalf("5 failures 14 minutes apart: %+v, want locked", d)
	}
	// ... failures 15 minutes apart never add up.
	other := "a@example.com"
	for i := 0; i < 10; i++ {
		if d := mustFail(t, l, other, ipB); !d.Allowed || d.Remaining != 4 {
			t.Fatalf("failure %d, 15 minutes after the previous: %+v", i, d)
		}
		f.advance(15 * time.Minute)
	}
}

func TestSucceedResetsIdentifierOnly(t *testing.T) {
	f := newFake()
	l := newLimiter(t, f, Policy{Attempts: 5, Lock: 15 * time.Minute, IPLimit: 6, IPWindow: 10 * time.Minute})
	for range 4 {
		mustFail(t, l, phone, ipA)
	}
	mustSucceed(t, l, subject(l, phone), ipA)
	if d := mustCheck(t, l, phone, ipA); !d.Allowed || d.Remaining != 5 {
		t.Fatalf("after Succeed: %+v, want 5 remaining", d)
	}
	// The address kept its 4 failures: 2 more block it.
	mustFail(t, l, phone, ipA)
	if d := mustFail(t, l, phone, ipA); d.Allowed || d.Scope != ScopeIP {
		t.Fatalf("6th failure from the address across a success: %+v, want blocked by ip", d)
	}
	// Succeed on an identifier with no failures is fine.
	mustSucceed(t, l, subject(l, "nobody@example.com"), ipB)
}

func TestIPLimit(t *testing.T) {
	f := newFake()
	l := newLimiter(t, f, Policy{Attempts: 5, Lock: 15 * time.Minute, IPLimit: 10, IPWindow: 10 * time.Minute})
	// One address tries many identifiers, each below its own limit.
	var d Decision
	for i := range 10 {
		d = mustFail(t, l, "user"+string(rune('a'+i))+"@example.com", ipA)
	}
	want := Decision{Locked: true, Scope: ScopeIP, RetryAt: f.clock().Add(10 * time.Minute), Remaining: 4}
	if d != want {
		t.Fatalf("10th failure from one address: %+v, want %+v", d, want)
	}
	if d := mustCheck(t, l, "fresh@example.com", ipA); d.Allowed || d.Scope != ScopeIP {
		t.Fatalf("another identifier from the blocked address: %+v", d)
	}
	if d, err := l.CheckAddress(ctx, ipA); err != nil || d.Allowed || d.Scope != ScopeIP {
		t.Fatalf("CheckAddress of the blocked address: %+v %v", d, err)
	}
	if d, err := l.CheckSubject(ctx, l.Identifier("fresh@example.com")); err != nil || !d.Allowed {
		t.Fatalf("CheckSubject of an identifier without failures: %+v %v", d, err)
	}
	if d := mustCheck(t, l, "fresh@example.com", ipB); !d.Allowed {
		t.Fatalf("the same identifier from another address: %+v", d)
	}
	f.advance(10 * time.Minute)
	if d := mustCheck(t, l, "fresh@example.com", ipA); !d.Allowed {
		t.Fatalf("after the window: %+v", d)
	}
}

func TestBothLockedReportsLater(t *testing.T) {
	f := newFake()
	l := newLimiter(t, f, Policy{Attempts: 3, Lock: 15 * time.Minute, IPLimit: 3, IPWindow: 30 * time.Minute})
	var d Decision
	for range 3 {
		d = mustFail(t, l, phone, ipA)
	}
	if d.Scope != ScopeIP || d.RetryAt != f.clock().Add(30*time.Minute) {
		t.Fatalf("both locked, address longer: %+v", d)
	}
	l = newLimiter(t, newFake(), Policy{Attempts: 3, Lock: time.Hour, IPLimit: 3, IPWindow: 10 * time.Minute})
	for range 3 {
		d = mustFail(t, l, phone, ipA)
	}
	if d.Scope != ScopeIdentifier || d.Remaining != 0 {
		t.Fatalf("both locked, identifier longer: %+v", d)
	}
}

func TestKeysHideIdentifiers(t *testing.T) {
	f := newFake()
	l := newLimiter(t, f, DefaultPolicy())
	ids := []string{phone, "citizen@example.com", "11223344595"}
	for _, id := range ids {
		mustFail(t, l, id, ipA)
	}
	mustFail(t, l, "unknown@example.com", ipA) // unknown accounts count the same
	hashed := regexp.MustCompile(`^lock:id:[0-9a-f]{64}$`)
	unkeyed := sha256.Sum256([]byte(phone))
	var idKeys, ipKeys int
	for _, k := range f.keys() {
		for _, id := range ids {
			if strings.Contains(k, id) {
				t.Errorf("key %q holds identifier %q", k, id)
			}
		}
		if strings.Contains(k, hex.EncodeToString(unkeyed[:])) {
			t.Errorf("key %q is the plain SHA-256 of the phone: enumerable from a dump", k)
		}
		switch {
		case hashed.MatchString(k):
			idKeys++
		case k == "lock:ip:203.0.113.7", k == "lock:flight:203.0.113.7":
			ipKeys++
		default:
			t.Errorf("unexpected key %q", k)
		}
	}
	if idKeys != 4 || ipKeys != 2 {
		t.Errorf("%d identifier keys and %d address keys, want 4 and 2 (failures, in flight)", idKeys, ipKeys)
	}
	if l.Identifier(phone) != l.Identifier(phone) || l.Identifier(phone) == l.Identifier("+79123456788") {
		t.Error("Identifier is not a function of the identifier")
	}
	// Another key names other counters; an account and an identifier with
	// the same text are different subjects.
	other := newLimiter(t, f, DefaultPolicy())
	other.key = []byte("another lockout key, 32 bytes!!!")
	if other.Identifier(phone) == l.Identifier(phone) || l.Account(phone) == l.Identifier(phone) {
		t.Error("subjects do not depend on the key and the kind")
	}
}

func TestIPKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"203.0.113.7", "lock:ip:203.0.113.7"},
		{"::ffff:203.0.113.7", "lock:ip:203.0.113.7"},
		{"2001:db8:1:2:3:4:5:6", "lock:ip:2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "lock:ip:2001:db8:1:2::/64"},
		{"fe80::1%eth0", "lock:ip:fe80::/64"},
	} {
		if got := IPKey(netip.MustParseAddr(tc.in)); got != tc.want {
			t.Errorf("IPKey(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := IPKey(netip.Addr{}); got != "" {
		t.Errorf("IPKey(invalid) = %q, want empty", got)
	}

	// Addresses of one IPv6 /64 share a counter.
	l := newLimiter(t, newFake(), Policy{IPLimit: 2})
	mustFail(t, l, "a@example.com", netip.MustParseAddr("2001:db8::1"))
	if d := mustFail(t, l, "b@example.com", netip.MustParseAddr("2001:db8::2")); d.Scope != ScopeIP {
		t.Fatalf("second failure from the same /64: %+v", d)
	}
}

func TestInvalidAddressCountsIdentifierOnly(t *testing.T) {
	f := newFake()
	l := newLimiter(t, f, Policy{Attempts: 2, IPLimit: 1})
	mustFail(t, l, phone, netip.Addr{})
	if d := mustFail(t, l, phone, netip.Addr{}); d.Allowed || d.Scope != ScopeIdentifier {
		t.Fatalf("failures without an address: %+v", d)
	}
	if n := len(f.keys()); n != 1 {
		t.Fatalf("%d counters, want only the identifier's", n)
	}
}

func TestErrors(t *testing.T) {
	l := newLimiter(t, newFake(), DefaultPolicy())
	if _, err := l.Check(ctx, Subject{}, ipA); !errors.Is(err, ErrEmptySubject) {
		t.Errorf("Check(empty) = %v", err)
	}
	if _, _, err := l.Begin(ctx, l.Identifier(""), ipA); !errors.Is(err, ErrEmptySubject) {
		t.Errorf("Begin(empty) = %v", err)
	}

	boom := errors.New("connection refused")
	f := newFake()
	l = newLimiter(t, f, DefaultPolicy())
	a, _, err := l.Begin(ctx, subject(l, phone), ipA)
	if err != nil {
		t.Fatal(err)
	}
	f.fail = boom
	if d, err := l.Check(ctx, subject(l, phone), ipA); !errors.Is(err, boom) || d.Allowed {
		t.Errorf("Check on a failing store = %+v, %v; want not allowed and the store error", d, err)
	}
	if a, d, err := l.Begin(ctx, subject(l, phone), ipA); !errors.Is(err, boom) || d.Allowed || a != nil {
		t.Errorf("Begin on a failing store = %v %+v, %v", a, d, err)
	}
	if d, err := a.Fail(ctx); !errors.Is(err, boom) || d.Allowed {
		t.Errorf("Fail on a failing store = %+v, %v", d, err)
	}
	if err := a.Succeed(ctx); !errors.Is(err, boom) {
		t.Errorf("Succeed on a failing store = %v", err)
	}
}

// TestAccountCountsAcrossIdentifiers: failures through any identifier of an
// account count together (the caller names the account's subject for each),
// so a phone, an e-mail and a SNILS do not triple the guesses.
func TestAccountCountsAcrossIdentifiers(t *testing.T) {
	f := newFake()
	l := newLimiter(t, f, DefaultPolicy())
	acct := l.Account("acc-1")
	var d Decision
	for range 5 {
		a, _, err := l.Begin(ctx, acct, ipA)
		if err != nil || a == nil {
			t.Fatalf("Begin: %v", err)
		}
		if d, err = a.Fail(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if !d.Locked || d.Scope != ScopeIdentifier {
		t.Fatalf("fifth failure of the account: %+v", d)
	}
	if d, err := l.Check(ctx, l.Account("acc-1"), ipB); err != nil || d.Allowed {
		t.Fatalf("the locked account from another address: %+v %v", d, err)
	}
	if d, err := l.Check(ctx, l.Account("acc-2"), ipA); err != nil || !d.Allowed {
		t.Fatalf("another account: %+v %v", d, err)
	}
}

// TestAddressBurstInFlight: attempts in flight at once from one address
// are counted as they start, so however many start together, no more than
// the limit are checked; successes and abandoned attempts give their place
// back.
func TestAddressBurstInFlight(t *testing.T) {
	f := newFake()
	l := newLimiter(t, f, Policy{Attempts: 5, IPLimit: 10, IPWindow: 10 * time.Minute})
	var begun []*Attempt
	refused := 0
	for i := range 25 {
		a, d, err := l.Begin(ctx, l.Identifier(fmt.Sprintf("user%d@example.com", i)), ipA)
		if err != nil {
			t.Fatal(err)
		}
		if a == nil {
			if d.Scope != ScopeIP || d.Allowed {
				t.Fatalf("refused attempt %d: %+v", i, d)
			}
			refused++
			continue
		}
		begun = append(begun, a)
	}
	if len(begun) != 10 || refused != 15 {
		t.Fatalf("%d attempts begun and %d refused at once, want 10 and 15", len(begun), refused)
	}
	// Two succeed and one is abandoned: three places come back.
	for _, a := range begun[:2] {
		if err := a.Succeed(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := begun[2].Abandon(ctx); err != nil {
		t.Fatal(err)
	}
	if d := mustCheck(t, l, "fresh@example.com", ipA); !d.Allowed {
		t.Fatalf("after places came back: %+v", d)
	}
	// The other seven fail: with the three new failures below, the
	// address is blocked at ten.
	for _, a := range begun[3:] {
		if _, err := a.Fail(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var d Decision
	for i := range 3 {
		d = mustFail(t, l, fmt.Sprintf("late%d@example.com", i), ipA)
	}
	if d.Allowed || d.Scope != ScopeIP {
		t.Fatalf("tenth failure: %+v, want the address blocked", d)
	}
}

// TestSuccessDoesNotSlideAddressWindow: an address's failures lapse
// IPWindow after the last failure, whatever successes come after it.
func TestSuccessDoesNotSlideAddressWindow(t *testing.T) {
	f := newFake()
	l := newLimiter(t, f, Policy{Attempts: 5, IPLimit: 3, IPWindow: 10 * time.Minute})
	mustFail(t, l, "a@example.com", ipA)
	mustFail(t, l, "b@example.com", ipA)
	for range 9 {
		f.advance(time.Minute)
		mustSucceed(t, l, l.Identifier("c@example.com"), ipA)
	}
	f.advance(time.Minute)
	if d := mustCheck(t, l, "d@example.com", ipA); !d.Allowed {
		t.Fatalf("ten minutes after the last failure: %+v", d)
	}
	if c, _ := f.GetCounter(ctx, IPKey(ipA)); c.N != 0 {
		t.Errorf("the address's failures did not lapse: %+v", c)
	}
}

// UnlockAccount lifts both of an account's lockouts (password and second
// factors), and no other subject's.
func TestUnlockAccount(t *testing.T) {
	l := newLimiter(t, newFake(), Policy{Attempts: 2})
	fail := func(s Subject) {
		t.Helper()
		for range 2 {
			a, _, err := l.Begin(ctx, s, ipA)
			if err != nil || a == nil {
				t.Fatalf("Begin: %v", err)
			}
			if _, err := a.Fail(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	locked := func(s Subject) bool {
		t.Helper()
		d, err := l.CheckSubject(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		return d.Locked
	}
	subjects := []Subject{l.Account("acc-1"), l.Factor("acc-1"), l.Account("acc-2")}
	for _, s := range subjects {
		fail(s)
		if !locked(s) {
			t.Fatalf("%v not locked after its failures", s)
		}
	}
	if err := l.UnlockAccount(ctx, "acc-1"); err != nil {
		t.Fatal(err)
	}
	if locked(subjects[0]) || locked(subjects[1]) || !locked(subjects[2]) {
		t.Fatalf("after UnlockAccount(acc-1): password %v, factors %v, another account %v; want false, false, true",
			locked(subjects[0]), locked(subjects[1]), locked(subjects[2]))
	}
}
