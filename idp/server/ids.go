package server

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// newID returns a random opaque identifier (130 bits, lower-case base32):
// account ids (the tokens' sub) and client ids.
func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return strings.ToLower(strings.TrimRight(base32.StdEncoding.EncodeToString(b), "="))
}
