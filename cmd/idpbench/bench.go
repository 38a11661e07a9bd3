package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/esia-oidc/idp/internal/testserver"
)

// report is what a run measured.
type report struct {
	// Raw is the higher of the raw rates measured before and after the
	// load; the ratios are to it.
	Raw                 rawRates
	RawBefore, RawAfter rawRates
	Results             []result
	// ceilingPID is the ceiling server's process, if one ran.
	ceilingPID int
	// Profile is where the server's CPU profile was saved, or empty;
	// ProfileNote says why not, or during what it was taken.
	Profile     string
	ProfileNote string
}

// find returns the result of the scenario at the concurrency, or nil.
func (rep *report) find(scenario string, conc int) *result {
	for i := range rep.Results {
		if rep.Results[i].Scenario == scenario && rep.Results[i].Concurrency == conc {
			return &rep.Results[i]
		}
	}
	return nil
}

// findOpen returns the result of an open-loop scenario, or nil.
func (rep *report) findOpen(scenario string) *result {
	for i := range rep.Results {
		if rep.Results[i].Scenario == scenario {
			return &rep.Results[i]
		}
	}
	return nil
}

// ceilingRate is the most a ceiling scenario reached at any concurrency of
// this run, or 0.
func (rep *report) ceilingRate(sc string) float64 {
	var best float64
	for i := range rep.Results {
		if r := &rep.Results[i]; r.Scenario == sc {
			best = max(best, r.Rate())
		}
	}
	return best
}

// bench is one run: its options, its deployment and what it set up there.
type bench struct {
	o         *options
	w         io.Writer
	sh        *testserver.Shared
	transport *http.Transport // shared by every request of the load
	rep       *report
	maxConc   int

	clientID, secret string
	logins           []testserver.Login
	// chains are the refresh tokens of the refresh workers' chains, one
	// per worker, shared by the closed and the open loop.
	chains   []string
	profiled bool
	ceil     *ceiling // nil unless a ceiling scenario runs
}

// redirectURI is the client's; the agent stops at it without fetching it.
const redirectURI = "http://127.0.0.1/idpbench/callback"

// runBench runs the benchmark and prints as it goes and a summary at the end.
// An error means the setup failed (or the run was interrupted); missed
// targets are not errors.
func runBench(ctx context.Context, o *options, w io.Writer) (*report, error) {
	b := &bench{o: o, w: w, rep: &report{}, maxConc: slices.Max(o.Concurrency)}

	fmt.Fprintln(w, "idpbench: building the idp server")
	if _, err := testserver.Binary(); err != nil {
		return nil, err
	}
	defer testserver.RemoveBinary()

	fmt.Fprintf(w, "idpbench: measuring raw rates in-process (GOMAXPROCS=%d, %s each; load average %s); the ratios printed as runs end are to these, the summary's to the higher of these and the rates measured again after the load\n", runtime.GOMAXPROCS(0), o.RawDuration, loadAvg())
	raw, err := measureRaw(ctx, o.RawDuration, o.Argon2)
	if err != nil {
		return nil, fmt.Errorf("raw rates: %w", err)
	}
	if err := raw.check(); err != nil {
		return nil, err
	}
	b.rep.Raw = raw
	printRaw(w, raw)

	sh, cleanup, err := testserver.NewSharedFrom(ctx, o.DatabaseURL, o.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("deployment: %w", err)
	}
	defer func() {
		if err := cleanup(); err != nil {
			fmt.Fprintf(w, "idpbench: cleanup: %v\n", err)
		}
	}()
	b.sh = sh
	b.transport = newTransport(b.maxConc)
	defer b.transport.CloseIdleConnections()

	if err := b.startCeiling(ctx); err != nil {
		return b.rep, err
	}
	defer b.stopCeiling()
	for _, alg := range []string{"RS256", "ES256"} {
		if scen := scenariosOn(o.Scenarios, alg); len(scen) > 0 {
			if err := b.runServer(ctx, alg, scen); err != nil {
				return b.rep, err
			}
		}
	}
	// The ceiling scenarios not run beside one they bound.
	for _, sc := range ceilingScenarios(o.Scenarios) {
		for _, n := range o.Concurrency {
			if err := b.measureCeiling(ctx, sc, n); err != nil {
				return b.rep, err
			}
		}
	}
	b.stopCeiling()
	// The raw rates again, now that the load is over: anything else busy on
	// the machine before the load lowered the first measurement. The bound
	// of every ratio is the higher of the two.
	fmt.Fprintf(b.w, "\nidpbench: measuring raw rates again after the load (load average %s)\n", loadAvg())
	after, err := measureRaw(ctx, o.RawDuration, o.Argon2)
	if err != nil {
		return b.rep, fmt.Errorf("raw rates: %w", err)
	}
	printRaw(w, after)
	b.rep.RawBefore, b.rep.RawAfter = raw, after
	b.rep.Raw = raw.max(after)
	for i := range b.rep.Results {
		b.setBound(&b.rep.Results[i])
	}
	if b.rep.Profile == "" && b.rep.ProfileNote == "" {
		b.rep.ProfileNote = "no profile taken"
	}
	printSummary(w, b.rep, o)
	return b.rep, nil
}

