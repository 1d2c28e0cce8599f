package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// selfUsage returns this process's resident memory (VmRSS of
// /proc/self/status) and its CPU time so far (getrusage: user + system).
func selfUsage() (rss uint64, cpuSeconds float64, err error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, err
	}
	rss, err = vmRSS(b)
	if err != nil {
		return 0, 0, err
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, err
	}
	return rss, tv(ru.Utime) + tv(ru.Stime), nil
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// vmRSS parses the VmRSS line of /proc/<pid>/status.
func vmRSS(status []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "VmRSS:") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			break
		}
		kb, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			return 0, err
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("bench: no VmRSS in /proc/self/status")
}

// usageSample is a process's usage at one instant.
type usageSample struct {
	at         time.Time
	rss        uint64
	cpu        float64
	mem        runtime.MemStats // only the fields metricsSample fills, when from /metrics
	goroutines int
}

func sampleSelf() (usageSample, error) {
	s := usageSample{at: time.Now(), goroutines: runtime.NumGoroutine()}
	var err error
	s.rss, s.cpu, err = selfUsage()
	runtime.ReadMemStats(&s.mem)
	return s, err
}

// metricsSample reads a process's usage from the plain samples of its
// /metrics page (the Prometheus client's process and Go collectors).
func metricsSample(at time.Time, plain map[string]float64) (usageSample, error) {
	need := []string{"process_resident_memory_bytes", "process_cpu_seconds_total",
		"go_memstats_heap_inuse_bytes", "go_memstats_heap_idle_bytes", "go_memstats_heap_released_bytes",
		"go_memstats_stack_inuse_bytes", "go_memstats_sys_bytes", "go_goroutines"}
	for _, n := range need {
		if _, ok := plain[n]; !ok {
			return usageSample{}, fmt.Errorf("bench: the master's /metrics has no %s", n)
		}
	}
	u := func(n string) uint64 { return uint64(plain[n]) }
	s := usageSample{at: at, rss: u("process_resident_memory_bytes"), cpu: plain["process_cpu_seconds_total"],
		goroutines: int(plain["go_goroutines"])}
	s.mem.HeapInuse, s.mem.HeapIdle, s.mem.HeapReleased = u("go_memstats_heap_inuse_bytes"), u("go_memstats_heap_idle_bytes"), u("go_memstats_heap_released_bytes")
	s.mem.StackInuse, s.mem.Sys = u("go_memstats_stack_inuse_bytes"), u("go_memstats_sys_bytes")
	return s, nil
}

// cores is the CPU used between two samples, in cores.
func cores(a, b usageSample) float64 {
	wall := b.at.Sub(a.at).Seconds()
	if wall <= 0 {
		return 0
	}
	return (b.cpu - a.cpu) / wall
}

// histogram is one Prometheus histogram read from a /metrics page.
type histogram struct {
	buckets []bucket // sorted by upper bound; counts are cumulative
	sum     float64
	count   float64
}

type bucket struct {
	le    float64
	count float64
}

// scrapeMetrics fetches a Prometheus text page and returns its histograms
// by name, and its plain samples (counters, gauges) by name.
func scrapeMetrics(ctx context.Context, url string) (map[string]*histogram, map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("bench: scrape %s: %s", url, resp.Status)
	}
	h, s := parseMetrics(resp.Body)
	return h, s, nil
}

// parseMetrics reads the Prometheus text format: enough of it for
// histograms and unlabelled samples.
func parseMetrics(r io.Reader) (map[string]*histogram, map[string]float64) {
	hists := map[string]*histogram{}
	plain := map[string]float64{}
	get := func(name string) *histogram {
		h := hists[name]
		if h == nil {
			h = &histogram{}
			hists[name] = h
		}
		return h
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		name, labels := line[:sp], ""
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name, labels = name[:i], name[i:]
		}
		switch {
		case strings.HasSuffix(name, "_bucket"):
			i := strings.Index(labels, `le="`)
			if i < 0 {
				continue
			}
			rest := labels[i+4:]
			le, err := strconv.ParseFloat(rest[:strings.IndexByte(rest, '"')], 64)
			if err != nil {
				continue
			}
			h := get(strings.TrimSuffix(name, "_bucket"))
			h.buckets = append(h.buckets, bucket{le: le, count: v})
		case strings.HasSuffix(name, "_sum") && labels == "":
			get(strings.TrimSuffix(name, "_sum")).sum = v
			plain[name] = v
		case strings.HasSuffix(name, "_count") && labels == "":
			get(strings.TrimSuffix(name, "_count")).count = v
			plain[name] = v
		case labels == "":
			plain[name] = v
		}
	}
	for name, h := range hists {
		if len(h.buckets) == 0 {
			delete(hists, name)
			continue
		}
		sort.Slice(h.buckets, func(i, j int) bool { return h.buckets[i].le < h.buckets[j].le })
	}
	return hists, plain
}

// minus returns the observations made between an earlier reading and h.
func (h *histogram) minus(earlier *histogram) *histogram {
	if earlier == nil {
		return h
	}
	out := &histogram{sum: h.sum - earlier.sum, count: h.count - earlier.count}
	for i, b := range h.buckets {
		c := b.count
		if i < len(earlier.buckets) && earlier.buckets[i].le == b.le {
			c -= earlier.buckets[i].count
		}
		out.buckets = append(out.buckets, bucket{le: b.le, count: c})
	}
	return out
}

// HistogramSummary describes a Prometheus histogram read from a master:
// the count and mean are exact; quantiles are upper bucket bounds.
type HistogramSummary struct {
	Count  int     `json:"count"`
	MeanMS float64 `json:"mean_ms"`
	// P50 and P99 are the upper bounds of the buckets holding those
	// quantiles ("≤"), in ms; +Inf shows as -1.
	P50LeMS float64 `json:"p50_le_ms"`
	P99LeMS float64 `json:"p99_le_ms"`
}

func (h *histogram) summary() HistogramSummary {
	if h == nil || h.count <= 0 {
		return HistogramSummary{}
	}
	return HistogramSummary{
		Count:   int(h.count),
		MeanMS:  round3(h.sum / h.count * 1000),
		P50LeMS: h.quantileLe(0.50),
		P99LeMS: h.quantileLe(0.99),
	}
}

func (h *histogram) quantileLe(q float64) float64 {
	want := q * h.count
	for _, b := range h.buckets {
		if b.count >= want {
			if math.IsInf(b.le, 1) {
				return -1
			}
			return round3(b.le * 1000)
		}
	}
	return -1
}
