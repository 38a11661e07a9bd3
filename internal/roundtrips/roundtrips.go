// Package roundtrips counts the round trips that a client makes to a
// server over TCP: a proxy that tests put between the provider and
// PostgreSQL or Redis, counting each time a connection's client starts to
// send after the server has answered (or for the first time). A pipelined
// batch, written before any answer is read, counts once; a statement that
// waits for its answer before the next is sent counts once per statement.
// It knows nothing of either protocol.
package roundtrips

import (
	"net"
	"sync"
	"sync/atomic"
)

// Proxy forwards every connection it accepts to one upstream address and
// counts round trips over all of them.
type Proxy struct {
	ln       net.Listener
	upstream string
	n        atomic.Int64

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// Listen starts a proxy on a loopback port of its own, forwarding to
// upstream (host:port).
func Listen(upstream string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, upstream: upstream, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address clients connect to instead of the upstream's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Count is the number of round trips so far.
func (p *Proxy) Count() int64 { return p.n.Load() }

// Close stops accepting, closes every connection and waits for the
// forwarding to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

// track remembers c for Close; false when the proxy is closing.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// serve forwards one connection both ways. The client's side has the turn
// when it sends after the server has sent (or first): that is one round
// trip.
func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	defer client.Close()
	if !p.track(client) {
		return
	}
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer server.Close()
	if !p.track(server) {
		return
	}
	var serverSpoke atomic.Bool
	serverSpoke.Store(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyTurns(client, server, func() { serverSpoke.Store(true) })
		client.Close()
	}()
	copyTurns(server, client, func() {
		if serverSpoke.Swap(false) {
			p.n.Add(1)
		}
	})
	server.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// copyTurns copies from src to dst, calling read before forwarding each
// read from src, until either side fails.
func copyTurns(dst, src net.Conn, read func()) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			read()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // io.EOF or a closed connection: the other side follows
		}
	}
}
