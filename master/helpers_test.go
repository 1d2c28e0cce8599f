package master_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk/sdktest"
)

func natsConn(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// fakeClock is a manually advanced clock for Config.Now, safe for the
// master's goroutines to read.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// metricValue scrapes a master's /metrics and returns the value of the
// sample whose name and labels (as Prometheus prints them, e.g.
// `agora_x{kind="full"}`) are given; 0 if it is absent.
func metricValue(t *testing.T, m *master.Master, sample string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + m.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("metric %s: %v", line, err)
			}
			return v
		}
	}
	return 0
}

// allocationPasses counts a master's periodic (full) allocation passes,
// each of which also expires offers.
func allocationPasses(t *testing.T, m *master.Master) float64 {
	return metricValue(t, m, `agora_master_allocation_passes_total{kind="full"}`)
}

// healthChecks counts a master's health checks, each of which also
// applies framework silence and failover timeouts.
func healthChecks(t *testing.T, m *master.Master) float64 {
	return metricValue(t, m, `agora_master_health_checks_total`)
}

// waitGrowth polls count until it has grown by n.
func waitGrowth(t *testing.T, what string, n float64, count func() float64) {
	t.Helper()
	base := count()
	sdktest.Eventually(t, 10*time.Second, func() bool { return count() >= base+n }, "%v more %s", n, what)
}
