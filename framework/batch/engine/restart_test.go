package engine

import (
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestRestartMidRun crashes the engine in the middle of a 1,000-instance
// run — with finished updates applied but not committed, and attempts
// committed but never sent — and checks that after the restart every
// instance runs exactly once and no task ID is launched twice.
func TestRestartMidRun(t *testing.T) {
	h := newHarness(t)
	cluster := map[wire.TaskID]wire.TaskState{} // what the agents really ran
	launch := func() []wire.TaskInfo {
		h.tick()
		h.offerBig()
		tasks := h.d.takeLaunched()
		for _, task := range tasks {
			if _, dup := cluster[task.TaskID]; dup {
				t.Fatalf("task %s launched twice", task.TaskID)
			}
			cluster[task.TaskID] = wire.TaskRunning
		}
		return tasks
	}
	res := h.submit("name: big\ncommand: x\ninstances: 1000\nparallelism: 300\n")
	runID := res.Runs[0].ID
	first := launch()
	if len(first) != 300 {
		t.Fatalf("first wave: %d", len(first))
	}
	// 100 finish and are committed (and acknowledged).
	for _, task := range first[:100] {
		cluster[task.TaskID] = wire.TaskFinished
	}
	h.finish(first[:100], wire.TaskFinished, 0)
	// 100 attempts are committed as LAUNCHING but their launch is never
	// sent.
	h.e.mu.Lock()
	o := wire.Offer{ID: "lost-offer", AgentID: "a1", Resources: wire.Resources{CPUs: 100, MemMB: 100000}}
	h.e.runs[runID].rec.Spec.Parallelism = 300 // room for 100 more
	placed, _ := h.e.place([]*slot{{offer: o, left: o.Resources}}, h.clock.Now())
	h.e.mu.Unlock()
	if placed != 100 {
		t.Fatalf("placed %d unsent attempts", placed)
	}
	if err := h.e.flush(h.ctx); err != nil {
		t.Fatal(err)
	}
	// 50 more finish; the engine applies the updates but crashes before
	// committing them, so they are not acknowledged.
	for _, task := range first[100:150] {
		cluster[task.TaskID] = wire.TaskFinished
		h.update(task.TaskID, wire.TaskFinished, 0)
	}
	h.d.reconciled = nil
	h.restart()

	// The new engine asked about every attempt that was not over.
	asked := map[wire.TaskID]bool{}
	for _, id := range h.d.reconciled {
		asked[id] = true
	}
	if len(asked) != 300 { // 200 launched and unfinished (incl. the 50) + 100 unsent
		t.Fatalf("reconciled %d tasks, want 300", len(asked))
	}
	// The master answers; the agents resend the 50 unacknowledged ends.
	for id := range asked {
		st, known := cluster[id]
		if !known {
			st = wire.TaskUnknown
		}
		h.e.handleUpdate(h.ctx, wire.TaskStatus{TaskID: id, AgentID: "a1", State: st, Reason: wire.ReasonReconciliation})
	}
	for _, task := range first[100:150] {
		h.update(task.TaskID, wire.TaskFinished, 0)
	}
	h.flush()
	if p := h.run(runID).Progress; p.Succeeded != 150 || p.Running != 150 {
		t.Fatalf("after reconciliation: %+v", p)
	}
	// Finish everything that runs, wave after wave.
	for round := 0; round < 20; round++ {
		var running []wire.TaskInfo
		for id, st := range cluster {
			if st == wire.TaskRunning {
				running = append(running, wire.TaskInfo{TaskID: id})
				cluster[id] = wire.TaskFinished
			}
		}
		h.finish(running, wire.TaskFinished, 0)
		if h.run(runID).Run.State.Terminal() {
			break
		}
		h.clock.Advance(time.Second)
		launch()
	}
	st := h.run(runID)
	if st.Run.State != record.RunSucceeded || st.Progress.Succeeded != 1000 {
		t.Fatalf("run = %s %+v", st.Run.State, st.Progress)
	}
	// Every instance ran exactly once in the cluster.
	ran := map[int]int{}
	for id, s := range cluster {
		if s == wire.TaskFinished {
			_, _, inst, _, _ := record.ParseTaskID(id)
			ran[inst]++
		}
	}
	for i := range 1000 {
		if ran[i] != 1 {
			t.Fatalf("instance %d ran %d times", i, ran[i])
		}
	}
	for id, n := range h.d.launchSeen {
		if n != 1 {
			t.Fatalf("task %s launched %d times", id, n)
		}
	}
	// The unsent attempts are recorded as lost, their instances retried.
	lost := 0
	for _, a := range st.Attempts {
		if a.State == record.AttemptLost {
			lost++
		}
	}
	if lost != 100 || st.Progress.Attempts != 1100 {
		t.Errorf("lost attempts %d, attempts %d; want 100 and 1100", lost, st.Progress.Attempts)
	}
}
