// Package server assembles the provider from its configuration: stores,
// keys, password hashing, lockout, hosted pages, the protocol, the admin API
// and the operational endpoints, behind the shared HTTP middleware.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/esia-oidc/idp/consent"
	"github.com/esia-oidc/idp/factors/lockout"
	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/admin"
	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/httpx"
	"github.com/esia-oidc/idp/idp/identifier"
	"github.com/esia-oidc/idp/idp/keys"
	"github.com/esia-oidc/idp/idp/login"
	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/oidc"
	"github.com/esia-oidc/idp/idp/seal"
	"github.com/esia-oidc/idp/idp/session"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/internal/tracing"
	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/memory"
	"github.com/esia-oidc/idp/store/postgres"
	"github.com/esia-oidc/idp/store/redis"
)

// Server is an assembled provider.
type Server struct {
	Handler   http.Handler
	Durable   store.Durable
	Ephemeral store.Ephemeral
	Keys      *keys.Manager
	Passwords *password.Hasher
	Sealer    *seal.Sealer
	Outbox    *notify.Outbox // development mode only
	Notifier  *notify.Router // the configured senders; in development mode the outbox takes the other channels
	Sessions  *session.Manager
	Metrics   *httpx.Metrics
	// MTLSHandler serves the signature login's mTLS listener
	// (IDP_MTLS_LISTEN); nil when the signature login is off.
	MTLSHandler http.Handler
	// Jobs works the background jobs of the store of record. Register
	// handlers with Jobs.Handle after New and before Run; Run starts it and
	// StopJobs (or Close) stops it.
	Jobs store.JobRunner
	// Tracing exports spans over OTLP (IDP_OTLP_ENDPOINT); nil when
	// tracing is off. Close flushes it.
	Tracing *sdktrace.TracerProvider
	// RevokeGrants revokes every code, refresh and access token of an
	// account (of one client, when clientID is set): after a password
	// reset, before the account's deletion, when a consent is revoked.
	// New sets it to the provider's RevokeGrants; a test may wrap it
	// before serving.
	RevokeGrants func(ctx context.Context, accountID, clientID string) error

	// sending counts notifications on their way (notifyLater).
	sending sync.WaitGroup

	cfg      *config.Config
	logger   *slog.Logger
	provider *oidc.Provider
	closes   []func()

	// bankName names a configured bank (openBanks); nil without banks.
	bankName func(id, lang string) string

	jobsMu    sync.Mutex
	jobsState int // jobsNew, jobsStarted, jobsStopped
}

// States of Server.Jobs.
const (
	jobsNew = iota
	jobsStarted
	jobsStopped
)

// Option changes how New assembles the provider.
type Option func(*options)

type options struct {
	now  store.Clock
	wrap func(store.Durable, store.Ephemeral) (store.Durable, store.Ephemeral)
}

// WithClock makes every part of the provider read time from now (tests move
// time with it).
func WithClock(now store.Clock) Option { return func(o *options) { o.now = now } }

// WithStores makes the provider use what wrap makes of the stores it opened
// (tests inject failures with it).
func WithStores(wrap func(store.Durable, store.Ephemeral) (store.Durable, store.Ephemeral)) Option {
	return func(o *options) { o.wrap = wrap }
}

