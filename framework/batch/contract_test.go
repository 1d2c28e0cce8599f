package batch

import (
	"context"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestMasterReconcilesUnacknowledgedEnds checks the master behaviour the
// batch framework's "never run twice" rests on (Mesos semantics): a task
// that ended while its end is not yet acknowledged is still known, and
// explicit reconciliation answers its terminal state — not TASK_UNKNOWN,
// which tells a framework the task never ran or is gone, and makes it
// launch the work again. Both with the leader that saw the end, and with
// a new leader after a failover (the agent re-registers while the end is
// still unacknowledged).
func TestMasterReconcilesUnacknowledgedEnds(t *testing.T) {
	for _, failover := range []bool{false, true} {
		t.Run(map[bool]string{false: "same-leader", true: "after-failover"}[failover], func(t *testing.T) {
			c := sdktest.Start(t, sdktest.Masters(map[bool]int{false: 1, true: 3}[failover]),
				sdktest.Agents(1, "cpus:4;mem:4096"), sdktest.Simulated())
			rec := sdktest.NewRecorder()
			// Acknowledge everything but the end, so that the agent moves on to it.
			rec.OnUpdate = func(ctx context.Context, d *sdk.Driver, s wire.TaskStatus) {
				if !s.State.Terminal() {
					_ = d.Acknowledge(ctx, s)
				}
			}
			d, err := sdk.NewDriver(sdk.Config{NATSURLs: c.NATSURLs(), Framework: wire.FrameworkInfo{Name: "contract"},
				ManualAck: true, Logger: sdktest.TestLogger(t)}, rec)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = d.Run(ctx) }()
			t.Cleanup(func() { cancel(); <-done })
			rec.WaitSubscribed(t, 10*time.Second, 1)
			o := rec.TakeOffer(t, 10*time.Second, nil)
			task := sdk.Task("ends").Shell("true").CPUs(0.1).Mem(16).Simulate(0, 0).On(o.AgentID, nil)
			if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, task); err != nil {
				t.Fatal(err)
			}
			rec.WaitState(t, 10*time.Second, "ends", wire.TaskFinished) // not acknowledged
			if failover {
				c.KillLeader()
				rec.WaitSubscribed(t, 20*time.Second, 2)
				if err := c.WaitAgentsRegistered(20 * time.Second); err != nil {
					t.Fatal(err)
				}
			}
			asked := time.Now()
			if _, err := d.Reconcile(sdktest.Ctx(t, 5*time.Second), wire.ReconcileTask{TaskID: "ends", AgentID: o.AgentID}); err != nil {
				t.Fatal(err)
			}
			st := rec.WaitUpdate(t, 10*time.Second, func(s wire.TaskStatus) bool {
				return s.TaskID == "ends" && s.Reason == wire.ReasonReconciliation && !s.Timestamp.Before(asked)
			})
			if st.State != wire.TaskFinished {
				t.Fatalf("reconciling a finished, unacknowledged task answered %s (%q), want TASK_FINISHED", st.State, st.Message)
			}
		})
	}
}

// TestMasterReconcilesAfterFailover checks that a new leader does not
// answer TASK_UNKNOWN for a task that still runs: until the task's agent
// has re-registered it must leave the task pending (the agent answers),
// and after that it knows the task.
func TestMasterReconcilesAfterFailover(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(3), sdktest.Agents(1, "cpus:4;mem:4096"), sdktest.Simulated())
	rec := sdktest.NewRecorder()
	d, err := sdk.NewDriver(sdk.Config{NATSURLs: c.NATSURLs(), Framework: wire.FrameworkInfo{Name: "contract"},
		Logger: sdktest.TestLogger(t)}, rec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	rec.WaitSubscribed(t, 10*time.Second, 1)
	o := rec.TakeOffer(t, 10*time.Second, nil)
	task := sdk.Task("hangs").Shell("true").CPUs(0.1).Mem(16).On(o.AgentID, nil)
	task.Sim = &wire.SimBehavior{Hang: true}
	if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, task); err != nil {
		t.Fatal(err)
	}
	rec.WaitState(t, 10*time.Second, "hangs", wire.TaskRunning)
	c.KillLeader()
	rec.WaitSubscribed(t, 20*time.Second, 2)
	res, err := d.Reconcile(sdktest.Ctx(t, 5*time.Second), wire.ReconcileTask{TaskID: "hangs", AgentID: o.AgentID})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("reconcile after failover: %+v", res)
	if len(res.Pending) == 1 {
		return // the agent has not re-registered yet: fine
	}
	st := rec.WaitUpdate(t, 10*time.Second, func(s wire.TaskStatus) bool {
		return s.TaskID == "hangs" && s.Reason == wire.ReasonReconciliation && s.Timestamp.After(time.Now().Add(-5*time.Second))
	})
	if st.State != wire.TaskRunning {
		t.Fatalf("new leader answered %s (%q) for a running task", st.State, st.Message)
	}
}
