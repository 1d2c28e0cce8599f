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
	windowOver := now.Sub(l.electedAt) > timeout
	if windowOver {
		for _, rec := range l.m.fsm.Agents() {
			if rec.State == registry.AgentActive && l.agents[rec.Info.ID] == nil {
				silent = append(silent, rec.Info.ID)
			}
		}
	}
	for id, a := range l.agents {
		if now.Sub(a.lastSeen) > timeout {
			silent = append(silent, id)
			l.agentUnreachable(id, a)
		}
	}
	var gone []wire.AgentID
	if l.m.cfg.AgentGoneTimeout > 0 {
		for _, rec := range l.m.fsm.Agents() {
			if rec.State == registry.AgentUnreachable && now.Sub(rec.StateSince) > l.m.cfg.AgentGoneTimeout && l.agents[rec.Info.ID] == nil {
				gone = append(gone, rec.Info.ID)
			}
		}
	}
	l.mu.Unlock()
	for _, id := range gone {
		ctx, cancel := context.WithTimeout(l.ctx, 10*time.Second)
		err := l.m.applyAgentState(ctx, id, registry.AgentGone)
		cancel()
		if err != nil {
			l.log.Warn("cannot record agent gone", "agent", id, "err", err)
			continue
		}
		l.log.Warn("agent gone", "agent", id)
		l.agentGone(id)
	}
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

// agentGone reports every task the leader knew on a gone agent as
// TASK_GONE and forgets them.
func (l *leader) agentGone(id wire.AgentID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range l.byAgent[id] {
		if t.status.State.Terminal() {
			continue
		}
		st := masterUpdate(t.info.TaskID, id, wire.TaskGone, wire.ReasonAgentRemoved,
			"agent %s was unreachable for longer than %s and is gone", id, l.m.cfg.AgentGoneTimeout)
		t.recovered = true
		l.setTaskStatus(t, st)
		l.sendUpdate(t.fw, st)
	}
}
