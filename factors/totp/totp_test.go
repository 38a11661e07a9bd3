package totp_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/esia-oidc/idp/factors/totp"
	"github.com/esia-oidc/idp/idp/seal"
	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/memory"
	"github.com/esia-oidc/idp/store/redis"
	"github.com/esia-oidc/idp/store/redis/redistest"
)

const issuer = "Госуслуги"

var master = []byte("totp master secret for the tests, 32+ bytes")

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

// newClock starts at the beginning of a step, plus a few seconds.
func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newSealer(t *testing.T) *seal.Sealer {
	t.Helper()
	s, err := seal.New(master)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// replicas returns n stores that share one state, as n replicas share the
// ephemeral store.
type replicas func(t *testing.T, n int) []store.Entries

// eachBackend runs fn on the in-memory store and on Redis.
func eachBackend(t *testing.T, fn func(t *testing.T, open replicas, clock *clock)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		clock := newClock()
		st := memory.New(clock.Now)
		fn(t, func(t *testing.T, n int) []store.Entries {
			out := make([]store.Entries, n)
			for i := range out {
				out[i] = st
			}
			return out
		}, clock)
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		clock := newClock()
		url, prefix := redistest.NewPrefix(t)
		fn(t, func(t *testing.T, n int) []store.Entries {
			// Each replica its own connection, on one prefix.
			out := make([]store.Entries, n)
			for i := range out {
				st, err := redis.Open(t.Context(), url, prefix, clock.Now)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(st.Close)
				out[i] = st
			}
			return out
		}, clock)
	})
}

func newTOTP(t *testing.T, open replicas, clock *clock) *totp.TOTP {
	t.Helper()
	return totp.New(open(t, 1)[0], newSealer(t), issuer, clock.Now)
}

func enrol(t *testing.T, tp *totp.TOTP, accountID string) *totp.Enrolment {
	t.Helper()
	e, err := tp.Generate(accountID, "+7 900 ***-**-67")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.Code(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGenerate(t *testing.T) {
	clock := newClock()
	sealer := newSealer(t)
	tp := totp.New(memory.New(clock.Now), sealer, issuer, clock.Now)
	e, err := tp.Generate("acc-1", "user@example.ru")
	if err != nil {
		t.Fatal(err)
	}

	// The secret: 160 bits in base32 without padding.
	if len(e.Secret) != 32 || strings.ContainsAny(e.Secret, "=") {
		t.Fatalf("secret %q: want 32 base32 characters, no padding", e.Secret)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret)
	if err != nil || len(raw) != 20 {
		t.Fatalf("secret decodes to %d bytes (%v), want 20", len(raw), err)
	}

	// The URI: what Google Authenticator's key URI format asks.
	u, err := url.Parse(e.URI)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/"+issuer+":user@example.ru" {
		t.Fatalf("URI %q: want otpauth://totp/%s:user@example.ru", e.URI, issuer)
	}
	q := u.Query()
	for k, want := range map[string]string{
		"secret": e.Secret, "issuer": issuer, "algorithm": "SHA1", "digits": "6", "period": "30",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("URI %s=%q, want %q", k, got, want)
		}
	}
	key, err := otp.NewKeyFromURL(e.URI)
	if err != nil {
		t.Fatal(err)
	}
	if key.Secret() != e.Secret || key.Issuer() != issuer || key.AccountName() != "user@example.ru" ||
		key.Period() != 30 || key.Digits() != otp.DigitsSix || key.Algorithm() != otp.AlgorithmSHA1 {
		t.Fatalf("pquerna reads the URI as %v", key)
	}

	// Sealed: the raw secret, for this account and purpose only.
	opened, err := sealer.Open(totp.Purpose, e.Sealed, []byte("acc-1"))
	if err != nil || !bytes.Equal(opened, raw) {
		t.Fatalf("sealed secret opens to %x (%v), want %x", opened, err, raw)
	}
	if bytes.Contains(e.Sealed, raw) {
		t.Fatal("the sealed value holds the secret in the clear")
	}
	if _, err := sealer.Open(totp.Purpose, e.Sealed, []byte("acc-2")); !errors.Is(err, seal.ErrOpen) {
		t.Fatalf("opened for another account: %v", err)
	}

	// Every enrolment is new.
	e2, err := tp.Generate("acc-1", "user@example.ru")
	if err != nil {
		t.Fatal(err)
	}
	if e2.Secret == e.Secret {
		t.Fatal("two enrolments share a secret")
	}
}

