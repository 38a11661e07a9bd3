package main

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := schedule{start: start, rate: 400}
	for i, want := range []time.Duration{0, 2500 * time.Microsecond, 5 * time.Millisecond, time.Second} {
		n := []int64{0, 1, 2, 400}[i]
		if got := s.due(n).Sub(start); got != want {
			t.Errorf("due(%d) = start+%v, want start+%v", n, got, want)
		}
	}
	for _, tc := range []struct {
		at   time.Duration
		want int64
	}{{-time.Second, 0}, {0, 0}, {time.Nanosecond, 1}, {2500 * time.Microsecond, 1}, {2500*time.Microsecond + 1, 2}, {time.Second, 400}} {
		if got := s.count(start.Add(tc.at)); got != tc.want {
			t.Errorf("count(start%+v) = %d, want %d", tc.at, got, tc.want)
		}
	}
	// A rate that is no whole number of nanoseconds apart.
	s.rate = 3
	if n := s.count(start.Add(time.Second)); n != 3 || !s.due(2).Before(start.Add(time.Second)) || s.due(3).Before(start.Add(time.Second)) {
		t.Errorf("rate 3: count(1s) = %d, due(2) = %v, due(3) = %v", n, s.due(2).Sub(start), s.due(3).Sub(start))
	}
}

// fakeClock is a virtual clock for one worker: sleeping moves it to the
// wake-up time, and an operation moves it by its service time.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) SleepUntil(_ context.Context, t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// A server that takes 25 ms per request while requests arrive every 10 ms
// falls behind: each request waits for the ones before it, and the open
// loop counts that wait (a closed loop would report 25 ms for every
// request). Arrivals due in the warm-up run but are not counted.
func TestOpenLoopCountsQueueing(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var calls int
	r := runOpenLoop(context.Background(), openLoop{
		Rate: 100, Workers: 1, Warmup: 20 * time.Millisecond, Duration: 100 * time.Millisecond, Clock: clk,
	}, func(ctx context.Context, w int) (outcome, string) {
		calls++
		clk.advance(25 * time.Millisecond)
		if calls == 12 {
			return outcomeFailed, "boom"
		}
		return outcomeOK, ""
	})
	// Arrivals 0 and 1 are the warm-up; 2..11 (due 20..110 ms) are
	// measured. Arrival i is sent at 25i ms and answered at 25(i+1) ms:
	// 25 + 15i ms after it was due. The last one fails.
	if calls != 12 || r.OK != 9 || r.Errors != 1 || r.FirstError != "boom" || r.Shed != 0 {
		t.Fatalf("calls %d, result %+v", calls, r)
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	// Successful latencies: 55, 70, ..., 175 ms (i = 2..10).
	if r.P50 != ms(115) || r.P90 != ms(175) || r.P99 != ms(175) || r.Max != ms(175) {
		t.Errorf("p50 %v, p90 %v, p99 %v, max %v; want 115ms, 175ms, 175ms, 175ms", r.P50, r.P90, r.P99, r.Max)
	}
	// Sent 25i − 10i = 15i ms late (i = 2..11): 165 ms at the 99th
	// percentile.
	if r.LagP99 != ms(165) {
		t.Errorf("sent late p99 %v, want 165ms", r.LagP99)
	}
	if r.Offered != 100 || r.Concurrency != 1 || r.Elapsed != ms(100) || r.Rate() != 90 {
		t.Errorf("offered %v, concurrency %d, elapsed %v, rate %v", r.Offered, r.Concurrency, r.Elapsed, r.Rate())
	}
}

// A server that keeps up: every request is sent when due, and its latency
// is its own service time.
func TestOpenLoopKeepingUp(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := runOpenLoop(context.Background(), openLoop{Rate: 100, Workers: 1, Duration: time.Second, Clock: clk},
		func(ctx context.Context, w int) (outcome, string) {
			clk.advance(4 * time.Millisecond)
			return outcomeOK, ""
		})
	if r.OK != 100 || r.Errors != 0 || r.P50 != 4*time.Millisecond || r.Max != 4*time.Millisecond || r.LagP99 != 0 {
		t.Errorf("result %+v", r)
	}
}

// With several workers on the real clock, every arrival due in the warm-up
// and the window is sent exactly once, by the workers in turn, and the
// window counts those due in it, however late they are sent.
func TestOpenLoopWorkers(t *testing.T) {
	var calls atomic.Int64
	used := make([]atomic.Int64, 4)
	r := runOpenLoop(context.Background(), openLoop{
		Rate: 2000, Workers: 4, Warmup: 10 * time.Millisecond, Duration: 50 * time.Millisecond, Drain: time.Minute,
	}, func(ctx context.Context, w int) (outcome, string) {
		used[w].Add(1)
		if calls.Add(1)%10 == 0 {
			return outcomeShed, ""
		}
		return outcomeOK, ""
	})
	// 2000/s: one every 0.5 ms; 20 due in the warm-up and 100 in the window.
	if calls.Load() != 120 || r.OK+r.Shed+r.Errors != 100 || r.Errors != 0 || r.Shed == 0 {
		t.Fatalf("%d calls, result %+v", calls.Load(), r)
	}
	for w := range used {
		if used[w].Load() == 0 {
			t.Errorf("worker %d sent nothing", w)
		}
	}
}

// Arrivals that could not be sent before the drain ran out are errors.
func TestOpenLoopUnsentAreErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as if the drain had run out before anything was sent
	r := runOpenLoop(ctx, openLoop{Rate: 1000, Workers: 2, Duration: 10 * time.Millisecond}, func(context.Context, int) (outcome, string) {
		t.Error("an arrival was sent after the end")
		return outcomeOK, ""
	})
	if r.OK != 0 || r.Errors != 10 || r.FirstError == "" {
		t.Errorf("result %+v, want 10 errors", r)
	}
}
