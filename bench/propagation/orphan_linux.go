package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill cmd's process when this benchmark
// dies, even by SIGKILL or a timeout: a server left running would hold
// its port, its data directory and the lock file the benchmark was run
// under (flock's descriptor is inherited), stalling every later run.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
