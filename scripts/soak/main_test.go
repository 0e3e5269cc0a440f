package main

import (
	"testing"
	"time"
)

func samples(rss ...int) []sample {
	var out []sample
	for i, r := range rss {
		out = append(out, sample{at: time.Duration(i+1) * 10 * time.Second, rssKiB: r * 1024, goroutines: 20, fds: 24, requests: int64(i+1) * 1000})
	}
	return out
}

// TestReportJudges: the verdict fails on errors and on growth, and passes a flat run with GC
// noise, so that the soak can fail.
func TestReportJudges(t *testing.T) {
	flat := samples(120, 118, 139, 121, 109, 140, 124, 125, 131, 125)
	if report(flat, &driver{}) != 0 {
		t.Fatal("a flat run with GC noise failed")
	}
	leak := samples(120, 120, 125, 130, 140, 150, 165, 180, 200, 220)
	if report(leak, &driver{}) == 0 {
		t.Fatal("a leaking run passed")
	}
	d := &driver{}
	d.fault("protected: status 500, want 200")
	if report(flat, d) == 0 {
		t.Fatal("a run with a failed request passed")
	}
	g := samples(120, 120, 120, 120, 120, 120)
	for i := range g {
		g[i].goroutines = 20 + i*30
	}
	if report(g, &driver{}) == 0 {
		t.Fatal("a goroutine leak passed")
	}
	if report(samples(120, 121), &driver{}) == 0 {
		t.Fatal("two samples cannot show a trend, yet the run passed")
	}
}
