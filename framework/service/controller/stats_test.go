package controller

import (
	"maps"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// TestStats follows the controller's counts and state through a
// deployment, an instance killed for failing its health checks and its
// replacement, a rescinded offer and a deployment that misses its
// deadline.
func TestStats(t *testing.T) {
	h := newHarness(t)
	h.deploy(webApp)
	tasks := h.offers(agents("a1", "a2", "a3")...) // both on the first, two declined
	if len(tasks) != 2 {
		t.Fatalf("launched %d, want 2", len(tasks))
	}
	h.running(ids(tasks)...)
	h.probe(tasks[0].TaskID, true)
	st := h.c.Stats()
	if st.Apps != 1 || st.DeploymentsActive != 1 || st.OffersReceived != 3 || st.OffersAccepted != 1 ||
		st.OffersDeclined != 2 || st.TasksLaunched != 2 || st.Updates[wire.TaskRunning] != 2 {
		t.Fatalf("after the launch: %+v", st)
	}
	if want := map[InstanceKey]int{{wire.TaskRunning, "healthy"}: 1, {wire.TaskRunning, "unknown"}: 1}; !maps.Equal(st.Instances, want) {
		t.Fatalf("instances %v, want %v", st.Instances, want)
	}
	h.probe(tasks[1].TaskID, true)
	if st := h.c.Stats(); st.DeploymentsActive != 0 || st.DeploymentsFinished[DeploymentSucceeded] != 1 ||
		st.Instances[InstanceKey{wire.TaskRunning, "healthy"}] != 2 {
		t.Fatalf("after the deployment: %+v", st)
	}

	// Two failures after a success kill the instance; its end is a restart.
	h.probe(tasks[0].TaskID, false)
	if st := h.c.Stats(); st.HealthCheckFailures != 1 || st.Instances[InstanceKey{wire.TaskRunning, "unhealthy"}] != 1 || st.Restarts != 0 {
		t.Fatalf("after one failure: %+v", st)
	}
	h.probe(tasks[0].TaskID, false)
	h.ackKills()
	st = h.c.Stats()
	if st.HealthCheckFailures != 2 || st.Restarts != 1 || st.Tasks[wire.TaskKilled] != 1 || st.Tasks[wire.TaskRunning] != 1 {
		t.Fatalf("after the kill: %+v", st)
	}
	h.advance(2 * time.Second) // the restart backoff
	if got := h.offers(agents("a1")...); len(got) != 1 {
		t.Fatalf("replacement: launched %d, want 1", len(got))
	}
	h.c.Rescind("gone")
	st = h.c.Stats()
	if st.TasksLaunched != 3 || st.OffersRescinded != 1 || st.Tasks[wire.TaskStaging] != 1 || len(st.Instances) != 2 {
		t.Fatalf("after the replacement: %+v", st)
	}

	// A scale-down is the framework's own kill: not a restart.
	if _, err := h.c.Scale(h.ctx, "web", 1); err != nil {
		t.Fatal(err)
	}
	h.ackKills()
	h.deploy("id: late\ncmd: x\nupgrade: {deadline: 5s}\ninstances: 1\n")
	h.advance(6 * time.Second)
	st = h.c.Stats()
	if st.Apps != 2 || st.Restarts != 1 || st.DeploymentsFinished[DeploymentFailed] != 1 || st.Tasks[wire.TaskKilled] != 2 {
		t.Fatalf("at the end: %+v", st)
	}
}
