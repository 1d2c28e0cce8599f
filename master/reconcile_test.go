package master_test

import (
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestImplicitReconciliationSkipsEndedTasks: implicit reconciliation
// answers the framework's non-terminal tasks only; a task that ended and
// whose end is not acknowledged yet is left to its agent, which resends
// the terminal update (as in Mesos). Asked for explicitly, it is answered.
func TestImplicitReconciliationSkipsEndedTasks(t *testing.T) {
	c, a, d, rec, task := launchOnRawAgent(t, "implicit")
	a.next(wire.TypeLaunch)
	ended := wire.TaskInfo{TaskID: "t-ended", Resources: wire.Resources{CPUs: 0.1, MemMB: 8}, Sim: &wire.SimBehavior{}}
	a.register(wire.RegisterAgent{Tasks: []wire.RunningTask{
		{FrameworkID: d.FrameworkID(), Task: task, State: wire.TaskRunning},
		{FrameworkID: d.FrameworkID(), Task: ended, State: wire.TaskFinished, UpdateUUID: "00000000000000000000000000000002"},
	}})
	if st, known := leaderTask(c, "t-ended"); !known || st != wire.TaskFinished {
		t.Fatalf("t-ended is %q (known %v), want TASK_FINISHED kept until acknowledged", st, known)
	}
	ctx := sdktest.Ctx(t, 10*time.Second)
	mark := time.Now()
	res, err := d.Reconcile(ctx)
	if err != nil || res.Answered != 1 || res.AwaitedAgents != 0 {
		t.Fatalf("implicit: %+v %v, want t1 alone answered", res, err)
	}
	rec.WaitUpdate(t, 5*time.Second, func(s wire.TaskStatus) bool {
		return s.TaskID == "t1" && s.State == wire.TaskRunning && s.Reason == wire.ReasonReconciliation && s.Timestamp.After(mark)
	})
	if res, err := d.Reconcile(ctx, wire.ReconcileTask{TaskID: "t-ended"}); err != nil || res.Answered != 1 {
		t.Fatalf("explicit: %+v %v", res, err)
	}
	rec.WaitUpdate(t, 5*time.Second, func(s wire.TaskStatus) bool {
		return s.TaskID == "t-ended" && s.State == wire.TaskFinished && s.Reason == wire.ReasonReconciliation
	})
	// Updates on a framework's subject arrive in order: had the implicit
	// reconciliation answered t-ended, that answer would be here already.
	n := 0
	for _, u := range rec.Updates() {
		if u.TaskID == "t-ended" && u.Reason == wire.ReasonReconciliation {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("t-ended answered %d times by reconciliation, want once (the explicit ask)", n)
	}
}
