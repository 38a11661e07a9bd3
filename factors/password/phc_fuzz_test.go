package password

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzParsePHC: whatever a stored hash holds, parsePHC does not panic, and
//   - a refusal wraps ErrMalformed and does not repeat the string;
//   - an accepted string is exactly the encoding of what was parsed (one
//     spelling per hash: no signs, leading zeros or padding slip through),
//     and its parameters are within the bounds that keep verification from
//     allocating without limit.
func FuzzParsePHC(f *testing.F) {
	for _, s := range []string{
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		"$argon2id$v=19$m=64,t=1,p=1$YWFhYWFhYWE$YmJiYmJiYmJiYmJiYmJiYg",
		"$argon2id$v=19$m=4194304,t=1000,p=255$YWFhYWFhYWE$YmJiYmJiYmJiYmJiYmJiYg",
		"$argon2id$v=19$m=4194305,t=1,p=1$YWFhYWFhYWE$YmJiYmJiYmJiYmJiYmJiYg",
		"$argon2id$v=19$m=064,t=1,p=1$YWFhYWFhYWE$YmJiYmJiYmJiYmJiYmJiYg",
		"$argon2id$v=19$m=+64,t=1,p=1$YWFhYWFhYWE$YmJiYmJiYmJiYmJiYmJiYg",
		"$argon2id$v=19$m=64,t=1,p=1$YWFhYWFhYWE=$YmJiYmJiYmJiYmJiYmJiYg",
		"$argon2id$v=19$t=1,m=64,p=1$YWFhYWFhYWE$YmJiYmJiYmJiYmJiYmJiYg",
		"$argon2i$v=19$m=64,t=1,p=1$YWFhYWFhYWE$YmJiYmJiYmJiYmJiYmJiYg",
		"$argon2id$v=16$m=64,t=1,p=1$YWFhYWFhYWE$YmJiYmJiYmJiYmJiYmJiYg",
		"$argon2id$v=19$m=64,t=0,p=1$YWFhYWFhYWE$YmJiYmJiYmJiYmJiYmJiYg",
		"$argon2id$v=19$m=64,t=1,p=0$YWFhYWFhYWE$YmJiYmJiYmJiYmJiYmJiYg",
		"$argon2id$v=19$m=64,t=1,p=256$YWFhYWFhYWE$YmJiYmJiYmJiYmJiYmJiYg",
		"$2b$12$abcdefghijklmnopqrstuu", "", "$$$$$", "plain-text-password",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePHC(s)
		if err != nil {
			if p != nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("parsePHC(%q) = %v, %v; want nil and ErrMalformed", s, p, err)
			}
			// The input may not be repeated; the package's own words
			// ("password: malformed password hash") are not a repetition
			// of an input that happens to be one of them.
			if len(s) >= 8 && strings.Contains(err.Error(), s) && !strings.Contains(ErrMalformed.Error(), s) {
				t.Fatalf("the error of parsePHC repeats the string: %v", err)
			}
			return
		}
		if enc := p.String(); enc != s {
			t.Fatalf("parsePHC(%q) re-encodes as %q", s, enc)
		}
		if err := p.params.validate(); err != nil {
			t.Fatalf("parsePHC(%q) accepted parameters out of bounds: %v", s, err)
		}
		if int(p.params.SaltLen) != len(p.salt) || int(p.params.KeyLen) != len(p.hash) {
			t.Fatalf("parsePHC(%q): salt %d and hash %d bytes, lengths said %d and %d", s, len(p.salt), len(p.hash), p.params.SaltLen, p.params.KeyLen)
		}
		again, err := parsePHC(p.String())
		if err != nil || again.params != p.params || !bytes.Equal(again.salt, p.salt) || !bytes.Equal(again.hash, p.hash) {
			t.Fatalf("parsePHC(%q) does not parse its own encoding back: %v", s, err)
		}
	})
}
