package testserver

import (
	"net"
	"os/exec"
	"testing"

	"github.com/esia-oidc/idp/internal/childproc"
	"github.com/esia-oidc/idp/internal/listenfd"
)

// Socket is a loopback listening socket for a server process that a test
// starts itself (Shared.Command, a --dev server): bound before the process
// starts, so its address can go into the command (the issuer) and no other
// process can take the port meanwhile.
type Socket struct {
	ln net.Listener
}

// Listen binds a socket on a free loopback port; it is closed at the end of
// the test.
func Listen(t testing.TB) *Socket {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &Socket{ln: ln}
}

// Addr is the socket's host:port.
func (s *Socket) Addr() string { return s.ln.Addr().String() }

// Start starts cmd with the socket passed in as its public listener (socket
// activation, LISTEN_FDS) and with its life tied to this process's.
func (s *Socket) Start(cmd *exec.Cmd) error {
	closeFiles, err := listenfd.Pass(cmd, listenfd.Named{Name: "http", Listener: s.ln})
	if err != nil {
		return err
	}
	childproc.DieWithParent(cmd)
	err = cmd.Start()
	closeFiles()
	return err
}
