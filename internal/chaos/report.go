package chaos

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// classes in the order reports print them.
var classes = []Class{OK, ClientError, Unavailable, Busy, Conn, Timeout, ServerError, Bad503}

// Print writes the figures of the run.
func (r *Report) Print(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "chaos: %d replicas behind the proxy, %d workers, PostgreSQL and a Redis Sentinel group of their own; outage %s, request bound %s, recovery bound %s; %s in all\n",
		c.Replicas, c.Workers, c.Outage, c.RequestTimeout, c.RecoveryBound, r.Duration.Round(time.Millisecond))
	total := 0
	for _, n := range r.Requests {
		total += n
	}
	fmt.Fprintf(w, "\nrequests: %d  %s\n", total, classLine(r.Requests))
	fmt.Fprintf(w, "proxy: %d sent to another replica after a refused connection, %d answered 502 (replica died), %d answered 503 (no replica)\n",
		r.Proxy.Retried, r.Proxy.Broken, r.Proxy.NoBackends)
	fmt.Fprintf(w, "\n%-20s %8s %8s %8s\n", "operation", "ok", "shed", "broken")
	ops := make([]string, 0, len(r.Ops))
	for op := range r.Ops {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		n := r.Ops[op]
		fmt.Fprintf(w, "%-20s %8d %8d %8d\n", op, n.OK, n.Shed, n.Broken)
	}
	fmt.Fprintf(w, "codes spent by an exchange answered 503 (the client logs in again): %d\n", r.SpentCodes)
	fmt.Fprintf(w, "\n%-9s %9s %9s %9s %9s  %s\n", "fault", "repaired", "outage", "recovery", "all-ok", "requests during the phase; failed operations")
	for _, ph := range r.Phases {
		fmt.Fprintf(w, "%-9s %9s %9s %9s %9s  %s; %s\n", ph.Fault,
			ms(ph.Repaired.Sub(ph.Start)), ms(ph.Outage()), ms(ph.Recovery()), ms(ph.Recovered.Sub(ph.Repaired)),
			classLine(ph.Requests), failedLine(ph.Failed))
	}
	fmt.Fprintf(w, "  repaired: from the fault to the failed part answering again; outage: from the fault to the last failed operation;\n")
	fmt.Fprintf(w, "  recovery: from the repair to the last failed operation; all-ok: from the repair until every operation had passed again\n")
	keys := make([]string, 0, len(r.Checked))
	for k := range r.Checked {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var checked []string
	for _, k := range keys {
		checked = append(checked, fmt.Sprintf("%s %d", k, r.Checked[k]))
	}
	fmt.Fprintf(w, "\nchecked after the faults: %s\n", strings.Join(checked, ", "))
	if len(r.Violations) == 0 {
		fmt.Fprintln(w, "violations: none")
		return
	}
	fmt.Fprintf(w, "violations: %d\n", len(r.Violations))
	for _, v := range r.Violations {
		fmt.Fprintln(w, "  "+v)
	}
}

func classLine(m map[Class]int) string {
	var parts []string
	for _, c := range classes {
		if m[c] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c, m[c]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func failedLine(m map[string]int) string {
	if len(m) == 0 {
		return "none failed"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func ms(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
