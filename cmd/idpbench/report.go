package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

func printRaw(w io.Writer, raw rawRates) {
	p := raw.Params
	fmt.Fprintf(w, "  raw RS256 signing   %9.0f/s\n", raw.RS256)
	fmt.Fprintf(w, "  raw ES256 signing   %9.0f/s\n", raw.ES256)
	fmt.Fprintf(w, "  raw argon2id        %9.1f/s   (m=%d KiB, t=%d, p=%d)\n", raw.Argon2, p.MemoryKiB, p.Time, p.Threads)
}

// ms formats a latency in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func ratioText(r *result) string {
	if r.Bound <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f × %s", r.Ratio(), r.BoundName)
}

func memText(r *result) string {
	if r.MemErr != "" || r.Mem.HWM == 0 {
		return "n/a"
	}
	return mib(r.Mem.RSS) + " / " + mib(r.Mem.HWM)
}

// printResult prints a run as it ends; its ratios are to the raw rates
// measured before the load (the summary's, to the higher of before and
// after).
func printResult(w io.Writer, r *result) {
	if r.Offered > 0 {
		fmt.Fprintf(w, "  %-13s offered %.1f/s on %d connections: %.1f/s  p50 %s  p90 %s  p99 %s  max %s  ok %d  errors %d  shed %d  sent late p99 %s  server RSS peak/HWM %s\n",
			r.Scenario, r.Offered, r.Concurrency, r.Rate(), ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), r.OK, r.Errors, r.Shed, ms(r.LagP99), memText(r))
	} else {
		fmt.Fprintf(w, "  %-10s %3d clients  %9.1f/s  p50 %s  p90 %s  p99 %s  max %s  ok %d  errors %d  shed %d  %s  server RSS peak/HWM %s\n",
			r.Scenario, r.Concurrency, r.Rate(), ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), r.OK, r.Errors, r.Shed, ratioText(r), memText(r))
	}
	if r.CPUErr != "" {
		fmt.Fprintf(w, "             CPU: n/a (%s)\n", r.CPUErr)
	} else {
		fmt.Fprintf(w, "             CPU: %s%s\n", r.CPU, perCoreText(r))
	}
	if r.FirstError != "" {
		fmt.Fprintf(w, "             first error: %s\n", r.FirstError)
	}
}

// perCoreText gives the rate per server core against the bound per core.
func perCoreText(r *result) string {
	pc := r.PerServerCore()
	if pc <= 0 {
		return ""
	}
	return fmt.Sprintf("; per server core %.0f/s = %.2f × %s per core", r.Rate()/r.CPU.Server, pc, r.BoundName)
}

func serverCoresText(r *result) string {
	if r.CPUErr != "" {
		return "n/a"
	}
	s := fmt.Sprintf("%.2f", r.CPU.Server)
	if pc := r.PerServerCore(); pc > 0 {
		s += fmt.Sprintf(" (%.2f ×)", pc)
	}
	return s
}

// printSummary prints every result in one table, then the targets.
func printSummary(w io.Writer, rep *report, o *options) {
	fmt.Fprintf(w, "\nSummary (%s per run after %s warm-up; req/s counts successes, whole flows for codeflow; latencies of successes; shed = 429/503)\n", o.Duration, o.Warmup)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tclients\treq/s\tp50\tp90\tp99\tmax\terrors\tshed\tratio to bound\tserver cores (per core ratio)\tserver RSS peak / HWM\t")
	var open []*result
	for i := range rep.Results {
		r := &rep.Results[i]
		if r.Offered > 0 {
			open = append(open, r)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t\n",
			r.Scenario, r.Concurrency, r.Rate(), ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), r.Errors, r.Shed, ratioText(r), serverCoresText(r), memText(r))
	}
	tw.Flush()
	if len(open) > 0 {
		fmt.Fprintf(w, "\nOpen loop (arrivals at a fixed rate for %s after %s warm-up, on %d connections; latency from when each request was due, so waiting for a free connection or for the server counts; sent late: how late requests left the load generator, every connection busy or the generator not yet scheduled)\n", o.Duration, o.Warmup, open[0].Concurrency)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "scenario\toffered/s\tof\treq/s\tp50\tp90\tp99\tmax\terrors\tshed\tsent late p99\tserver cores\t")
		for _, r := range open {
			fmt.Fprintf(tw, "%s\t%.1f\t%s\t%.1f\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t\n",
				r.Scenario, r.Offered, openRateText(r.Scenario, o.OpenFraction, rep.ceilingRate(scCeilRS256)), r.Rate(),
				ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), r.Errors, r.Shed, ms(r.LagP99), serverCoresText(r))
		}
		tw.Flush()
	}
	fmt.Fprintln(w, "server cores: the CPU the server process used during the window; per core ratio: its rate per core used over the bound per core")
	fmt.Fprintln(w, "ceiling-*: a bare net/http server that only signs one RS256 token (rs256), or hashes one password and signs two tokens (login), per request, driven alike: the most any server reaches on this machine beside this load generator")
	raw := rep.Raw
	fmt.Fprintf(w, "bounds: raw RS256 %.0f/s, raw ES256 %.0f/s, raw argon2id %.1f/s (m=%d KiB, t=%d, p=%d), over %d goroutines: the higher of the rates measured before the load (%.0f, %.0f, %.1f) and after it (%.0f, %.0f, %.1f)\n",
		raw.RS256, raw.ES256, raw.Argon2, raw.Params.MemoryKiB, raw.Params.Time, raw.Params.Threads, raw.Parallel,
		rep.RawBefore.RS256, rep.RawBefore.ES256, rep.RawBefore.Argon2, rep.RawAfter.RS256, rep.RawAfter.ES256, rep.RawAfter.Argon2)
	fmt.Fprintf(w, "load average now: %s (PostgreSQL, Redis, this load generator and anything else share the machine)\n", loadAvg())
	if rep.Profile != "" {
		fmt.Fprintf(w, "CPU profile: %s (%s); read it with: go tool pprof -top %s\n", rep.Profile, rep.ProfileNote, rep.Profile)
	} else {
		fmt.Fprintf(w, "CPU profile: none (%s)\n", rep.ProfileNote)
	}

	fmt.Fprintln(w, "\nTargets (throughput as a ratio to the ceiling server measured in the same run, at the same concurrency, right before the scenario; tail latency in the open loops)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, v := range evaluate(rep) {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Target, v.Got, v.Verdict)
	}
	tw.Flush()
}

