package sdktest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// A cluster of three masters and two simulated agents, started without a
// testing.T (in a test, sdktest.Start does this and the cleanup): a
// framework built on a Recorder runs a simulated task, the leader is
// killed, and the framework follows the new one.
func ExampleNew() {
	c, err := sdktest.New(sdktest.Config{
		Masters:        3,
		AgentResources: []wire.Resources{{CPUs: 2, MemMB: 1024, DiskMB: 1024}, {CPUs: 2, MemMB: 1024, DiskMB: 1024}},
		Simulated:      true,
		Fast:           true, // short raft and heartbeat timeouts
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if _, err := c.WaitLeader(10 * time.Second); err != nil {
		panic(err)
	}
	if err := c.WaitAgentsRegistered(10 * time.Second); err != nil {
		panic(err)
	}

	ended := make(chan wire.TaskStatus, 1)
	rec := sdktest.NewRecorder()
	launched := false
	rec.OnOffers = func(ctx context.Context, d *sdk.Driver, offers []wire.Offer) {
		if !launched {
			task := sdk.Task("t1").Shell("echo hi").CPUs(0.1).Mem(32).Simulate(50*time.Millisecond, 0)
			_, err := d.Launch(ctx, offers[0], task.Info())
			launched = err == nil
		}
	}
	rec.OnUpdate = func(_ context.Context, _ *sdk.Driver, s wire.TaskStatus) {
		if s.State.Terminal() {
			select {
			case ended <- s:
			default: // never block the driver
			}
		}
	}
	d, err := sdk.NewDriver(sdk.Config{NATSURLs: c.NATSURLs(), Framework: wire.FrameworkInfo{Name: "example"}}, rec)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	s := <-ended
	fmt.Println(s.TaskID, s.State)

	old := d.Leader()
	c.KillLeader()
	err = sdktest.WaitFor(20*time.Second, func() bool { return d.Leader().Term > old.Term })
	fmt.Println("follows the new leader:", err == nil && d.Leader().Name != old.Name)

	fmt.Println("stop:", d.Stop(ctx, false), <-done)
	// Output:
	// t1 TASK_FINISHED
	// follows the new leader: true
	// stop: <nil> <nil>
}