func TestGenerateRefuses(t *testing.T) {
	clock := newClock()
	for _, tc := range []struct {
		name, issuer, account, label string
	}{
		{"empty account", issuer, "", "label"},
		{"empty label", issuer, "acc", ""},
		{"blank label", issuer, "acc", "  "},
		{"colon in label", issuer, "acc", "a:b"},
		{"empty issuer", "", "acc", "label"},
		{"colon in issuer", "Gos:uslugi", "acc", "label"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := totp.New(memory.New(clock.Now), newSealer(t), tc.issuer, clock.Now)
			if e, err := tp.Generate(tc.account, tc.label); err == nil {
				t.Fatalf("Generate(%q, %q) with issuer %q = %v, want an error", tc.account, tc.label, tc.issuer, e.URI)
			}
		})
	}
}

// TestVerifyWindow: the current step and one either side are accepted,
// two steps off are not.
func TestVerifyWindow(t *testing.T) {
	eachBackend(t, func(t *testing.T, open replicas, clock *clock) {
		tp := newTOTP(t, open, clock)
		for _, tc := range []struct {
			steps int
			want  error
		}{
			{-3, totp.ErrWrong},
			{-2, totp.ErrWrong},
			{-1, nil},
			{0, nil},
			{1, nil},
			{2, totp.ErrWrong},
			{3, totp.ErrWrong},
		} {
			// A fresh secret each, so no replay mark interferes.
			acc := "acc-window"
			e := enrol(t, tp, acc)
			c := code(t, e.Secret, clock.Now().Add(time.Duration(tc.steps)*totp.Period))
			if err := tp.Verify(t.Context(), acc, e.Sealed, c); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("code %+d steps: %v, want %v", tc.steps, err, tc.want)
			}
		}
	})
}

// TestVerifyStepEdges: the window is counted in steps, not seconds: at the
// last second of a step the code two steps back is refused, at its first
// second the code of the step before is accepted.
func TestVerifyStepEdges(t *testing.T) {
	eachBackend(t, func(t *testing.T, open replicas, clock *clock) {
		tp := newTOTP(t, open, clock)
		start := clock.Now().Truncate(totp.Period)
		clock.Advance(start.Add(totp.Period - time.Second).Sub(clock.Now())) // the last second of step n
		e := enrol(t, tp, "acc")
		if err := tp.Verify(t.Context(), "acc", e.Sealed, code(t, e.Secret, start.Add(-2*totp.Period))); !errors.Is(err, totp.ErrWrong) {
			t.Fatalf("step n-2 at the end of step n: %v, want ErrWrong", err)
		}
		if err := tp.Verify(t.Context(), "acc", e.Sealed, code(t, e.Secret, start.Add(-totp.Period))); err != nil {
			t.Fatalf("step n-1 at the end of step n: %v", err)
		}
		clock.Advance(time.Second) // the first second of step n+1
		if err := tp.Verify(t.Context(), "acc", e.Sealed, code(t, e.Secret, start)); err != nil {
			t.Fatalf("step n at the start of step n+1: %v", err)
		}
		if err := tp.Verify(t.Context(), "acc", e.Sealed, code(t, e.Secret, start.Add(-totp.Period))); !errors.Is(err, totp.ErrWrong) {
			t.Fatalf("step n-1 at the start of step n+1: %v, want ErrWrong", err)
		}
	})
}

// TestReplay: a used code is refused for as long as it could be accepted,
// even once the clock has moved so that it matches as another step.
func TestReplay(t *testing.T) {
	eachBackend(t, func(t *testing.T, open replicas, clock *clock) {
		ctx := t.Context()
		tp := newTOTP(t, open, clock)
		e := enrol(t, tp, "acc")
		c := code(t, e.Secret, clock.Now())
		if err := tp.Verify(ctx, "acc", e.Sealed, c); err != nil {
			t.Fatal(err)
		}
		if err := tp.Verify(ctx, "acc", e.Sealed, c); !errors.Is(err, totp.ErrReplayed) {
			t.Fatalf("replay: %v, want ErrReplayed", err)
		}
		// Typed differently, it is the same code.
		if err := tp.Verify(ctx, "acc", e.Sealed, c[:3]+" "+c[3:]); !errors.Is(err, totp.ErrReplayed) {
			t.Fatalf("replay spaced: %v, want ErrReplayed", err)
		}
		// A step later it is the previous step's code: still used.
		clock.Advance(totp.Period)
		if err := tp.Verify(ctx, "acc", e.Sealed, c); !errors.Is(err, totp.ErrReplayed) {
			t.Fatalf("replay a step later: %v, want ErrReplayed", err)
		}
		// The current code is another code, good once.
		if err := tp.Verify(ctx, "acc", e.Sealed, code(t, e.Secret, clock.Now())); err != nil {
			t.Fatalf("next step's code: %v", err)
		}
		// Two steps later the old code is out of the window: wrong, not replayed.
		clock.Advance(totp.Period)
		if err := tp.Verify(ctx, "acc", e.Sealed, c); !errors.Is(err, totp.ErrWrong) {
			t.Fatalf("old code out of the window: %v, want ErrWrong", err)
		}
	})
}

