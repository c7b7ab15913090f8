//go:build unix

package dynamolocal

import "syscall"

// signalGroup signals the whole process group that Start created, so
// nothing the JVM may have spawned outlives Stop.
func signalGroup(pid int, sig syscall.Signal) error { return syscall.Kill(-pid, sig) }
