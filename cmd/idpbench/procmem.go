package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memSample is a process's resident memory, in bytes, from
// /proc/<pid>/status: VmRSS now, and VmHWM, the peak since it started.
type memSample struct {
	RSS, HWM uint64
}

// readMem reads the memory of the process pid (Linux only).
func readMem(pid int) (memSample, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memSample{}, err
	}
	defer f.Close()
	return parseStatus(f)
}

// parseStatus reads VmRSS and VmHWM ("VmRSS:	  123456 kB") from a
// /proc/<pid>/status file.
func parseStatus(r io.Reader) (memSample, error) {
	var m memSample
	var seen int
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("unexpected %s line", name)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("unexpected %s value", name)
		}
		if name == "VmRSS" {
			m.RSS = kb << 10
		} else {
			m.HWM = kb << 10
		}
		seen++
	}
	if err := sc.Err(); err != nil {
		return m, err
	}
	if seen != 2 {
		return m, errors.New("no VmRSS and VmHWM in the process status")
	}
	return m, nil
}

// memSampler samples a process's memory until stopped and keeps the peak.
type memSampler struct {
	stopc chan struct{}
	wg    sync.WaitGroup

	mu   sync.Mutex
	peak memSample // the highest VmRSS seen, and the last VmHWM
	err  error     // the first failure to read
}

// sampleMem starts sampling process pid every interval.
func sampleMem(pid int, every time.Duration) *memSampler {
	s := &memSampler{stopc: make(chan struct{})}
	s.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.sample(pid)
			select {
			case <-s.stopc:
				return
			case <-t.C:
			}
		}
	})
	return s
}

func (s *memSampler) sample(pid int) {
	m, err := readMem(pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return
	}
	s.peak.RSS = max(s.peak.RSS, m.RSS)
	s.peak.HWM = max(s.peak.HWM, m.HWM)
}

// stop takes a last sample and returns the peak; an error when no sample
// could be read.
func (s *memSampler) stop(pid int) (memSample, error) {
	close(s.stopc)
	s.wg.Wait()
	s.sample(pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.peak.HWM == 0 && s.err != nil {
		return memSample{}, s.err
	}
	return s.peak, nil
}

// loadAvg returns the machine's 1, 5 and 15 minute load averages from
// /proc/loadavg, or "n/a": the raw rates and the load share the machine with
// whatever else runs on it.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}

// mib formats bytes as MiB.
func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
