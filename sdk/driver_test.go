package sdk_test

import (
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/sdktest"
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
