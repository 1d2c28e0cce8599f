package master_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestHeartbeatIntervalGrowsWithAgents: with at most 10 heartbeats a
// second asked of all agents, the first agent heartbeats every 100 ms (the
// configured interval), the second every 200 ms, the third every 300 ms
// (and they spread their registrations over 20, 40 and 60 ms); one that
// falls silent is still found unreachable, and the others are not.
func TestHeartbeatIntervalGrowsWithAgents(t *testing.T) {
	c := sdktest.Start(t, sdktest.Agents(0, ""), sdktest.WithMasterConfig(func(mc *master.Config) {
		mc.AgentHeartbeatInterval, mc.AgentTimeout, mc.MaxAgentHeartbeats = 100*time.Millisecond, time.Second, 10
	}))
	var stops []func()
	for i, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond} {
		a := newRawAgent(t, c, wire.AgentID([]string{"h1", "h2", "h3"}[i]))
		reg := a.register(wire.RegisterAgent{})
		if got := reg.HeartbeatInterval.D(); got != want {
			t.Fatalf("agent %d of 3 told to heartbeat every %s, want %s", i+1, got, want)
		}
		// 50 registrations a second (5 × 10): 20 ms per agent.
		if got, want := reg.RegisterSpread.D(), time.Duration(i+1)*20*time.Millisecond; got != want {
			t.Fatalf("agent %d of 3 told to spread its registrations over %s, want %s", i+1, got, want)
		}
		stops = append(stops, a.heartbeat(50*time.Millisecond))
	}
	state := func(id wire.AgentID) string {
		for _, av := range c.Leader().StateView().Agents {
			if av.ID == id {
				return av.State
			}
		}
		return ""
	}
	stops[0]()
	sdktest.Eventually(t, 10*time.Second, func() bool { return state("h1") == "UNREACHABLE" }, "h1 unreachable")
	for _, id := range []wire.AgentID{"h2", "h3"} {
		if st := state(id); st != "ACTIVE" {
			t.Fatalf("%s, heartbeating, is %s", id, st)
		}
	}
}

// TestAgentsAdoptAnnouncedHeartbeat: an agent registered while the
// cluster was small slows its heartbeat when the leader announces a
// longer interval for the grown cluster.
func TestAgentsAdoptAnnouncedHeartbeat(t *testing.T) {
	c := sdktest.Start(t, sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated(), sdktest.WithMasterConfig(func(mc *master.Config) {
		mc.AgentHeartbeatInterval, mc.MaxAgentHeartbeats = 100*time.Millisecond, 10
	}))
	real := c.Agents()[0]
	if got := real.HeartbeatInterval(); got != 100*time.Millisecond {
		t.Fatalf("the first agent heartbeats every %s, want 100ms", got)
	}
	for _, id := range []wire.AgentID{"g1", "g2", "g3"} {
		a := newRawAgent(t, c, id)
		a.register(wire.RegisterAgent{})
		a.heartbeat(50 * time.Millisecond)
	}
	// Four agents, ten heartbeats a second in all: every 400 ms.
	sdktest.Eventually(t, 10*time.Second, func() bool { return real.HeartbeatInterval() == 400*time.Millisecond },
		"the first agent heartbeating every 400ms (now %s)", real.HeartbeatInterval())
	// It stays registered and ACTIVE at that pace.
	if ok, _ := real.Registered(); !ok {
		t.Fatal("the agent is not registered any more")
	}
}

// TestAnnouncementsSlowWithHeartbeats: once the cluster is large enough
// for agents to heartbeat less often, the leader announces itself less
// often in proportion (here every 4 × 200 ms), as announcements reach
// every agent too.
func TestAnnouncementsSlowWithHeartbeats(t *testing.T) {
	c := sdktest.Start(t, sdktest.Agents(1, "cpus:1;mem:256"), sdktest.Simulated(), sdktest.WithMasterConfig(func(mc *master.Config) {
		mc.AgentHeartbeatInterval, mc.MaxAgentHeartbeats, mc.AnnounceInterval = 100*time.Millisecond, 10, 200*time.Millisecond
	}))
	nc, err := nats.Connect(c.NATSURLs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	arrived := make(chan time.Duration, 100)
	if _, err := nc.Subscribe(wire.NewSubjects("").Leader(), func(m *nats.Msg) {
		var li wire.LeaderInfo
		if _, err := wire.DecodeAs(m.Data, wire.TypeLeader, &li); err == nil {
			arrived <- li.AgentHeartbeat.D()
		}
	}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []wire.AgentID{"g1", "g2", "g3"} {
		a := newRawAgent(t, c, id)
		a.register(wire.RegisterAgent{})
		a.heartbeat(50 * time.Millisecond)
	}
	// Four agents, ten heartbeats a second in all: every 400 ms, four
	// times the configured 100 ms; announcements every 800 ms.
	deadline := time.After(20 * time.Second)
	var last time.Time
	var gaps []time.Duration
	for len(gaps) < 3 {
		select {
		case every := <-arrived:
			now := time.Now()
			if every == 400*time.Millisecond && !last.IsZero() {
				gaps = append(gaps, now.Sub(last))
			}
			if every == 400*time.Millisecond {
				last = now
			}
		case <-deadline:
			t.Fatalf("fewer than four announcements asking for 400ms heartbeats within 20 s (gaps %v)", gaps)
		}
	}
	for _, g := range gaps {
		// 800 ms apart; at the configured 200 ms they would be 200 ms
		// apart. Delivery jitter may shorten one gap a little.
		if g < 600*time.Millisecond {
			t.Fatalf("announcements %s apart (all gaps %v), want about 800ms", g, gaps)
		}
	}
}
