package controller

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/service/events"
	"github.com/agora-cluster/agora/framework/service/spec"
	"github.com/agora-cluster/agora/sdk/wire"
)

const webApp = `
id: web
cmd: ./server
instances: 2
resources: {cpus: 1, mem: 128}
ports: [{name: http}]
health_checks: [{protocol: HTTP, path: /health, grace_period: 10s, interval: 1s, timeout: 1s, max_consecutive_failures: 2}]
backoff: {initial: 2s, factor: 2, max: 20s}
`

func TestLaunchHealthAndEndpoints(t *testing.T) {
	h := newHarness(t)
	res := h.deploy(webApp)
	if res.Version != 1 || res.Deployment == "" {
		t.Fatalf("deploy = %+v", res)
	}
	os := agents("a1", "a2")
	tasks := h.offers(os...)
	if len(tasks) != 2 {
		t.Fatalf("launched %d tasks, want 2", len(tasks))
	}
	for _, tk := range tasks {
		if tk.Resources.CPUs != 1 || tk.Resources.Ports.Count() != 1 || !tk.Command.Shell || tk.Command.Value != "./server" {
			t.Fatalf("task %+v", tk)
		}
		port := tk.Resources.Ports[0].Begin
		if tk.Env["PORT_HTTP"] != itoa(port) || tk.Labels[LabelApp] != "web" {
			t.Fatalf("env %v labels %v", tk.Env, tk.Labels)
		}
	}
	if eps, _ := h.c.Endpoints("web"); len(eps) != 0 {
		t.Fatalf("endpoints before running: %+v", eps)
	}
	h.running(ids(tasks)...)
	if len(h.h.watched) != 2 {
		t.Fatalf("watched %d instances, want 2", len(h.h.watched))
	}
	if tg := h.h.watched[string(tasks[0].TaskID)]; tg.Host != "127.0.0.1" || len(tg.Ports) != 1 {
		t.Fatalf("health target %+v", tg)
	}
	if eps, _ := h.c.Endpoints("web"); len(eps) != 0 {
		t.Fatalf("endpoints of running but unchecked instances: %+v", eps)
	}
	h.probe(tasks[0].TaskID, true)
	eps, _ := h.c.Endpoints("web")
	if len(eps) != 1 || eps[0].Instance != tasks[0].TaskID || eps[0].Address != "127.0.0.1:"+itoa(tasks[0].Resources.Ports[0].Begin) {
		t.Fatalf("endpoints = %+v", eps)
	}
	if h.app("web").Deployment.State != DeploymentRunning {
		t.Fatal("deployment finished with one of two healthy")
	}
	h.probe(tasks[1].TaskID, true)
	if st := h.app("web"); st.Deployment.State != DeploymentSucceeded || st.Healthy != 2 || st.Stable != 1 {
		t.Fatalf("status = %+v", st)
	}
	// An unhealthy instance leaves the endpoints at once.
	h.probe(tasks[0].TaskID, false)
	eps, _ = h.c.Endpoints("web")
	if len(eps) != 1 || eps[0].Instance != tasks[1].TaskID {
		t.Fatalf("endpoints after a failure = %+v", eps)
	}
	if len(h.eventsOf(events.InstanceHealth)) < 3 {
		t.Fatalf("health events: %+v", h.eventsOf(events.InstanceHealth))
	}
}

func itoa(p uint64) string { return strconv.FormatUint(p, 10) }

