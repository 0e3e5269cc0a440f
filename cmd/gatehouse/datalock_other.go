//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package main

import "errors"

const dataLockName = "gatehouse.lock"

var errDataDirInUse = errors.New("a gatehouse server is running on this data directory")

// lockDataDir does nothing where advisory file locks are not available: restore and migrate
// then rely on the directory being empty, or on the operator having stopped the server.
func lockDataDir(dir string) (unlock func(), err error) { return func() {}, nil }

// dataDirLive cannot tell here; it reports false.
func dataDirLive(dir string) bool { return false }
