package notify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// remoteHost is the name the tests give a mail server that is not on a
// loopback host; the sender's dial hook takes it to the test's listener.
const remoteHost = "mail.example.test"

// testCert is a self-signed certificate for remoteHost and 127.0.0.1, and
// the pool that trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: remoteHost},
		DNSNames:     []string{remoteHost},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// mailServer is an in-process SMTP server (github.com/emersion/go-smtp)
// that records what it is sent.
type mailServer struct {
	addr string

	// Set before start.
	user, pass string        // offer AUTH PLAIN and accept these; empty: no AUTH
	rcptErr    error         // RCPT TO answers this
	stall      chan struct{} // MAIL FROM waits until it is closed

	mu    sync.Mutex
	auths []string // the users that authenticated, and "!user" for a refused one
	mails []received
}

type received struct {
	from string
	to   []string
	data []byte
	tls  bool
}

type serverMode int

const (
	plainOnly     serverMode = iota // no STARTTLS
	withSTARTTLS                    // STARTTLS offered; AUTH only after it
	implicitTLS                     // TLS from the first byte
	plainWithAuth                   // no STARTTLS, AUTH offered in the clear
)

func (ms *mailServer) start(t *testing.T, mode serverMode, cert tls.Certificate) {
	t.Helper()
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s := &session{ms: ms, conn: c}
		if ms.user != "" {
			return &authSession{s}, nil
		}
		return s, nil
	}))
	srv.Domain = "mail.example.test"
	srv.AllowInsecureAuth = mode == plainWithAuth
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	if mode == withSTARTTLS {
		srv.TLSConfig = tlsCfg
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if mode == implicitTLS {
		ln = tls.NewListener(ln, tlsCfg)
	}
	ms.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	if ms.stall != nil {
		t.Cleanup(func() { close(ms.stall) }) // runs before srv.Close
	}
}

func (ms *mailServer) got() ([]string, []received) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]string(nil), ms.auths...), append([]received(nil), ms.mails...)
}

type session struct {
	ms   *mailServer
	conn *smtp.Conn
	cur  received
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.ms.stall != nil {
		<-s.ms.stall
		return errors.New("stalled")
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.cur = received{from: from, tls: isTLS}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.ms.rcptErr != nil {
		return s.ms.rcptErr
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.ms.mu.Lock()
	s.ms.mails = append(s.ms.mails, s.cur)
	s.ms.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }

type authSession struct{ *session }

func (s *authSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *authSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		s.ms.mu.Lock()
		defer s.ms.mu.Unlock()
		if user != s.ms.user || pass != s.ms.pass {
			s.ms.auths = append(s.ms.auths, "!"+user)
			return smtp.ErrAuthFailed
		}
		s.ms.auths = append(s.ms.auths, user)
		return nil
	}), nil
}

// newTestSMTP is a sender for cfg whose connections go to the server at
// addr whatever cfg.Host says, trusting pool.
func newTestSMTP(t *testing.T, cfg SMTPConfig, addr string, pool *x509.CertPool) *SMTP {
	t.Helper()
	if cfg.From == "" {
		cfg.From = "Госуслуги <noreply@example.ru>"
	}
	cfg.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	s, err := NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var d net.Dialer
	s.dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	return s
}

const (
	testSubject = "Код подтверждения"
	testBody    = "Ваш код: 482913.\nНикому его не сообщайте."
	testCode    = "482913"
	testPass    = "pa55-w0rd-not-to-be-seen"
)

func testEmail() Message {
	return Message{Channel: Email, To: "citizen@example.ru", Subject: testSubject, Body: testBody, Code: testCode}
}

