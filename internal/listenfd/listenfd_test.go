package listenfd

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// childEnv, set to 1, makes the test binary the child of TestPass: it
// takes its sockets, answers one connection on each with the socket's name
// and its own LISTEN_* environment, and exits.
const childEnv = "LISTENFD_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := serveNames(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func serveNames() error {
	ls, err := Inherited(os.Getenv)
	if err != nil {
		return err
	}
	if len(ls) == 0 {
		return fmt.Errorf("no sockets inherited (LISTEN_PID=%q, pid %d)", os.Getenv(envPID), os.Getpid())
	}
	for _, l := range ls {
		c, err := l.Listener.Accept()
		if err != nil {
			return err
		}
		left := os.Getenv(envPID) + os.Getenv(envFDs) + os.Getenv(envNames)
		fmt.Fprintf(c, "%s %d %q\n", l.Name, os.Getpid(), left)
		c.Close()
		l.Listener.Close()
	}
	return nil
}

// The child serves on the sockets the parent bound, by name and in order,
// and the variables are gone from its environment once taken.
func TestPass(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var ls []Named
	for _, name := range []string{"http", "metrics"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ls = append(ls, Named{Name: name, Listener: ln})
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "LISTEN_PID=1", "LISTEN_FDS=7")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	closeFiles, err := Pass(cmd, ls...)
	if err != nil {
		t.Fatal(err)
	}
	err = cmd.Start()
	closeFiles()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		c, err := net.Dial("tcp", l.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		want := fmt.Sprintf("%s %d %q\n", l.Name, cmd.Process.Pid, "")
		if line != want {
			t.Errorf("the socket passed as %s answered %q, want %q (the child is pid %d)", l.Name, line, want, cmd.Process.Pid)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v\n%s", err, stderr.String())
	}
}

func TestInheritedNone(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"unset":         {},
		"another pid":   {envPID: strconv.Itoa(os.Getpid() + 1), envFDs: "1"},
		"pid not a pid": {envPID: "me", envFDs: "1"},
	} {
		ls, err := Inherited(func(k string) string { return env[k] })
		if err != nil || ls != nil {
			t.Errorf("%s: %v, %v; want none and no error", name, ls, err)
		}
	}
}

func TestInheritedRefusesBadCounts(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	for name, env := range map[string]map[string]string{
		"no count":       {envPID: pid},
		"zero":           {envPID: pid, envFDs: "0"},
		"negative":       {envPID: pid, envFDs: "-1"},
		"names mismatch": {envPID: pid, envFDs: "2", envNames: "http"},
	} {
		if ls, err := Inherited(func(k string) string { return env[k] }); err == nil {
			t.Errorf("%s: %v, want an error", name, ls)
		}
	}
}

func TestPassRefuses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, name := range []string{"", "a:b", "with space", strings.Repeat("x", 256)} {
		if _, err := Pass(exec.Command("true"), Named{Name: name, Listener: ln}); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	if _, err := Pass(exec.Command("true")); err == nil {
		t.Error("nothing to pass accepted")
	}
	cmd := exec.Command("true")
	cmd.ExtraFiles = []*os.File{os.Stdin}
	if _, err := Pass(cmd, Named{Name: "http", Listener: ln}); err == nil {
		t.Error("a command with extra files accepted")
	}
}
