package master

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agora-cluster/agora/master/registry"
	"github.com/agora-cluster/agora/sdk/wire"
)

// metrics are one master's Prometheus metrics. Each master has its own
// registry, so that several masters can share a process (tests, agora dev).
type metrics struct {
	reg            *prometheus.Registry
	offers         *prometheus.CounterVec
	allocationPass prometheus.Histogram
	offerLatency   prometheus.Histogram
	raftApply      prometheus.Histogram
	calls          *prometheus.CounterVec
	passes         *prometheus.CounterVec
	refuse         prometheus.Histogram
	healthChecks   prometheus.Counter
	registrations  *prometheus.CounterVec
	reregisterAsks *prometheus.CounterVec
}

var latencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

func newMetrics(m *Master) *metrics {
	reg := prometheus.NewRegistry()
	mt := &metrics{
		reg: reg,
		offers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agora_master_offers_total", Help: "Offers by what happened to them (sent, accepted, declined, rescinded).",
		}, []string{"event"}),
		allocationPass: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "agora_master_allocation_pass_seconds", Help: "Duration of one allocation pass (event-driven or full).", Buckets: latencyBuckets,
		}),
		offerLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "agora_master_offer_latency_seconds", Help: "Time from the event that freed resources to their offers being sent.", Buckets: latencyBuckets,
		}),
		raftApply: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "agora_master_raft_commit_seconds", Help: "Latency of registry writes through raft.", Buckets: latencyBuckets,
		}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agora_master_calls_total", Help: "Scheduler calls handled by the leader, by type and result.",
		}, []string{"type", "result"}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agora_master_allocation_passes_total", Help: "Allocation passes by kind: event (over the agents that changed), full (periodic; also expires offers) or filter_expiry (a decline filter ended).",
		}, []string{"kind"}),
		refuse: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "agora_master_decline_refuse_seconds", Help: "Filter (refuse_seconds, after the default and the one-year cap) of each declined offer.",
			Buckets: []float64{0, 0.1, 1, 5, 10, 30, 60, 300, 3600, 86400, 365 * 86400},
		}),
		healthChecks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "agora_master_health_checks_total", Help: "Passes of the leader's health check (agent silence, framework silence and failover timeouts, drains).",
		}),
		registrations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agora_master_agent_registrations_total",
			Help: "Agent registrations the leader accepted, by kind: admitted (written to the registry: a new agent, one returning from unreachable, or one whose resources or attributes changed), reregistered (known and active, the first registration with this leader) or repeated (registered with this leader already: restarted, reconnected, or a retry of a registration whose answer came too late).",
		}, []string{"kind"}),
		reregisterAsks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agora_master_reregister_requests_total",
			Help: "REREGISTER messages the leader sent agents, by reason: unknown_agent (a heartbeat or status update of an agent not registered with this leader), unknown_task (a status update of a running task the leader does not know) or unsettled (a task launched after the agent's last registration listed its tasks was not heard of a heartbeat interval later).",
		}, []string{"reason"}),
	}
	reg.MustRegister(mt.offers, mt.allocationPass, mt.offerLatency, mt.raftApply, mt.calls, mt.passes, mt.refuse, mt.healthChecks, mt.registrations, mt.reregisterAsks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&stateCollector{m: m})
	return mt
}

func (mt *metrics) handler() http.Handler {
	return promhttp.HandlerFor(mt.reg, promhttp.HandlerOpts{})
}

func since(t time.Time) float64 { return time.Since(t).Seconds() }

// stateCollector reports gauges computed at scrape time: raft state and
// term, leadership, agents and tasks by state, NATS connection.
type stateCollector struct{ m *Master }

