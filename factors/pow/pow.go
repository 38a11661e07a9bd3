// Package pow holds a proof-of-work challenge (hashcash) that a page asks
// of a client after repeated attempts: work that a browser does once in a
// moment and that makes a script's thousands of attempts cost as many
// moments of CPU, with no third-party service.
//
// The server issues a challenge: a random id, the difficulty and an expiry,
// HMAC-SHA-256-signed under a key derived from the server's secret (the
// same on every replica), in base64url. The client finds a nonce such that
// SHA-256(challenge ":" nonce) begins with at least that many zero bits,
// and posts the field "challenge:nonce". Verify checks the signature, the
// expiry and the work, then marks the challenge used (an atomic entry in
// the ephemeral store, shared by every replica): a solved challenge is good
// once. Nothing about a challenge is stored until it is used.
package pow

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/esia-oidc/idp/store"
)

// Errors of Verify. Each is a refusal; ParseField's is ErrMalformed.
var (
	ErrMalformed = errors.New("pow: malformed field")
	ErrForged    = errors.New("pow: challenge not issued by this server")
	ErrExpired   = errors.New("pow: challenge expired")
	ErrWork      = errors.New("pow: not enough work")
	ErrUsed      = errors.New("pow: challenge already used")
)

const (
	version   = 1
	idBytes   = 16
	macBytes  = 16
	bodyBytes = 2 + 8 + idBytes // version, bits, expiry, id
	// ChallengeLen is the length of a challenge in base64url.
	ChallengeLen = (bodyBytes + macBytes) * 4 / 3
	// MaxNonce is the longest nonce accepted.
	MaxNonce = 32
	// MaxField is the longest field ParseField reads.
	MaxField = ChallengeLen + 1 + MaxNonce
)

var b64 = base64.RawURLEncoding

// PoW issues and verifies challenges. It is safe for concurrent use.
type PoW struct {
	used store.Entries
	key  []byte
	bits int
	ttl  time.Duration
	now  store.Clock
}

// New returns a PoW asking bits leading zero bits (1 to 32), whose
// challenges live ttl, keyed by key (at least 32 bytes), marking used
// challenges in used. A nil now means time.Now.
func New(used store.Entries, key []byte, bits int, ttl time.Duration, now store.Clock) (*PoW, error) {
	if len(key) < 32 {
		return nil, errors.New("pow: key must be at least 32 bytes")
	}
	if bits < 1 || bits > 32 || ttl <= 0 {
		return nil, errors.New("pow: bits must be 1 to 32 and ttl positive")
	}
	if now == nil {
		now = time.Now
	}
	return &PoW{used: used, key: append([]byte(nil), key...), bits: bits, ttl: ttl, now: now}, nil
}

// Bits is the difficulty asked: leading zero bits of the hash.
func (p *PoW) Bits() int { return p.bits }

// Challenge issues a new challenge.
func (p *PoW) Challenge() (string, error) {
	body := make([]byte, bodyBytes, bodyBytes+macBytes)
	body[0], body[1] = version, byte(p.bits)
	binary.BigEndian.PutUint64(body[2:10], uint64(p.now().Add(p.ttl).Unix()))
	if _, err := rand.Read(body[10:]); err != nil {
		return "", err
	}
	return b64.EncodeToString(append(body, p.mac(body)...)), nil
}

func (p *PoW) mac(body []byte) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte("pow\x00"))
	m.Write(body)
	return m.Sum(nil)[:macBytes]
}

// ParseField splits a posted field "challenge:nonce": the challenge must
// have a challenge's length and alphabet, the nonce 1 to MaxNonce ASCII
// letters and digits. It checks no signature.
func ParseField(s string) (challenge, nonce string, err error) {
	if len(s) > MaxField {
		return "", "", ErrMalformed
	}
	challenge, nonce, ok := strings.Cut(s, ":")
	if !ok || len(challenge) != ChallengeLen || len(nonce) == 0 || len(nonce) > MaxNonce {
		return "", "", ErrMalformed
	}
	for i := 0; i < len(challenge); i++ {
		if c := challenge[i]; !alnum(c) && c != '-' && c != '_' {
			return "", "", ErrMalformed
		}
	}
	for i := 0; i < len(nonce); i++ {
		if !alnum(nonce[i]) {
			return "", "", ErrMalformed
		}
	}
	return challenge, nonce, nil
}

func alnum(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// Verify checks a posted field and marks its challenge used: nil means the
// work was done for a challenge of this server, in time, and not used
// before. A store failure is returned as it is (the caller fails closed).
func (p *PoW) Verify(ctx context.Context, field string) error {
	challenge, nonce, err := ParseField(field)
	if err != nil {
		return err
	}
	raw, err := b64.DecodeString(challenge)
	if err != nil || len(raw) != bodyBytes+macBytes {
		return ErrMalformed
	}
	body, sum := raw[:bodyBytes], raw[bodyBytes:]
	if !hmac.Equal(sum, p.mac(body)) || body[0] != version {
		return ErrForged
	}
	expires := time.Unix(int64(binary.BigEndian.Uint64(body[2:10])), 0)
	now := p.now()
	if !now.Before(expires) {
		return ErrExpired
	}
	if need := max(int(body[1]), p.bits); LeadingZeros(challenge, nonce) < need {
		return ErrWork
	}
	// Good once: the first to mark it wins, on every replica.
	err = p.used.CreateEntry(ctx, "pow:"+hex.EncodeToString(body[10:]), []byte{1}, expires.Sub(now)+time.Minute)
	if errors.Is(err, store.ErrConflict) {
		return ErrUsed
	}
	return err
}

// LeadingZeros counts the leading zero bits of SHA-256(challenge ":" nonce).
func LeadingZeros(challenge, nonce string) int {
	h := sha256.Sum256([]byte(challenge + ":" + nonce))
	n := 0
	for _, b := range h {
		if b != 0 {
			return n + bits.LeadingZeros8(b)
		}
		n += 8
	}
	return n
}

// Solve finds a nonce for the challenge at the difficulty, as the page's
// script does (decimal counter from 0), and returns the field to post. It
// is for tests and for documentation: what a client spends.
func Solve(challenge string, difficulty int) string {
	for i := uint64(0); ; i++ {
		n := strconv.FormatUint(i, 10)
		if LeadingZeros(challenge, n) >= difficulty {
			return challenge + ":" + n
		}
	}
}
