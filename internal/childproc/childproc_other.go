//go:build !linux

package childproc

import "os/exec"

// DieWithParent does nothing here: only Linux can tie a child's life to its
// parent's. The caller still stops its children when it ends normally.
func DieWithParent(*exec.Cmd) {}
