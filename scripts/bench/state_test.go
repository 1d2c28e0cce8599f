package bench

import (
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// checkPolling checks a polling result (its Seconds is rounded to ms: a
// few fast requests may show 0).
func checkPolling(t *testing.T, what string, s StatePollResult, pollers, atLeast int) {
	t.Helper()
	if s.Pollers != pollers || s.Requests < atLeast || s.Errors != 0 || s.Latency.N != s.Requests || s.FirstByte.N != s.Requests {
		t.Fatalf("%s: %+v; want %d pollers, ≥ %d requests, no errors", what, s, pollers, atLeast)
	}
	if s.Latency.Min <= 0 || s.Latency.P50 > s.Latency.P99 || s.Latency.P99 > s.Latency.Max || s.FirstByte.Max > s.Latency.Max {
		t.Fatalf("%s latency: %+v, first byte %+v", what, s.Latency, s.FirstByte)
	}
	if s.BytesMin <= 0 || s.BytesMin > s.BytesMean || s.BytesMean > s.BytesMax || s.RequestsPerSecond <= 0 || s.Seconds < 0 {
		t.Fatalf("%s sizes and rate: %+v", what, s)
	}
}

func TestState(t *testing.T) {
	o := tiny(t, ScenarioState)
	o.Agents, o.Tasks, o.Samples, o.StateRequests, o.PollState = 20, 200, 20, 5, 2
	r := run(t, o).State
	if r == nil || r.Agents != o.Agents || r.RunningTasks != o.Tasks || r.Tasks.Duplicated != 0 {
		t.Fatalf("state: %+v", r)
	}
	c := r.Census
	if c.Agents != o.Agents || c.ActiveAgents != o.Agents || c.Tasks != o.Tasks || c.RunningTasks != o.Tasks || c.Frameworks != o.Frameworks {
		t.Fatalf("the state lists %+v; want %d agents, %d running tasks, %d frameworks", c, o.Agents, o.Tasks, o.Frameworks)
	}
	// Every task and agent is in the body: a TaskView alone is well over
	// 100 bytes of JSON. The timed requests are gzipped, so smaller.
	if min := int64(100*o.Tasks + 100*o.Agents); c.Bytes < min || r.Sequential.BytesMin <= 0 || r.Sequential.BytesMax >= c.Bytes {
		t.Fatalf("state of %d bytes (census), %d–%d gzipped (timed); want ≥ %d, and smaller gzipped", c.Bytes, r.Sequential.BytesMin, r.Sequential.BytesMax, min)
	}
	if len(r.Health) != 4 {
		t.Fatalf("agent health read after %d phases, want 4: %+v", len(r.Health), r.Health)
	}
	for _, h := range r.Health {
		if h.Agents["ACTIVE"] != o.Agents {
			t.Fatalf("agents after %s: %v; want all %d ACTIVE", h.After, h.Agents, o.Agents)
		}
	}
	checkPolling(t, "sequential", r.Sequential, 1, o.StateRequests)
	if r.Sequential.Requests != o.StateRequests {
		t.Fatalf("sequential: %d requests, want %d", r.Sequential.Requests, o.StateRequests)
	}
	checkPolling(t, "polled", r.Polled, o.PollState, o.StateRequests)
	for name, p := range map[string]*OffersResult{"without polling": r.OffersQuiet, "with polling": r.OffersPolled} {
		if p == nil || p.Latency.N+p.Missed != o.Samples || p.Latency.N == 0 || p.Latency.Min <= 0 {
			t.Fatalf("offers %s: %+v; want %d samples", name, p, o.Samples)
		}
		if p.AllocationPass.Count == 0 {
			t.Fatalf("offers %s: no allocation passes read", name)
		}
	}
}

func TestOffersPollState(t *testing.T) {
	o := tiny(t, ScenarioOffers)
	o.PollState = 2
	r := run(t, o).Offers
	if r == nil || r.Latency.N+r.Missed != o.Samples || r.StatePolling == nil {
		t.Fatalf("offers with polling: %+v", r)
	}
	checkPolling(t, "offers polling", *r.StatePolling, 2, 1)
}

func TestValidatePollState(t *testing.T) {
	o := DefaultOptions(ScenarioLaunch)
	o.PollState = 1
	if err := o.Validate(); err == nil {
		t.Error("launch accepted --poll-state")
	}
	o = DefaultOptions(ScenarioState)
	o.PollState = 0
	if err := o.Validate(); err == nil {
		t.Error("state accepted no pollers")
	}
	o = DefaultOptions(ScenarioState)
	if o.Agents != 10000 || o.Tasks != 100000 || o.agentProcs() == 0 || !o.AgentResources.Contains(wire.Resources{CPUs: 0.1}) {
		t.Errorf("state defaults: %+v", o)
	}
}

func TestStateFlags(t *testing.T) {
	got, err := flagOptions("--scenario", "state", "--agents", "30", "--poll-state", "2", "--state-requests", "3")
	if err != nil {
		t.Fatal(err)
	}
	if got.Scenario != ScenarioState || got.Agents != 30 || got.Tasks != 100000 || got.PollState != 2 || got.StateRequests != 3 || got.Frameworks != 10 {
		t.Fatalf("options from flags: %+v", got)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestScalePollState(t *testing.T) {
	o := tiny(t, ScenarioScale)
	o.Duration, o.Revives, o.PollState = time.Second, 1, 2
	r := run(t, o).Scale
	if r == nil || r.StatePolling == nil || r.RunningTasks != o.Tasks {
		t.Fatalf("scale with polling: %+v", r)
	}
	checkPolling(t, "scale polling", *r.StatePolling, 2, 1)
}
