package agent

import (
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// counters are the agent's own counts, read by its Prometheus collector.
type counters struct {
	updatesSent    atomic.Uint64 // first sends
	updatesResent  atomic.Uint64 // resends after a backoff or a re-registration
	registrations  atomic.Uint64
	launchFailures atomic.Uint64
}

var (
	descTasks      = prometheus.NewDesc("agora_agent_tasks", "Tasks on this agent by state.", []string{"state"}, nil)
	descPending    = prometheus.NewDesc("agora_agent_status_updates_pending", "Status updates waiting for an acknowledgement.", nil, nil)
	descSent       = prometheus.NewDesc("agora_agent_status_updates_sent_total", "Status updates sent for the first time.", nil, nil)
	descRetries    = prometheus.NewDesc("agora_agent_status_update_retries_total", "Status updates resent (no acknowledgement yet).", nil, nil)
	descRegistered = prometheus.NewDesc("agora_agent_registered", "1 while registered with the current leader.", nil, nil)
	descRegs       = prometheus.NewDesc("agora_agent_registrations_total", "Successful (re-)registrations.", nil, nil)
	descNATS       = prometheus.NewDesc("agora_agent_nats_connected", "1 while the NATS connection is up.", nil, nil)
	descLaunchFail = prometheus.NewDesc("agora_agent_launch_failures_total", "Tasks that could not be started.", nil, nil)
)

type agentCollector struct{ a *Agent }

func (c agentCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTasks, descPending, descSent, descRetries, descRegistered, descRegs, descNATS, descLaunchFail} {
		ch <- d
	}
}

func (c agentCollector) Collect(ch chan<- prometheus.Metric) {
	a := c.a
	states := map[string]int{}
	a.mu.Lock()
	for _, t := range a.tasks {
		states[string(t.state)]++
	}
	registered := a.registered
	a.mu.Unlock()
	for s, n := range states {
		ch <- prometheus.MustNewConstMetric(descTasks, prometheus.GaugeValue, float64(n), s)
	}
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(len(a.upd.snapshot())))
	ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(a.count.updatesSent.Load()))
	ch <- prometheus.MustNewConstMetric(descRetries, prometheus.CounterValue, float64(a.count.updatesResent.Load()))
	ch <- prometheus.MustNewConstMetric(descRegistered, prometheus.GaugeValue, b2f(registered))
	ch <- prometheus.MustNewConstMetric(descRegs, prometheus.CounterValue, float64(a.count.registrations.Load()))
	ch <- prometheus.MustNewConstMetric(descNATS, prometheus.GaugeValue, b2f(a.nc != nil && a.nc.IsConnected()))
	ch <- prometheus.MustNewConstMetric(descLaunchFail, prometheus.CounterValue, float64(a.count.launchFailures.Load()))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// serveMetrics serves /metrics on addr until the agent stops.
func (a *Agent) serveMetrics(addr string) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(agentCollector{a}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("agent: metrics listen %s: %w", addr, err)
	}
	a.metricsLn = ln
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	a.goFunc(func() { _ = srv.Serve(ln) })
	a.goFunc(func() {
		<-a.ctx.Done()
		_ = srv.Close()
	})
	return nil
}

// MetricsAddr is where /metrics is served ("" if not).
func (a *Agent) MetricsAddr() string {
	if a.metricsLn == nil {
		return ""
	}
	return a.metricsLn.Addr().String()
}
