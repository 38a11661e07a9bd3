package childproc

import (
	"os/exec"
	"syscall"
)

// DieWithParent has the kernel send the child SIGTERM when this process
// ends, even by SIGKILL. Call it before cmd.Start.
//
// Linux ties the signal to the thread that started the child: Go does not
// end its threads while the program runs, except one that a goroutine
// locked with runtime.LockOSThread and did not unlock, so start children
// from ordinary goroutines.
func DieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
}
