//go:build !linux

package bench

import (
	"errors"
	"os/exec"
	"time"
)

var errNoProc = errors.New("bench: process CPU and memory figures need Linux /proc")

func procCPU(pid int) (time.Duration, error)       { return 0, errNoProc }
func procMem(pid int) (rss, peak int64, err error) { return 0, 0, errNoProc }
func childAttrs(cmd *exec.Cmd)                     {}
func cpuModel() string                             { return "" }
func kernel() string                               { return "" }
func memTotal() int64                              { return 0 }
func loadAverage() string                          { return "" }
