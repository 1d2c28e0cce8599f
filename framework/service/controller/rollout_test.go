package controller

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/service/events"
	"github.com/agora-cluster/agora/sdk/wire"
)

// converge plays the cluster: launched tasks start and (if healthy
// returns true for their config) pass their checks; kills are answered.
func (h *harness) converge(rounds int, os []wire.Offer, healthy func(config string) bool, each func()) {
	for i := 0; i < rounds; i++ {
		tasks := h.offers(os...)
		if each != nil {
			each()
		}
		for _, tk := range tasks {
			h.running(tk.TaskID)
			if each != nil {
				each()
			}
		}
		for id, tk := range h.live {
			if inst := h.c.instances[id]; inst != nil && inst.State == wire.TaskRunning && !inst.Killing {
				h.probe(id, healthy(configOf(tk)))
				if each != nil {
					each()
				}
			}
		}
		h.ackKills()
		if each != nil {
			each()
		}
		h.advance(time.Second)
	}
}

func TestRollingUpdateKeepsMinHealthCapacity(t *testing.T) {
	h := newHarness(t)
	doc := `
id: api
cmd: ./api v1
instances: 4
ports: [0]
health_checks: [{protocol: TCP, grace_period: 1m, interval: 1s, timeout: 1s}]
upgrade: {min_health_capacity: 0.5, max_over_capacity: 0.25}
`
	h.deploy(doc)
	os := agents("a1", "a2", "a3")
	all := func(string) bool { return true }
	h.converge(3, os, all, nil)
	if st := h.app("api"); st.Healthy != 4 || st.Deployment.State != DeploymentSucceeded {
		t.Fatalf("v1 not up: %+v", st)
	}
	h.deploy(strings.Replace(doc, "./api v1", "./api v2", 1))
	maxActive, minHealthy := 0, 99
	check := func() {
		st := h.app("api")
		active := 0
		for _, tk := range st.Tasks {
			if !tk.Killing && !tk.Inactive {
				active++
			}
		}
		maxActive = max(maxActive, active)
		minHealthy = min(minHealthy, st.Healthy)
	}
	h.converge(12, os, all, check)
	st := h.app("api")
	if st.Deployment.State != DeploymentSucceeded || st.Healthy != 4 {
		t.Fatalf("v2 rollout did not finish: %+v", st.Deployment)
	}
	for _, tk := range st.Tasks {
		if tk.Config != 2 {
			t.Fatalf("old instance left: %+v", tk)
		}
	}
	// The rollout uses all the room the bounds give, and no more: down to
	// the min_health_capacity floor (0.5 of 4 keeps 2 healthy) and up to
	// the max_over_capacity ceiling (4 + 0.25 of 4 = 5 active). A rollout
	// that replaces one instance at a time does not reach both, and fails.
	if minHealthy != 2 {
		t.Fatalf("healthy instances fell to %d during the rollout; min_health_capacity 0.5 of 4 keeps exactly 2 at the lowest", minHealthy)
	}
	if maxActive != 5 {
		t.Fatalf("%d active instances at most during the rollout; max_over_capacity 0.25 of 4 allows 5, and the rollout should use them", maxActive)
	}
}

func TestFailingVersionRollsBackAfterDeadline(t *testing.T) {
	h := newHarness(t)
	doc := `
id: api
cmd: ./api v1
instances: 3
ports: [0]
health_checks: [{protocol: HTTP, grace_period: 1m, interval: 1s, timeout: 1s}]
upgrade: {min_health_capacity: 0.67, max_over_capacity: 0, deadline: 20s, auto_rollback: true}
`
	h.deploy(doc)
	os := agents("a1", "a2", "a3")
	good := func(cfg string) bool { return cfg == "1" }
	h.converge(3, os, good, nil)
	if st := h.app("api"); st.Healthy != 3 {
		t.Fatalf("v1 not up: %+v", st)
	}
	res := h.deploy(strings.Replace(doc, "./api v1", "./api v2-broken", 1))
	minHealthy := 99
	h.converge(30, os, good, func() { minHealthy = min(minHealthy, h.app("api").Healthy) })
	dep, err := h.c.Deployment(res.Deployment)
	if err != nil {
		t.Fatal(err)
	}
	if dep.State != DeploymentRolledBack || dep.RolledBackBy == "" {
		t.Fatalf("deployment = %+v", dep)
	}
	mustContain(t, dep.Message, "deadline passed")
	mustContain(t, dep.Message, "rolling back to version 1")
	st := h.app("api")
	if st.Version != 3 || st.Config != 1 || st.Deployment.Kind != KindAutoRollback || st.Deployment.State != DeploymentSucceeded {
		t.Fatalf("after rollback: version %d config %d deployment %+v", st.Version, st.Config, st.Deployment)
	}
	if st.Healthy != 3 {
		t.Fatalf("healthy after rollback = %d", st.Healthy)
	}
	for _, tk := range st.Tasks {
		if tk.Config != 1 {
			t.Fatalf("a broken instance survived the rollback: %+v", tk)
		}
	}
	if minHealthy < 2 {
		t.Fatalf("healthy fell to %d while v2 failed; min_health_capacity keeps 2", minHealthy)
	}
	if evs := h.eventsOf(events.DeploymentFinished); len(evs) < 3 || evs[1].State != string(DeploymentRolledBack) {
		t.Fatalf("finished events: %+v", evs)
	}
}

func TestDeadlineWithoutRollbackFails(t *testing.T) {
	h := newHarness(t)
	res := h.deploy("id: x\ncmd: x\nupgrade: {deadline: 5s}\n")
	h.advance(6 * time.Second)
	d, _ := h.c.Deployment(res.Deployment)
	if d.State != DeploymentFailed {
		t.Fatalf("state %s", d.State)
	}
	mustContain(t, d.Message, "waiting for offers")
}

func TestManualRollbackToAnyVersion(t *testing.T) {
	h := newHarness(t)
	os := agents("a1")
	for _, v := range []string{"v1", "v2", "v3"} {
		h.deploy("id: m\ncmd: run " + v + "\n")
		h.converge(2, os, func(string) bool { return true }, nil)
	}
	if _, err := h.c.Rollback(h.ctx, "m", 9); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rollback to a missing version: %v", err)
	}
	res, err := h.c.Rollback(h.ctx, "m", 1)
	if err != nil || res.Version != 4 {
		t.Fatalf("rollback = %+v, %v", res, err)
	}
	h.converge(3, os, func(string) bool { return true }, nil)
	st := h.app("m")
	if st.Spec.Cmd != "run v1" || st.Config != 1 || len(st.Tasks) != 1 || st.Tasks[0].Config != 1 {
		t.Fatalf("after rollback to 1: %+v", st)
	}
	// Default: the version before the current one (3).
	if res, err := h.c.Rollback(h.ctx, "m", 0); err != nil || res.Version != 5 {
		t.Fatalf("rollback = %+v, %v", res, err)
	}
	if st := h.app("m"); st.Spec.Cmd != "run v3" {
		t.Fatalf("default rollback went to %q", st.Spec.Cmd)
	}
	vs, _ := h.c.Versions("m")
	if len(vs) != 5 || vs[3].Cause != "rolled back to version 1" {
		t.Fatalf("versions %+v", vs)
	}
}
