package totp

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"
)

// Reopen returns the enrolment of a secret Generate sealed for the account,
// with its base32 form and key URI under label: what the enrolment page
// shows again (a wrong code typed, the page reloaded) while the secret
// waits, sealed, for its first code. ErrSecret when the sealed secret does
// not open for the account.
func (t *TOTP) Reopen(accountID, label string, sealed []byte) (*Enrolment, error) {
	if strings.TrimSpace(label) == "" || strings.Contains(label, ":") {
		return nil, errors.New("totp: the label must be non-empty and hold no colon")
	}
	raw, err := t.sealer.Open(Purpose, sealed, []byte(accountID))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSecret, err)
	}
	defer clear(raw)
	if len(raw) != SecretBytes {
		return nil, ErrSecret
	}
	key, err := pqtotp.Generate(pqtotp.GenerateOpts{
		Issuer:      t.issuer,
		AccountName: label,
		Period:      uint(Period.Seconds()),
		Secret:      raw,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, fmt.Errorf("totp: reopen: %w", err)
	}
	return &Enrolment{Secret: key.Secret(), URI: key.URL(), Sealed: sealed}, nil
}
