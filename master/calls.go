package master

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/master/registry"

	"github.com/agora-cluster/agora/sdk/wire"
)

// onCall handles a scheduler call. Calls from one framework are handled in
// order; SUBSCRIBE, which may write to raft, runs on its own goroutine.
func (l *leader) onCall(msg *nats.Msg) {
	env, err := wire.Decode(msg.Data)
	if err != nil {
		l.reply(msg, "", nil, wire.Errorf(wire.CodeInvalid, "%v", err))
		return
	}
	fw := wire.FrameworkID(wire.LastToken(msg.Subject))
	if env.From != string(fw) {
		l.reply(msg, "", nil, wire.Errorf(wire.CodeForbidden, "call from %q on the subject of framework %q", env.From, fw))
		return
	}
	if !l.m.limiter.allow(fw, env.Type) {
		l.m.metrics.calls.WithLabelValues("RATE_LIMITED", "error").Inc()
		l.reply(msg, "", nil, wire.Errorf(wire.CodeRateLimited, "framework %s exceeds %v calls/s (burst %d); slow down and retry",
			fw, l.m.cfg.CallRate, l.m.cfg.CallBurst))
		return
	}
	if env.Type == wire.TypeSubscribe {
		var sub wire.Subscribe
		if err := wire.DecodeBody(env, &sub); err != nil {
			l.reply(msg, "", nil, wire.Errorf(wire.CodeInvalid, "%v", err))
			return
		}
		if sub.Framework.ID != fw {
			l.reply(msg, "", nil, wire.Errorf(wire.CodeForbidden, "framework %s may not subscribe as %s", fw, sub.Framework.ID))
			return
		}
		if p, bound := l.m.cfg.Auth.Principal(fw); bound && sub.Framework.Principal != p {
			l.reply(msg, "", nil, wire.Errorf(wire.CodeForbidden, "framework %s may only subscribe with principal %q, not %q", fw, p, sub.Framework.Principal))
			return
		}
		l.goFunc(func() { l.subscribe(msg, sub.Framework) })
		return
	}
	l.touch(fw)
	var body any
	var callErr error
	switch env.Type {
	case wire.TypeAccept:
		var c wire.Accept
		if callErr = decodeCall(env, &c); callErr == nil {
			body, callErr = l.accept(fw, c)
		}
	case wire.TypeDecline:
		var c wire.Decline
		if callErr = decodeCall(env, &c); callErr == nil {
			callErr = l.decline(fw, c)
		}
	case wire.TypeRevive:
		var c wire.Revive
		if callErr = decodeCall(env, &c); callErr == nil {
			callErr = l.revive(fw, c.Roles)
		}
	case wire.TypeSuppress:
		var c wire.Suppress
		if callErr = decodeCall(env, &c); callErr == nil {
			callErr = l.suppress(fw, c.Roles)
		}
	case wire.TypeKill:
		var c wire.Kill
		if callErr = decodeCall(env, &c); callErr == nil {
			callErr = l.kill(fw, c)
		}
	case wire.TypeShutdown:
		var c wire.Shutdown
		if callErr = decodeCall(env, &c); callErr == nil {
			callErr = l.shutdownOnAgent(fw, c.AgentID)
		}
	case wire.TypeAcknowledge:
		var c wire.Acknowledge
		if callErr = decodeCall(env, &c); callErr == nil {
			callErr = l.acknowledge(fw, []wire.Acknowledge{c})
		}
	case wire.TypeAcknowledgements:
		var c wire.Acknowledgements
		if callErr = decodeCall(env, &c); callErr == nil {
			callErr = l.acknowledge(fw, c.Acks)
		}
	case wire.TypeReconcile:
		var c wire.Reconcile
		if callErr = decodeCall(env, &c); callErr == nil {
			body, callErr = l.reconcile(fw, c)
		}
	case wire.TypeMessage:
		var c wire.Message
		if callErr = decodeCall(env, &c); callErr == nil {
			callErr = l.message(fw, c)
		}
	case wire.TypeTeardown:
		l.goFunc(func() { l.reply(msg, wire.TypeAck, wire.Ack{}, l.teardown(fw)) })
		return
	case wire.TypeHeartbeat:
		callErr = l.frameworkHeartbeat(fw)
	default:
		callErr = wire.Errorf(wire.CodeInvalid, "unknown call %q", env.Type)
	}
	if body == nil {
		body = wire.Ack{}
	}
	result := "ok"
	if callErr != nil {
		result = "error"
	}
	label := "UNKNOWN"
	if knownCalls[env.Type] {
		label = string(env.Type)
	}
	l.m.metrics.calls.WithLabelValues(label, result).Inc()
	l.reply(msg, wire.TypeAck, body, callErr)
}

func decodeCall(env wire.Envelope, v any) error {
	if err := wire.DecodeBody(env, v); err != nil {
		return wire.Errorf(wire.CodeInvalid, "%v", err)
	}
	return nil
}

