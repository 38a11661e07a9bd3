package chaos

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ProxyErrorHeader marks an answer that the proxy made itself because the
// backend it sent the request to failed before answering (its connection
// reset or closed: the process died). Its value is the backend's address.
// A load balancer answers 502 then; the load counts it as a connection
// error of that backend.
const ProxyErrorHeader = "X-Chaos-Proxy-Error"

// NoBackendHeader marks the proxy's own 503 when no backend accepted the
// connection at all.
const NoBackendHeader = "X-Chaos-No-Backend"

// BackendHeader names, on every answer the proxy passes on, the backend
// that gave it (for following a request into that replica's log).
const BackendHeader = "X-Chaos-Backend"

// maxProxyBody bounds the request body the proxy buffers (forms and JSON
// of the provider are small) so that it can send it to another backend.
const maxProxyBody = 1 << 20

// Proxy is a small load balancer on loopback in front of server
// processes: it sends each request to the next healthy backend in turn
// (round robin), checks /readyz of every backend on an interval, and skips
// one whose connection is refused, sending the request to the next one
// (nothing was sent, so nothing can happen twice). A request a backend
// took but did not answer (it was killed) is answered 502 with
// ProxyErrorHeader, never sent again. When no backend is healthy (every
// /readyz fails, as when the database is down) it fails open, as a cloud
// load balancer does: it sends to every backend in turn, so that the
// servers' own answers reach the client.
type Proxy struct {
	URL string // http://127.0.0.1:port

	ln        net.Listener
	srv       *http.Server
	transport *http.Transport
	interval  time.Duration

	mu       sync.Mutex
	backends []*backend
	next     atomic.Uint64

	stop chan struct{}
	wg   sync.WaitGroup

	// Counters of what the proxy did.
	Retried    atomic.Int64 // requests sent to another backend after a refused connection
	Broken     atomic.Int64 // requests answered 502: the backend took them and died
	NoBackends atomic.Int64 // requests answered 503: no backend accepted a connection
}

type backend struct {
	addr    string // host:port
	healthy atomic.Bool
}

// Listen binds the proxy on a free loopback port and starts serving; it
// has no backends until SetBackends. Its URL is known at once, so that the
// servers behind it can be started with it as their issuer.
func Listen(interval time.Duration) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		URL: "http://" + ln.Addr().String(),
		ln:  ln,
		transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: time.Second}).DialContext,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       30 * time.Second,
			DisableCompression:    true,
			ResponseHeaderTimeout: time.Minute,
		},
		interval: interval,
		stop:     make(chan struct{}),
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	p.wg.Go(func() { _ = p.srv.Serve(ln) })
	p.wg.Go(p.checkLoop)
	return p, nil
}

// SetBackends sets the backends (host:port); each starts healthy.
func (p *Proxy) SetBackends(addrs ...string) {
	bs := make([]*backend, len(addrs))
	for i, a := range addrs {
		bs[i] = &backend{addr: a}
		bs[i].healthy.Store(true)
	}
	p.mu.Lock()
	p.backends = bs
	p.mu.Unlock()
}

// Healthy returns the addresses of the backends whose last check passed.
func (p *Proxy) Healthy() []string {
	var out []string
	for _, b := range p.list() {
		if b.healthy.Load() {
			out = append(out, b.addr)
		}
	}
	return out
}

// Close stops the proxy.
func (p *Proxy) Close() error {
	close(p.stop)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	p.wg.Wait()
	p.transport.CloseIdleConnections()
	return err
}

func (p *Proxy) list() []*backend {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.backends
}

// checkLoop checks every backend's /readyz each interval.
func (p *Proxy) checkLoop() {
	client := &http.Client{Transport: p.transport, Timeout: time.Second}
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		p.check(client)
	}
}

// checkOnce checks every backend now.
func (p *Proxy) checkOnce() {
	p.check(&http.Client{Transport: p.transport, Timeout: time.Second})
}

func (p *Proxy) check(client *http.Client) {
	var wg sync.WaitGroup
	for _, b := range p.list() {
		wg.Go(func() { b.healthy.Store(ready(client, b.addr)) })
	}
	wg.Wait()
}

func ready(client *http.Client, addr string) bool {
	resp, err := client.Get("http://" + addr + "/readyz")
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// order returns the backends to try for one request: the healthy ones
// from the next in turn, or, when none is healthy, all of them.
func (p *Proxy) order() []*backend {
	bs := p.list()
	if len(bs) == 0 {
		return nil
	}
	start := int(p.next.Add(1)-1) % len(bs)
	var healthy, all []*backend
	for i := range bs {
		b := bs[(start+i)%len(bs)]
		all = append(all, b)
		if b.healthy.Load() {
			healthy = append(healthy, b)
		}
	}
	if len(healthy) == 0 {
		return all
	}
	return healthy
}

// ServeHTTP forwards the request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxProxyBody+1))
	if err != nil || len(body) > maxProxyBody {
		http.Error(w, "request body too large or unreadable", http.StatusBadRequest)
		return
	}
	for _, b := range p.order() {
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.URL.Scheme, out.URL.Host = "http", b.addr
		out.Host = r.Host // the public host, as a load balancer keeps it
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		if len(body) == 0 {
			out.Body = http.NoBody
		}
		out.Header.Del("Connection")
		resp, err := p.transport.RoundTrip(out)
		if err != nil {
			if r.Context().Err() != nil {
				return // the client left
			}
			if refused(err) {
				// Nothing reached the backend: mark it and try the next.
				b.healthy.Store(false)
				p.Retried.Add(1)
				continue
			}
			p.Broken.Add(1)
			w.Header().Set(ProxyErrorHeader, b.addr)
			http.Error(w, "bad gateway: the backend failed", http.StatusBadGateway)
			return
		}
		w.Header().Set(BackendHeader, b.addr)
		copyResponse(w, resp)
		return
	}
	p.NoBackends.Add(1)
	w.Header().Set(NoBackendHeader, "1")
	w.Header().Set("Retry-After", "1")
	http.Error(w, "no backend accepted the connection", http.StatusServiceUnavailable)
}

// refused reports whether err is a failure to connect: the request was
// never sent.
func refused(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

func copyResponse(w http.ResponseWriter, resp *http.Response) {
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}
