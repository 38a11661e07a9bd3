package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ory/fosite"

	"github.com/esia-oidc/idp/store"
)

// Revocation by SSO session and by account (issue 9). Every grant carries
// the SSO session it descends from (store.Grant.SessionID, kept through
// refresh rotation) and its account, so that:
//
//   - when a session ends (logout, a new login in the same browser, the
//     security page, an operator, account deletion), SessionEnded revokes
//     its codes, access and refresh tokens, in both stores, and every
//     replica's token cache drops its access tokens;
//   - RevokeGrants revokes every grant of an account (a recovery, a
//     deletion), or those of one client (a consent revoked).
//
// A grant may be created while its session ends. A refresh whose rotation
// is under way is caught by the store: PostgreSQL's revocation waits for
// the rotation to commit and reaches the new refresh token, and a later
// rotation finds its token inactive (see store/postgres's deactivateBy);
// the new access token, stored before that commit, is reached by the
// ephemeral store's revocation, which comes after. A code issued by a login that finishes as the session ends is
// not: the session's end is therefore also marked in the ephemeral store,
// before the revocation, and the token endpoint checks the mark after a
// code exchange has issued tokens (and after a refresh, when the durable
// store cannot group a rotation in a transaction: the in-memory store):
// either it sees the mark and revokes what it issued, or its tokens
// existed before the revocation, which reaches them.

// RevokeSessionJob is the kind of the job that retries a session's
// revocation that failed when the session ended.
const RevokeSessionJob = "oidc.revoke_session"

// revokeSessionAttempts bounds a revocation job's attempts (about 40 min
// with the runner's default backoff).
const revokeSessionAttempts = 10

// endedMarkMargin is added to the code lifetime for the mark of an ended
// session: a refresh in flight when the session ended ends within it.
const endedMarkMargin = time.Minute

func endedKey(sid string) string { return "session-ended:" + sid }

// revokeSessionJob is a revocation job's arguments.
type revokeSessionJob struct {
	SID string `json:"sid"`
}

// revokeSession marks the session ended and deactivates every grant of it
// in both stores; this process's token cache drops them at once, other
// replicas' when the store announces it. Every step is tried; the errors
// of the deactivations are returned (a missing mark only leaves the race
// above open, and is logged).
func (p *Provider) revokeSession(ctx context.Context, sid string) error {
	if sid == "" {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	if err := p.storage.ephemeral.PutEntry(ctx, endedKey(sid), []byte{1}, p.endedTTL()); err != nil {
		p.cfg.Logger.WarnContext(ctx, "mark an ended session", "err", err)
	}
	// The durable store first: it returns only after a refresh under way
	// has committed (see store/postgres's deactivateBy), and that refresh
	// stored its new access token before committing, where the ephemeral
	// store's revocation then finds it.
	err := p.storage.durable.DeactivateSession(ctx, sid)
	err = errors.Join(err, p.storage.ephemeral.DeactivateSession(ctx, sid))
	p.storage.forget(store.GrantChange{SessionID: sid})
	return err
}

// endedTTL is how long an ended session's mark is kept: as long as a code
// issued while it ended may be exchanged.
func (p *Provider) endedTTL() time.Duration {
	return p.cfg.Lifetimes.Code + endedMarkMargin
}

// RevokeSession is the revocation job: it retries revokeSession.
func (p *Provider) RevokeSession(ctx context.Context, j *store.Job) error {
	var a revokeSessionJob
	if err := json.Unmarshal(j.Args, &a); err != nil || a.SID == "" {
		return fmt.Errorf("%w: revoke session: bad arguments", store.ErrJobPermanent)
	}
	if err := p.revokeSession(ctx, a.SID); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}

// RevokeGrants deactivates every grant of the account (its codes, access
// and refresh tokens, of every session), of every client or, when
// clientID is set, of that client only, in both stores; this process's
// token cache drops them at once, other replicas' when the store announces
// it. The recovery pages call it after a reset, the account's deletion
// before it, the security page when a consent is revoked. It does not end
// the account's SSO sessions (session.Manager does; each ending revokes
// its session's grants again, harmlessly).
func (p *Provider) RevokeGrants(ctx context.Context, accountID, clientID string) error {
	if accountID == "" {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	// The durable store first, as in revokeSession.
	err := p.storage.durable.DeactivateSubject(ctx, accountID, clientID)
	err = errors.Join(err, p.storage.ephemeral.DeactivateSubject(ctx, accountID, clientID))
	p.storage.forget(store.GrantChange{Subject: accountID, ClientID: clientID})
	if err != nil {
		return fmt.Errorf("oidc: revoke the account's grants: %w", err)
	}
	return nil
}

// errSessionEnded refuses tokens issued from a grant whose SSO session
// ended meanwhile.
var errSessionEnded = fosite.ErrInvalidGrant.WithHint("The session that granted this has ended.")

// checkSessionLive is called once the token endpoint has issued tokens
// from a code or a refresh token: if the grant's SSO session has ended
// meanwhile (its mark is there), the tokens are revoked and errSessionEnded
// returned. It fails closed, as checkReplayed does: when the mark cannot
// be read, the tokens are revoked and the store's failure returned (a 503:
// the code or refresh token used is spent, and the client's retry learns
// so with invalid_grant).
func (p *Provider) checkSessionLive(ctx context.Context, ar fosite.AccessRequester) error {
	sess, ok := ar.GetSession().(*Session)
	if !ok || sess.SessionID == "" {
		return nil
	}
	if _, tx := p.storage.durable.(store.Transactional); tx && ar.GetGrantTypes().ExactOne("refresh_token") {
		return nil // the stores close the race by themselves: no round trip
	}
	_, err := p.storage.ephemeral.GetEntry(ctx, endedKey(sess.SessionID))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		p.cfg.Logger.ErrorContext(ctx, "read an ended session's mark; revoking the tokens just issued", "err", err)
		p.revokeIssued(ctx, ar.GetID(), "a grant whose session's mark is unreadable")
		return fmt.Errorf("oidc: read an ended session's mark: %w", err)
	}
	p.revokeIssued(ctx, ar.GetID(), "an ended session")
	return errSessionEnded
}
