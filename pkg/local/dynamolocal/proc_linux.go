package dynamolocal

import "syscall"

// sysProcAttr puts DynamoDB Local in its own process group (so Stop can kill
// the group, and a terminal's Ctrl-C reaches the test binary first) and asks
// the kernel to kill it when its parent thread dies (see start).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
