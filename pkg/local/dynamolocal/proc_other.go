//go:build unix && !linux

package dynamolocal

import "syscall"

// sysProcAttr: without Pdeathsig, callers must Stop the instance (dltest.Main
// does) or the JVM outlives the test binary.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
