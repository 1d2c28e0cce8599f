package service

import (
	"net/http"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agora-cluster/agora/framework/service/controller"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Metrics served at GET /metrics. Gauges are read from the controller at
// scrape time; counters are the controller's counts since it started.
var (
	descInfo        = prometheus.NewDesc("agora_service_framework_info", "Always 1; the labels name the framework and its ID.", []string{"framework_id", "name"}, nil)
	descSubscribed  = prometheus.NewDesc("agora_service_subscribed", "1 while the framework is subscribed with the leading master.", nil, nil)
	descNATS        = prometheus.NewDesc("agora_service_nats_connected", "1 while the framework's NATS connection is up.", nil, nil)
	descOffers      = prometheus.NewDesc("agora_service_offers_total", "Offers by event: received, accepted and declined by the framework, rescinded by the master.", []string{"event"}, nil)
	descUpdates     = prometheus.NewDesc("agora_service_status_updates_total", "Task status updates received, by state.", []string{"state"}, nil)
	descLaunched    = prometheus.NewDesc("agora_service_tasks_launched_total", "Tasks in launches the master accepted.", nil, nil)
	descTasks       = prometheus.NewDesc("agora_service_tasks", "Tasks by state: a non-terminal state counts the instances now in it, a terminal state (and TASK_UNKNOWN) the instances whose task ended in it since the framework started.", []string{"state"}, nil)
	descApps        = prometheus.NewDesc("agora_service_apps", "Apps, including those being removed.", nil, nil)
	descInstances   = prometheus.NewDesc("agora_service_instances", "Instances whose task has not ended, by task state and health (healthy, unhealthy, unknown; an instance without health checks is healthy while it runs).", []string{"state", "health"}, nil)
	descDeployments = prometheus.NewDesc("agora_service_deployments_active", "Deployments running.", nil, nil)
	descFinished    = prometheus.NewDesc("agora_service_deployments_finished_total", "Deployments that ended, by outcome.", []string{"outcome"}, nil)
	descRestarts    = prometheus.NewDesc("agora_service_restarts_total", "Instances that ended without the framework asking (failed, exited, lost, or killed for failing health checks) and are replaced.", nil, nil)
	descHealthFail  = prometheus.NewDesc("agora_service_health_check_failures_total", "Failed health probes that counted against an instance (not those in a check's grace period).", nil, nil)
)

// taskStates are the states agora_service_tasks always reports, 0 or not.
var taskStates = []wire.TaskState{
	wire.TaskStaging, wire.TaskStarting, wire.TaskRunning, wire.TaskKilling, wire.TaskUnreachable,
	wire.TaskFinished, wire.TaskFailed, wire.TaskKilled, wire.TaskError, wire.TaskLost,
	wire.TaskDropped, wire.TaskGone, wire.TaskUnknown,
}

// outcomes are the outcomes agora_service_deployments_finished_total
// always reports.
var outcomes = []controller.DeploymentState{
	controller.DeploymentSucceeded, controller.DeploymentFailed, controller.DeploymentRolledBack,
	controller.DeploymentSuperseded, controller.DeploymentCancelled,
}

// collector reports the framework's metrics.
type collector struct {
	name       string
	id         wire.FrameworkID
	ctrl       *controller.Controller
	subscribed func() bool
	nc         *nats.Conn
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInfo, descSubscribed, descNATS, descOffers, descUpdates, descLaunched,
		descTasks, descApps, descInstances, descDeployments, descFinished, descRestarts, descHealthFail} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.ctrl.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descInfo, 1, string(c.id), c.name)
	gauge(descSubscribed, b2f(c.subscribed()))
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
	gauge(descApps, float64(st.Apps))
	for k, n := range st.Instances {
		gauge(descInstances, float64(n), string(k.State), k.Health)
	}
	gauge(descDeployments, float64(st.DeploymentsActive))
	for _, o := range outcomes {
		counter(descFinished, st.DeploymentsFinished[o], string(o))
		delete(st.DeploymentsFinished, o)
	}
	for o, n := range st.DeploymentsFinished {
		counter(descFinished, n, string(o))
	}
	counter(descRestarts, st.Restarts)
	counter(descHealthFail, st.HealthCheckFailures)
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
