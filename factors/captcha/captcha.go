// Package captcha is the image challenge that a page asks, after repeated
// attempts, of a browser that cannot do the proof of work (factors/pow)
// because it runs no JavaScript: six digits drawn distorted on a PNG made
// here (github.com/dchest/captcha draws it; no third-party service), read
// and typed back by a person.
//
// Nothing is stored when a challenge is issued. Its token, posted back in
// a hidden field, holds a random id, an expiry, an HMAC-SHA-256 tag of
// those under a key derived from the server's secret (the same on every
// replica), and a second tag binding the id to the digits: the token does
// not give the digits away, and without the key no one can make a token
// for digits of their choosing. Verify checks the first tag and the
// expiry, marks the id used (an atomic entry in the ephemeral store, shared
// by every replica: one try per image, right or wrong), then compares the
// typed digits' tag with the second in constant time.
package captcha

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"

	dchest "github.com/dchest/captcha"

	"github.com/esia-oidc/idp/store"
)

// Errors of Verify.
var (
	// ErrMalformed: the token or the answer cannot be one (the page asks
	// again; no try is spent).
	ErrMalformed = errors.New("captcha: malformed")
	ErrForged    = errors.New("captcha: token not issued by this server")
	ErrExpired   = errors.New("captcha: expired")
	ErrUsed      = errors.New("captcha: already tried")
	ErrWrong     = errors.New("captcha: wrong answer")
)

const (
	// Digits is how many digits an image shows.
	Digits = 6
	// Width and Height are the image's size in pixels.
	Width, Height = 240, 80

	version   = 1
	idBytes   = 16
	tagBytes  = 16
	bodyBytes = 1 + 8 + idBytes // version, expiry, id
	// TokenLen is the length of a token in base64url.
	TokenLen = (bodyBytes + 2*tagBytes + 2) / 3 * 4
)

var b64 = base64.RawURLEncoding

// Captcha issues and verifies image challenges. It is safe for concurrent
// use.
type Captcha struct {
	used store.Entries
	key  []byte
	ttl  time.Duration
	now  store.Clock
}

// New returns a Captcha whose challenges live ttl, keyed by key (at least
// 32 bytes), marking tried challenges in used. A nil now means time.Now.
func New(used store.Entries, key []byte, ttl time.Duration, now store.Clock) (*Captcha, error) {
	if len(key) < 32 {
		return nil, errors.New("captcha: key must be at least 32 bytes")
	}
	if ttl <= 0 {
		return nil, errors.New("captcha: ttl must be positive")
	}
	if now == nil {
		now = time.Now
	}
	return &Captcha{used: used, key: append([]byte(nil), key...), ttl: ttl, now: now}, nil
}

// Challenge is an issued image challenge.
type Challenge struct {
	// Token goes back with the answer (a hidden field).
	Token string
	// PNG is the image.
	PNG []byte
}

// Issue makes a new challenge of random digits.
func (c *Captcha) Issue() (*Challenge, error) {
	return c.IssueDigits(dchest.RandomDigits(Digits)) // crypto/rand
}

// IssueDigits makes a challenge of the given digits (values 0 to 9, Digits
// of them). It is for tests, which know the server's key and so may make
// challenges they can answer, as the key's holder can; pages call Issue.
func (c *Captcha) IssueDigits(digits []byte) (*Challenge, error) {
	if len(digits) != Digits {
		return nil, errors.New("captcha: wrong number of digits")
	}
	for _, d := range digits {
		if d > 9 {
			return nil, errors.New("captcha: a digit out of range")
		}
	}
	body := make([]byte, bodyBytes, bodyBytes+2*tagBytes)
	body[0] = version
	binary.BigEndian.PutUint64(body[1:9], uint64(c.now().Add(c.ttl).Unix()))
	if _, err := rand.Read(body[9:]); err != nil {
		return nil, err
	}
	var img bytes.Buffer
	if _, err := dchest.NewImage(hex.EncodeToString(body[9:]), digits, Width, Height).WriteTo(&img); err != nil {
		return nil, err
	}
	token := append(body, c.tag("body", body)...)
	token = append(token, c.tag("answer", body[9:], digits)...)
	return &Challenge{Token: b64.EncodeToString(token), PNG: img.Bytes()}, nil
}

func (c *Captcha) tag(purpose string, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("captcha\x00" + purpose + "\x00"))
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)[:tagBytes]
}

// ParseAnswer reads the typed digits: exactly Digits of them, spaces and
// hyphens between them ignored (and full-width or other Unicode digits
// refused, as any other character).
func ParseAnswer(s string) ([]byte, error) {
	if len(s) > 4*Digits {
		return nil, ErrMalformed
	}
	out := make([]byte, 0, Digits)
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b >= '0' && b <= '9':
			out = append(out, b-'0')
		case b == ' ' || b == '-':
		default:
			return nil, ErrMalformed
		}
	}
	if len(out) != Digits {
		return nil, ErrMalformed
	}
	return out, nil
}

// parseToken decodes a token into its body and its two tags.
func parseToken(token string) (body, bodyTag, answerTag []byte, err error) {
	if len(token) != TokenLen {
		return nil, nil, nil, ErrMalformed
	}
	raw, err := b64.DecodeString(token)
	if err != nil || len(raw) != bodyBytes+2*tagBytes {
		return nil, nil, nil, ErrMalformed
	}
	return raw[:bodyBytes], raw[bodyBytes : bodyBytes+tagBytes], raw[bodyBytes+tagBytes:], nil
}

// Verify checks the answer typed for the token: nil when the token is this
// server's, live and not tried before, and the digits are the image's. A
// well-formed try spends the token whatever its outcome. A store failure
// is returned as it is (the caller fails closed).
func (c *Captcha) Verify(ctx context.Context, token, answer string) error {
	body, bodyTag, answerTag, err := parseToken(token)
	if err != nil {
		return err
	}
	digits, err := ParseAnswer(answer)
	if err != nil {
		return err
	}
	if !hmac.Equal(bodyTag, c.tag("body", body)) || body[0] != version {
		return ErrForged
	}
	expires := time.Unix(int64(binary.BigEndian.Uint64(body[1:9])), 0)
	now := c.now()
	if !now.Before(expires) {
		return ErrExpired
	}
	// One try: the first to mark it goes on, on every replica.
	err = c.used.CreateEntry(ctx, "captcha:"+hex.EncodeToString(body[9:]), []byte{1}, expires.Sub(now)+time.Minute)
	if errors.Is(err, store.ErrConflict) {
		return ErrUsed
	}
	if err != nil {
		return err
	}
	if !hmac.Equal(answerTag, c.tag("answer", body[9:], digits)) {
		return ErrWrong
	}
	return nil
}
