package engine

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/framework/batch/spec"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestParallelismAndWriteAhead runs 5 instances two at a time and checks
// that every attempt is stored as LAUNCHING before its launch is sent and
// that updates are acknowledged only after they are committed.
func TestParallelismAndWriteAhead(t *testing.T) {
	h := newHarness(t)
	h.d.onAccept = func(tasks []wire.TaskInfo) {
		for _, task := range tasks {
			_, run, inst, n, err := record.ParseTaskID(task.TaskID)
			if err != nil {
				t.Errorf("task ID: %v", err)
				continue
			}
			atts, err := h.st.Attempts(run)
			if err != nil {
				t.Errorf("read store: %v", err)
			}
			found := false
			for _, a := range atts {
				if a.Instance == inst && a.N == n && a.State == record.AttemptLaunching && a.TaskID == task.TaskID {
					found = true
				}
			}
			if !found {
				t.Errorf("task %s launched before its attempt was stored", task.TaskID)
			}
		}
	}
	res := h.submit("name: par\ncommand: \"true\"\ninstances: 5\nparallelism: 2\n")
	if len(res.Runs) != 1 {
		t.Fatalf("submit started %d runs", len(res.Runs))
	}
	runID := res.Runs[0].ID
	seen := map[int]bool{}
	for round := 0; round < 3; round++ {
		h.offerBig()
		tasks := h.d.takeLaunched()
		want := 2
		if round == 2 {
			want = 1
		}
		if len(tasks) != want {
			t.Fatalf("round %d: launched %d tasks, want %d", round, len(tasks), want)
		}
		// No more while both run.
		h.offerBig()
		if extra := h.d.takeLaunched(); len(extra) != 0 {
			t.Fatalf("round %d: parallelism exceeded: %d more launched", round, len(extra))
		}
		for _, task := range tasks {
			_, _, inst, _, _ := record.ParseTaskID(task.TaskID)
			seen[inst] = true
			if task.Env["BATCH_INSTANCE"] == "" || task.Env["BATCH_ATTEMPT"] != "1" || !task.Command.Shell {
				t.Errorf("task %s: env %v command %+v", task.TaskID, task.Env, task.Command)
			}
		}
		for _, task := range tasks {
			h.update(task.TaskID, wire.TaskRunning)
			h.update(task.TaskID, wire.TaskFinished, 0)
		}
		h.d.mu.Lock()
		acked := len(h.d.acked)
		h.d.mu.Unlock()
		if acked != round*4 && round > 0 || round == 0 && acked != 0 {
			t.Fatalf("round %d: %d updates acknowledged before their commit", round, acked)
		}
		h.flush()
	}
	if len(seen) != 5 {
		t.Errorf("instances launched: %v", seen)
	}
	st := h.run(runID)
	if st.Run.State != record.RunSucceeded || st.Progress.Succeeded != 5 || st.Progress.Attempts != 5 {
		t.Fatalf("run = %s %+v", st.Run.State, st.Progress)
	}
	h.d.mu.Lock()
	if len(h.d.acked) != 10 {
		t.Errorf("acknowledged %d updates, want 10", len(h.d.acked))
	}
	h.d.mu.Unlock()
	if lr := h.job("par").Job.LastRun; lr == nil || lr.ID != runID || lr.State != record.RunSucceeded {
		t.Errorf("last run = %+v", lr)
	}
}

