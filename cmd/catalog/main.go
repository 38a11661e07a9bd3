// Command catalog is the catalog portal: a relying party of the identity
// provider that shows how a state-services portal consumes its tokens
// (catalog of services, the account level each needs, applications and
// their statuses). It is configured by the environment:
//
//	CATALOG_LISTEN          listen address (default 127.0.0.1:8081)
//	CATALOG_ISSUER          the provider (default http://127.0.0.1:8080)
//	CATALOG_CLIENT_ID       its client id (default demo-catalog)
//	CATALOG_CLIENT_ID_FILE  a file holding the client id, read at start in
//	                        place of CATALOG_CLIENT_ID (deploy/compose.yaml:
//	                        written by the job that registers the client)
//	CATALOG_CLIENT_SECRET   its secret; empty for a public client (PKCE)
//	CATALOG_REDIRECT_URL    default http://<listen>/callback
//	CATALOG_PUBLIC_URL      the portal's base URL (default http://<listen>)
//	CATALOG_DATABASE_URL    PostgreSQL; empty keeps everything in memory
//	CATALOG_DATABASE_SCHEMA the schema of its tables (default catalog)
//	CATALOG_DEV             true: development mode (status simulator, http)
//	CATALOG_SIM_DELAY       how long a simulated status lasts (default 5s)
//	CATALOG_SECRET_KEY      32+ characters: seals the tokens it keeps and
//	                        keys its CSRF tokens (random per start in
//	                        development when empty)
//
// A socket passed by socket activation (LISTEN_FDS) is used in place of
// CATALOG_LISTEN. GET /healthz answers 200 when the store answers.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/esia-oidc/idp/catalog/rp"
	"github.com/esia-oidc/idp/catalog/services"
	"github.com/esia-oidc/idp/catalog/simulator"
	"github.com/esia-oidc/idp/catalog/store"
	"github.com/esia-oidc/idp/catalog/store/memory"
	"github.com/esia-oidc/idp/catalog/store/postgres"
	"github.com/esia-oidc/idp/catalog/store/sealed"
	"github.com/esia-oidc/idp/catalog/web"
	"github.com/esia-oidc/idp/idp/seal"
	idpweb "github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/internal/listenfd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "catalog:", err)
		os.Exit(1)
	}
}

// config is the portal's configuration.
type config struct {
	Listen, Issuer, ClientID, ClientSecret, RedirectURL, PublicURL string
	DatabaseURL, Schema                                            string
	Dev                                                            bool
	SimDelay                                                       time.Duration
	SecretKey                                                      []byte
	LogLevel                                                       slog.Level
}

