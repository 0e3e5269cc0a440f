// Command perfsplit reads the `perf script` output of two servers measured under the same load
// (a floor first, then gatehouse) and prints where each one's CPU per request goes: the handler,
// the garbage collector, the scheduler, reading the request, writing the answer. It is the
// analysis half of scripts/profile-request.sh.
//
//	perfsplit -hz 4000 floor.txt REQUESTS server.txt REQUESTS
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// buckets are tried in order; a sample goes to the first whose pattern matches a frame.
var buckets = []struct{ name, pattern string }{
	{"handler (authentication, metrics, answer)", `serverHandler\.ServeHTTP`},
	{"garbage collector", `gcBgMarkWorker`},
	{"runtime monitor (sysmon)", `runtime\.sysmon`},
	{"scheduler", `runtime\.(schedule|park_m|mcall)`},
	{"reading the request", `conn\)\.readRequest`},
	{"writing the answer", `finishRequest`},
	{"connection's background read", `backgroundRead`},
	{"rest of net/http's connection loop", `conn\)\.serve`},
	{"other", `.`},
}

var offset = regexp.MustCompile(`\+0x[0-9a-f]+$`)

// samples reads perf script output: one sample per blank-line-separated block, its frames as
// "addr symbol+off (object)" lines, innermost first.
func samples(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var all [][]string
	var cur []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			if cur != nil {
				all, cur = append(all, cur), nil
			}
			continue
		}
		if line[0] != '\t' && line[0] != ' ' {
			continue // the sample's header line
		}
		fields := strings.SplitN(strings.TrimSpace(line), " ", 2)
		sym := fields[len(fields)-1]
		if i := strings.LastIndex(sym, " ("); i > 0 {
			sym = sym[:i]
		}
		cur = append(cur, offset.ReplaceAllString(sym, ""))
	}
	if cur != nil {
		all = append(all, cur)
	}
	return all, sc.Err()
}

// split returns µs per request for each bucket.
func split(all [][]string, requests, hz float64) []float64 {
	res := make([]regexp.Regexp, len(buckets))
	for i, b := range buckets {
		res[i] = *regexp.MustCompile(b.pattern)
	}
	out := make([]float64, len(buckets))
	per := 1e6 / hz / requests
	for _, s := range all {
		for i := range res {
			if matchAny(&res[i], s) {
				out[i] += per
				break
			}
		}
	}
	return out
}

func matchAny(re *regexp.Regexp, frames []string) bool {
	for _, f := range frames {
		if re.MatchString(f) {
			return true
		}
	}
	return false
}

// handlerFrames returns µs per request spent under each of the handler's own frames (gatehouse
// and its metrics library), inclusive, for the biggest ones.
func handlerFrames(all [][]string, requests, hz float64) map[string]float64 {
	per := 1e6 / hz / requests
	out := map[string]float64{}
	handler := regexp.MustCompile(buckets[0].pattern)
	for _, s := range all {
		if !matchAny(handler, s) {
			continue
		}
		seen := map[string]bool{}
		for _, f := range s {
			if (strings.Contains(f, "gatehouse") || strings.Contains(f, "prometheus")) && !seen[f] {
				seen[f] = true
				out[f] += per
			}
		}
	}
	return out
}

func main() {
	hz := flag.Float64("hz", 4000, "perf's sampling frequency (-F)")
	flag.Parse()
	if flag.NArg() != 4 {
		fmt.Fprintln(os.Stderr, "usage: perfsplit [-hz N] floor.txt REQUESTS server.txt REQUESTS")
		os.Exit(2)
	}
	var cols [2][]float64
	var server [][]string
	var serverReqs float64
	for i := 0; i < 2; i++ {
		all, err := samples(flag.Arg(2 * i))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		n, err := strconv.ParseFloat(flag.Arg(2*i+1), 64)
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "requests %q: want a positive number\n", flag.Arg(2*i+1))
			os.Exit(2)
		}
		cols[i] = split(all, n, *hz)
		server, serverReqs = all, n
	}
	fmt.Println("| where the CPU goes | floor µs/request | gatehouse µs/request | difference |")
	fmt.Println("| --- | ---: | ---: | ---: |")
	var ta, tb float64
	for i, b := range buckets {
		ta, tb = ta+cols[0][i], tb+cols[1][i]
		fmt.Printf("| %s | %.2f | %.2f | %+.2f |\n", b.name, cols[0][i], cols[1][i], cols[1][i]-cols[0][i])
	}
	fmt.Printf("| **total** | %.2f | %.2f | %+.2f (ratio %.3f) |\n\n", ta, tb, tb-ta, ta/tb)
	frames := handlerFrames(server, serverReqs, *hz)
	names := make([]string, 0, len(frames))
	for f := range frames {
		names = append(names, f)
	}
	sort.Slice(names, func(i, j int) bool { return frames[names[i]] > frames[names[j]] })
	fmt.Println("gatehouse's handler, inclusive µs per request:")
	for _, f := range names[:min(15, len(names))] {
		fmt.Printf("  %.3f  %s\n", frames[f], f)
	}
}
