package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	smsToken = "gw-token-never-in-an-error-0123456789"
	smsText  = "Код для входа: 735190. Никому не сообщайте."
	smsCode  = "735190"
	smsTo    = "+79161234567"
)

// gateway is an httptest SMS gateway that answers each request with the
// next of its answers (the last one repeated) and records what it got.
type gateway struct {
	answers []func(w http.ResponseWriter, r *http.Request)

	mu   sync.Mutex
	reqs []gatewayRequest
}

type gatewayRequest struct {
	method, path, contentType, auth, idem string
	body                                  []byte
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	n := len(g.reqs)
	g.reqs = append(g.reqs, gatewayRequest{
		method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type"),
		auth: r.Header.Get("Authorization"), idem: r.Header.Get("Idempotency-Key"), body: b,
	})
	g.mu.Unlock()
	g.answers[min(n, len(g.answers)-1)](w, r)
}

func (g *gateway) requests() []gatewayRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]gatewayRequest(nil), g.reqs...)
}

func status(code int, header ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		// A gateway may echo what it was sent: the sender must not keep it.
		io.WriteString(w, `{"error":"echo `+smsText+`"}`)
	}
}

// hangUp closes the connection without an answer: a network failure.
func hangUp(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

// stall answers only when the request is abandoned.
func stall(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// newTestGateway starts g and returns a sender to it whose waits are
// recorded instead of slept.
func newTestGateway(t *testing.T, g *gateway, cfg SMSGatewayConfig) (*SMSGateway, *[]time.Duration) {
	t.Helper()
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	cfg.URL = srv.URL + "/v1/sms?account=idp"
	cfg.Token = smsToken
	s, err := NewSMSGateway(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	waits := new([]time.Duration)
	s.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		*waits = append(*waits, d)
		return ctx.Err()
	}
	return s, waits
}

func testSMS() Message { return Message{Channel: SMS, To: smsTo, Body: smsText, Code: smsCode} }

func checkSMSErrorClean(t *testing.T, err error) {
	t.Helper()
	for _, secret := range []string{smsToken, smsCode, "Никому", "account=idp"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q holds %q", err, secret)
		}
	}
}

// TestSMSGatewaySends: one POST of {"to","text"} as JSON with the bearer
// token and an idempotency key; a 2xx answer is success.
func TestSMSGatewaySends(t *testing.T) {
	t.Parallel()
	g := &gateway{answers: []func(http.ResponseWriter, *http.Request){status(http.StatusAccepted)}}
	s, waits := newTestGateway(t, g, SMSGatewayConfig{})
	if err := s.Send(t.Context(), testSMS()); err != nil {
		t.Fatal(err)
	}
	reqs := g.requests()
	if len(reqs) != 1 || len(*waits) != 0 {
		t.Fatalf("%d requests, %d waits; want 1, 0", len(reqs), len(*waits))
	}
	r := reqs[0]
	if r.method != http.MethodPost || r.path != "/v1/sms" {
		t.Errorf("request %s %s", r.method, r.path)
	}
	if r.contentType != "application/json" {
		t.Errorf("Content-Type %q", r.contentType)
	}
	if r.auth != "Bearer "+smsToken {
		t.Errorf("Authorization %q", r.auth)
	}
	if len(r.idem) != 32 {
		t.Errorf("Idempotency-Key %q", r.idem)
	}
	var body map[string]any
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	if keys := slices.Sorted(maps.Keys(body)); !slices.Equal(keys, []string{"text", "to"}) {
		t.Errorf("body has fields %v, want [text to]", keys)
	}
	if body["to"] != smsTo || body["text"] != smsText {
		t.Errorf("body %q", r.body)
	}
}

// TestSMSGatewayNoRetryOn4xx: a 4xx other than 429 is final: one request,
// ErrRejected, and an error without the token, the text or the URL's query.
func TestSMSGatewayNoRetryOn4xx(t *testing.T) {
	t.Parallel()
	for _, code := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity} {
		g := &gateway{answers: []func(http.ResponseWriter, *http.Request){status(code), status(http.StatusOK)}}
		s, waits := newTestGateway(t, g, SMSGatewayConfig{})
		err := s.Send(t.Context(), testSMS())
		if !errors.Is(err, ErrRejected) {
			t.Errorf("%d: Send = %v, want ErrRejected", code, err)
			continue
		}
		checkSMSErrorClean(t, err)
		if n := len(g.requests()); n != 1 || len(*waits) != 0 {
			t.Errorf("%d: %d requests, %d waits; want 1, 0", code, n, len(*waits))
		}
	}
}

