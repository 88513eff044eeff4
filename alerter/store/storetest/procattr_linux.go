package storetest

import "syscall"

// procAttr runs a server as cred (nil: as this process) and kills it if the
// test binary dies first, so no server outlives an aborted test run.
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
