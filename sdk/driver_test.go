package sdk_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/sdktest/logrec"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestSilentLeaderDisconnects: when every master goes silent, the driver
// notices by the missing heartbeats, calls Disconnected, and subscribes
// again (same framework) once a leader is back.
func TestSilentLeaderDisconnects(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated())
	rec := sdktest.NewRecorder()
	d := c.RunDriver(t, wire.FrameworkInfo{Name: "silent"}, rec)
	first := rec.WaitSubscribed(t, 10*time.Second, 1)
	if rec.Disconnects() != 0 {
		t.Fatalf("%d disconnects before the master stopped", rec.Disconnects())
	}

	c.StopMaster(0)
	sdktest.Eventually(t, 10*time.Second, func() bool { return rec.Disconnects() > 0 },
		"Disconnected after the master went silent (heartbeat %s)", first.HeartbeatInterval.D())

	if err := c.RestartMaster(0); err != nil {
		t.Fatal(err)
	}
	again := rec.WaitSubscribed(t, 20*time.Second, 2)
	if again.FrameworkID != d.FrameworkID() || again.FrameworkID != first.FrameworkID {
		t.Fatalf("re-subscribed as %s, was %s", again.FrameworkID, first.FrameworkID)
	}
	if again.Leader.Term <= first.Leader.Term {
		t.Fatalf("re-subscribed in term %d, first in %d", again.Leader.Term, first.Leader.Term)
	}
	rec.TakeOffer(t, 10*time.Second, nil) // offers flow again
}

// TestAgentLossReportsFailure: a framework hears of an agent that went
// silent through Failure.
func TestAgentLossReportsFailure(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(2, "cpus:1;mem:256"), sdktest.Simulated())
	rec := sdktest.NewRecorder()
	c.RunDriver(t, wire.FrameworkInfo{Name: "failures"}, rec)
	rec.WaitSubscribed(t, 10*time.Second, 1)
	lost := c.Agents()[0].ID()
	c.StopAgent(0, false)
	sdktest.Eventually(t, 20*time.Second, func() bool { return len(rec.Failures()) > 0 }, "a Failure for agent %s", lost)
	if f := rec.Failures()[0]; f.AgentID != lost {
		t.Fatalf("failure %+v, want agent %s", f, lost)
	}
}

// TestStopTeardown: Stop(ctx, false) that cannot reach a leader returns
// the error and leaves the driver running; once a leader is back, a
// second Stop tears the framework down (its tasks are killed, the master
// forgets it, the ID file is removed), and from then on Run, Stop and
// calls return ErrStopped.
func TestStopTeardown(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated())
	idFile := filepath.Join(t.TempDir(), "framework-id")
	rec := sdktest.NewRecorder()
	d := c.RunDriver(t, wire.FrameworkInfo{Name: "teardown", FailoverTimeout: wire.Duration(time.Hour)}, rec,
		func(cfg *sdk.Config) { cfg.IDFile = idFile })
	rec.WaitSubscribed(t, 10*time.Second, 1)
	o := rec.TakeOffer(t, 10*time.Second, nil)
	task := sdk.Task("forever").Shell("sleep 3600").CPUs(0.1).Mem(16).SimulateHang().Info()
	if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, task); err != nil {
		t.Fatal(err)
	}
	rec.WaitState(t, 10*time.Second, "forever", wire.TaskRunning)
	id := d.FrameworkID()

	c.StopMaster(0)
	err := d.Stop(sdktest.Ctx(t, 3*time.Second), false)
	if err == nil || errors.Is(err, sdk.ErrStopped) {
		t.Fatalf("Stop without a leader: %v, want the TEARDOWN's error", err)
	}
	if _, err := os.Stat(idFile); err != nil {
		t.Fatalf("the ID file is gone after a failed teardown: %v", err)
	}
	if err := c.RestartMaster(0); err != nil {
		t.Fatal(err)
	}
	rec.WaitSubscribed(t, 20*time.Second, 2) // the driver still runs
	if err := d.Stop(sdktest.Ctx(t, 5*time.Second), false); err != nil {
		t.Fatalf("Stop retried: %v", err)
	}

	if _, err := os.Stat(idFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the ID file stays after the teardown: %v", err)
	}
	sdktest.Eventually(t, 15*time.Second, func() bool {
		l := c.Leader()
		if l == nil {
			return false
		}
		st := l.StateView()
		for _, f := range st.Frameworks {
			if f.ID == id {
				return false
			}
		}
		for _, tk := range st.Tasks {
			if tk.FrameworkID == id {
				return false
			}
		}
		for _, a := range st.Agents {
			if !a.Used.IsZero() {
				return false
			}
		}
		return true
	}, "framework %s forgotten and its task killed", id)

	if err := d.Stop(context.Background(), false); !errors.Is(err, sdk.ErrStopped) {
		t.Fatalf("Stop after Stop: %v, want ErrStopped", err)
	}
	if err := d.Revive(context.Background()); !errors.Is(err, sdk.ErrStopped) {
		t.Fatalf("Revive after Stop: %v, want ErrStopped", err)
	}
	if _, err := d.Launch(context.Background(), o, task); !errors.Is(err, sdk.ErrStopped) {
		t.Fatalf("Launch after Stop: %v, want ErrStopped", err)
	}
	if err := d.Run(context.Background()); !errors.Is(err, sdk.ErrStopped) {
		t.Fatalf("Run after Stop: %v, want ErrStopped", err)
	}
}