// verdict is a target and how the run met it.
type verdict struct {
	Target  string
	Got     string
	Verdict string // "ok", "MISSED", or "not run"
}

// openRateText says what an open loop's rate is made of.
func openRateText(sc string, fraction, ceiling float64) string {
	t := fmt.Sprintf("%.2f × %s %.1f/s", fraction, scCeilRS256, ceiling)
	if n := signaturesPerOp(sc); n != 1 {
		t += fmt.Sprintf(" / %.0f signatures", n)
	}
	return t
}

// Open-loop latency targets at p99.
const (
	openP99CC      = 25 * time.Millisecond
	openP99Refresh = 50 * time.Millisecond
)

// memLimit is the most the server may hold while code flows are shed.
const memLimit = 512 << 20

// evaluate checks the targets against the results. Throughput is
// read against the ceiling server measured in the same run, at the same
// concurrency, per signature or hash the operation needs; tail latency in
// the open loops.
func evaluate(rep *report) []verdict {
	var out []verdict
	add := func(target, got string, ok bool) {
		v := "ok"
		if !ok {
			v = "MISSED"
		}
		out = append(out, verdict{target, got, v})
	}
	check := func(target, sc string, conc int, f func(r *result) (string, bool)) {
		r := rep.find(sc, conc)
		if r == nil {
			out = append(out, verdict{target, "-", "not run"})
			return
		}
		got, ok := f(r)
		add(target, got, ok)
	}
	// ofCeiling: the scenario at conc reaches at least min of the ceiling
	// scenario's rate at conc, divided by perOp (the ceiling's requests
	// one operation is worth).
	ofCeiling := func(sc string, conc int, min float64, ceiling string, perOp float64) {
		target := fmt.Sprintf("%s at %d ≥ %.2f × %s", sc, conc, min, ceiling)
		if perOp != 1 {
			target += fmt.Sprintf(" / %.0f", perOp)
		}
		r, c := rep.find(sc, conc), rep.find(ceiling, conc)
		switch {
		case r == nil:
			out = append(out, verdict{target, "-", "not run"})
			return
		case c == nil || c.Rate() <= 0:
			out = append(out, verdict{target, fmt.Sprintf("%.1f/s; no %s at %d in this run", r.Rate(), ceiling, conc), "not run"})
			return
		}
		bound := c.Rate() / perOp
		ratio := r.Rate() / bound
		got := fmt.Sprintf("%.2f (%.1f/s of %.1f/s", ratio, r.Rate(), bound)
		if perOp != 1 {
			got += fmt.Sprintf(" = %.1f/s / %.0f", c.Rate(), perOp)
		}
		got += ")"
		if r.Errors > 0 {
			got += fmt.Sprintf(", %d errors", r.Errors)
		}
		add(target, got, ratio >= min && r.Errors == 0)
	}
	openLoop := func(sc string, p99 time.Duration) {
		target := fmt.Sprintf("%s: p99 < %s, no errors", sc, ms(p99))
		r := rep.findOpen(sc)
		if r == nil {
			out = append(out, verdict{target, "-", "not run"})
			return
		}
		got := fmt.Sprintf("at %.1f/s: p50 %s, p90 %s, p99 %s, max %s; errors %d, shed %d",
			r.Offered, ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), r.Errors, r.Shed)
		add(target, got, r.OK > 0 && r.Errors == 0 && r.Shed == 0 && r.P99 < p99)
	}
	atLeastRate := func(min float64) func(r *result) (string, bool) {
		return func(r *result) (string, bool) { return fmt.Sprintf("%.0f/s", r.Rate()), r.Rate() >= min }
	}

	ofCeiling(scCCRS256, 64, 0.90, scCeilRS256, 1)
	ofCeiling(scRefresh, 64, 0.75, scCeilRS256, 2)
	ofCeiling(scCodeFlow, 8, 0.85, scCeilLogin, 1)
	openLoop(scCCOpen, openP99CC)
	openLoop(scRefreshOpen, openP99Refresh)
	check("cc ES256 at 64 ≥ 4000/s", scCCES256, 64, atLeastRate(4000))
	check("introspection at 64 ≥ 10000/s", scIntrospect, 64, atLeastRate(10000))
	check("code flows at 8: no errors, none shed", scCodeFlow, 8, func(r *result) (string, bool) {
		return fmt.Sprintf("errors %d, shed %d", r.Errors, r.Shed), r.Errors == 0 && r.Shed == 0
	})
	check("code flows at 64: no errors (excess shed with 429/503)", scCodeFlow, 64, func(r *result) (string, bool) {
		return fmt.Sprintf("errors %d, shed %d, ok %d", r.Errors, r.Shed, r.OK), r.Errors == 0 && r.OK > 0
	})
	check("code flows at 64: server memory < 512 MiB", scCodeFlow, 64, func(r *result) (string, bool) {
		if r.MemErr != "" || r.Mem.HWM == 0 {
			return "unknown: " + r.MemErr, false
		}
		return "VmHWM " + mib(r.Mem.HWM), r.Mem.HWM < memLimit
	})
	return out
}
