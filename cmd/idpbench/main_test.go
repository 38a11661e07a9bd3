package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestParseConcurrency(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		bad  bool
	}{
		{in: "1,8,64", want: []int{1, 8, 64}},
		{in: " 64 , 1 ,", want: []int{64, 1}},
		{in: "", bad: true},
		{in: "0", bad: true},
		{in: "-1", bad: true},
		{in: "a", bad: true},
		{in: "8,8", bad: true},
		{in: "10001", bad: true},
	} {
		got, err := parseConcurrency(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseConcurrency(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseConcurrency(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseScenarios(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{in: "ceiling,cc,refresh,open,introspect,codeflow", want: allScenarios},
		{in: "codeflow,ceiling-login", want: []string{scCeilLogin, scCodeFlow}},
		{in: "refresh,open", want: []string{scCeilRS256, scCCOpen, scRefresh, scRefreshOpen}},
		{in: "refresh-open", want: []string{scCeilRS256, scRefreshOpen}},
		{in: "codeflow,cc", want: []string{scCCRS256, scCodeFlow, scCCES256}},
		{in: "cc-es256", want: []string{scCCES256}},
		{in: "introspect,introspect", want: []string{scIntrospect}},
		{in: "", bad: true},
		{in: "cc,login", bad: true},
	} {
		got, err := parseScenarios(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseScenarios(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseScenarios(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Duration != 10*time.Second || !slices.Equal(o.Concurrency, []int{1, 8, 64}) || !slices.Equal(o.Scenarios, allScenarios) {
		t.Errorf("defaults = %+v", o)
	}
	if o.Argon2.MemoryKiB != 19456 || o.Argon2.Time != 2 || o.Argon2.Threads != 1 {
		t.Errorf("default argon2 = %+v, want the server's defaults", o.Argon2)
	}
	o, err = parseFlags([]string{"-duration", "1s", "-warmup", "5s"}, io.Discard)
	if err != nil || o.Warmup != 200*time.Millisecond {
		t.Errorf("warm-up not capped at a fifth of the duration: %v, %v", o, err)
	}
	if o.OpenFraction != 0.5 {
		t.Errorf("default -open-fraction %v, want 0.5", o.OpenFraction)
	}
	_, err = parseFlags([]string{"-duration", "0", "-concurrency", "x", "-scenarios", "y", "-open-fraction", "1.5"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-duration") || !strings.Contains(err.Error(), "-concurrency") || !strings.Contains(err.Error(), "-scenarios") || !strings.Contains(err.Error(), "-open-fraction") {
		t.Errorf("bad flags: err = %v, want every problem named", err)
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: err = %v", err)
	}
}

func TestPercentile(t *testing.T) {
	var v []time.Duration
	for i := 1; i <= 100; i++ {
		v = append(v, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.5, time.Millisecond}} {
		if got := percentile(v, tc.p); got != tc.want {
			t.Errorf("percentile(1..100ms, %v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("percentile of one value = %v", got)
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile of none = %v", got)
	}
}

func TestRunLoad(t *testing.T) {
	var calls atomic.Int64
	workers := make([]atomic.Int64, 4)
	r := runLoad(context.Background(), 4, 20*time.Millisecond, 200*time.Millisecond, func(ctx context.Context, w int) (outcome, string) {
		workers[w].Add(1)
		n := calls.Add(1)
		time.Sleep(time.Millisecond)
		switch n % 10 {
		case 0:
			return outcomeFailed, "boom"
		case 5:
			return outcomeShed, "busy"
		}
		return outcomeOK, ""
	})
	if r.Concurrency != 4 || r.OK == 0 || r.Errors == 0 || r.Shed == 0 || r.FirstError != "boom" {
		t.Fatalf("result = %+v", r)
	}
	counted := r.OK + r.Errors + r.Shed
	if counted > calls.Load() {
		t.Errorf("counted %d operations, only %d ran", counted, calls.Load())
	}
	if r.OK < 6*r.Errors {
		t.Errorf("ok %d, errors %d: want about 8 to 1", r.OK, r.Errors)
	}
	if r.P50 < time.Millisecond || r.P90 < r.P50 || r.P99 < r.P90 || r.Max < r.P99 {
		t.Errorf("p50 %v, p90 %v, p99 %v, max %v", r.P50, r.P90, r.P99, r.Max)
	}
	if r.Elapsed != 200*time.Millisecond || r.Rate() <= 0 {
		t.Errorf("elapsed %v, rate %v", r.Elapsed, r.Rate())
	}
	for w := range workers {
		if workers[w].Load() == 0 {
			t.Errorf("worker %d never ran", w)
		}
	}
}

func TestParseStatus(t *testing.T) {
	status := "Name:\tidp\nVmPeak:\t 900000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t8\n"
	m, err := parseStatus(strings.NewReader(status))
	if err != nil || m.RSS != 100<<20 || m.HWM != 200<<20 {
		t.Errorf("parseStatus = %+v, %v", m, err)
	}
	if _, err := parseStatus(strings.NewReader("Name:\tidp\n")); err == nil {
		t.Error("parseStatus without VmRSS succeeded")
	}
	if _, err := parseStatus(strings.NewReader("VmRSS:\t12 MB\nVmHWM:\t1 kB\n")); err == nil {
		t.Error("parseStatus with an odd unit succeeded")
	}
	// This very process.
	m, err = readMem(os.Getpid())
	if err != nil || m.RSS == 0 || m.HWM < m.RSS {
		t.Errorf("readMem(self) = %+v, %v", m, err)
	}
}

func TestDescribeLeaksNoBody(t *testing.T) {
	body := []byte(`{"error":"invalid_grant","error_description":"token eyJsecret was reused"}`)
	got := describe("refresh_token", 400, body)
	if got != "refresh_token: HTTP 400 invalid_grant" {
		t.Errorf("describe = %q", got)
	}
	if got := describe("introspect", 503, []byte("<html>busy</html>")); got != "introspect: HTTP 503" {
		t.Errorf("describe of HTML = %q", got)
	}
	for status, want := range map[int]outcome{200: outcomeOK, 201: outcomeOK, 429: outcomeShed, 503: outcomeShed, 400: outcomeFailed, 500: outcomeFailed, 302: outcomeFailed} {
		if got := classify(status); got != want {
			t.Errorf("classify(%d) = %v, want %v", status, got, want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	raw := rawRates{RS256: 1000, ES256: 20000, Argon2: 100}
	res := func(sc string, conc int, ok int64, errs, shed int64, p99 time.Duration) result {
		b, name := bound(sc, raw)
		return result{Scenario: sc, Concurrency: conc, Elapsed: time.Second, OK: ok, Errors: errs, Shed: shed,
			P99: p99, Bound: b, BoundName: name, Mem: memSample{RSS: 100 << 20, HWM: 600 << 20}}
	}
	open := func(sc string, offered float64, ok int64, errs int64, p99 time.Duration) result {
		r := res(sc, 64, ok, errs, 0, p99)
		r.Offered, r.Bound, r.BoundName = offered, 0, ""
		return r
	}
	rep := &report{Raw: raw, Results: []result{
		res(scCeilRS256, 64, 800, 0, 0, 100*time.Millisecond),
		res(scCCRS256, 64, 720, 0, 0, 120*time.Millisecond), // 0.90 of 800: met, whatever its closed-loop p99
		res(scRefresh, 64, 280, 0, 0, 60*time.Millisecond),  // 0.70 of 400 < 0.75
		res(scCeilLogin, 8, 100, 0, 0, time.Second),
		res(scCodeFlow, 8, 90, 0, 0, time.Second),      // 0.90 ≥ 0.85
		res(scCodeFlow, 64, 80, 0, 500, 2*time.Second), // shed is fine, 600 MiB is not
		open(scCCOpen, 400, 4000, 0, 24*time.Millisecond),
		open(scRefreshOpen, 200, 2000, 1, 10*time.Millisecond), // an error misses it
	}}
	got := map[string]verdict{}
	for _, v := range evaluate(rep) {
		got[v.Target] = v
	}
	for target, want := range map[string]string{
		"cc-rs256 at 64 ≥ 0.90 × ceiling-rs256":                  "ok",
		"refresh at 64 ≥ 0.75 × ceiling-rs256 / 2":               "MISSED",
		"codeflow at 8 ≥ 0.85 × ceiling-login":                   "ok",
		"cc-rs256-open: p99 < 25.00ms, no errors":                "ok",
		"refresh-open: p99 < 50.00ms, no errors":                 "MISSED",
		"cc ES256 at 64 ≥ 4000/s":                                "not run",
		"code flows at 64: no errors (excess shed with 429/503)": "ok",
		"code flows at 64: server memory < 512 MiB":              "MISSED",
	} {
		if got[target].Verdict != want {
			t.Errorf("%s: %q (%s), want %q", target, got[target].Verdict, got[target].Got, want)
		}
	}
	// The closed-loop p99 targets are gone.
	for target := range got {
		if strings.Contains(target, "p99") && !strings.Contains(target, "-open") {
			t.Errorf("a closed-loop latency target is left: %q", target)
		}
	}
	var out bytes.Buffer
	printSummary(&out, rep, &options{Duration: time.Second, OpenFraction: 0.5})
	for _, s := range []string{
		"0.90 (720.0/s of 800.0/s)",
		"0.70 (280.0/s of 400.0/s = 800.0/s / 2)",
		"at 400.0/s: p50 0.00ms, p90 0.00ms, p99 24.00ms",
		"Open loop", "0.50 × ceiling-rs256 800.0/s / 2 signatures",
		"MISSED", "not run", "VmHWM 600 MiB",
	} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("summary lacks %q:\n%s", s, out.String())
		}
	}
}

// TestRunBench runs the whole benchmark briefly against the real servers
// (PostgreSQL and Redis from IDP_TEST_*; it fails when they are missing).
// Each window is long enough for a code flow under -race on a busy machine:
// the test checks that every scenario works, not how fast.
func TestRunBench(t *testing.T) {
	dir := t.TempDir()
	prof := filepath.Join(dir, "prof", "cpu.prof")
	var out bytes.Buffer
	o, err := parseFlags([]string{
		"-duration", "2s", "-warmup", "50ms", "-raw-duration", "200ms",
		"-concurrency", "1,3", "-accounts", "2",
		// The lowest argon2id memory production mode accepts keeps it quick.
		"-argon2-memory-kib", "7168", "-argon2-time", "1",
		"-profile", prof,
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rep, err := runBench(ctx, o, &out)
	if err != nil {
		t.Fatalf("runBench: %v\n%s", err, out.String())
	}
	if rep.Raw.check() != nil || rep.Raw.Params.MemoryKiB != 7168 {
		t.Errorf("raw rates = %+v", rep.Raw)
	}
	for _, sc := range allScenarios {
		concs := []int{1, 3}
		if isOpen(sc) {
			concs = []int{3} // once, on as many connections as the most clients
		}
		for _, n := range concs {
			r := rep.find(sc, n)
			if r == nil {
				t.Errorf("%s at %d: no result", sc, n)
				continue
			}
			if r.OK == 0 || r.Errors != 0 || r.P50 <= 0 || r.P90 < r.P50 || r.P99 < r.P90 || r.Max < r.P99 {
				t.Errorf("%s at %d: %+v", sc, n, *r)
			}
			if isOpen(sc) != (r.Offered > 0) {
				t.Errorf("%s at %d: offered %v", sc, n, r.Offered)
			}
			if r.CPUErr != "" || r.CPU.Server <= 0 || r.CPU.Cores < 1 {
				t.Errorf("%s at %d: CPU %+v (%s)", sc, n, r.CPU, r.CPUErr)
			}
			if r.Mem.HWM == 0 || r.MemErr != "" {
				t.Errorf("%s at %d: no memory sample (%s)", sc, n, r.MemErr)
			}
			if (r.Bound > 0) != (sc != scIntrospect && !isOpen(sc)) {
				t.Errorf("%s: bound %v", sc, r.Bound)
			}
		}
	}
	// The ceiling server is gone (stopped and reaped).
	if rep.ceilingPID == 0 {
		t.Error("no ceiling server ran")
	} else if err := syscall.Kill(rep.ceilingPID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("ceiling server %d still there: %v", rep.ceilingPID, err)
	}
	if st, err := os.Stat(prof); err != nil || st.Size() == 0 || rep.Profile != prof {
		t.Errorf("profile %q: %v (report says %q: %s)", prof, err, rep.Profile, rep.ProfileNote)
	}
	for _, s := range []string{"raw RS256 signing", "Summary", "Targets", "cc-es256", "codeflow", "Open loop", "refresh-open"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q", s)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out.String())
	}
}

func TestParseProcStat(t *testing.T) {
	stat := "cpu  100 5 50 1000 7 3 2 1 0 0\ncpu0 50 2 25 500 3 1 1 0 0 0\ncpu1 50 3 25 500 4 2 1 1 0 0\nintr 1 2 3\n"
	busy, cores, err := parseProcStat(stat)
	if err != nil || busy != 100+5+50+3+2+1 || cores != 2 {
		t.Errorf("parseProcStat = %d, %d, %v", busy, cores, err)
	}
	if _, _, err := parseProcStat("intr 1 2\n"); err == nil {
		t.Error("no cpu lines: no error")
	}
}

func TestParsePidStat(t *testing.T) {
	stat := "4242 (redis (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 4 0 123 0 0"
	comm, ticks, children, err := parsePidStat(stat)
	if err != nil || comm != "redis (x) y" || ticks != 300 || children != 10 {
		t.Errorf("parsePidStat = %q, %d, %d, %v", comm, ticks, children, err)
	}
	if _, _, _, err := parsePidStat("4242 (idp) S 1 2"); err == nil {
		t.Error("short stat: no error")
	}
	s, err := takeCPU(os.Getpid())
	if err != nil || s.cores < 1 || s.machine == 0 {
		t.Errorf("takeCPU = %+v, %v", s, err)
	}
}

func TestShare(t *testing.T) {
	at := time.Now()
	a := cpuSnap{at: at, machine: 1000, server: 100, self: 10, postgres: 20, redis: 30, cores: 2}
	b := cpuSnap{at: at.Add(2 * time.Second), machine: 1400, server: 400, self: 30, postgres: 20, redis: 50, cores: 2}
	c := share(a, b)
	want := cpuShare{Server: 1.5, LoadGen: 0.1, Postgres: 0, Redis: 0.1, Other: 0.3, Cores: 2}
	if math.Abs(c.Server-want.Server)+math.Abs(c.LoadGen-want.LoadGen)+math.Abs(c.Redis-want.Redis)+math.Abs(c.Other-want.Other) > 1e-9 || c.Cores != 2 {
		t.Errorf("share = %+v, want %+v", c, want)
	}
	r := &result{OK: 3000, Elapsed: 2 * time.Second, CPU: c, BoundPerCore: 1000}
	if pc := r.PerServerCore(); math.Abs(pc-1) > 1e-9 {
		t.Errorf("PerServerCore = %v, want 1 (1500/s on 1.5 cores against 1000/s per core)", pc)
	}
}

// A worker's connection survives the server closing it while idle, keeps
// the body of each answer, and redials after Connection: close.
func TestWire(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Header.Get("Authorization") != "Basic x" || r.FormValue("grant_type") != "client_credentials" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if n == 3 {
			w.Header().Set("Connection", "close")
		}
		fmt.Fprintf(w, `{"n":%d}`, n)
	}))
	srv.Config.IdleTimeout = 50 * time.Millisecond
	closed := make(chan struct{}, 8)
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			closed <- struct{}{}
		}
	}
	srv.Start()
	defer srv.Close()

	w := newWire(strings.TrimPrefix(srv.URL, "http://"))
	defer w.close()
	for i := 1; i <= 4; i++ {
		if i == 2 {
			// The server closes the idle connection.
			select {
			case <-closed:
			case <-time.After(30 * time.Second):
				t.Fatal("the server did not close the idle connection within 30 s")
			}
		}
		status, body, err := w.post(t.Context(), "/token", "Basic x", ccForm)
		if err != nil || status != http.StatusOK || string(body) != fmt.Sprintf(`{"n":%d}`, i) {
			t.Fatalf("request %d: %d %q %v", i, status, body, err)
		}
	}
}
