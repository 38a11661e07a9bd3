// Command idpbench is the provider's load benchmark (make bench). It starts
// the built idp server in production mode on PostgreSQL + Redis, registers a
// confidential client and accounts through the admin API, and drives the
// server over keep-alive connections at several concurrency levels:
//
//	cc-rs256    client-credentials grants, RS256 access tokens
//	cc-es256    client-credentials grants, ES256 access tokens (a second server)
//	refresh     refresh grants, each worker rotating its own token chain
//	introspect  RFC 7662 introspection of a valid access token
//	codeflow    browserless authorize → login → token flows, a fresh cookie jar each
//
// and a ceiling server beside them (see ceiling.go), which does only the
// cryptography that bounds a scenario. For each it prints requests per
// second, p50, p90, p99 and maximum latency, errors and shed answers
// (429/503), and the ratio to the figure that bounds it, which
// it measures in the same run before and after the load, keeping the higher:
// this machine's raw RS256 and ES256 signing rates and the raw argon2id rate
// at the server's parameters. For every run it also reports the CPU that the
// server, the load generator, PostgreSQL, Redis and the rest of the machine
// used (from /proc), and the server's rate per core it used against the
// bound per core. It samples the server's memory, saves a CPU profile of the
// server under load (IDP_PPROF_LISTEN). Client credentials and refresh
// grants also run in an open loop (cc-rs256-open, refresh-open; see
// openloop.go): arrivals at a fixed rate, half of what the ceiling server
// reached, latency counted from when each request was due. It ends with a
// summary and the targets, each read against the ceiling measured in the
// same run, marking a missed one MISSED. It exits non-zero only when the
// setup fails.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/store/postgres/postgrestest"
	"github.com/esia-oidc/idp/store/redis/redistest"
)

func main() {
	maybeServeCeiling()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "idpbench:", err)
		os.Exit(1)
	}
}

// Scenario names.
const (
	scCCRS256    = "cc-rs256"
	scCCES256    = "cc-es256"
	scRefresh    = "refresh"
	scIntrospect = "introspect"
	scCodeFlow   = "codeflow"
)

// allScenarios in the order they run: the ceiling server's first, then
// those of the RS256 server (an open loop right after the closed one of
// the same operation), then the ES256 server's.
var allScenarios = []string{scCeilRS256, scCeilLogin, scCCRS256, scCCOpen, scRefresh, scRefreshOpen, scIntrospect, scCodeFlow, scCCES256}

