package captcha_test

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/esia-oidc/idp/factors/captcha"
	"github.com/esia-oidc/idp/store/memory"
	"github.com/esia-oidc/idp/store/storetest"
)

var key = bytes.Repeat([]byte{7}, 32)

func newCaptcha(t *testing.T) (*captcha.Captcha, *storetest.Clock) {
	t.Helper()
	clk := storetest.NewClock()
	c, err := captcha.New(memory.New(clk.Now), key, 5*time.Minute, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return c, clk
}

func TestIssueMakesAnImageAndAnOpaqueToken(t *testing.T) {
	c, _ := newCaptcha(t)
	ch, err := c.IssueDigits([]byte{1, 2, 3, 4, 5, 6})
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(ch.PNG))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != captcha.Width || b.Dy() != captcha.Height {
		t.Errorf("image %v, want %dx%d", b, captcha.Width, captcha.Height)
	}
	if len(ch.Token) != captcha.TokenLen || strings.Contains(ch.Token, "123456") {
		t.Errorf("token %q: length %d, want %d, without the digits", ch.Token, len(ch.Token), captcha.TokenLen)
	}
	other, err := c.Issue()
	if err != nil {
		t.Fatal(err)
	}
	if other.Token == ch.Token || bytes.Equal(other.PNG, ch.PNG) {
		t.Error("two challenges alike")
	}
	for _, bad := range [][]byte{{1, 2, 3}, {1, 2, 3, 4, 5, 10}} {
		if _, err := c.IssueDigits(bad); err == nil {
			t.Errorf("IssueDigits(%v) accepted", bad)
		}
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	digits := []byte{0, 9, 1, 8, 2, 7}
	for _, tc := range []struct {
		name    string
		answer  string
		advance time.Duration
		token   func(string) string
		want    error
	}{
		{"right", "091827", 0, nil, nil},
		{"right with spaces and a hyphen", " 091-827 ", 0, nil, nil},
		{"wrong", "091828", 0, nil, captcha.ErrWrong},
		{"short", "09182", 0, nil, captcha.ErrMalformed},
		{"letters", "O91827", 0, nil, captcha.ErrMalformed},
		{"full-width digits", "０９１８２７", 0, nil, captcha.ErrMalformed},
		{"empty", "", 0, nil, captcha.ErrMalformed},
		{"expired", "091827", 5 * time.Minute, nil, captcha.ErrExpired},
		{"live at the last second", "091827", 5*time.Minute - time.Second, nil, nil},
		{"token cut", "091827", 0, func(s string) string { return s[:len(s)-1] }, captcha.ErrMalformed},
		{"token altered", "091827", 0, func(s string) string { return flip(s, 5) }, captcha.ErrForged},
		{"answer tag altered", "091827", 0, func(s string) string { return flip(s, len(s)-3) }, captcha.ErrWrong},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, clk := newCaptcha(t)
			ch, err := c.IssueDigits(digits)
			if err != nil {
				t.Fatal(err)
			}
			token := ch.Token
			if tc.token != nil {
				token = tc.token(token)
			}
			clk.Advance(tc.advance)
			if err := c.Verify(ctx, token, tc.answer); !errors.Is(err, tc.want) {
				t.Fatalf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
}

// flip changes one base64url character of s.
func flip(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// One try per image: after a wrong answer the right one is refused too,
// and a right answer is good once; another server with the same key (a
// replica) shares the marks through the store.
func TestOneTryPerImageAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	clk := storetest.NewClock()
	st := memory.New(clk.Now)
	a, _ := captcha.New(st, key, time.Minute, clk.Now)
	b, _ := captcha.New(st, key, time.Minute, clk.Now)
	ch, err := a.IssueDigits([]byte{5, 5, 5, 1, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Verify(ctx, ch.Token, "555112"); !errors.Is(err, captcha.ErrWrong) {
		t.Fatalf("wrong: %v", err)
	}
	if err := b.Verify(ctx, ch.Token, "555111"); !errors.Is(err, captcha.ErrUsed) {
		t.Fatalf("right after a wrong try, at the replica: %v, want ErrUsed", err)
	}
	ch, _ = b.IssueDigits([]byte{5, 5, 5, 1, 1, 1})
	if err := b.Verify(ctx, ch.Token, "555111"); err != nil {
		t.Fatalf("right: %v", err)
	}
	if err := a.Verify(ctx, ch.Token, "555111"); !errors.Is(err, captcha.ErrUsed) {
		t.Fatalf("right again: %v, want ErrUsed", err)
	}
	// A malformed answer spends nothing.
	ch, _ = a.IssueDigits([]byte{1, 2, 3, 4, 5, 6})
	if err := a.Verify(ctx, ch.Token, "12"); !errors.Is(err, captcha.ErrMalformed) {
		t.Fatalf("malformed: %v", err)
	}
	if err := a.Verify(ctx, ch.Token, "123456"); err != nil {
		t.Fatalf("right after a malformed answer: %v", err)
	}
	// Another key's token is forged.
	other, _ := captcha.New(st, bytes.Repeat([]byte{8}, 32), time.Minute, clk.Now)
	ch, _ = other.IssueDigits([]byte{1, 2, 3, 4, 5, 6})
	if err := a.Verify(ctx, ch.Token, "123456"); !errors.Is(err, captcha.ErrForged) {
		t.Fatalf("another key's token: %v, want ErrForged", err)
	}
}

func TestNewRefusesWeakSettings(t *testing.T) {
	st := memory.New(nil)
	if _, err := captcha.New(st, key[:31], time.Minute, nil); err == nil {
		t.Error("a short key accepted")
	}
	if _, err := captcha.New(st, key, 0, nil); err == nil {
		t.Error("a zero lifetime accepted")
	}
}

func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{"123456", " 12-34 56 ", "", "1234567", "１２３４５６", "12345\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := captcha.ParseAnswer(s)
		if err != nil {
			return
		}
		if len(d) != captcha.Digits {
			t.Fatalf("%q: %d digits", s, len(d))
		}
		for _, x := range d {
			if x > 9 {
				t.Fatalf("%q: digit %d", s, x)
			}
		}
	})
}

func FuzzVerifyToken(f *testing.F) {
	c, err := captcha.New(memory.New(nil), key, time.Minute, nil)
	if err != nil {
		f.Fatal(err)
	}
	ch, err := c.IssueDigits([]byte{1, 2, 3, 4, 5, 6})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ch.Token, "123456")
	f.Add("", "")
	f.Add(strings.Repeat("A", captcha.TokenLen), "000000")
	// Every token made under the key (by this process or by the one that
	// made the seed corpus) is of the digits 123456: nothing else passes.
	f.Fuzz(func(t *testing.T, token, answer string) {
		err := c.Verify(context.Background(), token, answer)
		if err != nil {
			return
		}
		if d, perr := captcha.ParseAnswer(answer); perr != nil || !bytes.Equal(d, []byte{1, 2, 3, 4, 5, 6}) {
			t.Fatalf("token %q passed with the answer %q", token, answer)
		}
		if err := c.Verify(context.Background(), token, answer); !errors.Is(err, captcha.ErrUsed) {
			t.Fatalf("token %q passed twice: %v", token, err)
		}
	})
}
