package config

import (
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func validProd() *Config {
	c := Defaults()
	c.Issuer = "https://idp.example.ru"
	c.Listen = ":8080"
	c.DatabaseURL = "postgres://idp@db:5432/idp"
	c.RedisURL = "redis://cache:6379/0"
	c.AdminToken = strings.Repeat("a", MinAdminTokenChars)
	c.SecretKey = strings.Repeat("ab", MinSecretKeyBytes)
	return c
}

func validDev() *Config {
	c := Defaults()
	c.Dev = true
	c.Issuer = DevIssuer
	c.Listen = DevListen
	return c
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		base   func() *Config
		mutate func(c *Config)
		want   []string // YAML keys of the expected problems, sorted
	}{
		{name: "valid production", base: validProd, mutate: func(c *Config) {}},
		{name: "valid development without storage or secrets", base: validDev, mutate: func(c *Config) {}},
		{name: "dev allows a loopback http issuer and short admin token", base: validDev, mutate: func(c *Config) {
			c.Issuer = "http://localhost:8080"
			c.AdminToken = "dev"
			c.Argon2.MemoryKiB = 64
		}},
		{name: "production http on 127.0.0.1", base: validProd, mutate: func(c *Config) { c.Issuer = "http://127.0.0.1:8080" }},
		{name: "production http on 127.0.0.0/8", base: validProd, mutate: func(c *Config) { c.Issuer = "http://127.5.5.5" }},
		{name: "production http on ::1", base: validProd, mutate: func(c *Config) { c.Issuer = "http://[::1]:8080" }},
		{name: "production http on localhost", base: validProd, mutate: func(c *Config) { c.Issuer = "http://LOCALHOST:8080" }},
		{name: "pgx key=value DSN", base: validProd, mutate: func(c *Config) { c.DatabaseURL = "host=db user=idp dbname=idp" }},
		{name: "postgresql scheme and rediss", base: validProd, mutate: func(c *Config) {
			c.DatabaseURL = "postgresql://db/idp"
			c.RedisURL = "rediss://cache:6380"
		}},
		{name: "trusted proxies", base: validProd, mutate: func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.1", "2001:db8::/32"} }},
		{name: "ES256 and text logs at debug", base: validProd, mutate: func(c *Config) {
			c.AccessTokenAlg = AlgES256
			c.LogFormat = LogText
			c.LogLevel = "DEBUG"
		}},

		{name: "issuer missing", base: validProd, mutate: func(c *Config) { c.Issuer = "" }, want: []string{"issuer"}},
		{name: "issuer relative", base: validProd, mutate: func(c *Config) { c.Issuer = "idp.example.ru" }, want: []string{"issuer"}},
		{name: "issuer without host", base: validProd, mutate: func(c *Config) { c.Issuer = "https:///path" }, want: []string{"issuer"}},
		{name: "issuer scheme", base: validDev, mutate: func(c *Config) { c.Issuer = "ftp://idp.example.ru" }, want: []string{"issuer"}},
		{name: "issuer query", base: validProd, mutate: func(c *Config) { c.Issuer = "https://idp.example.ru?tenant=1" }, want: []string{"issuer"}},
		{name: "issuer empty query", base: validProd, mutate: func(c *Config) { c.Issuer = "https://idp.example.ru?" }, want: []string{"issuer"}},
		{name: "issuer fragment", base: validDev, mutate: func(c *Config) { c.Issuer = "http://127.0.0.1:8080#x" }, want: []string{"issuer"}},
		{name: "issuer trailing slash", base: validProd, mutate: func(c *Config) { c.Issuer = "https://idp.example.ru/" }, want: []string{"issuer"}},
		{name: "issuer user info", base: validProd, mutate: func(c *Config) { c.Issuer = "https://u:p@idp.example.ru" }, want: []string{"issuer"}},
		{name: "production http not loopback", base: validProd, mutate: func(c *Config) { c.Issuer = "http://idp.example.ru" }, want: []string{"issuer"}},
		{name: "issuer path", base: validProd, mutate: func(c *Config) { c.Issuer = "https://idp.example.ru/idp" }, want: []string{"issuer"}},
		{name: "dev issuer on the LAN", base: validDev, mutate: func(c *Config) { c.Issuer = "http://192.168.1.5:8080" }, want: []string{"issuer"}},
		{name: "dev listening on every interface", base: validDev, mutate: func(c *Config) { c.Listen = "0.0.0.0:8080" }, want: []string{"listen"}},
		{name: "loopback-looking name is not loopback", base: validProd, mutate: func(c *Config) { c.Issuer = "http://127.0.0.1.example.ru" }, want: []string{"issuer"}},

		{name: "listen without port", base: validProd, mutate: func(c *Config) { c.Listen = "8080" }, want: []string{"listen"}},
		{name: "listen port not a number", base: validProd, mutate: func(c *Config) { c.Listen = "0.0.0.0:http-alt" }, want: []string{"listen"}},
		{name: "listen port too large", base: validProd, mutate: func(c *Config) { c.Listen = ":65536" }, want: []string{"listen"}},

		{name: "production without database", base: validProd, mutate: func(c *Config) { c.DatabaseURL = "" }, want: []string{"database_url"}},
		{name: "database scheme", base: validDev, mutate: func(c *Config) { c.DatabaseURL = "mysql://db/idp" }, want: []string{"database_url"}},
		{name: "database garbage", base: validDev, mutate: func(c *Config) { c.DatabaseURL = "db" }, want: []string{"database_url"}},
		{name: "production without redis", base: validProd, mutate: func(c *Config) { c.RedisURL = "" }, want: []string{"redis_url"}},
		{name: "redis not a URL", base: validDev, mutate: func(c *Config) { c.RedisURL = "cache:6379" }, want: []string{"redis_url"}},

		{name: "production without secret key", base: validProd, mutate: func(c *Config) { c.SecretKey = "" }, want: []string{"secret_key"}},
		{name: "production short secret key", base: validProd, mutate: func(c *Config) { c.SecretKey = strings.Repeat("k", 31) }, want: []string{"secret_key"}},
		{name: "dev short secret key", base: validDev, mutate: func(c *Config) { c.SecretKey = "secret" }, want: []string{"secret_key"}},
		{name: "short previous secret key", base: validProd, mutate: func(c *Config) {
			c.SecretKeysPrevious = []string{strings.Repeat("cd", MinSecretKeyBytes), "secret"}
		}, want: []string{"secret_key_previous"}},
		{name: "previous secret key repeats the current one", base: validProd, mutate: func(c *Config) {
			c.SecretKeysPrevious = []string{hex.EncodeToString(c.SecretKeyBytes())}
		}, want: []string{"secret_key_previous"}},
		{name: "previous secret key twice", base: validProd, mutate: func(c *Config) {
			c.SecretKeysPrevious = []string{strings.Repeat("cd", MinSecretKeyBytes), strings.Repeat("CD", MinSecretKeyBytes)}
		}, want: []string{"secret_key_previous"}},
		{name: "production without admin token", base: validProd, mutate: func(c *Config) { c.AdminToken = "" }, want: []string{"admin_token"}},
		{name: "production short admin token", base: validProd, mutate: func(c *Config) { c.AdminToken = strings.Repeat("a", 31) }, want: []string{"admin_token"}},

		{name: "alg", base: validProd, mutate: func(c *Config) { c.AccessTokenAlg = "HS256" }, want: []string{"access_token_alg"}},
		{name: "log level", base: validProd, mutate: func(c *Config) { c.LogLevel = "loud" }, want: []string{"log_level"}},
		{name: "log format", base: validProd, mutate: func(c *Config) { c.LogFormat = "xml" }, want: []string{"log_format"}},

		{name: "zero and negative durations", base: validProd, mutate: func(c *Config) {
			c.AccessTokenLifetime = 0
			c.IDTokenLifetime = -time.Second
			c.RefreshTokenLifetime = 0
			c.CodeLifetime = 0
			c.SessionLifetime = 0
			c.KeyRefreshInterval = 0
			c.KeyPublishDelay = 0
			c.LoginLockoutDuration = 0
			c.IPFailureWindow = 0
			c.ShutdownTimeout = 0
		}, want: []string{"access_token_lifetime", "code_lifetime", "id_token_lifetime", "ip_failure_window", "key_publish_delay", "key_refresh_interval", "login_lockout_duration", "refresh_token_lifetime", "session_lifetime", "shutdown_timeout"}},
		{name: "code lifetime over 10m", base: validProd, mutate: func(c *Config) { c.CodeLifetime = 11 * time.Minute }, want: []string{"code_lifetime"}},
		{name: "key published for less than a refresh", base: validProd, mutate: func(c *Config) { c.KeyPublishDelay = 5 * time.Second }, want: []string{"key_publish_delay"}},

		{name: "argon2 zero time and threads", base: validProd, mutate: func(c *Config) { c.Argon2.Time = 0; c.Argon2.Threads = 0 }, want: []string{"argon2.threads", "argon2.time"}},
		{name: "argon2 memory below 8 x threads", base: validDev, mutate: func(c *Config) { c.Argon2 = Argon2{MemoryKiB: 31, Time: 1, Threads: 4} }, want: []string{"argon2.memory_kib"}},
		{name: "argon2 memory over 4 GiB", base: validProd, mutate: func(c *Config) { c.Argon2.MemoryKiB = 4<<20 + 1 }, want: []string{"argon2.memory_kib"}},
		{name: "argon2 toy memory in production", base: validProd, mutate: func(c *Config) { c.Argon2.MemoryKiB = 4096 }, want: []string{"argon2.memory_kib"}},
		{name: "limits below one", base: validProd, mutate: func(c *Config) {
			c.MaxConcurrentHashes = 0
			c.LoginLockoutAttempts = 0
			c.IPFailureLimit = -1
		}, want: []string{"ip_failure_limit", "login_lockout_attempts", "max_concurrent_hashes"}},
		{name: "job durations not positive", base: validProd, mutate: func(c *Config) {
			c.JobBackoff, c.JobMaxBackoff, c.JobTimeout, c.JobRescueAfter, c.JobPollInterval = 0, -time.Second, 0, 0, 0
		}, want: []string{"job_backoff", "job_max_backoff", "job_poll_interval", "job_rescue_after", "job_timeout"}},
		{name: "job counts out of range", base: validProd, mutate: func(c *Config) { c.JobWorkers, c.JobMaxAttempts = 0, 1001 },
			want: []string{"job_max_attempts", "job_workers"}},
		{name: "job bounds out of order", base: validProd, mutate: func(c *Config) {
			c.JobBackoff, c.JobMaxBackoff = time.Minute, time.Second
			c.JobTimeout, c.JobRescueAfter = time.Hour, time.Minute
			c.JobPollInterval = time.Millisecond
		}, want: []string{"job_max_backoff", "job_poll_interval", "job_rescue_after"}},
		{name: "bad proxies, each reported", base: validProd, mutate: func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/33", "proxy.local", "10.0.0.1"} }, want: []string{"trusted_proxies", "trusted_proxies"}},

		{name: "senders", base: validProd, mutate: func(c *Config) {
			c.SMTPURL = "smtp://idp:pw@mail.example.ru:587?from=noreply@example.ru"
			c.SMSGatewayURL = "https://sms.example.ru/v1/send?account=idp"
			c.SMSGatewayToken = "gateway-token"
		}},
		{name: "senders on loopback in dev", base: validDev, mutate: func(c *Config) {
			c.SMTPURL = "smtp://127.0.0.1:1025?from=noreply@example.ru"
			c.SMSGatewayURL = "http://127.0.0.1:9000/sms"
			c.SMSGatewayToken = "dev"
		}},
		{name: "smtps", base: validProd, mutate: func(c *Config) { c.SMTPURL = "smtps://mail.example.ru?from=noreply@example.ru" }},
		{name: "smtp URL without from", base: validProd, mutate: func(c *Config) { c.SMTPURL = "smtp://idp:pw@mail.example.ru:587" }, want: []string{"smtp_url"}},
		{name: "smtp URL scheme", base: validDev, mutate: func(c *Config) { c.SMTPURL = "mail.example.ru:587" }, want: []string{"smtp_url"}},
		{name: "sms gateway over http to another host", base: validProd, mutate: func(c *Config) {
			c.SMSGatewayURL = "http://sms.example.ru/send"
			c.SMSGatewayToken = "gateway-token"
		}, want: []string{"sms_gateway_url"}},
		{name: "sms gateway without a token", base: validDev, mutate: func(c *Config) { c.SMSGatewayURL = "https://sms.example.ru/send" }, want: []string{"sms_gateway_token"}},
		{name: "sms token without a gateway", base: validProd, mutate: func(c *Config) { c.SMSGatewayToken = "gateway-token" }, want: []string{"sms_gateway_token"}},
		{name: "sms token with a space", base: validProd, mutate: func(c *Config) {
			c.SMSGatewayURL = "https://sms.example.ru/send"
			c.SMSGatewayToken = "gateway token"
		}, want: []string{"sms_gateway_token"}},
		{name: "every sender problem at once", base: validProd, mutate: func(c *Config) {
			c.SMTPURL = "ftp://mail.example.ru"
			c.SMSGatewayURL = "sms.example.ru"
		}, want: []string{"sms_gateway_token", "sms_gateway_url", "smtp_url"}},

		{name: "bare production reports everything at once", base: Defaults, mutate: func(c *Config) { c.Listen = ":8080" },
			want: []string{"admin_token", "database_url", "issuer", "redis_url", "secret_key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.base()
			tt.mutate(c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v, want a *ValidationError", err)
			}
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.Key)
				if p.Source != lookup(p.Key).env || p.Source == "" || p.Message == "" {
					t.Errorf("problem %q does not name its environment variable %s or has no message", p, lookup(p.Key).env)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems %v, want %v:\n%v", got, tt.want, err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(ve.Problems)+1 {
				t.Errorf("error has %d lines, want a header and one per problem:\n%v", len(lines), err)
			}
		})
	}
}

func TestValidateNeverEchoesSecrets(t *testing.T) {
	t.Parallel()
	c := validProd()
	c.AdminToken = "short-admin-token"
	c.SecretKey = "short-secret-key"
	c.SecretKeysPrevious = []string{"short-previous-key"}
	c.DatabaseURL = "mysql://idp:db-password@db/idp"
	c.SMTPURL = "smtp://idp:smtp-password@mail.example.ru:bad?from=noreply@example.ru"
	c.SMSGatewayURL = "http://sms.example.ru/send?key=sms-url-key"
	c.SMSGatewayToken = "sms token"
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted short secrets")
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || !ve.Has("smtp_url") || !ve.Has("sms_gateway_url") || !ve.Has("sms_gateway_token") {
		t.Errorf("the senders' problems are not all reported:\n%v", err)
	}
	for _, secret := range []string{c.AdminToken, c.SecretKey, c.SecretKeysPrevious[0], "db-password", "smtp-password", "sms-url-key", c.SMSGatewayToken} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error message contains the secret %q:\n%v", secret, err)
		}
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	c := validProd()
	c.TrustedProxies = []string{"10.1.2.3/8", "192.0.2.1", "::ffff:192.0.2.2", "bad"}
	got := c.TrustedProxyPrefixes()
	want := []string{"10.0.0.0/8", "192.0.2.1/32", "192.0.2.2/32"}
	if len(got) != len(want) {
		t.Fatalf("TrustedProxyPrefixes = %v, want %v", got, want)
	}
	for i := range got {
		if got[i].String() != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, got[i], want[i])
		}
	}
	eq(t, "IssuerHTTPS", c.IssuerHTTPS(), true)
	eq(t, "InMemory", c.InMemory(), false)
	d := validDev()
	eq(t, "dev IssuerHTTPS", d.IssuerHTTPS(), false)
	eq(t, "dev InMemory", d.InMemory(), true)
	c.LogLevel = "warn"
	eq(t, "SlogLevel", c.SlogLevel().String(), "WARN")
	var b strings.Builder
	c.LogFormat = LogText
	slogTest := c.LogHandler(&b)
	if slogTest.Enabled(t.Context(), -4) {
		t.Error("debug enabled at warn")
	}
}
