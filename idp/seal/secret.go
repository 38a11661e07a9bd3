package seal

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// secretBytes is the entropy of a generated client secret.
const secretBytes = 32

// HashSecret returns the keyed hash of a client secret that the store keeps
// (store.Client.SecretHash): HMAC-SHA-256 under the key derived for the
// purpose "client-secret". The same secret always gives the same hash under
// the same master, so secrets survive restarts and are shared by replicas.
func (s *Sealer) HashSecret(secret string) []byte {
	m := hmac.New(sha256.New, s.secretKey)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// VerifySecret reports whether secret matches hash, comparing in constant
// time (hmac.Equal).
func (s *Sealer) VerifySecret(secret string, hash []byte) bool {
	return hmac.Equal(s.HashSecret(secret), hash)
}

// GenerateSecret returns a new client secret: 32 random bytes, base64url
// without padding (43 characters).
func GenerateSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("seal: generate secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
