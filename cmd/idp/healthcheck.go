package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

const healthcheckUsage = `usage: idp healthcheck [--url URL] [--timeout DURATION]

GETs the server's /healthz and exits 0 when it answers 200, 1 otherwise: the
health check of a container image that has no shell or curl. The default URL
is http://127.0.0.1:PORT/healthz with the port of IDP_LISTEN (8080 when it is
unset); --url checks another server, e.g. the catalog's
http://127.0.0.1:8081/healthz.
`

// healthcheck runs `idp healthcheck`.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, healthcheckUsage) }
	target := fs.String("url", defaultHealthURL(getenv("IDP_LISTEN")), "the URL to GET")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("healthcheck: unexpected argument %q", fs.Arg(0))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *target, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	// No proxy from the environment: the check is of this container.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", *target, resp.Status)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

// defaultHealthURL is /healthz on loopback at the port of the listen
// address (":8080", "0.0.0.0:8080"), or 8080.
func defaultHealthURL(listen string) string {
	port := "8080"
	if _, p, err := net.SplitHostPort(strings.TrimSpace(listen)); err == nil && p != "" && p != "0" {
		port = p
	}
	return "http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz"
}
