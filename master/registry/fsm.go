package registry

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/agora-cluster/agora/sdk/wire"
)

// FSM is the registry as a raft.FSM. Its read methods return copies and
// are safe to call concurrently with Apply.
type FSM struct {
	mu sync.RWMutex
	s  *state
}

// NewFSM returns an empty registry.
func NewFSM() *FSM { return &FSM{s: newState()} }

var _ raft.FSM = (*FSM)(nil)

// Apply applies one committed command. It returns nil on success and an
// error value (which raftnode hands to the caller) when the command is
// refused; a refused command changes nothing.
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	return f.apply(l.Data)
}

func (f *FSM) apply(data []byte) error {
	t, payload, err := Decode(data)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch t &^ IgnoreUnknownTypeFlag {
	case RegisterAgent:
		var c RegisterAgentCmd
		if err := unmarshal(t, payload, &c); err != nil {
			return err
		}
		return f.s.registerAgent(c)
	case SetAgentState:
		var c SetAgentStateCmd
		if err := unmarshal(t, payload, &c); err != nil {
			return err
		}
		return f.s.setAgentState(c)
	case RemoveAgent:
		var c RemoveAgentCmd
		if err := unmarshal(t, payload, &c); err != nil {
			return err
		}
		if _, ok := f.s.Agents[c.ID]; !ok {
			return fmt.Errorf("%w: %s", ErrUnknownAgent, c.ID)
		}
		delete(f.s.Agents, c.ID)
		return nil
	case RegisterFramework:
		var c RegisterFrameworkCmd
		if err := unmarshal(t, payload, &c); err != nil {
			return err
		}
		return f.s.registerFramework(c)
	case RemoveFramework:
		var c RemoveFrameworkCmd
		if err := unmarshal(t, payload, &c); err != nil {
			return err
		}
		if _, ok := f.s.Frameworks[c.ID]; !ok {
			return fmt.Errorf("%w: %s", ErrUnknownFramework, c.ID)
		}
		delete(f.s.Frameworks, c.ID)
		return nil
	case SetRole:
		var c SetRoleCmd
		if err := unmarshal(t, payload, &c); err != nil {
			return err
		}
		return f.s.setRole(c)
	case SetRoleACL:
		var c SetRoleACLCmd
		if err := unmarshal(t, payload, &c); err != nil {
			return err
		}
		return f.s.setRoleACL(c)
	case SetFrameworkDisconnected:
		var c SetFrameworkDisconnectedCmd
		if err := unmarshal(t, payload, &c); err != nil {
			return err
		}
		return f.s.setFrameworkDisconnected(c)
	}
	if t&IgnoreUnknownTypeFlag != 0 {
		return nil
	}
	return fmt.Errorf("%w: %d", ErrUnknownCommand, uint8(t))
}

func unmarshal(t CommandType, payload []byte, v any) error {
	if err := json.Unmarshal(payload, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrDecode, t, err)
	}
	return nil
}

// ApplyCommand applies an encoded command directly, bypassing raft. It is
// for tests and tools that replay a log.
func (f *FSM) ApplyCommand(data []byte) error { return f.apply(data) }

// Agents returns every admitted agent, sorted by ID.
func (f *FSM) Agents() []Agent {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Agent, 0, len(f.s.Agents))
	for _, a := range f.s.Agents {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Info.ID < out[j].Info.ID })
	return out
}

// Agent returns one agent.
func (f *FSM) Agent(id wire.AgentID) (Agent, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	a, ok := f.s.Agents[id]
	return a, ok
}

// Frameworks returns every registered framework, sorted by ID.
func (f *FSM) Frameworks() []Framework {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Framework, 0, len(f.s.Frameworks))
	for _, fw := range f.s.Frameworks {
		out = append(out, fw)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Info.ID < out[j].Info.ID })
	return out
}

// Framework returns one framework.
func (f *FSM) Framework(id wire.FrameworkID) (Framework, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fw, ok := f.s.Frameworks[id]
	return fw, ok
}

// Roles returns the roles that were set, sorted by name.
func (f *FSM) Roles() []Role {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Role, 0, len(f.s.Roles))
	for _, r := range f.s.Roles {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Role returns a role, or its defaults (weight 1, no quota) if never set.
func (f *FSM) Role(name string) Role {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if r, ok := f.s.Roles[name]; ok {
		return r
	}
	return Role{Name: name, Weight: 1}
}

// RoleACL returns the principals allowed to use a role (nil: anyone).
func (f *FSM) RoleACL(role string) []string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return append([]string(nil), f.s.ACLs[role]...)
}

// Snapshot copies the state under the lock; Persist writes it.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return &snapshot{s: f.s.clone()}, nil
}

// Restore replaces all state with the snapshot's.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	s := newState()
	if err := json.NewDecoder(rc).Decode(s); err != nil {
		return fmt.Errorf("registry: restore: %w", err)
	}
	if s.Agents == nil {
		s.Agents = map[wire.AgentID]Agent{}
	}
	if s.Frameworks == nil {
		s.Frameworks = map[wire.FrameworkID]Framework{}
	}
	if s.Roles == nil {
		s.Roles = map[string]Role{}
	}
	if s.ACLs == nil {
		s.ACLs = map[string][]string{}
	}
	f.mu.Lock()
	f.s = s
	f.mu.Unlock()
	return nil
}

type snapshot struct{ s *state }

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(s.s); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("registry: persist: %w", err)
	}
	return sink.Close()
}

func (s *snapshot) Release() {}