// TestReplayAhead: a code of the next step, used early, is refused when its
// step comes and at the step after.
func TestReplayAhead(t *testing.T) {
	eachBackend(t, func(t *testing.T, open replicas, clock *clock) {
		ctx := t.Context()
		tp := newTOTP(t, open, clock)
		e := enrol(t, tp, "acc")
		c := code(t, e.Secret, clock.Now().Add(totp.Period))
		if err := tp.Verify(ctx, "acc", e.Sealed, c); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 2; i++ {
			clock.Advance(totp.Period)
			if err := tp.Verify(ctx, "acc", e.Sealed, c); !errors.Is(err, totp.ErrReplayed) {
				t.Fatalf("%d step(s) later: %v, want ErrReplayed", i, err)
			}
		}
	})
}

// TestReplayAcrossReplicas: a code used on one replica is refused on
// another that shares the store; of parallel tries of one code exactly one
// is accepted.
func TestReplayAcrossReplicas(t *testing.T) {
	eachBackend(t, func(t *testing.T, open replicas, clock *clock) {
		ctx := t.Context()
		sts := open(t, 2)
		a := totp.New(sts[0], newSealer(t), issuer, clock.Now)
		b := totp.New(sts[1], newSealer(t), issuer, clock.Now)
		e := enrol(t, a, "acc")
		c := code(t, e.Secret, clock.Now())
		if err := a.Verify(ctx, "acc", e.Sealed, c); err != nil {
			t.Fatal(err)
		}
		if err := b.Verify(ctx, "acc", e.Sealed, c); !errors.Is(err, totp.ErrReplayed) {
			t.Fatalf("replay on the other replica: %v, want ErrReplayed", err)
		}

		clock.Advance(totp.Period)
		c = code(t, e.Secret, clock.Now())
		const tries = 16
		errs := make(chan error, tries)
		var wg sync.WaitGroup
		for i := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := a
				if i%2 == 1 {
					r = b
				}
				errs <- r.Verify(ctx, "acc", e.Sealed, c)
			}()
		}
		wg.Wait()
		close(errs)
		var ok, replayed int
		for err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, totp.ErrReplayed):
				replayed++
			default:
				t.Errorf("parallel try: %v", err)
			}
		}
		if ok != 1 || replayed != tries-1 {
			t.Fatalf("parallel tries: %d accepted, %d replayed; want 1 and %d", ok, replayed, tries-1)
		}
	})
}

// TestReplayPerAccountAndSecret: marks belong to one account's secret: the
// same step is free for another account, and for the same account's new
// secret (a citizen who logs in and at once enrols a new app).
func TestReplayPerAccountAndSecret(t *testing.T) {
	eachBackend(t, func(t *testing.T, open replicas, clock *clock) {
		ctx := t.Context()
		tp := newTOTP(t, open, clock)
		e1 := enrol(t, tp, "acc-1")
		if err := tp.Verify(ctx, "acc-1", e1.Sealed, code(t, e1.Secret, clock.Now())); err != nil {
			t.Fatal(err)
		}
		e2 := enrol(t, tp, "acc-2")
		if err := tp.Verify(ctx, "acc-2", e2.Sealed, code(t, e2.Secret, clock.Now())); err != nil {
			t.Fatalf("another account, same step: %v", err)
		}
		e3 := enrol(t, tp, "acc-1")
		if err := tp.Verify(ctx, "acc-1", e3.Sealed, code(t, e3.Secret, clock.Now())); err != nil {
			t.Fatalf("same account, new secret, same step: %v", err)
		}
	})
}

