package master_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// nats.go's connection goroutines wind down asynchronously after Close.
		goleak.IgnoreAnyFunction("github.com/nats-io/nats%2ego.(*Conn).doReconnect"),
	)
}

func shellTask(id string, cmd string) wire.TaskInfo {
	return wire.TaskInfo{
		TaskID:    wire.TaskID(id),
		Resources: wire.Resources{CPUs: 0.1, MemMB: 32},
		Command:   wire.CommandInfo{Value: cmd, Shell: true},
	}
}

// TestLaunchRealProcesses: three masters, two agents and a framework;
// tasks run as real processes and the framework sees RUNNING and the
// final state with the exit code.
func TestLaunchRealProcesses(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(3), sdktest.Agents(2, "cpus:2;mem:1024"))
	rec := sdktest.NewRecorder()
	d := c.RunDriver(t, wire.FrameworkInfo{Name: "test"}, rec)
	rec.WaitSubscribed(t, 5*time.Second, 1)

	o := rec.TakeOffer(t, 5*time.Second, nil)
	ctx := sdktest.Ctx(t, 5*time.Second)
	res, err := d.Launch(ctx, o, shellTask("ok", "echo hi; exit 0"), shellTask("bad", "exit 7"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Launched) != 2 {
		t.Fatalf("launched %v, refused %v", res.Launched, res.Refused)
	}
	rec.WaitState(t, 10*time.Second, "ok", wire.TaskRunning)
	fin := rec.WaitState(t, 10*time.Second, "ok", wire.TaskFinished)
	if fin.ExitCode == nil || *fin.ExitCode != 0 {
		t.Fatalf("finished with exit code %v", fin.ExitCode)
	}
	failed := rec.WaitState(t, 10*time.Second, "bad", wire.TaskFailed)
	if failed.ExitCode == nil || *failed.ExitCode != 7 {
		t.Fatalf("failed with exit code %v", failed.ExitCode)
	}
	// Each task's updates arrive in order: STARTING (only when the launch
	// is slow), RUNNING, terminal.
	for _, id := range []wire.TaskID{"ok", "bad"} {
		var states []string
		for _, u := range rec.Updates() {
			if u.TaskID == id && u.Reason != wire.ReasonReconciliation {
				states = append(states, string(u.State))
			}
		}
		got := strings.TrimPrefix(strings.Join(dedup(states), ","), "TASK_STARTING,")
		if !strings.HasPrefix(got, "TASK_RUNNING,TASK_") || strings.Count(got, ",") != 1 {
			t.Errorf("task %s updates out of order: %s", id, got)
		}
	}
	// The task really ran: its stdout is in its sandbox.
	out := findFile(t, c.Dir(), "stdout", "hi")
	if out == "" {
		t.Error("no sandbox stdout containing the task's output")
	}
}

func dedup(s []string) []string {
	var out []string
	for _, v := range s {
		if len(out) == 0 || out[len(out)-1] != v {
			out = append(out, v)
		}
	}
	return out
}

// findFile returns the path of a file named name under dir containing want.
func findFile(t *testing.T, dir, name, want string) string {
	t.Helper()
	var found string
	_ = walk(dir, func(path string) {
		if found != "" || !strings.HasSuffix(path, "/"+name) {
			return
		}
		if b, err := os.ReadFile(path); err == nil && strings.Contains(string(b), want) {
			found = path
		}
	})
	return found
}

func walk(dir string, f func(string)) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := dir + "/" + e.Name()
		if e.IsDir() {
			_ = walk(p, f)
		} else {
			f(p)
		}
	}
	return nil
}