// TestSMSGatewayRetries5xx: a 5xx is tried again after a backoff wait, with
// the same idempotency key, and a success then is success.
func TestSMSGatewayRetries5xx(t *testing.T) {
	t.Parallel()
	g := &gateway{answers: []func(http.ResponseWriter, *http.Request){status(http.StatusServiceUnavailable), status(http.StatusOK)}}
	s, waits := newTestGateway(t, g, SMSGatewayConfig{Backoff: 400 * time.Millisecond})
	if err := s.Send(t.Context(), testSMS()); err != nil {
		t.Fatal(err)
	}
	reqs := g.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if reqs[0].idem != reqs[1].idem || string(reqs[0].body) != string(reqs[1].body) {
		t.Errorf("the attempts differ: %+v", reqs)
	}
	if len(*waits) != 1 || (*waits)[0] < 200*time.Millisecond || (*waits)[0] > 400*time.Millisecond {
		t.Errorf("waits %v, want one between 200ms and 400ms", *waits)
	}
}

// TestSMSGatewayRetryAfter: a 429's Retry-After is waited as asked.
func TestSMSGatewayRetryAfter(t *testing.T) {
	t.Parallel()
	g := &gateway{answers: []func(http.ResponseWriter, *http.Request){status(http.StatusTooManyRequests, "Retry-After", "2"), status(http.StatusOK)}}
	s, waits := newTestGateway(t, g, SMSGatewayConfig{})
	if err := s.Send(t.Context(), testSMS()); err != nil {
		t.Fatal(err)
	}
	if n := len(g.requests()); n != 2 || !slices.Equal(*waits, []time.Duration{2 * time.Second}) {
		t.Errorf("%d requests, waits %v; want 2, [2s]", n, *waits)
	}
}

// TestSMSGatewayRetryAfterOverCap: a gateway asking for a longer wait than
// MaxWait ends the attempts at once.
func TestSMSGatewayRetryAfterOverCap(t *testing.T) {
	t.Parallel()
	g := &gateway{answers: []func(http.ResponseWriter, *http.Request){status(http.StatusServiceUnavailable, "Retry-After", "120"), status(http.StatusOK)}}
	s, waits := newTestGateway(t, g, SMSGatewayConfig{MaxWait: 5 * time.Second})
	err := s.Send(t.Context(), testSMS())
	if err == nil || errors.Is(err, ErrRejected) {
		t.Fatalf("Send = %v, want a failure that is not a rejection", err)
	}
	if n := len(g.requests()); n != 1 || len(*waits) != 0 {
		t.Errorf("%d requests, %d waits; want 1, 0", n, len(*waits))
	}
}

// TestSMSGatewayAllFail: a gateway that keeps failing is tried Attempts
// times, each wait within MaxWait, and the result is an error.
func TestSMSGatewayAllFail(t *testing.T) {
	t.Parallel()
	g := &gateway{answers: []func(http.ResponseWriter, *http.Request){status(http.StatusInternalServerError)}}
	s, waits := newTestGateway(t, g, SMSGatewayConfig{Attempts: 4, Backoff: time.Second, MaxWait: 3 * time.Second})
	err := s.Send(t.Context(), testSMS())
	if err == nil || errors.Is(err, ErrRejected) {
		t.Fatalf("Send = %v, want a failure that is not a rejection", err)
	}
	checkSMSErrorClean(t, err)
	if n := len(g.requests()); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
	if len(*waits) != 3 {
		t.Fatalf("waits %v, want 3", *waits)
	}
	for i, d := range *waits {
		if d <= 0 || d > 3*time.Second {
			t.Errorf("wait %d is %s, want within (0, 3s]", i, d)
		}
	}
}

// TestSMSGatewayNetworkError: a connection dropped without an answer is
// tried again.
func TestSMSGatewayNetworkError(t *testing.T) {
	t.Parallel()
	g := &gateway{answers: []func(http.ResponseWriter, *http.Request){hangUp, status(http.StatusOK)}}
	s, waits := newTestGateway(t, g, SMSGatewayConfig{})
	if err := s.Send(t.Context(), testSMS()); err != nil {
		t.Fatal(err)
	}
	if n := len(g.requests()); n != 2 || len(*waits) != 1 {
		t.Errorf("%d requests, %d waits; want 2, 1", n, len(*waits))
	}
}