// connected returns the framework if it is subscribed. l.mu is held.
func (l *leader) connected(fw wire.FrameworkID) (*frameworkState, error) {
	f := l.frameworks[fw]
	if f == nil {
		return nil, wire.Errorf(wire.CodeUnknownFramework, "framework %s is not registered; SUBSCRIBE first", fw)
	}
	if !f.connected {
		return nil, wire.Errorf(wire.CodeUnknownFramework, "framework %s is not subscribed with this leader (term %d); SUBSCRIBE again", fw, l.term)
	}
	return f, nil
}

// subscribe registers a framework through raft (new, changed, or back
// from a disconnection) and starts offering to it.
func (l *leader) subscribe(msg *nats.Msg, info wire.FrameworkInfo) {
	if len(info.Roles) == 0 {
		info.Roles = []string{"*"}
	}
	rec, known := l.m.fsm.Framework(info.ID)
	if !known || !sameFrameworkInfo(rec.Info, info) || !rec.DisconnectedAt.IsZero() {
		if err := l.write(func(ctx context.Context) error { return l.m.applyRegisterFramework(ctx, info) }); err != nil {
			l.reply(msg, "", nil, asWireError(err))
			return
		}
	}
	l.mu.Lock()
	if !l.active() {
		l.mu.Unlock()
		l.reply(msg, "", nil, l.deposed())
		return
	}
	f := l.frameworks[info.ID]
	if f == nil {
		f = &frameworkState{offers: map[wire.OfferID]*offer{}}
		l.frameworks[info.ID] = f
		l.alloc.AddFramework(info.ID, info.Roles, true)
	} else {
		// A re-subscription invalidates what was offered before.
		for oid, o := range f.offers {
			l.rescind(oid, o)
		}
		l.alloc.RemoveFramework(info.ID)
		l.alloc.AddFramework(info.ID, info.Roles, true)
		l.reallocateTasksOf(info.ID)
	}
	f.info = info
	f.connected = true
	f.lastSeen = l.m.now()
	f.disconnectedAt = time.Time{}
	f.removing = false
	sub := wire.Subscribed{
		FrameworkID:       info.ID,
		HeartbeatInterval: wire.Duration(l.m.cfg.FrameworkHeartbeatInterval),
		Leader:            l.info(),
	}
	// The event goes out on the framework's subject before any offer can
	// (offers are published by the allocation loop, which needs l.mu), so
	// the driver sees SUBSCRIBED first; the reply confirms the call.
	l.publish(l.m.subj.Framework(info.ID), wire.TypeSubscribed, sub)
	l.markAll()
	l.mu.Unlock()
	l.reply(msg, wire.TypeSubscribed, sub, nil)
	l.log.Info("framework subscribed", "framework", info.ID, "name", info.Name, "known", known)
}

// reallocateTasksOf re-adds the resources of a framework's running tasks
// to the allocator after the framework was re-added. l.mu is held.
func (l *leader) reallocateTasksOf(fw wire.FrameworkID) {
	for k, t := range l.tasks {
		if k.fw == fw && !t.recovered {
			l.alloc.Allocated(t.agent, fw, t.info.Resources)
		}
	}
}

// touch notes that a framework is alive.
func (l *leader) touch(fw wire.FrameworkID) {
	l.mu.Lock()
	if f := l.frameworks[fw]; f != nil {
		f.lastSeen = l.m.now()
	}
	l.mu.Unlock()
}

func sameFrameworkInfo(a, b wire.FrameworkInfo) bool {
	if a.Name != b.Name || a.Principal != b.Principal || a.FailoverTimeout != b.FailoverTimeout || a.WebUIURL != b.WebUIURL ||
		a.Hostname != b.Hostname || len(a.Roles) != len(b.Roles) {
		return false
	}
	for i := range a.Roles {
		if a.Roles[i] != b.Roles[i] {
			return false
		}
	}
	return true
}

func (l *leader) frameworkHeartbeat(fw wire.FrameworkID) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.connected(fw)
	return err
}

func (l *leader) revive(fw wire.FrameworkID, roles []string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.connected(fw); err != nil {
		return err
	}
	l.alloc.Revive(fw, roles)
	l.markAll()
	return nil
}

func (l *leader) suppress(fw wire.FrameworkID, roles []string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.connected(fw); err != nil {
		return err
	}
	l.alloc.Suppress(fw, roles)
	return nil
}

// kill asks the task's agent to kill it. An unknown task is answered with
// TASK_UNKNOWN rather than silence — unless it may be on an agent that has
// not re-registered after an election, which is an error to retry.
func (l *leader) kill(fw wire.FrameworkID, c wire.Kill) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.connected(fw); err != nil {
		return err
	}
	t := l.task(fw, c.TaskID)
	if t == nil {
		if c.AgentID == "" && len(l.awaited) > 0 {
			// As Mesos does: the task may be on an agent that has not
			// re-registered after the election; do not guess.
			return wire.Errorf(wire.CodeUnavailable, "task %s is not known yet: %d agents have not re-registered with this leader; retry the kill", c.TaskID, len(l.awaited))
		}
		if c.AgentID != "" {
			if rec, ok := l.m.fsm.Agent(c.AgentID); ok && l.agents[c.AgentID] == nil && rec.State != registry.AgentGone {
				return wire.Errorf(wire.CodeUnavailable, "agent %s has not re-registered with this leader yet; retry the kill", c.AgentID)
			}
		}
		l.sendUpdate(fw, masterUpdate(c.TaskID, c.AgentID, wire.TaskUnknown, wire.ReasonTaskUnknown,
			"task %s is not known to the master", c.TaskID))
		return nil
	}
	if t.status.State.Terminal() {
		l.sendUpdate(fw, reconciled(t.status)) // already ended: say how
		return nil
	}
	l.publish(l.m.subj.Agent(t.agent), wire.TypeKillTask, wire.KillTask{FrameworkID: fw, TaskID: c.TaskID, Reason: wire.ReasonKilledByFramework})
	return nil
}

