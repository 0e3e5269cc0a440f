//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package token

import (
	"fmt"
	"os"
	"syscall"
)

// lockKeyFile takes an exclusive advisory lock on path+".lock" (created 0600 if missing), so
// that processes sharing a key file do not overwrite each other's read-modify-write. It blocks
// until the lock is free and returns the function that releases it.
func lockKeyFile(path string) (unlock func(), err error) {
	fh, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("token: lock key file: %w", err)
	}
	for {
		err = syscall.Flock(int(fh.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("token: lock key file: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(fh.Fd()), syscall.LOCK_UN)
		fh.Close()
	}, nil
}
