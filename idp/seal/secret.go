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

// Stored client-secret hashes are the bare 32-byte HMAC-SHA-256
// ("untagged"), the format every release reads, except while a previous
// master is held (a rotation of IDP_SECRET_KEY is under way): then a hash
// is hashVersion || key id of the master || HMAC-SHA-256 ("tagged"), so
// that `idp secret reseal` can tell which hashes are under the new master.
// A release that predates tags reads only untagged hashes: writing them
// outside rotations keeps a rolling upgrade, and a rollback, working.
const (
	hashVersion     byte = 1
	taggedHashLen        = 1 + KeyIDLen + sha256.Size
	untaggedHashLen      = sha256.Size
)

// HashSecret returns the keyed hash of a client secret that the store keeps
// (store.Client.SecretHash): HMAC-SHA-256 under the current master's key
// for the purpose "client-secret", tagged with that master's key id while a
// previous master is held. The same secret always gives the same hash under
// the same masters, so secrets survive restarts and are shared by replicas.
func (s *Sealer) HashSecret(secret string) []byte {
	if !s.rotating() {
		return s.cur.secretMAC(secret)
	}
	out := make([]byte, 0, taggedHashLen)
	out = append(out, hashVersion)
	out = append(out, s.cur.id[:]...)
	return append(out, s.cur.secretMAC(secret)...)
}

func (m *masterKey) secretMAC(secret string) []byte {
	h := hmac.New(sha256.New, m.secretKey)
	h.Write([]byte(secret))
	return h.Sum(nil)
}

// VerifySecret reports whether secret matches hash: under the master whose
// key id the hash carries, or, for an untagged hash, under any master the
// Sealer holds. It compares in constant time (hmac.Equal).
func (s *Sealer) VerifySecret(secret string, hash []byte) bool {
	mac, masters := s.secretHashKeys(hash)
	for _, m := range masters {
		if hmac.Equal(m.secretMAC(secret), mac) {
			return true
		}
	}
	return false
}

// secretHashKeys splits a stored hash into its MAC and the masters that may
// have made it: the one it is tagged with, every one for an untagged hash,
// none for a malformed hash or one tagged with a master not held.
func (s *Sealer) secretHashKeys(hash []byte) (mac []byte, masters []*masterKey) {
	switch {
	case len(hash) == untaggedHashLen:
		return hash, s.all
	case len(hash) == taggedHashLen && hash[0] == hashVersion:
		for _, m := range s.all {
			if [KeyIDLen]byte(hash[1:1+KeyIDLen]) == m.id {
				return hash[1+KeyIDLen:], []*masterKey{m}
			}
		}
	}
	return nil, nil
}

// HashState tells under which master a stored client-secret hash was made.
type HashState int

// States of a stored client-secret hash.
const (
	// HashCurrent: tagged with the current master.
	HashCurrent HashState = iota
	// HashPrevious: tagged with a previous master; it verifies while that
	// master is held, and is replaced at the secret's next successful use.
	HashPrevious
	// HashUntagged: made before hashes were tagged, under a master that
	// cannot be told without the secret; replaced like HashPrevious.
	HashUntagged
	// HashUnknown: tagged with a master this Sealer does not hold, or not a
	// hash: it verifies no secret.
	HashUnknown
)

// rotating reports whether a previous master is held.
func (s *Sealer) rotating() bool { return len(s.all) > 1 }

// SecretHashState tells which master a stored hash was made under. An
// untagged hash is HashCurrent when no previous master is held (it can
// only be under the current one), else HashUntagged.
func (s *Sealer) SecretHashState(hash []byte) HashState {
	_, masters := s.secretHashKeys(hash)
	switch {
	case len(masters) == 0:
		return HashUnknown
	case len(hash) == untaggedHashLen && !s.rotating():
		return HashCurrent
	case len(hash) == untaggedHashLen:
		return HashUntagged
	case masters[0] == s.cur:
		return HashCurrent
	}
	return HashPrevious
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
