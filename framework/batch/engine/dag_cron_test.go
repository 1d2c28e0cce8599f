package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/sdk/wire"
)

// runJob launches and finishes whatever is waiting, with the given end.
func (h *harness) runWaiting(state wire.TaskState, code int) []wire.TaskInfo {
	h.t.Helper()
	h.tick()
	h.offerBig()
	tasks := h.d.takeLaunched()
	h.finish(tasks, state, code)
	return tasks
}

func jobOf(t wire.TaskInfo) string { return t.Env["BATCH_JOB"] }

// TestDAGOrder: a child starts only when all its parents' latest runs
// succeeded, in dependency order.
func TestDAGOrder(t *testing.T) {
	h := newHarness(t)
	res := h.submit(`jobs:
  - {name: extract, command: x}
  - {name: transform, command: x, depends_on: [extract]}
  - {name: other, command: x}
  - {name: load, command: x, depends_on: [transform, other]}
`)
	if len(res.Runs) != 2 {
		t.Fatalf("submit started %d runs, want extract and other", len(res.Runs))
	}
	h.tick()
	h.offerBig()
	first := h.d.takeLaunched()
	if len(first) != 2 || jobOf(first[0]) == "transform" || jobOf(first[1]) == "load" {
		t.Fatalf("first wave: %v, %v", jobOf(first[0]), jobOf(first[1]))
	}
	var extract, other wire.TaskInfo
	for _, task := range first {
		if jobOf(task) == "extract" {
			extract = task
		} else {
			other = task
		}
	}
	// other succeeds first: load still waits for transform.
	h.finish([]wire.TaskInfo{other}, wire.TaskFinished, 0)
	h.tick()
	h.offerBig()
	if got := h.d.takeLaunched(); len(got) != 0 {
		t.Fatalf("started %s before its parents", jobOf(got[0]))
	}
	h.finish([]wire.TaskInfo{extract}, wire.TaskFinished, 0)
	wave := h.runWaiting(wire.TaskFinished, 0)
	if len(wave) != 1 || jobOf(wave[0]) != "transform" {
		t.Fatalf("second wave: %v", wave)
	}
	wave = h.runWaiting(wire.TaskFinished, 0)
	if len(wave) != 1 || jobOf(wave[0]) != "load" {
		t.Fatalf("third wave: %v", wave)
	}
	st := h.job("load")
	if st.Job.LastRun == nil || st.Job.LastRun.State != record.RunSucceeded {
		t.Fatalf("load: %+v", st.Job.LastRun)
	}
	runs, _ := h.e.History(h.ctx, "load", 10, 0)
	if len(runs) != 1 || runs[0].Run.Trigger != record.TriggerDependency || !strings.Contains(runs[0].Run.Cause, "transform run") {
		t.Fatalf("load history: %+v", runs)
	}
	// A failed parent run starts nothing.
	if _, err := h.e.Trigger(h.ctx, "extract"); err != nil {
		t.Fatal(err)
	}
	h.runWaiting(wire.TaskFailed, 1)
	h.tick()
	h.offerBig()
	if got := h.d.takeLaunched(); len(got) != 0 {
		t.Fatalf("child of a failed run started: %s", jobOf(got[0]))
	}
	if st := h.job("transform"); len(st.Active) != 0 {
		t.Fatalf("transform has active runs after extract failed")
	}
}

func scheduled(policy string) string {
	return "name: cronjob\ncommand: x\nschedule:\n  cron: \"*/5 * * * *\"\n  timezone: America/New_York\n  concurrency_policy: " + policy + "\n  starting_deadline: 2m\n"
}

// TestCronFires: a scheduled job starts at its times (fake clock), in its
// time zone, and not otherwise.
func TestCronFires(t *testing.T) {
	h := newHarness(t) // 12:00 UTC
	res := h.submit(scheduled("ALLOW"))
	if len(res.Runs) != 0 {
		t.Fatal("a scheduled job started at submit")
	}
	next := h.job("cronjob").NextScheduled
	if want := epoch.Add(5 * time.Minute); !next.Equal(want) {
		t.Fatalf("next = %s, want %s", next, want)
	}
	h.clock.Advance(4 * time.Minute)
	h.tick()
	if st := h.job("cronjob"); len(st.Active) != 0 {
		t.Fatal("fired early")
	}
	h.clock.Advance(time.Minute + time.Second)
	h.tick()
	st := h.job("cronjob")
	if len(st.Active) != 1 || st.Active[0].Run.Trigger != record.TriggerSchedule || !st.Active[0].Run.ScheduledFor.Equal(epoch.Add(5*time.Minute)) {
		t.Fatalf("after 12:05: %+v", st.Active)
	}
	h.tick()
	if st := h.job("cronjob"); len(st.Active) != 1 {
		t.Fatal("fired twice for one time")
	}
	// ALLOW: the next fire runs alongside the first.
	h.clock.Advance(5 * time.Minute)
	h.tick()
	if st := h.job("cronjob"); len(st.Active) != 2 {
		t.Fatalf("ALLOW: %d active", len(st.Active))
	}
}