func TestHealthFailureKillsAndRestartsWithBackoff(t *testing.T) {
	h := newHarness(t)
	h.deploy(strings.Replace(webApp, "instances: 2", "instances: 1", 1))
	fail := func() wire.TaskID {
		t.Helper()
		tasks := h.offers(agents("a1")...)
		if len(tasks) != 1 {
			t.Fatalf("launched %d, want 1", len(tasks))
		}
		id := tasks[0].TaskID
		h.running(id)
		// Failures within the grace period before any success do not count.
		h.probe(id, false)
		h.probe(id, false)
		if len(h.newKills()) != 0 {
			t.Fatal("killed during the grace period")
		}
		mustContain(t, h.app("web").Waiting, "1 failing health checks, e.g. connection refused")
		h.probe(id, true)
		h.probe(id, false)
		if len(h.newKills()) != 0 {
			t.Fatal("killed after one failure (max is 2)")
		}
		h.probe(id, false)
		if ks := h.ackKills(); !slices.Equal(ks, []wire.TaskID{id}) {
			t.Fatalf("killed %v, want %s", ks, id)
		}
		return id
	}
	fail()
	st := h.app("web")
	if st.Backoff == nil || st.Backoff.Failures != 1 || !st.Backoff.Until.Equal(h.now.Add(2*time.Second)) {
		t.Fatalf("backoff after one failure = %+v", st.Backoff)
	}
	mustContain(t, st.Waiting, "delayed by restart backoff")
	if got := h.offers(agents("a1")...); len(got) != 0 {
		t.Fatal("launched during backoff")
	}
	h.advance(2 * time.Second)
	fail()
	if st := h.app("web"); st.Backoff.Failures != 2 || !st.Backoff.Until.Equal(h.now.Add(4*time.Second)) {
		t.Fatalf("second backoff = %+v, want 4s", st.Backoff)
	}
	h.advance(3 * time.Second)
	if got := h.offers(agents("a1")...); len(got) != 0 {
		t.Fatal("launched before the 4s backoff passed")
	}
	h.advance(time.Second)
	tasks := h.offers(agents("a1")...)
	if len(tasks) != 1 {
		t.Fatal("no launch after the backoff")
	}
	if evs := h.eventsOf(events.AppBackoff); len(evs) != 2 || !strings.Contains(evs[0].Message, "unhealthy") {
		t.Fatalf("backoff events: %+v", evs)
	}
	// Healthy for reset_after (default 30s) resets the backoff.
	h.running(tasks[0].TaskID)
	h.probe(tasks[0].TaskID, true)
	h.advance(31 * time.Second)
	if st := h.app("web"); st.Backoff != nil {
		t.Fatalf("backoff not reset after a healthy stretch: %+v", st.Backoff)
	}
}

func TestCrashLoopBacksOff(t *testing.T) {
	h := newHarness(t)
	h.deploy("id: crash\ncmd: exit 1\nbackoff: {initial: 1s, factor: 3, max: 5s}\n")
	var delays []time.Duration
	for i := 0; i < 4; i++ {
		tasks := h.offers(agents("a1")...)
		if len(tasks) != 1 {
			t.Fatalf("round %d: launched %d", i, len(tasks))
		}
		h.running(tasks[0].TaskID)
		h.update(tasks[0].TaskID, wire.TaskFailed)
		st := h.app("crash")
		delays = append(delays, st.Backoff.Until.Sub(h.now))
		h.advance(st.Backoff.Until.Sub(h.now))
	}
	want := []time.Duration{time.Second, 3 * time.Second, 5 * time.Second, 5 * time.Second}
	if !slices.Equal(delays, want) {
		t.Fatalf("delays %v, want %v", delays, want)
	}
}

func TestScaleKillsYoungestFirst(t *testing.T) {
	for _, sel := range []spec.KillSelection{spec.YoungestFirst, spec.OldestFirst} {
		h := newHarness(t)
		h.deploy("id: s\ncmd: x\ninstances: 1\nkill_selection: " + string(sel) + "\n")
		var order []wire.TaskID
		for n := 1; n <= 3; n++ {
			if n > 1 {
				if _, err := h.c.Scale(h.ctx, "s", n); err != nil {
					t.Fatal(err)
				}
			}
			tasks := h.offers(agents("a1")...)
			h.running(ids(tasks)...)
			order = append(order, ids(tasks)...)
			h.advance(time.Second)
		}
		if len(order) != 3 {
			t.Fatalf("launched %v", order)
		}
		if _, err := h.c.Scale(h.ctx, "s", 1); err != nil {
			t.Fatal(err)
		}
		killed := h.ackKills()
		want := []wire.TaskID{order[2], order[1]}
		if sel == spec.OldestFirst {
			want = []wire.TaskID{order[0], order[1]}
		}
		if !slices.Equal(killed, want) {
			t.Fatalf("%s: killed %v, want %v (launch order %v)", sel, killed, want, order)
		}
		if st := h.app("s"); st.Running != 1 || st.Deployment.State != DeploymentSucceeded {
			t.Fatalf("after scale-down: %+v", st)
		}
	}
}