// TestRetriesWithBackoff fails an instance until its retries run out.
func TestRetriesWithBackoff(t *testing.T) {
	h := newHarness(t)
	res := h.submit("name: flaky\ncommand: \"false\"\nretries: {limit: 2, backoff: 10s, max_backoff: 15s}\n")
	runID := res.Runs[0].ID
	var ids []wire.TaskID
	waits := []time.Duration{0, 10 * time.Second, 15 * time.Second}
	for i, wait := range waits {
		if wait > 0 {
			// Not before the backoff has passed.
			h.clock.Advance(wait - time.Second)
			h.tick()
			h.offerBig()
			if got := h.d.takeLaunched(); len(got) != 0 {
				t.Fatalf("attempt %d launched %s early", i+1, time.Second)
			}
			h.clock.Advance(time.Second)
			h.tick()
		}
		h.offerBig()
		tasks := h.d.takeLaunched()
		if len(tasks) != 1 {
			t.Fatalf("attempt %d: launched %d", i+1, len(tasks))
		}
		if tasks[0].Env["BATCH_ATTEMPT"] != []string{"1", "2", "3"}[i] {
			t.Errorf("attempt %d has BATCH_ATTEMPT=%s", i+1, tasks[0].Env["BATCH_ATTEMPT"])
		}
		ids = append(ids, tasks[0].TaskID)
		h.finish(tasks, wire.TaskFailed, 1)
	}
	if ids[0] == ids[1] || ids[1] == ids[2] {
		t.Errorf("retries reused task IDs: %v", ids)
	}
	st := h.run(runID)
	if st.Run.State != record.RunFailed || st.Progress.Failed != 1 || st.Progress.Attempts != 3 || st.Progress.Retried != 2 {
		t.Fatalf("run = %s %+v (%s)", st.Run.State, st.Progress, st.Run.Message)
	}
	if !strings.Contains(st.Run.Message, "instance 0 failed after 3 attempts: exit code 1") {
		t.Errorf("message %q", st.Run.Message)
	}
	h.clock.Advance(time.Hour)
	h.tick()
	h.offerBig()
	if got := h.d.takeLaunched(); len(got) != 0 {
		t.Errorf("launched after the run failed: %v", got)
	}
}

// TestRetrySucceeds: a failure followed by a success makes the run succeed.
func TestRetrySucceeds(t *testing.T) {
	h := newHarness(t)
	res := h.submit("name: flaky\ncommand: x\ninstances: 2\nretries: {limit: 1, backoff: 1s}\n")
	h.offerBig()
	tasks := h.d.takeLaunched()
	h.finish(tasks[:1], wire.TaskFailed, 3)
	h.finish(tasks[1:], wire.TaskFinished, 0)
	h.clock.Advance(time.Second)
	h.tick()
	h.offerBig()
	retry := h.d.takeLaunched()
	if len(retry) != 1 || retry[0].Env["BATCH_INSTANCE"] != tasks[0].Env["BATCH_INSTANCE"] {
		t.Fatalf("retry = %+v", retry)
	}
	h.finish(retry, wire.TaskFinished, 0)
	if st := h.run(res.Runs[0].ID); st.Run.State != record.RunSucceeded || st.Progress.Retried != 1 {
		t.Fatalf("run = %s %+v", st.Run.State, st.Progress)
	}
}

// TestLostDoesNotCountAsFailure: tasks lost with their agent are retried
// even with retries.limit 0.
func TestLostDoesNotCountAsFailure(t *testing.T) {
	h := newHarness(t)
	res := h.submit("name: lost\ncommand: x\n")
	h.offerBig()
	tasks := h.d.takeLaunched()
	h.update(tasks[0].TaskID, wire.TaskLost)
	h.flush()
	h.clock.Advance(2 * time.Second)
	h.tick()
	h.offerBig()
	retry := h.d.takeLaunched()
	if len(retry) != 1 || retry[0].TaskID == tasks[0].TaskID {
		t.Fatalf("no new attempt after a loss: %+v", retry)
	}
	h.finish(retry, wire.TaskFinished, 0)
	if st := h.run(res.Runs[0].ID); st.Run.State != record.RunSucceeded {
		t.Fatalf("run = %s", st.Run.State)
	}
}

