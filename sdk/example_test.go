package sdk_test

import (
	"context"
	"fmt"
	"time"

	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/constraint"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// once launches a single task and reports when it ends.
type once struct {
	sdk.BaseScheduler
	launched bool
	ended    chan wire.TaskStatus
}

func (s *once) Offers(ctx context.Context, d *sdk.Driver, offers []wire.Offer) {
	for _, o := range offers {
		if s.launched {
			_ = d.Decline(ctx, []wire.OfferID{o.ID}, 60)
			continue
		}
		task := sdk.Task("hello").Shell("echo hello").CPUs(0.1).Mem(32).Simulate(10*time.Millisecond, 0)
		if _, err := d.Launch(ctx, o, task.Info()); err == nil {
			s.launched = true
		}
	}
}

func (s *once) Update(ctx context.Context, d *sdk.Driver, st wire.TaskStatus) {
	if st.State.Terminal() {
		select {
		case s.ended <- st:
		default: // never block the driver
		}
	}
}

// A whole framework against an in-process cluster: subscribe, take an
// offer, launch a task, see it finish.
func ExampleDriver() {
	cluster, err := sdktest.New(sdktest.Config{
		Masters: 1, AgentResources: []wire.Resources{{CPUs: 1, MemMB: 256}}, Simulated: true, Fast: true,
	})
	if err != nil {
		panic(err)
	}
	defer cluster.Close()

	sched := &once{ended: make(chan wire.TaskStatus, 1)}
	d, err := sdk.NewDriver(sdk.Config{NATSURLs: cluster.NATSURLs(), Framework: wire.FrameworkInfo{Name: "example"}}, sched)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() { _ = d.Run(ctx) }()

	st := <-sched.ended
	fmt.Println(st.TaskID, st.State, *st.ExitCode)
	_ = d.Stop(ctx, false)
	// Output: hello TASK_FINISHED 0
}

// Pack places task requests into offers; Spread puts them on as many
// agents as it can.
func ExamplePack() {
	offers := []wire.Offer{
		{ID: "o1", AgentID: "a1", Resources: wire.Resources{CPUs: 4, MemMB: 4096, Ports: wire.Ranges{{Begin: 31000, End: 31009}}}},
		{ID: "o2", AgentID: "a2", Resources: wire.Resources{CPUs: 4, MemMB: 4096, Ports: wire.Ranges{{Begin: 32000, End: 32009}}}},
	}
	var tasks []*sdk.TaskBuilder
	for _, id := range []string{"web-1", "web-2", "web-3"} {
		tasks = append(tasks, sdk.Task(id).Shell("./server --port $PORT0").CPUs(1).Mem(512).Ports(1))
	}
	placed, unplaced := sdk.Pack(offers, tasks, sdk.PackOptions{Strategy: sdk.Spread})
	for _, p := range placed {
		for _, t := range p.Tasks {
			fmt.Println(t.TaskID, "on", t.AgentID, "port", t.Resources.Ports[0].Begin)
		}
	}
	fmt.Println("unplaced:", len(unplaced))
	// Output:
	// web-1 on a1 port 31000
	// web-3 on a1 port 31001
	// web-2 on a2 port 32000
	// unplaced: 0
}

// Task builds a task step by step; On places it on an offer's agent with
// the ports picked for it (Pack does that for you).
func ExampleTask() {
	b := sdk.Task("web-1").
		Shell("./server --port $PORT0").
		CPUs(0.5).Mem(128).Ports(1).
		Env("MODE", "prod").
		KillGrace(5 * time.Second)
	need, ports := b.Needs()
	fmt.Println("needs", need, "and", ports, "port")

	t := b.On("agent-1", wire.Ranges{{Begin: 31000, End: 31000}})
	fmt.Println(t.TaskID, "on", t.AgentID, "runs", t.Command.Value)
	fmt.Println("port", t.Resources.Ports, "env", t.Env, "grace", t.KillGrace.D())
	// Output:
	// needs cpus:0.5;mem:128;disk:0 and 1 port
	// web-1 on agent-1 runs ./server --port $PORT0
	// port [31000-31000] env map[MODE:prod] grace 5s
}

// A simulated task (on agents started with sdktest.Simulated) follows a
// script instead of running its command.
func ExampleTaskBuilder_Simulate() {
	sim := sdk.Task("batch-7").Shell("./work").CPUs(1).Mem(64).
		SimulateStartDelay(time.Second).Simulate(3*time.Second, 2).Info().Sim
	fmt.Println(sim.StartDelay.D(), sim.Duration.D(), sim.ExitCode, sim.Hang)

	hung := sdk.Task("stuck").SimulateHang().Info().Sim
	fmt.Println(hung.Hang)
	// Output:
	// 1s 3s 2 false
	// true
}

// RefuseJitter spreads declines between base and base·(1+jitter), so that
// resources declined together do not all come back at the same instant.
func ExampleRefuseJitter() {
	f := sdk.RefuseJitter(10*time.Second, 0.5)
	s := *f.RefuseSeconds
	fmt.Println(s >= 10 && s <= 15)
	// Output: true
}

// PackOptions.Fits can veto a placement; here a placement constraint keeps
// the tasks on distinct hosts.
func ExamplePack_constraint() {
	unique := constraint.MustParse("hostname:UNIQUE")
	offers := []wire.Offer{
		{ID: "o1", AgentID: "a1", Hostname: "host1", Resources: wire.Resources{CPUs: 8, MemMB: 8192}},
		{ID: "o2", AgentID: "a2", Hostname: "host2", Resources: wire.Resources{CPUs: 8, MemMB: 8192}},
	}
	var tasks []*sdk.TaskBuilder
	for _, id := range []string{"db-1", "db-2", "db-3"} {
		tasks = append(tasks, sdk.Task(id).Shell("./db").CPUs(1).Mem(1024))
	}
	var placed []constraint.Target // where this round placed tasks so far
	fits := func(_ *sdk.TaskBuilder, o wire.Offer, _ []wire.TaskInfo) bool {
		target := constraint.Target{Hostname: o.Hostname}
		if unique.Check(target, placed) != nil {
			return false
		}
		placed = append(placed, target)
		return true
	}
	got, unplaced := sdk.Pack(offers, tasks, sdk.PackOptions{Fits: fits})
	for _, p := range got {
		fmt.Println(p.Offer.Hostname, len(p.Tasks), "task")
	}
	fmt.Println("unplaced:", unplaced[0].Info().TaskID)
	// Output:
	// host1 1 task
	// host2 1 task
	// unplaced: db-3
}
