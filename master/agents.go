package master

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/master/registry"
	"github.com/agora-cluster/agora/sdk/wire"
)

// onAgentMessage handles everything agents send. Messages from one agent
// arrive in order; registration, which writes to raft, runs on its own
// goroutine so that many agents' admissions batch into few raft commits.
func (l *leader) onAgentMessage(msg *nats.Msg) {
	env, err := wire.Decode(msg.Data)
	if err != nil {
		l.reply(msg, "", nil, wire.Errorf(wire.CodeInvalid, "%v", err))
		return
	}
	subjectAgent := wire.AgentID(wire.LastToken(msg.Subject))
	switch env.Type {
	case wire.TypeRegisterAgent:
		var req wire.RegisterAgent
		if err := wire.DecodeBody(env, &req); err != nil {
			l.reply(msg, "", nil, wire.Errorf(wire.CodeInvalid, "%v", err))
			return
		}
		if req.Agent.ID != subjectAgent {
			l.reply(msg, "", nil, wire.Errorf(wire.CodeForbidden, "agent %s may not register as %s", subjectAgent, req.Agent.ID))
			return
		}
		id := req.Agent.ID
		l.mu.Lock()
		l.registering[id]++
		l.mu.Unlock()
		l.goFunc(func() {
			l.registerAgent(msg, req)
			l.mu.Lock()
			if l.registering[id]--; l.registering[id] <= 0 {
				delete(l.registering, id)
			}
			l.mu.Unlock()
		})
	case wire.TypeAgentHeartbeat:
		var hb wire.AgentHeartbeat
		_ = wire.DecodeBody(env, &hb) // the heartbeat counts even if its usage is malformed
		l.agentHeartbeat(subjectAgent, hb.Usage)
	case wire.TypeStatusUpdate:
		var up wire.StatusUpdate
		if err := wire.DecodeBody(env, &up); err != nil {
			l.log.Warn("bad status update", "agent", subjectAgent, "err", err)
			return
		}
		up.Status.AgentID = subjectAgent
		l.statusUpdates(subjectAgent, []wire.StatusUpdate{up})
	case wire.TypeStatusUpdates:
		var ups wire.StatusUpdates
		if err := wire.DecodeBody(env, &ups); err != nil {
			l.log.Warn("bad status updates", "agent", subjectAgent, "err", err)
			return
		}
		for i := range ups.Updates {
			ups.Updates[i].Status.AgentID = subjectAgent
		}
		l.statusUpdates(subjectAgent, ups.Updates)
	default:
		l.reply(msg, "", nil, wire.Errorf(wire.CodeInvalid, "unknown message type %q from an agent", env.Type))
	}
}

