package server

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/internal/logbuf"
)

// logBuffer collects JSON log records (the server logs from several
// goroutines: logbuf.Buffer is safe for that).
type logBuffer struct{ logbuf.Buffer }

// records returns the records whose message starts with prefix.
func (b *logBuffer) records(t *testing.T, prefix string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if msg, _ := rec["msg"].(string); strings.HasPrefix(msg, prefix) {
			out = append(out, rec)
		}
	}
	return out
}

// smsGateway is an httptest gateway that records the bodies and
// Authorization headers it gets.
type smsGateway struct {
	mu     sync.Mutex
	bodies []string
	auths  []string
}

func (g *smsGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.bodies = append(g.bodies, string(b))
	g.auths = append(g.auths, r.Header.Get("Authorization"))
}

func (g *smsGateway) got() ([]string, []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.bodies), slices.Clone(g.auths)
}

func newLoggedServer(t *testing.T, cfg *config.Config) (*Server, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	srv, err := New(t.Context(), cfg, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv, logs
}

func channelsOf(rec map[string]any) []string {
	var out []string
	list, _ := rec["channels"].([]any)
	for _, c := range list {
		s, _ := c.(string)
		out = append(out, s)
	}
	return out
}

// TestNotifierProduction: in production the configured senders carry
// their channels; the start-up log says once, at WARN, which channels have
// none, and holds neither the SMTP password nor the gateway's token; a
// message on such a channel fails; there is no outbox.
func TestNotifierProduction(t *testing.T) {
	t.Parallel()
	gw := &smsGateway{}
	ts := httptest.NewServer(gw)
	t.Cleanup(ts.Close)
	cfg := testConfig("")
	cfg.SMSGatewayURL = ts.URL + "/sms"
	cfg.SMSGatewayToken = "server-test-gateway-token"
	cfg.SMTPURL = "smtp://idp:server-test-smtp-password@127.0.0.1:1?from=noreply@example.ru"
	if err := cfg.ValidateOnly("sms_gateway_url", "sms_gateway_token", "smtp_url"); err != nil {
		t.Fatal(err)
	}
	srv, logs := newLoggedServer(t, cfg)

	warn := logs.records(t, "notifications: channels without a sender")
	if len(warn) != 1 || warn[0]["level"] != "WARN" || !slices.Equal(channelsOf(warn[0]), []string{"letter"}) {
		t.Errorf("start-up log about unconfigured channels: %v", warn)
	}
	for _, secret := range []string{"server-test-smtp-password", "server-test-gateway-token"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
	if srv.Outbox != nil {
		t.Error("production has an outbox")
	}

	ctx := t.Context()
	if err := srv.Notifier.Send(ctx, notify.Message{Channel: notify.SMS, To: "+79161234567", Body: "Код: 123456", Code: "123456"}); err != nil {
		t.Fatal(err)
	}
	bodies, auths := gw.got()
	if len(bodies) != 1 || bodies[0] != `{"to":"+79161234567","text":"Код: 123456"}` || auths[0] != "Bearer server-test-gateway-token" {
		t.Errorf("gateway got %q with %q", bodies, auths)
	}
	if err := srv.Notifier.Send(ctx, notify.Message{Channel: notify.Letter, To: "Москва, ул. Тверская, 1", Body: "x"}); !errors.Is(err, notify.ErrNoChannel) {
		t.Errorf("a letter: %v", err)
	}
}

// TestNotifierProductionWithoutSenders: production starts without any
// sender and says so for every channel; messages fail with ErrNoChannel.
func TestNotifierProductionWithoutSenders(t *testing.T) {
	t.Parallel()
	srv, logs := newLoggedServer(t, testConfig(""))
	warn := logs.records(t, "notifications: channels without a sender")
	if len(warn) != 1 || !slices.Equal(channelsOf(warn[0]), []string{"sms", "email", "letter"}) {
		t.Errorf("start-up log about unconfigured channels: %v", warn)
	}
	for _, c := range notify.Channels {
		if err := srv.Notifier.Send(t.Context(), notify.Message{Channel: c, To: "x", Body: "y"}); !errors.Is(err, notify.ErrNoChannel) {
			t.Errorf("%s: %v", c, err)
		}
	}
}

// TestNotifierDevelopment: in development mode a configured sender still
// carries its channel, and the outbox, read at GET /dev/outbox, takes the
// others with their codes.
func TestNotifierDevelopment(t *testing.T) {
	t.Parallel()
	gw := &smsGateway{}
	ts := httptest.NewServer(gw)
	t.Cleanup(ts.Close)
	cfg := testConfig("")
	cfg.Dev = true
	cfg.SMSGatewayURL = ts.URL + "/sms"
	cfg.SMSGatewayToken = "dev-token"
	srv, logs := newLoggedServer(t, cfg)

	info := logs.records(t, "notifications: channels without a sender go to the development outbox")
	if len(info) != 1 || info[0]["level"] != "INFO" || !slices.Equal(channelsOf(info[0]), []string{"email", "letter"}) {
		t.Errorf("start-up log about the outbox: %v", info)
	}
	ctx := t.Context()
	if err := srv.Notifier.Send(ctx, notify.Message{Channel: notify.SMS, To: "+79161234567", Body: "Код: 111111", Code: "111111"}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Notifier.Send(ctx, notify.Message{Channel: notify.Email, To: "citizen@example.ru", Subject: "Код", Body: "Код: 222222", Code: "222222"}); err != nil {
		t.Fatal(err)
	}
	if bodies, _ := gw.got(); len(bodies) != 1 {
		t.Errorf("gateway got %q, want the SMS", bodies)
	}
	rec := httptest.NewRecorder()
	srv.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dev/outbox", nil))
	var out struct{ Messages []notify.Message }
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
	if len(out.Messages) != 1 || out.Messages[0].Channel != notify.Email || out.Messages[0].Code != "222222" || out.Messages[0].To != "citizen@example.ru" {
		t.Errorf("outbox = %+v, want the e-mail only", out.Messages)
	}
}
