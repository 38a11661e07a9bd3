// Package idptest assembles a whole provider in process, as idp/server
// does, in development mode on the in-memory stores (the outbox keeps the
// codes), behind an httptest server, for the tests of the hosted pages.
package idptest

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/server"
	"github.com/esia-oidc/idp/internal/logbuf"
	"github.com/esia-oidc/idp/internal/testserver"
)

// IDP is a provider under test.
type IDP struct {
	Srv    *server.Server
	TS     *httptest.Server
	Logs   *logbuf.Buffer
	Issuer string
}

// New assembles the provider with cheap argon2 parameters; configure may
// change the configuration first. It is closed when the test ends.
func New(t testing.TB, configure ...func(*config.Config)) *IDP {
	t.Helper()
	cfg := config.Defaults()
	cfg.Dev = true
	cfg.Listen = "127.0.0.1:0"
	cfg.AdminToken = "admin-token-for-tests-only-0123456789abcdef"
	cfg.SecretKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	cfg.Argon2 = config.Argon2{MemoryKiB: 64, Time: 1, Threads: 1}
	cfg.MaxConcurrentHashes = 8
	cfg.JobPollInterval = 50 * time.Millisecond
	ts := httptest.NewUnstartedServer(nil)
	cfg.Issuer = "http://" + ts.Listener.Addr().String()
	for _, c := range configure {
		c(cfg)
	}
	logs := &logbuf.Buffer{}
	srv, err := server.New(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(srv.Close)
	// Run works the background jobs (notifications, registry checks).
	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go srv.Run(ctx)
	ts.Config.Handler = srv.Handler
	ts.Start()
	t.Cleanup(ts.Close)
	return &IDP{Srv: srv, TS: ts, Logs: logs, Issuer: cfg.Issuer}
}

// Agent is a new browser without a browser (cookies, forms) for the provider.
func (p *IDP) Agent() *testserver.Agent { return testserver.NewAgent(p.Issuer, nil) }

// Messages returns the outbox's messages to `to`.
func (p *IDP) Messages(to string) []notify.Message {
	var out []notify.Message
	for _, m := range p.Srv.Outbox.Messages() {
		if m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// WaitMessages waits until the outbox holds want messages to `to` (they
// are sent without holding up the page) and returns them.
func (p *IDP) WaitMessages(t testing.TB, to string, want int) []notify.Message {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		msgs := p.Messages(to)
		if len(msgs) >= want {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages to %s, want %d", len(msgs), to, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
