package batch

import (
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agora-cluster/agora/framework/batch/engine"
	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Metrics served at GET /metrics. Gauges are read from the engine at
// scrape time; counters are the engine's counts since it started.
var (
	descInfo       = prometheus.NewDesc("agora_batch_framework_info", "Always 1; the labels name the framework and its ID.", []string{"framework_id", "name"}, nil)
	descSubscribed = prometheus.NewDesc("agora_batch_subscribed", "1 while the framework is subscribed with the leading master.", nil, nil)
	descNATS       = prometheus.NewDesc("agora_batch_nats_connected", "1 while the framework's NATS connection is up.", nil, nil)
	descOffers     = prometheus.NewDesc("agora_batch_offers_total", "Offers by event: received, accepted and declined by the framework, rescinded by the master.", []string{"event"}, nil)
	descUpdates    = prometheus.NewDesc("agora_batch_status_updates_total", "Task status updates received, by state.", []string{"state"}, nil)
	descLaunched   = prometheus.NewDesc("agora_batch_tasks_launched_total", "Tasks the master took for launch.", nil, nil)
	descTasks      = prometheus.NewDesc("agora_batch_tasks", "Tasks by state: a non-terminal state counts the tasks now in it (TASK_STAGING until their first update), a terminal state (and TASK_UNKNOWN) the tasks that ended in it since the framework started.", []string{"state"}, nil)
	descJobs       = prometheus.NewDesc("agora_batch_jobs", "Jobs stored.", nil, nil)
	descRunsActive = prometheus.NewDesc("agora_batch_runs_active", "Runs not over yet (running or stopping).", nil, nil)
	descRuns       = prometheus.NewDesc("agora_batch_runs_total", "Runs that ended, by result (succeeded, failed, killed), and scheduled starts recorded as missed or skipped.", []string{"result"}, nil)
	descRetries    = prometheus.NewDesc("agora_batch_task_retries_total", "Launched attempts that were not their instance's first.", nil, nil)
)

// taskStates are the states agora_batch_tasks always reports, 0 or not.
var taskStates = []wire.TaskState{
	wire.TaskStaging, wire.TaskStarting, wire.TaskRunning, wire.TaskKilling, wire.TaskUnreachable,
	wire.TaskFinished, wire.TaskFailed, wire.TaskKilled, wire.TaskError, wire.TaskLost,
	wire.TaskDropped, wire.TaskGone, wire.TaskUnknown,
}

// runResults are the results agora_batch_runs_total always reports.
var runResults = []record.RunState{record.RunSucceeded, record.RunFailed, record.RunKilled, record.RunMissed, record.RunSkipped}

// collector reports the framework's metrics.
type collector struct {
	name string
	id   wire.FrameworkID
	eng  *engine.Engine
	nc   *nats.Conn
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInfo, descSubscribed, descNATS, descOffers, descUpdates, descLaunched,
		descTasks, descJobs, descRunsActive, descRuns, descRetries} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.eng.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descInfo, 1, string(c.id), c.name)
	gauge(descSubscribed, b2f(st.Subscribed))
	gauge(descNATS, b2f(c.nc.IsConnected()))
	counter(descOffers, st.OffersReceived, "received")
	counter(descOffers, st.OffersAccepted, "accepted")
	counter(descOffers, st.OffersDeclined, "declined")
	counter(descOffers, st.OffersRescinded, "rescinded")
	for s, n := range st.Updates {
		counter(descUpdates, n, string(s))
	}
	counter(descLaunched, st.TasksLaunched)
	for _, s := range taskStates {
		gauge(descTasks, float64(st.Tasks[s]), string(s))
		delete(st.Tasks, s)
	}
	for s, n := range st.Tasks { // a state not listed above
		gauge(descTasks, float64(n), string(s))
	}
	gauge(descJobs, float64(st.Jobs))
	gauge(descRunsActive, float64(st.ActiveRuns))
	for _, r := range runResults {
		k := engine.RunResult(r)
		counter(descRuns, st.Runs[k], k)
		delete(st.Runs, k)
	}
	for k, n := range st.Runs {
		counter(descRuns, n, k)
	}
	counter(descRetries, st.Retries)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// metricsHandler serves the framework's metrics from a registry of its
// own (several frameworks may share a process: tests, agora dev).
func metricsHandler(c collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
}