var (
	descRaftState = prometheus.NewDesc("agora_master_raft_state", "1 for this master's current raft state.", []string{"state"}, nil)
	descTerm      = prometheus.NewDesc("agora_master_raft_term", "Current raft term.", nil, nil)
	descLeader    = prometheus.NewDesc("agora_master_is_leader", "1 while this master acts as leader.", nil, nil)
	descAgents    = prometheus.NewDesc("agora_master_agents", "Agents in the registry by state.", []string{"state"}, nil)
	descTasks     = prometheus.NewDesc("agora_master_tasks", "Tasks the leader tracks, by state.", []string{"state"}, nil)
	descNATS      = prometheus.NewDesc("agora_master_nats_connected", "1 while the master's NATS connection is up.", nil, nil)
	descFwOffers  = prometheus.NewDesc("agora_master_framework_offers_total", "Offers per framework and event.", []string{"framework", "event"}, nil)
	descFwFilters = prometheus.NewDesc("agora_master_framework_filters", "Running offer filters per framework (agent and role pairs it is not offered until a time).", []string{"framework"}, nil)
	descFwRefuse  = prometheus.NewDesc("agora_master_framework_refuse_seconds_total", "Sum of the filters (refuse_seconds) of the offers each framework declined.", []string{"framework"}, nil)
	descAgentOff  = prometheus.NewDesc("agora_master_agent_offered", "Resources outstanding in offers per agent (agents with offers only; cpus, mem and disk).", []string{"agent", "resource"}, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRaftState, descTerm, descLeader, descAgents, descTasks, descNATS, descFwOffers, descFwFilters, descFwRefuse, descAgentOff} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	if m.raft != nil {
		for _, s := range []string{"Leader", "Follower", "Candidate", "Shutdown"} {
			v := 0.0
			if m.raft.State() == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descRaftState, prometheus.GaugeValue, v, s)
		}
		ch <- prometheus.MustNewConstMetric(descTerm, prometheus.GaugeValue, float64(m.raft.Term()))
	}
	_, l := m.currentLeader()
	ch <- prometheus.MustNewConstMetric(descLeader, prometheus.GaugeValue, boolF(l != nil))
	connected := m.nc != nil && m.nc.IsConnected()
	ch <- prometheus.MustNewConstMetric(descNATS, prometheus.GaugeValue, boolF(connected))
	counts := map[registry.AgentState]int{}
	for _, a := range m.fsm.AgentStatuses() {
		counts[a.State]++
	}
	for _, s := range []registry.AgentState{registry.AgentActive, registry.AgentUnreachable, registry.AgentGone, registry.AgentDraining, registry.AgentDrained} {
		ch <- prometheus.MustNewConstMetric(descAgents, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
	if l == nil {
		return
	}
	tasks := map[string]int{}
	type fwStats struct {
		id string
		s  frameworkStats
	}
	var fws []fwStats
	l.mu.Lock()
	for _, t := range l.tasks {
		tasks[string(t.status.State)]++
	}
	for id, f := range l.frameworks {
		fws = append(fws, fwStats{string(id), f.stats})
	}
	offered := make(map[wire.AgentID]wire.Resources, len(l.agentOffer))
	for id := range l.agentOffer {
		offered[id], _ = l.offeredOn(id)
	}
	l.mu.Unlock()
	filters := l.alloc.Filters()
	for id, r := range offered {
		for name, v := range map[string]float64{"cpus": r.CPUs, "mem": r.MemMB, "disk": r.DiskMB} {
			ch <- prometheus.MustNewConstMetric(descAgentOff, prometheus.GaugeValue, v, string(id), name)
		}
	}
	for s, n := range tasks {
		ch <- prometheus.MustNewConstMetric(descTasks, prometheus.GaugeValue, float64(n), s)
	}
	for _, f := range fws {
		for ev, n := range map[string]uint64{"sent": f.s.OffersSent, "accepted": f.s.OffersAccepted, "declined": f.s.OffersDeclined, "rescinded": f.s.OffersRescinded} {
			ch <- prometheus.MustNewConstMetric(descFwOffers, prometheus.CounterValue, float64(n), f.id, ev)
		}
		ch <- prometheus.MustNewConstMetric(descFwFilters, prometheus.GaugeValue, float64(len(filters[wire.FrameworkID(f.id)])), f.id)
		ch <- prometheus.MustNewConstMetric(descFwRefuse, prometheus.CounterValue, f.s.RefuseSecondsTotal, f.id)
	}
}

func boolF(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
