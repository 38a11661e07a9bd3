// Package totp is the time-based one-time password factor (RFC 6238) of a
// citizen's authenticator app: enrolment (a random secret, its otpauth://
// URI and a QR code of it rendered on the server) and verification of the
// six-digit codes, with replay refused across replicas.
//
// The parameters are those every authenticator app understands: HMAC-SHA-1,
// six digits, a 30-second period, a 160-bit secret. A code is accepted for
// the current step and one step either side (±30 s of clock drift).
//
// The secret is stored only sealed (idp/seal, purpose "totp", bound to the
// account id as associated data), so a sealed secret copied onto another
// account does not open. Codes are generated and compared by
// github.com/pquerna/otp; this package picks the step that matched, in
// constant time, so that it can mark it used.
//
// A code good once is not good again (RFC 6238 §5.2), on any replica: when
// a code is accepted, the steps it matched are marked used in the shared
// ephemeral store (store.Entries.CreateEntry: of concurrent callers exactly
// one wins) for as long as they could be accepted, and so are the six digits
// themselves, so that they are not taken again in that time even where they
// happen to be the code of another step too. The marks' keys hold the
// account id and HMACs under the secret, never a code or the secret, and
// belong to one secret: a citizen who enrols a new app is not refused the
// new app's first code. Wrong tries are not counted here: the caller counts
// them (factors/lockout).
package totp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/esia-oidc/idp/store"
)

// The parameters of every TOTP key this package makes and checks.
const (
	// Period is the length of one time step.
	Period = 30 * time.Second
	// Skew is how many steps before and after the current one are accepted.
	Skew = 1
	// Digits is the length of a code.
	Digits = 6
	// SecretBytes is the size of a secret: 160 bits, as RFC 4226 §4
	// recommends for HMAC-SHA-1.
	SecretBytes = 20
)

// Purpose is the seal purpose of TOTP secrets.
const Purpose = "totp"

// Errors of Verify and ParseCode.
var (
	// ErrMalformed: the input is not six digits (spaces and hyphens aside).
	ErrMalformed = errors.New("totp: malformed code")
	// ErrWrong: the code is not the code of the current step, nor of the
	// step before or after.
	ErrWrong = errors.New("totp: wrong code")
	// ErrReplayed: the code was right but was used already.
	ErrReplayed = errors.New("totp: code already used")
	// ErrSecret: the sealed secret does not open for this account (sealed
	// for another account or purpose, under an unknown master, or
	// damaged). It is the server's data that is wrong, not the citizen's
	// code.
	ErrSecret = errors.New("totp: cannot open the secret")
)

// Sealer seals and opens secrets at rest; *seal.Sealer is one.
type Sealer interface {
	Seal(purpose string, plaintext, associatedData []byte) ([]byte, error)
	Open(purpose string, sealed, associatedData []byte) ([]byte, error)
}

// TOTP makes enrolments and verifies codes. It is safe for concurrent use.
type TOTP struct {
	st     store.Entries
	sealer Sealer
	issuer string
	now    store.Clock
}

// New returns a TOTP whose replay marks live in st (the ephemeral store
// shared by every replica), whose secrets are sealed by sealer, and whose
// enrolments name issuer (what the authenticator app shows above the code,
// e.g. "Госуслуги"). A nil now means time.Now.
func New(st store.Entries, sealer Sealer, issuer string, now store.Clock) *TOTP {
	if now == nil {
		now = time.Now
	}
	return &TOTP{st: st, sealer: sealer, issuer: issuer, now: now}
}

// Enrolment is a new secret, before the citizen has proven that the app
// holds it.
type Enrolment struct {
	// Secret is the secret in base32 without padding (32 characters), for
	// typing into an app that cannot scan the QR code.
	Secret string
	// URI is the otpauth://totp/ key URI the QR code carries.
	URI string
	// Sealed is Secret's 20 bytes sealed for the account: what is stored.
	Sealed []byte
}

