package master_test

import (
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestLateRegistrationDoesNotResurrectAckedTask: an agent lists a task as
// ended, not yet acknowledged, in a registration that reaches the leader
// only after the framework acknowledged that end. The leader must not
// bring the task back (nothing would ever forget it again: the agent,
// acknowledged, does not resend). Found by the chaos run.
func TestLateRegistrationDoesNotResurrectAckedTask(t *testing.T) {
	c := sdktest.Start(t, sdktest.Simulated())
	nc := natsConn(t, c.NATSURLs()[0])
	subj := wire.NewSubjects(wire.DefaultPrefix)
	info := wire.AgentInfo{ID: "raw1", Hostname: "raw1", Resources: wire.Resources{CPUs: 1, MemMB: 256}}
	register := func(tasks ...wire.RunningTask) {
		t.Helper()
		b, err := wire.Encode(wire.TypeRegisterAgent, "raw1", 0, wire.RegisterAgent{Agent: info, Tasks: tasks})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := nc.Request(subj.FromAgent("raw1"), b, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		env, err := wire.Decode(resp.Data)
		if err != nil || env.Type != wire.TypeAgentRegistered {
			t.Fatalf("registration answered %v %v", env, err)
		}
	}
	inbox := make(chan *nats.Msg, 64)
	if _, err := nc.ChanSubscribe(subj.Agent("raw1"), inbox); err != nil {
		t.Fatal(err)
	}
	register()
	// Heartbeat as an agent does, so that it stays registered.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		hb, _ := wire.Encode(wire.TypeAgentHeartbeat, "raw1", 0, wire.AgentHeartbeat{})
		for {
			_ = nc.Publish(subj.FromAgent("raw1"), hb)
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()

	rec := sdktest.NewRecorder()
	d := c.RunDriver(t, wire.FrameworkInfo{Name: "late"}, rec)
	rec.WaitSubscribed(t, 5*time.Second, 1)
	o := rec.TakeOffer(t, 5*time.Second, func(o wire.Offer) bool { return o.AgentID == "raw1" })
	task := wire.TaskInfo{TaskID: "t1", Resources: wire.Resources{CPUs: 0.5, MemMB: 32}, Sim: &wire.SimBehavior{Hang: true}}
	if res, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, task); err != nil || len(res.Launched) != 1 {
		t.Fatalf("launch: %+v, %v", res, err)
	}
	// The agent's side by hand: the launch arrives, the task ends, the
	// end is reported and acknowledged.
	next := func(want ...wire.Type) wire.Envelope {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case m := <-inbox:
				env, err := wire.Decode(m.Data)
				if err == nil && slices.Contains(want, env.Type) {
					return env
				}
			case <-deadline:
				t.Fatalf("no %s for the agent", want)
			}
		}
	}
	next(wire.TypeLaunch)
	const uuid = "00000000000000000000000000000001"
	end := wire.StatusUpdate{FrameworkID: d.FrameworkID(), Status: wire.TaskStatus{TaskID: "t1", AgentID: "raw1",
		State: wire.TaskFinished, Source: wire.SourceAgent, UUID: uuid, Timestamp: time.Now()}}
	b, err := wire.Encode(wire.TypeStatusUpdate, "raw1", 0, end)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(subj.FromAgent("raw1"), b); err != nil {
		t.Fatal(err)
	}
	rec.WaitState(t, 5*time.Second, "t1", wire.TaskFinished)
	for acked := false; !acked; {
		env := next(wire.TypeStatusAck, wire.TypeStatusAcks)
		var one wire.StatusAck
		var many wire.StatusAcks
		if env.Type == wire.TypeStatusAck {
			acked = wire.DecodeBody(env, &one) == nil && one.UUID == uuid
		} else {
			acked = wire.DecodeBody(env, &many) == nil && slices.ContainsFunc(many.Acks, func(a wire.StatusAck) bool { return a.UUID == uuid })
		}
	}
	known := func() bool {
		for _, tv := range c.Leader().StateView().Tasks {
			if tv.ID == "t1" {
				return true
			}
		}
		return false
	}
	if known() {
		t.Fatal("the leader still lists t1 after its end was acknowledged")
	}

	// The stale registration, listing t1 as ended and unacknowledged.
	register(wire.RunningTask{FrameworkID: d.FrameworkID(), Task: task, State: wire.TaskFinished, UpdateUUID: uuid})
	if known() {
		t.Fatal("a late registration brought back t1, whose end was acknowledged")
	}
	// A task the leader never heard of is still learnt from a registration.
	other := wire.TaskInfo{TaskID: "t2", Resources: wire.Resources{CPUs: 0.1, MemMB: 8}, Sim: &wire.SimBehavior{Hang: true}}
	register(wire.RunningTask{FrameworkID: d.FrameworkID(), Task: other, State: wire.TaskRunning})
	found := false
	for _, tv := range c.Leader().StateView().Tasks {
		found = found || tv.ID == "t2" && tv.State == wire.TaskRunning
	}
	if !found {
		t.Fatal("a running task reported at registration is not listed")
	}
}
