package e2e

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/admin/adminclient"
	"github.com/esia-oidc/idp/idp/server"
	"github.com/esia-oidc/idp/internal/logbuf"
	"github.com/esia-oidc/idp/internal/testserver"
	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/postgres"
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
	sock := testserver.Listen(t)
	issuer := "http://" + sock.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--dev", "--issuer", issuer, "--argon2-memory-kib", "7168", "--argon2-time", "1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr logbuf.Buffer
	cmd.Stderr = &stderr
	if err := sock.Start(cmd); err != nil {
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
	for _, want := range []string{"LOST AT EXIT", "password: ", issuer + "/authorize?", issuer + "/register", issuer + "/account", issuer + "/operator", "standard", "simplified", "confirmed"} {
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

// TestDevModeOnDatabaseSeedsNothing: `idp serve --dev` on a database says
// that it seeds nothing and seeds nothing, so production mode started on
// that database afterwards serves no demo client.
func TestDevModeOnDatabaseSeedsNothing(t *testing.T) {
	t.Parallel()
	sh := testserver.NewShared(t)
	sock := testserver.Listen(t)
	issuer := "http://" + sock.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, err := sh.Command(ctx, nil, "serve", "--dev", "--issuer", issuer)
	if err != nil {
		t.Fatal(err)
	}
	var out logbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := sock.Start(cmd); err != nil {
		t.Fatal(err)
	}
	defer func() { testserver.CheckRaces(t, "the development server", out.String()) }()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(syscall.SIGTERM)
			<-exited
		}
	}
	defer stop()
	for ready := false; !ready; {
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("dev server exited: %v\n%s", err, out.String())
		case <-ctx.Done():
			t.Fatalf("dev server not ready:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if resp, err := http.Get(issuer + "/readyz"); err == nil {
			resp.Body.Close()
			ready = resp.StatusCode == http.StatusOK
		}
	}
	adm := adminclient.New(issuer, sh.AdminToken, http.DefaultClient)
	if _, err := adm.GetClient(ctx, server.DemoClientID); !isNotFound(err) {
		t.Errorf("dev mode on a database: GET the demo client: %v, want 404", err)
	}
	stop()
	logs := out.String()
	if !strings.Contains(logs, "nothing is seeded") {
		t.Errorf("dev mode on a database does not say that nothing is seeded:\n%s", logs)
	}
	if strings.Contains(logs, server.DemoPassword) {
		t.Errorf("dev mode on a database prints the demo password:\n%s", logs)
	}

	// Production on the same database starts and knows no demo client.
	prod := testserver.Start(t, sh)
	q := url.Values{"client_id": {server.DemoClientID}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {server.DemoRedirectURI}, "state": {"s"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	resp := getOnce(t, ctx, prod.URL+"/authorize?"+q.Encode())
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("production after a dev run: /authorize for %s: %d, want 400 (unknown client)", server.DemoClientID, resp.StatusCode)
	}
}

// TestProductionRefusesDemoData: production mode exits, naming the records
// and how to remove them, on a database that an older `--dev` run seeded.
func TestProductionRefusesDemoData(t *testing.T) {
	t.Parallel()
	sh := testserver.NewShared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := postgres.Open(ctx, sh.DatabaseURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	hasher, err := password.New(password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, 1, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := hasher.Hash(ctx, server.DemoPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateClient(ctx, &store.Client{ID: server.DemoClientID, RedirectURIs: []string{server.DemoRedirectURI}, TokenEndpointAuthMethod: "none"}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAccount(ctx, &store.Account{ID: "demo-account", Level: store.LevelStandard, Phone: server.DemoPhone,
		Email: server.DemoEmail, SNILS: server.DemoSNILS, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	sock := testserver.Listen(t)
	cmd, err := sh.Command(ctx, []string{"IDP_ISSUER=http://" + sock.Addr()}, "serve")
	if err != nil {
		t.Fatal(err)
	}
	var buf logbuf.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := sock.Start(cmd); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	out := buf.String()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("production started on a database with the demo data (err %v):\n%s", err, out)
	}
	testserver.CheckRaces(t, "the refusing server", out)
	for _, want := range []string{server.DemoClientID, "demo-account", "DELETE FROM clients", "DELETE FROM accounts"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, out)
		}
	}
}

// isNotFound reports whether err is the admin API's 404.
func isNotFound(err error) bool {
	var ae *adminclient.APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}
