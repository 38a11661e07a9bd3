package main

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// outcome is how one operation of a scenario ended.
type outcome int

const (
	outcomeOK     outcome = iota
	outcomeShed           // 429 or 503: the server turned the excess away
	outcomeFailed         // anything else
)

// op performs one operation for the worker numbered worker (0 ≤ worker <
// concurrency). On failure it also returns a description that holds no
// token, code or secret.
type op func(ctx context.Context, worker int) (outcome, string)

// result is what one scenario measured at one concurrency.
type result struct {
	Scenario    string
	Concurrency int
	Elapsed     time.Duration // measured wall time
	OK          int64
	Shed        int64
	Errors      int64
	// Latencies of successful operations: from when each was sent in a
	// closed loop, from when it was due in an open one.
	P50, P90, P99, Max time.Duration
	FirstError         string

	// Offered is the arrival rate of an open loop (0: a closed loop), and
	// LagP99 how late its arrivals were sent, at the 99th percentile.
	Offered float64
	LagP99  time.Duration

	// Bound is the raw rate that bounds this scenario (0: none) and
	// BoundName names it.
	Bound     float64
	BoundName string

	// Mem is the server's memory during the run: the peak VmRSS sampled
	// and VmHWM at its end; MemErr says why it is missing.
	Mem    memSample
	MemErr string

	// CPU is what each party used during the measured window; CPUErr says
	// why it is missing. BoundPerCore is Bound per core of the raw
	// measurement.
	CPU          cpuShare
	CPUErr       string
	BoundPerCore float64
}

// PerServerCore is the rate per core the server used over the bound per
// core: how well the server turns the CPU it gets into the bounding work
// (0 when unknown).
func (r *result) PerServerCore() float64 {
	if r.BoundPerCore <= 0 || r.CPU.Server <= 0 {
		return 0
	}
	return r.Rate() / r.CPU.Server / r.BoundPerCore
}

// Rate is successful operations per second.
func (r *result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Ratio is Rate over Bound, or 0 without a bound.
func (r *result) Ratio() float64 {
	if r.Bound <= 0 {
		return 0
	}
	return r.Rate() / r.Bound
}

// worker's tally.
type tally struct {
	ok, shed, errors int64
	lat              []time.Duration
	firstErr         string
}

// runLoad runs op from conc goroutines: for warmup without counting, then
// for d counting the operations that end within the measured window (in a
// steady state as many started before it as are cut off at its end, which
// matters when an operation lasts seconds). Latencies are those of
// successful operations.
func runLoad(ctx context.Context, conc int, warmup, d time.Duration, do op) result {
	start := time.Now()
	measureFrom := start.Add(warmup)
	end := measureFrom.Add(d)
	ctx, cancel := context.WithDeadline(ctx, end.Add(30*time.Second))
	defer cancel()

	tallies := make([]tally, conc)
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			t := &tallies[w]
			t.lat = make([]time.Duration, 0, 1024)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				oc, desc := do(ctx, w)
				t1 := time.Now()
				if t1.Before(measureFrom) || t1.After(end) {
					continue
				}
				t.record(oc, desc, t1.Sub(t0))
			}
		})
	}
	wg.Wait()

	r := result{Concurrency: conc, Elapsed: min(time.Since(measureFrom), d)}
	r.setLatencies(r.add(tallies))
	return r
}

// record counts one operation's outcome, and its latency when it succeeded.
func (t *tally) record(oc outcome, desc string, lat time.Duration) {
	switch oc {
	case outcomeOK:
		t.ok++
		t.lat = append(t.lat, lat)
	case outcomeShed:
		t.shed++
	default:
		t.errors++
		if t.firstErr == "" {
			t.firstErr = desc
		}
	}
}

// add sums the workers' tallies into r and returns their latencies.
func (r *result) add(tallies []tally) []time.Duration {
	var lat []time.Duration
	for _, t := range tallies {
		r.OK += t.ok
		r.Shed += t.shed
		r.Errors += t.errors
		if r.FirstError == "" {
			r.FirstError = t.firstErr
		}
		lat = append(lat, t.lat...)
	}
	return lat
}

// setLatencies sets the percentiles from the latencies, which it sorts.
func (r *result) setLatencies(lat []time.Duration) {
	slices.Sort(lat)
	r.P50, r.P90, r.P99 = percentile(lat, 50), percentile(lat, 90), percentile(lat, 99)
	r.Max = percentile(lat, 100)
}

// percentile returns the p-th percentile (nearest rank) of sorted values, or
// 0 when there are none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// Nearest rank: the smallest value with at least p% of values ≤ it.
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}