// TestReplayOtherStepSameDigits: a secret whose codes for two neighbouring
// steps are the same digits: once used, the digits are refused at every
// step they match while marked.
func TestReplayOtherStepSameDigits(t *testing.T) {
	clock := newClock()
	sealer := newSealer(t)
	tp := totp.New(memory.New(clock.Now), sealer, issuer, clock.Now)
	// RFC 6238's secret has the same code, 768734, at step n = 61331809
	// (Unix time 1839954270) and at step n+2 (found by a search once: a
	// one-in-a-million event).
	secret := []byte("12345678901234567890")
	b32 := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	at := time.Unix(61331809*30, 0)
	if c0, c2 := code(t, b32, at), code(t, b32, at.Add(2*totp.Period)); c0 != "768734" || c2 != c0 {
		t.Fatalf("codes of steps n and n+2: %s, %s; want 768734 twice", c0, c2)
	}
	sealed, err := sealer.Seal(totp.Purpose, secret, []byte("acc"))
	if err != nil {
		t.Fatal(err)
	}
	c := code(t, b32, at)
	// Used at step n; at n+1 it is the code of n (marked) and of n+2; at
	// n+2 it is only the code of n+2, whose step was never used: the mark
	// of the digits refuses it.
	clock.Advance(at.Sub(clock.Now()))
	if err := tp.Verify(t.Context(), "acc", sealed, c); err != nil {
		t.Fatal(err)
	}
	clock.Advance(totp.Period)
	if err := tp.Verify(t.Context(), "acc", sealed, c); !errors.Is(err, totp.ErrReplayed) {
		t.Fatalf("step n+1: %v, want ErrReplayed", err)
	}
	clock.Advance(totp.Period)
	if err := tp.Verify(t.Context(), "acc", sealed, c); !errors.Is(err, totp.ErrReplayed) {
		t.Fatalf("the same digits as another step: %v, want ErrReplayed", err)
	}
}

// TestVerifySecret: a sealed secret opens only for its account, purpose and
// master; a right code of another secret is wrong.
func TestVerifySecret(t *testing.T) {
	clock := newClock()
	sealer := newSealer(t)
	tp := totp.New(memory.New(clock.Now), sealer, issuer, clock.Now)
	e := enrol(t, tp, "acc-1")
	c := code(t, e.Secret, clock.Now())

	raw, err := sealer.Open(totp.Purpose, e.Sealed, []byte("acc-1"))
	if err != nil {
		t.Fatal(err)
	}
	otherPurpose, err := sealer.Seal("signing-key", raw, []byte("acc-1"))
	if err != nil {
		t.Fatal(err)
	}
	otherSealer, err := seal.New([]byte("another master secret of 32+ bytes......"))
	if err != nil {
		t.Fatal(err)
	}
	otherMaster, err := otherSealer.Seal(totp.Purpose, raw, []byte("acc-1"))
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(e.Sealed)
	tampered[len(tampered)-1] ^= 1
	empty, err := sealer.Seal(totp.Purpose, nil, []byte("acc-1"))
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		account string
		sealed  []byte
	}{
		{"another account", "acc-2", e.Sealed},
		{"another purpose", "acc-1", otherPurpose},
		{"another master", "acc-1", otherMaster},
		{"tampered", "acc-1", tampered},
		{"empty secret", "acc-1", empty},
		{"nothing", "acc-1", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tp.Verify(t.Context(), tc.account, tc.sealed, c)
			if !errors.Is(err, totp.ErrSecret) {
				t.Fatalf("%v, want ErrSecret", err)
			}
			if errors.Is(err, totp.ErrWrong) || errors.Is(err, totp.ErrReplayed) {
				t.Fatalf("%v is also a wrong or replayed code", err)
			}
		})
	}

	other := enrol(t, tp, "acc-1")
	if err := tp.Verify(t.Context(), "acc-1", other.Sealed, c); !errors.Is(err, totp.ErrWrong) {
		t.Fatalf("another secret's code: %v, want ErrWrong", err)
	}
	// The refusals marked nothing: the right code still works.
	if err := tp.Verify(t.Context(), "acc-1", e.Sealed, c); err != nil {
		t.Fatalf("right code after refusals: %v", err)
	}
}