func TestUnreachableInstanceIsReplacedThenExpunged(t *testing.T) {
	h := newHarness(t)
	h.deploy("id: u\ncmd: x\nunreachable: {inactive_after: 10s, expunge_after: 1m}\n")
	tasks := h.offers(agents("a1")...)
	lost := tasks[0].TaskID
	h.running(lost)
	h.update(lost, wire.TaskUnreachable)
	h.advance(5 * time.Second)
	if got := h.offers(agents("a2")...); len(got) != 0 {
		t.Fatal("replaced before inactive_after")
	}
	h.advance(5 * time.Second)
	if evs := h.eventsOf(events.InstanceInactive); len(evs) != 1 || evs[0].Instance != string(lost) {
		t.Fatalf("inactive events %+v", evs)
	}
	repl := h.offers(agents("a2")...)
	if len(repl) != 1 {
		t.Fatal("no replacement after inactive_after")
	}
	h.running(repl[0].TaskID)
	// The old instance comes back: it was replaced, so it is killed.
	h.update(lost, wire.TaskRunning)
	if ks := h.newKills(); !slices.Equal(ks, []wire.TaskID{lost}) {
		t.Fatalf("killed %v, want the returning instance", ks)
	}
	// Another one goes unreachable and never returns: expunged.
	h.update(repl[0].TaskID, wire.TaskUnreachable)
	h.advance(time.Minute)
	st := h.app("u")
	for _, tk := range st.Tasks {
		if tk.ID == repl[0].TaskID {
			t.Fatalf("not expunged after expunge_after: %+v", tk)
		}
	}
	// If it turns up after all, it is killed as unknown.
	h.c.Update(h.ctx, wire.TaskStatus{TaskID: repl[0].TaskID, State: wire.TaskRunning})
	if ks := h.newKills(); !slices.Contains(ks, repl[0].TaskID) {
		t.Fatalf("expunged instance not killed when it came back: %v", ks)
	}
}

func TestAgentLossLaunchesReplacementImmediatelyWhenGone(t *testing.T) {
	h := newHarness(t)
	h.deploy("id: g\ncmd: x\n")
	tasks := h.offers(agents("a1")...)
	h.running(tasks[0].TaskID)
	h.c.Update(h.ctx, wire.TaskStatus{TaskID: tasks[0].TaskID, State: wire.TaskGone, Reason: wire.ReasonAgentRemoved})
	if st := h.app("g"); st.Backoff != nil {
		t.Fatalf("agent loss counted as an app failure: %+v", st.Backoff)
	}
	if got := h.offers(agents("a2")...); len(got) != 1 {
		t.Fatal("no replacement for a gone instance")
	}
}

