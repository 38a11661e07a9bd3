package oidc

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite/token/jwt"

	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/internal/tracing"
	"github.com/esia-oidc/idp/store"
)

// Back-channel logout (OpenID Connect Back-Channel Logout 1.0): when an SSO
// session ends, every client it signed the citizen in to that registered a
// backchannel_logout_uri is sent a logout token. SessionEnded (the session
// manager's end hook) enqueues one durable job per such client; the job
// (SendLogoutToken) signs the token at send time and POSTs it.

// BackchannelLogoutJob is the kind of the job that sends one logout token.
const BackchannelLogoutJob = "oidc.backchannel_logout"

// BackchannelLogoutEvent is the event a logout token carries (§2.4).
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

const (
	// logoutTokenLifetime is the logout token's exp after its iat: it is
	// signed at each attempt and used at once.
	logoutTokenLifetime = 2 * time.Minute
	// logoutAttempts bounds a logout job's attempts (with the runner's
	// backoff: 5 s, 10 s, 20 s, 40 s by default): a relying party down for
	// longer misses the logout, and its own session lifetime ends it.
	logoutAttempts = 5
	// defaultLogoutTimeout bounds one POST to a relying party.
	defaultLogoutTimeout = 5 * time.Second
)

// logoutJob is a logout job's arguments: which client, and the session as
// the provider knows it (the token's sub and sid are derived per client at
// send time, pairwise-aware).
type logoutJob struct {
	ClientID  string `json:"client_id"`
	AccountID string `json:"account_id"`
	SID       string `json:"sid"`
}

// SessionEnded is session.Manager's end hook. It revokes the session's
// grants (revoke.go): a revocation that fails is retried by a durable job
// (RevokeSession). Then it enqueues a logout job for each of the session's
// clients that registered a backchannel_logout_uri. It never waits for a
// relying party; a job it cannot enqueue is logged and lost (the relying
// party's session then lasts its own lifetime).
func (p *Provider) SessionEnded(ctx context.Context, s *session.Session, clients []string) {
	ctx = context.WithoutCancel(ctx)
	if err := p.revokeSession(ctx, s.ID); err != nil {
		p.cfg.Logger.ErrorContext(ctx, "revoke an ended session's grants; retrying in a job", "err", err)
		args, err := json.Marshal(revokeSessionJob{SID: s.ID})
		if err == nil {
			err = p.cfg.Jobs.EnqueueJob(ctx, RevokeSessionJob, args, store.JobOptions{MaxAttempts: revokeSessionAttempts})
		}
		if err != nil {
			p.cfg.Logger.ErrorContext(ctx, "enqueue the revocation of an ended session's grants", "err", err)
		}
	}
	for _, id := range clients {
		c, err := p.storage.clients.get(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since: nobody to tell
		}
		if err != nil {
			p.cfg.Logger.WarnContext(ctx, "back-channel logout: read client", "client_id", id, "err", err)
			continue
		}
		if c.rec.BackchannelLogoutURI == "" {
			continue
		}
		args, err := json.Marshal(logoutJob{ClientID: id, AccountID: s.AccountID, SID: s.ID})
		if err == nil {
			err = p.cfg.Jobs.EnqueueJob(ctx, BackchannelLogoutJob, args, store.JobOptions{MaxAttempts: logoutAttempts})
		}
		if err != nil {
			p.cfg.Logger.WarnContext(ctx, "back-channel logout: enqueue", "client_id", id, "err", err)
		}
	}
}

// SendLogoutToken is the logout job (§2.5): it signs a logout token for
// the client with the key its ID tokens use and POSTs it to the client's
// registered backchannel_logout_uri, without following redirects. A
// network error, a timeout, 429 and 5xx are tried again with the runner's
// backoff; any other answer but 2xx is given up at once (the relying party
// refused the token, §2.8). A client deleted since, or that no longer
// registers a URI, is not told.
func (p *Provider) SendLogoutToken(ctx context.Context, j *store.Job) error {
	var a logoutJob
	if err := json.Unmarshal(j.Args, &a); err != nil || a.ClientID == "" || a.SID == "" {
		return fmt.Errorf("%w: back-channel logout: bad arguments", store.ErrJobPermanent)
	}
	c, err := p.cfg.Durable.GetClient(ctx, a.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("back-channel logout: read client %s: %w", a.ClientID, err)
	}
	if c.BackchannelLogoutURI == "" {
		return nil
	}
	token, err := p.logoutToken(ctx, c, a.AccountID, a.SID)
	if err != nil {
		return fmt.Errorf("back-channel logout: sign for %s: %w", a.ClientID, err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.LogoutTimeout)
	defer cancel()
	body := url.Values{"logout_token": {token}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BackchannelLogoutURI, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: back-channel logout: client %s: bad URI: %v", store.ErrJobPermanent, a.ClientID, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.cfg.LogoutClient.Do(req)
	if err != nil {
		// The error names the URI but never the token (it is in the body).
		return fmt.Errorf("back-channel logout: client %s: %w", a.ClientID, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		p.cfg.Logger.InfoContext(ctx, "back-channel logout sent", "client_id", a.ClientID, "status", code, "attempt", j.Attempt)
		return nil
	case code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("back-channel logout: client %s answered %d", a.ClientID, code)
	default:
		return fmt.Errorf("%w: back-channel logout: client %s answered %d", store.ErrJobPermanent, a.ClientID, code)
	}
}

// logoutToken signs the logout token of the session sid of the account for
// client c (§2.4): typ logout+jwt, signed like its ID tokens (RS256, or
// ES256 when it registered that), with sub and sid as its ID tokens carry
// them (pairwise-aware), the back-channel logout event, a fresh jti, and
// no nonce.
func (p *Provider) logoutToken(ctx context.Context, c *store.Client, accountID, sid string) (string, error) {
	now := p.cfg.Now().UTC()
	jti := make([]byte, 16)
	rand.Read(jti)
	claims := jwt.MapClaims{
		"iss":    p.issuer,
		"aud":    c.ID,
		"iat":    now.Unix(),
		"exp":    now.Add(logoutTokenLifetime).Unix(),
		"jti":    base64.RawURLEncoding.EncodeToString(jti),
		"events": map[string]any{BackchannelLogoutEvent: map[string]any{}},
		"sid":    sidFor(c, sid),
	}
	if accountID != "" {
		sub := subjectFor(c, accountID)
		if sub == "" {
			return "", fmt.Errorf("%w: pairwise client without a salt", store.ErrJobPermanent)
		}
		claims["sub"] = sub
	}
	if claims["sid"] == "" {
		return "", fmt.Errorf("%w: no sid for the client", store.ErrJobPermanent)
	}
	token, _, err := p.idSigner.Generate(ctx, claims, &jwt.Headers{Extra: map[string]any{"typ": "logout+jwt"}})
	return token, err
}

// newLogoutClient is the HTTP client of logout tokens: bounded in time,
// and never following a redirect (the token goes to the registered URI
// only).
func newLogoutClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:       timeout,
		Transport:     tracing.Transport("backchannel-logout", nil),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
