package controller

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/service/events"
	"github.com/agora-cluster/agora/sdk/wire"
)

// cmdApp has a TCP check the framework probes (index 0) and a COMMAND
// check the agent runs (index 1).
const cmdApp = `
id: cmd
cmd: touch ./ready; exec ./server
resources: {cpus: 1, mem: 128}
ports: [0]
health_checks:
  - {protocol: TCP, grace_period: 10s, interval: 1s, timeout: 1s}
  - {protocol: COMMAND, command: test -f ./ready, grace_period: 10s, interval: 1s, timeout: 1s, max_consecutive_failures: 2}
backoff: {initial: 2s, factor: 2, max: 20s}
`

// agentHealth sends a RUNNING update carrying the health the agent's
// check found, as the agent does.
func (h *harness) agentHealth(id wire.TaskID, ok bool, msg string) {
	h.t.Helper()
	h.c.Update(h.ctx, wire.TaskStatus{TaskID: id, AgentID: h.live[id].AgentID, State: wire.TaskRunning,
		Source: wire.SourceAgent, Healthy: &ok, Message: msg, Timestamp: h.now})
}

func (h *harness) health(id wire.TaskID) Health {
	h.t.Helper()
	for _, tk := range h.app("cmd").Tasks {
		if tk.ID == id {
			return tk.Health
		}
	}
	h.t.Fatalf("no instance %s", id)
	return ""
}

// TestCommandCheckRunsOnTheAgent: the COMMAND check goes to the agent in
// the task; the health the agent reports on RUNNING updates joins the
// framework's own checks; within the grace period a failure does not
// count; the framework never kills for it (the agent does), and the
// agent's kill counts for restart backoff.
func TestCommandCheckRunsOnTheAgent(t *testing.T) {
	h := newHarness(t)
	h.deploy(cmdApp)
	tasks := h.offers(agents("a1")...)
	if len(tasks) != 1 {
		t.Fatalf("launched %d, want 1", len(tasks))
	}
	hc := tasks[0].HealthCheck
	if hc == nil || hc.Type != wire.HealthCommand || hc.Command != "test -f ./ready" || hc.ConsecutiveFailures != 2 ||
		hc.GracePeriod.D() != 10*time.Second || hc.Interval.D() != time.Second || hc.Timeout.D() != time.Second {
		t.Fatalf("task health check = %+v", hc)
	}
	id := tasks[0].TaskID
	h.running(id)
	h.probe(id, true) // the TCP check passes; the agent has not reported yet
	if got := h.health(id); got != HealthUnknown {
		t.Fatalf("health before the agent's report = %q", got)
	}
	h.agentHealth(id, false, "command check failed: exit status 1")
	if got := h.health(id); got != HealthUnknown {
		t.Fatalf("a failure within the grace period counted: health %q", got)
	}
	mustContain(t, h.app("cmd").Waiting, "exit status 1")
	h.agentHealth(id, true, "healthy")
	if got := h.health(id); got != HealthHealthy {
		t.Fatalf("health after the agent's pass = %q", got)
	}
	if eps, _ := h.c.Endpoints("cmd"); len(eps) != 1 {
		t.Fatalf("endpoints = %+v", eps)
	}
	h.agentHealth(id, false, "command check failed: exit status 1")
	if got := h.health(id); got != HealthUnhealthy {
		t.Fatalf("health after the agent's failure = %q", got)
	}
	if eps, _ := h.c.Endpoints("cmd"); len(eps) != 0 {
		t.Fatalf("an unhealthy instance is listed: %+v", eps)
	}
	h.advance(time.Minute)
	if ks := h.newKills(); len(ks) != 0 {
		t.Fatalf("the framework killed %v for a check the agent runs", ks)
	}
	// The agent kills it.
	h.c.Update(h.ctx, wire.TaskStatus{TaskID: id, AgentID: h.live[id].AgentID, State: wire.TaskKilled,
		Reason: wire.ReasonTaskUnhealthy, Source: wire.SourceAgent, Timestamp: h.now})
	delete(h.live, id)
	st := h.app("cmd")
	if st.Backoff == nil || st.Backoff.Failures != 1 || !st.Backoff.Until.Equal(h.now.Add(2*time.Second)) {
		t.Fatalf("backoff after the agent's kill = %+v", st.Backoff)
	}
	if len(st.Ended) != 1 {
		t.Fatalf("ended = %+v", st.Ended)
	}
	mustContain(t, st.Ended[0].Message, "killed by its agent")
	mustContain(t, st.Ended[0].Message, "exit status 1")
	if evs := h.eventsOf(events.AppBackoff); len(evs) != 1 || !strings.Contains(evs[0].Message, "unhealthy") {
		t.Fatalf("backoff events: %+v", evs)
	}
	if got := h.offers(agents("a1")...); len(got) != 0 {
		t.Fatal("relaunched during the backoff")
	}
	h.advance(2 * time.Second)
	if got := h.offers(agents("a1")...); len(got) != 1 {
		t.Fatalf("relaunched %d after the backoff, want 1", len(got))
	}
	if ks := h.newKills(); len(ks) != 0 {
		t.Fatalf("the framework killed %v", ks)
	}
}

