package config

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/esia-oidc/idp/factors/bank"
)

// setting is one configuration value: its YAML key, environment variable,
// flag (empty for secrets, which must not show in a process list) and how a
// string sets it.
type setting struct {
	key    string
	env    string
	flag   string
	usage  string
	isBool bool
	set    func(c *Config, v string) error
}

// settings lists every value that the environment or a flag can set. The
// YAML file sets the same keys through the struct tags of Config.
var settings = []setting{
	str("issuer", "IDP_ISSUER", "issuer", "issuer URL, also the public base URL", func(c *Config) *string { return &c.Issuer }),
	str("listen", "IDP_LISTEN", "listen", "listen address (default: the issuer's port, 127.0.0.1 in dev)", func(c *Config) *string { return &c.Listen }),
	str("database_url", "IDP_DATABASE_URL", "database-url", "PostgreSQL URL; empty means in-memory (dev only)", func(c *Config) *string { return &c.DatabaseURL }),
	str("redis_url", "IDP_REDIS_URL", "redis-url", "Redis URL; empty means in-memory (dev only)", func(c *Config) *string { return &c.RedisURL }),
	str("redis_prefix", "IDP_REDIS_PREFIX", "redis-prefix", "prefix of every Redis key", func(c *Config) *string { return &c.RedisPrefix }),
	str("admin_token", "IDP_ADMIN_TOKEN", "", "bearer token of the admin API (>= 32 chars)", func(c *Config) *string { return &c.AdminToken }),
	str("secret_key", "IDP_SECRET_KEY", "", "key encrypting secrets at rest: 64 hex digits, base64 of >= 32 bytes, or >= 32 chars", func(c *Config) *string { return &c.SecretKey }),
	{key: "secret_key_previous", env: "IDP_SECRET_KEY_PREVIOUS", usage: "other secret keys, comma-separated, accepted beside IDP_SECRET_KEY while it is rotated", set: func(c *Config, v string) error {
		c.SecretKeysPrevious = nil
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				c.SecretKeysPrevious = append(c.SecretKeysPrevious, k)
			}
		}
		return nil
	}},
	boolean("dev", "IDP_DEV", "dev", "development mode: in-memory storage, outbox, demo data, http allowed", func(c *Config) *bool { return &c.Dev }),
	boolean("migrate", "IDP_MIGRATE", "migrate", "apply database migrations at start", func(c *Config) *bool { return &c.Migrate }),
	str("access_token_alg", "IDP_ACCESS_TOKEN_ALG", "access-token-alg", "RS256 or ES256: how access tokens are signed", func(c *Config) *string { return &c.AccessTokenAlg }),
	str("log_level", "IDP_LOG_LEVEL", "log-level", "debug, info, warn or error", func(c *Config) *string { return &c.LogLevel }),
	str("log_format", "IDP_LOG_FORMAT", "log-format", "json or text", func(c *Config) *string { return &c.LogFormat }),
	dur("access_token_lifetime", "IDP_ACCESS_TOKEN_LIFETIME", "access-token-lifetime", "access token lifetime", func(c *Config) *time.Duration { return &c.AccessTokenLifetime }),
	dur("id_token_lifetime", "IDP_ID_TOKEN_LIFETIME", "id-token-lifetime", "ID token lifetime", func(c *Config) *time.Duration { return &c.IDTokenLifetime }),
	dur("refresh_token_lifetime", "IDP_REFRESH_TOKEN_LIFETIME", "refresh-token-lifetime", "refresh token lifetime", func(c *Config) *time.Duration { return &c.RefreshTokenLifetime }),
	dur("code_lifetime", "IDP_CODE_LIFETIME", "code-lifetime", "authorization code lifetime (<= 10m)", func(c *Config) *time.Duration { return &c.CodeLifetime }),
	dur("session_lifetime", "IDP_SESSION_LIFETIME", "session-lifetime", "SSO session lifetime", func(c *Config) *time.Duration { return &c.SessionLifetime }),
	dur("key_refresh_interval", "IDP_KEY_REFRESH", "key-refresh", "how often signing keys are reloaded", func(c *Config) *time.Duration { return &c.KeyRefreshInterval }),
	dur("key_publish_delay", "IDP_KEY_PUBLISH_DELAY", "key-publish-delay", "how long a new key is published before it signs", func(c *Config) *time.Duration { return &c.KeyPublishDelay }),
	uint32s("argon2.memory_kib", "IDP_ARGON2_MEMORY_KIB", "argon2-memory-kib", "argon2id memory in KiB", func(c *Config) *uint32 { return &c.Argon2.MemoryKiB }),
	uint32s("argon2.time", "IDP_ARGON2_TIME", "argon2-time", "argon2id passes", func(c *Config) *uint32 { return &c.Argon2.Time }),
	{key: "argon2.threads", env: "IDP_ARGON2_THREADS", flag: "argon2-threads", usage: "argon2id parallelism", set: func(c *Config, v string) error {
		n, err := strconv.ParseUint(v, 10, 8)
		if err != nil {
			return fmt.Errorf("not a number from 0 to 255: %q", v)
		}
		c.Argon2.Threads = uint8(n)
		return nil
	}},
	integer("max_concurrent_hashes", "IDP_MAX_CONCURRENT_HASHES", "max-concurrent-hashes", "password hashes computed at once (default GOMAXPROCS)", func(c *Config) *int { return &c.MaxConcurrentHashes }),
	integer("login_lockout_attempts", "IDP_LOGIN_LOCKOUT_ATTEMPTS", "login-lockout-attempts", "failed logins that lock an account", func(c *Config) *int { return &c.LoginLockoutAttempts }),
	dur("login_lockout_duration", "IDP_LOGIN_LOCKOUT_DURATION", "login-lockout-duration", "how long a locked account stays locked", func(c *Config) *time.Duration { return &c.LoginLockoutDuration }),
	integer("ip_failure_limit", "IDP_IP_FAILURE_LIMIT", "ip-failure-limit", "failures from one IP address that block it", func(c *Config) *int { return &c.IPFailureLimit }),
	dur("ip_failure_window", "IDP_IP_FAILURE_WINDOW", "ip-failure-window", "window in which IP failures are counted", func(c *Config) *time.Duration { return &c.IPFailureWindow }),
	{key: "trusted_proxies", env: "IDP_TRUSTED_PROXIES", flag: "trusted-proxies", usage: "comma-separated CIDRs whose X-Forwarded-For is honoured", set: func(c *Config, v string) error {
		c.TrustedProxies = nil
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.TrustedProxies = append(c.TrustedProxies, p)
			}
		}
		return nil
	}},
	str("metrics_listen", "IDP_METRICS_LISTEN", "metrics-listen", "serve /metrics on this address instead of the public listener (empty: the public listener)", func(c *Config) *string { return &c.MetricsListen }),
	str("pprof_listen", "IDP_PPROF_LISTEN", "pprof-listen", "loopback address serving net/http/pprof (empty: off)", func(c *Config) *string { return &c.PprofListen }),
	str("smtp_url", "IDP_SMTP_URL", "", "e-mail sender: smtp://user:password@host:587?from=ADDRESS (STARTTLS) or smtps://... (empty: none; dev: the outbox)", func(c *Config) *string { return &c.SMTPURL }),
	str("sms_gateway_url", "IDP_SMS_GATEWAY_URL", "sms-gateway-url", "SMS gateway receiving POST {\"to\",\"text\"} (empty: none; dev: the outbox)", func(c *Config) *string { return &c.SMSGatewayURL }),
	str("sms_gateway_token", "IDP_SMS_GATEWAY_TOKEN", "", "bearer token of the SMS gateway", func(c *Config) *string { return &c.SMSGatewayToken }),
	dur("shutdown_timeout", "IDP_SHUTDOWN_TIMEOUT", "shutdown-timeout", "graceful shutdown bound", func(c *Config) *time.Duration { return &c.ShutdownTimeout }),
	str("registry_url", "IDP_REGISTRY_URL", "registry-url", "registry-verification service checking personal data (empty: the simulator in dev mode; no checks in production)", func(c *Config) *string { return &c.RegistryURL }),
	str("registry_token", "IDP_REGISTRY_TOKEN", "", "bearer token of the registry-verification service", func(c *Config) *string { return &c.RegistryToken }),
	dur("registry_sim_delay", "IDP_REGISTRY_SIM_DELAY", "registry-sim-delay", "how long the development registry simulator takes to decide", func(c *Config) *time.Duration { return &c.RegistrySimDelay }),
	integer("job_workers", "IDP_JOB_WORKERS", "job-workers", "background jobs worked at once by this process", func(c *Config) *int { return &c.JobWorkers }),
	integer("job_max_attempts", "IDP_JOB_MAX_ATTEMPTS", "job-max-attempts", "attempts of a background job before it is given up", func(c *Config) *int { return &c.JobMaxAttempts }),
	dur("job_backoff", "IDP_JOB_BACKOFF", "job-backoff", "wait after a job's first failed attempt, doubled after each further one", func(c *Config) *time.Duration { return &c.JobBackoff }),
	dur("job_max_backoff", "IDP_JOB_MAX_BACKOFF", "job-max-backoff", "longest wait between a job's attempts", func(c *Config) *time.Duration { return &c.JobMaxBackoff }),
	dur("job_timeout", "IDP_JOB_TIMEOUT", "job-timeout", "how long one attempt at a job may take", func(c *Config) *time.Duration { return &c.JobTimeout }),
	dur("job_rescue_after", "IDP_JOB_RESCUE_AFTER", "job-rescue-after", "a job running this long is tried again (its process died); at least job_timeout", func(c *Config) *time.Duration { return &c.JobRescueAfter }),
	dur("job_poll_interval", "IDP_JOB_POLL_INTERVAL", "job-poll-interval", "how often the job queue is polled for due jobs", func(c *Config) *time.Duration { return &c.JobPollInterval }),
	{key: "banks", env: "IDP_BANKS", usage: "banks citizens log in through, as a JSON list of {id, name_ru, name_en, issuer, client_id, client_secret, scopes, claims, identifies_in_person, confirm}", set: func(c *Config, v string) error {
		var banks []bank.Config
		if err := yaml.Unmarshal([]byte(v), &banks); err != nil {
			return fmt.Errorf("not a JSON list of banks: %v", err)
		}
		c.Banks = banks
		return nil
	}},
	boolean("bank_sim", "IDP_BANK_SIM", "bank-sim", "development mode only: play a bank for another server (seeds its client and confirmed citizens)", func(c *Config) *bool { return &c.BankSim }),
	str("bank_sim_redirect_uri", "IDP_BANK_SIM_REDIRECT_URI", "bank-sim-redirect-uri", "the bank simulator's client redirect URI: the other server's /login/bank/callback", func(c *Config) *string { return &c.BankSimRedirectURI }),
	str("bank_sim_citizens", "IDP_BANK_SIM_CITIZENS", "bank-sim-citizens", "YAML or JSON file of the bank simulator's citizens (empty: built-in ones)", func(c *Config) *string { return &c.BankSimCitizens }),
	str("otlp_endpoint", "IDP_OTLP_ENDPOINT", "otlp-endpoint", "OTLP/HTTP collector base URL receiving traces, e.g. http://collector:4318 (empty: tracing off)", func(c *Config) *string { return &c.OTLPEndpoint }),
	{key: "otlp_sample_ratio", env: "IDP_OTLP_SAMPLE_RATIO", flag: "otlp-sample-ratio", usage: "share of new traces recorded, 0 to 1", set: func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("not a number such as 0.1: %q", v)
		}
		c.OTLPSampleRatio = f
		return nil
	}},
}

