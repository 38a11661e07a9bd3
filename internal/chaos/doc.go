// Package chaos runs the provider's faults under load: two or three `idp
// serve` processes behind a small reverse proxy on loopback (Proxy: round
// robin, /readyz health checks, a refused backend skipped), on a
// PostgreSQL instance and a Redis Sentinel group of their own (Postgres,
// Sentinel: nothing shared with other tests is touched), a load of logins
// through the hosted pages, code exchanges, refreshes, client-credentials
// grants and admin registrations (Load), and the faults: SIGKILL of a
// replica, a rolling restart, a Redis restart, a PostgreSQL restart and a
// Sentinel failover (Run). Afterwards it checks that nothing written
// before a fault was lost, that no refresh token was accepted twice, that
// lockout counts are exact, and that requests failed only with 503 and
// Retry-After or, on a replica that died, a connection error, and reports
// the figures. The end-to-end test (e2e) and `make chaos` (cmd/idpchaos)
// run it.
package chaos