// New assembles the provider. The configuration must have been validated.
func New(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts ...Option) (_ *Server, err error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{cfg: cfg, logger: logger}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	now := o.now
	if s.Sealer, err = seal.New(cfg.SecretKeyBytes(), cfg.PreviousSecretKeyBytes()...); err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	if n := len(cfg.SecretKeysPrevious); n > 0 {
		logger.Info("secret key rotation: what was made under the keys of IDP_SECRET_KEY_PREVIOUS is accepted; new values are made under IDP_SECRET_KEY", "previous_keys", n)
	}
	if err := s.openTracing(ctx); err != nil {
		return nil, err
	}
	if err := s.openStores(ctx, now); err != nil {
		return nil, err
	}
	if o.wrap != nil {
		s.Durable, s.Ephemeral = o.wrap(s.Durable, s.Ephemeral)
	}
	if s.Jobs, err = s.Durable.NewJobRunner(jobConfig(cfg, logger)); err != nil {
		return nil, fmt.Errorf("background jobs: %w", err)
	}
	if s.Tracing != nil {
		s.Jobs = tracedJobs{JobRunner: s.Jobs, tracer: s.Tracing.Tracer(tracing.ScopeName)}
	}
	a := cfg.Argon2
	params := password.DefaultParams()
	params.Memory, params.Time, params.Threads = a.MemoryKiB, a.Time, a.Threads
	if s.Passwords, err = password.New(params, cfg.MaxConcurrentHashes, password.DefaultQueueWait); err != nil {
		return nil, fmt.Errorf("password hashing: %w", err)
	}
	if err := s.openNotifier(now); err != nil {
		return nil, err
	}
	if !cfg.Dev {
		// Production never serves the demo client and citizen.
		if err := s.checkNoDemo(ctx); err != nil {
			return nil, err
		}
	}

	s.Keys = keys.New(s.Durable, s.Sealer, now, logger)
	if err := s.Keys.Ensure(ctx, keys.RS256, keys.ES256); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	hmacKey, err := s.Sealer.DeriveKey("fosite-hmac", 32)
	if err != nil {
		return nil, err
	}
	prevHMACKeys, err := s.Sealer.DerivePrevious("fosite-hmac", 32)
	if err != nil {
		return nil, err
	}
	csrfKey, err := s.Sealer.DeriveKey("csrf", 32)
	if err != nil {
		return nil, err
	}
	prevCSRFKeys, err := s.Sealer.DerivePrevious("csrf", 32)
	if err != nil {
		return nil, err
	}
	secure := cfg.IssuerHTTPS()
	cookies := web.Cookies{Secure: secure}
	pages, err := web.New(logger, cookies)
	if err != nil {
		return nil, err
	}
	csrf, err := web.NewCSRF(csrfKey, cookies, prevCSRFKeys...)
	if err != nil {
		return nil, err
	}
	s.Metrics = httpx.NewMetrics()
	s.Metrics.Registry().MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "idp_signing_keys_unreadable",
		Help: "Stored signing keys that this replica could not open at its last key refresh (sealed under another secret key, or corrupt).",
	}, func() float64 { return float64(s.Keys.Unreadable()) }))
	trusted := cfg.TrustedProxyPrefixes()
	lockoutKey, err := s.Sealer.DeriveKey("lockout", 32)
	if err != nil {
		return nil, err
	}
	limiter, err := lockout.New(s.Ephemeral, lockout.Policy{
		Attempts: cfg.LoginLockoutAttempts, Lock: cfg.LoginLockoutDuration,
		IPLimit: cfg.IPFailureLimit, IPWindow: cfg.IPFailureWindow,
	}, lockoutKey)
	if err != nil {
		return nil, err
	}

	sf, err := s.newSecondFactors(cfg.Issuer, pages, now)
	if err != nil {
		return nil, err
	}
	s.Sessions = session.New(s.Ephemeral, cookies, cfg.SessionLifetime, now)
	s.Sessions.SetClientIP(func(r *http.Request) netip.Addr { return httpx.ClientIP(r, trusted) })
	logins := &login.Login{
		Pages:        pages,
		CSRF:         csrf,
		Passwords:    s.Passwords,
		Limiter:      limiter,
		ClientIP:     func(r *http.Request) netip.Addr { return httpx.ClientIP(r, trusted) },
		Sessions:     s.Sessions,
		Accounts:     s.Durable,
		Flows:        s.Ephemeral,
		FlowLifetime: flowLifetime,
		Now:          now,
		Logger:       logger,
		LoginOutcome: s.Metrics.Login,
		Event:        s.accountEvent,
		Factors:      sf.Registry,
		Notify:       s.notifyLater,
		Issuer:       cfg.Issuer,
		NewAccountID: newID,
		Atomic:       s.Durable,
	}
	if err := s.openBanks(logins); err != nil {
		return nil, err
	}
	if logins.Signature, err = s.newSignature(now); err != nil {
		return nil, err
	}
	if logins.Signature != nil {
		pages.SignatureLogin = true
		s.MTLSHandler = s.mtlsHandler(logins)
	}
	provider, err := oidc.New(oidc.Config{
		Issuer:         cfg.Issuer,
		Durable:        s.Durable,
		Ephemeral:      s.Ephemeral,
		Keys:           s.Keys,
		Secrets:        newClientSecrets(s.Sealer, s.Durable, now, logger),
		HMACSecret:     hmacKey,
		AccessTokenAlg: cfg.AccessTokenAlg,
		Lifetimes: oidc.Lifetimes{
			Code:         cfg.CodeLifetime,
			AccessToken:  cfg.AccessTokenLifetime,
			IDToken:      cfg.IDTokenLifetime,
			RefreshToken: cfg.RefreshTokenLifetime,
			Flow:         flowLifetime,
		},
		Login:            logins,
		Pages:            pages,
		CSRF:             csrf,
		Sessions:         s.Sessions,
		Now:              now,
		Logger:           logger,
		GrantIssued:      s.Metrics.GrantIssued,
		TokenCacheLookup: s.Metrics.TokenCacheLookup,

		PreviousHMACSecrets: prevHMACKeys,
	})
	if err != nil {
		return nil, err
	}
	s.provider = provider
	// A password reset revokes every token of the account.
	s.RevokeGrants = provider.RevokeGrants
	// Every way an SSO session ends revokes its grants (retried by a
	// durable job if that fails) and tells its clients through a durable
	// job (back-channel logout).
	s.Sessions.OnEnd(provider.SessionEnded)
	s.Jobs.Handle(oidc.BackchannelLogoutJob, provider.SendLogoutToken)
	s.Jobs.Handle(oidc.RevokeSessionJob, provider.RevokeSession)
	logins.Protocol = provider
	logins.Clients = provider.ClientRecords()
	adminAPI := &admin.API{
		Clients:     provider.InvalidatingClients(s.Durable),
		Accounts:    s.Durable,
		Operators:   s.Durable,
		Token:       cfg.AdminToken,
		Secrets:     secretGenerator{s.Sealer},
		Passwords:   s.Passwords,
		Normalize:   normalizeIdentifier,
		Keys:        keyAdmin{m: s.Keys, st: s.Durable, delay: cfg.KeyPublishDelay, retire: s.retireAfter()},
		KnownScopes: consent.Known,
		Unlock:      limiter.UnlockAccount,
		NewID:       newID,
		Now:         now,
		Logger:      logger,
	}
	if err := adminAPI.Check(); err != nil {
		return nil, err
	}

	self, console, err := s.newCitizenPages(pages, csrf, cookies, limiter, logins, sf, now)
	if err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	provider.Mount(mux)
	self.Mount(mux)
	console.Mount(mux)
	adminAPI.Mount(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.handleReady)
	if cfg.MetricsListen == "" {
		mux.Handle("GET /metrics", s.Metrics.Handler())
	}
	if s.Outbox != nil {
		mux.Handle("GET /dev/outbox", s.Outbox)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		pages.Error(w, r, &web.PageError{Status: http.StatusNotFound, Key: "error.not_found"})
	})
	s.Handler = httpx.Chain(mux,
		httpx.RequestID,
		httpx.Trace(s.tracerProvider(), trusted),
		httpx.AccessLog(logger, trusted),
		s.Metrics.Middleware,
		httpx.Recover(logger),
		httpx.SecurityHeaders(secure),
		httpx.LimitBody(maxBody),
	)
	return s, nil
}

