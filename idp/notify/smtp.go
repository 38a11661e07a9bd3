package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/esia-oidc/idp/internal/tracing"
)

// DefaultSMTPTimeout bounds one e-mail send when SMTPConfig.Timeout is zero.
const DefaultSMTPTimeout = 30 * time.Second

// SMTPConfig says how to reach the mail server that sends the e-mail
// channel. ParseSMTPURL makes one from IDP_SMTP_URL.
type SMTPConfig struct {
	Host string
	Port int
	// ImplicitTLS (smtps://) speaks TLS from the first byte (RFC 8314).
	// Otherwise the connection is upgraded with STARTTLS (RFC 3207), which
	// is required unless Host is loopback: on a loopback host the
	// connection stays plain (it never leaves the machine).
	ImplicitTLS bool
	// Username and Password authenticate to the server when Username is
	// set. They are only ever sent over TLS, or to a loopback host.
	Username string
	Password string
	// From is the sender, an RFC 5322 address ("Госуслуги
	// <noreply@example.ru>" or a bare address): the From header and the
	// envelope sender.
	From string
	// Timeout bounds one send: connection, TLS, authentication and
	// transfer (DefaultSMTPTimeout when zero).
	Timeout time.Duration
	// TLS, when not nil, replaces the default TLS settings (the system's
	// roots, TLS 1.2 or later, the server name Host).
	TLS *tls.Config
}

// ParseSMTPURL reads IDP_SMTP_URL:
//
//	smtp://user:password@host:587?from=noreply@example.ru   STARTTLS (port 587 by default)
//	smtps://user:password@host:465?from=noreply@example.ru  implicit TLS (port 465 by default)
//
// The user and password are optional (no authentication without them) and
// percent-encoded where they hold reserved characters; from is required.
// Its errors name every problem and never repeat the URL or its password.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.Host == "" {
		// url.Parse's error quotes the URL, password and all: never wrap it.
		return SMTPConfig{}, errors.New("must be a URL such as smtp://user:password@host:587?from=noreply@example.ru (percent-encode reserved characters in the user and password)")
	}
	var c SMTPConfig
	var problems []string
	switch u.Scheme {
	case "smtp":
		c.Port = 587
	case "smtps":
		c.ImplicitTLS, c.Port = true, 465
	default:
		problems = append(problems, "the scheme must be smtp (STARTTLS) or smtps (implicit TLS)")
	}
	c.Host = u.Hostname()
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			problems = append(problems, "the port must be a number from 1 to 65535")
		}
		c.Port = n
	}
	if c.Host == "" {
		problems = append(problems, "the host is missing")
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
		switch {
		case c.Username == "":
			problems = append(problems, "a password without a user")
		case c.Password == "":
			problems = append(problems, "a user without a password")
		}
	}
	if u.Path != "" && u.Path != "/" {
		problems = append(problems, "must not have a path")
	}
	if u.Fragment != "" {
		problems = append(problems, "must not have a fragment")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		problems = append(problems, "the query does not parse")
	}
	for k := range q {
		if k != "from" {
			problems = append(problems, fmt.Sprintf("unknown parameter %q (only from is known)", k))
		}
	}
	switch from := q.Get("from"); {
	case from == "":
		problems = append(problems, "from= is required (the sender, e.g. from=noreply@example.ru)")
	default:
		if _, err := mail.ParseAddress(from); err != nil {
			problems = append(problems, fmt.Sprintf("from= must be an e-mail address such as noreply@example.ru or \"Name <noreply@example.ru>\", got %q", from))
		}
		c.From = from
	}
	if len(problems) > 0 {
		return SMTPConfig{}, errors.New(strings.Join(problems, "; "))
	}
	return c, nil
}

// RequiresTLS reports whether the connection must be encrypted before
// anything is sent: always, except over plain smtp:// to a loopback host.
func (c SMTPConfig) RequiresTLS() bool { return c.ImplicitTLS || !isLoopback(c.Host) }

