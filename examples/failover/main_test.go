package main

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/sdktest"
)

// TestSurvivesLeaderKillAndOwnRestart: the framework keeps its tasks
// through a leader kill, an agent restart and its own restart, which
// resumes the same framework and launches nothing new.
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
	running := func(f *Framework) string {
		ids, _ := f.Running()
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = string(id)
		}
		return strings.Join(s, ",")
	}

	f, stop, done := start()
	sdktest.Eventually(t, 30*time.Second, func() bool { return running(f) == "long-1,long-2,long-3" }, "3 tasks running: %q", running(f))
	id := f.Driver.FrameworkID()

	c.KillLeader()
	if _, err := c.WaitLeader(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitAgentsRegistered(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, launches := f.Running(); launches != 3 {
		t.Fatalf("%d launches after the failover, want 3", launches)
	}

	// An agent restart (tasks keep running; the agent re-attaches).
	c.StopAgent(0, false)
	if err := c.RestartAgent(0); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitAgentsRegistered(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	sdktest.Eventually(t, 15*time.Second, func() bool { return running(f) == "long-1,long-2,long-3" }, "3 tasks running after the agent restart: %q", running(f))
	if _, launches := f.Running(); launches != 3 {
		t.Fatalf("%d launches after the agent restart, want 3", launches)
	}

	stop() // the framework's own restart
	<-done
	f2, _, _ := start()
	if f2.Driver.FrameworkID() != id {
		t.Fatalf("restarted as %s, was %s", f2.Driver.FrameworkID(), id)
	}
	// Reconciliation after re-subscribing confirms the three tasks.
	sdktest.Eventually(t, 15*time.Second, func() bool {
		for _, tk := range c.Leader().StateView().Tasks {
			if tk.FrameworkID != id {
				return false
			}
		}
		return running(f2) == "long-1,long-2,long-3" && len(c.Leader().StateView().Tasks) == 3
	}, "the same 3 tasks running after the restart")
	if _, launches := f2.Running(); launches != 0 {
		t.Fatalf("the restarted framework launched %d tasks", launches)
	}
}
