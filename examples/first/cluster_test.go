package main

import (
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// The README's "Test a framework against a real cluster" is the function
// below, verbatim (TestREADMEIncludesClusterTest).

func TestAgainstCluster(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(3), sdktest.Agents(2, "cpus:2;mem:1024"))
	rec := sdktest.NewRecorder() // a Scheduler that records events
	d := c.RunDriver(t, wire.FrameworkInfo{Name: "x"}, rec)
	o := rec.TakeOffer(t, 5*time.Second, nil)
	task := sdk.Task("t1").Shell("echo hi").CPUs(0.1).Mem(32).Info()
	if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, task); err != nil {
		t.Fatal(err)
	}
	rec.WaitState(t, 10*time.Second, "t1", wire.TaskFinished)
	c.KillLeader()                           // failover, in-process
	rec.WaitSubscribed(t, 10*time.Second, 2) // the driver follows the new leader
}