// registerAgent admits (through raft) or re-admits an agent and rebuilds
// the leader's picture of it from the tasks it reports.
func (l *leader) registerAgent(msg *nats.Msg, req wire.RegisterAgent) {
	info := req.Agent
	lock := l.agentLock(info.ID)
	lock.Lock()
	defer lock.Unlock()
	rec, known := l.m.fsm.Agent(info.ID)
	if known && rec.State == registry.AgentGone {
		l.reply(msg, "", nil, wire.Errorf(wire.CodeForbidden, "agent %s was marked gone and may not re-register; start it with a fresh work dir", info.ID))
		return
	}
	kind := "reregistered"
	if !known || rec.State != registry.AgentActive || !sameAgentInfo(rec.Info, info) {
		if err := l.write(func(ctx context.Context) error { return l.m.applyRegisterAgent(ctx, info) }); err != nil {
			l.reply(msg, "", nil, asWireError(err))
			return
		}
		kind = "admitted"
	}
	l.mu.Lock()
	if !l.active() {
		l.mu.Unlock()
		// Deposed while the registration waited. No answer: the agent's
		// request times out and it registers with the next leader.
		// Answering a backlog of thousands of registrations would load
		// this master just when the next leader needs it to answer
		// heartbeats, and did not shorten failovers (BENCHMARKS.md).
		return
	}
	if old := l.agents[info.ID]; kind == "reregistered" && l.repeatsPicture(old, req) {
		// Nothing to learn: answer as the first time, without rebuilding
		// the agent (which would rescind its offers and make new ones).
		old.lastSeen = time.Now()
		n := l.agentsFor(info.ID)
		old.every = heartbeatEvery(&l.m.cfg, n)
		l.reconcileRegistered(info.ID, req.Tasks)
		l.mu.Unlock()
		l.m.metrics.registrations.WithLabelValues("repeated").Inc()
		l.replyRegistered(msg, info.ID, old.every, n)
		return
	}
	var lost, keep []*taskState
	if old := l.agents[info.ID]; old != nil {
		if kind == "reregistered" {
			kind = "repeated"
		}
		// The agent registered with this leader before (it restarted or
		// lost its connection): drop what was offered from it and learn
		// again what runs there.
		l.rescindAgentOffers(info.ID)
		l.alloc.RemoveAgent(info.ID)
	}
	// Every task the leader places on this agent (running, or unreachable
	// since the agent went silent) that the agent does not report is lost
	// — if the agent listed its tasks after it handled the task's LAUNCH.
	// A task launched after the listing (the registration was on its way,
	// or was one of several sent in a row) keeps its resources; if the
	// agent has not reported on it a heartbeat interval later, a
	// REREGISTER, numbered after its LAUNCH, settles it (needsSettling).
	reported := map[taskKey]bool{}
	for _, rt := range req.Tasks {
		reported[taskKey{rt.FrameworkID, rt.Task.TaskID}] = true
	}
	for k, t := range l.byAgent[info.ID] {
		if reported[k] || t.status.State.Terminal() {
			continue
		}
		if l.seenLaunch(req, t) {
			lost = append(lost, t)
		} else {
			keep = append(keep, t)
		}
	}
	n := l.agentsFor(info.ID)
	a := &agentState{info: info, lastSeen: time.Now(), every: heartbeatEvery(&l.m.cfg, n), tasks: map[taskKey]*taskState{}}
	l.agents[info.ID] = a
	delete(l.asked, info.ID)
	used := map[wire.FrameworkID]wire.Resources{}
	for _, rt := range req.Tasks {
		k := taskKey{rt.FrameworkID, rt.Task.TaskID}
		t := l.tasks[k]
		if t == nil && rt.State.Terminal() && l.endKnown(k, rt.UpdateUUID) {
			// Its end was acknowledged after the agent listed its tasks
			// (the acknowledgement is on its way to the agent; if it is
			// lost, the agent resends the update and it is acknowledged
			// again): do not bring it back.
			continue
		}
		if t == nil {
			t = &taskState{fw: rt.FrameworkID, agent: info.ID, info: rt.Task}
			l.addTask(k, t)
		}
		prev := t.status.State
		l.placeTask(k, t, info.ID)
		t.status = wire.TaskStatus{TaskID: rt.Task.TaskID, AgentID: info.ID, State: rt.State, Source: wire.SourceAgent, Timestamp: time.Now()}
		if rt.State.Terminal() {
			// Ended, but its terminal update is not acknowledged yet: keep
			// it known (the agent resends the update); it uses nothing.
			t.recovered = true
			if uuid := rt.UpdateUUID; uuid != "" {
				t.status.UUID = uuid
			}
			continue
		}
		t.recovered = false
		if prev == wire.TaskUnreachable {
			// The framework was told the task was unreachable: tell it
			// what the agent says now.
			st := t.status
			st.Source, st.Message = wire.SourceMaster, "agent "+string(info.ID)+" re-registered"
			l.sendUpdate(t.fw, st)
		}
		a.tasks[k] = t
		used[rt.FrameworkID] = used[rt.FrameworkID].Add(rt.Task.Resources)
	}
	for _, t := range keep {
		// Not reported, not yet declared lost: it still holds its resources.
		a.tasks[taskKey{t.fw, t.info.TaskID}] = t
		used[t.fw] = used[t.fw].Add(t.info.Resources)
		t.recovered = false
	}
	if len(keep) > 0 {
		a.unsettled, a.unsettledAt = keep, time.Now()
	}
	l.alloc.AddAgent(info.ID, info.Hostname, info.Resources, info.Attributes, used)
	if rec, _ := l.m.fsm.Agent(info.ID); rec.State == registry.AgentDraining || rec.State == registry.AgentDrained {
		l.alloc.SetAgentActive(info.ID, false)
	}
	for _, t := range lost {
		t.recovered = true // the agent's ledger was rebuilt without it
		st := masterUpdate(t.info.TaskID, info.ID, wire.TaskLost, wire.ReasonAgentRestarted,
			"agent %s re-registered without this task", info.ID)
		l.setTaskStatus(t, st)
		l.sendUpdate(t.fw, st)
	}
	l.reconcileRegistered(info.ID, req.Tasks)
	l.markDirty(info.ID)
	every := a.every
	l.mu.Unlock()

	l.m.metrics.registrations.WithLabelValues(kind).Inc()
	l.log.Debug("agent registered", "agent", info.ID, "tasks", len(req.Tasks), "kind", kind, "heartbeat", every)
	l.replyRegistered(msg, info.ID, every, n)
}

