package bench

import (
	"math"
	"slices"
	"time"
)

// Latency summarises a set of durations. Durations are in milliseconds
// (float) in JSON, so that the output is easy to read and plot.
type Latency struct {
	N    int     `json:"n"`
	Min  float64 `json:"min_ms"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
}

// Summarize computes a Latency over samples (which it sorts in place).
func Summarize(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	slices.Sort(samples)
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	return Latency{
		N:    len(samples),
		Min:  ms(samples[0]),
		Mean: ms(sum / time.Duration(len(samples))),
		P50:  ms(quantile(samples, 0.50)),
		P90:  ms(quantile(samples, 0.90)),
		P99:  ms(quantile(samples, 0.99)),
		Max:  ms(samples[len(samples)-1]),
	}
}

// quantile returns the q-quantile of sorted samples (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// round3 rounds to three decimals, for figures in reports.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
