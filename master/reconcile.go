package master

import (
	"time"

	"github.com/agora-cluster/agora/master/registry"
	"github.com/agora-cluster/agora/sdk/wire"
)

// Reconciliation answers a framework with the master's latest knowledge of
// its tasks, as updates with reason RECONCILIATION.
//
// The raft registry knows agents but not tasks: a new leader learns the
// tasks from agent re-registrations. Until the registry's agents have
// re-registered (or been marked unreachable), the leader does not guess.
// An asked task it cannot place yet is reported as pending in the reply
// and answered as soon as it can be — when its agent (or, with no agent
// named, the last awaited agent) re-registers or is marked unreachable. An
// implicit reconciliation in that window is answered with what is known
// and the number of awaited agents; the non-terminal tasks each awaited
// agent reports when it re-registers are then sent too.

// reconcile answers with the master's latest knowledge of the asked tasks
// or, with none asked, of every non-terminal task of the framework
// (terminal tasks whose end is not acknowledged yet are resent by their
// agents, not by reconciliation).
func (l *leader) reconcile(fw wire.FrameworkID, c wire.Reconcile) (wire.ReconcileResult, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var res wire.ReconcileResult
	f, err := l.connected(fw)
	if err != nil {
		return res, err
	}
	var out []wire.TaskStatus
	if len(c.Tasks) == 0 {
		for k, t := range l.tasks {
			if k.fw == fw && !t.status.State.Terminal() {
				out = append(out, reconciled(t.status))
			}
		}
		if n := len(l.awaited); n > 0 {
			res.AwaitedAgents = n
			f.reconcileAll = true
		}
	} else {
		for _, rt := range c.Tasks {
			if st, ok := l.reconcileAnswer(fw, rt); ok {
				out = append(out, st)
				continue
			}
			res.Pending = append(res.Pending, rt.TaskID)
			l.awaitAnswer(rt.AgentID, taskKey{fw, rt.TaskID})
		}
	}
	l.sendUpdates(fw, out)
	res.Answered = len(out)
	return res, nil
}

// reconcileAnswer returns the answer to one explicitly asked task, or false
// while the task may be on an agent that has not re-registered with this
// leader yet. l.mu is held.
func (l *leader) reconcileAnswer(fw wire.FrameworkID, rt wire.ReconcileTask) (wire.TaskStatus, bool) {
	if t := l.task(fw, rt.TaskID); t != nil {
		return reconciled(t.status), true
	}
	if rt.AgentID == "" {
		if len(l.awaited) > 0 {
			return wire.TaskStatus{}, false
		}
	} else if l.agents[rt.AgentID] == nil {
		if rec, ok := l.m.fsm.Agent(rt.AgentID); ok {
			switch rec.State {
			case registry.AgentActive, registry.AgentDraining, registry.AgentDrained:
				return wire.TaskStatus{}, false
			case registry.AgentUnreachable:
				// Not guessed: the agent may come back with it.
				return masterUpdate(rt.TaskID, rt.AgentID, wire.TaskUnreachable, wire.ReasonReconciliation,
					"agent %s is unreachable; the task's state is not known until it comes back", rt.AgentID), true
			case registry.AgentGone:
				return masterUpdate(rt.TaskID, rt.AgentID, wire.TaskGone, wire.ReasonReconciliation,
					"agent %s is gone", rt.AgentID), true
			}
		}
	}
	return masterUpdate(rt.TaskID, rt.AgentID, wire.TaskUnknown, wire.ReasonReconciliation,
		"task %s is not known to the master", rt.TaskID), true
}

// awaitAnswer remembers an explicitly asked task to answer later, under
// the agent it was asked on ("" for none). l.mu is held.
func (l *leader) awaitAnswer(agent wire.AgentID, k taskKey) {
	m := l.reconWait[agent]
	if m == nil {
		m = map[taskKey]struct{}{}
		l.reconWait[agent] = m
	}
	m[k] = struct{}{}
}

