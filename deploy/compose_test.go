package deploy

import (
	"bufio"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/esia-oidc/idp/idp/config"
)

// composeFile is the part of the Compose specification these tests read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string                       `yaml:"image"`
	Restart     string                       `yaml:"restart"`
	NetworkMode string                       `yaml:"network_mode"`
	User        string                       `yaml:"user"`
	ReadOnly    bool                         `yaml:"read_only"`
	CapDrop     []string                     `yaml:"cap_drop"`
	SecurityOpt []string                     `yaml:"security_opt"`
	Ports       []string                     `yaml:"ports"`
	EnvFile     []string                     `yaml:"env_file"`
	Environment map[string]string            `yaml:"environment"`
	Entrypoint  []string                     `yaml:"entrypoint"`
	DependsOn   map[string]composeDependency `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

type composeDependency struct {
	Condition string `yaml:"condition"`
}

func loadCompose(t *testing.T) (*composeFile, string) {
	t.Helper()
	raw, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("compose.yaml does not parse: %v", err)
	}
	return &c, string(raw)
}

// envExample reads .env.example: KEY=VALUE lines, # comments.
func envExample(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf(".env.example: %q is not KEY=VALUE", line)
		}
		env[k] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return env
}

// variable is an interpolation of the compose file: ${NAME}, ${NAME:-default},
// ${NAME:?message}.
var variable = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate resolves the variables of s from env as docker compose does
// ($$ is a literal $).
func interpolate(s string, env map[string]string) string {
	const dollar = "\x00"
	s = strings.ReplaceAll(s, "$$", dollar)
	s = variable.ReplaceAllStringFunc(s, func(m string) string {
		g := variable.FindStringSubmatch(m)
		if v := env[g[1]]; v != "" {
			return v
		}
		if strings.HasSuffix(g[2], "-") {
			return g[3]
		}
		return ""
	})
	return strings.ReplaceAll(s, dollar, "$")
}

// TestCompose checks deploy/compose.yaml: the services, their health
// checks and start order, the hardening of the provider's containers, and
// that no secret is written into the file.
func TestCompose(t *testing.T) {
	c, raw := loadCompose(t)
	for _, name := range []string{"postgres", "redis", "idp", "catalog", "mailpit", "jaeger", "bootstrap"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("no service %s", name)
		}
	}
	for name, s := range c.Services {
		if s.Image == "" {
			t.Errorf("%s: no image", name)
		}
		oneShot := s.Restart == "no"
		if !oneShot && (s.Healthcheck == nil || len(s.Healthcheck.Test) < 2 || !slices.Contains([]string{"CMD", "CMD-SHELL"}, s.Healthcheck.Test[0])) {
			t.Errorf("%s: a long-running service without a health check (%+v)", name, s.Healthcheck)
		}
		for dep, d := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("%s depends on %s, which is not a service", name, dep)
			}
			want := "service_healthy"
			if c.Services[dep].Restart == "no" {
				want = "service_completed_successfully"
			}
			if d.Condition != want {
				t.Errorf("%s depends on %s with condition %q, want %s", name, dep, d.Condition, want)
			}
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("%s publishes %q beyond the host's loopback", name, p)
			}
		}
		for k, v := range s.Environment {
			checkComposeEnv(t, name, k, v)
		}
		if m, ok := strings.CutPrefix(s.NetworkMode, "service:"); ok {
			if _, exists := c.Services[m]; !exists {
				t.Errorf("%s joins the network of %s, which is not a service", name, m)
			}
		}
	}
	for _, dep := range []string{"postgres", "redis"} {
		if c.Services["idp"].DependsOn[dep].Condition != "service_healthy" {
			t.Errorf("idp does not wait for %s to be healthy", dep)
		}
	}
	if c.Services["catalog"].DependsOn["idp"].Condition != "service_healthy" {
		t.Error("catalog does not wait for idp to be healthy")
	}
	// The provider and the catalog run from the image, hardened.
	for _, name := range []string{"idp", "catalog"} {
		s := c.Services[name]
		if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("%s: read_only %v, cap_drop %v, security_opt %v: want read-only, ALL dropped, no-new-privileges", name, s.ReadOnly, s.CapDrop, s.SecurityOpt)
		}
		if s.User == "" || strings.HasPrefix(s.User, "0") || strings.HasPrefix(s.User, "root") {
			t.Errorf("%s: user %q, want a non-root uid", name, s.User)
		}
		if s.Healthcheck == nil || !slices.Contains(s.Healthcheck.Test, "healthcheck") {
			t.Errorf("%s: health check %+v, want the image's idp healthcheck (no shell in the image)", name, s.Healthcheck)
		}
		if !slices.Contains(s.EnvFile, ".env") {
			t.Errorf("%s: secrets are not read from .env (env_file %v)", name, s.EnvFile)
		}
	}
	if c.Services["idp"].Environment["IDP_MIGRATE"] != "true" {
		t.Error("idp does not apply migrations at start (IDP_MIGRATE)")
	}
	if _, dev := c.Services["idp"].Environment["IDP_DEV"]; dev {
		t.Error("idp runs in development mode")
	}

	// Every variable without a default is in .env.example.
	env := envExample(t)
	for _, m := range variable.FindAllStringSubmatch(strings.ReplaceAll(raw, "$$", ""), -1) {
		if _, ok := env[m[1]]; !ok && m[2] != ":-" && m[2] != "-" {
			t.Errorf("${%s} is used but not in .env.example", m[1])
		}
	}
}

// sensitiveName: a variable holding a secret must come from the env file.
var sensitiveName = regexp.MustCompile(`(?i)SECRET|TOKEN|PASSWORD|_KEY$`)

// checkComposeEnv refuses a secret written into the compose file: a
// secret-named variable set there, or a URL with a literal password.
func checkComposeEnv(t *testing.T, service, k, v string) {
	t.Helper()
	checkComposeEnvTo(t, service, k, v)
}

func checkComposeEnvTo(t reporter, service, k, v string) {
	t.Helper()
	if sensitiveName.MatchString(k) && !variable.MatchString(v) {
		t.Errorf("%s: %s is set in compose.yaml; read it from .env", service, k)
	}
	if u, err := url.Parse(v); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" && !variable.MatchString(p) {
			t.Errorf("%s: %s holds a literal password; interpolate it from .env", service, k)
		}
	}
}

// TestComposeProductionConfig loads the provider's configuration as the
// compose file and .env.example give it and validates it as `idp serve`
// does: production mode must accept it.
func TestComposeProductionConfig(t *testing.T) {
	c, _ := loadCompose(t)
	example := envExample(t)
	env := map[string]string{}
	for k, v := range example { // env_file: .env
		env[k] = v
	}
	for k, v := range c.Services["idp"].Environment {
		env[k] = interpolate(v, example)
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the compose file's configuration is refused: %v", err)
	}
	if cfg.Dev || !cfg.Migrate || cfg.InMemory() {
		t.Errorf("dev %v, migrate %v, in memory %v: want production on PostgreSQL and Redis with migrations", cfg.Dev, cfg.Migrate, cfg.InMemory())
	}
	if !strings.Contains(cfg.DatabaseURL, example["POSTGRES_PASSWORD"]) || !strings.Contains(cfg.RedisURL, example["REDIS_PASSWORD"]) {
		t.Error("the database and Redis URLs do not carry the passwords of .env")
	}
	if len(example["CATALOG_SECRET_KEY"]) < 32 {
		t.Errorf("CATALOG_SECRET_KEY in .env.example has %d characters; the catalog wants 32", len(example["CATALOG_SECRET_KEY"]))
	}
	// Traces go to the collector's OTLP/HTTP port.
	if u, err := url.Parse(cfg.OTLPEndpoint); err != nil || u.Host != "jaeger:4318" {
		t.Errorf("IDP_OTLP_ENDPOINT %q, want the jaeger service's OTLP/HTTP port (http://jaeger:4318)", cfg.OTLPEndpoint)
	}
	if c.Services["jaeger"].Environment["COLLECTOR_OTLP_ENABLED"] != "true" {
		t.Error("jaeger does not receive OTLP (COLLECTOR_OTLP_ENABLED)")
	}
	// The catalog discovers the issuer the browser sees.
	if got := c.Services["catalog"].Environment["CATALOG_ISSUER"]; got != cfg.Issuer {
		t.Errorf("CATALOG_ISSUER %q, IDP_ISSUER %q", got, cfg.Issuer)
	}
}

// TestComposeChecksCatchSecrets shows checkComposeEnv failing what it must.
func TestComposeChecksCatchSecrets(t *testing.T) {
	for _, tc := range []struct {
		k, v string
		bad  bool
	}{
		{"IDP_ADMIN_TOKEN", "literal-token", true},
		{"IDP_SECRET_KEY", "${IDP_SECRET_KEY}", false},
		{"IDP_DATABASE_URL", "postgres://idp:hunter2@postgres/idp", true},
		{"IDP_DATABASE_URL", "postgres://idp:${POSTGRES_PASSWORD}@postgres/idp", false},
		{"IDP_LOG_FORMAT", "json", false},
	} {
		rec := &recorder{}
		checkComposeEnvTo(rec, "s", tc.k, tc.v)
		if got := len(rec.msgs) > 0; got != tc.bad {
			t.Errorf("%s=%s: flagged %v, want %v (%q)", tc.k, tc.v, got, tc.bad, rec.msgs)
		}
	}
}

// TestDockerfile checks the Dockerfile makes the same image as make image:
// static binaries, the nonroot user, the health check without a shell.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"CGO_ENABLED=0", "FROM gcr.io/distroless/static-debian12:nonroot", "USER 65532:65532",
		`CMD ["/usr/local/bin/idp", "healthcheck"]`, `ENTRYPOINT ["/usr/local/bin/idp"]`, "/usr/local/bin/"} {
		if !strings.Contains(s, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