// TestAgentCheckFailureInGraceCountsAfterIt: the agent reports a failing
// check once (it reports changes only); when the grace period ends with
// no pass, the instance is unhealthy.
func TestAgentCheckFailureInGraceCountsAfterIt(t *testing.T) {
	h := newHarness(t)
	h.deploy(cmdApp)
	id := h.offers(agents("a1")...)[0].TaskID
	h.running(id)
	h.probe(id, true)
	h.agentHealth(id, false, "command check failed: exit status 1")
	h.advance(5 * time.Second)
	if got := h.health(id); got != HealthUnknown {
		t.Fatalf("health within the grace period = %q", got)
	}
	h.advance(6 * time.Second)
	if got := h.health(id); got != HealthUnhealthy {
		t.Fatalf("health after the grace period = %q, want unhealthy", got)
	}
	if ks := h.newKills(); len(ks) != 0 {
		t.Fatalf("the framework killed %v", ks)
	}
}

// TestAgentHealthSurvivesRestart: the agent reports changes only, so the
// health it reported is stored; a restarted framework whose reconciliation
// answer carries no health keeps the instance healthy.
func TestAgentHealthSurvivesRestart(t *testing.T) {
	h := newHarness(t)
	h.deploy(cmdApp)
	id := h.offers(agents("a1")...)[0].TaskID
	h.running(id)
	h.probe(id, true)
	h.agentHealth(id, true, "healthy")
	if got := h.health(id); got != HealthHealthy {
		t.Fatalf("health = %q", got)
	}
	h.restart()
	h.c.Update(h.ctx, wire.TaskStatus{TaskID: id, State: wire.TaskRunning, Reason: wire.ReasonReconciliation, Source: wire.SourceMaster})
	h.probe(id, true)
	if got := h.health(id); got != HealthHealthy {
		t.Fatalf("health after a restart = %q, want healthy", got)
	}
	if got := h.offers(agents("a1")...); len(got) != 0 {
		t.Fatalf("launched %v after the restart", ids(got))
	}
}

// TestNeverKillBecomesAnUnreachedLimit: max_consecutive_failures 0 (never
// kill) is sent to the agent as a limit it never reaches.
func TestNeverKillBecomesAnUnreachedLimit(t *testing.T) {
	h := newHarness(t)
	h.deploy(strings.Replace(cmdApp, "max_consecutive_failures: 2", "max_consecutive_failures: 0", 1))
	tasks := h.offers(agents("a1")...)
	if len(tasks) != 1 || tasks[0].HealthCheck == nil || tasks[0].HealthCheck.ConsecutiveFailures != math.MaxInt32 {
		t.Fatalf("tasks %+v", tasks)
	}
	h.deploy(strings.Replace(cmdApp, "  - {protocol: COMMAND", "  # - {protocol: COMMAND", 1))
	h.advance(time.Second)
	h.ackKills()
	for _, tk := range h.offers(agents("a1")...) {
		if tk.HealthCheck != nil {
			t.Fatalf("a task of an app without a COMMAND check carries %+v", tk.HealthCheck)
		}
	}
}
