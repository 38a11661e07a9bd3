package rp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// BackchannelLogoutEvent is the event a logout token carries (Back-Channel
// Logout 1.0 §2.4).
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutToken is a verified logout token.
type LogoutToken struct {
	Subject, SID, JTI string
	IssuedAt          time.Time
	// Expires is when the token stops being acceptable: its exp, or iat
	// plus the accepted age; the jti must be remembered until then.
	Expires time.Time
}

// ErrLogoutToken: the logout token is not acceptable (the receiver answers
// 400 with error invalid_request, §2.8).
var ErrLogoutToken = errors.New("rp: invalid logout token")

// VerifyLogoutToken validates a logout token as §2.6 of Back-Channel
// Logout 1.0 says: the signature by a key of the provider's JWKS, iss, aud
// (this client), iat (not in the future, not older than the accepted age),
// exp when present, the back-channel logout event, sid or sub, a jti, and
// no nonce. Remembering the jti against replays is the caller's (it keeps
// state).
func (c *Client) VerifyLogoutToken(ctx context.Context, raw string) (*LogoutToken, error) {
	idt, err := c.ltVerifier.Verify(oidc.ClientContext(ctx, c.cfg.HTTPClient), raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLogoutToken, err)
	}
	var cl struct {
		SID    string                    `json:"sid"`
		JTI    string                    `json:"jti"`
		IAT    *int64                    `json:"iat"`
		Exp    *int64                    `json:"exp"`
		Nonce  *string                   `json:"nonce"`
		Events map[string]map[string]any `json:"events"`
	}
	if err := idt.Claims(&cl); err != nil {
		return nil, fmt.Errorf("%w: claims: %w", ErrLogoutToken, err)
	}
	now := c.cfg.Now()
	const skew = time.Minute
	switch {
	case cl.Nonce != nil:
		return nil, fmt.Errorf("%w: it carries a nonce", ErrLogoutToken)
	case cl.Events == nil || cl.Events[BackchannelLogoutEvent] == nil:
		return nil, fmt.Errorf("%w: no back-channel logout event", ErrLogoutToken)
	case idt.Subject == "" && cl.SID == "":
		return nil, fmt.Errorf("%w: neither sub nor sid", ErrLogoutToken)
	case cl.JTI == "":
		return nil, fmt.Errorf("%w: no jti", ErrLogoutToken)
	case cl.IAT == nil:
		return nil, fmt.Errorf("%w: no iat", ErrLogoutToken)
	}
	iat := time.Unix(*cl.IAT, 0)
	if iat.After(now.Add(skew)) || iat.Before(now.Add(-c.cfg.LogoutTokenMaxAge)) {
		return nil, fmt.Errorf("%w: iat out of range", ErrLogoutToken)
	}
	expires := iat.Add(c.cfg.LogoutTokenMaxAge + skew)
	if cl.Exp != nil {
		exp := time.Unix(*cl.Exp, 0)
		if !now.Before(exp.Add(skew)) {
			return nil, fmt.Errorf("%w: expired", ErrLogoutToken)
		}
		if exp.After(expires) {
			expires = exp.Add(skew)
		}
	}
	return &LogoutToken{Subject: idt.Subject, SID: cl.SID, JTI: cl.JTI, IssuedAt: iat, Expires: expires}, nil
}
