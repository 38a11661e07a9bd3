package pow

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store/memory"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var key = bytes.Repeat([]byte{7}, 32)

func newPoW(t testing.TB, bits int) (*PoW, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	p, err := New(memory.New(c.Now), key, bits, 10*time.Minute, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	return p, c
}

func TestSolvedOnce(t *testing.T) {
	ctx := context.Background()
	p, _ := newPoW(t, 12)
	ch, err := p.Challenge()
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != ChallengeLen {
		t.Fatalf("challenge of %d characters, want %d", len(ch), ChallengeLen)
	}
	field := Solve(ch, 12)
	if err := p.Verify(ctx, field); err != nil {
		t.Fatalf("a solved challenge: %v", err)
	}
	if err := p.Verify(ctx, field); !errors.Is(err, ErrUsed) {
		t.Fatalf("the same field again: %v, want ErrUsed", err)
	}
	// Another nonce for the same challenge is the same challenge.
	c2, n, _ := strings.Cut(field, ":")
	for i := 1; ; i++ {
		other := strconv.Itoa(i) + n
		if LeadingZeros(c2, other) >= 12 {
			if err := p.Verify(ctx, c2+":"+other); !errors.Is(err, ErrUsed) {
				t.Fatalf("another nonce of a used challenge: %v, want ErrUsed", err)
			}
			break
		}
	}
}

func TestRefusals(t *testing.T) {
	ctx := context.Background()
	p, c := newPoW(t, 12)
	other, err := New(memory.New(nil), bytes.Repeat([]byte{8}, 32), 12, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := other.Challenge()
	if err := p.Verify(ctx, Solve(forged, 12)); !errors.Is(err, ErrForged) {
		t.Errorf("another key's challenge: %v, want ErrForged", err)
	}

	// An easier difficulty written into a challenge breaks its signature.
	ch, _ := p.Challenge()
	raw, _ := b64.DecodeString(ch)
	raw[1] = 1
	easy := b64.EncodeToString(raw)
	if err := p.Verify(ctx, Solve(easy, 1)); !errors.Is(err, ErrForged) {
		t.Errorf("a lowered difficulty: %v, want ErrForged", err)
	}

	// Too little work.
	ch, _ = p.Challenge()
	for i := 0; ; i++ {
		n := strconv.Itoa(i)
		if LeadingZeros(ch, n) < 12 {
			if err := p.Verify(ctx, ch+":"+n); !errors.Is(err, ErrWork) {
				t.Errorf("too little work: %v, want ErrWork", err)
			}
			break
		}
	}
	// The failed try did not use it up.
	if err := p.Verify(ctx, Solve(ch, 12)); err != nil {
		t.Errorf("solved after a wrong nonce: %v", err)
	}

	// Expired.
	ch, _ = p.Challenge()
	field := Solve(ch, 12)
	c.Add(10 * time.Minute)
	if err := p.Verify(ctx, field); !errors.Is(err, ErrExpired) {
		t.Errorf("after its lifetime: %v, want ErrExpired", err)
	}

	for _, s := range []string{"", ":", ch, ch + ":", ch + ":12 3", ch[1:] + ":1", "!" + ch[1:] + ":1", ch + ":" + strings.Repeat("1", MaxNonce+1)} {
		if err := p.Verify(ctx, s); !errors.Is(err, ErrMalformed) {
			t.Errorf("Verify(%q) = %v, want ErrMalformed", s, err)
		}
	}
}

// A raised difficulty holds for challenges issued before it.
func TestDifficultyRaised(t *testing.T) {
	p, _ := newPoW(t, 4)
	ch, _ := p.Challenge()
	harder := *p
	harder.bits = 16
	for i := 0; ; i++ {
		n := strconv.Itoa(i)
		if z := LeadingZeros(ch, n); z >= 4 && z < 16 {
			if err := harder.Verify(context.Background(), ch+":"+n); !errors.Is(err, ErrWork) {
				t.Fatalf("%v, want ErrWork", err)
			}
			return
		}
	}
}

func TestNew(t *testing.T) {
	for _, c := range []struct {
		key  []byte
		bits int
		ttl  time.Duration
	}{{key[:31], 10, time.Minute}, {key, 0, time.Minute}, {key, 33, time.Minute}, {key, 10, 0}} {
		if _, err := New(memory.New(nil), c.key, c.bits, c.ttl, nil); err == nil {
			t.Errorf("New(%d-byte key, %d bits, %v) took it", len(c.key), c.bits, c.ttl)
		}
	}
}

// FuzzParseField: whatever is posted, ParseField and Verify do not panic;
// a field ParseField takes is the challenge and nonce it returns, joined,
// within the bounds; and Verify accepts only a solved challenge signed
// under its key.
func FuzzParseField(f *testing.F) {
	p, _ := newPoW(f, 1)
	ch, _ := p.Challenge()
	for _, s := range []string{"", ":", "a:b", ch + ":0", ch + ":" + strings.Repeat("9", MaxNonce), Solve(ch, 1), ch + ":\x00", "\xff:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, n, err := ParseField(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || c != "" || n != "" {
				t.Fatalf("ParseField(%q) = %q, %q, %v", s, c, n, err)
			}
		} else if c+":"+n != s || len(c) != ChallengeLen || len(n) == 0 || len(n) > MaxNonce {
			t.Fatalf("ParseField(%q) = %q, %q", s, c, n)
		}
		if err := p.Verify(context.Background(), s); err == nil {
			raw, derr := b64.DecodeString(c)
			if derr != nil || len(raw) != bodyBytes+macBytes || !bytes.Equal(raw[bodyBytes:], p.mac(raw[:bodyBytes])) || LeadingZeros(c, n) < p.bits {
				t.Fatalf("Verify(%q) accepted a challenge not signed here or not solved", s)
			}
		}
	})
}
