package e2e

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/internal/childproc"
	"github.com/esia-oidc/idp/internal/listenfd"
	"github.com/esia-oidc/idp/internal/logbuf"
	"github.com/esia-oidc/idp/internal/testserver"
)

// TestDevModeHint runs `idp serve --dev` as `make run` does (in memory) and
// follows its printed instructions: the authorize URL, the demo login, and
// the curl exchange with the printed verifier.
func TestDevModeHint(t *testing.T) {
	t.Parallel()
	bin, err := testserver.Binary()
	if err != nil {
		t.Fatal(err)
	}
	// The server gets its socket passed in (socket activation), as
	// testserver's do, and dies with this process.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addr := l.Addr().String()
	issuer := "http://" + addr
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--dev", "--issuer", issuer, "--argon2-memory-kib", "7168", "--argon2-time", "1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr logbuf.Buffer
	cmd.Stderr = &stderr
	closeFiles, err := listenfd.Pass(cmd, listenfd.Named{Name: "http", Listener: l})
	if err != nil {
		t.Fatal(err)
	}
	childproc.DieWithParent(cmd)
	err = cmd.Start()
	closeFiles()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		testserver.CheckRaces(t, "the development server", stderr.String())
		if t.Failed() {
			t.Logf("development server log:\n%s", stderr.String())
		}
	}()

	var hint strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		hint.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "Admin API") {
			break
		}
	}
	text := hint.String()
	for _, want := range []string{"LOST AT EXIT", "password: ", issuer + "/authorize?"} {
		if !strings.Contains(text, want) {
			t.Fatalf("dev hint lacks %q:\n%s", want, text)
		}
	}
	authURL := regexp.MustCompile(`http://\S+/authorize\?\S+`).FindString(text)
	password := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(text)[1]
	verifier := regexp.MustCompile(`code_verifier=(\S+)`).FindStringSubmatch(text)[1]
	email := regexp.MustCompile(`or (\S+@\S+), or SNILS`).FindStringSubmatch(text)[1]

	ag := testserver.NewAgent(issuer, nil)
	cb, page, err := ag.Authorize(ctx, authURL, testserver.Login{Identifier: strings.ToUpper(email), Password: password})
	if err != nil {
		t.Fatalf("demo login: %v (page %d %.300s)", err, page.Status, page.Body)
	}
	conf := oauth2.Config{
		ClientID:    "demo-catalog",
		RedirectURL: "http://127.0.0.1:8081/callback",
		Endpoint:    oauth2.Endpoint{TokenURL: issuer + "/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange with the printed verifier: %v", err)
	}
	if tok.Extra("id_token") == nil {
		t.Error("no ID token")
	}
	resp, err := http.Get(issuer + "/dev/outbox")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("dev outbox in dev mode: %d", resp.StatusCode)
	}
}

// TestProductionHasNoDevRoutes: the outbox exists only in development mode.
func TestProductionHasNoDevRoutes(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t, testserver.NewShared(t))
	resp, err := http.Get(srv.URL + "/dev/outbox")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /dev/outbox in production: %d, want 404", resp.StatusCode)
	}
}

// TestProductionRefusesDevSettings: production mode does not start without
// its secrets, on a public http issuer, or on in-memory storage.
func TestProductionRefusesDevSettings(t *testing.T) {
	t.Parallel()
	bin, err := testserver.Binary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--issuer", "http://idp.example.ru")
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("production started with dev settings:\n%s", out)
	}
	for _, want := range []string{"IDP_SECRET_KEY", "IDP_ADMIN_TOKEN", "IDP_ISSUER", "IDP_DATABASE_URL", "IDP_REDIS_URL"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("refusal does not name %s:\n%s", want, out)
		}
	}
}

// TestMetricsOnTheirOwnListener: with a listener of their own (here an
// inherited socket named "metrics", in place of IDP_METRICS_LISTEN),
// /metrics leaves the public listener.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	t.Parallel()
	srv := testserver.StartWith(t, testserver.NewShared(t), testserver.Options{Sockets: []string{"metrics"}})
	addr := srv.Addr("metrics")
	for url, want := range map[string]int{srv.URL + "/metrics": http.StatusNotFound, "http://" + addr + "/metrics": http.StatusOK} {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", url, resp.StatusCode, want)
		}
	}
}
