package master_test

import (
	"testing"
	"time"

	"github.com/agora-cluster/agora/master"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestHeartbeatIntervalGrowsWithAgents: with at most 10 heartbeats a
// second asked of all agents, the first agent heartbeats every 100 ms (the
// configured interval), the second every 200 ms, the third every 300 ms
// (and they spread their registrations over 20, 40 and 60 ms);
// and an agent told 300 ms may stay silent three times as long as one told
// 100 ms before it is unreachable.
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
	// All three fall silent at once: h1 is unreachable after 1 s, h3 only
	// after 3 s.
	for _, stop := range stops {
		stop()
	}
	sdktest.Eventually(t, 10*time.Second, func() bool { return state("h1") == "UNREACHABLE" }, "h1 unreachable")
	if st := state("h3"); st != "ACTIVE" {
		t.Fatalf("h3, told to heartbeat every 300 ms, is %s when h1 (100 ms) became unreachable; want ACTIVE", st)
	}
	sdktest.Eventually(t, 10*time.Second, func() bool { return state("h3") == "UNREACHABLE" }, "h3 unreachable")
}
