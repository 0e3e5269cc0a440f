//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package token

// lockKeyFile is a no-op where advisory file locks are not available: the key file is still
// replaced atomically, but two processes rotating at the same moment may lose one new key.
func lockKeyFile(path string) (unlock func(), err error) { return func() {}, nil }
