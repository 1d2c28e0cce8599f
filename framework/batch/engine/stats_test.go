package engine

import (
	"maps"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// TestStats follows the engine's counts and state: launches, a retry,
// runs that succeed, fail and are removed with force, a rescind and a
// disconnection.
func TestStats(t *testing.T) {
	h := newHarness(t)
	if st := h.e.Stats(); !st.Subscribed || st.Jobs != 0 || st.OffersReceived != 0 {
		t.Fatalf("at the start: %+v", st)
	}
	h.submit("name: ok\ncommand: x\ninstances: 2\n---\nname: bad\ncommand: x\nretries: {limit: 1, backoff: 1s}\n")
	h.offerBig()
	tasks := h.d.takeLaunched()
	if len(tasks) != 3 {
		t.Fatalf("launched %d, want 3", len(tasks))
	}
	st := h.e.Stats()
	if st.Jobs != 2 || st.ActiveRuns != 2 || st.OffersReceived != 1 || st.OffersAccepted != 1 || st.TasksLaunched != 3 ||
		st.Tasks[wire.TaskStaging] != 3 {
		t.Fatalf("after the launch: %+v", st)
	}
	var ok, bad []wire.TaskInfo
	for _, tk := range tasks {
		if tk.Labels["agora.batch/job"] == "ok" {
			ok = append(ok, tk)
		} else {
			bad = append(bad, tk)
		}
	}
	h.update(ok[0].TaskID, wire.TaskRunning)
	if st := h.e.Stats(); st.Tasks[wire.TaskRunning] != 1 || st.Tasks[wire.TaskStaging] != 2 {
		t.Fatalf("one running: %v", st.Tasks)
	}
	h.finish(ok, wire.TaskFinished, 0)
	h.finish(bad, wire.TaskFailed, 1)
	h.clock.Advance(time.Second)
	h.tick()
	h.offerBig() // the retry; nothing else waits, so a second offer is declined
	h.offerOn("a2", "cpus:1;mem:1024", nil)
	retry := h.d.takeLaunched()
	if len(retry) != 1 {
		t.Fatalf("retried %d, want 1", len(retry))
	}
	h.finish(retry, wire.TaskFailed, 1)
	h.e.handleRescind()
	st = h.e.Stats()
	wantTasks := map[wire.TaskState]int{wire.TaskFinished: 2, wire.TaskFailed: 2}
	if st.ActiveRuns != 0 || st.Retries != 1 || st.TasksLaunched != 4 || st.OffersReceived != 3 || st.OffersAccepted != 2 ||
		st.OffersDeclined != 1 || st.OffersRescinded != 1 || st.Runs["succeeded"] != 1 || st.Runs["failed"] != 1 ||
		st.Updates[wire.TaskFinished] != 2 || st.Updates[wire.TaskFailed] != 2 || st.Updates[wire.TaskRunning] != 5 ||
		!maps.Equal(st.Tasks, wantTasks) {
		t.Fatalf("after the runs: %+v", st)
	}

	// A run ended by removing its job with force counts as killed.
	h.submit("name: rm\ncommand: x\n")
	h.offerBig()
	h.d.takeLaunched()
	if err := h.e.Remove(h.ctx, "rm", true); err != nil {
		t.Fatal(err)
	}
	h.e.handleDisconnected()
	if st := h.e.Stats(); st.Runs["killed"] != 1 || st.Jobs != 2 || st.ActiveRuns != 0 || st.Subscribed {
		t.Fatalf("after the removal: %+v", st)
	}
}