// TestRFC6238 checks codes against the SHA-1 test vectors of RFC 6238
// Appendix B (secret "12345678901234567890"): pquerna's 8-digit codes are
// the RFC's, the 6-digit codes their last six digits, and Verify takes them
// at those times.
func TestRFC6238(t *testing.T) {
	secret := []byte("12345678901234567890")
	b32 := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	sealer := newSealer(t)
	sealed, err := sealer.Seal(totp.Purpose, secret, []byte("acc"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct {
		unix int64
		code string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		at := time.Unix(v.unix, 0)
		eight, err := pqtotp.GenerateCodeCustom(b32, at, pqtotp.ValidateOpts{
			Period: 30, Digits: otp.DigitsEight, Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil || eight != v.code {
			t.Errorf("T=%d: 8 digits %q (%v), want %q", v.unix, eight, err, v.code)
		}
		six := v.code[2:]
		if got := code(t, b32, at); got != six {
			t.Errorf("T=%d: Code %q, want %q", v.unix, got, six)
		}
		tp := totp.New(memory.New(func() time.Time { return at }), sealer, issuer, func() time.Time { return at })
		if err := tp.Verify(t.Context(), "acc", sealed, six); err != nil {
			t.Errorf("T=%d: Verify(%s): %v", v.unix, six, err)
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	clock := newClock()
	tp := totp.New(memory.New(clock.Now), newSealer(t), issuer, clock.Now)
	e := enrol(t, tp, "acc")
	for _, in := range []string{"", "12345", "1234567", "12345a", "１２３４５６", "123456\n"} {
		if err := tp.Verify(t.Context(), "acc", e.Sealed, in); !errors.Is(err, totp.ErrMalformed) {
			t.Errorf("Verify(%q): %v, want ErrMalformed", in, err)
		}
	}
	// Malformed input is refused before the secret is opened.
	if err := tp.Verify(t.Context(), "acc", nil, "12"); !errors.Is(err, totp.ErrMalformed) {
		t.Errorf("malformed with no secret: %v, want ErrMalformed", err)
	}
}

// recorder remembers the keys written through it.
type recorder struct {
	store.Entries
	mu   sync.Mutex
	keys []string
}

func (r *recorder) CreateEntry(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	r.mu.Lock()
	r.keys = append(r.keys, key)
	r.mu.Unlock()
	return r.Entries.CreateEntry(ctx, key, value, ttl)
}

// TestStoreKeys: the marks name neither the code nor the secret, and last
// no longer than the window and a period of drift.
func TestStoreKeys(t *testing.T) {
	clock := newClock()
	mem := memory.New(clock.Now)
	rec := &recorder{Entries: mem}
	tp := totp.New(rec, newSealer(t), issuer, clock.Now)
	e := enrol(t, tp, "acc")
	c := code(t, e.Secret, clock.Now())
	if err := tp.Verify(t.Context(), "acc", e.Sealed, c); err != nil {
		t.Fatal(err)
	}
	if len(rec.keys) < 2 {
		t.Fatalf("marks %q: want a code mark and a step mark", rec.keys)
	}
	for _, k := range rec.keys {
		if strings.Contains(k, c) || strings.Contains(strings.ToUpper(k), e.Secret[:8]) {
			t.Errorf("store key %q holds the code or the secret", k)
		}
		if !strings.HasPrefix(k, "totp-used") || !strings.Contains(k, ":acc:") {
			t.Errorf("store key %q: want totp-used…:acc:…", k)
		}
	}
	clock.Advance(4 * totp.Period)
	for _, k := range rec.keys {
		if _, err := mem.GetEntry(t.Context(), k); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("mark %q still there four periods later: %v", k, err)
		}
	}
}

// failing is a store that is down.
type failing struct{ store.Entries }

func (failing) CreateEntry(context.Context, string, []byte, time.Duration) error {
	return store.ErrUnavailable
}

// TestStoreDown: a right code is not accepted when it cannot be marked.
func TestStoreDown(t *testing.T) {
	clock := newClock()
	tp := totp.New(failing{}, newSealer(t), issuer, clock.Now)
	e := enrol(t, tp, "acc")
	err := tp.Verify(t.Context(), "acc", e.Sealed, code(t, e.Secret, clock.Now()))
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("%v, want ErrUnavailable", err)
	}
}

func TestParseCode(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"123456", "123456"},
		{"000000", "000000"},
		{" 123 456 ", "123456"},
		{"123-456", "123456"},
		{"1 2-3\t4 5 6", "123456"},
		{"", ""},
		{"12345", ""},
		{"1234567", ""},
		{"12345a", ""},
		{"１２３４５６", ""}, // full-width digits are not taken
		{"١٢٣٤٥٦", ""}, // nor Arabic-Indic ones
		{"123456\n", ""},
		{"+123456", ""},
		{"123.456", ""},
		{strings.Repeat(" ", 60) + "123456", ""},
	} {
		got, err := totp.ParseCode(tc.in)
		if tc.want == "" {
			if !errors.Is(err, totp.ErrMalformed) {
				t.Errorf("ParseCode(%q) = %q, %v; want ErrMalformed", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseCode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