// TestTaskTimeout kills an attempt that runs too long; the kill counts as
// a failure and the instance is retried.
func TestTaskTimeout(t *testing.T) {
	h := newHarness(t)
	res := h.submit("name: slow\ncommand: sleep 100\ntimeout: {task: 30s}\nretries: {limit: 1, backoff: 1s}\n")
	h.offerBig()
	tasks := h.d.takeLaunched()
	h.update(tasks[0].TaskID, wire.TaskRunning)
	h.flush()
	h.clock.Advance(29 * time.Second)
	h.tick()
	if k := h.d.takeKilled(); len(k) != 0 {
		t.Fatalf("killed before the timeout: %v", k)
	}
	h.clock.Advance(time.Second)
	h.tick()
	if k := h.d.takeKilled(); len(k) != 1 || k[0] != tasks[0].TaskID {
		t.Fatalf("killed = %v, want %s", k, tasks[0].TaskID)
	}
	h.update(tasks[0].TaskID, wire.TaskKilled)
	h.flush()
	st := h.run(res.Runs[0].ID)
	if a := st.Attempts[0]; a.State != record.AttemptKilled || a.KillReason != record.KillTimeout || !strings.Contains(a.Message, "timed out after 30s") {
		t.Fatalf("attempt = %+v", a)
	}
	if st.Run.State != record.RunRunning {
		t.Fatalf("run %s after one timeout with a retry left", st.Run.State)
	}
	h.clock.Advance(time.Second)
	h.tick()
	h.offerBig()
	retry := h.d.takeLaunched()
	if len(retry) != 1 {
		t.Fatal("no retry after timeout")
	}
	h.update(retry[0].TaskID, wire.TaskRunning)
	h.clock.Advance(31 * time.Second)
	h.tick()
	h.update(retry[0].TaskID, wire.TaskKilled)
	h.flush()
	if st := h.run(res.Runs[0].ID); st.Run.State != record.RunFailed {
		t.Fatalf("run = %s after two timeouts", st.Run.State)
	}
}

// TestRunTimeout kills the whole run when it runs out of time.
func TestRunTimeout(t *testing.T) {
	h := newHarness(t)
	res := h.submit("name: slowrun\ncommand: x\ninstances: 3\ntimeout: {run: 1m}\n")
	h.offerBig()
	tasks := h.d.takeLaunched()
	h.finish(tasks[:1], wire.TaskFinished, 0)
	h.clock.Advance(time.Minute)
	h.tick()
	killed := h.d.takeKilled()
	if len(killed) != 2 {
		t.Fatalf("killed %v, want the 2 running tasks", killed)
	}
	if st := h.run(res.Runs[0].ID); st.Run.State != record.RunStopping || st.Run.Outcome != record.RunFailed {
		t.Fatalf("run = %s/%s", st.Run.State, st.Run.Outcome)
	}
	for _, id := range killed {
		h.update(id, wire.TaskKilled)
	}
	h.flush()
	st := h.run(res.Runs[0].ID)
	if st.Run.State != record.RunFailed || !strings.Contains(st.Run.Message, "run timed out after 1m0s") || st.Progress.Cancelled != 2 || st.Progress.Succeeded != 1 {
		t.Fatalf("run = %s %q %+v", st.Run.State, st.Run.Message, st.Progress)
	}
}

