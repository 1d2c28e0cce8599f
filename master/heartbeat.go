package master

import (
	"time"

	"github.com/agora-cluster/agora/master/registry"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Agents heartbeat less often the more of them there are, so that the
// leader and its NATS servers handle at most MaxAgentHeartbeats a second
// (10,000 agents at the default 2,000/s heartbeat every 5 s rather than
// every second). An agent learns its interval when it registers, and
// adopts the one in each leader announcement (so the agents of a cluster
// that fills up slow down as it does); the silence after which it is
// unreachable keeps the configured ratio to it (5 s for 1 s by default,
// so 25 s for 5 s).

// heartbeatEvery is the interval asked of agents when there are n.
func heartbeatEvery(cfg *Config, n int) time.Duration {
	every := cfg.AgentHeartbeatInterval
	if cfg.MaxAgentHeartbeats > 0 {
		every = max(every, time.Duration(float64(n)/cfg.MaxAgentHeartbeats*float64(time.Second)))
	}
	return every
}

// silenceAllowed is how long an agent told to heartbeat every `every` may
// stay silent before it is unreachable.
func silenceAllowed(cfg *Config, every time.Duration) time.Duration {
	if every <= cfg.AgentHeartbeatInterval {
		return cfg.AgentTimeout
	}
	return time.Duration(float64(cfg.AgentTimeout) * float64(every) / float64(cfg.AgentHeartbeatInterval))
}

// announceEvery is how often the leader announces itself when it asks
// agents to heartbeat every `every`: the announce interval, stretched as
// the heartbeat interval is (every 5 s at 10,000 agents by default), so
// that announcements, which reach every agent, stay as few as heartbeats.
// The leader announces at once when elected; the repeats are for agents
// that missed it, which a heartbeat of theirs brings to its notice too.
func announceEvery(cfg *Config, every time.Duration) time.Duration {
	if every <= cfg.AgentHeartbeatInterval || cfg.AgentHeartbeatInterval <= 0 {
		return cfg.AnnounceInterval
	}
	return time.Duration(float64(cfg.AnnounceInterval) * float64(every) / float64(cfg.AgentHeartbeatInterval))
}

// registerSpread is the time over which agents, when there are n, spread
// their registrations with a new leader: n / (5 × MaxAgentHeartbeats), so
// that at most 10,000 a second arrive by default (1 s at 10,000 agents,
// 100 ms at 1,000).
func registerSpread(cfg *Config, n int) time.Duration {
	if cfg.MaxAgentHeartbeats <= 0 {
		return 0
	}
	return time.Duration(float64(n) / (5 * cfg.MaxAgentHeartbeats) * float64(time.Second))
}

// agentSilenceAllowed is how long the leader waits for a heartbeat of an
// agent: for the longer of the interval it gave the agent at registration
// and the one it last announced. l.mu is held.
func (l *leader) agentSilenceAllowed(a *agentState) time.Duration {
	return silenceAllowed(&l.m.cfg, max(a.every, l.announcedEvery))
}

// countAgents is how many agents the registry holds that are not gone
// (those an agent's heartbeat interval is sized for).
func countAgents(recs []registry.AgentStatus) int {
	n := 0
	for _, r := range recs {
		if r.State != registry.AgentGone {
			n++
		}
	}
	return n
}

// clusterSize is the number of agents heartbeat intervals and
// registration spreads are sized for: those registered with this leader,
// or the registry's, whichever is more. l.mu is held.
func (l *leader) clusterSize() int { return max(len(l.agents), l.registryAgents) }

// agentsFor is clusterSize counting an agent registering now. l.mu is
// held.
func (l *leader) agentsFor(id wire.AgentID) int {
	if l.agents[id] == nil {
		return max(len(l.agents)+1, l.registryAgents)
	}
	return l.clusterSize()
}
