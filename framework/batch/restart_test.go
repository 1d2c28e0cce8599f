package batch

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/framework/batch/api"
	"github.com/agora-cluster/agora/framework/batch/record"
	"github.com/agora-cluster/agora/framework/batch/spec"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

const thousand = `{"name": "thousand", "command": "true", "instances": 1000, "parallelism": 250,
  "resources": {"cpus": 0.1, "mem": 16}, "simulate": {"duration": "300ms"}}`

// TestRestartMidThousandTaskRun crashes the framework (uncommitted changes
// dropped, no teardown) in the middle of a 1,000-task run on a real
// master with simulated agents, starts it again on the same data dir, and
// checks that the run completes with every task accounted for and no task
// launched twice.
func TestRestartMidThousandTaskRun(t *testing.T) {
	c, execs := simCluster(t, 2, "cpus:32;mem:32768")
	dir := t.TempDir()
	s1 := startFramework(t, c, dir)
	ctx := sdktest.Ctx(t, 60*time.Second)
	cl := api.NewClient(s1.Addr())
	res, err := cl.Submit(ctx, []byte(thousand), spec.JSON, false)
	if err != nil {
		t.Fatal(err)
	}
	runID := res.Runs[0].ID
	sdktest.Eventually(t, 30*time.Second, func() bool {
		st, err := cl.Run(ctx, runID, false, 0)
		return err == nil && st.Progress.Succeeded >= 300
	}, "300 tasks to finish")
	s1.stop(false) // crash
	before := launched(execs)
	if before < 300 || before >= 1000 {
		t.Fatalf("%d tasks launched at the crash; the test wants a run in the middle", before)
	}

	s2 := startFramework(t, c, dir)
	if s2.FrameworkID() != s1.FrameworkID() {
		t.Fatalf("restarted as %s, was %s", s2.FrameworkID(), s1.FrameworkID())
	}
	cl = api.NewClient(s2.Addr())
	var st record.RunStatus
	sdktest.Eventually(t, 40*time.Second, func() bool {
		st, err = cl.Run(ctx, runID, false, 0)
		return err == nil && st.Run.State.Terminal()
	}, "the run to end after the restart")
	if st, err = cl.Run(ctx, runID, true, 0); err != nil {
		t.Fatal(err)
	}
	if st.Run.State != record.RunSucceeded || st.Progress.Succeeded != 1000 {
		t.Fatalf("run %s: %+v (%s)", st.Run.State, st.Progress, st.Run.Message)
	}
	checkAccounted(t, st, execs)
}

func launched(execs []*countingExecutor) int {
	n := 0
	for _, e := range execs {
		n += len(e.counts())
	}
	return n
}

// checkAccounted checks a finished run against what the agents launched:
// each instance has exactly one successful attempt, each launched task is
// a stored attempt, no task ID was launched twice and no instance ran
// twice.
func checkAccounted(t *testing.T, st record.RunStatus, execs []*countingExecutor) {
	t.Helper()
	attempts := map[wire.TaskID]record.Attempt{}
	succeeded := map[int]int{}
	for _, a := range st.Attempts {
		attempts[a.TaskID] = a
		if a.State == record.AttemptSucceeded {
			succeeded[a.Instance]++
		}
	}
	for i := range st.Progress.Instances {
		if succeeded[i] != 1 {
			t.Errorf("instance %d has %d successful attempts", i, succeeded[i])
		}
	}
	ranPerInstance := map[int]int{}
	for _, e := range execs {
		for id, n := range e.counts() {
			if n != 1 {
				t.Errorf("task %s launched %d times", id, n)
			}
			a, ok := attempts[id]
			if !ok {
				t.Errorf("task %s ran but is not a stored attempt", id)
				continue
			}
			ranPerInstance[a.Instance]++
		}
	}
	for i, n := range ranPerInstance {
		if n != 1 {
			t.Errorf("instance %d ran %d times", i, n)
		}
	}
	if len(ranPerInstance) != st.Progress.Instances {
		t.Errorf("%d instances ran, want %d", len(ranPerInstance), st.Progress.Instances)
	}
	lost := 0
	why := map[string]int{}
	for _, a := range st.Attempts {
		if a.State == record.AttemptLost {
			lost++
			msg := a.Message
			if i := strings.Index(msg, string(a.TaskID)); i >= 0 {
				msg = msg[:i] + "<task>" + msg[i+len(a.TaskID):]
			}
			why[fmt.Sprintf("%s %s %q", a.TaskState, a.Reason, msg)]++
		}
	}
	for k, n := range why {
		t.Logf("%5d lost attempts: %s", n, k)
	}
	t.Logf("%d attempts for %d instances (%d lost: committed but never launched)", len(st.Attempts), st.Progress.Instances, lost)
}