// TestCallsAfterRunReturnErrStopped: a driver whose Run ended with its
// context is stopped too.
func TestCallsAfterRunReturnErrStopped(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1))
	rec := sdktest.NewRecorder()
	d, err := sdk.NewDriver(sdk.Config{NATSURLs: c.NATSURLs(), Framework: wire.FrameworkInfo{Name: "ended"}}, rec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	rec.WaitSubscribed(t, 10*time.Second, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if err := d.Suppress(context.Background()); !errors.Is(err, sdk.ErrStopped) {
		t.Fatalf("Suppress after Run returned: %v, want ErrStopped", err)
	}
	if err := d.Stop(context.Background(), true); !errors.Is(err, sdk.ErrStopped) {
		t.Fatalf("Stop after Run returned: %v, want ErrStopped", err)
	}
}

// TestSimulatedStartDelay: a simulated task with a start delay reports
// TASK_STARTING before it runs and finishes.
func TestSimulatedStartDelay(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated())
	rec := sdktest.NewRecorder()
	d := c.RunDriver(t, wire.FrameworkInfo{Name: "slow-start"}, rec)
	o := rec.TakeOffer(t, 10*time.Second, nil)
	task := sdk.Task("slow").Shell("true").CPUs(0.1).Mem(16).SimulateStartDelay(300*time.Millisecond).Simulate(10*time.Millisecond, 0)
	if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, task.Info()); err != nil {
		t.Fatal(err)
	}
	rec.WaitState(t, 10*time.Second, "slow", wire.TaskFinished)
	var states []wire.TaskState
	for _, u := range rec.Updates() {
		if u.TaskID == "slow" {
			states = append(states, u.State)
		}
	}
	i, j := slices.Index(states, wire.TaskStarting), slices.Index(states, wire.TaskRunning)
	if i < 0 || j < i {
		t.Fatalf("states %v, want TASK_STARTING before TASK_RUNNING", states)
	}
}

// rescindCounter counts RESCIND events and holds the first until release
// is closed (a scheduler busy with something else).
type rescindCounter struct {
	sdk.BaseScheduler
	release chan struct{}
	mu      sync.Mutex
	ids     []wire.OfferID
}

func (r *rescindCounter) Rescind(_ context.Context, _ *sdk.Driver, id wire.OfferID) {
	r.mu.Lock()
	first := len(r.ids) == 0
	r.ids = append(r.ids, id)
	r.mu.Unlock()
	if first {
		<-r.release
	}
}

func (r *rescindCounter) seen() []wire.OfferID {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids)
}

// TestSlowSchedulerLosesNoEvents: events that arrive while the scheduler
// is busy wait for it — more of them than the driver's own queue holds —
// and all arrive, in order, once it is free. Meanwhile the driver keeps
// heartbeating (the master keeps the framework connected) and does not
// take the master's heartbeats, queued behind the busy scheduler, for
// silence.
func TestSlowSchedulerLosesNoEvents(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1))
	counter := &rescindCounter{release: make(chan struct{})}
	warnings := &logrec.Recorder{Level: slog.LevelWarn}
	d := c.RunDriver(t, wire.FrameworkInfo{Name: "slow"}, counter, func(cfg *sdk.Config) {
		cfg.Logger = slog.New(warnings)
	})
	var once sync.Once
	release := func() { once.Do(func() { close(counter.release) }) }
	t.Cleanup(release) // before the driver is stopped, should the test fail while it is busy
	sdktest.Eventually(t, 10*time.Second, func() bool { return d.Leader().Term > 0 }, "the driver subscribed")
	term := d.Leader().Term

	nc, err := nats.Connect(c.NATSURLs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	subject := wire.NewSubjects("").Framework(d.FrameworkID())
	const n = 20_000 // many times the driver's own queue
	for i := range n {
		data, err := wire.Encode(wire.TypeRescind, "test", term, wire.Rescind{OfferID: wire.OfferID(strconv.Itoa(i))})
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Publish(subject, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	sdktest.Eventually(t, 10*time.Second, func() bool { return len(counter.seen()) >= 1 }, "the first RESCIND reached the scheduler")
	// The master heartbeats the framework every 200 ms here and drops it
	// after 1 s of silence; let 15 of its heartbeats go by (3 s) with the
	// scheduler still busy.
	var beats atomic.Int32
	hb, err := nc.Subscribe(subject, func(m *nats.Msg) {
		if env, err := wire.Decode(m.Data); err == nil && env.Type == wire.TypeHeartbeat {
			beats.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	sdktest.Eventually(t, 20*time.Second, func() bool { return beats.Load() >= 15 }, "15 master heartbeats to the framework")
	_ = hb.Unsubscribe()
	for _, f := range c.Leader().StateView().Frameworks {
		if f.ID == d.FrameworkID() && !f.Active {
			t.Fatal("the master dropped the framework while its scheduler was busy")
		}
	}
	if n := warnings.Count("master silent"); n != 0 {
		t.Fatalf("the driver took the master for silent %d times while its heartbeats waited behind the busy scheduler", n)
	}
	release()
	sdktest.Eventually(t, 30*time.Second, func() bool { return len(counter.seen()) >= n }, "every RESCIND reached the scheduler")
	ids := counter.seen()
	if len(ids) != n {
		t.Fatalf("scheduler saw %d RESCINDs, want %d", len(ids), n)
	}
	for i, id := range ids {
		if id != wire.OfferID(strconv.Itoa(i)) {
			t.Fatalf("RESCIND %d was offer %s: events out of order", i, id)
		}
	}
}
