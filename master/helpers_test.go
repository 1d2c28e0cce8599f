package master_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

func natsConn(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// runHanging subscribes a framework and launches one simulated task that
// runs until killed, using res of the first offer; it returns once the
// task is RUNNING, with the offer it used.
func runHanging(t *testing.T, c *sdktest.Cluster, fw wire.FrameworkInfo, id wire.TaskID, res wire.Resources) (*sdk.Driver, *sdktest.Recorder, wire.Offer) {
	t.Helper()
	rec := sdktest.NewRecorder()
	d := c.RunDriver(t, fw, rec)
	rec.WaitSubscribed(t, 5*time.Second, 1)
	o := rec.TakeOffer(t, 5*time.Second, nil)
	task := wire.TaskInfo{TaskID: id, Resources: res, Sim: &wire.SimBehavior{Hang: true}}
	if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, task); err != nil {
		t.Fatal(err)
	}
	rec.WaitState(t, 5*time.Second, id, wire.TaskRunning)
	return d, rec, o
}
