// Package config holds the server's configuration: one typed struct filled
// from defaults, an optional YAML file, the environment and command-line
// flags (in rising order of precedence), and a validator that reports every
// problem at once.
//
// Development mode (--dev, IDP_DEV=true) fills what a bare machine lacks: an
// http issuer on 127.0.0.1:8080, in-memory storage, and a random admin token
// and secret key generated at start (AdminTokenGenerated, SecretKeyGenerated
// tell the caller to say so). Production mode refuses to start without real
// secrets, storage and an https (or loopback) issuer.
package config

import (
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"runtime"
	"time"

	"github.com/esia-oidc/idp/factors/bank"
)

// Signing algorithms accepted for access tokens.
const (
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
)

// Log formats.
const (
	LogJSON = "json"
	LogText = "text"
)

// Defaults of development mode.
const (
	DevIssuer = "http://127.0.0.1:8080"
	DevListen = "127.0.0.1:8080"
)

// Config is the server's configuration. Durations are Go duration strings
// ("15m", "720h") in the YAML file, the environment and flags.
type Config struct {
	// Issuer is the issuer URL, also the public base URL (IDP_ISSUER).
	Issuer string `yaml:"issuer"`
	// Listen is the listen address, e.g. 127.0.0.1:8080 (IDP_LISTEN).
	Listen string `yaml:"listen"`
	// DatabaseURL is the PostgreSQL URL; empty means in-memory (dev only).
	DatabaseURL string `yaml:"database_url"`
	// RedisURL is the Redis URL; empty means in-memory (dev only).
	RedisURL string `yaml:"redis_url"`
	// RedisPrefix prefixes every Redis key.
	RedisPrefix string `yaml:"redis_prefix"`
	// AdminToken is the bearer token of the admin API.
	AdminToken string `yaml:"admin_token"`
	// SecretKey encrypts secrets at rest; see SecretKeyBytes for its forms.
	SecretKey string `yaml:"secret_key"`
	// SecretKeysPrevious are other secret keys, in the same forms, accepted
	// beside SecretKey while it is rotated: what was made under them still
	// opens and verifies, and nothing is made under them. Comma-separated
	// in the environment.
	SecretKeysPrevious []string `yaml:"secret_key_previous"`
	// Dev turns on development mode.
	Dev bool `yaml:"dev"`
	// Migrate applies the database migrations when the server starts.
	Migrate bool `yaml:"migrate"`

	// AccessTokenAlg is RS256 (default) or ES256.
	AccessTokenAlg string `yaml:"access_token_alg"`
	// LogLevel is debug, info, warn or error (slog syntax, "info+2" works).
	LogLevel string `yaml:"log_level"`
	// LogFormat is json or text.
	LogFormat string `yaml:"log_format"`

	AccessTokenLifetime  time.Duration `yaml:"access_token_lifetime"`
	IDTokenLifetime      time.Duration `yaml:"id_token_lifetime"`
	RefreshTokenLifetime time.Duration `yaml:"refresh_token_lifetime"`
	CodeLifetime         time.Duration `yaml:"code_lifetime"`
	// SessionLifetime is how long an SSO session lasts.
	SessionLifetime time.Duration `yaml:"session_lifetime"`
	// KeyRefreshInterval is how often a replica reloads the signing keys.
	KeyRefreshInterval time.Duration `yaml:"key_refresh_interval"`
	// KeyPublishDelay is how long a new key is published before it signs.
	KeyPublishDelay time.Duration `yaml:"key_publish_delay"`

	// Argon2 are the password hashing parameters.
	Argon2 Argon2 `yaml:"argon2"`
	// MaxConcurrentHashes bounds the password hashes computed at once.
	MaxConcurrentHashes int `yaml:"max_concurrent_hashes"`

	// LoginLockoutAttempts failed logins lock an account for
	// LoginLockoutDuration.
	LoginLockoutAttempts int           `yaml:"login_lockout_attempts"`
	LoginLockoutDuration time.Duration `yaml:"login_lockout_duration"`
	// IPFailureLimit failures from one IP address within IPFailureWindow
	// block that address.
	IPFailureLimit  int           `yaml:"ip_failure_limit"`
	IPFailureWindow time.Duration `yaml:"ip_failure_window"`
	// TrustedProxies are CIDRs (or single addresses) whose X-Forwarded-For
	// is honoured.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ShutdownTimeout bounds the graceful shutdown.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// MetricsListen, when set, serves /metrics on this address only,
	// instead of on the public listener.
	MetricsListen string `yaml:"metrics_listen"`
	// PprofListen, when set, serves net/http/pprof on this loopback address
	// (for profiling under load; never on a public interface).
	PprofListen string `yaml:"pprof_listen"`

	// SMTPURL configures the e-mail sender (notify.ParseSMTPURL):
	// smtp://user:password@host:587?from=... (STARTTLS, required unless the
	// host is loopback) or smtps://... (implicit TLS). Empty: no e-mail
	// sender (development mode keeps e-mail in the outbox). It may hold a
	// password, so it has no flag.
	SMTPURL string `yaml:"smtp_url"`
	// SMSGatewayURL is where SMS are POSTed as {"to","text"} (https, or
	// http to a loopback host). Empty: no SMS sender (development mode
	// keeps SMS in the outbox).
	SMSGatewayURL string `yaml:"sms_gateway_url"`
	// SMSGatewayToken is the SMS gateway's bearer token; a secret, so it
	// has no flag.
	SMSGatewayToken string `yaml:"sms_gateway_token"`

	// RegistryURL is the external registry-verification service that
	// checks personal data for the standard level (registry.HTTP): https,
	// or http to a loopback host. Empty: in development mode the built-in
	// simulator; in production no checks are made (personal data are
	// saved, and the start-up log says so).
	RegistryURL string `yaml:"registry_url"`
	// RegistryToken is the service's bearer token; a secret, so it has no
	// flag.
	RegistryToken string `yaml:"registry_token"`
	// RegistrySimDelay is how long the development simulator takes to
	// decide a check.
	RegistrySimDelay time.Duration `yaml:"registry_sim_delay"`

	// Background jobs (registry checks, letters, notifications): how many
	// this process works at once, how often a job is tried, the wait after
	// a failed attempt (doubled each time up to JobMaxBackoff), how long an
	// attempt may take, after how long a job still running is taken to
	// belong to a process that died and is tried again (at least
	// JobTimeout), and how often the queue is polled.
	JobWorkers      int           `yaml:"job_workers"`
	JobMaxAttempts  int           `yaml:"job_max_attempts"`
	JobBackoff      time.Duration `yaml:"job_backoff"`
	JobMaxBackoff   time.Duration `yaml:"job_max_backoff"`
	JobTimeout      time.Duration `yaml:"job_timeout"`
	JobRescueAfter  time.Duration `yaml:"job_rescue_after"`
	JobPollInterval time.Duration `yaml:"job_poll_interval"`

	// OTLPEndpoint is the base URL of an OpenTelemetry collector's
	// OTLP/HTTP receiver (http://collector:4318): when set, spans of
	// requests, store calls, password hashing, jobs and outbound calls are
	// POSTed to its /v1/traces. Empty: tracing is off and costs nothing.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// OTLPSampleRatio is the share of new traces recorded (0 to 1); a
	// trace continued from a trusted proxy follows the proxy's decision.
	OTLPSampleRatio float64 `yaml:"otlp_sample_ratio"`

	// Banks are the banks citizens may log in through (factors/bank): the
	// YAML file's banks list, or IDP_BANKS holding the same list as JSON.
	Banks []bank.Config `yaml:"banks"`
	// BankSim makes this server play a bank for another one (development
	// mode only): it seeds the client of the bank login (bank.SimClientID,
	// redirecting to BankSimRedirectURI) and citizens at the confirmed
	// level, from BankSimCitizens (a YAML or JSON file) or built-in ones.
	BankSim            bool   `yaml:"bank_sim"`
	BankSimRedirectURI string `yaml:"bank_sim_redirect_uri"`
	BankSimCitizens    string `yaml:"bank_sim_citizens"`
	// Electronic-signature login (see signature.go): the trust store, the
	// revocation policy and the TLS client-certificate listener.
	SignatureCA       []string      `yaml:"signature_ca"`
	SignatureCRL      []string      `yaml:"signature_crl"`
	SignatureFailOpen bool          `yaml:"signature_fail_open"`
	SignatureTimeout  time.Duration `yaml:"signature_revocation_timeout"`
	MTLSListen        string        `yaml:"mtls_listen"`
	MTLSURL           string        `yaml:"mtls_url"`
	MTLSCertFile      string        `yaml:"mtls_cert_file"`
	MTLSKeyFile       string        `yaml:"mtls_key_file"`

	// AdminTokenGenerated and SecretKeyGenerated report that development
	// mode generated the value at load time: it is lost at exit.
	AdminTokenGenerated bool `yaml:"-"`
	SecretKeyGenerated  bool `yaml:"-"`
}