// reconcileRegistered sends the reconciliation answers an agent's
// (re-)registration makes possible: the tasks it reports that were asked
// for explicitly, and its non-terminal tasks to frameworks that asked for
// implicit reconciliation while agents were awaited. l.mu is held.
func (l *leader) reconcileRegistered(id wire.AgentID, reported []wire.RunningTask) {
	wasAwaited := l.stopAwaiting(id)
	if len(l.reconWait) > 0 || wasAwaited {
		out := map[wire.FrameworkID][]wire.TaskStatus{}
		for _, rt := range reported {
			k := taskKey{rt.FrameworkID, rt.Task.TaskID}
			t := l.tasks[k]
			if t == nil || t.agent != id {
				continue
			}
			_, askedHere := l.reconWait[id][k]
			_, askedAnywhere := l.reconWait[""][k]
			f := l.frameworks[k.fw]
			implicit := wasAwaited && f != nil && f.reconcileAll && !t.status.State.Terminal()
			if askedHere || askedAnywhere || implicit {
				out[k.fw] = append(out[k.fw], reconciled(t.status))
				l.dropAwaited(id, k)
				l.dropAwaited("", k)
			}
		}
		for fw, sts := range out {
			l.sendUpdates(fw, sts)
		}
	}
	l.answerAwaited(id)
}

// reconcileAgentLeft answers what waited on an agent that was marked
// unreachable or gone instead of re-registering. l.mu is held.
func (l *leader) reconcileAgentLeft(id wire.AgentID) {
	l.stopAwaiting(id)
	l.answerAwaited(id)
}

// stopAwaiting notes that an agent is no longer awaited and reports
// whether it was. Once no agent is awaited, implicit reconciliations are
// complete. l.mu is held.
func (l *leader) stopAwaiting(id wire.AgentID) bool {
	if _, ok := l.awaited[id]; !ok {
		return false
	}
	delete(l.awaited, id)
	if len(l.awaited) == 0 {
		for _, f := range l.frameworks {
			f.reconcileAll = false
		}
	}
	return true
}

// answerAwaited answers the explicit reconciliations asked on agent id
// and — once no agent is awaited — those that named no agent, if they can
// be answered now. l.mu is held.
func (l *leader) answerAwaited(id wire.AgentID) {
	keys := []wire.AgentID{id}
	if len(l.awaited) == 0 && id != "" {
		keys = append(keys, "")
	}
	for _, key := range keys {
		for k := range l.reconWait[key] {
			if st, ok := l.reconcileAnswer(k.fw, wire.ReconcileTask{TaskID: k.task, AgentID: key}); ok {
				l.sendUpdate(k.fw, st)
				delete(l.reconWait[key], k)
			}
		}
		if len(l.reconWait[key]) == 0 {
			delete(l.reconWait, key)
		}
	}
}

// dropAwaited forgets an answered task asked on agent key. l.mu is held.
func (l *leader) dropAwaited(key wire.AgentID, k taskKey) {
	if m := l.reconWait[key]; m != nil {
		delete(m, k)
		if len(m) == 0 {
			delete(l.reconWait, key)
		}
	}
}

// awaitedAgents lists the registry's agents that a new leader waits for:
// admitted and not unreachable, gone or drained, so they may re-register
// with tasks.
func awaitedAgents(recs []registry.AgentStatus) map[wire.AgentID]struct{} {
	out := map[wire.AgentID]struct{}{}
	for _, r := range recs {
		switch r.State {
		case registry.AgentActive, registry.AgentDraining:
			out[r.ID] = struct{}{}
		}
	}
	return out
}

func reconciled(st wire.TaskStatus) wire.TaskStatus {
	st.Reason = wire.ReasonReconciliation
	st.Source = wire.SourceMaster
	st.UUID = ""
	st.Timestamp = time.Now()
	return st
}
