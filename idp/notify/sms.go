package notify

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/esia-oidc/idp/internal/tracing"
)

// Defaults of SMSGatewayConfig.
const (
	DefaultSMSAttemptTimeout = 10 * time.Second
	DefaultSMSAttempts       = 3
	DefaultSMSBackoff        = 500 * time.Millisecond
	DefaultSMSMaxWait        = 5 * time.Second
)

// ErrRejected is wrapped by the error of a message the gateway refused
// for good (a 4xx answer other than 429): sending it again will not help.
var ErrRejected = errors.New("the gateway refused the message")

// SMSGatewayConfig says how to reach the HTTP SMS gateway that sends the
// SMS channel.
type SMSGatewayConfig struct {
	// URL receives the POST (IDP_SMS_GATEWAY_URL): https, or http to a
	// loopback host.
	URL string
	// Token is sent as "Authorization: Bearer <Token>" (IDP_SMS_GATEWAY_TOKEN).
	Token string
	// Timeout bounds one attempt (DefaultSMSAttemptTimeout when zero).
	Timeout time.Duration
	// Attempts is how many times one message is tried at most
	// (DefaultSMSAttempts when zero).
	Attempts int
	// Backoff is the wait before the second attempt, doubled before each
	// next one, with jitter (DefaultSMSBackoff when zero).
	Backoff time.Duration
	// MaxWait caps every wait between attempts, including one a gateway
	// asks for with Retry-After: a gateway that asks for longer ends the
	// attempts (DefaultSMSMaxWait when zero).
	MaxWait time.Duration
}

// CheckSMSGatewayURL returns what is wrong with an SMS gateway URL, or
// nil. Its error never repeats the URL, whose query may hold a key.
func CheckSMSGatewayURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "":
		return errors.New("must be an absolute URL such as https://sms.example.ru/send")
	case u.Scheme != "https" && u.Scheme != "http":
		return errors.New("the scheme must be https")
	case u.User != nil:
		return errors.New("must not hold user information (the token goes in IDP_SMS_GATEWAY_TOKEN)")
	case u.Fragment != "":
		return errors.New("must not have a fragment")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return errors.New("must be https unless the host is loopback (the token and the codes would cross the network in the clear)")
	}
	return nil
}

// CheckSMSGatewayToken returns what is wrong with a token, or nil. Its
// error never repeats the token.
func CheckSMSGatewayToken(token string) error {
	if token == "" {
		return errors.New("is empty")
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("must be printable ASCII without spaces (character %d is not)", i+1)
		}
	}
	return nil
}

