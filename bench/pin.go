package bench

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
)

// Pinning keeps the servers of the performance measurement on CPU 0 and the load generator
// (this process) on the other CPUs, so that they do not take turns on the same core: unpinned,
// the scheduler moves both about and the ratios scatter. It needs Linux's taskset (util-linux)
// and at least two CPUs.

// pinning says how the servers and the load generator share the CPUs during a measurement.
type pinning struct {
	taskset string // path of taskset, "" when not pinning
	why     string // why not, for the report
}

// newPinning returns the pinning to use: none when off, or when the machine cannot.
func newPinning(on bool) pinning {
	switch {
	case !on:
		return pinning{why: "not pinned (--pin=false)"}
	case runtime.GOOS != "linux":
		return pinning{why: "not pinned (needs Linux)"}
	case runtime.NumCPU() < 2:
		return pinning{why: "not pinned (one CPU)"}
	}
	p, err := exec.LookPath("taskset")
	if err != nil {
		return pinning{why: "not pinned (no taskset on the PATH)"}
	}
	return pinning{taskset: p}
}

// describe says what the pinning is, for the report.
func (p pinning) describe() string {
	if p.taskset == "" {
		return p.why
	}
	return fmt.Sprintf("server on CPU 0, load generator on CPUs 1-%d (taskset)", runtime.NumCPU()-1)
}

// command returns exe and args, run on CPU 0 when pinning.
func (p pinning) command(exe string, args []string) (string, []string) {
	if p.taskset == "" {
		return exe, args
	}
	return p.taskset, append([]string{"-c", "0", exe}, args...)
}

// pinSelf moves every thread of this process to the load generator's CPUs (every CPU but 0);
// the returned function gives them all CPUs back.
func (p pinning) pinSelf() (undo func(), err error) {
	if p.taskset == "" {
		return func() {}, nil
	}
	n := runtime.NumCPU()
	if err := p.setSelf(fmt.Sprintf("1-%d", n-1)); err != nil {
		return nil, err
	}
	return func() { p.setSelf(fmt.Sprintf("0-%d", n-1)) }, nil
}

func (p pinning) setSelf(cpus string) error {
	out, err := exec.Command(p.taskset, "-a", "-p", "-c", cpus, strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		return fmt.Errorf("taskset %s: %v: %s", cpus, err, out)
	}
	return nil
}
