// Package backup makes and checks backup codes: single-use codes a citizen
// keeps on paper for when the authenticator app or phone is lost.
//
// A set holds DefaultCount codes, shown once at enrolment. A code is Length
// characters of Crockford's base32 alphabet (digits and lower-case letters
// without i, l, o and u), shown grouped as "xxxxx-xxxxx": Bits = 50 bits of
// randomness each. Input is read as Crockford's decoding does: case and
// hyphens or spaces do not matter, and the letters o, i and l, which a
// reader may take for 0 and 1, are read as 0 and 1, so no character of a
// printed code can be mistyped as another code's.
//
// Only keyed hashes are stored (Hash: HMAC-SHA-256 under a key derived from
// the server's secret, bound to the account), and Match compares a typed
// code with every stored hash in constant time. Single use is the caller's
// part: on a match it removes the used hash from the account's list inside
// the store's update transaction, matching again there, so that two parallel
// uses of one code cannot both pass (see Match). Regenerating replaces the
// whole list, which voids the old set. Wrong tries are counted by the caller
// (factors/lockout).
package backup

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
)

// Parameters of a set of codes.
const (
	// DefaultCount is how many codes a set holds.
	DefaultCount = 10
	// MaxCount is the most codes Generate makes at once.
	MaxCount = 100
	// Length is the number of characters of a code, hyphen aside.
	Length = 10
	// Bits is the randomness of a code: Length characters of a
	// 32-character alphabet, 5 bits each.
	Bits = Length * 5
	// MinKeyBytes is the shortest key Hash and Match accept.
	MinKeyBytes = 32
)

// alphabet is Crockford's base32 in lower case: the 32 digits and letters
// left when i, l, o and u are taken out.
const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// ErrMalformed: the input is not a backup code (ParseCode).
var ErrMalformed = errors.New("backup: malformed code")

// Generate returns n new codes (DefaultCount when n <= 0), each distinct,
// grouped as "xxxxx-xxxxx" for showing. The caller shows them once and
// stores only their hashes (Hash).
func Generate(n int) ([]string, error) {
	if n <= 0 {
		n = DefaultCount
	}
	if n > MaxCount {
		return nil, fmt.Errorf("backup: at most %d codes at once", MaxCount)
	}
	codes := make([]string, 0, n)
	seen := make(map[string]bool, n)
	for len(codes) < n {
		var b [Length]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		// 256 is a multiple of 32: the low five bits of a random byte are
		// uniform over the alphabet.
		var c [Length + 1]byte
		for i, j := 0, 0; i < Length; i++ {
			if i == Length/2 {
				c[j] = '-'
				j++
			}
			c[j] = alphabet[b[i]&31]
			j++
		}
		s := string(c[:])
		if !seen[s] {
			seen[s] = true
			codes = append(codes, s)
		}
	}
	return codes, nil
}

// ParseCode normalises a code as typed: ASCII spaces, tabs and hyphens are
// dropped, letters are read in lower case, o as 0, i and l as 1; what
// remains must be Length characters of the alphabet, which it returns
// without the hyphen. Anything else is ErrMalformed (which repeats nothing
// typed).
func ParseCode(s string) (string, error) {
	if len(s) > 64 {
		return "", ErrMalformed
	}
	var out [Length]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || c == '\t' || c == '-' {
			continue
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch c {
		case 'o':
			c = '0'
		case 'i', 'l':
			c = '1'
		}
		if !inAlphabet(c) || n == Length {
			return "", ErrMalformed
		}
		out[n] = c
		n++
	}
	if n != Length {
		return "", ErrMalformed
	}
	return string(out[:]), nil
}

func inAlphabet(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z' && c != 'i' && c != 'l' && c != 'o' && c != 'u')
}

// Hash returns the hash of code to store for the account: hex of
// HMAC-SHA-256 under key (at least MinKeyBytes, derived from the server's
// secret, e.g. seal.Sealer.DeriveKey("backup-codes", 32), the same on every
// replica), over the account id and the code as ParseCode reads it, so a
// code may be given as Generate shows it. A hash of one account never
// matches for another. It returns "" when the key is too short; a code that
// ParseCode refuses gets a hash that Match never finds.
func Hash(key []byte, accountID, code string) string {
	if len(key) < MinKeyBytes {
		return ""
	}
	if c, err := ParseCode(code); err == nil {
		code = c
	} else {
		// Not a code: hashed under another label, so it cannot stand
		// for one.
		accountID = "malformed\x00" + accountID
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("backup-code\x00"))
	m.Write([]byte(accountID))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}

// Match reports whether the typed code is one of the account's stored
// hashes, and which (the index into hashes). It hashes the code once and
// compares it with every hash in constant time, without stopping at a
// match. A malformed code, a short key or an empty stored hash never match.
//
// A match is not yet a use: the caller removes hashes[index] from the
// account's list inside one store transaction (store.Accounts'
// UpdateAccount updater), calling Match again on the list it reads there
// and refusing when the code is no longer in it, so that of parallel uses
// of one code exactly one passes. After the server's secret is rotated, a
// hash made before matches only under the previous key: the caller also
// tries the keys of seal.Sealer.DerivePrevious (hashes cannot be remade
// without the codes) until the citizen regenerates the set.
func Match(key []byte, accountID, code string, hashes []string) (index int, ok bool) {
	if len(key) < MinKeyBytes {
		return -1, false
	}
	c, err := ParseCode(code)
	if err != nil {
		return -1, false
	}
	h := []byte(Hash(key, accountID, c))
	found, at := 0, 0
	for i, stored := range hashes {
		eq := subtle.ConstantTimeCompare(h, []byte(stored))
		// The first match is kept.
		at = subtle.ConstantTimeSelect(eq&^found, i, at)
		found |= eq
	}
	if found == 0 {
		return -1, false
	}
	return at, true
}
