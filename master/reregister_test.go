package master_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// rawAgent is an agent driven by hand over NATS, so that a test can send
// the leader registrations in any order.
type rawAgent struct {
	t     *testing.T
	nc    *nats.Conn
	subj  wire.Subjects
	info  wire.AgentInfo
	inbox chan *nats.Msg
}

// startRawAgent registers an agent with one cpu and heartbeats for it
// until the test ends.
func startRawAgent(t *testing.T, c *sdktest.Cluster, id wire.AgentID) *rawAgent {
	a := newRawAgent(t, c, id)
	a.register(wire.RegisterAgent{})
	a.heartbeat(200 * time.Millisecond)
	return a
}

// newRawAgent connects an agent that has not registered yet.
func newRawAgent(t *testing.T, c *sdktest.Cluster, id wire.AgentID) *rawAgent {
	t.Helper()
	a := &rawAgent{t: t, nc: natsConn(t, c.NATSURLs()[0]), subj: wire.NewSubjects(wire.DefaultPrefix),
		info:  wire.AgentInfo{ID: id, Hostname: string(id), Resources: wire.Resources{CPUs: 1, MemMB: 256}},
		inbox: make(chan *nats.Msg, 64)}
	if _, err := a.nc.ChanSubscribe(a.subj.Agent(id), a.inbox); err != nil {
		t.Fatal(err)
	}
	return a
}

// heartbeat heartbeats every d until the test ends or the returned stop
// is called.
func (a *rawAgent) heartbeat(d time.Duration) (stop func()) {
	done := make(chan struct{})
	var once sync.Once
	stop = func() { once.Do(func() { close(done) }) }
	a.t.Cleanup(stop)
	go func() {
		hb, _ := wire.Encode(wire.TypeAgentHeartbeat, string(a.info.ID), 0, wire.AgentHeartbeat{AgentID: a.info.ID})
		for {
			_ = a.nc.Publish(a.subj.FromAgent(a.info.ID), hb)
			select {
			case <-done:
				return
			case <-time.After(d):
			}
		}
	}()
	return stop
}

// register sends req (its Agent filled in) and returns the answer.
func (a *rawAgent) register(req wire.RegisterAgent) wire.AgentRegistered {
	a.t.Helper()
	req.Agent = a.info
	b, err := wire.Encode(wire.TypeRegisterAgent, string(a.info.ID), 0, req)
	if err != nil {
		a.t.Fatal(err)
	}
	resp, err := a.nc.Request(a.subj.FromAgent(a.info.ID), b, 5*time.Second)
	if err != nil {
		a.t.Fatal(err)
	}
	var reg wire.AgentRegistered
	env, err := wire.DecodeAs(resp.Data, wire.TypeAgentRegistered, &reg)
	if err != nil {
		a.t.Fatalf("registration answered %v %v", env, err)
	}
	return reg
}

// send publishes a message as the agent.
func (a *rawAgent) send(typ wire.Type, body any) {
	a.t.Helper()
	b, err := wire.Encode(typ, string(a.info.ID), 0, body)
	if err != nil {
		a.t.Fatal(err)
	}
	if err := a.nc.Publish(a.subj.FromAgent(a.info.ID), b); err != nil {
		a.t.Fatal(err)
	}
}

// next returns the next message of one of the types for the agent.
func (a *rawAgent) next(want ...wire.Type) wire.Envelope {
	a.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-a.inbox:
			env, err := wire.Decode(m.Data)
			if err == nil && slices.Contains(want, env.Type) {
				return env
			}
		case <-deadline:
			a.t.Fatalf("no %s for the agent", want)
		}
	}
}

// launchOnRawAgent starts a cluster with a hand-driven agent raw1 and a
// framework, which launches task t1 (hanging) on raw1.
func launchOnRawAgent(t *testing.T, fw string) (*sdktest.Cluster, *rawAgent, *sdk.Driver, *sdktest.Recorder, wire.TaskInfo) {
	t.Helper()
	c := sdktest.Start(t, sdktest.Simulated())
	a := startRawAgent(t, c, "raw1")
	rec := sdktest.NewRecorder()
	d := c.RunDriver(t, wire.FrameworkInfo{Name: fw}, rec)
	rec.WaitSubscribed(t, 5*time.Second, 1)
	o := rec.TakeOffer(t, 5*time.Second, func(o wire.Offer) bool { return o.AgentID == "raw1" })
	task := wire.TaskInfo{TaskID: "t1", Resources: wire.Resources{CPUs: 0.5, MemMB: 32}, Sim: &wire.SimBehavior{Hang: true}}
	if res, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, task); err != nil || len(res.Launched) != 1 {
		t.Fatalf("launch: %+v, %v", res, err)
	}
	return c, a, d, rec, task
}

