package main

import (
	"errors"
	"fmt"
	"net"

	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/internal/listenfd"
)

// Names of inherited sockets (LISTEN_FDNAMES) that are not the public
// listener.
const (
	socketMetrics = "metrics"
	socketPprof   = "pprof"
	socketMTLS    = "mtls"
)

// listeners are the sockets the server serves on.
type listeners struct {
	public, metrics, pprof, mtls net.Listener
}

// takeListeners takes the sockets passed in by socket activation
// (systemd's LISTEN_FDS, see internal/listenfd): the one named "metrics"
// serves /metrics as IDP_METRICS_LISTEN would, the one named "pprof" the
// profiler as IDP_PPROF_LISTEN would, and the one other socket (any other
// name, or none) is the public listener, in place of IDP_LISTEN. The
// configuration is given their addresses and validated again, so that an
// inherited socket meets the rules of the address it replaces (loopback in
// development mode, and for pprof). What was not inherited is left to
// listen, by address.
func takeListeners(cfg *config.Config, getenv func(string) string) (*listeners, error) {
	inherited, err := listenfd.Inherited(getenv)
	if err != nil || len(inherited) == 0 {
		return &listeners{}, err
	}
	var ls listeners
	fail := func(err error) (*listeners, error) {
		for _, n := range inherited {
			n.Listener.Close()
		}
		return nil, err
	}
	for _, n := range inherited {
		slot := &ls.public
		switch n.Name {
		case socketMetrics:
			slot = &ls.metrics
		case socketPprof:
			slot = &ls.pprof
		case socketMTLS:
			slot = &ls.mtls
		}
		if *slot != nil {
			return fail(fmt.Errorf("socket activation: two sockets for the %s listener", socketName(n.Name)))
		}
		*slot = n.Listener
	}
	if ls.public == nil {
		return fail(errors.New("socket activation: no socket for the public listener (only metrics or pprof)"))
	}
	cfg.Listen = ls.public.Addr().String()
	if ls.metrics != nil {
		cfg.MetricsListen = ls.metrics.Addr().String()
	}
	if ls.pprof != nil {
		cfg.PprofListen = ls.pprof.Addr().String()
	}
	if ls.mtls != nil {
		cfg.MTLSListen = ls.mtls.Addr().String()
	}
	if err := cfg.Validate(); err != nil {
		return fail(fmt.Errorf("socket activation: %w", err))
	}
	return &ls, nil
}

func socketName(name string) string {
	if name == socketMetrics || name == socketPprof || name == socketMTLS {
		return name
	}
	return "public"
}

// listen returns the inherited listener if there is one, or listens on addr.
func listen(inherited net.Listener, addr string) (net.Listener, error) {
	if inherited != nil {
		return inherited, nil
	}
	return net.Listen("tcp", addr)
}