// SMSGateway sends the SMS channel through an HTTP gateway: it POSTs
//
//	{"to":"+79161234567","text":"..."}
//
// as application/json with "Authorization: Bearer <token>" and an
// Idempotency-Key header that is the same on every attempt of one message.
// A 2xx answer is success. A 5xx or 429 answer, or a network failure, is
// tried again after a wait (Retry-After honoured up to MaxWait), at most
// Attempts times; any other answer is not (ErrRejected for a 4xx). It never
// logs, and its errors never hold the text, the token or the URL's query.
type SMSGateway struct {
	cfg    SMSGatewayConfig
	client *http.Client
	// sleep waits d or until ctx is done; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

var _ Notifier = (*SMSGateway)(nil)

// NewSMSGateway returns a sender for cfg.
func NewSMSGateway(cfg SMSGatewayConfig) (*SMSGateway, error) {
	if err := CheckSMSGatewayURL(cfg.URL); err != nil {
		return nil, fmt.Errorf("notify: sms gateway: the URL %w", err)
	}
	if err := CheckSMSGatewayToken(cfg.Token); err != nil {
		return nil, fmt.Errorf("notify: sms gateway: the token %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultSMSAttemptTimeout
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultSMSAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultSMSBackoff
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultSMSMaxWait
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	client := &http.Client{
		// Within a traced request or job, a client span and traceparent.
		Transport: tracing.Transport("sms-gateway", transport),
		// A gateway that redirects is misconfigured: follow nothing.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &SMSGateway{cfg: cfg, client: client, sleep: sleepCtx}, nil
}

// smsRequest is the body the gateway receives.
type smsRequest struct {
	To   string `json:"to"`
	Text string `json:"text"`
}

// Send posts m.Body to m.To (E.164, e.g. +79161234567), trying again as the
// type's comment says. It gives up when ctx is done, or when the next wait
// would outlast ctx's deadline, with the last attempt's error.
func (g *SMSGateway) Send(ctx context.Context, m Message) error {
	if m.Channel != SMS {
		return fmt.Errorf("notify: sms gateway: cannot send a %s message", m.Channel)
	}
	if !isE164(m.To) {
		return errors.New("notify: sms gateway: the recipient is not a phone number in E.164 form (+79161234567)")
	}
	body, err := json.Marshal(smsRequest{To: m.To, Text: m.Body})
	if err != nil {
		return fmt.Errorf("notify: sms gateway: %w", err)
	}
	key := make([]byte, 16)
	_, _ = crand.Read(key) // never fails (crypto/rand crashes the program instead)
	idem := hex.EncodeToString(key)

	for attempt := 1; ; attempt++ {
		retry, wait, err := g.attempt(ctx, body, idem)
		if err == nil {
			return nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%w)", ctxErr, err)
		}
		switch {
		case !retry || ctx.Err() != nil:
			return fmt.Errorf("notify: sms gateway: %w", err)
		case attempt >= g.cfg.Attempts:
			return fmt.Errorf("notify: sms gateway: %d attempts: %w", attempt, err)
		case wait > g.cfg.MaxWait:
			return fmt.Errorf("notify: sms gateway: %w; it asks to wait %s, longer than %s", err, wait, g.cfg.MaxWait)
		}
		if wait == 0 {
			wait = g.backoff(attempt)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return fmt.Errorf("notify: sms gateway: %w; no time left to try again", err)
		}
		if err := g.sleep(ctx, wait); err != nil {
			return fmt.Errorf("notify: sms gateway: %w", err)
		}
	}
}

// attempt posts body once. It reports whether trying again may help, and
// how long the gateway asked to wait first (0: it did not say).
func (g *SMSGateway) attempt(ctx context.Context, body []byte, idem string) (retry bool, wait time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, 0, errors.New("the request cannot be built") // never wrap: it quotes the URL
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+g.cfg.Token)
	req.Header.Set("Idempotency-Key", idem)
	resp, err := g.client.Do(req)
	if err != nil {
		// *url.Error quotes the URL, whose query may hold a key: keep only
		// what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		var certErr *tls.CertificateVerificationError
		return !errors.As(err, &certErr), 0, fmt.Errorf("POST: %w", err)
	}
	// Read a little of the body so that the connection can be reused; the
	// body itself is never kept, as it may echo the text.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return false, 0, nil
	case code == http.StatusTooManyRequests || code >= 500:
		return true, retryAfter(resp.Header.Get("Retry-After"), time.Now()), fmt.Errorf("answered %s", resp.Status)
	case code >= 400:
		return false, 0, fmt.Errorf("answered %s: %w", resp.Status, ErrRejected)
	default:
		return false, 0, fmt.Errorf("answered %s", resp.Status)
	}
}

// backoff is the wait after the attempt-th failed attempt: Backoff doubled
// attempt-1 times, between half and all of it (jitter spreads replicas
// that failed together), at most MaxWait.
func (g *SMSGateway) backoff(attempt int) time.Duration {
	d := g.cfg.Backoff << (attempt - 1)
	if d <= 0 || d > g.cfg.MaxWait {
		d = g.cfg.MaxWait
	}
	return d/2 + rand.N(d/2+1)
}

// retryAfter reads a Retry-After header (RFC 9110 §10.2.3: seconds or an
// HTTP date); 0 when absent, unreadable or past.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// isE164 reports whether s is + and 8 to 15 digits, the first not 0.
func isE164(s string) bool {
	if len(s) < 9 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