// leaderTask returns the leader's view of a task.
func leaderTask(c *sdktest.Cluster, id wire.TaskID) (wire.TaskState, bool) {
	for _, tv := range c.Leader().StateView().Tasks {
		if tv.ID == id {
			return tv.State, true
		}
	}
	return "", false
}

// TestLateRegistrationDoesNotResurrectAckedTask: an agent lists a task as
// ended, not yet acknowledged, in a registration that reaches the leader
// only after the framework acknowledged that end. The leader must not
// bring the task back (nothing would ever forget it again: the agent,
// acknowledged, does not resend). Found by the chaos run.
func TestLateRegistrationDoesNotResurrectAckedTask(t *testing.T) {
	c, a, d, rec, task := launchOnRawAgent(t, "late")
	// The agent's side by hand: the launch arrives, the task ends, the
	// end is reported and acknowledged.
	a.next(wire.TypeLaunch)
	const uuid = "00000000000000000000000000000001"
	a.send(wire.TypeStatusUpdate, wire.StatusUpdate{FrameworkID: d.FrameworkID(), Status: wire.TaskStatus{TaskID: "t1", AgentID: "raw1",
		State: wire.TaskFinished, Source: wire.SourceAgent, UUID: uuid, Timestamp: time.Now()}})
	rec.WaitState(t, 5*time.Second, "t1", wire.TaskFinished)
	for acked := false; !acked; {
		env := a.next(wire.TypeStatusAck, wire.TypeStatusAcks)
		var one wire.StatusAck
		var many wire.StatusAcks
		if env.Type == wire.TypeStatusAck {
			acked = wire.DecodeBody(env, &one) == nil && one.UUID == uuid
		} else {
			acked = wire.DecodeBody(env, &many) == nil && slices.ContainsFunc(many.Acks, func(a wire.StatusAck) bool { return a.UUID == uuid })
		}
	}
	if _, known := leaderTask(c, "t1"); known {
		t.Fatal("the leader still lists t1 after its end was acknowledged")
	}

	// The stale registration, listing t1 as ended and unacknowledged.
	a.register(wire.RegisterAgent{Tasks: []wire.RunningTask{{FrameworkID: d.FrameworkID(), Task: task, State: wire.TaskFinished, UpdateUUID: uuid}}})
	if _, known := leaderTask(c, "t1"); known {
		t.Fatal("a late registration brought back t1, whose end was acknowledged")
	}
	// A task the leader never heard of is still learnt from a registration.
	other := wire.TaskInfo{TaskID: "t2", Resources: wire.Resources{CPUs: 0.1, MemMB: 8}, Sim: &wire.SimBehavior{Hang: true}}
	a.register(wire.RegisterAgent{Tasks: []wire.RunningTask{{FrameworkID: d.FrameworkID(), Task: other, State: wire.TaskRunning}}})
	if st, _ := leaderTask(c, "t2"); st != wire.TaskRunning {
		t.Fatalf("a running task reported at registration is %q, want TASK_RUNNING", st)
	}
}

