package backup_test

import (
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/esia-oidc/idp/factors/backup"
)

var (
	key      = []byte("backup key for the tests: 32 b..")
	otherKey = []byte("another backup key for the tests")
)

var shown = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$`)

func TestStrength(t *testing.T) {
	// Length characters of a 32-character alphabet.
	if got := float64(backup.Length) * math.Log2(32); got != backup.Bits || backup.Bits < 50 {
		t.Fatalf("Bits = %d, computed %.1f; want at least 50", backup.Bits, got)
	}
}

func TestGenerate(t *testing.T) {
	codes, err := backup.Generate(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != backup.DefaultCount || backup.DefaultCount != 10 {
		t.Fatalf("%d codes, want 10", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !shown.MatchString(c) {
			t.Errorf("code %q: want xxxxx-xxxxx of the alphabet", c)
		}
		if seen[c] {
			t.Errorf("code %q twice in a set", c)
		}
		seen[c] = true
		if p, err := backup.ParseCode(c); err != nil || p != strings.ReplaceAll(c, "-", "") {
			t.Errorf("ParseCode(%q) = %q, %v", c, p, err)
		}
	}

	if codes, err := backup.Generate(3); err != nil || len(codes) != 3 {
		t.Fatalf("Generate(3): %d codes, %v", len(codes), err)
	}
	if _, err := backup.Generate(backup.MaxCount + 1); err == nil {
		t.Fatal("Generate(MaxCount+1): want an error")
	}

	// Every character of the alphabet turns up, and only those: over
	// 10 000 characters each of the 32 is expected ~312 times, so a missing
	// one means a broken draw, not bad luck.
	count := map[rune]int{}
	for range 10 {
		codes, err := backup.Generate(backup.MaxCount)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range codes {
			for _, r := range strings.ReplaceAll(c, "-", "") {
				count[r]++
			}
		}
	}
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	for _, r := range alphabet {
		if count[r] == 0 {
			t.Errorf("%q never drawn", r)
		}
	}
	if len(count) != 32 {
		t.Errorf("%d distinct characters drawn, want 32", len(count))
	}
}

func TestParseCode(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"abcde-23456", "abcde23456"},
		{"abcde23456", "abcde23456"},
		{"ABCDE-23456", "abcde23456"},
		{" abc de 234 56 ", "abcde23456"},
		{"ab-cd-e2-34-56", "abcde23456"},
		{"a\tbcde23456", "abcde23456"},
		// Crockford's reading: o is 0, i and l are 1.
		{"oO0iI-lL1ab", "00011111ab"},
		{"ooooo-iiiii", "0000011111"},
		{"OOOOO-LLLLL", "0000011111"},
		{"", ""},
		{"abcde-2345", ""},
		{"abcde-234567", ""},
		{"abcde-2345u", ""}, // u is not in the alphabet
		{"abcde_23456", ""},
		{"abcde–23456", ""}, // an en dash
		{"абвгд-23456", ""}, // Cyrillic
		{"abcde-23456\n", ""},
		{strings.Repeat(" ", 60) + "abcde23456", ""},
	} {
		got, err := backup.ParseCode(tc.in)
		if tc.want == "" {
			if !errors.Is(err, backup.ErrMalformed) || got != "" {
				t.Errorf("ParseCode(%q) = %q, %v; want ErrMalformed", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseCode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestHash(t *testing.T) {
	h := backup.Hash(key, "acc-1", "abcde-23456")
	if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		t.Fatalf("hash %q: want 64 hex digits", h)
	}
	if strings.Contains(h, "abcde") || strings.Contains(h, "23456") {
		t.Fatalf("hash %q holds the code", h)
	}
	// One code, however written, one hash.
	for _, in := range []string{"abcde23456", "ABCDE-23456", " abcde 23456 "} {
		if got := backup.Hash(key, "acc-1", in); got != h {
			t.Errorf("Hash(%q) = %s, want %s", in, got, h)
		}
	}
	// Another account, key or code: another hash.
	for name, got := range map[string]string{
		"key":     backup.Hash(otherKey, "acc-1", "abcde-23456"),
		"account": backup.Hash(key, "acc-2", "abcde-23456"),
		"code":    backup.Hash(key, "acc-1", "abcde-23457"),
		// The account id and the code are kept apart.
		"boundary": backup.Hash(key, "acc-1a", "bcde-234560"),
		// Not a code: hashed apart from every code.
		"malformed": backup.Hash(key, "acc-1", "abcde-2345"),
	} {
		if got == h || got == "" {
			t.Errorf("other %s: hash %q", name, got)
		}
	}
	if got := backup.Hash(key[:31], "acc-1", "abcde-23456"); got != "" {
		t.Errorf("short key: hash %q, want none", got)
	}
}

func TestMatch(t *testing.T) {
	codes, err := backup.Generate(0)
	if err != nil {
		t.Fatal(err)
	}
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = backup.Hash(key, "acc-1", c)
	}

	for i, c := range codes {
		for _, in := range []string{c, strings.ToUpper(c), strings.ReplaceAll(c, "-", " ")} {
			if got, ok := backup.Match(key, "acc-1", in, hashes); !ok || got != i {
				t.Errorf("Match(%q) = %d, %v; want %d", in, got, ok, i)
			}
		}
	}

	other, err := backup.Generate(1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		key     []byte
		account string
		code    string
		hashes  []string
	}{
		{"another code", key, "acc-1", other[0], hashes},
		{"another account", key, "acc-2", codes[0], hashes},
		{"another key", otherKey, "acc-1", codes[0], hashes},
		{"short key", key[:16], "acc-1", codes[0], hashes},
		{"malformed", key, "acc-1", codes[0][:9], hashes},
		{"no hashes", key, "acc-1", codes[0], nil},
		{"used (removed)", key, "acc-1", codes[0], hashes[1:]},
		{"empty stored hashes", key, "acc-1", codes[0], []string{"", ""}},
		{"stored hash of other length", key, "acc-1", codes[0], []string{hashes[0][:32], hashes[0] + "00"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, ok := backup.Match(tc.key, tc.account, tc.code, tc.hashes); ok || got != -1 {
				t.Fatalf("Match = %d, %v; want -1, false", got, ok)
			}
		})
	}

	// Single use is the caller's: once the hash is gone, the code is.
	i, ok := backup.Match(key, "acc-1", codes[3], hashes)
	if !ok {
		t.Fatal("no match")
	}
	left := append(append([]string(nil), hashes[:i]...), hashes[i+1:]...)
	if _, ok := backup.Match(key, "acc-1", codes[3], left); ok {
		t.Fatal("a removed code still matches")
	}
	if got, ok := backup.Match(key, "acc-1", codes[4], left); !ok || got != 3 {
		t.Fatalf("the next code: %d, %v; want 3", got, ok)
	}

	// A hash stored twice: the first is named.
	dup := []string{hashes[1], hashes[0], hashes[0]}
	if got, ok := backup.Match(key, "acc-1", codes[0], dup); !ok || got != 1 {
		t.Fatalf("duplicate: %d, %v; want 1", got, ok)
	}
}
