package server

import (
	"context"
	"time"

	"github.com/esia-oidc/idp/factors/captcha"
	"github.com/esia-oidc/idp/factors/lockout"
	"github.com/esia-oidc/idp/factors/pow"
	"github.com/esia-oidc/idp/idp/login"
	"github.com/esia-oidc/idp/idp/operator"
	"github.com/esia-oidc/idp/idp/registry"
	"github.com/esia-oidc/idp/idp/selfservice"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// The citizen's own pages (idp/selfservice), the service-centre console
// (idp/operator), and the jobs they stand on: notifications and the
// registry check.

// newCitizenPages assembles the self-service pages and the operator
// console, and registers the notification and registry-check jobs.
func (s *Server) newCitizenPages(pages *web.Renderer, csrf *web.CSRF, cookies web.Cookies, limiter *lockout.Limiter, logins *login.Login, sf *secondFactors, now store.Clock) (*selfservice.Pages, *operator.Console, error) {
	letterKey, err := s.Sealer.DeriveKey("letter-codes", 32)
	if err != nil {
		return nil, nil, err
	}
	powKey, err := s.Sealer.DeriveKey("recover-pow", 32)
	if err != nil {
		return nil, nil, err
	}
	work, err := pow.New(s.Ephemeral, powKey, recoverPoWBits, 10*time.Minute, now)
	if err != nil {
		return nil, nil, err
	}
	captchaKey, err := s.Sealer.DeriveKey("recover-captcha", 32)
	if err != nil {
		return nil, nil, err
	}
	images, err := captcha.New(s.Ephemeral, captchaKey, 10*time.Minute, now)
	if err != nil {
		return nil, nil, err
	}
	logger := s.logger
	self := &selfservice.Pages{
		Pages:     pages,
		CSRF:      csrf,
		Codes:     sf.Codes,
		Factors:   sf.Registry,
		TOTP:      sf.TOTP,
		Backup:    sf.Backup,
		Passwords: s.Passwords,
		Accounts:  s.Durable,
		Atomic:    s.Durable,
		Audit:     s.Durable,
		Event:     s.accountEvent,
		State:     s.Ephemeral,
		Counters:  s.Ephemeral,
		Sessions:  s.Sessions,
		Limiter:   limiter,
		Login:     logins,
		Notify:    s.notifyLater,
		Notices:   s.enqueueNotice,
		LetterKey: letterKey,
		ClientIP:  logins.ClientIP,
		NewID:     newID,
		Now:       now,
		Logger:    logger,
		Lifetime:  flowLifetime,
		Revoke:    s.revokeGrants,
		PoW:       work,
		Captcha:   images,
		Consents:  s.Durable,
		Clients:   s.Durable,
		BankName:  s.bankName,
	}
	console := &operator.Console{
		Pages:     pages,
		CSRF:      csrf,
		Cookies:   cookies,
		Store:     s.Durable,
		Passwords: s.Passwords,
		Limiter:   limiter,
		Sessions:  s.Ephemeral,
		ClientIP:  logins.ClientIP,
		Unlock:    limiter.UnlockAccount,
		Notify:    s.notifyLater,
		Now:       now,
		Logger:    logger,
	}
	s.Jobs.Handle(notifyJob, s.sendNotice)
	if reg := s.openRegistry(); reg != nil {
		checker := &registry.Checker{Store: s.Durable, Registry: reg, Tell: s.tellOutcome(pages), Now: now}
		s.Jobs.Handle(registry.JobKind, checker.Handle)
		self.Checker = checker
		logins.Registry = checker
	}
	return self, console, nil
}

// accountEvent records an event of a citizen's account in the audit trail,
// which the citizen's security page shows (without personal data: the
// account is named by id). A failure is logged, and does not fail what
// happened.
func (s *Server) accountEvent(ctx context.Context, accountID, action string, details map[string]string) {
	err := s.Durable.AppendAudit(context.WithoutCancel(ctx), &store.AuditEvent{
		Actor: "citizen:" + accountID, Action: action, AccountID: accountID, Details: details,
	})
	if err != nil {
		s.logger.WarnContext(ctx, "record an account event", "action", action, "err", err)
	}
}

// recoverPoWBits is the proof of work asked of repeated recoveries from one
// address: 18 leading zero bits of SHA-256, about 260,000 hashes on
// average (well under a second in a browser's script, as long for a
// script per attempt).
const recoverPoWBits = 18

// revokeGrants revokes an account's grants (of one client, when clientID
// is set) through RevokeGrants, read when called so a test may wrap it.
func (s *Server) revokeGrants(ctx context.Context, accountID, clientID string) error {
	if s.RevokeGrants == nil {
		return nil
	}
	return s.RevokeGrants(ctx, accountID, clientID)
}