// checkDelivered wants exactly one message from noreply@example.ru to
// citizen@example.ru with the test subject and body as text/plain UTF-8.
func checkDelivered(t *testing.T, mails []received, wantTLS bool) {
	t.Helper()
	if len(mails) != 1 {
		t.Fatalf("server got %d messages, want 1", len(mails))
	}
	got := mails[0]
	if got.from != "noreply@example.ru" || len(got.to) != 1 || got.to[0] != "citizen@example.ru" {
		t.Errorf("envelope from %q to %q", got.from, got.to)
	}
	if got.tls != wantTLS {
		t.Errorf("message sent with TLS %v, want %v", got.tls, wantTLS)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(got.data))
	if err != nil {
		t.Fatalf("message does not parse: %v\n%s", err, got.data)
	}
	h := msg.Header
	if from, err := mail.ParseAddress(h.Get("From")); err != nil || from.Address != "noreply@example.ru" || from.Name != "Госуслуги" {
		t.Errorf("From: %q (%v)", h.Get("From"), err)
	}
	if to, err := mail.ParseAddress(h.Get("To")); err != nil || to.Address != "citizen@example.ru" {
		t.Errorf("To: %q (%v)", h.Get("To"), err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil || subject != testSubject {
		t.Errorf("Subject: %q decodes to %q (%v)", h.Get("Subject"), subject, err)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "text/plain" || !strings.EqualFold(params["charset"], "utf-8") {
		t.Errorf("Content-Type: %q", h.Get("Content-Type"))
	}
	if h.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("Auto-Submitted: %q", h.Get("Auto-Submitted"))
	}
	body := msg.Body
	if strings.EqualFold(h.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	// The message ends with a line break on the wire (RFC 5321 §4.1.1.4:
	// the data end with CRLF before the final dot).
	text := strings.TrimSuffix(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	if text != testBody {
		t.Errorf("body %q, want %q", text, testBody)
	}
}

// TestSMTPSTARTTLSWithAuth: to a host that is not loopback, the sender
// upgrades with STARTTLS, authenticates with the URL's credentials, and the
// message arrives with its from, to, subject and body.
func TestSMTPSTARTTLSWithAuth(t *testing.T) {
	t.Parallel()
	cert, pool := testCert(t)
	ms := &mailServer{user: "idp", pass: testPass}
	ms.start(t, withSTARTTLS, cert)
	s := newTestSMTP(t, SMTPConfig{Host: remoteHost, Port: 587, Username: "idp", Password: testPass}, ms.addr, pool)
	if err := s.Send(t.Context(), testEmail()); err != nil {
		t.Fatal(err)
	}
	auths, mails := ms.got()
	if len(auths) != 1 || auths[0] != "idp" {
		t.Errorf("authentications %q, want [idp]", auths)
	}
	checkDelivered(t, mails, true)
}

// TestSMTPImplicitTLS: smtps speaks TLS from the first byte.
func TestSMTPImplicitTLS(t *testing.T) {
	t.Parallel()
	cert, pool := testCert(t)
	ms := &mailServer{user: "idp", pass: testPass}
	ms.start(t, implicitTLS, cert)
	s := newTestSMTP(t, SMTPConfig{Host: remoteHost, Port: 465, ImplicitTLS: true, Username: "idp", Password: testPass}, ms.addr, pool)
	if err := s.Send(t.Context(), testEmail()); err != nil {
		t.Fatal(err)
	}
	auths, mails := ms.got()
	if len(auths) != 1 || auths[0] != "idp" {
		t.Errorf("authentications %q, want [idp]", auths)
	}
	checkDelivered(t, mails, true)
}

// TestSMTPNoCredentialsNoAuth: without a user in the URL the sender does
// not authenticate, even where the server offers it.
func TestSMTPNoCredentialsNoAuth(t *testing.T) {
	t.Parallel()
	cert, pool := testCert(t)
	ms := &mailServer{user: "idp", pass: testPass}
	ms.start(t, plainWithAuth, cert)
	s := newTestSMTP(t, SMTPConfig{Host: "127.0.0.1", Port: 25}, ms.addr, pool)
	if err := s.Send(t.Context(), testEmail()); err != nil {
		t.Fatal(err)
	}
	auths, mails := ms.got()
	if len(auths) != 0 {
		t.Errorf("authentications %q, want none", auths)
	}
	checkDelivered(t, mails, false)
}

// TestSMTPLoopbackPlain: to a loopback host the connection may stay plain,
// credentials included (a local relay: nothing leaves the machine).
func TestSMTPLoopbackPlain(t *testing.T) {
	t.Parallel()
	cert, pool := testCert(t)
	ms := &mailServer{user: "idp", pass: testPass}
	ms.start(t, plainWithAuth, cert)
	s := newTestSMTP(t, SMTPConfig{Host: "127.0.0.1", Port: 25, Username: "idp", Password: testPass}, ms.addr, pool)
	if err := s.Send(t.Context(), testEmail()); err != nil {
		t.Fatal(err)
	}
	auths, mails := ms.got()
	if len(auths) != 1 || auths[0] != "idp" {
		t.Errorf("authentications %q, want [idp]", auths)
	}
	checkDelivered(t, mails, false)
}

// TestSMTPRefusesPlainToRemoteHost: a server that is not loopback and does
// not offer STARTTLS gets neither the credentials nor the message.
func TestSMTPRefusesPlainToRemoteHost(t *testing.T) {
	t.Parallel()
	cert, pool := testCert(t)
	ms := &mailServer{user: "idp", pass: testPass}
	ms.start(t, plainWithAuth, cert)
	s := newTestSMTP(t, SMTPConfig{Host: remoteHost, Port: 587, Username: "idp", Password: testPass}, ms.addr, pool)
	expectNothingSent(t, s, ms, "over a plain connection to a remote host")
}

// expectNothingSent checks that a send fails cleanly before the server gets
// the credentials or the message.
func expectNothingSent(t *testing.T, s *SMTP, ms *mailServer, what string) {
	t.Helper()
	err := s.Send(t.Context(), testEmail())
	if err == nil {
		t.Fatal("sent " + what)
	}
	checkErrorClean(t, err)
	if auths, mails := ms.got(); len(auths) != 0 || len(mails) != 0 {
		t.Errorf("server got authentications %q and %d messages", auths, len(mails))
	}
}

// TestSMTPUntrustedCertificate: STARTTLS to a server whose certificate
// does not verify fails before the credentials or the message are sent.
func TestSMTPUntrustedCertificate(t *testing.T) {
	t.Parallel()
	cert, _ := testCert(t)
	_, otherPool := testCert(t)
	ms := &mailServer{user: "idp", pass: testPass}
	ms.start(t, withSTARTTLS, cert)
	s := newTestSMTP(t, SMTPConfig{Host: remoteHost, Port: 587, Username: "idp", Password: testPass}, ms.addr, otherPool)
	expectNothingSent(t, s, ms, "to a server whose certificate does not verify")
}

// TestSMTPServerRefuses: a refused recipient and refused credentials are
// errors, which name neither the password nor the text or its code.
func TestSMTPServerRefuses(t *testing.T) {
	t.Parallel()
	cert, pool := testCert(t)
	t.Run("recipient", func(t *testing.T) {
		t.Parallel()
		ms := &mailServer{rcptErr: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}}
		ms.start(t, withSTARTTLS, cert)
		s := newTestSMTP(t, SMTPConfig{Host: remoteHost, Port: 587}, ms.addr, pool)
		err := s.Send(t.Context(), testEmail())
		if err == nil {
			t.Fatal("a refused recipient is not an error")
		}
		if !strings.Contains(err.Error(), "550") {
			t.Errorf("error %q lacks the server's reply", err)
		}
		checkErrorClean(t, err)
		if _, mails := ms.got(); len(mails) != 0 {
			t.Errorf("server got %d messages", len(mails))
		}
	})
	t.Run("credentials", func(t *testing.T) {
		t.Parallel()
		ms := &mailServer{user: "idp", pass: "another password"}
		ms.start(t, withSTARTTLS, cert)
		s := newTestSMTP(t, SMTPConfig{Host: remoteHost, Port: 587, Username: "idp", Password: testPass}, ms.addr, pool)
		err := s.Send(t.Context(), testEmail())
		if err == nil {
			t.Fatal("refused credentials are not an error")
		}
		checkErrorClean(t, err)
		if auths, mails := ms.got(); len(auths) != 1 || auths[0] != "!idp" || len(mails) != 0 {
			t.Errorf("server got authentications %q and %d messages", auths, len(mails))
		}
	})
}

// TestSMTPSlowServer: a server that stops answering makes Send fail when
// the context's deadline, or else the configured timeout, passes.
func TestSMTPSlowServer(t *testing.T) {
	t.Parallel()
	cert, pool := testCert(t)
	t.Run("context deadline", func(t *testing.T) {
		t.Parallel()
		ms := &mailServer{stall: make(chan struct{})}
		ms.start(t, withSTARTTLS, cert)
		s := newTestSMTP(t, SMTPConfig{Host: remoteHost, Port: 587}, ms.addr, pool)
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		if err := s.Send(ctx, testEmail()); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Send = %v, want a deadline error", err)
		}
	})
	t.Run("configured timeout", func(t *testing.T) {
		t.Parallel()
		ms := &mailServer{stall: make(chan struct{})}
		ms.start(t, withSTARTTLS, cert)
		s := newTestSMTP(t, SMTPConfig{Host: remoteHost, Port: 587, Timeout: 200 * time.Millisecond}, ms.addr, pool)
		if err := s.Send(t.Context(), testEmail()); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Send = %v, want a deadline error", err)
		}
	})
}

// TestSMTPOnlyEmail: the SMTP sender refuses a message of another channel.
func TestSMTPOnlyEmail(t *testing.T) {
	t.Parallel()
	s, err := NewSMTP(SMTPConfig{Host: remoteHost, Port: 587, From: "noreply@example.ru"})
	if err != nil {
		t.Fatal(err)
	}
	m := testEmail()
	m.Channel = SMS
	if err := s.Send(t.Context(), m); err == nil {
		t.Fatal("sent an SMS by e-mail")
	}
}

func checkErrorClean(t *testing.T, err error) {
	t.Helper()
	for _, secret := range []string{testPass, testCode, "Ваш код"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q holds %q", err, secret)
		}
	}
}