// flowLifetime is how long a login flow left half-way is kept.
const flowLifetime = 30 * time.Minute

// maxBody bounds every request body: forms and JSON of this provider are
// small, and an unbounded multipart body would be held in memory.
const maxBody = 64 << 10

// retireAfter is how long a rotated key stays published: the longest
// lifetime of a token it may have signed, and of an SSO session whose ID
// token may come back as a logout's id_token_hint.
func (s *Server) retireAfter() time.Duration {
	return max(s.cfg.IDTokenLifetime, s.cfg.AccessTokenLifetime, s.cfg.SessionLifetime) + time.Minute
}

// openNotifier makes the senders the configuration asks for, and in
// development mode the outbox, and says once which channels have no sender.
func (s *Server) openNotifier(now store.Clock) error {
	r := &notify.Router{Senders: map[notify.Channel]notify.Notifier{}}
	if s.cfg.SMTPURL != "" {
		c, err := notify.ParseSMTPURL(s.cfg.SMTPURL) // its errors never hold the password
		if err != nil {
			return fmt.Errorf("e-mail sender (IDP_SMTP_URL): %w", err)
		}
		sender, err := notify.NewSMTP(c)
		if err != nil {
			return fmt.Errorf("e-mail sender (IDP_SMTP_URL): %w", err)
		}
		r.Senders[notify.Email] = sender
		security := "STARTTLS"
		switch {
		case c.ImplicitTLS:
			security = "implicit TLS"
		case !c.RequiresTLS():
			security = "none (loopback host)"
		}
		s.logger.Info("notifications: e-mail goes through SMTP", "host", c.Host, "port", c.Port, "tls", security, "auth", c.Username != "")
	}
	if s.cfg.SMSGatewayURL != "" {
		sender, err := notify.NewSMSGateway(notify.SMSGatewayConfig{URL: s.cfg.SMSGatewayURL, Token: s.cfg.SMSGatewayToken})
		if err != nil {
			return fmt.Errorf("SMS sender (IDP_SMS_GATEWAY_URL, IDP_SMS_GATEWAY_TOKEN): %w", err)
		}
		r.Senders[notify.SMS] = sender
		host := ""
		if u, err := url.Parse(s.cfg.SMSGatewayURL); err == nil {
			host = u.Host // not the whole URL: its query may hold a key
		}
		s.logger.Info("notifications: SMS go through the HTTP gateway", "host", host)
	}
	if s.cfg.Dev {
		s.Outbox = notify.NewOutbox(200, now)
		r.Outbox = s.Outbox
	}
	if missing := r.Unconfigured(); len(missing) > 0 {
		if s.cfg.Dev {
			s.logger.Info("notifications: channels without a sender go to the development outbox (GET /dev/outbox)", "channels", missing)
		} else {
			s.logger.Warn("notifications: channels without a sender; a message on them fails (configure IDP_SMTP_URL, IDP_SMS_GATEWAY_URL; letters have no sender yet)", "channels", missing)
		}
	}
	s.Notifier = r
	return nil
}