// TestOfferValidation: over-asking, a reused offer and a duplicate task ID
// are each refused with a clear reason, and no resources leak.
func TestOfferValidation(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated())
	rec := sdktest.NewRecorder()
	d := c.RunDriver(t, wire.FrameworkInfo{Name: "validation"}, rec)
	rec.WaitSubscribed(t, 5*time.Second, 1)
	ctx := sdktest.Ctx(t, 10*time.Second)

	// Over-asking: more cpus than the offer holds → TASK_ERROR.
	o := rec.TakeOffer(t, 5*time.Second, nil)
	big := wire.TaskInfo{TaskID: "big", Resources: wire.Resources{CPUs: 2, MemMB: 32}, Sim: &wire.SimBehavior{Hang: true}}
	res, err := d.Accept(ctx, []wire.OfferID{o.ID}, []wire.Operation{{Type: wire.OpLaunch, Tasks: []wire.TaskInfo{withAgent(big, o.AgentID)}}}, sdkRefuse(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Launched) != 0 || len(res.Refused) != 1 || !strings.Contains(res.Refused[0].Message, "only") {
		t.Fatalf("over-asking: %+v", res)
	}
	st := rec.WaitState(t, 5*time.Second, "big", wire.TaskError)
	if st.Reason != wire.ReasonTaskInvalid {
		t.Fatalf("reason %s", st.Reason)
	}

	// Reused offer ID → UNKNOWN_OFFER error and TASK_DROPPED.
	_, err = d.Launch(ctx, o, wire.TaskInfo{TaskID: "reuse", Resources: wire.Resources{CPUs: 0.1, MemMB: 8}, Sim: &wire.SimBehavior{Hang: true}})
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeUnknownOffer {
		t.Fatalf("reused offer: err = %v", err)
	}
	rec.WaitState(t, 5*time.Second, "reuse", wire.TaskDropped)

	// Duplicate task ID: first launch works, the second is refused.
	hang := wire.TaskInfo{TaskID: "dup", Resources: wire.Resources{CPUs: 0.5, MemMB: 64}, Sim: &wire.SimBehavior{Hang: true}}
	// The refused launch gave everything back: the whole offer comes again.
	o2 := rec.TakeOffer(t, 10*time.Second, nil)
	if !o2.Resources.Equal(o.Resources) {
		t.Fatalf("after the refused launch %s is offered, want all of %s back", o2.Resources, o.Resources)
	}
	if res, err := d.Accept(ctx, []wire.OfferID{o2.ID}, []wire.Operation{{Type: wire.OpLaunch, Tasks: []wire.TaskInfo{withAgent(hang, o2.AgentID)}}}, sdkRefuse(0)); err != nil || len(res.Launched) != 1 {
		t.Fatalf("first launch: %+v %v", res, err)
	}
	rec.WaitState(t, 5*time.Second, "dup", wire.TaskRunning)
	o3 := rec.TakeOffer(t, 10*time.Second, nil)
	if want := o2.Resources.Sub(hang.Resources); !o3.Resources.Equal(want) {
		t.Fatalf("after launching dup %s is offered, want %s", o3.Resources, want)
	}
	res, err = d.Accept(ctx, []wire.OfferID{o3.ID}, []wire.Operation{{Type: wire.OpLaunch, Tasks: []wire.TaskInfo{withAgent(hang, o3.AgentID)}}}, sdkRefuse(0))
	if err != nil || len(res.Refused) != 1 || !strings.Contains(res.Refused[0].Message, "already in use") {
		t.Fatalf("duplicate task: %+v %v", res, err)
	}
	// The refused duplicate gave back all of o3: the allocator offers it
	// again, so nothing leaked.
	o4 := rec.TakeOffer(t, 10*time.Second, nil)
	if !o4.Resources.Equal(o3.Resources) {
		t.Fatalf("after the refused duplicate %s is offered, want all of %s back", o4.Resources, o3.Resources)
	}
	// And what the framework holds in offers plus the running task is the
	// agent's total: nothing counted twice, nothing lost.
	total := c.Leader().StateView().Agents[0].Resources
	var held wire.Resources
	for _, o := range rec.Outstanding() {
		held = held.Add(o.Resources)
	}
	held = held.Add(o4.Resources)
	if !held.Add(hang.Resources).Equal(total) {
		t.Fatalf("offered %s + used %s != total %s", held, hang.Resources, total)
	}
}

func withAgent(t wire.TaskInfo, a wire.AgentID) wire.TaskInfo { t.AgentID = a; return t }

func sdkRefuse(s float64) wire.Filters { return wire.Filters{RefuseSeconds: &s} }