func TestParseSMTPURL(t *testing.T) {
	t.Parallel()
	ok := []struct {
		url  string
		want SMTPConfig
	}{
		{"smtp://idp:s3cret@mail.example.ru?from=noreply@example.ru",
			SMTPConfig{Host: "mail.example.ru", Port: 587, Username: "idp", Password: "s3cret", From: "noreply@example.ru"}},
		{"smtps://mail.example.ru?from=noreply@example.ru",
			SMTPConfig{Host: "mail.example.ru", Port: 465, ImplicitTLS: true, From: "noreply@example.ru"}},
		{"smtp://127.0.0.1:25/?from=%D0%93%D0%BE%D1%81%D1%83%D1%81%D0%BB%D1%83%D0%B3%D0%B8%20%3Cnoreply%40example.ru%3E",
			SMTPConfig{Host: "127.0.0.1", Port: 25, From: "Госуслуги <noreply@example.ru>"}},
		{"smtps://user%40example.ru:p%40ss%3Aw%2Frd%23@[::1]:2465?from=noreply@example.ru",
			SMTPConfig{Host: "::1", Port: 2465, ImplicitTLS: true, Username: "user@example.ru", Password: "p@ss:w/rd#", From: "noreply@example.ru"}},
	}
	for _, tt := range ok {
		got, err := ParseSMTPURL(tt.url)
		if err != nil || got != tt.want {
			t.Errorf("ParseSMTPURL(%q) = %+v, %v; want %+v", tt.url, got, err, tt.want)
		}
	}
	const pw = "Hidden-Pa55"
	bad := []struct {
		url, want string // want: a part of the error
	}{
		{"mail.example.ru:587", "must be a URL"},
		{"smtp://idp:" + pw + "@mail.example.ru:bad?from=a@b.ru", "must be a URL"},
		{"smtp://idp:" + pw + "@mail.example.ru:99999?from=a@b.ru", "port"},
		{"smtp://idp:" + pw + "@mail.example.ru:0?from=a@b.ru", "port"},
		{"http://idp:" + pw + "@mail.example.ru?from=a@b.ru", "scheme"},
		{"smtp://idp:" + pw + "@mail.example.ru", "from= is required"},
		{"smtp://idp:" + pw + "@mail.example.ru?from=not-an-address", "from= must be"},
		{"smtp://idp:" + pw + "@mail.example.ru?from=a@b.ru&form=x", `unknown parameter "form"`},
		{"smtp://idp@mail.example.ru?from=a@b.ru", "a user without a password"},
		{"smtp://:" + pw + "@mail.example.ru?from=a@b.ru", "a password without a user"},
		{"smtp://idp:" + pw + "@mail.example.ru/path?from=a@b.ru", "path"},
		{"smtp://idp:" + pw + "@mail.example.ru?from=a@b.ru#frag", "fragment"},
		{"smtp://idp:" + pw + "@:587?from=a@b.ru", "host"},
		{"smtp://idp:" + pw + "@mail.example.ru\x7f?from=a@b.ru", "must be a URL"},
		{"smtp://idp:" + pw + "@mail.example.ru?from=%zz", "the query does not parse"},
	}
	for _, tt := range bad {
		_, err := ParseSMTPURL(tt.url)
		if err == nil {
			t.Errorf("ParseSMTPURL(%q) accepted", tt.url)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSMTPURL(%q) = %q, want it to say %q", tt.url, err, tt.want)
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("ParseSMTPURL(%q) = %q: holds the password", tt.url, err)
		}
	}
	// Every problem at once.
	_, err := ParseSMTPURL("ftp://idp@mail.example.ru/x?form=1")
	for _, want := range []string{"scheme", "a user without a password", "path", `unknown parameter "form"`, "from= is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSMTPURL with five problems = %v, want it to say %q", err, want)
		}
	}
}

func TestSMTPRequiresTLS(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cfg  SMTPConfig
		want bool
	}{
		{SMTPConfig{Host: "mail.example.ru"}, true},
		{SMTPConfig{Host: "10.0.0.5"}, true},
		{SMTPConfig{Host: "127.0.0.1.example.ru"}, true},
		{SMTPConfig{Host: "127.0.0.1"}, false},
		{SMTPConfig{Host: "127.1.2.3"}, false},
		{SMTPConfig{Host: "::1"}, false},
		{SMTPConfig{Host: "LocalHost"}, false},
		{SMTPConfig{Host: "127.0.0.1", ImplicitTLS: true}, true},
	} {
		if got := tt.cfg.RequiresTLS(); got != tt.want {
			t.Errorf("%+v.RequiresTLS() = %v, want %v", tt.cfg, got, tt.want)
		}
	}
}
