package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/registry"
	"github.com/esia-oidc/idp/internal/tracing"
)

// Problem is one invalid setting.
type Problem struct {
	// Key is the YAML key, e.g. "issuer" or "argon2.time".
	Key string
	// Source is where to fix it: the environment variable, or the flag when
	// a flag's value did not parse.
	Source string
	// Message says what is wrong.
	Message string
}

func (p Problem) String() string {
	if p.Source == "" {
		return p.Key + ": " + p.Message
	}
	return p.Key + " (" + p.Source + "): " + p.Message
}

// ValidationError lists every problem found in a configuration.
type ValidationError struct {
	Problems []Problem
}

// Error prints the problems one per line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration:")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Has reports whether a problem concerns the YAML key.
func (e *ValidationError) Has(key string) bool {
	for _, p := range e.Problems {
		if p.Key == key {
			return true
		}
	}
	return false
}

// maxCodeLifetime is the upper bound that RFC 6749 section 4.1.2 recommends
// for authorization codes.
const maxCodeLifetime = 10 * time.Minute

// minProductionArgon2MemoryKiB is the smallest memory of the OWASP argon2id
// recommendations (m=7 MiB with t=5).
const minProductionArgon2MemoryKiB = 7168

// Validate checks the whole configuration and returns a *ValidationError
// listing every problem, or nil. Production mode (Dev false) additionally
// refuses what only development mode may rely on: in-memory storage, a
// missing or short secret key or admin token, a plain-http issuer that is
// not loopback, and toy argon2 parameters.
func (c *Config) Validate() error {
	var ps []Problem
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Source: lookup(key).env, Message: fmt.Sprintf(format, args...)})
	}
	prod := !c.Dev

	if msg := c.checkIssuer(); msg != "" {
		add("issuer", "%s", msg)
	}
	if host, port, err := net.SplitHostPort(c.Listen); err != nil {
		add("listen", "must be host:port or :port, got %q", c.Listen)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		add("listen", "port must be a number from 0 to 65535, got %q", port)
	} else if c.Dev && !isLoopback(host) {
		add("listen", "must be a loopback address in development mode, got %q", c.Listen)
	}

	if c.Dev && c.DatabaseURL != "" && c.SecretKeyGenerated {
		add("secret_key", "must be set when development mode keeps data in a database: keys sealed with a generated secret cannot be opened at the next start")
	}
	if c.MetricsListen != "" {
		if _, port, err := net.SplitHostPort(c.MetricsListen); err != nil || port == "" {
			add("metrics_listen", "must be host:port or :port, got %q", c.MetricsListen)
		}
	}
	if c.PprofListen != "" {
		host, _, err := net.SplitHostPort(c.PprofListen)
		if err != nil || !isLoopback(host) {
			add("pprof_listen", "must be a loopback host:port such as 127.0.0.1:6060, got %q", c.PprofListen)
		}
	}

	switch {
	case c.DatabaseURL == "" && prod:
		add("database_url", "is required in production (in-memory storage is a development setting)")
	case c.DatabaseURL != "":
		if msg := checkDatabaseURL(c.DatabaseURL); msg != "" {
			add("database_url", "%s", msg)
		}
	}
	switch {
	case c.RedisURL == "" && prod:
		add("redis_url", "is required in production (in-memory storage is a development setting)")
	case c.RedisURL != "":
		if u, err := url.Parse(c.RedisURL); err != nil || u.Scheme == "" || !strings.Contains(c.RedisURL, "://") {
			add("redis_url", "must be a URL such as redis://host:6379/0")
		}
	}

	switch {
	case c.SecretKey == "" && prod:
		add("secret_key", "is required in production (%s)", errShortSecretKey)
	case c.SecretKey != "":
		if _, err := parseSecretKey(c.SecretKey); err != nil {
			add("secret_key", "%s", err)
		}
	}
	current, _ := parseSecretKey(c.SecretKey)
	seen := map[string]bool{string(current): current != nil}
	for i, k := range c.SecretKeysPrevious {
		b, err := parseSecretKey(k)
		switch {
		case err != nil:
			add("secret_key_previous", "entry %d: %s", i+1, err)
		case seen[string(b)]:
			add("secret_key_previous", "entry %d: repeats secret_key or an earlier entry", i+1)
		}
		seen[string(b)] = true
	}
	if prod && len(c.AdminToken) < MinAdminTokenChars {
		if c.AdminToken == "" {
			add("admin_token", "is required in production (at least %d characters)", MinAdminTokenChars)
		} else {
			add("admin_token", "must have at least %d characters in production", MinAdminTokenChars)
		}
	}

	if c.AccessTokenAlg != AlgRS256 && c.AccessTokenAlg != AlgES256 {
		add("access_token_alg", "must be %s or %s, got %q", AlgRS256, AlgES256, c.AccessTokenAlg)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.LogLevel)); err != nil {
		add("log_level", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.LogFormat != LogJSON && c.LogFormat != LogText {
		add("log_format", "must be %s or %s, got %q", LogJSON, LogText, c.LogFormat)
	}

	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"access_token_lifetime", c.AccessTokenLifetime},
		{"id_token_lifetime", c.IDTokenLifetime},
		{"refresh_token_lifetime", c.RefreshTokenLifetime},
		{"code_lifetime", c.CodeLifetime},
		{"session_lifetime", c.SessionLifetime},
		{"key_refresh_interval", c.KeyRefreshInterval},
		{"key_publish_delay", c.KeyPublishDelay},
		{"login_lockout_duration", c.LoginLockoutDuration},
		{"ip_failure_window", c.IPFailureWindow},
		{"shutdown_timeout", c.ShutdownTimeout},
		{"job_backoff", c.JobBackoff},
		{"job_max_backoff", c.JobMaxBackoff},
		{"job_timeout", c.JobTimeout},
		{"job_rescue_after", c.JobRescueAfter},
		{"job_poll_interval", c.JobPollInterval},
	} {
		if d.v <= 0 {
			add(d.key, "must be a positive duration, got %s", d.v)
		}
	}
	if c.CodeLifetime > maxCodeLifetime {
		add("code_lifetime", "must be at most %s (RFC 6749 section 4.1.2), got %s", maxCodeLifetime, c.CodeLifetime)
	}
	if c.KeyRefreshInterval > 0 && c.KeyPublishDelay > 0 && c.KeyPublishDelay < c.KeyRefreshInterval {
		add("key_publish_delay", "must be at least key_refresh_interval (%s) so that every replica publishes a key before any signs with it", c.KeyRefreshInterval)
	}

	a := c.Argon2
	if a.Time < 1 {
		add("argon2.time", "must be at least 1")
	}
	if a.Threads < 1 {
		add("argon2.threads", "must be at least 1")
	}
	switch {
	case a.MemoryKiB < 8*uint32(a.Threads):
		add("argon2.memory_kib", "must be at least 8 x threads KiB (RFC 9106), got %d", a.MemoryKiB)
	case a.MemoryKiB > 4<<20:
		add("argon2.memory_kib", "must be at most 4194304 (4 GiB), got %d", a.MemoryKiB)
	case prod && a.MemoryKiB < minProductionArgon2MemoryKiB:
		add("argon2.memory_kib", "must be at least %d in production (OWASP), got %d", minProductionArgon2MemoryKiB, a.MemoryKiB)
	}
	if c.MaxConcurrentHashes < 1 {
		add("max_concurrent_hashes", "must be at least 1, got %d", c.MaxConcurrentHashes)
	}
	if c.LoginLockoutAttempts < 1 {
		add("login_lockout_attempts", "must be at least 1, got %d", c.LoginLockoutAttempts)
	}
	if c.IPFailureLimit < 1 {
		add("ip_failure_limit", "must be at least 1, got %d", c.IPFailureLimit)
	}
	for _, s := range c.TrustedProxies {
		if _, err := parsePrefix(s); err != nil {
			add("trusted_proxies", "%q is neither a CIDR nor an IP address", s)
		}
	}
	c.checkSenders(add)
	c.validateBanks(add)
	c.checkJobs(add)
	if c.OTLPEndpoint != "" {
		if err := tracing.CheckEndpoint(c.OTLPEndpoint); err != nil {
			add("otlp_endpoint", "%s", err)
		}
	}
	if !(c.OTLPSampleRatio >= 0 && c.OTLPSampleRatio <= 1) { // NaN too
		add("otlp_sample_ratio", "must be from 0 to 1, got %v", c.OTLPSampleRatio)
	}

	c.validateSignature(add)
	if len(ps) > 0 {
		return &ValidationError{Problems: ps}
	}
	return nil
}

