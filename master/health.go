package master

import (
	"context"
	"hash/fnv"
	"sync"
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
	cfg := &l.m.cfg
	var silent, gone []wire.AgentID
	recs := l.m.fsm.AgentStatuses()
	l.mu.Lock()
	l.registryAgents = countAgents(recs)
	windowOver := now.Sub(l.electedAt) > silenceAllowed(cfg, heartbeatEvery(cfg, l.registryAgents))
	for _, rec := range recs {
		id := rec.ID
		if _, awaited := l.awaited[id]; awaited && windowOver && rec.State != registry.AgentActive && l.agents[id] == nil {
			// A draining agent that did not come back is not marked
			// unreachable; stop waiting for its tasks all the same.
			l.reconcileAgentLeft(id)
		}
		switch {
		case rec.State == registry.AgentActive && windowOver && l.agents[id] == nil:
			silent = append(silent, id)
		case rec.State == registry.AgentUnreachable && l.m.cfg.AgentGoneTimeout > 0 &&
			now.Sub(rec.StateSince) > l.m.cfg.AgentGoneTimeout && l.agents[id] == nil:
			gone = append(gone, id)
		}
	}
	var unsettled []wire.AgentID
	for id, a := range l.agents {
		if now.Sub(a.lastSeen) > l.agentSilenceAllowed(a) {
			silent = append(silent, id)
		}
		if l.needsSettling(id, a, now) {
			unsettled = append(unsettled, id)
		}
	}
	l.mu.Unlock()
	for _, id := range unsettled {
		l.askReregister(id, reregUnsettled)
	}
	// Each agent's change is a raft write; many run at once so that raft
	// batches them (a loaded cluster can lose thousands of agents at once).
	l.forEachAgent(gone, l.markAgentGone)
	l.forEachAgent(silent, l.markAgentUnreachable)
}

// needsSettling reports whether to ask an agent for a registration because a
// task its last registration had not seen launched is still unheard of a
// heartbeat interval later (its LAUNCH may have been lost; a task the
// agent runs has reported by then), and forgets the tasks once looked at.
// Asking at once instead would keep an agent that is being launched on
// re-registering for ever, each registration missing the latest launches.
// l.mu is held.
func (l *leader) needsSettling(id wire.AgentID, a *agentState, now time.Time) bool {
	if len(a.unsettled) == 0 || now.Sub(a.unsettledAt) <= a.every {
		return false
	}
	tasks := a.unsettled
	a.unsettled = nil
	for _, t := range tasks {
		if t.agent == id && t.status.Source == wire.SourceMaster && !t.status.State.Terminal() {
			return true
		}
	}
	return false
}

// agentWriters bounds the agent state changes written to raft at once.
const agentWriters = 64

// forEachAgent runs f for every agent, agentWriters at a time, and waits.
func (l *leader) forEachAgent(ids []wire.AgentID, f func(wire.AgentID)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, agentWriters)
	for _, id := range ids {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(id)
		}()
	}
	wg.Wait()
}

// agentLock serialises the changes of one agent's registration (raft
// write, then the leader's view), so that a registration and a loss of
// the same agent cannot interleave and leave the registry saying
// UNREACHABLE about an agent the leader counts as registered.
func (l *leader) agentLock(id wire.AgentID) *sync.Mutex {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return &l.agentLocks[h.Sum32()%uint32(len(l.agentLocks))]
}

// markAgentUnreachable records in raft that a silent agent is unreachable
// and then forgets its offers and resources — unless it was heard from
// meanwhile.
func (l *leader) markAgentUnreachable(id wire.AgentID) {
	lock := l.agentLock(id)
	lock.Lock()
	defer lock.Unlock()
	timeout := l.m.cfg.AgentTimeout
	l.mu.Lock()
	if a := l.agents[id]; a != nil {
		if timeout = l.agentSilenceAllowed(a); time.Since(a.lastSeen) <= timeout {
			l.mu.Unlock()
			return
		}
	}
	l.mu.Unlock()
	rec, ok := l.m.fsm.Agent(id)
	if !ok || rec.State == registry.AgentGone {
		return
	}
	if rec.State != registry.AgentUnreachable && !l.recordAgentState(id, registry.AgentUnreachable) {
		return
	}
	l.mu.Lock()
	if a := l.agents[id]; a != nil {
		l.agentUnreachable(id, a)
	}
	l.reconcileAgentLeft(id)
	l.mu.Unlock()
	l.log.Warn("agent unreachable", "agent", id, "timeout", timeout)
}

// recordAgentState commits an agent's new state through raft; it logs and
// reports false when that fails.
func (l *leader) recordAgentState(id wire.AgentID, st registry.AgentState) bool {
	if err := l.write(func(ctx context.Context) error { return l.m.applyAgentState(ctx, id, st) }); err != nil {
		l.log.Warn("cannot record agent state", "agent", id, "state", st, "err", err)
		return false
	}
	return true
}

// markAgentGone records in raft that an agent unreachable for too long is
// gone, and reports its tasks gone.
func (l *leader) markAgentGone(id wire.AgentID) {
	lock := l.agentLock(id)
	lock.Lock()
	defer lock.Unlock()
	if !l.recordAgentState(id, registry.AgentGone) {
		return
	}
	l.log.Warn("agent gone", "agent", id)
	l.agentGone(id)
	l.mu.Lock()
	l.reconcileAgentLeft(id)
	l.mu.Unlock()
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
			"agent %s has not been heard from for %s", id, l.agentSilenceAllowed(a))
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
