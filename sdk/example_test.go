package sdk_test

import (
	"context"
	"fmt"
	"time"

	"github.com/agora-cluster/agora/sdk"
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
		s.ended <- st
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
