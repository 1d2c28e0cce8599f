package master_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestLimits: a revive storm is rate limited with a clear error, and an
// ACCEPT with too many tasks is refused without using the offer.
func TestLimits(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated(),
		sdktest.WithMasterConfig(func(mc *master.Config) {
			mc.CallRate, mc.CallBurst, mc.MaxTasksPerAccept = 5, 20, 3
		}))
	d, _, o := c.Offered(t, wire.FrameworkInfo{Name: "limits"}, nil)
	ctx := sdktest.Ctx(t, 10*time.Second)

	var tasks []wire.TaskInfo
	for i := range 4 {
		tasks = append(tasks, wire.TaskInfo{TaskID: wire.TaskID(fmt.Sprint("t", i)), AgentID: o.AgentID,
			Resources: wire.Resources{CPUs: 0.1, MemMB: 8}, Sim: &wire.SimBehavior{Hang: true}})
	}
	_, err := d.Accept(ctx, []wire.OfferID{o.ID}, []wire.Operation{{Type: wire.OpLaunch, Tasks: tasks}}, wire.Filters{})
	var we *wire.Error
	if !errors.As(err, &we) || we.Code != wire.CodeInvalid {
		t.Fatalf("4 tasks with a limit of 3: %v", err)
	}
	// Nothing changed: the same offer still launches 3.
	if res, err := d.Accept(ctx, []wire.OfferID{o.ID}, []wire.Operation{{Type: wire.OpLaunch, Tasks: tasks[:3]}}, wire.Filters{}); err != nil || len(res.Launched) != 3 {
		t.Fatalf("3 tasks: %+v %v", res, err)
	}

	limited := 0
	for range 60 {
		if err := d.Revive(ctx); errors.As(err, &we) && we.Code == wire.CodeRateLimited {
			limited++
		}
	}
	if limited < 30 {
		t.Fatalf("only %d of 60 revives in a burst were limited at 5/s, burst 20", limited)
	}
}
