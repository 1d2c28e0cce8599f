package master_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// drfFramework launches one task of its shape per offer and gives the
// rest back with refuse_seconds 0, as in the DRF paper's progressive
// filling; offers it cannot use are declined with refuse_seconds 0 too.
// Until start is called it holds its offers, so that both frameworks
// begin together.
type drfFramework struct {
	sdk.BaseScheduler
	name    string
	shape   wire.Resources
	mu      sync.Mutex
	d       *sdk.Driver
	held    []wire.Offer // offers received before start
	started bool
	seq     int
	n       int // tasks whose ACCEPT launched them
}

func (f *drfFramework) Offers(ctx context.Context, d *sdk.Driver, offers []wire.Offer) {
	f.mu.Lock()
	if !f.started {
		f.d = d
		f.held = append(f.held, offers...)
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	f.use(ctx, d, offers)
}

// start uses the held offers and every later one.
func (f *drfFramework) start(ctx context.Context) {
	f.mu.Lock()
	f.started = true
	held, d := f.held, f.d
	f.held = nil
	f.mu.Unlock()
	if d != nil {
		f.use(ctx, d, held)
	}
}

func (f *drfFramework) use(ctx context.Context, d *sdk.Driver, offers []wire.Offer) {
	for _, o := range offers {
		if !o.Resources.Contains(f.shape) {
			_ = d.Decline(ctx, []wire.OfferID{o.ID}, 0)
			continue
		}
		f.mu.Lock()
		f.seq++
		id := wire.TaskID(fmt.Sprintf("%s-%d", f.name, f.seq))
		f.mu.Unlock()
		task := wire.TaskInfo{TaskID: id, AgentID: o.AgentID, Resources: f.shape, Sim: &wire.SimBehavior{Hang: true}}
		res, err := d.Accept(ctx, []wire.OfferID{o.ID}, []wire.Operation{{Type: wire.OpLaunch, Tasks: []wire.TaskInfo{task}}}, sdk.Refuse(0))
		if err == nil && len(res.Launched) == 1 {
			f.mu.Lock()
			f.n++
			f.mu.Unlock()
		}
	}
}

func (f *drfFramework) tasks() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// TestDRFWorkedExample reproduces the example of Ghodsi et al. (NSDI
// 2011) through real offers: 9 CPUs and 18 GB; A's tasks need <1 CPU,
// 4 GB>, B's <3 CPUs, 1 GB>; the cluster settles at A with 3 tasks and B
// with 2.
func TestDRFWorkedExample(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:9;mem:18432;disk:0"), sdktest.Simulated())
	a := &drfFramework{name: "a", shape: wire.Resources{CPUs: 1, MemMB: 4096}}
	b := &drfFramework{name: "b", shape: wire.Resources{CPUs: 3, MemMB: 1024}}
	c.RunDriver(t, wire.FrameworkInfo{Name: "A"}, a)
	c.RunDriver(t, wire.FrameworkInfo{Name: "B"}, b)
	leader := c.Leader()
	sdktest.Eventually(t, 10*time.Second, func() bool {
		n := 0
		for _, f := range leader.StateView().Frameworks {
			if f.Active {
				n++
			}
		}
		return n == 2
	}, "both frameworks subscribed")
	ctx := sdktest.Ctx(t, 30*time.Second)
	a.start(ctx)
	b.start(ctx)
	sdktest.Eventually(t, 10*time.Second, func() bool { return a.tasks() == 3 && b.tasks() == 2 },
		"A with 3 tasks and B with 2 (have %d and %d)", a.tasks(), b.tasks())
	// And it stays there: after more allocation passes, nothing more fits,
	// so nothing more launches.
	waitGrowth(t, "full allocation passes", 3, func() float64 { return allocationPasses(t, leader) })
	if a.tasks() != 3 || b.tasks() != 2 {
		t.Fatalf("allocation moved on to A=%d B=%d", a.tasks(), b.tasks())
	}
}

// TestOfferTimeout: an offer held past the offer timeout is rescinded (the
// framework gets RESCIND) and its resources offered again. The timeout is
// a minute on a fake clock, which the test advances.
func TestOfferTimeout(t *testing.T) {
	clk := newFakeClock()
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated(),
		sdktest.WithMasterConfig(func(mc *master.Config) {
			mc.Now = clk.Now
			mc.OfferTimeout = time.Minute
			// Framework silence is measured on the same clock: allow more
			// than the test advances it.
			mc.FrameworkHeartbeatInterval = time.Minute
		}))
	rec := sdktest.NewRecorder()
	d := c.RunDriver(t, wire.FrameworkInfo{Name: "hoarder"}, rec)
	rec.WaitSubscribed(t, 5*time.Second, 1)
	first := rec.TakeOffer(t, 5*time.Second, nil)
	clk.Advance(59 * time.Second)
	// Not yet: a full allocation pass (which expires offers) runs every
	// 200 ms; after several, the offer is still held.
	waitGrowth(t, "full allocation passes", 3, func() float64 { return allocationPasses(t, c.Leader()) })
	if slices.Contains(rec.Rescinded(), first.ID) {
		t.Fatal("offer rescinded before the offer timeout")
	}
	clk.Advance(2 * time.Second)
	sdktest.Eventually(t, 5*time.Second, func() bool { return slices.Contains(rec.Rescinded(), first.ID) }, "RESCIND of the expired offer")
	second := rec.TakeOffer(t, 5*time.Second, func(o wire.Offer) bool { return o.ID != first.ID })
	if !second.Resources.Equal(first.Resources) {
		t.Fatalf("re-offered %s, first offer held %s", second.Resources, first.Resources)
	}
	_, err := d.Launch(sdktest.Ctx(t, 5*time.Second), first, wire.TaskInfo{TaskID: "late", Resources: wire.Resources{CPUs: 0.1, MemMB: 8}, Sim: &wire.SimBehavior{}})
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeUnknownOffer {
		t.Fatalf("accepting a rescinded offer: %v", err)
	}
}

