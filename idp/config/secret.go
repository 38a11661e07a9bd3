package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
)

// MinSecretKeyBytes is the shortest secret key accepted.
const MinSecretKeyBytes = 32

// MinAdminTokenChars is the shortest admin token accepted in production.
const MinAdminTokenChars = 32

var errShortSecretKey = errors.New("must be 64+ hex digits, base64 of 32+ bytes, or 32+ characters (generate one with: openssl rand -hex 32)")

// SecretKeyBytes returns the key that encrypts secrets at rest, read from
// SecretKey in the first of these forms that applies:
//
//   - hex: an even number of hex digits, at least 64 (openssl rand -hex 32);
//     a string of hex digits only is never read as base64;
//   - base64, standard or URL alphabet, padded or not, decoding to at least
//     32 bytes (openssl rand -base64 32);
//   - the raw string, if it has at least 32 bytes.
//
// It returns nil when none applies; Validate reports that. Callers derive
// per-purpose keys from these bytes (HKDF) rather than use them directly.
func (c *Config) SecretKeyBytes() []byte {
	b, _ := parseSecretKey(c.SecretKey)
	return b
}

// PreviousSecretKeyBytes returns the bytes of each SecretKeysPrevious entry,
// read like SecretKey. Entries that do not parse are left out (Validate
// reports them).
func (c *Config) PreviousSecretKeyBytes() [][]byte {
	var out [][]byte
	for _, s := range c.SecretKeysPrevious {
		if b, err := parseSecretKey(s); err == nil {
			out = append(out, b)
		}
	}
	return out
}

func parseSecretKey(s string) ([]byte, error) {
	if isHex(s) {
		// Hex digits are also base64 letters: a string of hex digits is
		// hex or raw, never base64.
		if len(s) >= 2*MinSecretKeyBytes && len(s)%2 == 0 {
			return hex.DecodeString(s)
		}
	} else {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil && len(b) >= MinSecretKeyBytes {
				return b, nil
			}
		}
	}
	if len(s) >= MinSecretKeyBytes {
		return []byte(s), nil
	}
	return nil, errShortSecretKey
}

func isHex(s string) bool {
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
			return false
		}
	}
	return s != ""
}
