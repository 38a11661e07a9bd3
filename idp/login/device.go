package login

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/store"
)

// A login from a device the account has not used lately (its browser's
// User-Agent and approximate network, as the session records them) is told
// to the account's confirmed contacts: a citizen whose password was
// guessed learns of it. The devices an account used are remembered for
// deviceMemory, under a hash (no User-Agent or network in the key).

// deviceMemory is how long a device stays known after its last login.
const deviceMemory = 180 * 24 * time.Hour

// newAccountGrace: the first logins of an account just made are from the
// device that made it, and are not told.
const newAccountGrace = 10 * time.Minute

var moscow = time.FixedZone("MSK", 3*60*60)

// noticeNewDevice records the session's device for the account and, when
// it was not known, tells the account's confirmed contacts.
func (l *Login) noticeNewDevice(ctx context.Context, acct *store.Account, s *session.Session) {
	h := sha256.Sum256([]byte(acct.ID + "\x00" + s.UserAgent + "\x00" + s.Place))
	key := "device:" + hex.EncodeToString(h[:])
	err := l.Flows.CreateEntry(ctx, key, []byte{1}, deviceMemory)
	if errors.Is(err, store.ErrConflict) {
		// Known: keep it known for another deviceMemory.
		if err := l.Flows.PutEntry(ctx, key, []byte{1}, deviceMemory); err != nil {
			l.logger().WarnContext(ctx, "remember a device", "err", err)
		}
		return
	}
	if err != nil {
		l.logger().WarnContext(ctx, "remember a device", "err", err)
		return
	}
	if l.Notify == nil || l.now().Sub(acct.CreatedAt) < newAccountGrace {
		return
	}
	place := s.Place
	if place == "" {
		place = "?"
	}
	at := s.CreatedAt.In(moscow).Format("02.01.2006 15:04")
	text := l.Pages.T("ru", "device.new_text", at, place)
	for _, m := range notify.ToContacts(acct, text, l.Pages.T("ru", "device.new_subject"), text) {
		l.Notify(ctx, m)
	}
}