// TestKillAndRemove kills a job's run and removes the job.
func TestKillAndRemove(t *testing.T) {
	h := newHarness(t)
	h.submit("name: k\ncommand: x\ninstances: 2\n")
	h.offerBig()
	tasks := h.d.takeLaunched()
	if err := h.e.Remove(h.ctx, "k", false); !errors.Is(err, ErrConflict) {
		t.Fatalf("remove with an active run: %v", err)
	}
	ids, err := h.e.KillJob(h.ctx, "k")
	if err != nil || len(ids) != 1 {
		t.Fatalf("kill: %v %v", ids, err)
	}
	if k := h.d.takeKilled(); len(k) != 2 {
		t.Fatalf("killed %v", k)
	}
	h.finish(tasks, wire.TaskKilled, 0)
	if st := h.run(ids[0]); st.Run.State != record.RunKilled || st.Progress.Cancelled != 2 {
		t.Fatalf("run = %s %+v", st.Run.State, st.Progress)
	}
	if err := h.e.Remove(h.ctx, "k", false); err != nil {
		t.Fatal(err)
	}
	if _, err := h.e.Job("k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("job after remove: %v", err)
	}
	if _, err := h.e.RunStatus(h.ctx, ids[0], false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("run after remove: %v", err)
	}
	// A late update of a removed job's task is acknowledged; a running
	// one is killed.
	h.update(tasks[0].TaskID, wire.TaskRunning)
	if k := h.d.takeKilled(); len(k) != 1 {
		t.Fatalf("orphan not killed: %v", k)
	}
	h.restart()
	if _, err := h.e.Job("k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed job back after restart: %v", err)
	}
}

// TestConstraints places tasks only on matching agents, one per host with
// UNIQUE.
func TestConstraints(t *testing.T) {
	h := newHarness(t)
	h.submit(`name: c
command: x
instances: 3
constraints:
  - {attribute: zone, operator: EQ, value: eu}
  - {attribute: hostname, operator: UNIQUE}
`)
	h.offerOn("us1", "cpus:10;mem:10000", map[string]string{"zone": "us"})
	if got := h.d.takeLaunched(); len(got) != 0 {
		t.Fatalf("placed on a us agent: %v", got)
	}
	h.offerOn("eu1", "cpus:10;mem:10000", map[string]string{"zone": "eu"})
	got := h.d.takeLaunched()
	if len(got) != 1 || got[0].AgentID != "eu1" {
		t.Fatalf("on eu1: %+v", got)
	}
	h.offerOn("eu1", "cpus:10;mem:10000", map[string]string{"zone": "eu"})
	if more := h.d.takeLaunched(); len(more) != 0 {
		t.Fatalf("UNIQUE hostname broken: second task on eu1")
	}
	h.offerOn("eu2", "cpus:10;mem:10000", map[string]string{"zone": "eu"})
	if more := h.d.takeLaunched(); len(more) != 1 || more[0].AgentID != "eu2" {
		t.Fatalf("on eu2: %+v", more)
	}
}

// TestResourcesAndPorts packs tasks by resources and gives each its ports.
func TestResourcesAndPorts(t *testing.T) {
	h := newHarness(t)
	h.submit("name: p\ncommand: x\ninstances: 5\nresources: {cpus: 1, mem: 100, ports: 2}\n")
	h.offerOn("a1", "cpus:3;mem:1000;ports:[31000-31004]", nil)
	got := h.d.takeLaunched()
	if len(got) != 2 {
		t.Fatalf("launched %d, want 2 (5 ports for 2 ports each)", len(got))
	}
	if got[0].Resources.Ports.Count() != 2 || got[1].Resources.Ports.Count() != 2 || got[0].Resources.Ports[0] == got[1].Resources.Ports[0] {
		t.Errorf("ports %v %v", got[0].Resources.Ports, got[1].Resources.Ports)
	}
	h.offerOn("a2", "cpus:2.5;mem:1000;ports:[31000-31999]", nil)
	if got := h.d.takeLaunched(); len(got) != 2 {
		t.Fatalf("launched %d on 2.5 cpus, want 2", len(got))
	}
}

// TestUnknownTaskKilled kills a running task the framework never launched.
func TestUnknownTaskKilled(t *testing.T) {
	h := newHarness(t)
	h.update("someone_1_0_1", wire.TaskRunning)
	h.update("garbage", wire.TaskRunning)
	if k := h.d.takeKilled(); len(k) != 2 {
		t.Fatalf("killed %v", k)
	}
	h.flush()
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	if len(h.d.acked) != 2 {
		t.Errorf("acked %d", len(h.d.acked))
	}
}

