// Package listenfd hands listening sockets from a parent process to a child
// by systemd's socket activation protocol (sd_listen_fds(3)): the sockets
// are the child's descriptors 3, 4, …; LISTEN_FDS says how many,
// LISTEN_FDNAMES names them (colon-separated), and LISTEN_PID is the pid of
// the process they are meant for.
//
// The server takes them with Inherited (systemd, or anything that speaks the
// protocol, made them); tests and the benchmark pass them with Pass, so a
// server listens on a socket its parent bound: its address is known before
// it starts, no other process can take the port meanwhile, and it stays the
// same across restarts.
package listenfd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// The protocol's environment variables and its first descriptor.
const (
	envPID   = "LISTEN_PID"
	envFDs   = "LISTEN_FDS"
	envNames = "LISTEN_FDNAMES"
	firstFD  = 3
)

// Named is a listening socket with the name it is passed under.
type Named struct {
	Name     string
	Listener net.Listener
}

// Inherited returns the sockets passed to this process, in order, with
// their names ("unknown" when LISTEN_FDNAMES is not set, as systemd does).
// It returns none when LISTEN_PID is unset or names another process. It
// marks the descriptors close-on-exec and unsets the three variables, so
// that a child of this process does not take them for its own.
func Inherited(getenv func(string) string) ([]Named, error) {
	pid := getenv(envPID)
	if pid == "" {
		return nil, nil
	}
	defer func() {
		for _, k := range []string{envPID, envFDs, envNames} {
			os.Unsetenv(k)
		}
	}()
	if p, err := strconv.Atoi(pid); err != nil || p != os.Getpid() {
		return nil, nil
	}
	n, err := strconv.Atoi(getenv(envFDs))
	if err != nil || n < 1 {
		return nil, fmt.Errorf("socket activation: %s=%q is not a positive number", envFDs, getenv(envFDs))
	}
	names := make([]string, n)
	for i := range names {
		names[i] = "unknown"
	}
	if s := getenv(envNames); s != "" {
		given := strings.Split(s, ":")
		if len(given) != n {
			return nil, fmt.Errorf("socket activation: %s names %d sockets, %s says %d", envNames, len(given), envFDs, n)
		}
		copy(names, given)
	}
	var out []Named
	for i, name := range names {
		fd := firstFD + i
		syscall.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), name)
		ln, err := net.FileListener(f) // a duplicate of fd
		f.Close()
		if err != nil {
			for _, l := range out {
				l.Listener.Close()
			}
			return nil, fmt.Errorf("socket activation: descriptor %d (%s) is not a listening socket: %w", fd, name, err)
		}
		out = append(out, Named{Name: name, Listener: ln})
	}
	return out, nil
}

// fileListener is a listener whose socket can be duplicated into a file
// (*net.TCPListener, *net.UnixListener).
type fileListener interface {
	File() (*os.File, error)
}

// trampoline sets LISTEN_PID to the pid that the server will have: the
// shell's own, which exec keeps. The parent cannot know it before the child
// starts, and exec.Cmd runs nothing between fork and exec.
const trampoline = `LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"`

// Pass arranges for cmd, not yet started, to inherit the listeners by the
// protocol: their sockets as descriptors 3, 4, … (cmd.ExtraFiles must be
// empty), LISTEN_FDS and LISTEN_FDNAMES in its environment (cmd.Env, or
// this process's environment when nil, without any LISTEN_* of its own),
// and LISTEN_PID set by starting the command through /bin/sh, which execs
// it. The listeners stay open and usable here; closeFiles closes this
// process's copies of the descriptors once cmd has started (or failed to).
func Pass(cmd *exec.Cmd, ls ...Named) (closeFiles func(), err error) {
	if len(cmd.ExtraFiles) > 0 {
		return nil, errors.New("listenfd: the command already has extra files")
	}
	if len(ls) == 0 {
		return nil, errors.New("listenfd: no listener to pass")
	}
	var files []*os.File
	closeFiles = func() {
		for _, f := range files {
			f.Close()
		}
	}
	names := make([]string, len(ls))
	for i, l := range ls {
		if l.Name == "" || len(l.Name) > 255 || strings.ContainsFunc(l.Name, func(r rune) bool { return r == ':' || r <= ' ' || r > '~' }) {
			closeFiles()
			return nil, fmt.Errorf("listenfd: invalid socket name %q", l.Name)
		}
		fl, ok := l.Listener.(fileListener)
		if !ok {
			closeFiles()
			return nil, fmt.Errorf("listenfd: a %T cannot be passed", l.Listener)
		}
		f, err := fl.File()
		if err != nil {
			closeFiles()
			return nil, fmt.Errorf("listenfd: %w", err)
		}
		files = append(files, f)
		names[i] = l.Name
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = make([]string, 0, len(env)+2)
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k != envPID && k != envFDs && k != envNames {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, envFDs+"="+strconv.Itoa(len(ls)), envNames+"="+strings.Join(names, ":"))
	cmd.ExtraFiles = files
	cmd.Args = append([]string{"sh", "-c", trampoline, cmd.Path}, cmd.Args[1:]...)
	cmd.Path = "/bin/sh"
	return closeFiles, nil
}
