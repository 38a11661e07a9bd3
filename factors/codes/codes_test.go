package codes_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/esia-oidc/idp/factors/codes"
	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/memory"
	"github.com/esia-oidc/idp/store/redis"
	"github.com/esia-oidc/idp/store/redis/redistest"
)

var (
	key = []byte("codes key for the tests: 32 byte")
	ipA = netip.MustParseAddr("203.0.113.7")
	ipB = netip.MustParseAddr("198.51.100.20")
)

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

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

// recorder remembers every key and value written through it.
type recorder struct {
	codes.Store
	mu     sync.Mutex
	keys   []string
	values [][]byte
}

func (r *recorder) note(key string, value []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = append(r.keys, key)
	r.values = append(r.values, value)
}

func (r *recorder) PutEntry(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	r.note(key, value)
	return r.Store.PutEntry(ctx, key, value, ttl)
}

func (r *recorder) CreateEntry(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	r.note(key, value)
	return r.Store.CreateEntry(ctx, key, value, ttl)
}

func (r *recorder) Incr(ctx context.Context, key string, ttl time.Duration) (store.Counter, error) {
	r.note(key, nil)
	return r.Store.Incr(ctx, key, ttl)
}

// eachBackend runs fn on the in-memory store and on Redis.
func eachBackend(t *testing.T, fn func(t *testing.T, st codes.Store, clock *clock)) {
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		clock := newClock()
		fn(t, memory.New(clock.Now), clock)
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		clock := newClock()
		url, prefix := redistest.NewPrefix(t)
		st, err := redis.Open(t.Context(), url, prefix, clock.Now)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		fn(t, st, clock)
	})
}