// replyRegistered answers a registration: the heartbeat interval and the
// registration spread for a cluster of n agents.
func (l *leader) replyRegistered(msg *nats.Msg, id wire.AgentID, every time.Duration, n int) {
	l.reply(msg, wire.TypeAgentRegistered, wire.AgentRegistered{
		AgentID:           id,
		HeartbeatInterval: wire.Duration(every),
		RegisterSpread:    wire.Duration(registerSpread(&l.m.cfg, n)),
		Leader:            l.info(),
	}, nil)
}

// repeatsPicture reports whether a registration of an agent registered
// with this leader (a, nil if it is not) repeats what the leader knows of
// it: the same agent, reporting exactly the tasks the leader counts on it,
// each in the state the leader has, none ended and none waiting to be
// settled. Such a registration — a retry whose first answer came too late,
// or one a REREGISTER asked for while the first was on its way — would
// rebuild the same picture. l.mu is held.
func (l *leader) repeatsPicture(a *agentState, req wire.RegisterAgent) bool {
	if a == nil || len(a.unsettled) > 0 || len(req.Tasks) != len(a.tasks) || !sameAgentInfo(a.info, req.Agent) {
		return false
	}
	for _, rt := range req.Tasks {
		t := a.tasks[taskKey{rt.FrameworkID, rt.Task.TaskID}]
		if t == nil || rt.State.Terminal() || t.status.State != rt.State {
			return false
		}
	}
	// Tasks placed there but not counted (waiting for the agent's word)
	// are settled only by the full path.
	for k, t := range l.byAgent[req.Agent.ID] {
		if !t.status.State.Terminal() && a.tasks[k] == nil {
			return false
		}
	}
	return true
}

func sameAgentInfo(a, b wire.AgentInfo) bool {
	if a.Hostname != b.Hostname || !a.Resources.Equal(b.Resources) || a.Isolation != b.Isolation ||
		a.Address != b.Address || len(a.Attributes) != len(b.Attributes) {
		return false
	}
	for k, v := range a.Attributes {
		if b.Attributes[k] != v {
			return false
		}
	}
	return true
}

func (l *leader) agentHeartbeat(id wire.AgentID, usage []wire.TaskUsage) {
	l.mu.Lock()
	a := l.agents[id]
	if a != nil {
		a.lastSeen = time.Now()
		for _, u := range usage {
			if t := a.tasks[taskKey{u.FrameworkID, u.TaskID}]; t != nil {
				u := u
				t.usage = &u
			}
		}
	}
	l.mu.Unlock()
	if a == nil {
		// An agent this leader has not heard register (it missed the
		// announcement, or the leader changed): ask it to re-register.
		l.askUnregistered(id)
	}
}