// TestSMSGatewaySlow: an attempt that outlasts its timeout is tried again;
// the context's deadline ends the whole send.
func TestSMSGatewaySlow(t *testing.T) {
	t.Parallel()
	t.Run("attempt timeout", func(t *testing.T) {
		t.Parallel()
		g := &gateway{answers: []func(http.ResponseWriter, *http.Request){stall, status(http.StatusOK)}}
		s, _ := newTestGateway(t, g, SMSGatewayConfig{Timeout: 100 * time.Millisecond})
		if err := s.Send(t.Context(), testSMS()); err != nil {
			t.Fatal(err)
		}
		if n := len(g.requests()); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
	t.Run("context deadline", func(t *testing.T) {
		t.Parallel()
		g := &gateway{answers: []func(http.ResponseWriter, *http.Request){stall}}
		s, _ := newTestGateway(t, g, SMSGatewayConfig{})
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		err := s.Send(ctx, testSMS())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Send = %v, want a deadline error", err)
		}
		checkSMSErrorClean(t, err)
	})
}

// TestSMSGatewayNoRedirect: a redirect is not followed (the token would go
// with it) and is an error.
func TestSMSGatewayNoRedirect(t *testing.T) {
	t.Parallel()
	g := &gateway{answers: []func(http.ResponseWriter, *http.Request){status(http.StatusTemporaryRedirect, "Location", "/elsewhere"), status(http.StatusOK)}}
	s, _ := newTestGateway(t, g, SMSGatewayConfig{})
	if err := s.Send(t.Context(), testSMS()); err == nil {
		t.Fatal("a redirect is success")
	}
	if reqs := g.requests(); len(reqs) != 1 {
		t.Errorf("%d requests, want 1", len(reqs))
	}
}

// TestSMSGatewayUntrustedCertificate: a gateway whose certificate does
// not verify is not tried again.
func TestSMSGatewayUntrustedCertificate(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	conns := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	srv.StartTLS()
	t.Cleanup(srv.Close)
	s, err := NewSMSGateway(SMSGatewayConfig{URL: srv.URL, Token: smsToken})
	if err != nil {
		t.Fatal(err)
	}
	s.sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	if err := s.Send(t.Context(), testSMS()); err == nil {
		t.Fatal("sent to a gateway whose certificate does not verify")
	}
	mu.Lock()
	defer mu.Unlock()
	if conns != 1 {
		t.Errorf("%d connections, want 1", conns)
	}
}

// TestSMSGatewayRecipient: only an E.164 phone is sent, and only by SMS.
func TestSMSGatewayRecipient(t *testing.T) {
	t.Parallel()
	g := &gateway{answers: []func(http.ResponseWriter, *http.Request){status(http.StatusOK)}}
	s, _ := newTestGateway(t, g, SMSGatewayConfig{})
	for _, m := range []Message{
		{Channel: SMS, To: "89161234567", Body: "x"},
		{Channel: SMS, To: "+7 916 123-45-67", Body: "x"},
		{Channel: SMS, To: "+0161234567", Body: "x"},
		{Channel: Email, To: smsTo, Body: "x"},
	} {
		if err := s.Send(t.Context(), m); err == nil {
			t.Errorf("sent %+v", m)
		}
	}
	if n := len(g.requests()); n != 0 {
		t.Errorf("%d requests, want 0", n)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		" 0 ":                           0,
		"-1":                            0,
		"soon":                          0,
		"Tue, 01 Dec 2026 10:00:07 GMT": 7 * time.Second,
		"Tue, 01 Dec 2026 09:59:00 GMT": 0,
	} {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}

func TestCheckSMSGatewayURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"https://sms.example.ru/send",
		"https://sms.example.ru:8443/v1/sms?apikey=k",
		"http://127.0.0.1:9000/sms",
		"http://localhost/sms",
		"http://[::1]:9000/sms",
	} {
		if err := CheckSMSGatewayURL(u); err != nil {
			t.Errorf("CheckSMSGatewayURL(%q) = %v", u, err)
		}
	}
	for _, u := range []string{
		"",
		"sms.example.ru/send",
		"/send",
		"ftp://sms.example.ru/send",
		"http://sms.example.ru/send?apikey=Secret-Key-1",
		"https://user:Secret-Key-1@sms.example.ru/send",
		"https://sms.example.ru/send#Secret-Key-1",
		"https://sms.example.ru:bad/send?apikey=Secret-Key-1",
		"mailto:sms@example.ru",
	} {
		err := CheckSMSGatewayURL(u)
		if err == nil {
			t.Errorf("CheckSMSGatewayURL(%q) accepted", u)
		} else if strings.Contains(err.Error(), "Secret-Key-1") {
			t.Errorf("CheckSMSGatewayURL(%q) = %q: holds the key", u, err)
		}
	}
}

func TestCheckSMSGatewayToken(t *testing.T) {
	t.Parallel()
	if err := CheckSMSGatewayToken("abc.DEF-123_~+/="); err != nil {
		t.Errorf("a token68 value: %v", err)
	}
	for _, tok := range []string{"", "two words", "line\nbreak", "токен", "tab\t"} {
		err := CheckSMSGatewayToken(tok)
		if err == nil {
			t.Errorf("CheckSMSGatewayToken(%q) accepted", tok)
		} else if tok != "" && strings.Contains(err.Error(), tok) {
			t.Errorf("CheckSMSGatewayToken(%q) = %q: holds the token", tok, err)
		}
	}
}
