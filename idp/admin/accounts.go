package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/store"
)

const (
	maxNameLen     = 200
	maxPasswordLen = 1024
)

var noSuchAccount = &problem{http.StatusNotFound, codeNotFound, "no account with this id"}

// identifierFields pairs each identifier kind with its JSON field.
var identifierFields = []struct {
	kind  store.IdentifierKind
	field string
	want  string
}{
	{store.IdentifierPhone, "phone", "a Russian mobile number such as +79991234567"},
	{store.IdentifierEmail, "email", "an e-mail address"},
	{store.IdentifierSNILS, "snils", "a SNILS with a valid checksum, such as 112-233-445 95"},
}

// accountFromRequest validates a new account and returns it with normalized
// identifiers, marked confirmed (the operator vouches for them), and without
// ID, password hash or times.
func accountFromRequest(req adminclient.NewAccount, normalize func(store.IdentifierKind, string) (string, error), now time.Time) (*store.Account, *problem) {
	acc := &store.Account{
		Level:      store.Level(req.Level),
		LastName:   strings.TrimSpace(req.LastName),
		FirstName:  strings.TrimSpace(req.FirstName),
		MiddleName: strings.TrimSpace(req.MiddleName),
		Birthdate:  req.Birthdate,
		Gender:     req.Gender,
	}
	given := map[store.IdentifierKind]string{
		store.IdentifierPhone: req.Phone,
		store.IdentifierEmail: req.Email,
		store.IdentifierSNILS: req.SNILS,
	}
	found := false
	for _, f := range identifierFields {
		raw := strings.TrimSpace(given[f.kind])
		if raw == "" {
			continue
		}
		v, err := normalize(f.kind, raw)
		if err != nil || v == "" {
			return nil, badRequest("%s is not %s", f.field, f.want)
		}
		switch f.kind {
		case store.IdentifierPhone:
			acc.Phone, acc.PhoneVerified = v, true
		case store.IdentifierEmail:
			acc.Email, acc.EmailVerified = v, true
		case store.IdentifierSNILS:
			acc.SNILS = v
		}
		found = true
	}
	if !found {
		return nil, badRequest("one of phone, email or snils is required")
	}

	if req.Password == "" {
		return nil, badRequest("password is required")
	}
	if len(req.Password) > maxPasswordLen {
		return nil, badRequest("password is longer than %d bytes", maxPasswordLen)
	}

	for _, n := range []struct{ field, value string }{
		{"last_name", acc.LastName}, {"first_name", acc.FirstName}, {"middle_name", acc.MiddleName},
	} {
		if n.value == "" && n.field != "middle_name" {
			return nil, badRequest("%s is required", n.field)
		}
		if utf8.RuneCountInString(n.value) > maxNameLen {
			return nil, badRequest("%s is longer than %d characters", n.field, maxNameLen)
		}
		if strings.ContainsFunc(n.value, unicode.IsControl) {
			return nil, badRequest("%s must not hold control characters", n.field)
		}
	}

	if acc.Level == "" {
		acc.Level = store.LevelSimplified
	}
	if !acc.Level.Valid() {
		return nil, badRequest("level must be simplified, standard or confirmed")
	}

	if acc.Birthdate != "" {
		d, err := time.Parse(time.DateOnly, acc.Birthdate)
		if err != nil {
			return nil, badRequest("birthdate must be a date as YYYY-MM-DD")
		}
		if d.After(now) {
			return nil, badRequest("birthdate is in the future")
		}
	}
	if acc.Gender != "" && acc.Gender != "M" && acc.Gender != "F" {
		return nil, badRequest("gender must be M, F, or empty")
	}
	return acc, nil
}

