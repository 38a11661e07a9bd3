package factors

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/esia-oidc/idp/factors/backup"
	"github.com/esia-oidc/idp/factors/codes"
	"github.com/esia-oidc/idp/factors/totp"
	"github.com/esia-oidc/idp/store"
)

// TOTP is the authenticator-app factor (factors/totp).
type TOTP struct{ T *totp.TOTP }

func (TOTP) Name() string { return "totp" }
func (TOTP) Kind() Kind   { return KindSecret }
func (TOTP) AMR() string  { return "otp" }
func (TOTP) Enrolled(a *store.Account) bool {
	return a.Factors != nil && a.Factors.TOTP != nil
}

// Check verifies the app's code; a code used once is refused within its
// window on every replica.
func (f TOTP) Check(ctx context.Context, a *store.Account, _, code string) error {
	if !f.Enrolled(a) {
		return ErrNotEnrolled
	}
	err := f.T.Verify(ctx, a.ID, a.Factors.TOTP.Sealed, code)
	switch {
	case errors.Is(err, totp.ErrMalformed):
		return ErrMalformed
	case errors.Is(err, totp.ErrWrong), errors.Is(err, totp.ErrReplayed):
		return ErrWrong
	}
	return err
}

// Backup is the backup-code factor (factors/backup): a code works once.
type Backup struct {
	Accounts store.Accounts
	// Keys key the codes' hashes: the current key first, then those of
	// previous server secrets (hashes made under them still match).
	Keys [][]byte
	// Used, when set, is told of a code used, with how many are left (the
	// account's event history and a notification).
	Used func(ctx context.Context, a *store.Account, left int)
}

func (Backup) Name() string { return "backup" }
func (Backup) Kind() Kind   { return KindSecret }
func (Backup) AMR() string  { return "otp" }
func (Backup) Enrolled(a *store.Account) bool {
	return a.Factors != nil && a.Factors.Backup != nil && len(a.Factors.Backup.Hashes) > 0
}

// Check matches the code against the account's unused codes and removes
// the one it matches in the same update, so that a code is good once even
// when two requests bring it at the same time.
func (f Backup) Check(ctx context.Context, a *store.Account, _, code string) error {
	if _, err := backup.ParseCode(code); err != nil {
		return ErrMalformed
	}
	left := 0
	updated, err := f.Accounts.UpdateAccount(ctx, a.ID, func(u *store.Account) error {
		if !f.Enrolled(u) {
			return ErrWrong
		}
		for _, key := range f.Keys {
			if i, ok := backup.Match(key, u.ID, code, u.Factors.Backup.Hashes); ok {
				u.Factors.Backup.Hashes = append(u.Factors.Backup.Hashes[:i:i], u.Factors.Backup.Hashes[i+1:]...)
				left = len(u.Factors.Backup.Hashes)
				return nil
			}
		}
		return ErrWrong
	})
	if err != nil {
		return err
	}
	if f.Used != nil {
		f.Used(ctx, updated, left)
	}
	return nil
}

// Hashes returns the hashes to store for a new set of codes, under the
// current key.
func (f Backup) Hashes(accountID string, set []string) []string {
	out := make([]string, len(set))
	for i, c := range set {
		out[i] = backup.Hash(f.Keys[0], accountID, c)
	}
	return out
}

// Code is the factor of a code sent to the account's confirmed phone
// (Channel store.CodeChannelSMS, amr sms) or e-mail (store.CodeChannelEmail,
// amr otp), bound to the login flow (factors/codes, purpose login).
type Code struct {
	Codes   *codes.Codes
	Channel string
}

func (f Code) Name() string { return f.Channel }
func (Code) Kind() Kind     { return KindSender }
func (f Code) AMR() string {
	if f.Channel == store.CodeChannelSMS {
		return "sms"
	}
	return "otp"
}

// Enrolled: the account chose this channel and the contact is confirmed.
func (f Code) Enrolled(a *store.Account) bool {
	return a.Factors != nil && a.Factors.Codes == f.Channel && f.recipient(a) != ""
}

func (f Code) recipient(a *store.Account) string {
	switch f.Channel {
	case store.CodeChannelSMS:
		if a.PhoneVerified {
			return a.Phone
		}
	case store.CodeChannelEmail:
		if a.EmailVerified {
			return a.Email
		}
	}
	return ""
}

// Issue makes a login code for the binding, to the account's contact.
func (f Code) Issue(ctx context.Context, a *store.Account, binding string, ip netip.Addr) (string, Destination, error) {
	to := f.recipient(a)
	if to == "" {
		return "", Destination{}, ErrNotEnrolled
	}
	code, err := f.Codes.Issue(ctx, codes.PurposeLogin, a.ID+"/"+binding, to, ip)
	return code, Destination{Channel: f.Channel, To: to}, err
}

// NextSend is when a new code may be sent to the account for the binding.
func (f Code) NextSend(ctx context.Context, a *store.Account, binding string) time.Time {
	return f.Codes.NextSend(ctx, codes.PurposeLogin, a.ID+"/"+binding)
}

// Check checks the code sent for the binding.
func (f Code) Check(ctx context.Context, a *store.Account, binding, code string) error {
	code, err := codes.ParseCode(code)
	if err != nil {
		return ErrMalformed
	}
	err = f.Codes.Check(ctx, codes.PurposeLogin, a.ID+"/"+binding, code)
	switch {
	case errors.Is(err, codes.ErrWrong):
		return ErrWrong
	case errors.Is(err, codes.ErrExpired):
		return ErrExpired
	}
	return err
}
