package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/esia-oidc/idp/store"
)

var _ store.Accounts = (*Store)(nil)

// accountColumns is the select list scanned by scanAccount. Absent
// identifiers are NULL in the table and empty strings in Go.
const accountColumns = `id, level, last_name, first_name, middle_name,
	coalesce(to_char(birthdate, 'YYYY-MM-DD'), ''), gender,
	coalesce(phone, ''), coalesce(email, ''), coalesce(snils, ''),
	phone_verified, email_verified, password_hash,
	birthplace, citizenship, coalesce(inn, ''), registration_address, residence_address,
	documents, confirmation_method, verification, evidence, letter, factors,
	created_at, updated_at`

func scanAccount(row pgx.Row) (*store.Account, error) {
	var a store.Account
	var level, method string
	var p personalJSON
	if err := row.Scan(&a.ID, &level, &a.LastName, &a.FirstName, &a.MiddleName,
		&a.Birthdate, &a.Gender, &a.Phone, &a.Email, &a.SNILS,
		&a.PhoneVerified, &a.EmailVerified, &a.PasswordHash,
		&a.Birthplace, &a.Citizenship, &a.INN, &a.RegistrationAddress, &a.ResidenceAddress,
		&p.documents, &method, &p.verification, &p.evidence, &p.letter, &p.factors,
		&a.CreatedAt, &a.UpdatedAt); err != nil {
		return nil, err
	}
	a.Level = store.Level(level)
	a.ConfirmationMethod = store.EvidenceKind(method)
	a.CreatedAt = a.CreatedAt.UTC()
	a.UpdatedAt = a.UpdatedAt.UTC()
	if err := decodePersonal(&a, p); err != nil {
		return nil, fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return &a, nil
}

// accountArgs returns the values of the columns $2.. of insertAccount and
// updateAccount, in their order ($1 is the ID).
func accountArgs(a *store.Account) ([]any, error) {
	p, err := encodePersonal(a)
	if err != nil {
		return nil, err
	}
	return []any{string(a.Level), a.LastName, a.FirstName, a.MiddleName,
		a.Birthdate, a.Gender, a.Phone, a.Email, a.SNILS,
		a.PhoneVerified, a.EmailVerified, a.PasswordHash,
		a.Birthplace, a.Citizenship, a.INN, a.Identifier(store.IdentifierPassport),
		a.RegistrationAddress, a.ResidenceAddress,
		p.documents, string(a.ConfirmationMethod), p.verification, p.evidence, p.letter, p.factors,
	}, nil
}

const insertAccount = `INSERT INTO accounts (id, level, last_name, first_name, middle_name,
	birthdate, gender, phone, email, snils, phone_verified, email_verified, password_hash,
	birthplace, citizenship, inn, passport, registration_address, residence_address,
	documents, confirmation_method, verification, evidence, letter, factors,
	created_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, nullif($6::text, '')::date, $7,
	nullif($8::text, ''), nullif($9::text, ''), nullif($10::text, ''), $11, $12, $13,
	$14, $15, nullif($16::text, ''), nullif($17::text, ''), $18, $19,
	$20, $21, $22, $23, $24, $25, $26, $27)`

const updateAccount = `UPDATE accounts SET level = $2, last_name = $3, first_name = $4,
	middle_name = $5, birthdate = nullif($6::text, '')::date, gender = $7,
	phone = nullif($8::text, ''), email = nullif($9::text, ''), snils = nullif($10::text, ''),
	phone_verified = $11, email_verified = $12, password_hash = $13,
	birthplace = $14, citizenship = $15, inn = nullif($16::text, ''), passport = nullif($17::text, ''),
	registration_address = $18, residence_address = $19,
	documents = $20, confirmation_method = $21, verification = $22, evidence = $23, letter = $24,
	factors = $25, updated_at = $26
	WHERE id = $1`

// CreateAccount stores a new account. A zero CreatedAt is set from the clock,
// a zero UpdatedAt from CreatedAt.
func (s *Store) CreateAccount(ctx context.Context, a *store.Account) error {
	const op = "create account"
	created := dbTime(a.CreatedAt)
	if created.IsZero() {
		created = s.clock()
	}
	updated := dbTime(a.UpdatedAt)
	if updated.IsZero() {
		updated = created
	}
	args, err := accountArgs(a)
	if err != nil {
		return err
	}
	args = append(append([]any{a.ID}, args...), created, updated)
	return s.exec(ctx, op, insertAccount, args...)
}

// GetAccount returns the account with the ID, or store.ErrNotFound.
func (s *Store) GetAccount(ctx context.Context, id string) (*store.Account, error) {
	if !storable(id) {
		return nil, notFound("get account")
	}
	a, err := scanAccount(s.db(ctx).QueryRow(ctx,
		`SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
	if err != nil {
		return nil, mapErr("get account", err)
	}
	return a, nil
}

// findAccountQueries holds one fixed query per identifier kind.
var findAccountQueries = map[store.IdentifierKind]string{
	store.IdentifierPhone:    `SELECT ` + accountColumns + ` FROM accounts WHERE phone = $1`,
	store.IdentifierEmail:    `SELECT ` + accountColumns + ` FROM accounts WHERE email = $1`,
	store.IdentifierSNILS:    `SELECT ` + accountColumns + ` FROM accounts WHERE snils = $1`,
	store.IdentifierINN:      `SELECT ` + accountColumns + ` FROM accounts WHERE inn = $1`,
	store.IdentifierPassport: `SELECT ` + accountColumns + ` FROM accounts WHERE passport = $1`,
}

// FindAccount returns the account holding the normalized identifier, or
// store.ErrNotFound (also for an empty value or an unknown kind).
func (s *Store) FindAccount(ctx context.Context, kind store.IdentifierKind, value string) (*store.Account, error) {
	const op = "find account"
	q, ok := findAccountQueries[kind]
	if !ok {
		return nil, fmt.Errorf("postgres: %s: unknown identifier kind %q: %w", op, kind, store.ErrNotFound)
	}
	if value == "" || !storable(value) {
		return nil, notFound(op)
	}
	a, err := scanAccount(s.db(ctx).QueryRow(ctx, q, value))
	if err != nil {
		return nil, mapErr(op, err)
	}
	return a, nil
}

// FindAccountByBank returns the account whose factors link the
// connector's subject (the earliest made, should two have), or
// store.ErrNotFound. The containment test uses the GIN index of 0007.
func (s *Store) FindAccountByBank(ctx context.Context, connector, subject string) (*store.Account, error) {
	const op = "find account by bank"
	if connector == "" || subject == "" || !storable(connector) || !storable(subject) {
		return nil, notFound(op)
	}
	a, err := scanAccount(s.db(ctx).QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts
		WHERE factors->'banks' @> jsonb_build_array(jsonb_build_object('connector', $1::text, 'subject', $2::text))
		ORDER BY created_at, id LIMIT 1`, connector, subject))
	if err != nil {
		return nil, mapErr(op, err)
	}
	return a, nil
}

// UpdateAccount locks the account's row, applies update and writes the
// result in one transaction. The ID and CreatedAt are kept; UpdatedAt is
// written as the updater leaves it (callers set it).
func (s *Store) UpdateAccount(ctx context.Context, id string, update func(*store.Account) error) (*store.Account, error) {
	const op = "update account"
	if !storable(id) {
		return nil, notFound(op)
	}
	var out *store.Account
	err := s.inTx(ctx, op, func(tx pgx.Tx) error {
		a, err := scanAccount(tx.QueryRow(ctx,
			`SELECT `+accountColumns+` FROM accounts WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return mapErr(op, err)
		}
		created := a.CreatedAt
		if err := update(a); err != nil {
			return err
		}
		a.ID, a.CreatedAt, a.UpdatedAt = id, created, dbTime(a.UpdatedAt)
		args, err := accountArgs(a)
		if err != nil {
			return err
		}
		args = append(append([]any{a.ID}, args...), a.UpdatedAt)
		if _, err := tx.Exec(ctx, updateAccount, args...); err != nil {
			return mapErr(op, err)
		}
		out = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteAccount removes the account and its consents in one transaction,
// which frees its identifiers; store.ErrNotFound when absent.
func (s *Store) DeleteAccount(ctx context.Context, id string) error {
	const op = "delete account"
	if !storable(id) {
		return notFound(op)
	}
	return s.inTx(ctx, op, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM accounts WHERE id = $1`, id)
		if err != nil {
			return mapErr(op, err)
		}
		if tag.RowsAffected() == 0 {
			return notFound(op)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM consents WHERE account_id = $1`, id); err != nil {
			return mapErr(op, err)
		}
		return nil
	})
}
