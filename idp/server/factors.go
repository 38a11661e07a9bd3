package server

import (
	"context"
	"net/url"
	"strconv"
	"strings"

	"github.com/esia-oidc/idp/factors"
	"github.com/esia-oidc/idp/factors/codes"
	"github.com/esia-oidc/idp/factors/totp"
	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/store"
)

// secondFactors are the server's factors: the one-time codes they and the
// citizen's pages send, the authenticator app, the backup codes, and the
// registry the login asks.
type secondFactors struct {
	Codes    *codes.Codes
	TOTP     *totp.TOTP
	Backup   *factors.Backup
	Registry *factors.Registry
}

// newSecondFactors builds the factors under keys derived from the server's
// secret. issuer names the provider in authenticator apps; pages word the
// notices.
func (s *Server) newSecondFactors(issuer string, pages *web.Renderer, now store.Clock) (*secondFactors, error) {
	codesKey, err := s.Sealer.DeriveKey("codes", 32)
	if err != nil {
		return nil, err
	}
	oneTimeCodes, err := codes.New(s.Ephemeral, codes.DefaultPolicy(), codesKey, now)
	if err != nil {
		return nil, err
	}
	backupKey, err := s.Sealer.DeriveKey("backup-codes", 32)
	if err != nil {
		return nil, err
	}
	prevBackupKeys, err := s.Sealer.DerivePrevious("backup-codes", 32)
	if err != nil {
		return nil, err
	}
	app := totp.New(s.Ephemeral, s.Sealer, appIssuer(issuer), now)
	bk := &factors.Backup{
		Accounts: s.Durable,
		Keys:     append([][]byte{backupKey}, prevBackupKeys...),
		Used: func(ctx context.Context, a *store.Account, left int) {
			s.accountEvent(ctx, a.ID, "factor.backup_used", map[string]string{"left": strconv.Itoa(left)})
			// The account keeps no language: notices are in Russian.
			text := pages.T(web.LangRU, "security.backup_used_text", left)
			for _, m := range notify.ToContacts(a, text, pages.T(web.LangRU, "security.backup_used_subject"), text) {
				s.notifyLater(ctx, m)
			}
		},
	}
	reg := factors.NewRegistry(
		factors.TOTP{T: app},
		factors.Code{Codes: oneTimeCodes, Channel: store.CodeChannelSMS},
		factors.Code{Codes: oneTimeCodes, Channel: store.CodeChannelEmail},
		bk,
	)
	return &secondFactors{Codes: oneTimeCodes, TOTP: app, Backup: bk, Registry: reg}, nil
}

// appIssuer is the name authenticator apps show above the provider's codes:
// the issuer URL's host name (an issuer URL holds colons, which a key URI's
// issuer may not), or "IdP" when it has none usable.
func appIssuer(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil || u.Hostname() == "" || strings.Contains(u.Hostname(), ":") {
		return "IdP"
	}
	return u.Hostname()
}