// Generate makes a new random secret for the account. label names the
// account in the app (a masked phone or e-mail, say); neither it nor the
// issuer may be empty or hold a colon, which the key URI uses as their
// separator. The enrolment becomes the account's factor only once Verify
// accepts a code for Enrolment.Sealed.
func (t *TOTP) Generate(accountID, label string) (*Enrolment, error) {
	if accountID == "" {
		return nil, errors.New("totp: empty account id")
	}
	for _, s := range []struct{ name, v string }{{"issuer", t.issuer}, {"label", label}} {
		if strings.TrimSpace(s.v) == "" || strings.Contains(s.v, ":") {
			return nil, fmt.Errorf("totp: the %s must be non-empty and hold no colon", s.name)
		}
	}
	key, err := pqtotp.Generate(pqtotp.GenerateOpts{
		Issuer:      t.issuer,
		AccountName: label,
		Period:      uint(Period / time.Second),
		SecretSize:  SecretBytes,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, fmt.Errorf("totp: generate: %w", err)
	}
	raw, err := decodeSecret(key.Secret())
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	sealed, err := t.sealer.Seal(Purpose, raw, []byte(accountID))
	if err != nil {
		return nil, fmt.Errorf("totp: seal: %w", err)
	}
	return &Enrolment{Secret: key.Secret(), URI: key.URL(), Sealed: sealed}, nil
}

// b32 is the base32 of secrets: RFC 4648 alphabet, no padding.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func decodeSecret(s string) ([]byte, error) {
	raw, err := b32.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("totp: secret: %w", err)
	}
	return raw, nil
}

// opts are the validation options of every code.
var opts = pqtotp.ValidateOpts{
	Period:    uint(Period / time.Second),
	Skew:      Skew,
	Digits:    otp.DigitsSix,
	Algorithm: otp.AlgorithmSHA1,
}

// Code returns the code of the base32 secret at the time: what the app
// shows. Tests use it to answer an enrolment.
func Code(secret string, at time.Time) (string, error) {
	return pqtotp.GenerateCodeCustom(secret, at, opts)
}

// markTTL is how long a used step or code stays marked: it can be accepted
// at most 2*Skew+1 periods after the earliest moment it could be used, and
// one period more covers clock drift between replicas.
const markTTL = (2*Skew + 2) * Period

// Verify checks code (as typed: spaces and hyphens are ignored) against the
// account's sealed secret at the current time and, when it is right, marks
// it used. nil means accepted. Errors: ErrMalformed, ErrWrong, ErrReplayed
// (right but used before, by this replica or another), ErrSecret, or a
// store error (store.ErrUnavailable): the caller refuses the login on any
// error, and counts ErrWrong and ErrReplayed as failed tries.
func (t *TOTP) Verify(ctx context.Context, accountID string, sealed []byte, code string) error {
	code, err := ParseCode(code)
	if err != nil {
		return err
	}
	raw, err := t.sealer.Open(Purpose, sealed, []byte(accountID))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSecret, err)
	}
	defer clear(raw)
	if len(raw) == 0 {
		return ErrSecret
	}
	secret := b32.EncodeToString(raw)

	now := t.now()
	current := now.Unix() / int64(Period/time.Second)
	// Every candidate step is computed and compared, whichever matches,
	// so the time taken does not tell which one did.
	var matched []int64
	for d := int64(-Skew); d <= Skew; d++ {
		step := current + d
		if step < 0 {
			continue
		}
		want, err := pqtotp.GenerateCodeCustom(secret, time.Unix(step*int64(Period/time.Second), 0), opts)
		if err != nil {
			return fmt.Errorf("totp: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			matched = append(matched, step)
		}
	}
	if len(matched) == 0 {
		return ErrWrong
	}

	// The code itself first: the same digits are not taken twice in a
	// window, whichever step they match. Then every step it matched. Both
	// marks are scoped to the secret, so that a citizen who enrols a new
	// app right after logging in with the old one is not refused.
	if err := t.mark(ctx, "totp-used-code:"+accountID+":"+mac(raw, "code", code)); err != nil {
		return err
	}
	for _, step := range matched {
		if err := t.mark(ctx, "totp-used:"+accountID+":"+mac(raw, "key", "")+":"+strconv.FormatInt(step, 10)); err != nil {
			return err
		}
	}
	return nil
}

// mark creates a replay mark; ErrReplayed when it exists.
func (t *TOTP) mark(ctx context.Context, key string) error {
	err := t.st.CreateEntry(ctx, key, []byte{1}, markTTL)
	if errors.Is(err, store.ErrConflict) {
		return ErrReplayed
	}
	if err != nil {
		return fmt.Errorf("totp: replay mark: %w", err)
	}
	return nil
}

// mac names a secret or a used code in a store key without revealing
// either: an HMAC under the secret, which a copy of the store cannot
// reverse by trying the million codes.
func mac(secret []byte, kind, code string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("totp-used-" + kind + "\x00"))
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
