package master

import (
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/agora-cluster/agora/sdk/wire"
)

// NATSAddr is the address the master's NATS connection is connected to:
// "pipe" for an in-process connection.
func (m *Master) NATSAddr() string { return m.nc.ConnectedAddr() }

// HandToDeposedLeader hands msg, an agent's registration or a framework's
// SUBSCRIBE, to a leader of term that stepped down while msg waited.
func (m *Master) HandToDeposedLeader(term uint64, msg *nats.Msg) error {
	env, err := wire.Decode(msg.Data)
	if err != nil {
		return err
	}
	l, err := newLeader(m, term)
	if err != nil {
		return err
	}
	l.cancel()
	switch env.Type {
	case wire.TypeRegisterAgent:
		var req wire.RegisterAgent
		if err := wire.DecodeBody(env, &req); err != nil {
			return err
		}
		l.registerAgent(msg, req)
	case wire.TypeSubscribe:
		var sub wire.Subscribe
		if err := wire.DecodeBody(env, &sub); err != nil {
			return err
		}
		l.subscribe(msg, sub.Framework)
	default:
		return fmt.Errorf("cannot hand a %s to a deposed leader", env.Type)
	}
	return nil
}

// RegisteredFramework is the framework's info as the registry holds it.
func (m *Master) RegisteredFramework(id wire.FrameworkID) (wire.FrameworkInfo, bool) {
	rec, ok := m.fsm.Framework(id)
	return rec.Info, ok
}

// HoldAgent holds the current leader's lock of an agent, so that the
// agent's registrations wait; release lets them go on.
func (m *Master) HoldAgent(id wire.AgentID) (release func()) {
	_, l := m.currentLeader()
	if l == nil {
		panic("HoldAgent: not the leader")
	}
	lock := l.agentLock(id)
	lock.Lock()
	return lock.Unlock
}

// RegistrationsWaiting is how many registrations of an agent the current
// leader has received and not yet handled.
func (m *Master) RegistrationsWaiting(id wire.AgentID) int {
	_, l := m.currentLeader()
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.registering[id]
}
