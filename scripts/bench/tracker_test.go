package bench

import (
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// TestLostLaunchIsRelaunched: a task the master reports TASK_LOST before
// it ran (its agent re-registered without it) comes back as a new task to
// launch, under a new ID, and is counted as a lost launch, not a lost
// task; a task lost after it ran is an end like any other.
func TestLostLaunchIsRelaunched(t *testing.T) {
	tr := newTracker()
	f := &framework{}
	a, b := &taskRec{id: "a", fw: f}, &taskRec{id: "b", fw: f}
	tr.add([]*taskRec{a, b})
	now := time.Now()
	tr.accepting([]*taskRec{a, b}, "agent-1", now)
	tr.accepted(wire.AcceptResult{Launched: []wire.TaskID{"a", "b"}})
	if r := tr.onUpdate(wire.TaskStatus{TaskID: "b", State: wire.TaskRunning, UUID: "u1", AgentID: "agent-1"}, now); r != nil {
		t.Fatalf("RUNNING gave a relaunch: %+v", r)
	}

	lost := wire.TaskStatus{TaskID: "a", State: wire.TaskLost, Reason: wire.ReasonAgentRestarted, AgentID: "agent-1"}
	next := tr.onUpdate(lost, now)
	if next == nil || next.id == "a" || next.fw != f || next.launched {
		t.Fatalf("lost launch gave %+v, want a new, unlaunched task", next)
	}
	if tr.tasks[next.id] != next {
		t.Fatal("the new task is not tracked")
	}
	if again := tr.onUpdate(lost, now); again != nil {
		t.Fatalf("a repeated TASK_LOST relaunched again: %+v", again)
	}

	if r := tr.onUpdate(wire.TaskStatus{TaskID: "b", State: wire.TaskLost, Reason: wire.ReasonAgentRestarted, AgentID: "agent-1"}, now); r != nil {
		t.Fatalf("a task lost after it ran was relaunched: %+v", r)
	}
	c := tr.taskCounts(false)
	if c.LaunchesLost != 1 || c.Created != 2 || c.EndStates[wire.TaskLost] != 1 {
		t.Fatalf("counts %+v", c)
	}
}
