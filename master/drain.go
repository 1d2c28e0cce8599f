package master

import (
	"context"
	"time"

	"github.com/agora-cluster/agora/master/registry"
	"github.com/agora-cluster/agora/sdk/wire"
)

// drain records the agent as DRAINING (through raft), then stops offering
// it. Its tasks are killed once the deadline passes (checkDrains).
func (l *leader) drain(ctx context.Context, id wire.AgentID, deadline time.Time) error {
	rec, ok := l.m.fsm.Agent(id)
	if !ok {
		return wire.Errorf(wire.CodeUnknownAgent, "agent %s is not registered", id)
	}
	if rec.State == registry.AgentGone {
		return wire.Errorf(wire.CodeForbidden, "agent %s is gone", id)
	}
	if err := l.m.raftApply(ctx, registry.SetAgentState, registry.SetAgentStateCmd{
		ID: id, State: registry.AgentDraining, At: time.Now(), DrainDeadline: deadline,
	}); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.alloc.SetAgentActive(id, false)
	l.rescindAgentOffers(id)
	delete(l.drainKilled, id)
	l.log.Info("agent draining", "agent", id, "deadline", deadline)
	return nil
}

// reactivate makes a draining or drained agent active again.
func (l *leader) reactivate(ctx context.Context, id wire.AgentID) error {
	rec, ok := l.m.fsm.Agent(id)
	if !ok {
		return wire.Errorf(wire.CodeUnknownAgent, "agent %s is not registered", id)
	}
	if rec.State != registry.AgentDraining && rec.State != registry.AgentDrained && rec.State != registry.AgentActive {
		return wire.Errorf(wire.CodeConflict, "agent %s is %s; only a draining or drained agent can be reactivated", id, rec.State)
	}
	if err := l.m.applyAgentState(ctx, id, registry.AgentActive); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.drainKilled, id)
	if l.agents[id] != nil {
		l.alloc.SetAgentActive(id, true)
		l.markDirty(id)
	}
	return nil
}

// drainKillEvery is how often checkDrains repeats the kills of a draining
// agent that still runs tasks: a KILL_TASK is not acknowledged, so one
// lost on the way (the agent was away, NATS reconnected) is sent again.
const drainKillEvery = 5 * time.Second

// checkDrains kills the tasks of draining agents whose deadline passed
// (reason AGENT_DRAINING), again every drainKillEvery while any remains,
// and marks an agent DRAINED once it runs nothing.
func (l *leader) checkDrains() {
	now := l.m.now()
	var drained []wire.AgentID
	for _, rec := range l.m.fsm.AgentsIn(registry.AgentDraining) {
		id := rec.Info.ID
		l.mu.Lock()
		a := l.agents[id]
		if a == nil {
			l.mu.Unlock()
			continue
		}
		if len(a.tasks) == 0 {
			drained = append(drained, id)
		} else if sent, ok := l.drainKilled[id]; now.After(rec.DrainDeadline) && (!ok || now.Sub(sent) >= drainKillEvery) {
			l.drainKilled[id] = now
			for k := range a.tasks {
				l.publish(l.m.subj.Agent(id), wire.TypeKillTask, wire.KillTask{FrameworkID: k.fw, TaskID: k.task, Reason: wire.ReasonAgentDraining})
			}
		}
		l.mu.Unlock()
	}
	for _, id := range drained {
		if err := l.write(func(ctx context.Context) error { return l.m.applyAgentState(ctx, id, registry.AgentDrained) }); err != nil {
			l.log.Warn("cannot mark agent drained", "agent", id, "err", err)
		} else {
			l.log.Info("agent drained", "agent", id)
		}
	}
}

// setRole applies a committed role to the allocator.
func (l *leader) setRole(r registry.Role) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.alloc.SetRole(r.Name, r.Weight, r.Quota); err != nil {
		return err
	}
	l.markAll()
	return nil
}