// SMTP sends the e-mail channel through a mail server (github.com/wneessen/go-mail).
// Each Send opens its own connection. It never logs: its errors carry the
// server's replies, never the password, the text or the code.
type SMTP struct {
	cfg  SMTPConfig
	from string
	tls  *tls.Config
	// dial opens the TCP connection; tests point a public name at a
	// loopback listener with it.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

var _ Notifier = (*SMTP)(nil)

// NewSMTP returns a sender for cfg.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	if cfg.Host == "" || cfg.Port < 1 || cfg.Port > 65535 {
		return nil, errors.New("notify: smtp: a host and a port are required")
	}
	if cfg.Username == "" && cfg.Password != "" {
		return nil, errors.New("notify: smtp: a password without a user")
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("notify: smtp: the sender address: %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultSMTPTimeout
	}
	t := cfg.TLS.Clone()
	if t == nil {
		t = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if t.ServerName == "" {
		t.ServerName = cfg.Host
	}
	var d net.Dialer
	return &SMTP{cfg: cfg, from: from.String(), tls: t, dial: d.DialContext}, nil
}

// Send sends m.Subject and m.Body as a text/plain UTF-8 e-mail to m.To.
// It gives up when ctx is done or the configured timeout passes, whichever
// comes first; the error then wraps ctx's error. Within a recording span
// (a traced job) the send is a client span of its own.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	ctx, span := tracing.Start(ctx, "SMTP send", trace.SpanKindClient)
	defer span.End()
	if !span.IsRecording() {
		return s.send(ctx, m)
	}
	span.SetAttributes(tracing.PeerServiceKey.String("smtp"),
		semconv.ServerAddress(s.cfg.Host), semconv.ServerPort(s.cfg.Port))
	err := s.send(ctx, m)
	if err != nil {
		span.SetAttributes(semconv.ErrorType(err))
		span.SetStatus(codes.Error, "")
	}
	return err
}

func (s *SMTP) send(ctx context.Context, m Message) error {
	if m.Channel != Email {
		return fmt.Errorf("notify: smtp: cannot send a %s message", m.Channel)
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("notify: smtp: the sender address: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("notify: smtp: the recipient address: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, m.Body)
	// RFC 3834: an automatic message, not to be answered automatically.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")

	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	dial := func(_ context.Context, network, addr string) (net.Conn, error) {
		// go-mail hands the dialer a context that ends with the dial; the
		// connection must live, and be cut, with the send's.
		conn, err := s.dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if s.cfg.ImplicitTLS {
			tc := tls.Client(conn, s.tls)
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				return nil, err
			}
			conn = tc
		}
		// go-mail's own deadlines restart at each command: closing the
		// connection when ctx ends keeps a slow server from holding the
		// send longer. The deferred cancel closes it in any case.
		context.AfterFunc(ctx, func() { conn.Close() })
		return conn, nil
	}
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.cfg.Timeout),
		gomail.WithDialContextFunc(dial),
		gomail.WithTLSConfig(s.tls),
		// One message per connection: no NOOP before it, no RSET after.
		gomail.WithoutNoop(),
		gomail.WithoutRset(),
	}
	switch {
	case s.cfg.ImplicitTLS:
		opts = append(opts, gomail.WithSSL())
	case s.cfg.RequiresTLS():
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
		if s.cfg.RequiresTLS() {
			// go-mail's PLAIN and LOGIN also refuse a connection that is
			// not TLS.
			opts = append(opts, gomail.WithOpportunisticSMTPAuth(
				gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthPlain, gomail.SMTPAuthLogin))
		} else {
			opts = append(opts, gomail.WithOpportunisticSMTPAuth(
				gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc))
		}
	}
	client, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("notify: smtp: %w", err)
	}
	conn, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return s.failed(ctx, "connect", err)
	}
	err = client.SendWithSMTPClient(conn, msg)
	// Once the server has taken the message, a failing QUIT does not undo
	// it: reporting a failure would have it sent twice.
	_ = client.CloseWithSMTPClient(conn)
	if err != nil && !msg.IsDelivered() {
		return s.failed(ctx, "send", err)
	}
	return nil
}

// failed wraps what made a send fail, and ctx's error when ctx ended first.
func (s *SMTP) failed(ctx context.Context, step string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("notify: smtp: %s: %w (%w)", step, ctxErr, err)
	}
	return fmt.Errorf("notify: smtp: %s: %w", step, err)
}

// isLoopback reports whether host is localhost, 127.0.0.0/8 or ::1.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