func TestStalledDeploymentSaysWhy(t *testing.T) {
	h := newHarness(t)
	res := h.deploy("id: big\ncmd: x\ninstances: 2\nresources: {cpus: 2, mem: 512}\nports: [8080]\nconstraints: [hostname:UNIQUE, rack:LIKE:r1]\n")
	h.offers(
		offer("small", "cpus:1;mem:4096;ports:[8000-9000]", "rack", "r1"),
		offer("lowmem", "cpus:4;mem:256;ports:[8000-9000]", "rack", "r1"),
		offer("noport", "cpus:4;mem:4096;ports:[31000-31010]", "rack", "r1"),
		offer("rack2", "cpus:4;mem:4096;ports:[8000-9000]", "rack", "r2"),
		offer("ok", "cpus:8;mem:4096;ports:[8000-9000]", "rack", "r1"),
		offer("ok", "cpus:8;mem:4096;ports:[9001-9002]", "rack", "r1"),
	)
	st := h.app("big")
	if st.Staged != 1 {
		t.Fatalf("staged %d, want 1 (only host ok fits, once)", st.Staged)
	}
	w := st.Waiting
	for _, want := range []string{
		"small: insufficient cpus: need 2, offered 1",
		"lowmem: insufficient mem: need 512, offered 256",
		"noport: port 8080 is not offered",
		`rack2: constraint rack:LIKE:r1: rack "r2" does not match "r1"`,
	} {
		mustContain(t, w, want)
	}
	if !strings.Contains(w, "ok: port 8080 is not offered") && !strings.Contains(w, `ok: constraint hostname:UNIQUE`) {
		t.Fatalf("waiting %q does not explain why host ok took only one", w)
	}
	h.advance(11 * time.Second)
	d, _ := h.c.Deployment(res.Deployment)
	if !d.Stalled {
		t.Fatalf("deployment not stalled: %+v", d)
	}
	evs := h.eventsOf(events.DeploymentStalled)
	if len(evs) != 1 {
		t.Fatalf("stalled events: %+v", evs)
	}
	mustContain(t, evs[0].Message, "insufficient mem")
}

func TestConstraintsHoldWithinOneOfferRound(t *testing.T) {
	h := newHarness(t)
	h.deploy("id: c\ncmd: x\ninstances: 4\nconstraints: [hostname:UNIQUE]\n")
	os := append(agents("a1", "a2"), agents("a1", "a3")...)
	tasks := h.offers(os...)
	got := hosts(tasks, os)
	if !slices.Equal(got, []string{"a1", "a2", "a3"}) {
		t.Fatalf("placed on %v", got)
	}
	mustContain(t, h.app("c").Waiting, `hostname "a1" already runs an instance`)
}

func TestFrameworkRestartAdoptsInstances(t *testing.T) {
	h := newHarness(t)
	h.deploy(webApp)
	os := agents("a1", "a2")
	h.converge(2, os, func(string) bool { return true }, nil)
	before := h.app("web")
	if before.Healthy != 2 {
		t.Fatalf("not up: %+v", before)
	}
	h.restart()
	h.c.Subscribed(h.ctx)
	h.d.mu.Lock()
	rec := len(h.d.reconciled)
	h.d.mu.Unlock()
	if rec < 2 {
		t.Fatalf("reconciled %d tasks after restart, want the 2 known", rec)
	}
	if len(h.h.watched) != 2 {
		t.Fatalf("restarted controller checks %d instances, want 2", len(h.h.watched))
	}
	// The master confirms both; offers launch nothing new.
	for id := range h.live {
		h.c.Update(h.ctx, wire.TaskStatus{TaskID: id, State: wire.TaskRunning, Reason: wire.ReasonReconciliation})
	}
	if tasks := h.offers(os...); len(tasks) != 0 {
		t.Fatalf("restart launched duplicates: %v", ids(tasks))
	}
	after := h.app("web")
	if after.Healthy != 2 || after.Version != before.Version || len(after.Tasks) != 2 {
		t.Fatalf("after restart: %+v", after)
	}
	for i := range after.Tasks {
		if after.Tasks[i].ID != before.Tasks[i].ID {
			t.Fatalf("instances changed: %v vs %v", after.Tasks, before.Tasks)
		}
	}
	// A task the master does not know is replaced.
	gone := after.Tasks[0].ID
	h.c.Update(h.ctx, wire.TaskStatus{TaskID: gone, State: wire.TaskUnknown, Reason: wire.ReasonReconciliation})
	if tasks := h.offers(os...); len(tasks) != 1 {
		t.Fatalf("unknown instance not replaced: %v", tasks)
	}
}

func TestUnknownTaskIsKilled(t *testing.T) {
	h := newHarness(t)
	h.c.Update(h.ctx, wire.TaskStatus{TaskID: "stray-1", AgentID: "ag", State: wire.TaskRunning})
	if ks := h.newKills(); !slices.Equal(ks, []wire.TaskID{"stray-1"}) {
		t.Fatalf("killed %v", ks)
	}
	h.c.Update(h.ctx, wire.TaskStatus{TaskID: "stray-2", State: wire.TaskFailed})
	if ks := h.newKills(); len(ks) != 0 {
		t.Fatalf("killed an ended unknown task: %v", ks)
	}
}