func newCodes(t *testing.T, st codes.Store, clock *clock, p codes.Policy) *codes.Codes {
	t.Helper()
	c, err := codes.New(st, p, key, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIssueAndCheck(t *testing.T) {
	eachBackend(t, func(t *testing.T, st codes.Store, clock *clock) {
		ctx := t.Context()
		c := newCodes(t, st, clock, codes.Policy{})
		code, err := c.Issue(ctx, codes.PurposeRegister, "reg-1", "+79001234567", ipA)
		if err != nil {
			t.Fatal(err)
		}
		if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
			t.Fatalf("code %q: want six digits", code)
		}
		// Another binding's or purpose's check does not take it.
		if err := c.Check(ctx, codes.PurposeRegister, "reg-2", code); !errors.Is(err, codes.ErrExpired) {
			t.Fatalf("other binding: %v, want ErrExpired", err)
		}
		if err := c.Check(ctx, codes.Purpose("other"), "reg-1", code); !errors.Is(err, codes.ErrExpired) {
			t.Fatalf("other purpose: %v, want ErrExpired", err)
		}
		if err := c.Check(ctx, codes.PurposeRegister, "reg-1", code); err != nil {
			t.Fatalf("right code: %v", err)
		}
		// Good once.
		if err := c.Check(ctx, codes.PurposeRegister, "reg-1", code); !errors.Is(err, codes.ErrExpired) {
			t.Fatalf("second use: %v, want ErrExpired", err)
		}
	})
}

func TestCodeExpires(t *testing.T) {
	eachBackend(t, func(t *testing.T, st codes.Store, clock *clock) {
		ctx := t.Context()
		c := newCodes(t, st, clock, codes.Policy{})
		code, err := c.Issue(ctx, codes.PurposeRegister, "reg", "a@example.ru", ipA)
		if err != nil {
			t.Fatal(err)
		}
		clock.Advance(300*time.Second + time.Millisecond)
		if err := c.Check(ctx, codes.PurposeRegister, "reg", code); !errors.Is(err, codes.ErrExpired) {
			t.Fatalf("after 300 s: %v, want ErrExpired", err)
		}
	})
}

// wrongCode returns a six-digit code other than code.
func wrongCode(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

func TestAttemptLimit(t *testing.T) {
	eachBackend(t, func(t *testing.T, st codes.Store, clock *clock) {
		ctx := t.Context()
		c := newCodes(t, st, clock, codes.Policy{})
		code, err := c.Issue(ctx, codes.PurposeRegister, "reg", "+79001234567", ipA)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 4; i++ {
			err := c.Check(ctx, codes.PurposeRegister, "reg", wrongCode(code))
			var we *codes.WrongError
			if !errors.As(err, &we) || !errors.Is(err, codes.ErrWrong) || we.Left != 5-i {
				t.Fatalf("wrong try %d: %v, want %d left", i, err, 5-i)
			}
		}
		if err := c.Check(ctx, codes.PurposeRegister, "reg", wrongCode(code)); !errors.Is(err, codes.ErrExpired) {
			t.Fatalf("fifth wrong try: %v, want ErrExpired", err)
		}
		// The right code is void now.
		if err := c.Check(ctx, codes.PurposeRegister, "reg", code); !errors.Is(err, codes.ErrExpired) {
			t.Fatalf("right code after the limit: %v, want ErrExpired", err)
		}
	})
}

// TestParallelGuessesStopAtTheLimit: a burst of guesses sent together is
// compared at most Attempts times, so the right code is among at most five
// tries whatever the burst.
func TestParallelGuessesStopAtTheLimit(t *testing.T) {
	eachBackend(t, func(t *testing.T, st codes.Store, clock *clock) {
		ctx := t.Context()
		c := newCodes(t, st, clock, codes.Policy{})
		code, err := c.Issue(ctx, codes.PurposeRegister, "reg", "+79001234567", ipA)
		if err != nil {
			t.Fatal(err)
		}
		var wrong, ok, expired atomic.Int32
		var wg sync.WaitGroup
		for i := range 50 {
			guess := fmt.Sprintf("%06d", i)
			if guess == code {
				guess = "999999"
				if code == guess {
					guess = "999998"
				}
			}
			wg.Go(func() {
				switch err := c.Check(ctx, codes.PurposeRegister, "reg", guess); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, codes.ErrWrong):
					wrong.Add(1)
				case errors.Is(err, codes.ErrExpired):
					expired.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 0 || wrong.Load() != 4 || expired.Load() != 46 {
			t.Fatalf("ok %d, wrong %d, expired %d; want 0, 4, 46", ok.Load(), wrong.Load(), expired.Load())
		}
		if err := c.Check(ctx, codes.PurposeRegister, "reg", code); !errors.Is(err, codes.ErrExpired) {
			t.Fatalf("right code after the burst: %v, want ErrExpired", err)
		}
	})
}

func TestResendAfter(t *testing.T) {
	eachBackend(t, func(t *testing.T, st codes.Store, clock *clock) {
		ctx := t.Context()
		c := newCodes(t, st, clock, codes.Policy{})
		first, err := c.Issue(ctx, codes.PurposeRegister, "reg", "+79001234567", ipA)
		if err != nil {
			t.Fatal(err)
		}
		start := clock.Now()
		clock.Advance(59 * time.Second)
		_, err = c.Issue(ctx, codes.PurposeRegister, "reg", "+79001234567", ipA)
		var le *codes.LimitError
		if !errors.As(err, &le) || le.Reason != "resend" || !le.RetryAt.Equal(start.Add(60*time.Second)) {
			t.Fatalf("resend at 59 s: %v, want a resend limit until %v", err, start.Add(60*time.Second))
		}
		if got := c.NextSend(ctx, codes.PurposeRegister, "reg"); !got.Equal(start.Add(60 * time.Second)) {
			t.Fatalf("NextSend = %v, want %v", got, start.Add(60*time.Second))
		}
		clock.Advance(time.Second)
		if got := c.NextSend(ctx, codes.PurposeRegister, "reg"); !got.IsZero() {
			t.Fatalf("NextSend at 60 s = %v, want zero", got)
		}
		second, err := c.Issue(ctx, codes.PurposeRegister, "reg", "+79001234567", ipA)
		if err != nil {
			t.Fatalf("resend at 60 s: %v", err)
		}
		// The new code replaces the old one.
		if first != second {
			if err := c.Check(ctx, codes.PurposeRegister, "reg", first); !errors.Is(err, codes.ErrWrong) {
				t.Fatalf("replaced code: %v, want ErrWrong", err)
			}
		}
		if err := c.Check(ctx, codes.PurposeRegister, "reg", second); err != nil {
			t.Fatalf("new code: %v", err)
		}
	})
}

func TestSendLimits(t *testing.T) {
	eachBackend(t, func(t *testing.T, st codes.Store, clock *clock) {
		ctx := t.Context()
		c := newCodes(t, st, clock, codes.Policy{SendsPerIP: 7})
		// Five sends to one phone in an hour, each for a new registration.
		for i := range 5 {
			if _, err := c.Issue(ctx, codes.PurposeRegister, fmt.Sprint("reg-", i), "+79001234567", ipA); err != nil {
				t.Fatalf("send %d: %v", i+1, err)
			}
			clock.Advance(time.Minute)
		}
		_, err := c.Issue(ctx, codes.PurposeRegister, "reg-5", "+79001234567", ipB)
		var le *codes.LimitError
		if !errors.As(err, &le) || le.Reason != "recipient" {
			t.Fatalf("sixth send to one phone: %v, want the recipient limit", err)
		}
		// A refused send counts towards no limit: the address has two left.
		for i := range 2 {
			if _, err := c.Issue(ctx, codes.PurposeRegister, fmt.Sprint("other-", i), fmt.Sprint("+7900765432", i), ipA); err != nil {
				t.Fatalf("send %d from the address: %v", 6+i, err)
			}
		}
		_, err = c.Issue(ctx, codes.PurposeRegister, "other-x", "+79007654329", ipA)
		if !errors.As(err, &le) || le.Reason != "ip" {
			t.Fatalf("eighth send from one address: %v, want the address limit", err)
		}
		// After the window, the phone may get codes again.
		clock.Advance(time.Hour)
		if _, err := c.Issue(ctx, codes.PurposeRegister, "reg-6", "+79001234567", ipB); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
}

// TestParallelSendsHoldTheLimit: sends racing for one recipient never pass
// the limit together.
func TestParallelSendsHoldTheLimit(t *testing.T) {
	eachBackend(t, func(t *testing.T, st codes.Store, clock *clock) {
		ctx := t.Context()
		c := newCodes(t, st, clock, codes.Policy{})
		var sent atomic.Int32
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				_, err := c.Issue(ctx, codes.PurposeRegister, fmt.Sprint("reg-", i), "+79001234567", netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}))
				var le *codes.LimitError
				switch {
				case err == nil:
					sent.Add(1)
				case errors.As(err, &le):
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if sent.Load() != 5 {
			t.Fatalf("%d sends passed, want 5", sent.Load())
		}
	})
}

// TestKeysHideRecipients: nothing the codes write names a phone, a binding
// or holds a code in the clear.
func TestKeysHideRecipients(t *testing.T) {
	clock := newClock()
	st := &recorder{Store: memory.New(clock.Now)}
	c := newCodes(t, st, clock, codes.Policy{})
	code, err := c.Issue(context.Background(), codes.PurposeRegister, "binding-secret", "+79001234567", ipA)
	if err != nil {
		t.Fatal(err)
	}
	keys, values := st.keys, st.values
	if len(keys) < 4 {
		t.Fatal("nothing stored")
	}
	for _, k := range keys {
		for _, secret := range []string{"79001234567", "binding-secret", code} {
			if strings.Contains(k, secret) {
				t.Errorf("store key %q holds %q", k, secret)
			}
		}
	}
	for _, v := range values {
		if strings.Contains(string(v), code) {
			t.Errorf("stored value %q holds the code", v)
		}
	}
}

func TestShortKeyRefused(t *testing.T) {
	if _, err := codes.New(memory.New(nil), codes.Policy{}, key[:31], nil); err == nil {
		t.Fatal("a 31-byte key was accepted")
	}
}

func TestParseCode(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"123456", "123456", true},
		{" 123 456 ", "123456", true},
		{"123-456", "123456", true},
		{"12345", "", false},
		{"1234567", "", false},
		{"12345a", "", false},
		{"１２３４５６", "", false},
		{"", "", false},
	} {
		got, err := codes.ParseCode(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseCode(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseCode(f *testing.F) {
	for _, s := range []string{"123456", "123 456", "12-34-56", "", "1234567", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := codes.ParseCode(s)
		if err != nil {
			return
		}
		if len(got) != 6 {
			t.Fatalf("ParseCode(%q) = %q: not six digits", s, got)
		}
		for _, c := range got {
			if c < '0' || c > '9' {
				t.Fatalf("ParseCode(%q) = %q: not digits", s, got)
			}
		}
		if again, err := codes.ParseCode(got); err != nil || again != got {
			t.Fatalf("ParseCode is not idempotent on %q: %q, %v", got, again, err)
		}
	})
}
