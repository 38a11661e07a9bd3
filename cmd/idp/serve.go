package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/httpx"
	"github.com/esia-oidc/idp/idp/server"
	"github.com/esia-oidc/idp/internal/tracing"
	"github.com/esia-oidc/idp/store/postgres"
	"github.com/esia-oidc/idp/store/redis"
)

func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (*config.Config, error) {
	cfg, err := config.Load(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stderr, "usage: idp serve [flags]\n\nflags, environment variables and YAML keys:")
		config.Usage(stderr)
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	inherited, err := takeListeners(cfg, getenv)
	if err != nil {
		return err
	}
	logger := slog.New(httpx.NewLogHandler(cfg.LogHandler(stderr)))
	redis.SetLogger(logger)
	tracing.SetErrorLogger(logger)

	srv, err := server.New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer srv.Close()
	if cfg.Dev {
		if cfg.InMemory() {
			logger.Warn("development mode: data is kept in memory and lost at exit")
		}
		switch {
		case srv.SeedsDemo() && cfg.BankSim:
			if err := srv.SeedBankSim(ctx); err != nil {
				return err
			}
		case srv.SeedsDemo():
			if err := srv.SeedDemo(ctx); err != nil {
				return err
			}
		default:
			logger.Warn("development mode on a database: nothing is seeded; the demo client and citizen are seeded only into the in-memory store")
		}
	}

	ln, err := listen(inherited.public, cfg.Listen)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	runCtx, stopKeys := context.WithCancel(ctx)
	defer stopKeys()
	go srv.Run(runCtx)

	if cfg.MetricsListen != "" {
		m := http.NewServeMux()
		m.Handle("GET /metrics", srv.Metrics.Handler())
		stop, err := serveAside(inherited.metrics, cfg.MetricsListen, "metrics", m, logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	if cfg.PprofListen != "" {
		stopPprof, err := servePprof(inherited.pprof, cfg.PprofListen, logger)
		if err != nil {
			return err
		}
		defer stopPprof()
	}

	if cfg.MTLSListen != "" && srv.MTLSHandler != nil {
		stopMTLS, err := serveMTLS(inherited.mtls, cfg, srv.MTLSHandler, logger)
		if err != nil {
			return err
		}
		defer stopMTLS()
	}

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "dev", cfg.Dev, "in_memory", cfg.InMemory())
	switch {
	case cfg.Dev && cfg.BankSim:
		srv.PrintBankSimHint(stdout)
	case cfg.Dev:
		srv.PrintDevHint(stdout)
	}

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Drain in-flight requests.
	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := srv.StopJobs(sctx); err != nil {
		// The jobs cut short are tried again by another replica or after
		// the restart.
		logger.Warn("shutdown", "err", err)
	}
	logger.Info("stopped")
	return nil
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	dbURL := fs.String("database-url", getenv("IDP_DATABASE_URL"), "PostgreSQL URL (IDP_DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbURL == "" {
		return errors.New("migrate: no database: set IDP_DATABASE_URL or --database-url")
	}
	st, err := postgres.Open(ctx, *dbURL, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied")
	return nil
}

// servePprof serves net/http/pprof on a separate loopback listener (the
// inherited one, if not nil).
func servePprof(inherited net.Listener, addr string, logger *slog.Logger) (stop func(), err error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	stop, err = serveAside(inherited, addr, "pprof", mux, logger)
	if err == nil {
		logger.Warn("profiling endpoint enabled", "addr", addr)
	}
	return stop, err
}

// serveAside serves h on its own listener, beside the public one: the
// inherited one, if not nil, or one on addr.
func serveAside(inherited net.Listener, addr, what string, h http.Handler, logger *slog.Logger) (stop func(), err error) {
	ln, err := listen(inherited, addr)
	if err != nil {
		return nil, fmt.Errorf("%s listener: %w", what, err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	logger.Info("serving "+what, "addr", ln.Addr().String())
	return func() { hs.Close() }, nil
}
