package bench

import (
	"fmt"
	"math"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
)

// procCPU returns the CPU time (user plus system) that process pid has used so far.
func procCPU(pid int) (time.Duration, error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, err
	}
	st, err := p.Stat()
	if err != nil {
		return 0, err
	}
	return time.Duration(math.Round(st.CPUTime() * float64(time.Second))), nil
}

// procMem returns the resident set size and its peak (VmRSS and VmHWM) of process pid, in bytes.
func procMem(pid int) (rss, peak int64, err error) {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0, 0, err
	}
	st, err := p.NewStatus()
	if err != nil {
		return 0, 0, err
	}
	return int64(st.VmRSS), int64(st.VmHWM), nil
}

// childAttrs makes a child process die with the bench, even when the bench is killed.
func childAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// cpuModel names the processor, for the report.
func cpuModel() string {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return ""
	}
	cpus, err := fs.CPUInfo()
	if err != nil || len(cpus) == 0 {
		return ""
	}
	return cpus[0].ModelName
}

// kernel names the operating system's kernel release.
func kernel() string {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return ""
	}
	rel, err := fs.SysctlStrings("kernel.osrelease")
	if err != nil || len(rel) == 0 {
		return ""
	}
	return "Linux " + strings.Join(rel, " ")
}

// memTotal is the machine's memory in bytes.
func memTotal() int64 {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return 0
	}
	mi, err := fs.Meminfo()
	if err != nil || mi.MemTotalBytes == nil {
		return 0
	}
	return int64(*mi.MemTotalBytes)
}

// loadAverage is the one-minute, five-minute and fifteen-minute load averages, a hint of what
// else the machine was doing.
func loadAverage() string {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return ""
	}
	la, err := fs.LoadAvg()
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%.2f %.2f %.2f", la.Load1, la.Load5, la.Load15)
}