func (s *Server) openStores(ctx context.Context, now store.Clock) error {
	var mem *memory.Store
	if s.cfg.DatabaseURL == "" || s.cfg.RedisURL == "" {
		mem = memory.New(now)
	}
	if s.cfg.DatabaseURL == "" {
		s.Durable = mem
	} else {
		pg, err := postgres.Open(ctx, s.cfg.DatabaseURL, now)
		if err != nil {
			return fmt.Errorf("database: %w", err)
		}
		s.closes = append(s.closes, pg.Close)
		if s.cfg.Migrate {
			if err := pg.Migrate(ctx); err != nil {
				return fmt.Errorf("database migrations: %w", err)
			}
		}
		s.Durable = pg
	}
	if s.cfg.RedisURL == "" {
		s.Ephemeral = mem
	} else {
		rs, err := redis.Open(ctx, s.cfg.RedisURL, s.cfg.RedisPrefix, now)
		if err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		s.closes = append(s.closes, rs.Close)
		s.Ephemeral = rs
	}
	return nil
}

// jobConfig is the runner configuration of the IDP_JOB_* settings.
func jobConfig(cfg *config.Config, logger *slog.Logger) store.JobConfig {
	return store.JobConfig{
		Workers:      cfg.JobWorkers,
		MaxAttempts:  cfg.JobMaxAttempts,
		Backoff:      cfg.JobBackoff,
		MaxBackoff:   cfg.JobMaxBackoff,
		Timeout:      cfg.JobTimeout,
		RescueAfter:  cfg.JobRescueAfter,
		PollInterval: cfg.JobPollInterval,
		Logger:       logger.With("component", "jobs"),
	}
}

