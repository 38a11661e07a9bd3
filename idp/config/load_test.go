package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "idp.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadPrecedence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		file  string // YAML; passed with --config when not empty
		env   map[string]string
		args  []string
		check func(t *testing.T, c *Config)
	}{
		{
			name: "defaults",
			check: func(t *testing.T, c *Config) {
				want := Defaults()
				want.Listen = ":8080"
				if !reflect.DeepEqual(c, want) {
					t.Errorf("got %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name: "file over defaults, nested keys keep their siblings",
			file: "issuer: https://file.example\nlog_level: debug\nargon2:\n  time: 3\ntrusted_proxies: [10.0.0.0/8]\ncode_lifetime: 90s\n",
			check: func(t *testing.T, c *Config) {
				eq(t, "issuer", c.Issuer, "https://file.example")
				eq(t, "log_level", c.LogLevel, "debug")
				eq(t, "argon2", c.Argon2, Argon2{MemoryKiB: 19456, Time: 3, Threads: 1})
				eq(t, "trusted_proxies", c.TrustedProxies, []string{"10.0.0.0/8"})
				eq(t, "code_lifetime", c.CodeLifetime, 90*time.Second)
				eq(t, "access_token_lifetime", c.AccessTokenLifetime, 15*time.Minute)
			},
		},
		{
			name: "env over file",
			file: "issuer: https://file.example\nlog_level: warn\n",
			env:  map[string]string{"IDP_ISSUER": "https://env.example", "IDP_ARGON2_MEMORY_KIB": "65536", "IDP_TRUSTED_PROXIES": " 10.0.0.1, 192.168.0.0/16 ,"},
			check: func(t *testing.T, c *Config) {
				eq(t, "issuer", c.Issuer, "https://env.example")
				eq(t, "log_level", c.LogLevel, "warn")
				eq(t, "argon2.memory_kib", c.Argon2.MemoryKiB, uint32(65536))
				eq(t, "trusted_proxies", c.TrustedProxies, []string{"10.0.0.1", "192.168.0.0/16"})
			},
		},
		{
			name: "flag over env over file",
			file: "issuer: https://file.example\nlisten: 0.0.0.0:1\n",
			env:  map[string]string{"IDP_ISSUER": "https://env.example", "IDP_LISTEN": "0.0.0.0:2"},
			args: []string{"--issuer", "https://flag.example"},
			check: func(t *testing.T, c *Config) {
				eq(t, "issuer", c.Issuer, "https://flag.example")
				eq(t, "listen", c.Listen, "0.0.0.0:2")
			},
		},
		{
			name: "flag equal to the default still overrides env",
			env:  map[string]string{"IDP_ACCESS_TOKEN_ALG": "ES256", "IDP_DEV": "true", "IDP_MIGRATE": "1"},
			args: []string{"--access-token-alg=RS256", "--dev=false", "-migrate=false"},
			check: func(t *testing.T, c *Config) {
				eq(t, "access_token_alg", c.AccessTokenAlg, AlgRS256)
				eq(t, "dev", c.Dev, false)
				eq(t, "migrate", c.Migrate, false)
				eq(t, "generated", c.AdminTokenGenerated || c.SecretKeyGenerated, false)
			},
		},
		{
			name: "every flag kind",
			args: []string{"--migrate", "--key-refresh=3s", "--argon2-threads=4", "--max-concurrent-hashes", "7", "--trusted-proxies=::1/128", "--log-format=text", "--redis-prefix=x:",
				"--job-workers=9", "--job-rescue-after=10m"},
			check: func(t *testing.T, c *Config) {
				eq(t, "job_workers", c.JobWorkers, 9)
				eq(t, "job_rescue_after", c.JobRescueAfter, 10*time.Minute)
				eq(t, "migrate", c.Migrate, true)
				eq(t, "key_refresh_interval", c.KeyRefreshInterval, 3*time.Second)
				eq(t, "argon2.threads", c.Argon2.Threads, uint8(4))
				eq(t, "max_concurrent_hashes", c.MaxConcurrentHashes, 7)
				eq(t, "trusted_proxies", c.TrustedProxies, []string{"::1/128"})
				eq(t, "log_format", c.LogFormat, LogText)
				eq(t, "redis_prefix", c.RedisPrefix, "x:")
			},
		},
		{
			name: "dev fills issuer, listen and generates secrets",
			args: []string{"--dev"},
			check: func(t *testing.T, c *Config) {
				eq(t, "issuer", c.Issuer, DevIssuer)
				eq(t, "listen", c.Listen, DevListen)
				eq(t, "generated", c.AdminTokenGenerated && c.SecretKeyGenerated, true)
				if len(c.AdminToken) < MinAdminTokenChars {
					t.Errorf("generated admin token too short: %d chars", len(c.AdminToken))
				}
				if n := len(c.SecretKeyBytes()); n != 32 {
					t.Errorf("generated secret key decodes to %d bytes, want 32", n)
				}
				if err := c.Validate(); err != nil {
					t.Errorf("dev defaults do not validate: %v", err)
				}
			},
		},
		{
			name: "dev keeps given secrets and derives listen from the issuer",
			env:  map[string]string{"IDP_DEV": "true", "IDP_ISSUER": "http://localhost:9000", "IDP_ADMIN_TOKEN": "dev", "IDP_SECRET_KEY": strings.Repeat("k", 32)},
			check: func(t *testing.T, c *Config) {
				eq(t, "listen", c.Listen, "127.0.0.1:9000")
				eq(t, "admin_token", c.AdminToken, "dev")
				eq(t, "secret_key", c.SecretKey, strings.Repeat("k", 32))
				eq(t, "generated", c.AdminTokenGenerated || c.SecretKeyGenerated, false)
			},
		},
		{
			name: "previous secret keys, comma-separated, no flag",
			env:  map[string]string{"IDP_SECRET_KEY_PREVIOUS": strings.Repeat("ab", 32) + " , " + strings.Repeat("k", 32) + ","},
			check: func(t *testing.T, c *Config) {
				if len(c.SecretKeysPrevious) != 2 || c.SecretKeysPrevious[1] != strings.Repeat("k", 32) {
					t.Errorf("SecretKeysPrevious = %q", c.SecretKeysPrevious)
				}
				prev := c.PreviousSecretKeyBytes()
				if len(prev) != 2 || len(prev[0]) != 32 || string(prev[1]) != strings.Repeat("k", 32) {
					t.Errorf("PreviousSecretKeyBytes = %x", prev)
				}
			},
		},
		{
			name: "senders from the environment",
			env: map[string]string{
				"IDP_SMTP_URL":          "smtps://idp:pw@mail.example.ru?from=noreply@example.ru",
				"IDP_SMS_GATEWAY_URL":   "https://sms.example.ru/send",
				"IDP_SMS_GATEWAY_TOKEN": "gateway-token",
			},
			check: func(t *testing.T, c *Config) {
				eq(t, "smtp_url", c.SMTPURL, "smtps://idp:pw@mail.example.ru?from=noreply@example.ru")
				eq(t, "sms_gateway_url", c.SMSGatewayURL, "https://sms.example.ru/send")
				eq(t, "sms_gateway_token", c.SMSGatewayToken, "gateway-token")
			},
		},
		{
			name: "senders from the file, the gateway's URL by flag",
			file: "smtp_url: smtp://127.0.0.1:25?from=noreply@example.ru\nsms_gateway_url: https://file.example/sms\nsms_gateway_token: file-token\n",
			args: []string{"--sms-gateway-url=https://flag.example/sms"},
			check: func(t *testing.T, c *Config) {
				eq(t, "smtp_url", c.SMTPURL, "smtp://127.0.0.1:25?from=noreply@example.ru")
				eq(t, "sms_gateway_url", c.SMSGatewayURL, "https://flag.example/sms")
				eq(t, "sms_gateway_token", c.SMSGatewayToken, "file-token")
			},
		},
		{
			name: "production listen from the issuer's port",
			env:  map[string]string{"IDP_ISSUER": "https://idp.example:9443/esia"},
			check: func(t *testing.T, c *Config) {
				eq(t, "listen", c.Listen, ":9443")
				eq(t, "generated", c.AdminTokenGenerated || c.SecretKeyGenerated, false)
				eq(t, "admin_token", c.AdminToken, "")
			},
		},
		{
			name: "production listen without a port in the issuer",
			env:  map[string]string{"IDP_ISSUER": "https://idp.example"},
			check: func(t *testing.T, c *Config) {
				eq(t, "listen", c.Listen, ":8080")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := tt.args
			if tt.file != "" {
				args = append([]string{"--config", writeFile(t, tt.file)}, args...)
			}
			c, err := Load(args, envOf(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func TestLoadConfigFileChoice(t *testing.T) {
	t.Parallel()
	fromEnv := writeFile(t, "issuer: https://env-file.example\n")
	fromFlag := writeFile(t, "issuer: https://flag-file.example\n")

	c, err := Load(nil, envOf(map[string]string{"IDP_CONFIG": fromEnv}))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "issuer via IDP_CONFIG", c.Issuer, "https://env-file.example")

	c, err = Load([]string{"--config=" + fromFlag}, envOf(map[string]string{"IDP_CONFIG": fromEnv}))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "issuer via --config", c.Issuer, "https://flag-file.example")

	c, err = Load(nil, envOf(map[string]string{"IDP_CONFIG": writeFile(t, "")}))
	if err != nil {
		t.Fatalf("empty file: %v", err)
	}
	eq(t, "issuer from an empty file", c.Issuer, "")
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		env  map[string]string
		args []string
		// problems, when set, are the keys and sources the *ValidationError
		// must list; otherwise want is a substring of the error.
		problems []Problem
		want     string
	}{
		{name: "unknown flag", args: []string{"--nope"}, want: "flag provided but not defined"},
		{name: "no flag for secrets", args: []string{"--admin-token=x"}, want: "flag provided but not defined"},
		{name: "no flag for the SMTP URL", args: []string{"--smtp-url=smtp://u:p@h?from=a@b.ru"}, want: "flag provided but not defined"},
		{name: "no flag for the SMS token", args: []string{"--sms-gateway-token=x"}, want: "flag provided but not defined"},
		{name: "positional argument", args: []string{"--dev", "extra"}, want: `unexpected argument "extra"`},
		{name: "missing file", args: []string{"--config", "/nonexistent/idp.yaml"}, want: "read file"},
		{name: "unknown yaml key", file: "issuer: https://a.example\nisuer: typo\n", want: "isuer"},
		{name: "yaml duration as a number", file: "code_lifetime: 60\n", want: "time.Duration"},
		{name: "bad yaml", file: "issuer: [\n", want: "idp.yaml"},
		{
			name: "every bad env and flag value at once",
			env:  map[string]string{"IDP_CODE_LIFETIME": "2 minutes", "IDP_DEV": "yes please", "IDP_ARGON2_THREADS": "300", "IDP_IP_FAILURE_LIMIT": "many"},
			args: []string{"--argon2-memory-kib=-1"},
			problems: []Problem{
				{Key: "dev", Source: "IDP_DEV"},
				{Key: "code_lifetime", Source: "IDP_CODE_LIFETIME"},
				{Key: "argon2.threads", Source: "IDP_ARGON2_THREADS"},
				{Key: "ip_failure_limit", Source: "IDP_IP_FAILURE_LIMIT"},
				{Key: "argon2.memory_kib", Source: "--argon2-memory-kib"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := tt.args
			if tt.file != "" {
				args = append([]string{"--config", writeFile(t, tt.file)}, args...)
			}
			c, err := Load(args, envOf(tt.env))
			if err == nil {
				t.Fatalf("Load succeeded: %+v", c)
			}
			if tt.problems == nil {
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %q does not contain %q", err, tt.want)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *ValidationError", err)
			}
			if len(ve.Problems) != len(tt.problems) {
				t.Errorf("got %d problems, want %d:\n%v", len(ve.Problems), len(tt.problems), err)
			}
			for i, p := range ve.Problems {
				if i < len(tt.problems) && (p.Key != tt.problems[i].Key || p.Source != tt.problems[i].Source) {
					t.Errorf("problem %d = %s, want key %s from %s", i, p, tt.problems[i].Key, tt.problems[i].Source)
				}
				if p.Message == "" {
					t.Errorf("problem %d has no message", i)
				}
			}
		})
	}
}

func TestLoadHelp(t *testing.T) {
	t.Parallel()
	_, err := Load([]string{"--help"}, nil)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("Load(--help) = %v, want flag.ErrHelp", err)
	}
	var b strings.Builder
	if err := Usage(&b); err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		if !strings.Contains(b.String(), s.env) {
			t.Errorf("usage does not mention %s", s.env)
		}
	}
}

// TestSettingsMatchYAML keeps the table of environment variables and flags
// in step with the YAML keys of Config.
func TestSettingsMatchYAML(t *testing.T) {
	t.Parallel()
	yamlKeys := map[string]bool{}
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag := f.Tag.Get("yaml")
			if tag == "-" {
				continue
			}
			if tag == "" {
				t.Errorf("field %s has no yaml tag", f.Name)
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
				walk(prefix+tag+".", f.Type)
				continue
			}
			yamlKeys[prefix+tag] = true
		}
	}
	walk("", reflect.TypeOf(Config{}))

	seenEnv := map[string]bool{}
	seenFlag := map[string]bool{}
	for _, s := range settings {
		if !yamlKeys[s.key] {
			t.Errorf("setting %s is not a yaml key of Config", s.key)
		}
		delete(yamlKeys, s.key)
		if !strings.HasPrefix(s.env, "IDP_") || seenEnv[s.env] {
			t.Errorf("setting %s: bad or duplicate env %q", s.key, s.env)
		}
		seenEnv[s.env] = true
		if s.flag != "" && seenFlag[s.flag] {
			t.Errorf("setting %s: duplicate flag %q", s.key, s.flag)
		}
		seenFlag[s.flag] = true
	}
	for k := range yamlKeys {
		t.Errorf("yaml key %s has no environment variable", k)
	}
}