// TestFrameworkFailoverTimeout: a framework that disconnects keeps its
// tasks until its failover timeout; one that does not come back in time
// is removed and its tasks killed. Time is a fake clock the test advances.
func TestFrameworkFailoverTimeout(t *testing.T) {
	clk := newFakeClock()
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:2;mem:256"), sdktest.Simulated(),
		sdktest.WithMasterConfig(func(mc *master.Config) { mc.Now = clk.Now }))

	run := func(info wire.FrameworkInfo, rec *sdktest.Recorder) (*sdk.Driver, context.CancelFunc, chan struct{}) {
		d, err := sdk.NewDriver(sdk.Config{NATSURLs: c.NATSURLs(), Framework: info, Logger: sdktest.TestLogger(t)}, rec)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = d.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		return d, cancel, done
	}
	launch := func(d *sdk.Driver, rec *sdktest.Recorder, id wire.TaskID) {
		o := rec.TakeOffer(t, 5*time.Second, nil)
		task := wire.TaskInfo{TaskID: id, AgentID: o.AgentID, Resources: wire.Resources{CPUs: 0.5, MemMB: 32}, Sim: &wire.SimBehavior{Hang: true}}
		if _, err := d.Accept(sdktest.Ctx(t, 5*time.Second), []wire.OfferID{o.ID}, []wire.Operation{{Type: wire.OpLaunch, Tasks: []wire.TaskInfo{task}}}, sdk.Refuse(0)); err != nil {
			t.Fatal(err)
		}
		rec.WaitState(t, 5*time.Second, id, wire.TaskRunning)
	}
	leader := c.Leader()
	taskKnown := func(id wire.TaskID) bool {
		for _, tk := range leader.StateView().Tasks {
			if tk.ID == id {
				return true
			}
		}
		return false
	}

	// Framework 1 will come back within its timeout (30 min).
	info1 := wire.FrameworkInfo{ID: "fw-back", Name: "back", FailoverTimeout: wire.Duration(30 * time.Minute)}
	rec1 := sdktest.NewRecorder()
	d1, stop1, done1 := run(info1, rec1)
	rec1.WaitSubscribed(t, 5*time.Second, 1)
	launch(d1, rec1, "kept")
	// Give back what framework 1 holds, for long, so framework 2 gets it.
	sdktest.Eventually(t, 5*time.Second, func() bool { return len(rec1.Outstanding()) > 0 }, "the rest re-offered")
	for _, o := range rec1.Outstanding() {
		if err := d1.Decline(sdktest.Ctx(t, 5*time.Second), []wire.OfferID{o.ID}, 3600*24); err != nil {
			t.Fatal(err)
		}
	}
	// Framework 2 (10 min) will not.
	info2 := wire.FrameworkInfo{ID: "fw-gone", Name: "gone", FailoverTimeout: wire.Duration(10 * time.Minute)}
	rec2 := sdktest.NewRecorder()
	d2, stop2, done2 := run(info2, rec2)
	rec2.WaitSubscribed(t, 5*time.Second, 1)
	launch(d2, rec2, "doomed")

	stop1()
	<-done1
	stop2()
	<-done2
	// Silent for longer than five heartbeat intervals: disconnected. A
	// call of a stopped driver may still reach the leader after the clock
	// moved (it then counts as heard from): move it on a little, a few
	// times, until both are recorded.
	disconnected := func(id wire.FrameworkID) bool {
		fw, ok := leader.Registry().Framework(id)
		return ok && !fw.DisconnectedAt.IsZero()
	}
	for i := 0; !(disconnected("fw-back") && disconnected("fw-gone")); i++ {
		if i == 5 {
			t.Fatal("frameworks not recorded as disconnected")
		}
		clk.Advance(2 * time.Second)
		waitGrowth(t, "health checks", 2, func() float64 { return healthChecks(t, leader) })
	}
	// Nine minutes later both still hold their tasks.
	clk.Advance(9 * time.Minute)
	waitGrowth(t, "health checks", 3, func() float64 { return healthChecks(t, leader) })
	if _, ok := leader.Registry().Framework("fw-gone"); !ok || !taskKnown("doomed") {
		t.Fatalf("framework within its failover timeout removed (registered %v, task known %v)", ok, taskKnown("doomed"))
	}
	// Past fw-gone's 10 min: removed, and its task killed.
	clk.Advance(2 * time.Minute)
	sdktest.Eventually(t, 10*time.Second, func() bool {
		_, ok := leader.Registry().Framework("fw-gone")
		return !ok
	}, "framework past its failover timeout removed from the registry")
	sdktest.Eventually(t, 5*time.Second, func() bool { return !taskKnown("doomed") }, "its task killed")
	if !disconnected("fw-back") || !taskKnown("kept") {
		t.Fatalf("framework within its timeout: disconnected %v, task known %v", disconnected("fw-back"), taskKnown("kept"))
	}
	// It re-subscribes with the same ID and finds its task still running.
	rec1b := sdktest.NewRecorder()
	d1b, _, _ := run(info1, rec1b)
	rec1b.WaitSubscribed(t, 5*time.Second, 1)
	rec1b.WaitUpdate(t, 5*time.Second, func(s wire.TaskStatus) bool {
		return s.TaskID == "kept" && s.State == wire.TaskRunning && s.Reason == wire.ReasonReconciliation
	})
	if d1b.FrameworkID() != "fw-back" {
		t.Fatalf("resumed as %s", d1b.FrameworkID())
	}
	if disconnected("fw-back") {
		t.Fatal("re-subscribed framework still recorded as disconnected")
	}
}