// startJobs starts the job runner unless it was started or stopped before.
func (s *Server) startJobs(ctx context.Context) {
	s.jobsMu.Lock()
	defer s.jobsMu.Unlock()
	if s.jobsState != jobsNew {
		return
	}
	// The runner outlives ctx until StopJobs, which lets running jobs end.
	if err := s.Jobs.Start(context.WithoutCancel(ctx)); err != nil {
		s.logger.ErrorContext(ctx, "background jobs did not start", "err", err)
		s.jobsState = jobsStopped
		return
	}
	s.jobsState = jobsStarted
}

// StopJobs stops taking background jobs and waits for the running ones
// until ctx ends (then they are cancelled, and tried again later). A runner
// never started stays so.
func (s *Server) StopJobs(ctx context.Context) error {
	s.jobsMu.Lock()
	defer s.jobsMu.Unlock()
	started := s.jobsState == jobsStarted
	s.jobsState = jobsStopped
	if !started {
		return nil
	}
	if err := s.Jobs.Stop(ctx); err != nil {
		return fmt.Errorf("stop background jobs: %w", err)
	}
	return nil
}

// Run works the background jobs, keeps the signing keys fresh, sweeps
// expired grants from the durable store and follows revocations for the
// token cache until ctx is done. The jobs go on until StopJobs.
func (s *Server) Run(ctx context.Context) {
	s.startJobs(ctx)
	if sw, ok := s.Durable.(interface {
		Sweep(context.Context) (int64, error)
	}); ok {
		go s.sweep(ctx, sw.Sweep, 10*time.Minute)
	}
	go s.provider.Run(ctx)
	s.Keys.Run(ctx, s.cfg.KeyRefreshInterval)
}

// sweep deletes expired grants (refresh tokens past their lifetime) every
// interval; several replicas sweeping at once is harmless.
func (s *Server) sweep(ctx context.Context, sweep func(context.Context) (int64, error), interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := sweep(ctx)
			if err != nil {
				s.logger.WarnContext(ctx, "sweep expired grants", "err", err)
			} else if n > 0 {
				s.logger.InfoContext(ctx, "swept expired grants", "count", n)
			}
		}
	}
}

// Close stops the background jobs (within a few seconds) and releases the
// stores.
func (s *Server) Close() {
	if s.Jobs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.StopJobs(ctx); err != nil {
			s.logger.Warn("background jobs", "err", err)
		}
		cancel()
	}
	s.sending.Wait()
	for i := len(s.closes) - 1; i >= 0; i-- {
		s.closes[i]()
	}
	s.closes = nil
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status := map[string]string{"database": "ok", "redis": "ok"}
	code := http.StatusOK
	if err := s.Durable.Ping(ctx); err != nil {
		s.logger.WarnContext(ctx, "readiness: database", "err", err)
		status["database"], code = "unavailable", http.StatusServiceUnavailable
	}
	if err := s.Ephemeral.Ping(ctx); err != nil {
		s.logger.WarnContext(ctx, "readiness: redis", "err", err)
		status["redis"], code = "unavailable", http.StatusServiceUnavailable
	}
	httpx.WriteJSON(w, code, status)
}

// normalizeIdentifier gives the admin API the stored form of an identifier.
func normalizeIdentifier(kind store.IdentifierKind, v string) (string, error) {
	switch kind {
	case store.IdentifierPhone:
		return identifier.NormalizePhone(v)
	case store.IdentifierEmail:
		return identifier.NormalizeEmail(v)
	case store.IdentifierSNILS:
		return identifier.NormalizeSNILS(v)
	}
	return "", errors.New("unknown identifier kind")
}

type secretGenerator struct{ *seal.Sealer }

func (secretGenerator) GenerateSecret() (string, error) { return seal.GenerateSecret() }

// keyAdmin gives the admin API the key operations it needs.
type keyAdmin struct {
	m      *keys.Manager
	st     store.Keys
	delay  time.Duration
	retire time.Duration
}

func (k keyAdmin) Rotate(ctx context.Context, alg string) (*store.SigningKey, error) {
	return k.m.Rotate(ctx, alg, k.delay, k.retire)
}

func (k keyAdmin) List(ctx context.Context) ([]*store.SigningKey, error) { return k.st.ListKeys(ctx) }
