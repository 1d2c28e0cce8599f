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
	if c.LaunchesLost != 1 || c.Created != 2 || c.EndStates[wire.TaskLost] != 1 || c.LaunchesLostBy["TASK_LOST/"+string(wire.ReasonAgentRestarted)] != 1 {
		t.Fatalf("counts %+v", c)
	}
}

// TestEndedBeforeRunning: without relaunchEnded a task dropped before it
// ran is an end; with it (runs that want their tasks running) it is
// launched again under a new ID and counted by state and reason.
func TestEndedBeforeRunning(t *testing.T) {
	dropped := wire.TaskStatus{TaskID: "a", State: wire.TaskDropped, Reason: wire.ReasonInvalidOffers, UUID: "u", AgentID: "agent-1"}
	for _, relaunch := range []bool{false, true} {
		tr := newTracker()
		tr.relaunchEnded = relaunch
		f := &framework{}
		a := &taskRec{id: "a", fw: f}
		tr.add([]*taskRec{a})
		now := time.Now()
		tr.accepting([]*taskRec{a}, "agent-1", now)
		tr.accepted(wire.AcceptResult{Launched: []wire.TaskID{"a"}})
		next := tr.onUpdate(dropped, now)
		c := tr.taskCounts(false)
		if !relaunch {
			if next != nil || c.EndStates[wire.TaskDropped] != 1 || c.LaunchesLost != 0 {
				t.Fatalf("without relaunchEnded: next %+v, counts %+v", next, c)
			}
			continue
		}
		if next == nil || next.id == "a" || next.launched || tr.tasks[next.id] != next {
			t.Fatalf("with relaunchEnded: next %+v", next)
		}
		if c.LaunchesLost != 1 || c.LaunchesLostBy["TASK_DROPPED/"+string(wire.ReasonInvalidOffers)] != 1 || c.EndStates[wire.TaskDropped] != 0 {
			t.Fatalf("with relaunchEnded: counts %+v", c)
		}
	}
}