// TestReconciliation: explicit and implicit reconciliation, an unknown
// task answered TASK_UNKNOWN, and — right after a failover, before the
// agent re-registered — no guessing: asked tasks are pending, an implicit
// reconciliation counts the awaited agents, and both are answered when
// the agent re-registers.
func TestReconciliation(t *testing.T) {
	// A long agent timeout keeps the re-registration window open for as
	// long as the test holds the agent off.
	c := sdktest.Start(t, sdktest.Masters(3), sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated(),
		sdktest.WithMasterConfig(func(mc *master.Config) { mc.AgentTimeout = time.Minute }))
	d, rec, o := c.RunTask(t, wire.FrameworkInfo{Name: "reconcile", FailoverTimeout: wire.Duration(time.Minute)},
		wire.TaskInfo{TaskID: "r1", Resources: wire.Resources{CPUs: 0.1, MemMB: 8}, Sim: &wire.SimBehavior{Hang: true}})
	ctx := sdktest.Ctx(t, 20*time.Second)

	mark := time.Now()
	res, err := d.Reconcile(ctx, wire.ReconcileTask{TaskID: "r1"}, wire.ReconcileTask{TaskID: "nope"})
	if err != nil || res.Answered != 2 {
		t.Fatalf("explicit: %+v %v", res, err)
	}
	rec.WaitUpdate(t, 5*time.Second, func(s wire.TaskStatus) bool {
		return s.TaskID == "r1" && s.State == wire.TaskRunning && s.Reason == wire.ReasonReconciliation && s.Timestamp.After(mark)
	})
	rec.WaitUpdate(t, 5*time.Second, func(s wire.TaskStatus) bool {
		return s.TaskID == "nope" && s.State == wire.TaskUnknown && s.Reason == wire.ReasonReconciliation
	})
	if res, err := d.Reconcile(ctx); err != nil || res.Answered != 1 {
		t.Fatalf("implicit: %+v %v", res, err)
	}

	// Keep the agent from re-registering with the next leader, then fail
	// over: the new leader must not guess about r1.
	c.StopAgent(0, false)
	c.KillLeader()
	if _, err := c.WaitLeader(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	rec.WaitSubscribed(t, 10*time.Second, 2)
	var pending wire.ReconcileResult
	sdktest.Eventually(t, 5*time.Second, func() bool {
		pending, err = d.Reconcile(ctx, wire.ReconcileTask{TaskID: "r1", AgentID: o.AgentID})
		return err == nil
	}, "reconcile call accepted by the new leader")
	if pending.Answered != 0 || len(pending.Pending) != 1 || pending.Pending[0] != "r1" {
		t.Fatalf("before re-registration: %+v, want r1 pending", pending)
	}
	// Without an agent ID, r1 (and a task nobody knows) may be on the
	// awaited agent: pending too, not TASK_UNKNOWN.
	mark = time.Now()
	res, err = d.Reconcile(ctx, wire.ReconcileTask{TaskID: "r1"}, wire.ReconcileTask{TaskID: "nope"})
	if err != nil || res.Answered != 0 || !slices.Equal(res.Pending, []wire.TaskID{"r1", "nope"}) {
		t.Fatalf("explicit without agent before re-registration: %+v %v, want r1 and nope pending", res, err)
	}
	// Implicit: nothing known yet, and it says one agent is awaited.
	if res, err = d.Reconcile(ctx); err != nil || res.Answered != 0 || res.AwaitedAgents != 1 {
		t.Fatalf("implicit before re-registration: %+v %v, want 0 answered and 1 awaited agent", res, err)
	}
	// A kill of a task the leader cannot place yet is refused, not answered.
	var we *wire.Error
	if err := d.Kill(ctx, "r1", ""); !errors.As(err, &we) || we.Code != wire.CodeUnavailable {
		t.Fatalf("kill of r1 without agent before re-registration: %v, want %s", err, wire.CodeUnavailable)
	}
	for _, u := range rec.Updates() {
		if u.Timestamp.After(mark) && u.TaskID == "r1" {
			t.Fatalf("r1 answered before its agent re-registered: %+v", u)
		}
	}
	if err := c.RestartAgent(0); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitAgentsRegistered(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	// The pending answers come without asking again: r1 as running (once
	// for all the asks), nope as unknown.
	rec.WaitUpdate(t, 5*time.Second, func(s wire.TaskStatus) bool {
		return s.TaskID == "r1" && s.State == wire.TaskRunning && s.Reason == wire.ReasonReconciliation && s.Timestamp.After(mark)
	})
	rec.WaitUpdate(t, 5*time.Second, func(s wire.TaskStatus) bool {
		return s.TaskID == "nope" && s.State == wire.TaskUnknown && s.Timestamp.After(mark)
	})
	mark = time.Now()
	if res, err := d.Reconcile(ctx, wire.ReconcileTask{TaskID: "r1", AgentID: o.AgentID}); err != nil || res.Answered != 1 {
		t.Fatalf("after re-registration: %+v %v", res, err)
	}
	rec.WaitUpdate(t, 5*time.Second, func(s wire.TaskStatus) bool {
		return s.TaskID == "r1" && s.State == wire.TaskRunning && s.Reason == wire.ReasonReconciliation && s.Timestamp.After(mark)
	})
}

// TestAgentLossRescindsItsOffers: draining an agent rescinds the offers of
// its resources, and so does losing one; other agents' offers stay.
func TestAgentLossRescindsItsOffers(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(3, "cpus:1;mem:256"), sdktest.Simulated())
	rec := sdktest.NewRecorder()
	c.RunDriver(t, wire.FrameworkInfo{Name: "holder"}, rec)
	rec.WaitSubscribed(t, 5*time.Second, 1)
	held := map[wire.AgentID]wire.OfferID{}
	sdktest.Eventually(t, 5*time.Second, func() bool {
		for _, o := range rec.Outstanding() {
			held[o.AgentID] = o.ID
		}
		return len(held) == 3
	}, "an offer from each of the 3 agents")
	ids := make([]wire.AgentID, 0, 3)
	for _, a := range c.Agents() {
		ids = append(ids, a.ID())
	}
	rescinded := func(id wire.OfferID) bool { return slices.Contains(rec.Rescinded(), id) }

	base := "http://" + c.Leader().HTTPAddr()
	if code, body := send(t, "POST", base+"/api/v1/agents/"+string(ids[0])+"/drain", `{}`); code != http.StatusOK {
		t.Fatalf("drain: HTTP %d %s", code, body)
	}
	sdktest.Eventually(t, 5*time.Second, func() bool { return rescinded(held[ids[0]]) }, "the drained agent's offer rescinded")

	c.StopAgent(1, false)
	sdktest.Eventually(t, 10*time.Second, func() bool { return rescinded(held[ids[1]]) }, "the lost agent's offer rescinded")
	if rescinded(held[ids[2]]) {
		t.Fatalf("the offer of %s, which nothing happened to, was rescinded", ids[2])
	}
}