// TestSuppressAndRevive: no work means suppressed offers; a new run revives.
func TestSuppressAndRevive(t *testing.T) {
	h := newHarness(t)
	h.tick()
	if h.d.suppresses != 1 {
		t.Fatalf("suppresses = %d with no work", h.d.suppresses)
	}
	revives := h.d.revives
	h.submit("name: r\ncommand: x\n")
	h.clock.Advance(time.Second)
	h.tick()
	if h.d.revives == revives {
		t.Fatal("no revive for a new run")
	}
}

func TestSubmitErrors(t *testing.T) {
	h := newHarness(t)
	h.submit("name: a\ncommand: x\n")
	jobs, err := spec.Parse([]byte("jobs:\n  - {name: b, command: x, depends_on: [c]}\n  - {name: c, command: x, depends_on: [b]}\n"), spec.YAML)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.e.Submit(h.ctx, jobs, SubmitOptions{})
	var es spec.Errors
	if !errors.As(err, &es) || es[0].Path != "jobs[0].depends_on" || !strings.Contains(es[0].Message, "dependency cycle: b → c → b") {
		t.Fatalf("cycle: %v", err)
	}
	jobs, _ = spec.Parse([]byte("name: d\ncommand: x\ndepends_on: [ghost]\n"), spec.YAML)
	_, err = h.e.Submit(h.ctx, jobs, SubmitOptions{})
	if !errors.As(err, &es) || es[0].Path != "depends_on" || !strings.Contains(es[0].Message, `unknown job "ghost"`) {
		t.Fatalf("unknown parent: %v", err)
	}
	// A cycle through a stored job: a depends on e, e on a.
	jobs, _ = spec.Parse([]byte("jobs:\n  - {name: e, command: x, depends_on: [a]}\n  - {name: a, command: x, depends_on: [e]}\n"), spec.YAML)
	if _, err = h.e.Submit(h.ctx, jobs, SubmitOptions{}); !errors.Is(err, spec.ErrInvalid) {
		t.Fatalf("cycle through stored job: %v", err)
	}
	h.submit("name: child\ncommand: x\ndepends_on: [a]\n")
	if err := h.e.Remove(h.ctx, "a", true); !errors.Is(err, ErrConflict) {
		t.Fatalf("remove a parent: %v", err)
	}
	if _, err := h.e.Trigger(h.ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("trigger unknown: %v", err)
	}
}

// TestSharedConstraints uses an sdk/constraint operator (MAX_PER) and one
// of the batch framework's own (EXISTS).
func TestSharedConstraints(t *testing.T) {
	h := newHarness(t)
	h.submit(`name: m
command: x
instances: 5
constraints:
  - {attribute: rack, operator: MAX_PER, value: "2"}
  - {attribute: ssd, operator: EXISTS}
`)
	h.offerOn("nossd", "cpus:10;mem:10000", map[string]string{"rack": "r0"})
	if got := h.d.takeLaunched(); len(got) != 0 {
		t.Fatalf("EXISTS ignored: %d launched", len(got))
	}
	h.offerOn("a1", "cpus:10;mem:10000", map[string]string{"rack": "r1", "ssd": "yes"})
	if got := h.d.takeLaunched(); len(got) != 2 {
		t.Fatalf("MAX_PER 2: %d launched on r1", len(got))
	}
	h.offerOn("a2", "cpus:10;mem:10000", map[string]string{"rack": "r1", "ssd": "yes"})
	if got := h.d.takeLaunched(); len(got) != 0 {
		t.Fatalf("MAX_PER 2: %d more on another r1 agent", len(got))
	}
	h.offerOn("a3", "cpus:10;mem:10000", map[string]string{"rack": "r2", "ssd": "yes"})
	if got := h.d.takeLaunched(); len(got) != 2 {
		t.Fatalf("MAX_PER 2: %d launched on r2", len(got))
	}
}
