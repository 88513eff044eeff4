//go:build unix && !linux

package storetest

import "syscall"

// procAttr runs a server as cred (nil: as this process).
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred}
}
