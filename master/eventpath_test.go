package master_test

import (
	"testing"
	"time"

	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestEventsTriggerOffers: with the periodic allocation pass an hour
// apart, a freed resource, a new agent, a REVIVE and an expired decline
// filter each still lead to an offer at once — and no periodic pass ran.
func TestEventsTriggerOffers(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated(),
		sdktest.WithMasterConfig(func(mc *master.Config) { mc.AllocationInterval = time.Hour }))
	rec := sdktest.NewRecorder()
	d := c.RunDriver(t, wire.FrameworkInfo{Name: "events"}, rec)
	rec.WaitSubscribed(t, 5*time.Second, 1)
	ctx := sdktest.Ctx(t, 20*time.Second)
	first := c.Agents()[0].ID()
	on := func(agent wire.AgentID) func(wire.Offer) bool {
		return func(o wire.Offer) bool { return o.AgentID == agent }
	}

	// A freed resource: a task takes the whole agent, is killed, and its
	// resources come back as an offer.
	o := rec.TakeOffer(t, 5*time.Second, on(first))
	task := wire.TaskInfo{TaskID: "all", Resources: o.Resources, Sim: &wire.SimBehavior{Hang: true}}
	if res, err := d.Launch(ctx, o, task); err != nil || len(res.Launched) != 1 {
		t.Fatalf("launch: %+v %v", res, err)
	}
	rec.WaitState(t, 5*time.Second, "all", wire.TaskRunning)
	if err := d.Kill(ctx, "all", first); err != nil {
		t.Fatal(err)
	}
	rec.WaitState(t, 5*time.Second, "all", wire.TaskKilled)
	freed := rec.TakeOffer(t, 5*time.Second, on(first))

	// A new agent.
	startRawAgent(t, c, "raw-new")
	rec.TakeOffer(t, 5*time.Second, on("raw-new"))

	// REVIVE after a long decline.
	if err := d.Decline(ctx, []wire.OfferID{freed.ID}, 3600); err != nil {
		t.Fatal(err)
	}
	if err := d.Revive(ctx); err != nil {
		t.Fatal(err)
	}
	revived := rec.TakeOffer(t, 5*time.Second, on(first))

	// An expired filter.
	if err := d.Decline(ctx, []wire.OfferID{revived.ID}, 0.3); err != nil {
		t.Fatal(err)
	}
	declinedAt := time.Now()
	rec.TakeOffer(t, 5*time.Second, on(first))
	if waited := time.Since(declinedAt); waited < 250*time.Millisecond {
		t.Fatalf("re-offered %s after a 0.3 s filter", waited)
	}

	if n := allocationPasses(t, c.Leader()); n != 0 {
		t.Fatalf("%v periodic allocation passes ran; the offers must come from events", n)
	}
}
