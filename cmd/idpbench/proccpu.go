package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc (USER_HZ, 100 on Linux).
const userHZ = 100

// cpuShare is how many cores each party used during a measurement: the
// server, this load generator, PostgreSQL (every postgres process), Redis
// (redis-server) and everything else, of the machine's Cores.
type cpuShare struct {
	Server, LoadGen, Postgres, Redis, Other float64
	Cores                                   int
}

// cpuSnap is the CPU time used so far, in ticks, by the machine (busy time
// of every CPU) and by each party.
type cpuSnap struct {
	at                            time.Time
	machine                       uint64
	server, self, postgres, redis uint64
	cores                         int
}

// takeCPU reads the CPU times from /proc (Linux only).
func takeCPU(serverPID int) (cpuSnap, error) {
	s := cpuSnap{at: time.Now()}
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, err
	}
	if s.machine, s.cores, err = parseProcStat(string(stat)); err != nil {
		return s, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return s, err
	}
	self := os.Getpid()
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		comm, ticks, children, err := parsePidStat(string(b))
		if err != nil {
			continue
		}
		// PostgreSQL's and Redis's processes come and go (backends,
		// autovacuum workers, forks to save): counting the time of the
		// children each has reaped keeps the total of a party steady
		// when one of its processes ends.
		switch {
		case pid == serverPID:
			s.server += ticks
		case pid == self:
			s.self += ticks
		case comm == "postgres":
			s.postgres += ticks + children
		case comm == "redis-server":
			s.redis += ticks + children
		}
	}
	return s, nil
}

// parseProcStat returns the busy ticks of all CPUs (user, nice, system, irq,
// softirq, steal) from the "cpu" line of /proc/stat, and the number of CPUs.
func parseProcStat(stat string) (busy uint64, cores int, err error) {
	for _, line := range strings.Split(stat, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch {
		case f[0] == "cpu":
			if len(f) < 9 {
				return 0, 0, errors.New("short cpu line in /proc/stat")
			}
			for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
				n, err := strconv.ParseUint(f[i], 10, 64)
				if err != nil {
					return 0, 0, fmt.Errorf("/proc/stat: %w", err)
				}
				busy += n
			}
		case strings.HasPrefix(f[0], "cpu"):
			cores++
		}
	}
	if cores == 0 {
		return 0, 0, errors.New("no cpu lines in /proc/stat")
	}
	return busy, cores, nil
}

// parsePidStat returns the command name, the user+system ticks of a process
// and those of the children it has reaped, from its /proc/<pid>/stat
// ("pid (comm) state ... utime stime cutime cstime ..."; comm may hold
// spaces and parentheses).
func parsePidStat(stat string) (comm string, ticks, children uint64, err error) {
	open, end := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if open < 0 || end < open {
		return "", 0, 0, errors.New("malformed stat")
	}
	f := strings.Fields(stat[end+1:])
	// f[0] is the state (field 3); utime, stime, cutime and cstime are
	// fields 14 to 17.
	if len(f) < 15 {
		return "", 0, 0, errors.New("short stat")
	}
	var t [4]uint64
	for i := range t {
		if t[i], err = strconv.ParseUint(f[11+i], 10, 64); err != nil {
			return "", 0, 0, errors.New("malformed times in stat")
		}
	}
	return stat[open+1 : end], t[0] + t[1], t[2] + t[3], nil
}

// share is what each party used between two snapshots, in cores.
func share(a, b cpuSnap) cpuShare {
	secs := b.at.Sub(a.at).Seconds()
	if secs <= 0 {
		return cpuShare{Cores: b.cores}
	}
	cores := func(x, y uint64) float64 {
		if y < x {
			return 0
		}
		return float64(y-x) / userHZ / secs
	}
	c := cpuShare{
		Server:   cores(a.server, b.server),
		LoadGen:  cores(a.self, b.self),
		Postgres: cores(a.postgres, b.postgres),
		Redis:    cores(a.redis, b.redis),
		Cores:    b.cores,
	}
	c.Other = max(0, cores(a.machine, b.machine)-c.Server-c.LoadGen-c.Postgres-c.Redis)
	return c
}

func (c cpuShare) String() string {
	return fmt.Sprintf("server %.2f, load generator %.2f, PostgreSQL %.2f, Redis %.2f, other %.2f of %d cores",
		c.Server, c.LoadGen, c.Postgres, c.Redis, c.Other, c.Cores)
}