func TestRemoveKillsThenForgets(t *testing.T) {
	h := newHarness(t)
	h.deploy("id: r\ncmd: x\ninstances: 2\n")
	h.converge(1, agents("a1"), func(string) bool { return true }, nil)
	h.newKills()
	if err := h.c.Remove(h.ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.Scale(h.ctx, "r", 3); !errors.Is(err, ErrConflict) {
		t.Fatalf("scale while removing: %v", err)
	}
	if ks := h.ackKills(); len(ks) != 2 {
		t.Fatalf("killed %v", ks)
	}
	if _, err := h.c.App("r"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("app still there: %v", err)
	}
	h.restart()
	if _, err := h.c.App("r"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("app back after restart: %v", err)
	}
	// The ID can be used again.
	if res := h.deploy("id: r\ncmd: y\n"); res.Version != 1 {
		t.Fatalf("redeploy = %+v", res)
	}
}

func TestDeployNoChangeAndRestart(t *testing.T) {
	h := newHarness(t)
	doc := "id: n\ncmd: x\n"
	h.deploy(doc)
	h.converge(2, agents("a1"), func(string) bool { return true }, nil)
	if res := h.deploy(doc); !res.NoChange || res.Version != 1 {
		t.Fatalf("same spec: %+v", res)
	}
	first := h.app("n").Tasks[0].ID
	res, err := h.c.Restart(h.ctx, "n")
	if err != nil || res.Version != 2 {
		t.Fatalf("restart %+v %v", res, err)
	}
	h.converge(3, agents("a1"), func(string) bool { return true }, nil)
	st := h.app("n")
	if st.Config != 2 || len(st.Tasks) != 1 || st.Tasks[0].ID == first {
		t.Fatalf("restart did not replace the instance: %+v", st.Tasks)
	}
	// Deploying the old file again now differs (restart generation) and
	// is a new version only if the config changed: here it is equal.
	if res := h.deploy(doc); !res.NoChange {
		t.Fatalf("redeploy after restart: %+v", res)
	}
}

func TestSuppressAndRevive(t *testing.T) {
	h := newHarness(t) // subscribed, with nothing to run
	if h.d.suppresses != 1 || h.d.revives != 0 {
		t.Fatalf("suppresses = %d, revives = %d with nothing to run", h.d.suppresses, h.d.revives)
	}
	h.deploy("id: x\ncmd: x\n")
	if h.d.revives != 1 {
		t.Fatalf("revives = %d after a deploy", h.d.revives)
	}
	h.converge(1, agents("a1"), func(string) bool { return true }, nil)
	if h.d.suppresses != 2 {
		t.Fatalf("suppresses = %d once all run", h.d.suppresses)
	}
}

func TestNoDriverCallsUntilSubscribed(t *testing.T) {
	h := newHarness(t)
	h.deploy("id: x\ncmd: x\n")
	h.converge(1, agents("a1"), func(string) bool { return true }, nil)
	h.c.Disconnected()
	before := len(h.d.killed)
	if _, err := h.c.Scale(h.ctx, "x", 0); err != nil {
		t.Fatal(err)
	}
	h.advance(10 * time.Second)
	if len(h.d.killed) != before {
		t.Fatal("kill sent while disconnected")
	}
	h.c.Subscribed(h.ctx)
	if len(h.d.killed) != before+1 {
		t.Fatal("pending kill not sent on subscription")
	}
}

func TestInvalidSpecIsRefused(t *testing.T) {
	h := newHarness(t)
	_, err := h.c.Deploy(h.ctx, spec.App{ID: "Bad ID", Cmd: "x"})
	var es spec.Errors
	if !errors.As(err, &es) || es[0].Field != "id" {
		t.Fatalf("err = %v", err)
	}
	if _, err := h.c.Scale(h.ctx, "nope", 1); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}