// TestRegistrationsBeforeLaunchDoNotLoseTask: after a partition heals, an
// agent can send several registrations in a row; those it listed before it
// handled a LAUNCH do not list the launched task, however many there are.
// The task is lost only when a registration listed after the LAUNCH (the
// agent echoes the LAUNCH's number) omits it. Found by the chaos run.
func TestRegistrationsBeforeLaunchDoNotLoseTask(t *testing.T) {
	c, a, d, rec, task := launchOnRawAgent(t, "seq")
	env := a.next(wire.TypeLaunch)
	var launch wire.Launch
	if err := wire.DecodeBody(env, &launch); err != nil || launch.Seq == 0 {
		t.Fatalf("LAUNCH %+v (%v): want a number", launch, err)
	}

	// Three registrations listed before the LAUNCH was handled: one that
	// has seen nothing of this leader, two that saw earlier numbers.
	a.register(wire.RegisterAgent{})
	a.register(wire.RegisterAgent{SeenTerm: env.Term, SeenSeq: launch.Seq - 1})
	a.register(wire.RegisterAgent{SeenTerm: env.Term - 1, SeenSeq: launch.Seq + 5})
	if st, known := leaderTask(c, "t1"); !known || st.Terminal() {
		t.Fatalf("t1 is %q (known %v) after registrations that predate its launch; want it kept", st, known)
	}
	// The leader asks for a registration numbered after the LAUNCH.
	var rr wire.Reregister
	for rr.Seq <= launch.Seq {
		if err := wire.DecodeBody(a.next(wire.TypeReregister), &rr); err != nil {
			t.Fatal(err)
		}
	}
	if n := metricValue(t, c.Leader(), `agora_master_reregister_requests_total{reason="unsettled"}`); n < 1 {
		t.Fatalf("%v REREGISTERs counted for an unsettled launch, want at least 1", n)
	}
	// A registration that has seen the LAUNCH and lists the task keeps it;
	// one that has seen it and does not list it loses it.
	running := wire.RunningTask{FrameworkID: d.FrameworkID(), Task: task, State: wire.TaskRunning}
	a.register(wire.RegisterAgent{Tasks: []wire.RunningTask{running}, SeenTerm: env.Term, SeenSeq: launch.Seq})
	if st, _ := leaderTask(c, "t1"); st != wire.TaskRunning {
		t.Fatalf("t1 is %q after a registration listing it running", st)
	}
	for _, u := range rec.Updates() {
		if u.TaskID == "t1" && u.State.Terminal() {
			t.Fatalf("the framework was told %s about t1, which runs", u.State)
		}
	}
	a.register(wire.RegisterAgent{SeenTerm: env.Term, SeenSeq: rr.Seq})
	lost := rec.WaitState(t, 5*time.Second, "t1", wire.TaskLost)
	if lost.Reason != wire.ReasonAgentRestarted {
		t.Fatalf("t1 lost with reason %q, want %q", lost.Reason, wire.ReasonAgentRestarted)
	}
}

// TestNewLeaderLetsAgentsRegisterInTheirSpread: a new leader does not ask
// an agent it has not registered yet to register while the agent is still
// within the spread of the leader's first announcement (the agent comes by
// itself; an ask would cross its registration and make it register
// twice); after the spread and one more announcement interval it asks.
func TestNewLeaderLetsAgentsRegisterInTheirSpread(t *testing.T) {
	c := sdktest.Start(t, sdktest.WithMasterConfig(func(mc *master.Config) { mc.AnnounceInterval = 5 * time.Second }))
	a := newRawAgent(t, c, "late1")
	hb, err := wire.Encode(wire.TypeAgentHeartbeat, "late1", 0, wire.AgentHeartbeat{AgentID: "late1"})
	if err != nil {
		t.Fatal(err)
	}
	// Ten heartbeats, 100 ms apart, all within 5 s of the election.
	for i := 0; i < 10; i++ {
		if err := a.nc.Publish(a.subj.FromAgent("late1"), hb); err != nil {
			t.Fatal(err)
		}
		if err := a.nc.Flush(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for len(a.inbox) > 0 {
		if env, err := wire.Decode((<-a.inbox).Data); err == nil && env.Type == wire.TypeReregister {
			t.Fatal("the new leader asked an unregistered agent to register within its announcement's spread")
		}
	}
	unknown := func() float64 {
		return metricValue(t, c.Leader(), `agora_master_reregister_requests_total{reason="unknown_agent"}`)
	}
	if n := unknown(); n != 0 {
		t.Fatalf("%v REREGISTERs counted within the spread, want 0", n)
	}
	stop := a.heartbeat(100 * time.Millisecond)
	defer stop()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m := <-a.inbox:
			if env, err := wire.Decode(m.Data); err == nil && env.Type == wire.TypeReregister {
				if n := unknown(); n < 1 {
					t.Fatalf("%v REREGISTERs counted for an unknown agent, want at least 1", n)
				}
				return
			}
		case <-deadline:
			t.Fatal("the leader never asked the heartbeating, unregistered agent to register")
		}
	}
}

// TestUnregisteredAgentAskedOncePerInterval: an agent the leader has not
// registered is asked to register once per heartbeat interval, however
// many heartbeats it sends meanwhile (on a loaded leader each ask used to
// bring another registration).
func TestUnregisteredAgentAskedOncePerInterval(t *testing.T) {
	c := sdktest.Start(t, sdktest.WithMasterConfig(func(mc *master.Config) { mc.AgentHeartbeatInterval = 10 * time.Second }))
	a := newRawAgent(t, c, "unasked1")
	// Heartbeat until the leader, past its announcement's window, asks.
	stop := a.heartbeat(100 * time.Millisecond)
	a.next(wire.TypeReregister)
	stop()
	for range 20 {
		a.send(wire.TypeAgentHeartbeat, wire.AgentHeartbeat{AgentID: a.info.ID})
	}
	// Messages from one agent are handled in order: once the registration
	// is answered, the heartbeats before it were handled, and what they
	// brought was sent before the answer.
	a.register(wire.RegisterAgent{})
	asks := 0
	for len(a.inbox) > 0 {
		if env, err := wire.Decode((<-a.inbox).Data); err == nil && env.Type == wire.TypeReregister {
			asks++
		}
	}
	if asks != 0 {
		t.Fatalf("%d more REREGISTERs for 20 heartbeats within the heartbeat interval of the first ask, want 0", asks)
	}
	if n := metricValue(t, c.Leader(), `agora_master_reregister_requests_total{reason="unknown_agent"}`); n != 1 {
		t.Fatalf("%v REREGISTERs counted, want 1", n)
	}
}