// Argon2 are argon2id parameters (RFC 9106).
type Argon2 struct {
	// MemoryKiB is the memory cost in KiB.
	MemoryKiB uint32 `yaml:"memory_kib"`
	// Time is the number of passes.
	Time uint32 `yaml:"time"`
	// Threads is the degree of parallelism.
	Threads uint8 `yaml:"threads"`
}

// Defaults returns the configuration before any file, environment or flag.
// Issuer and Listen are left empty: Load derives them.
func Defaults() *Config {
	return &Config{
		RedisPrefix:          "idp:",
		AccessTokenAlg:       AlgRS256,
		LogLevel:             "info",
		LogFormat:            LogJSON,
		AccessTokenLifetime:  15 * time.Minute,
		IDTokenLifetime:      time.Hour,
		RefreshTokenLifetime: 720 * time.Hour,
		CodeLifetime:         2 * time.Minute,
		SessionLifetime:      12 * time.Hour,
		KeyRefreshInterval:   10 * time.Second,
		KeyPublishDelay:      2 * time.Minute,
		// OWASP Password Storage Cheat Sheet: m=19 MiB, t=2, p=1.
		Argon2:               Argon2{MemoryKiB: 19456, Time: 2, Threads: 1},
		MaxConcurrentHashes:  runtime.GOMAXPROCS(0),
		LoginLockoutAttempts: 5,
		LoginLockoutDuration: 15 * time.Minute,
		IPFailureLimit:       100,
		IPFailureWindow:      10 * time.Minute,
		ShutdownTimeout:      15 * time.Second,
		RegistrySimDelay:     3 * time.Second,
		BankSimRedirectURI:   DevIssuer + "/login/bank/callback",
		JobWorkers:           4,
		JobMaxAttempts:       10,
		JobBackoff:           5 * time.Second,
		JobMaxBackoff:        time.Hour,
		JobTimeout:           time.Minute,
		JobRescueAfter:       5 * time.Minute,
		JobPollInterval:      time.Second,
		OTLPSampleRatio:      1,
		SignatureTimeout:     5 * time.Second,
	}
}

// IssuerHTTPS reports whether the issuer is an https URL (then cookies are
// Secure and HSTS is sent).
func (c *Config) IssuerHTTPS() bool {
	u, err := url.Parse(c.Issuer)
	return err == nil && u.Scheme == "https"
}

// InMemory reports whether the data of record, or the expiring data, live
// in memory and are lost at exit.
func (c *Config) InMemory() bool { return c.DatabaseURL == "" || c.RedisURL == "" }

// SlogLevel returns the parsed LogLevel, or Info if it does not parse (Validate
// reports that).
func (c *Config) SlogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// LogHandler returns a slog handler writing to w in LogFormat at LogLevel.
func (c *Config) LogHandler(w io.Writer) slog.Handler {
	opts := &slog.HandlerOptions{Level: c.SlogLevel()}
	if c.LogFormat == LogText {
		return slog.NewTextHandler(w, opts)
	}
	return slog.NewJSONHandler(w, opts)
}

// TrustedProxyPrefixes returns TrustedProxies parsed; a single address is a
// prefix of its full length. Entries that do not parse are left out
// (Validate reports them).
func (c *Config) TrustedProxyPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func parsePrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p.Masked(), nil
}