// loadConfig reads the environment and reports every problem at once.
func loadConfig(getenv func(string) string) (*config, error) {
	env := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := &config{
		Listen:       env("CATALOG_LISTEN", "127.0.0.1:8081"),
		Issuer:       strings.TrimRight(env("CATALOG_ISSUER", "http://127.0.0.1:8080"), "/"),
		ClientID:     env("CATALOG_CLIENT_ID", "demo-catalog"),
		ClientSecret: getenv("CATALOG_CLIENT_SECRET"),
		DatabaseURL:  getenv("CATALOG_DATABASE_URL"),
		Schema:       env("CATALOG_DATABASE_SCHEMA", postgres.DefaultSchema),
	}
	var errs []error
	if f := strings.TrimSpace(getenv("CATALOG_CLIENT_ID_FILE")); f != "" {
		b, err := os.ReadFile(f)
		switch id := strings.TrimSpace(string(b)); {
		case err != nil:
			errs = append(errs, fmt.Errorf("CATALOG_CLIENT_ID_FILE: %w", err))
		case id == "":
			errs = append(errs, fmt.Errorf("CATALOG_CLIENT_ID_FILE: %s is empty", f))
		default:
			c.ClientID = id
		}
	}
	switch v := strings.ToLower(env("CATALOG_DEV", "false")); v {
	case "true", "1", "yes":
		c.Dev = true
	case "false", "0", "no":
	default:
		errs = append(errs, fmt.Errorf("CATALOG_DEV=%q: want true or false", v))
	}
	c.PublicURL = strings.TrimRight(env("CATALOG_PUBLIC_URL", "http://"+c.Listen), "/")
	c.RedirectURL = env("CATALOG_REDIRECT_URL", c.PublicURL+"/callback")
	d, err := time.ParseDuration(env("CATALOG_SIM_DELAY", "5s"))
	if err != nil || d < 0 {
		errs = append(errs, errors.New("CATALOG_SIM_DELAY: want a duration such as 5s"))
	}
	c.SimDelay = d
	if err := c.LogLevel.UnmarshalText([]byte(env("CATALOG_LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, errors.New("CATALOG_LOG_LEVEL: want debug, info, warn or error"))
	}
	for _, u := range []struct{ name, value string }{{"CATALOG_ISSUER", c.Issuer}, {"CATALOG_REDIRECT_URL", c.RedirectURL}, {"CATALOG_PUBLIC_URL", c.PublicURL}} {
		p, err := url.Parse(u.value)
		switch {
		case err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https"):
			errs = append(errs, fmt.Errorf("%s=%q: want an http(s) URL", u.name, u.value))
		case p.Scheme == "http" && !c.Dev && !loopback(p.Hostname()):
			errs = append(errs, fmt.Errorf("%s: plain http is only for development or loopback", u.name))
		}
	}
	if key := getenv("CATALOG_SECRET_KEY"); key != "" {
		if len(key) < 32 {
			errs = append(errs, errors.New("CATALOG_SECRET_KEY: at least 32 characters"))
		}
		c.SecretKey = []byte(key)
	} else if !c.Dev {
		errs = append(errs, errors.New("CATALOG_SECRET_KEY is required outside development mode"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

func loopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if cfg.SecretKey == nil {
		cfg.SecretKey = make([]byte, 32)
		_, _ = rand.Read(cfg.SecretKey)
		logger.Warn("development mode: CATALOG_SECRET_KEY is empty; a random key is used, forms open before a restart will not post")
	}

	sealer, err := seal.New(cfg.SecretKey)
	if err != nil {
		return fmt.Errorf("CATALOG_SECRET_KEY: %w", err)
	}
	var st store.Store
	if cfg.DatabaseURL == "" {
		st = memory.New(nil)
		logger.Warn("CATALOG_DATABASE_URL is empty: applications and sessions are kept in memory and lost at exit")
	} else {
		pg, err := postgres.Open(ctx, cfg.DatabaseURL, cfg.Schema, nil)
		if err != nil {
			return err
		}
		if err := pg.Migrate(ctx); err != nil {
			pg.Close()
			return err
		}
		st = pg
	}
	defer st.Close()
	// Tokens and PKCE verifiers are sealed at rest under the secret key.
	st = sealed.New(st, sealer)

	catalog, err := services.Load()
	if err != nil {
		return err
	}
	client, err := discover(ctx, logger, rp.Config{
		Issuer: cfg.Issuer, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		RedirectURL: cfg.RedirectURL, PostLogoutRedirectURL: cfg.PublicURL + "/",
	})
	if err != nil {
		return err
	}
	cookies := idpweb.Cookies{Secure: strings.HasPrefix(cfg.PublicURL, "https://"), Prefix: "catalog_"}
	csrfKey, err := sealer.DeriveKey("catalog csrf", 32)
	if err != nil {
		return err
	}
	csrf, err := idpweb.NewCSRF(csrfKey, cookies)
	if err != nil {
		return err
	}
	h, err := web.New(web.Config{Catalog: catalog, Store: st, RP: client, Cookies: cookies, CSRF: csrf, Logger: logger})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	h.Mount(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if err := st.Ping(r.Context()); err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})

	ln, err := listen(cfg.Listen, getenv)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	simCtx, stopSim := context.WithCancel(ctx)
	defer stopSim()
	if cfg.Dev {
		sim := &simulator.Simulator{Store: st, Delay: cfg.SimDelay, Logger: logger}
		tick := min(max(cfg.SimDelay/4, 50*time.Millisecond), time.Second)
		go sim.Run(simCtx, tick)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("catalog listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "client_id", cfg.ClientID, "dev", cfg.Dev)
	fmt.Fprintf(stdout, "\n  Catalog portal  %s   (provider %s, client %s)\n\n", cfg.PublicURL, cfg.Issuer, cfg.ClientID)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stopSim()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// discover reads the provider's discovery document, trying again for up
// to a minute: `make run` starts the provider beside the portal.
func discover(ctx context.Context, logger *slog.Logger, c rp.Config) (*rp.Client, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		client, err := rp.New(ctx, c)
		if err == nil {
			return client, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the provider at %s does not answer: %w", c.Issuer, err)
		}
		logger.Info("waiting for the provider", "issuer", c.Issuer)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// listen takes a socket passed by socket activation, else listens on addr.
func listen(addr string, getenv func(string) string) (net.Listener, error) {
	inherited, err := listenfd.Inherited(getenv)
	if err != nil {
		return nil, err
	}
	if len(inherited) > 0 {
		for _, n := range inherited[1:] {
			n.Listener.Close()
		}
		return inherited[0].Listener, nil
	}
	return net.Listen("tcp", addr)
}