// options are the command's flags.
type options struct {
	Duration      time.Duration
	Warmup        time.Duration
	RawDuration   time.Duration
	Concurrency   []int
	Scenarios     []string
	Profile       string
	SelfProfile   string
	DatabaseURL   string
	RedisURL      string
	Argon2        config.Argon2
	Accounts      int
	PromptConsent bool
	// OpenFraction is the open loops' arrival rate as a fraction of the
	// ceiling's rate.
	OpenFraction float64
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	defaults := config.Defaults().Argon2
	o := &options{}
	fs := flag.NewFlagSet("idpbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "measured time of each scenario at each concurrency")
	fs.DurationVar(&o.Warmup, "warmup", time.Second, "unmeasured load before each measurement (at most a fifth of -duration)")
	fs.DurationVar(&o.RawDuration, "raw-duration", 2*time.Second, "time of each raw rate measurement (RS256, ES256, argon2id)")
	conc := fs.String("concurrency", "1,8,64", "comma-separated numbers of concurrent clients")
	scen := fs.String("scenarios", "ceiling,cc,refresh,open,introspect,codeflow", "comma-separated scenarios: ceiling (= ceiling-rs256,ceiling-login), cc (= cc-rs256,cc-es256), open (= cc-rs256-open,refresh-open, which need ceiling-rs256 and add it), cc-rs256, cc-es256, refresh, introspect, codeflow, ceiling-rs256, ceiling-login, cc-rs256-open, refresh-open")
	fs.StringVar(&o.Profile, "profile", "bin/bench-cpu.prof", "where to save the server's CPU profile under load")
	fs.StringVar(&o.SelfProfile, "self-profile", "", "where to save the load generator's own CPU profile of the whole run (default: none)")
	fs.StringVar(&o.DatabaseURL, "database-url", envOr(postgrestest.EnvDatabaseURL, postgrestest.DefaultDatabaseURL), "PostgreSQL server (a schema of its own is created and dropped)")
	fs.StringVar(&o.RedisURL, "redis-url", envOr("IDP_TEST_REDIS_URL", redistest.DefaultURL), "Redis server (a key prefix of its own is used and deleted)")
	mem := fs.Uint("argon2-memory-kib", uint(defaults.MemoryKiB), "argon2id memory of the server and of the raw rate, KiB")
	passes := fs.Uint("argon2-time", uint(defaults.Time), "argon2id passes")
	threads := fs.Uint("argon2-threads", uint(defaults.Threads), "argon2id lanes")
	fs.IntVar(&o.Accounts, "accounts", 16, "accounts the code flows and refresh chains log in with")
	fs.BoolVar(&o.PromptConsent, "prompt-consent", false, "ask for consent in every code flow (prompt=consent); default: consent is remembered")
	fs.Float64Var(&o.OpenFraction, "open-fraction", 0.5, "open loops' arrival rate as a fraction of the ceiling's rate (ceiling-rs256, halved for refresh: two signatures each)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	var problems []string
	var err error
	if o.Concurrency, err = parseConcurrency(*conc); err != nil {
		problems = append(problems, "-concurrency: "+err.Error())
	}
	if o.Scenarios, err = parseScenarios(*scen); err != nil {
		problems = append(problems, "-scenarios: "+err.Error())
	}
	if o.Duration <= 0 {
		problems = append(problems, "-duration must be positive")
	}
	if o.RawDuration <= 0 {
		problems = append(problems, "-raw-duration must be positive")
	}
	if o.Warmup < 0 {
		problems = append(problems, "-warmup must not be negative")
	}
	o.Warmup = min(o.Warmup, o.Duration/5)
	if *mem == 0 || *mem > 1<<22 || *passes == 0 || *passes > 1000 || *threads == 0 || *threads > 255 {
		problems = append(problems, "argon2 parameters out of range")
	}
	o.Argon2 = config.Argon2{MemoryKiB: uint32(*mem), Time: uint32(*passes), Threads: uint8(*threads)}
	if o.Accounts < 1 {
		problems = append(problems, "-accounts must be at least 1")
	}
	if !(o.OpenFraction > 0 && o.OpenFraction <= 1) {
		problems = append(problems, "-open-fraction must be in (0, 1]")
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return o, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// parseConcurrency parses "1,8,64": positive, distinct, kept in order.
func parseConcurrency(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 10000 {
			return nil, fmt.Errorf("%q is not a number of clients from 1 to 10000", f)
		}
		for _, m := range out {
			if m == n {
				return nil, fmt.Errorf("%d given twice", n)
			}
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("no concurrency level")
	}
	return out, nil
}

// parseScenarios parses the scenario list into the run order of
// allScenarios; "cc" means both client-credentials scenarios, "ceiling"
// both of the ceiling server, "open" both open loops. An open loop adds
// ceiling-rs256, whose rate sets its own.
func parseScenarios(s string) ([]string, error) {
	want := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		switch f = strings.TrimSpace(f); f {
		case "":
		case "cc":
			want[scCCRS256], want[scCCES256] = true, true
		case "ceiling":
			want[scCeilRS256], want[scCeilLogin] = true, true
		case "open":
			want[scCCOpen], want[scRefreshOpen], want[scCeilRS256] = true, true, true
		case scCCOpen, scRefreshOpen:
			want[f], want[scCeilRS256] = true, true
		case scCCRS256, scCCES256, scRefresh, scIntrospect, scCodeFlow, scCeilRS256, scCeilLogin:
			want[f] = true
		default:
			return nil, fmt.Errorf("unknown scenario %q", f)
		}
	}
	var out []string
	for _, sc := range allScenarios {
		if want[sc] {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no scenario")
	}
	return out, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.SelfProfile != "" {
		f, err := os.Create(o.SelfProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	_, err = runBench(ctx, o, stdout)
	return err
}