// TestRegisteringAgentNotAsked: an agent whose registration the leader has
// received but not yet handled is not asked to register again by its
// heartbeats meanwhile.
func TestRegisteringAgentNotAsked(t *testing.T) {
	c := sdktest.Start(t)
	a := newRawAgent(t, c, "waiting1")
	// Past the leader's announcement window: an unknown agent's heartbeat
	// is answered with a REREGISTER.
	stop := a.heartbeat(100 * time.Millisecond)
	a.next(wire.TypeReregister)
	stop()
	for len(a.inbox) > 0 {
		<-a.inbox
	}
	asked := metricValue(t, c.Leader(), `agora_master_reregister_requests_total{reason="unknown_agent"}`)

	// Released at the latest when the test ends, before the cluster stops
	// (cleanups run last registered first).
	var once sync.Once
	hold := c.Leader().HoldAgent("waiting1")
	release := func() { once.Do(hold) }
	t.Cleanup(release)
	answered := make(chan error, 1)
	go func() {
		reg := wire.MustEncode(wire.TypeRegisterAgent, "waiting1", 0, wire.RegisterAgent{Agent: a.info})
		_, err := a.nc.Request(a.subj.FromAgent("waiting1"), reg, 10*time.Second)
		answered <- err
	}()
	// The registration is received (and waits for the held lock) once
	// it is counted as waiting. Then heartbeats arrive, 100 ms apart for
	// 1.5 s: fifteen of the test cluster's heartbeat intervals (100 ms),
	// each of which, without the check, allows another ask.
	if err := sdktest.WaitFor(5*time.Second, func() bool { return c.Leader().RegistrationsWaiting("waiting1") == 1 }); err != nil {
		t.Fatal("the registration never reached the leader")
	}
	for range 15 {
		a.send(wire.TypeAgentHeartbeat, wire.AgentHeartbeat{AgentID: a.info.ID})
		time.Sleep(100 * time.Millisecond)
	}
	release()
	if err := <-answered; err != nil {
		t.Fatalf("registration: %v", err)
	}
	if n := metricValue(t, c.Leader(), `agora_master_reregister_requests_total{reason="unknown_agent"}`); n != asked {
		t.Fatalf("%v REREGISTERs sent while the registration waited, want 0", n-asked)
	}
}

// TestDeposedLeaderAnswersRegistration: a leader that stepped down while
// a framework's SUBSCRIBE waited answers NOT_LEADER, whether it needed a
// raft write (a new framework) or not (one it knew), instead of leaving
// the framework to wait out its call's timeout; so does one whose raft
// write for a new agent's registration failed. (A known agent's
// registration a deposed leader leaves unanswered: the agent's request
// times out, and it registers with the next leader.)
func TestDeposedLeaderAnswersRegistration(t *testing.T) {
	c := sdktest.Start(t, sdktest.Simulated())
	fresh := newRawAgent(t, c, "raw1")
	rec := sdktest.NewRecorder()
	d := c.RunDriver(t, wire.FrameworkInfo{Name: "subscribed"}, rec)
	rec.WaitSubscribed(t, 5*time.Second, 1)
	nc := fresh.nc
	handed := make(chan *nats.Msg, 1)
	sub, err := nc.ChanSubscribe("deposed.requests", handed)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	subscribed, ok := c.Leader().RegisteredFramework(d.FrameworkID())
	if !ok {
		t.Fatal("the subscribed framework is not in the registry")
	}
	register := func(a *rawAgent) []byte {
		return wire.MustEncode(wire.TypeRegisterAgent, string(a.info.ID), 0, wire.RegisterAgent{Agent: a.info})
	}
	subscribe := func(fw wire.FrameworkInfo) []byte {
		return wire.MustEncode(wire.TypeSubscribe, string(fw.ID), 0, wire.Subscribe{Framework: fw})
	}
	requests := []struct {
		name string
		data []byte
	}{
		{"registration of a new agent", register(fresh)},
		{"SUBSCRIBE of a known framework", subscribe(subscribed)},
		{"SUBSCRIBE of a new framework", subscribe(wire.FrameworkInfo{ID: "fw-new", Name: "new"})},
	}
	for _, r := range requests {
		name, b := r.name, r.data
		answered := make(chan *nats.Msg, 1)
		go func() {
			// To a subject only the test serves, so that no live leader
			// answers it.
			resp, err := nc.Request("deposed.requests", b, 5*time.Second)
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			answered <- resp
		}()
		select {
		case msg := <-handed:
			if err := c.Leader().HandToDeposedLeader(1, msg); err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s did not arrive", name)
		}
		resp := <-answered
		if resp == nil {
			continue // reported
		}
		env, err := wire.Decode(resp.Data)
		if err != nil {
			t.Fatal(err)
		}
		var we *wire.Error
		if err := wire.ReplyError(env); !errors.As(err, &we) || we.Code != wire.CodeNotLeader {
			t.Errorf("%s: answered %s %v, want NOT_LEADER", name, env.Type, err)
		}
	}
}

