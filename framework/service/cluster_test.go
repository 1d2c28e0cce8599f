package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/service"
	"github.com/agora-cluster/agora/framework/service/controller"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

const sleeper = `
id: sleeper
cmd: exec sleep 600
instances: 2
resources: {cpus: 0.1, mem: 16}
constraints: [hostname:UNIQUE]
kill_grace: 200ms
unreachable: {inactive_after: 1s, expunge_after: 1m}
`

// TestFrameworkRestartAdoptsInstances stops the framework, starts a new
// one on the same data dir, and checks it resumes as the same framework
// with the same running instances: none relaunched, none duplicated.
func TestFrameworkRestartAdoptsInstances(t *testing.T) {
	c := cluster(t, 3, nil)
	dir := t.TempDir()
	s1 := serve(t, c, dir)
	fw := s1.FrameworkID()
	cl := service.NewClient(s1.Addr())
	deploy(t, cl, sleeper, 20*time.Second)
	before := taskIDs(appStatus(t, cl, "sleeper"))
	if err := s1.Stop(); err != nil {
		t.Fatal(err)
	}
	// The master keeps the instances while the framework is away.
	if got := masterTasks(c, fw); len(got) != 2 {
		t.Fatalf("master has %d live tasks of the stopped framework, want 2", len(got))
	}

	s2 := serve(t, c, dir)
	if s2.FrameworkID() != fw {
		t.Fatalf("restarted as %s, want %s", s2.FrameworkID(), fw)
	}
	cl = service.NewClient(s2.Addr())
	// Scale up by one: with adoption, the set is the two old instances
	// plus exactly one new one.
	scaleKeepsAdopted(t, c, cl, fw, before, 20*time.Second)
}

// scaleKeepsAdopted scales "sleeper" to 3 and checks that the instances
// in before are among the 3, at the framework and at the master: a
// framework that relaunched on restart would show other IDs or more
// tasks.
func scaleKeepsAdopted(t *testing.T, c *sdktest.Cluster, cl *service.Client, fw wire.FrameworkID, before map[wire.TaskID]bool, wait time.Duration) {
	t.Helper()
	ctx := sdktest.Ctx(t, wait)
	res, err := cl.Scale(ctx, "sleeper", 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := service.WaitDeployment(ctx, cl, res.Deployment, wait, nil); err != nil {
		t.Fatal(err)
	}
	after := taskIDs(appStatus(t, cl, "sleeper"))
	for id := range before {
		if !after[id] {
			t.Fatalf("instance %s was not adopted: before %v, after %v", id, before, after)
		}
	}
	if len(after) != 3 {
		t.Fatalf("after scale to 3: %v", after)
	}
	sdktest.Eventually(t, 10*time.Second, func() bool {
		live := masterTasks(c, fw)
		if len(live) != 3 {
			return false
		}
		for id := range after {
			if live[id] != wire.TaskRunning {
				return false
			}
		}
		return true
	}, "the master to run exactly the 3 known instances")
}

// TestAgentLossReplacement stops an agent (its process keeps running):
// after inactive_after the instance is replaced on another agent, and
// when the agent comes back the replaced instance is killed.
func TestAgentLossReplacement(t *testing.T) {
	c := cluster(t, 2, nil)
	s := serve(t, c, t.TempDir())
	cl := service.NewClient(s.Addr())
	deploy(t, cl, sleeperOne, 20*time.Second)
	st := appStatus(t, cl, "sleeper")
	lost := st.Tasks[0]
	idx := 0
	if lost.Hostname == "agent2" {
		idx = 1
	}
	stopped := time.Now()
	c.StopAgent(idx, false)
	var repl controller.Instance
	sdktest.Eventually(t, 20*time.Second, func() bool {
		st, err := cl.App(context.Background(), "sleeper")
		if err != nil {
			return false
		}
		for _, tk := range st.Tasks {
			if tk.ID != lost.ID && tk.State == wire.TaskRunning {
				repl = tk
				return true
			}
		}
		return false
	}, "a replacement for %s", lost.ID)
	t.Logf("agent stopped -> replacement running: %s (agent timeout 2s + inactive_after 1s)", time.Since(stopped).Round(time.Millisecond))
	if repl.Hostname == lost.Hostname {
		t.Fatalf("replacement on the lost agent: %+v", repl)
	}
	st = appStatus(t, cl, "sleeper")
	for _, tk := range st.Tasks {
		if tk.ID == lost.ID && (!tk.Inactive || tk.State != wire.TaskUnreachable) {
			t.Fatalf("lost instance %+v, want inactive and unreachable", tk)
		}
	}
	if err := c.RestartAgent(idx); err != nil {
		t.Fatal(err)
	}
	sdktest.Eventually(t, 20*time.Second, func() bool {
		st, err := cl.App(context.Background(), "sleeper")
		if err != nil || len(st.Tasks) != 1 || st.Tasks[0].ID != repl.ID {
			return false
		}
		for _, e := range st.Ended {
			if e.ID == lost.ID {
				return true
			}
		}
		return false
	}, "the returning instance %s to be killed", lost.ID)
}

const sleeperOne = `
id: sleeper
cmd: exec sleep 600
resources: {cpus: 0.1, mem: 16}
kill_grace: 200ms
unreachable: {inactive_after: 1s, expunge_after: 1m}
`

// TestStartStopsWithContext checks that the server stops when the
// context given to Start ends, and that Stop after that is harmless.
func TestStartStopsWithContext(t *testing.T) {
	c := cluster(t, 1, nil)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := service.Start(ctx, service.Config{NATSURLs: c.NATSURLs(), DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", Logger: sdktest.TestLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	cl := service.NewClient(s.Addr())
	if _, err := cl.Apps(sdktest.Ctx(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	cancel()
	sdktest.Eventually(t, 10*time.Second, func() bool {
		_, err := cl.Apps(context.Background())
		return err != nil
	}, "the API to stop after the context ended")
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
}
