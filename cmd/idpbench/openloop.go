package main

// The open loop: requests arrive at a fixed rate whatever the server does,
// as users' requests do, and each one's latency is counted from the time
// it was due, not from when a worker got round to sending it. A closed
// loop (runLoad) sends the next request only when the last one is
// answered, so a server that stalls is sent less and its stall is counted
// once, not once per request that would have arrived meanwhile
// (coordinated omission); here the requests that would have arrived wait,
// and their waiting counts.

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Open-loop scenario names: the operation of the closed-loop scenario,
// arriving at openFraction of the ceiling's rate (see openRate).
const (
	scCCOpen      = "cc-rs256-open"
	scRefreshOpen = "refresh-open"
)

func isOpen(sc string) bool { return sc == scCCOpen || sc == scRefreshOpen }

// closedOf is the closed-loop scenario whose operation an open-loop one
// runs.
func closedOf(sc string) string {
	switch sc {
	case scCCOpen:
		return scCCRS256
	case scRefreshOpen:
		return scRefresh
	}
	return sc
}

// signaturesPerOp is how many RS256 signatures one operation of the
// scenario needs, the ceiling server's requests being one each: a refresh
// signs an access token and an ID token.
func signaturesPerOp(sc string) float64 {
	if closedOf(sc) == scRefresh {
		return 2
	}
	return 1
}

// schedule is a fixed rate of arrivals: arrival i is due at start + i/rate.
type schedule struct {
	start time.Time
	rate  float64 // per second
}

// due is when arrival i is due.
func (s schedule) due(i int64) time.Time {
	return s.start.Add(time.Duration(float64(i) / s.rate * float64(time.Second)))
}

// count is how many arrivals are due before t.
func (s schedule) count(t time.Time) int64 {
	if !t.After(s.start) {
		return 0
	}
	n := int64(math.Ceil(t.Sub(s.start).Seconds() * s.rate))
	// Float rounding either way: the first arrival not due before t.
	for n > 0 && !s.due(n-1).Before(t) {
		n--
	}
	for s.due(n).Before(t) {
		n++
	}
	return n
}

// clock is the open loop's time: the real one, or a test's.
type clock interface {
	Now() time.Time
	// SleepUntil returns at t or when ctx ends, whichever is first.
	SleepUntil(ctx context.Context, t time.Time)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) SleepUntil(ctx context.Context, t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-ctx.Done():
	}
}

// openLoop is how an open-loop run is driven.
type openLoop struct {
	Rate     float64 // arrivals per second
	Workers  int     // connections that take arrivals in turn
	Warmup   time.Duration
	Duration time.Duration
	// Drain is how long after the window the arrivals still waiting may
	// be sent; those left are counted as errors.
	Drain time.Duration
	Clock clock // nil: the real clock
}

// runOpenLoop runs the arrivals due from now over the warm-up and the
// window at a fixed rate. Workers take arrival i in order, wait until it is
// due and send it; when every worker is busy the arrival waits, and its
// wait counts in its latency, which runs from the time it was due. The
// window counts the arrivals due in it: their outcomes, and the latency of
// the successful ones. Lag is how late arrivals were sent (a worker's wake
// up, or every worker busy).
func runOpenLoop(ctx context.Context, ol openLoop, do op) result {
	clk := ol.Clock
	if clk == nil {
		clk = realClock{}
	}
	sch := schedule{start: clk.Now(), rate: ol.Rate}
	measureFrom := sch.start.Add(ol.Warmup)
	end := measureFrom.Add(ol.Duration)
	first, last := sch.count(measureFrom), sch.count(end) // arrivals [first, last) are measured
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if ol.Drain > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithDeadline(ctx, end.Add(ol.Drain))
		defer stop()
	}

	var next atomic.Int64
	tallies := make([]tally, ol.Workers)
	lags := make([][]time.Duration, ol.Workers)
	var wg sync.WaitGroup
	for w := range ol.Workers {
		wg.Go(func() {
			t := &tallies[w]
			for {
				i := next.Add(1) - 1
				if i >= last || ctx.Err() != nil {
					return
				}
				at := sch.due(i)
				clk.SleepUntil(ctx, at)
				if ctx.Err() != nil {
					return
				}
				sent := clk.Now()
				oc, desc := do(ctx, w)
				done := clk.Now()
				if i < first {
					continue
				}
				lags[w] = append(lags[w], max(0, sent.Sub(at)))
				t.record(oc, desc, done.Sub(at))
			}
		})
	}
	wg.Wait()

	r := result{Concurrency: ol.Workers, Elapsed: ol.Duration, Offered: ol.Rate}
	lat := r.add(tallies)
	var lag []time.Duration
	for _, l := range lags {
		lag = append(lag, l...)
	}
	// Arrivals never sent: the drain ran out.
	if unsent := (last - first) - (r.OK + r.Shed + r.Errors); unsent > 0 {
		r.Errors += unsent
		if r.FirstError == "" {
			r.FirstError = fmt.Sprintf("%d arrivals not sent within %s of the window's end", unsent, ol.Drain)
		}
	}
	r.setLatencies(lat)
	slices.Sort(lag)
	r.LagP99 = percentile(lag, 99)
	return r
}
