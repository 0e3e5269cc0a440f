package bench

import (
	"math"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	// 1..100000 µs, uniformly: the q-quantile is q*100000 µs.
	for i := 1; i <= 100_000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999} {
		want := q * 100_000 * float64(time.Microsecond)
		got := float64(h.Quantile(q))
		if math.Abs(got-want)/want > 0.02 {
			t.Errorf("q%.3f = %v, want %v within 2%%", q, time.Duration(got), time.Duration(want))
		}
	}
	if h.Count() != 100_000 || h.Max() != 100*time.Millisecond || h.Quantile(1) != 100*time.Millisecond {
		t.Fatalf("count %d max %v", h.Count(), h.Max())
	}
	if m := h.Mean(); m < 49*time.Millisecond || m > 51*time.Millisecond {
		t.Fatalf("mean %v", m)
	}
}

func TestHistogramSmallValuesAndMerge(t *testing.T) {
	var a, b Histogram
	for i := range 10 {
		a.Record(time.Duration(i)) // exact below 64 ns
	}
	b.Record(time.Hour) // beyond the last bucket: clamped into it, max kept exact
	a.Merge(&b)
	a.Merge(&Histogram{})
	if a.Count() != 11 || a.Quantile(0.5) != 5 || a.Max() != time.Hour || a.Quantile(1) != time.Hour {
		t.Fatalf("count %d median %v max %v", a.Count(), a.Quantile(0.5), a.Max())
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 || empty.Mean() != 0 {
		t.Fatal("empty histogram")
	}
}

func TestBucketsAreMonotonic(t *testing.T) {
	prev := -1
	for v := int64(0); v < 1<<30; v = v*9/8 + 1 {
		i := bucketOf(v)
		if i < prev {
			t.Fatalf("bucket of %d is %d, below the previous %d", v, i, prev)
		}
		if mid := bucketValue(i); v >= subBuckets && math.Abs(float64(mid-v))/float64(v) > 1.0/subBuckets {
			t.Fatalf("value %d in bucket %d (middle %d): error over 1/%d", v, i, mid, subBuckets)
		}
		prev = i
	}
}