// TestRegistrationsCounted: the leader counts registrations by kind — a new
// agent is admitted, its next registration with the same leader is a
// repeat, one with other resources is admitted again (the registry is
// written), and a known agent's first registration with a new leader is a
// reregistration.
func TestRegistrationsCounted(t *testing.T) {
	c := sdktest.Start(t, sdktest.Simulated(), sdktest.Masters(3))
	a := newRawAgent(t, c, "raw1")
	count := func(m *master.Master, kind string) float64 {
		return metricValue(t, m, `agora_master_agent_registrations_total{kind="`+kind+`"}`)
	}
	want := func(m *master.Master, admitted, reregistered, repeated float64) {
		t.Helper()
		got := [3]float64{count(m, "admitted"), count(m, "reregistered"), count(m, "repeated")}
		if got != [3]float64{admitted, reregistered, repeated} {
			t.Fatalf("%s: admitted, reregistered, repeated = %v, want %v", m.Name(), got, [3]float64{admitted, reregistered, repeated})
		}
	}
	first := c.Leader()
	a.register(wire.RegisterAgent{})
	want(first, 1, 0, 0)
	a.register(wire.RegisterAgent{})
	want(first, 1, 0, 1)
	a.info.Resources.CPUs = 2
	a.register(wire.RegisterAgent{})
	want(first, 2, 0, 1)

	killed := c.KillLeader()
	next, err := c.WaitLeader(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a.nc = natsConn(t, c.NATSURLs()[(killed+1)%3]) // its server may be the killed master's
	a.register(wire.RegisterAgent{})
	want(next, 0, 1, 0)
}

// TestRepeatedRegistrationKeepsOffers: a registration that repeats what the
// leader knows of an agent (a retry whose answer came late, or one asked
// for while the first was on its way) is answered without rebuilding the
// agent, which would rescind its outstanding offer.
func TestRepeatedRegistrationKeepsOffers(t *testing.T) {
	c, a, d, rec, task := launchOnRawAgent(t, "repeat")
	a.next(wire.TypeLaunch)
	a.send(wire.TypeStatusUpdate, wire.StatusUpdate{FrameworkID: d.FrameworkID(), Status: wire.TaskStatus{TaskID: "t1", AgentID: "raw1",
		State: wire.TaskRunning, Source: wire.SourceAgent, UUID: "00000000000000000000000000000001", Timestamp: time.Now()}})
	rec.WaitState(t, 5*time.Second, "t1", wire.TaskRunning)
	running := []wire.RunningTask{{FrameworkID: d.FrameworkID(), Task: task, State: wire.TaskRunning}}
	o := rec.TakeOffer(t, 5*time.Second, func(o wire.Offer) bool { return o.AgentID == "raw1" })

	a.register(wire.RegisterAgent{Tasks: running})
	if n := metricValue(t, c.Leader(), `agora_master_agent_registrations_total{kind="repeated"}`); n != 1 {
		t.Fatalf("%v repeated registrations counted, want 1", n)
	}
	small := wire.TaskInfo{TaskID: "t2", Resources: wire.Resources{CPUs: 0.1, MemMB: 8}, Sim: &wire.SimBehavior{Hang: true}}
	if res, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, small); err != nil || len(res.Launched) != 1 {
		t.Fatalf("launch on the offer made before the repeated registration: %+v, %v", res, err)
	}
}