// ValidateOnly is Validate restricted to the settings of the given YAML
// keys, for one-off jobs that need only some of them (idp secret reseal:
// the database and the secret keys).
func (c *Config) ValidateOnly(keys ...string) error {
	err := c.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var kept []Problem
	for _, p := range ve.Problems {
		if slices.Contains(keys, p.Key) {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return &ValidationError{Problems: kept}
}

// checkSenders checks the settings of the notification senders. Their
// messages never repeat the SMTP URL (it may hold a password), the SMS
// gateway's URL (its query may hold a key) or its token.
func (c *Config) checkSenders(add func(key, format string, args ...any)) {
	if c.SMTPURL != "" {
		if _, err := notify.ParseSMTPURL(c.SMTPURL); err != nil {
			add("smtp_url", "%s", err)
		}
	}
	switch {
	case c.SMSGatewayURL != "":
		if err := notify.CheckSMSGatewayURL(c.SMSGatewayURL); err != nil {
			add("sms_gateway_url", "%s", err)
		}
		if c.SMSGatewayToken == "" {
			add("sms_gateway_token", "is required with sms_gateway_url")
		} else if err := notify.CheckSMSGatewayToken(c.SMSGatewayToken); err != nil {
			add("sms_gateway_token", "%s", err)
		}
	case c.SMSGatewayToken != "":
		add("sms_gateway_token", "is set but sms_gateway_url is not")
	}
	switch {
	case c.RegistryURL != "":
		if err := registry.CheckURL(c.RegistryURL); err != nil {
			add("registry_url", "%s", err)
		}
	case c.RegistryToken != "":
		add("registry_token", "is set but registry_url is not")
	}
	if c.RegistrySimDelay < 0 {
		add("registry_sim_delay", "must not be negative")
	}
}

// validateBanks checks every configured bank, and that the bank simulator
// runs in development mode only.
func (c *Config) validateBanks(add func(key, format string, args ...any)) {
	seen := map[string]bool{}
	for i, b := range c.Banks {
		for _, p := range b.Validate() {
			add("banks", "#%d (%s): %s", i+1, b.ID, p)
		}
		if seen[b.ID] {
			add("banks", "#%d: id %q is used twice", i+1, b.ID)
		}
		seen[b.ID] = true
	}
	if c.BankSim && !c.Dev {
		add("bank_sim", "the bank simulator runs in development mode only")
	}
	if c.BankSim {
		if u, err := url.Parse(c.BankSimRedirectURI); err != nil || !u.IsAbs() || u.Host == "" {
			add("bank_sim_redirect_uri", "must be an absolute URL such as %s/login/bank/callback", DevIssuer)
		}
	}
}

// checkIssuer returns what is wrong with the issuer, or "".
func (c *Config) checkIssuer() string {
	if c.Issuer == "" {
		return "is required (e.g. https://idp.example.ru)"
	}
	u, err := url.Parse(c.Issuer)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return fmt.Sprintf("must be an absolute URL, got %q", c.Issuer)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Sprintf("must be an https URL, got scheme %q", u.Scheme)
	case u.User != nil:
		return "must not contain user information"
	case u.RawQuery != "" || u.ForceQuery:
		return "must not have a query (OpenID Connect Discovery section 3)"
	case u.Fragment != "" || strings.Contains(c.Issuer, "#"):
		return "must not have a fragment (OpenID Connect Discovery section 3)"
	case strings.HasSuffix(u.Path, "/"):
		return fmt.Sprintf("must not end with a slash (issuers are compared exactly): use %q", strings.TrimRight(c.Issuer, "/"))
	case u.Path != "":
		return "must not have a path: the endpoints are served at the root of the host"
	case c.Dev && !isLoopback(u.Hostname()):
		return "must be a loopback address in development mode (its demo account, outbox and printed admin token are for this machine only)"
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return "must be https unless the host is loopback"
	}
	return ""
}

// isLoopback reports whether host is localhost, 127.0.0.0/8 or ::1.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// checkDatabaseURL accepts a postgres:// or postgresql:// URL, or a pgx
// key=value connection string.
func checkDatabaseURL(s string) string {
	if !strings.Contains(s, "://") {
		if strings.Contains(s, "=") {
			return ""
		}
		return "must be a postgres:// URL or a key=value connection string"
	}
	u, err := url.Parse(s)
	if err != nil {
		return "must be a postgres:// URL" // never echo: it may hold a password
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Sprintf("scheme must be postgres or postgresql, got %q", u.Scheme)
	}
	return ""
}

// Bounds of the job settings.
const (
	maxJobWorkers     = 1000
	maxJobMaxAttempts = 1000
	minJobPoll        = 10 * time.Millisecond
)

// checkJobs checks the background job settings.
func (c *Config) checkJobs(add func(key, format string, args ...any)) {
	if c.JobWorkers < 1 || c.JobWorkers > maxJobWorkers {
		add("job_workers", "must be from 1 to %d, got %d", maxJobWorkers, c.JobWorkers)
	}
	if c.JobMaxAttempts < 1 || c.JobMaxAttempts > maxJobMaxAttempts {
		add("job_max_attempts", "must be from 1 to %d, got %d", maxJobMaxAttempts, c.JobMaxAttempts)
	}
	if c.JobBackoff > 0 && c.JobMaxBackoff > 0 && c.JobMaxBackoff < c.JobBackoff {
		add("job_max_backoff", "must be at least job_backoff (%s), got %s", c.JobBackoff, c.JobMaxBackoff)
	}
	if c.JobTimeout > 0 && c.JobRescueAfter > 0 && c.JobRescueAfter < c.JobTimeout {
		add("job_rescue_after", "must be at least job_timeout (%s): a job still in its attempt would be run twice at once, got %s", c.JobTimeout, c.JobRescueAfter)
	}
	if c.JobPollInterval > 0 && c.JobPollInterval < minJobPoll {
		add("job_poll_interval", "must be at least %s, got %s", minJobPoll, c.JobPollInterval)
	}
}