// askUnregistered asks an agent the leader has not registered to register
// — unless the leader is so new that the agent is still within the spread
// its announcement gave it: it registers then by itself, and an ask would
// only cross its registration and make it register twice (at 10,000
// agents a third of them did). After the spread and one announce
// interval more, an agent that is still unknown missed the announcement:
// it is asked — unless its registration is already here, waiting to be
// handled, or it was asked less than a heartbeat interval ago. On a
// loaded leader, whose registrations wait for seconds, every heartbeat
// and status update of such an agent used to bring another ask, and each
// ask another registration (25,766 asks in one 10,000-agent failover).
func (l *leader) askUnregistered(id wire.AgentID) {
	l.mu.Lock()
	n := l.clusterSize()
	window := registerSpread(&l.m.cfg, n) + l.m.cfg.AnnounceInterval
	now := time.Now()
	ask := now.Sub(l.electedAt) >= window && l.registering[id] == 0 && l.agents[id] == nil &&
		now.Sub(l.asked[id]) >= heartbeatEvery(&l.m.cfg, n)
	if ask {
		l.asked[id] = now
	}
	l.mu.Unlock()
	if ask {
		l.askReregister(id, reregUnknownAgent)
	}
}

// statusUpdates records an agent's status updates and forwards them to
// their frameworks — each framework's share in one message, in the order
// the agent sent them — which acknowledge them through ACKNOWLEDGE(MENTS).
func (l *leader) statusUpdates(agent wire.AgentID, ups []wire.StatusUpdate) {
	l.mu.Lock()
	a := l.agents[agent]
	if a == nil {
		l.mu.Unlock()
		// Not re-registered yet: the agent keeps the updates and resends them.
		l.askUnregistered(agent)
		return
	}
	a.lastSeen = time.Now()
	forward := map[wire.FrameworkID][]wire.TaskStatus{}
	var order []wire.FrameworkID
	var selfAcks []wire.StatusAck
	reregister := false
	for _, up := range ups {
		k := taskKey{up.FrameworkID, up.Status.TaskID}
		t := l.tasks[k]
		if t != nil && t.agent == agent {
			l.setTaskStatus(t, up.Status)
		} else if t == nil && !up.Status.State.Terminal() {
			// A task this leader has not heard of (launched by the previous
			// leader while the agent re-registered): have the agent
			// re-register, so that the task and what it uses are known.
			reregister = true
		}
		if _, fwKnown := l.frameworks[up.FrameworkID]; fwKnown {
			if _, seen := forward[up.FrameworkID]; !seen {
				order = append(order, up.FrameworkID)
			}
			forward[up.FrameworkID] = append(forward[up.FrameworkID], up.Status)
		} else if up.Status.UUID != "" {
			// The framework was removed: nobody will acknowledge. Acknowledge
			// for it, so that the agent stops resending.
			if t != nil && t.status.State.Terminal() {
				l.forgetTask(t)
			}
			selfAcks = append(selfAcks, wire.StatusAck{FrameworkID: up.FrameworkID, TaskID: up.Status.TaskID, UUID: up.Status.UUID})
		}
	}
	l.mu.Unlock()
	if reregister {
		l.askReregister(agent, reregUnknownTask)
	}
	l.sendStatusAcks(agent, selfAcks)
	for _, fw := range order {
		l.sendUpdates(fw, forward[fw])
	}
}

// rescindAgentOffers withdraws every outstanding offer of an agent.
// l.mu is held.
func (l *leader) rescindAgentOffers(id wire.AgentID) {
	for oid, o := range l.agentOffer[id] {
		l.rescind(oid, o)
	}
}

func asWireError(err error) *wire.Error {
	if we, ok := err.(*wire.Error); ok {
		return we
	}
	return wire.Errorf(wire.CodeUnavailable, "%v", err)
}