// createAccount creates a citizen's account with a password. A taken
// identifier answers 409 naming the field, never the value.
func (a *API) createAccount(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req adminclient.NewAccount
	if p := decodeJSON(w, r, &req); p != nil {
		writeProblem(w, p)
		return
	}
	now := a.now()
	acc, p := accountFromRequest(req, a.Normalize, now)
	if p != nil {
		writeProblem(w, p)
		return
	}
	if p, err := a.takenIdentifier(ctx, acc); err != nil {
		a.internalError(w, r, "find account", err)
		return
	} else if p != nil {
		writeProblem(w, p)
		return
	}
	if err := password.Check(req.Password); err != nil {
		// The policy error's text is for operators and never holds the
		// password.
		writeProblem(w, &problem{http.StatusBadRequest, codeInvalidRequest, err.Error()})
		return
	}
	hash, err := a.Passwords.Hash(ctx, req.Password)
	if errors.Is(err, password.ErrBusy) {
		w.Header().Set("Retry-After", "5")
		writeProblem(w, &problem{http.StatusServiceUnavailable, "temporarily_unavailable", "too many password hashes at once; retry later"})
		return
	}
	if err != nil {
		a.internalError(w, r, "hash password", err)
		return
	}
	acc.PasswordHash = hash
	acc.ID = a.NewID()
	acc.CreatedAt, acc.UpdatedAt = now, now
	err = a.Accounts.CreateAccount(ctx, acc)
	if errors.Is(err, store.ErrConflict) {
		// Lost a race for an identifier since the check above.
		p, ferr := a.takenIdentifier(ctx, acc)
		if ferr != nil {
			a.internalError(w, r, "find account", ferr)
			return
		}
		if p == nil {
			p = &problem{http.StatusConflict, codeConflict, "the account conflicts with an existing one"}
		}
		writeProblem(w, p)
		return
	}
	if err != nil {
		a.internalError(w, r, "create account", err)
		return
	}
	a.log().InfoContext(ctx, "admin: account created", "account_id", acc.ID, "level", acc.Level)
	writeJSON(w, http.StatusCreated, accountInfo(acc))
}

// takenIdentifier returns a 409 problem naming the first of the account's
// identifiers that another account holds, or nil.
func (a *API) takenIdentifier(ctx context.Context, acc *store.Account) (*problem, error) {
	for _, f := range identifierFields {
		v := acc.Identifier(f.kind)
		if v == "" {
			continue
		}
		_, err := a.Accounts.FindAccount(ctx, f.kind, v)
		if err == nil {
			return &problem{http.StatusConflict, codeConflict, f.field + " is already taken by another account"}, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return nil, nil
}

func (a *API) getAccount(w http.ResponseWriter, r *http.Request) {
	id, p := pathID(r, "id")
	if p != nil {
		writeProblem(w, p)
		return
	}
	acc, err := a.Accounts.GetAccount(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeProblem(w, noSuchAccount)
		return
	}
	if err != nil {
		a.internalError(w, r, "get account", err)
		return
	}
	writeJSON(w, http.StatusOK, accountInfo(acc))
}

// unlockAccount ends the account's login lockout at once (the failures
// counted against it are forgotten); 204, or 404 for an unknown account.
func (a *API) unlockAccount(w http.ResponseWriter, r *http.Request) {
	id, p := pathID(r, "id")
	if p != nil {
		writeProblem(w, p)
		return
	}
	if _, err := a.Accounts.GetAccount(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		writeProblem(w, noSuchAccount)
		return
	} else if err != nil {
		a.internalError(w, r, "get account", err)
		return
	}
	if err := a.Unlock(r.Context(), id); err != nil {
		a.internalError(w, r, "unlock account", err)
		return
	}
	a.log().InfoContext(r.Context(), "admin: account unlocked", "account_id", id)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func accountInfo(acc *store.Account) adminclient.AccountInfo {
	return adminclient.AccountInfo{
		ID:            acc.ID,
		Level:         string(acc.Level),
		LastName:      acc.LastName,
		FirstName:     acc.FirstName,
		MiddleName:    acc.MiddleName,
		Birthdate:     acc.Birthdate,
		Gender:        acc.Gender,
		Phone:         acc.Phone,
		Email:         acc.Email,
		SNILS:         acc.SNILS,
		PhoneVerified: acc.PhoneVerified,
		EmailVerified: acc.EmailVerified,
		HasPassword:   acc.PasswordHash != "",

		ConfirmationMethod: string(acc.ConfirmationMethod),
		Verification:       verificationInfo(acc.Verification),
		Evidence:           evidenceInfo(acc.Evidence),
		CreatedAt:          acc.CreatedAt,
		UpdatedAt:          acc.UpdatedAt,
	}
}

// verificationInfo is what the admin API tells of a registry check: its
// state, not the data checked nor their digest.
func verificationInfo(v *store.Verification) *adminclient.VerificationInfo {
	if v == nil {
		return nil
	}
	info := &adminclient.VerificationInfo{Status: string(v.Status), Reason: v.Reason, RequestedAt: v.RequestedAt}
	if !v.DecidedAt.IsZero() {
		d := v.DecidedAt
		info.DecidedAt = &d
	}
	return info
}

// evidenceInfo is what the admin API tells of the evidence: its kind and
// time, not who or what it names.
func evidenceInfo(ev []store.Evidence) []adminclient.EvidenceInfo {
	var out []adminclient.EvidenceInfo
	for _, e := range ev {
		out = append(out, adminclient.EvidenceInfo{Kind: string(e.Kind), At: e.At})
	}
	return out
}