func (l *leader) shutdownOnAgent(fw wire.FrameworkID, agent wire.AgentID) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.connected(fw); err != nil {
		return err
	}
	if l.agents[agent] == nil {
		return wire.Errorf(wire.CodeUnknownAgent, "agent %s is not registered", agent)
	}
	l.publish(l.m.subj.Agent(agent), wire.TypeShutdownFramework, wire.ShutdownFramework{FrameworkID: fw})
	return nil
}

// acknowledge relays a framework's acknowledgements to their agents, one
// message per agent.
func (l *leader) acknowledge(fw wire.FrameworkID, acks []wire.Acknowledge) error {
	l.mu.Lock()
	if _, err := l.connected(fw); err != nil {
		l.mu.Unlock()
		return err
	}
	byAgent := map[wire.AgentID][]wire.StatusAck{}
	var order []wire.AgentID
	var unknown []wire.AgentID
	for _, c := range acks {
		if t := l.task(fw, c.TaskID); t != nil && t.status.State.Terminal() && t.status.UUID == c.UUID {
			// The framework knows how the task ended: forget it.
			l.forgetTask(t)
		}
		if _, known := l.agents[c.AgentID]; !known {
			unknown = append(unknown, c.AgentID)
			continue
		}
		if _, seen := byAgent[c.AgentID]; !seen {
			order = append(order, c.AgentID)
		}
		byAgent[c.AgentID] = append(byAgent[c.AgentID], wire.StatusAck{FrameworkID: fw, TaskID: c.TaskID, UUID: c.UUID})
	}
	l.mu.Unlock()
	for _, agent := range order {
		l.sendStatusAcks(agent, byAgent[agent])
	}
	if len(unknown) > 0 {
		return wire.Errorf(wire.CodeUnknownAgent, "agent %s is not registered with this leader; the update will be resent", unknown[0])
	}
	return nil
}

func (l *leader) message(fw wire.FrameworkID, c wire.Message) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.connected(fw); err != nil {
		return err
	}
	if l.agents[c.AgentID] == nil {
		return wire.Errorf(wire.CodeUnknownAgent, "agent %s is not registered", c.AgentID)
	}
	l.publish(l.m.subj.Agent(c.AgentID), wire.TypeFrameworkMessage, wire.FrameworkMessage{FrameworkID: fw, Message: c})
	return nil
}

// teardown removes a framework: its offers are rescinded, its tasks
// killed everywhere, and it is removed from the registry.
func (l *leader) teardown(fw wire.FrameworkID) error {
	l.mu.Lock()
	f := l.frameworks[fw]
	if f == nil {
		l.mu.Unlock()
		return wire.Errorf(wire.CodeUnknownFramework, "framework %s is not registered", fw)
	}
	for oid, o := range f.offers {
		l.rescind(oid, o)
	}
	agents := map[wire.AgentID]bool{}
	for k, t := range l.tasks {
		if k.fw == fw {
			agents[t.agent] = true
		}
	}
	f.connected = false
	l.alloc.SetFrameworkActive(fw, false)
	l.mu.Unlock()
	for a := range agents {
		l.publish(l.m.subj.Agent(a), wire.TypeShutdownFramework, wire.ShutdownFramework{FrameworkID: fw})
	}
	if err := l.write(func(ctx context.Context) error { return l.m.applyRemoveFramework(ctx, fw) }); err != nil {
		return asWireError(err)
	}
	l.mu.Lock()
	delete(l.frameworks, fw)
	l.alloc.RemoveFramework(fw)
	for k, t := range l.tasks {
		if k.fw == fw && t.status.State.Terminal() {
			l.forgetTask(t)
		}
	}
	l.mu.Unlock()
	l.log.Info("framework torn down", "framework", fw)
	return nil
}

// knownCalls bounds the label values of the calls metric, whatever
// clients send.
var knownCalls = map[wire.Type]bool{
	wire.TypeAccept: true, wire.TypeDecline: true, wire.TypeRevive: true, wire.TypeSuppress: true,
	wire.TypeKill: true, wire.TypeShutdown: true, wire.TypeAcknowledge: true, wire.TypeAcknowledgements: true, wire.TypeReconcile: true,
	wire.TypeMessage: true, wire.TypeHeartbeat: true,
}
