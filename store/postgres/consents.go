package postgres

import (
	"context"

	"github.com/esia-oidc/idp/store"
)

var _ store.Consents = (*Store)(nil)

// GetConsent returns the consent of the account to the client, or
// store.ErrNotFound.
func (s *Store) GetConsent(ctx context.Context, accountID, clientID string) (*store.Consent, error) {
	if !storable(accountID, clientID) {
		return nil, notFound("get consent")
	}
	c := store.Consent{AccountID: accountID, ClientID: clientID}
	err := s.db(ctx).QueryRow(ctx,
		`SELECT scopes, granted_at FROM consents WHERE account_id = $1 AND client_id = $2`,
		accountID, clientID).Scan(&c.Scopes, &c.GrantedAt)
	if err != nil {
		return nil, mapErr("get consent", err)
	}
	c.Scopes = fromTextArray(c.Scopes)
	c.GrantedAt = c.GrantedAt.UTC()
	return &c, nil
}

// PutConsent creates or replaces the consent of (AccountID, ClientID). A zero
// GrantedAt is set from the clock.
func (s *Store) PutConsent(ctx context.Context, c *store.Consent) error {
	granted := dbTime(c.GrantedAt)
	if granted.IsZero() {
		granted = s.clock()
	}
	return s.exec(ctx, "put consent", `INSERT INTO consents (account_id, client_id, scopes, granted_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (account_id, client_id)
		DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at`,
		c.AccountID, c.ClientID, textArray(c.Scopes), granted)
}

// DeleteConsent removes the consent, or returns store.ErrNotFound.
func (s *Store) DeleteConsent(ctx context.Context, accountID, clientID string) error {
	const op = "delete consent"
	if !storable(accountID, clientID) {
		return notFound(op)
	}
	tag, err := s.db(ctx).Exec(ctx,
		`DELETE FROM consents WHERE account_id = $1 AND client_id = $2`, accountID, clientID)
	if err != nil {
		return mapErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return notFound(op)
	}
	return nil
}

// ListConsents returns the account's consents, newest first.
func (s *Store) ListConsents(ctx context.Context, accountID string) ([]*store.Consent, error) {
	const op = "list consents"
	if !storable(accountID) {
		return nil, nil
	}
	rows, err := s.db(ctx).Query(ctx, `SELECT client_id, scopes, granted_at FROM consents
		WHERE account_id = $1 ORDER BY granted_at DESC, client_id`, accountID)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []*store.Consent
	for rows.Next() {
		c := store.Consent{AccountID: accountID}
		if err := rows.Scan(&c.ClientID, &c.Scopes, &c.GrantedAt); err != nil {
			return nil, mapErr(op, err)
		}
		c.Scopes = fromTextArray(c.Scopes)
		c.GrantedAt = c.GrantedAt.UTC()
		out = append(out, &c)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}
