package master

import (
	"context"
	"time"

	"github.com/agora-cluster/agora/master/registry"
	"github.com/agora-cluster/agora/sdk/wire"
)

// checkAgents marks agents unreachable when they have been silent longer
// than the agent timeout, and — once the re-registration window after an
// election has passed — the registry's active agents that never
// re-registered with this leader.
func (l *leader) checkAgents() {
	now := time.Now()
	timeout := l.m.cfg.AgentTimeout
	var silent []wire.AgentID
	l.mu.Lock()
	for id, a := range l.agents {
		if now.Sub(a.lastSeen) > timeout {
			silent = append(silent, id)
			l.agentUnreachable(id, a)
		}
	}
	windowOver := now.Sub(l.electedAt) > timeout
	if windowOver {
		for _, rec := range l.m.fsm.Agents() {
			if rec.State == registry.AgentActive && l.agents[rec.Info.ID] == nil {
				silent = append(silent, rec.Info.ID)
			}
		}
	}
	l.mu.Unlock()
	for _, id := range silent {
		ctx, cancel := context.WithTimeout(l.ctx, 10*time.Second)
		err := l.m.applyAgentState(ctx, id, registry.AgentUnreachable)
		cancel()
		if err != nil {
			l.log.Warn("cannot record agent unreachable", "agent", id, "err", err)
			continue
		}
		l.log.Warn("agent unreachable", "agent", id, "timeout", timeout)
	}
}

// agentUnreachable forgets a silent agent's offers and resources and tells
// the frameworks that its tasks are unreachable. The tasks stay recorded:
// if the agent comes back, it reports their real states. l.mu is held.
func (l *leader) agentUnreachable(id wire.AgentID, a *agentState) {
	l.rescindAgentOffers(id)
	l.alloc.RemoveAgent(id)
	delete(l.agents, id)
	for _, t := range a.tasks {
		t.recovered = true
		st := masterUpdate(t.info.TaskID, id, wire.TaskUnreachable, wire.ReasonAgentUnreachable,
			"agent %s has not been heard from for %s", id, l.m.cfg.AgentTimeout)
		t.status = st
		l.sendUpdate(t.fw, st)
	}
	for fw, f := range l.frameworks {
		if f.connected {
			l.publish(l.m.subj.Framework(fw), wire.TypeFailure, wire.Failure{AgentID: id, Message: "agent unreachable"})
		}
	}
}