// TestCronTimeZone: "0 9 * * *" in New York fires at 13:00 UTC in summer.
func TestCronTimeZone(t *testing.T) {
	h := newHarness(t)
	h.submit("name: nine\ncommand: x\nschedule: {cron: \"0 9 * * *\", timezone: America/New_York}\n")
	h.clock.Set(time.Date(2025, 6, 2, 12, 59, 0, 0, time.UTC))
	h.tick()
	if len(h.job("nine").Active) != 0 {
		t.Fatal("fired before 9:00 New York")
	}
	h.clock.Set(time.Date(2025, 6, 2, 13, 0, 1, 0, time.UTC))
	h.tick()
	if len(h.job("nine").Active) != 1 {
		t.Fatal("did not fire at 9:00 New York (13:00 UTC)")
	}
}

func TestConcurrencyForbid(t *testing.T) {
	h := newHarness(t)
	h.submit(scheduled("FORBID"))
	h.clock.Advance(5*time.Minute + time.Second)
	h.tick()
	h.clock.Advance(5 * time.Minute)
	h.tick()
	st := h.job("cronjob")
	if len(st.Active) != 1 {
		t.Fatalf("FORBID: %d active", len(st.Active))
	}
	runs, _ := h.e.History(h.ctx, "cronjob", 10, 0)
	if len(runs) != 2 || runs[0].Run.State != record.RunSkipped || !strings.Contains(runs[0].Run.Message, "FORBID") {
		t.Fatalf("history: %+v", runs)
	}
}

func TestConcurrencyReplace(t *testing.T) {
	h := newHarness(t)
	h.submit(scheduled("REPLACE"))
	h.clock.Advance(5*time.Minute + time.Second)
	h.tick()
	h.offerBig()
	first := h.d.takeLaunched()
	h.update(first[0].TaskID, wire.TaskRunning)
	h.flush()
	oldRun := h.job("cronjob").Active[0].Run.ID
	h.clock.Advance(5 * time.Minute)
	h.tick()
	if k := h.d.takeKilled(); len(k) != 1 || k[0] != first[0].TaskID {
		t.Fatalf("REPLACE killed %v", k)
	}
	h.update(first[0].TaskID, wire.TaskKilled)
	h.flush()
	old := h.run(oldRun)
	if old.Run.State != record.RunKilled || !strings.Contains(old.Run.Message, "replaced") {
		t.Fatalf("old run: %s %q", old.Run.State, old.Run.Message)
	}
	st := h.job("cronjob")
	if len(st.Active) != 1 || st.Active[0].Run.ID == oldRun {
		t.Fatalf("REPLACE: active %+v", st.Active)
	}
}

// TestCronMissedWhileDown: starts missed during downtime are recorded as
// MISSED; the latest one is started if it is within the deadline.
func TestCronMissedWhileDown(t *testing.T) {
	h := newHarness(t)
	h.submit(scheduled("ALLOW"))
	h.restart()
	// Down from 12:00 to 12:21:30: 12:05, 12:10, 12:15 missed; 12:20 is
	// 1m30s late, within the 2m deadline.
	h.clock.Advance(21*time.Minute + 30*time.Second)
	h.tick()
	runs, _ := h.e.History(h.ctx, "cronjob", 10, 0)
	if len(runs) != 4 {
		t.Fatalf("history has %d runs, want 3 missed + 1 started: %+v", len(runs), runs)
	}
	if runs[0].Run.State != record.RunRunning || !runs[0].Run.ScheduledFor.Equal(epoch.Add(20*time.Minute)) {
		t.Errorf("newest = %s for %s", runs[0].Run.State, runs[0].Run.ScheduledFor)
	}
	for _, r := range runs[1:] {
		if r.Run.State != record.RunMissed {
			t.Errorf("run %d for %s = %s, want MISSED", r.Run.ID, r.Run.ScheduledFor, r.Run.State)
		}
	}
	// Down again past the deadline: 12:25 is 3 minutes late.
	h.restart()
	h.clock.Advance(6*time.Minute + 30*time.Second) // 12:28
	h.tick()
	runs, _ = h.e.History(h.ctx, "cronjob", 10, 0)
	if len(runs) != 5 || runs[0].Run.State != record.RunMissed || !runs[0].Run.ScheduledFor.Equal(epoch.Add(25*time.Minute)) {
		t.Fatalf("after the deadline: %+v", runs[0].Run)
	}
}

// TestHistoryLimit drops the oldest runs beyond the limit.
func TestHistoryLimit(t *testing.T) {
	h := newHarness(t)
	h.e.cfg.HistoryLimit = 3
	h.submit("name: hist\ncommand: x\n")
	h.runWaiting(wire.TaskFinished, 0)
	for range 4 {
		if _, err := h.e.Trigger(h.ctx, "hist"); err != nil {
			t.Fatal(err)
		}
		h.runWaiting(wire.TaskFinished, 0)
	}
	h.flush()
	runs, _ := h.e.History(h.ctx, "hist", 0, 0)
	if len(runs) != 3 || runs[0].Run.ID != 5 || runs[2].Run.ID != 3 {
		t.Fatalf("history: %d runs, newest %d", len(runs), runs[0].Run.ID)
	}
}
