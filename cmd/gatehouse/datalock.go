//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// dataLockName is the lock file a server holds in a SQLite data directory while it runs.
const dataLockName = "gatehouse.lock"

// errDataDirInUse reports that a server holds the data directory's lock.
var errDataDirInUse = errors.New("a gatehouse server is running on this data directory")

// lockDataDir takes the exclusive lock of the data directory dir without waiting: one server
// per SQLite database (its session cache and revocation view are exact only for the one
// process that writes), and restore and migrate can tell a live directory from a stopped
// one. The lock dies with the process, however it ends. The file records the holder's pid.
func lockDataDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, dataLockName)
	fh, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	if err := syscall.Flock(int(fh.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		fh.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s (%s, pid %s): %w", dir, path, strings.TrimSpace(string(holder)), errDataDirInUse)
		}
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	_ = fh.Truncate(0)
	_, _ = fh.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = syscall.Flock(int(fh.Fd()), syscall.LOCK_UN)
		fh.Close()
	}, nil
}

// dataDirLive reports whether a server holds the lock of dir, without creating anything.
func dataDirLive(dir string) bool {
	fh, err := os.OpenFile(filepath.Join(dir, dataLockName), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer fh.Close()
	if err := syscall.Flock(int(fh.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	_ = syscall.Flock(int(fh.Fd()), syscall.LOCK_UN)
	return false
}
