package batch

import (
	"testing"
	"time"

	"github.com/agora-cluster/agora/agent"
	"github.com/agora-cluster/agora/agent/launcher"
	"github.com/agora-cluster/agora/framework/batch/api"
	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/framework/batch/spec"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestMasterFailoverMidRun kills the leading master in the middle of a
// run: the framework follows the new leader, and the run completes with
// every task accounted for and none launched twice.
func TestMasterFailoverMidRun(t *testing.T) {
	execs := []*countingExecutor{
		{Executor: launcher.NewSimExecutor(), launches: map[wire.TaskID]int{}},
		{Executor: launcher.NewSimExecutor(), launches: map[wire.TaskID]int{}},
	}
	c := sdktest.Start(t, sdktest.Masters(3), sdktest.Agents(2, "cpus:32;mem:32768"), sdktest.Simulated(),
		sdktest.WithAgentConfig(func(i int, ac *agent.Config) { ac.Executor = execs[i] }))
	s := startFramework(t, c, t.TempDir())
	ctx := sdktest.Ctx(t, 120*time.Second)
	cl := api.NewClient(s.Addr())
	job := `{"name": "fo", "command": "true", "instances": 400, "parallelism": 200,
	  "resources": {"cpus": 0.1, "mem": 16}, "simulate": {"duration": "300ms"}}`
	res, err := cl.Submit(ctx, []byte(job), spec.JSON, false)
	if err != nil {
		t.Fatal(err)
	}
	runID := res.Runs[0].ID
	sdktest.Eventually(t, 30*time.Second, func() bool {
		st, err := cl.Run(ctx, runID, false, 0)
		return err == nil && st.Progress.Succeeded >= 150
	}, "150 tasks to finish")
	if c.KillLeader() < 0 {
		t.Fatal("no leader to kill")
	}
	var st record.RunStatus
	if werr := sdktest.WaitFor(60*time.Second, func() bool {
		st, err = cl.Run(ctx, runID, false, 0)
		return err == nil && st.Run.State.Terminal()
	}); werr != nil {
		t.Fatalf("the run did not end after the failover: %s %+v, %v", st.Run.State, st.Progress, err)
	}
	if st, err = cl.Run(ctx, runID, true, 0); err != nil {
		t.Fatal(err)
	}
	if st.Run.State != record.RunSucceeded || st.Progress.Succeeded != 400 {
		t.Fatalf("run %s: %+v (%s)", st.Run.State, st.Progress, st.Run.Message)
	}
	checkAccounted(t, st, execs)
}
