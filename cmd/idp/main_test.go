package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/server"
)

// TestAdminCLI drives the CLI against a server on the in-memory store.
func TestAdminCLI(t *testing.T) {
	ctx := context.Background()
	cfg := config.Defaults()
	cfg.Issuer = "http://127.0.0.1:8080"
	cfg.AdminToken = "admin-token-for-the-cli-test-0123456789"
	cfg.SecretKey = strings.Repeat("ab", 32)
	cfg.Argon2 = config.Argon2{MemoryKiB: 64, Time: 1, Threads: 1}
	srv, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ts := httptest.NewServer(srv.Handler)
	t.Cleanup(ts.Close)
	env := func(k string) string {
		return map[string]string{"IDP_ISSUER": ts.URL, "IDP_ADMIN_TOKEN": cfg.AdminToken}[k]
	}
	raw := func(args ...string) []byte {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(ctx, args, env, &out, &errOut); err != nil {
			t.Fatalf("idp %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
		}
		return out.Bytes()
	}
	cli := func(args ...string) map[string]any {
		t.Helper()
		var v map[string]any
		if b := raw(args...); len(b) > 0 {
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("idp %s printed %q", strings.Join(args, " "), b)
			}
		}
		return v
	}

	c := cli("clients", "create", "--name", "Portal", "--redirect-uri", "https://portal.example.ru/cb",
		"--grant-type", "authorization_code", "--grant-type", "refresh_token", "--scope", "openid fullname offline_access")
	id, _ := c["client_id"].(string)
	if id == "" || c["client_secret"] == nil {
		t.Fatalf("clients create: %v", c)
	}
	if got := cli("clients", "get", id); got["client_name"] != "Portal" || got["client_secret"] != nil {
		t.Errorf("clients get: %v", got)
	}
	if got := raw("clients", "list"); !strings.Contains(string(got), id) {
		t.Errorf("clients list lacks %s: %s", id, got)
	}
	if got := cli("clients", "rotate-secret", id); got["client_secret"] == nil || got["client_secret"] == c["client_secret"] {
		t.Errorf("clients rotate-secret: %v", got)
	}
	a := cli("accounts", "create", "--phone", "8 916 000-11-22", "--password", "long enough password", "--last-name", "Петров", "--first-name", "Пётр")
	if a["id"] == nil || a["phone"] != "+79160001122" {
		t.Errorf("accounts create: %v", a)
	}
	op := cli("operators", "create", "--login", "ivanova", "--name", "Иванова О.", "--password", "Operator-Pass-2026!", "--role", "operator", "--role", "supervisor")
	if op["id"] == nil || op["login"] != "ivanova" {
		t.Errorf("operators create: %v", op)
	}
	if err := run(ctx, []string{"operators", "create", "--login", "ivanova", "--name", "X", "--password", "Operator-Pass-2026!"}, env, io.Discard, io.Discard); err == nil {
		t.Error("a taken operator login was accepted")
	}
	if got := raw("keys", "list"); !strings.Contains(string(got), "RS256") {
		t.Errorf("keys list: %s", got)
	}
	if got := cli("keys", "rotate", "--alg", "ES256"); got["alg"] != "ES256" {
		t.Errorf("keys rotate: %v", got)
	}
	cli("clients", "delete", id)
	var out bytes.Buffer
	if err := run(ctx, []string{"clients", "get", id}, env, &out, io.Discard); err == nil {
		t.Error("a deleted client can still be read")
	}
	if err := run(ctx, []string{"clients", "list"}, func(string) string { return "" }, &out, io.Discard); err == nil || !strings.Contains(err.Error(), "IDP_ADMIN_TOKEN") {
		t.Errorf("without a token: %v", err)
	}
}