// ceilingScenarios returns the scenarios of the ceiling server.
func ceilingScenarios(scenarios []string) []string {
	var out []string
	for _, sc := range scenarios {
		if isCeiling(sc) {
			out = append(out, sc)
		}
	}
	return out
}

func isCeiling(sc string) bool { return sc == scCeilRS256 || sc == scCeilLogin }

// scenariosOn returns the scenarios that run on the idp server signing
// access tokens with alg.
func scenariosOn(scenarios []string, alg string) []string {
	var out []string
	for _, sc := range scenarios {
		if !isCeiling(sc) && (sc == scCCES256) == (alg == "ES256") {
			out = append(out, sc)
		}
	}
	return out
}

// runServer starts a server signing access tokens with alg, runs the
// scenarios on it at every concurrency, and stops it.
func (b *bench) runServer(ctx context.Context, alg string, scenarios []string) (err error) {
	a := b.o.Argon2
	fmt.Fprintf(b.w, "\nidpbench: starting the server (production mode, %s access tokens, argon2id m=%d KiB t=%d p=%d)\n", alg, a.MemoryKiB, a.Time, a.Threads)
	srv, err := testserver.StartProcess(ctx, b.sh, testserver.Options{
		Env: []string{
			"IDP_ACCESS_TOKEN_ALG=" + alg,
			fmt.Sprintf("IDP_ARGON2_MEMORY_KIB=%d", a.MemoryKiB),
			fmt.Sprintf("IDP_ARGON2_TIME=%d", a.Time),
			fmt.Sprintf("IDP_ARGON2_THREADS=%d", a.Threads),
		},
		Sockets: []string{"pprof"}, // passed in, as the public one
	})
	if err != nil {
		return fmt.Errorf("start the server: %w", err)
	}
	defer func() {
		srv.Stop()
		// Built with the race detector when the bench runs in a race-built
		// test.
		if n := testserver.DataRaces(srv.Logs()); n > 0 && err == nil {
			err = fmt.Errorf("the server reported %d data race(s):\n%s", n, srv.Logs())
		}
	}()
	pprofAddr := srv.Addr("pprof")

	if b.clientID == "" {
		if err := b.register(ctx, srv.Admin()); err != nil {
			return err
		}
	}
	c := newRP(srv.URL, b.transport, b.clientID, b.secret, redirectURI, b.o.PromptConsent, b.maxConc)
	defer c.closeWires()
	for _, sc := range scenarios {
		do, err := b.prepare(ctx, c, closedOf(sc))
		if err != nil {
			return fmt.Errorf("%s: setup: %w", sc, err)
		}
		if isOpen(sc) {
			if err := b.runOpen(ctx, srv.PID(), pprofAddr, sc, do); err != nil {
				return err
			}
			continue
		}
		for _, n := range b.o.Concurrency {
			if c := ceilingOf(sc); c != "" {
				if err := b.measureCeiling(ctx, c, n); err != nil {
					return err
				}
			}
			r := b.measure(ctx, srv.PID(), pprofAddr, sc, n, func(ctx context.Context) result {
				return runLoad(ctx, n, b.o.Warmup, b.o.Duration, do)
			})
			b.rep.Results = append(b.rep.Results, r)
			printResult(b.w, &r)
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// openDrain is how long after an open loop's window the arrivals still
// waiting may be sent.
const openDrain = 30 * time.Second

// runOpen runs an open-loop scenario on maxConc connections, at
// OpenFraction of the rate the ceiling server reached (measured at maxConc
// first if it has not been), per signature the operation needs.
func (b *bench) runOpen(ctx context.Context, pid int, pprofAddr, sc string, do op) error {
	if err := b.measureCeiling(ctx, scCeilRS256, b.maxConc); err != nil {
		return err
	}
	ceil := b.rep.ceilingRate(scCeilRS256)
	if ceil <= 0 {
		fmt.Fprintf(b.w, "  %-13s not run: no %s in this run to set its rate\n", sc, scCeilRS256)
		return nil
	}
	rate := b.o.OpenFraction * ceil / signaturesPerOp(sc)
	fmt.Fprintf(b.w, "idpbench: %s: arrivals at %.1f/s (%s) on %d connections, latency from when each was due\n",
		sc, rate, openRateText(sc, b.o.OpenFraction, ceil), b.maxConc)
	r := b.measure(ctx, pid, pprofAddr, sc, b.maxConc, func(ctx context.Context) result {
		return runOpenLoop(ctx, openLoop{Rate: rate, Workers: b.maxConc, Warmup: b.o.Warmup, Duration: b.o.Duration, Drain: openDrain}, do)
	})
	b.rep.Results = append(b.rep.Results, r)
	printResult(b.w, &r)
	return ctx.Err()
}

// measure runs one scenario at one concurrency (load runs it) while
// sampling the server's memory, and profiles the server (unless pprofAddr
// is empty) during the first scenario run at the highest concurrency.
func (b *bench) measure(ctx context.Context, pid int, pprofAddr, sc string, n int, load func(context.Context) result) result {
	mem := sampleMem(pid, 100*time.Millisecond)
	var profc chan error
	if !b.profiled && n == b.maxConc && pprofAddr != "" {
		b.profiled = true
		profc = make(chan error, 1)
		secs := max(1, int((b.o.Duration - 500*time.Millisecond).Seconds()))
		path := b.o.Profile
		go func() {
			select {
			case <-time.After(b.o.Warmup):
			case <-ctx.Done():
				profc <- ctx.Err()
				return
			}
			profc <- fetchProfile(ctx, pprofAddr, secs, path)
		}()
		defer func() {
			if err := <-profc; err != nil {
				b.rep.ProfileNote = "no CPU profile: " + err.Error()
				fmt.Fprintf(b.w, "idpbench: %s\n", b.rep.ProfileNote)
				return
			}
			abs, _ := filepath.Abs(path)
			b.rep.Profile = abs
			b.rep.ProfileNote = fmt.Sprintf("%ds of %s at %d clients", secs, sc, n)
			fmt.Fprintf(b.w, "idpbench: CPU profile of the server (%s) saved to %s\n", b.rep.ProfileNote, abs)
		}()
	}

	// CPU times over the measured window: from the end of the warm-up to
	// the end of the measurement, not over the drain of the operations
	// still running then.
	type snapOrErr struct {
		s   cpuSnap
		err error
	}
	snaps := make(chan snapOrErr, 2)
	go func() {
		for _, wait := range []time.Duration{b.o.Warmup, b.o.Duration} {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
			}
			s, err := takeCPU(pid)
			snaps <- snapOrErr{s, err}
		}
	}()

	r := load(ctx)
	r.Scenario = sc
	b.setBound(&r)
	a, z := <-snaps, <-snaps
	switch {
	case a.err != nil:
		r.CPUErr = a.err.Error()
	case z.err != nil:
		r.CPUErr = z.err.Error()
	default:
		r.CPU = share(a.s, z.s)
	}
	if m, err := mem.stop(pid); err != nil {
		r.MemErr = err.Error()
	} else {
		r.Mem = m
	}
	return r
}

// setBound sets the result's bound from the report's raw rates.
func (b *bench) setBound(r *result) {
	r.Bound, r.BoundName = bound(r.Scenario, b.rep.Raw)
	r.BoundPerCore = 0
	if r.Bound > 0 && b.rep.Raw.Parallel > 0 {
		r.BoundPerCore = r.Bound / float64(b.rep.Raw.Parallel)
	}
}

// bound is the raw rate that bounds a scenario.
func bound(sc string, raw rawRates) (float64, string) {
	switch sc {
	case scCCRS256, scRefresh, scCeilRS256:
		return raw.RS256, "raw RS256"
	case scCCES256:
		return raw.ES256, "raw ES256"
	case scCodeFlow, scCeilLogin:
		return raw.Argon2, "raw argon2id"
	}
	return 0, ""
}
