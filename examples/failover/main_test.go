package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

var want = []wire.TaskID{"long-1", "long-2", "long-3"}

// TestSurvivesLeaderKillAndOwnRestart: the framework keeps its tasks
// through a leader kill (it follows the new leader), an agent restart and
// its own restart, which resumes the same framework, reconciles and
// launches nothing new although it is offered resources.
func TestSurvivesLeaderKillAndOwnRestart(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(3), sdktest.Agents(2, "cpus:1;mem:256"))
	dir := t.TempDir()
	start := func() (*Framework, context.CancelFunc, chan struct{}) {
		f, err := New(c.NATSURLs(), "", dir, 3)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = f.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		return f, cancel, done
	}

	f, stop, done := start()
	sdktest.Eventually(t, 30*time.Second, func() bool { return slices.Equal(f.Progress().Running, want) },
		"3 tasks running: %v", f.Progress().Running)
	id := f.Driver.FrameworkID()
	placed := leaderTasks(t, c, id)

	// A leader kill: the driver follows the new leader, is offered
	// resources by it and launches nothing.
	old := f.Driver.Leader()
	if killed := c.KillLeader(); killed < 0 {
		t.Fatal("no leader to kill")
	}
	if _, err := c.WaitLeader(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	sdktest.Eventually(t, 15*time.Second, func() bool {
		l := f.Driver.Leader()
		return l.Term > old.Term && l.Name != old.Name && f.Progress().Offers > 0
	}, "the driver subscribed with the new leader (was %s in term %d, now %+v) and got offers", old.Name, old.Term, f.Driver.Leader())
	if p := f.Progress(); p.Launches != 3 || !slices.Equal(p.Running, want) {
		t.Fatalf("after the failover: %+v, want 3 launches and %v running", p, want)
	}

	// An agent restart (tasks keep running; the agent re-attaches).
	c.StopAgent(0, false)
	if err := c.RestartAgent(0); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitAgentsRegistered(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	sdktest.Eventually(t, 15*time.Second, func() bool { return slices.Equal(f.Progress().Running, want) },
		"3 tasks running after the agent restart: %v", f.Progress().Running)
	if p := f.Progress(); p.Launches != 3 {
		t.Fatalf("%d launches after the agent restart, want 3", p.Launches)
	}

	stop() // the framework's own restart
	<-done
	f2, _, _ := start()
	if f2.Driver.FrameworkID() != id {
		t.Fatalf("restarted as %s, was %s", f2.Driver.FrameworkID(), id)
	}
	// tasks.json already says the tasks run; reconciliation after
	// subscribing must confirm them, and offers must find nothing to do.
	sdktest.Eventually(t, 15*time.Second, func() bool {
		p := f2.Progress()
		return slices.Equal(p.Reconciled, want) && p.Offers > 0
	}, "the restarted framework reconciled %v and was offered resources: %+v", want, f2.Progress())
	if p := f2.Progress(); p.Launches != 0 || !slices.Equal(p.Running, want) {
		t.Fatalf("the restarted framework: %+v, want no launches and %v running", p, want)
	}
	if now := leaderTasks(t, c, id); !slices.Equal(now, placed) {
		t.Fatalf("the leader's tasks changed: %v, were %v", now, placed)
	}
}

// leaderTasks returns the leader's tasks, as "ID@agent STATE", sorted,
// and fails unless they all belong to framework id.
func leaderTasks(t *testing.T, c *sdktest.Cluster, id wire.FrameworkID) []string {
	t.Helper()
	l, err := c.WaitLeader(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tk := range l.StateView().Tasks {
		if tk.FrameworkID != id {
			t.Fatalf("task %s of framework %s, want %s", tk.ID, tk.FrameworkID, id)
		}
		out = append(out, string(tk.ID)+"@"+string(tk.AgentID)+" "+string(tk.State))
	}
	slices.Sort(out)
	return out
}
