//go:build !linux

package main

import (
	"errors"
	"os"
)

// isTerminal cannot tell here: the commands then ask for --password-stdin or --password-file.
func isTerminal(*os.File) bool { return false }

func readNoEcho(*os.File) (string, error) {
	return "", errors.New("no terminal prompt on this system: use --password-stdin or --password-file")
}