// settings of the electronic-signature login.
func init() { settings = append(settings, signatureSettings...) }

func str(key, env, flag, usage string, field func(*Config) *string) setting {
	return setting{key: key, env: env, flag: flag, usage: usage, set: func(c *Config, v string) error {
		*field(c) = v
		return nil
	}}
}

func boolean(key, env, flag, usage string, field func(*Config) *bool) setting {
	return setting{key: key, env: env, flag: flag, usage: usage, isBool: true, set: func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("not a boolean: %q", v)
		}
		*field(c) = b
		return nil
	}}
}

func dur(key, env, flag, usage string, field func(*Config) *time.Duration) setting {
	return setting{key: key, env: env, flag: flag, usage: usage, set: func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration such as 15m or 720h: %q", v)
		}
		*field(c) = d
		return nil
	}}
}

func integer(key, env, flag, usage string, field func(*Config) *int) setting {
	return setting{key: key, env: env, flag: flag, usage: usage, set: func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not an integer: %q", v)
		}
		*field(c) = n
		return nil
	}}
}

func uint32s(key, env, flag, usage string, field func(*Config) *uint32) setting {
	return setting{key: key, env: env, flag: flag, usage: usage, set: func(c *Config, v string) error {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return fmt.Errorf("not a non-negative 32-bit integer: %q", v)
		}
		*field(c) = uint32(n)
		return nil
	}}
}

// lookup returns the setting of a YAML key; Validate uses it to name the
// environment variable in its messages.
func lookup(key string) setting {
	for _, s := range settings {
		if s.key == key {
			return s
		}
	}
	return setting{key: key}
}

// Usage writes every setting with its flag, environment variable and YAML
// key. Callers print it for --help (Load returns flag.ErrHelp).
func Usage(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FLAG\tENVIRONMENT\tYAML KEY\tMEANING")
	fmt.Fprintln(tw, "--config\tIDP_CONFIG\t\tYAML configuration file")
	for _, s := range settings {
		flag := "-"
		if s.flag != "" {
			flag = "--" + s.flag
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", flag, s.env, s.key, s.usage)
	}
	fmt.Fprintln(tw, "\nPrecedence: flags, then environment, then the YAML file, then defaults.")
	return tw.Flush()
}
