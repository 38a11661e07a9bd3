package childproc_test

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/esia-oidc/idp/internal/childproc"
	"github.com/esia-oidc/idp/internal/listenfd"
)

// parentEnv, set to 1, makes the test binary the middle process of
// TestChildDiesWithParent: it starts a child as the test servers are
// started (through listenfd's trampoline, which execs), prints the child's
// pid, and waits to be killed.
const parentEnv = "CHILDPROC_TEST_PARENT"

func TestMain(m *testing.M) {
	if os.Getenv(parentEnv) == "1" {
		if err := startAndWait(); err != nil {
			fmt.Fprintln(os.Stderr, "parent:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func startAndWait() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cmd := exec.Command("sleep", "600")
	closeFiles, err := listenfd.Pass(cmd, listenfd.Named{Name: "http", Listener: ln})
	if err != nil {
		return err
	}
	childproc.DieWithParent(cmd)
	err = cmd.Start()
	closeFiles()
	if err != nil {
		return err
	}
	fmt.Println(cmd.Process.Pid)
	return cmd.Wait() // until this process is killed
}

// A child ends when the process that started it is killed with SIGKILL,
// which gives that process no chance to stop it.
func TestChildDiesWithParent(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	parent := exec.Command(exe, "-test.run=^$")
	parent.Env = append(os.Environ(), parentEnv+"=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	parent.Stderr = &stderr
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		parent.Process.Kill()
		parent.Wait()
		t.Fatalf("the parent printed no child pid: %v\n%s", err, stderr.String())
	}
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("the parent printed %q", line)
	}
	if err := syscall.Kill(child, 0); err != nil {
		t.Fatalf("the child %d is not running: %v", child, err)
	}
	parent.Process.Kill()
	parent.Wait()

	deadline := time.Now().Add(10 * time.Second)
	for !ended(child) {
		if time.Now().After(deadline) {
			syscall.Kill(child, syscall.SIGKILL)
			t.Fatalf("the child %d still runs 10 s after its parent was killed", child)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ended reports whether the process is gone, or a zombie waiting for
// whoever adopted it to reap it.
func ended(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}
