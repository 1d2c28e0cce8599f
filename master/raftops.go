package master

import (
	"context"
	"errors"
	"time"

	"github.com/agora-cluster/agora/master/raftnode"
	"github.com/agora-cluster/agora/master/registry"
	"github.com/agora-cluster/agora/sdk/wire"
)

// raftApply commits one registry command; the FSM's refusal comes back as
// a typed wire error. Times are chosen here, before raft, never in the FSM.
func (m *Master) raftApply(ctx context.Context, t registry.CommandType, payload any) error {
	data, err := registry.Encode(t, payload)
	if err != nil {
		return wire.Errorf(wire.CodeInternal, "%v", err)
	}
	start := time.Now()
	_, err = m.raft.Apply(ctx, data)
	m.metrics.raftApply.Observe(since(start))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raftnode.ErrNotLeader):
		return wire.Errorf(wire.CodeNotLeader, "%v", err)
	case errors.Is(err, registry.ErrAgentGone), errors.Is(err, registry.ErrForbidden), errors.Is(err, registry.ErrPrincipalMismatch):
		return wire.Errorf(wire.CodeForbidden, "%v", err)
	case errors.Is(err, registry.ErrUnknownAgent):
		return wire.Errorf(wire.CodeUnknownAgent, "%v", err)
	case errors.Is(err, registry.ErrUnknownFramework):
		return wire.Errorf(wire.CodeUnknownFramework, "%v", err)
	case errors.Is(err, registry.ErrInvalid):
		return wire.Errorf(wire.CodeInvalid, "%v", err)
	}
	return wire.Errorf(wire.CodeUnavailable, "registry write failed: %v", err)
}

func (m *Master) applyRegisterAgent(ctx context.Context, info wire.AgentInfo) error {
	return m.raftApply(ctx, registry.RegisterAgent, registry.RegisterAgentCmd{Info: info, At: time.Now()})
}

func (m *Master) applyAgentState(ctx context.Context, id wire.AgentID, st registry.AgentState) error {
	return m.raftApply(ctx, registry.SetAgentState, registry.SetAgentStateCmd{ID: id, State: st, At: time.Now()})
}

func (m *Master) applyRegisterFramework(ctx context.Context, info wire.FrameworkInfo) error {
	return m.raftApply(ctx, registry.RegisterFramework, registry.RegisterFrameworkCmd{Info: info, At: time.Now()})
}

func (m *Master) applyRemoveFramework(ctx context.Context, id wire.FrameworkID) error {
	return m.raftApply(ctx, registry.RemoveFramework, registry.RemoveFrameworkCmd{ID: id})
}

func (m *Master) applyFrameworkDisconnected(ctx context.Context, id wire.FrameworkID, at time.Time) error {
	return m.raftApply(ctx, registry.SetFrameworkDisconnected, registry.SetFrameworkDisconnectedCmd{ID: id, At: at})
}
