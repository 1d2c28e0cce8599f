package registry

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/agora-cluster/agora/sdk/wire"
)

// FSM is the registry as a raft.FSM. Its read methods return deep copies
// and are safe to call concurrently with Apply and Restore.
//
// Lock order: FSM.mu, then nothing. Hooks run with no FSM lock held.
type FSM struct {
	mu sync.RWMutex
	s  *state

	hooksMu sync.Mutex
	hooks   []func(CommandType, any)
}

// NewFSM returns an empty registry.
func NewFSM() *FSM { return &FSM{s: newState()} }

var _ raft.FSM = (*FSM)(nil)

// Apply applies one committed log entry. It returns nil on success (and
// for entries that are not commands, or of an unknown type flagged with
// IgnoreUnknownTypeFlag) and an error value when the command is refused; a
// refused command changes nothing. raftnode hands that error to the
// caller of Node.Apply. Apply never panics on malformed entries.
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	if err := f.apply(l.Data); err != nil {
		return err
	}
	return nil
}

// ApplyCommand applies an encoded command directly, bypassing raft, with
// the same result as Apply. It is for tests and tools that replay a log;
// a running master must only change the registry through raft.
func (f *FSM) ApplyCommand(data []byte) error { return f.apply(data) }

func (f *FSM) apply(data []byte) error {
	t, payload, err := Decode(data)
	if err != nil {
		return err
	}
	base := t &^ IgnoreUnknownTypeFlag
	cmd, err := decodePayload(base, payload)
	if err != nil {
		return err
	}
	if cmd == nil {
		if t&IgnoreUnknownTypeFlag != 0 {
			return nil
		}
		return fmt.Errorf("%w: %d", ErrUnknownCommand, uint8(t))
	}

	f.mu.Lock()
	switch c := cmd.(type) {
	case *RegisterAgentCmd:
		err = f.s.registerAgent(c)
	case *SetAgentStateCmd:
		err = f.s.setAgentState(c)
	case *RemoveAgentCmd:
		err = f.s.removeAgent(c)
	case *RegisterFrameworkCmd:
		err = f.s.registerFramework(c)
	case *RemoveFrameworkCmd:
		err = f.s.removeFramework(c)
	case *SetRoleCmd:
		err = f.s.setRole(c)
	case *SetRoleACLCmd:
		err = f.s.setRoleACL(c)
	case *SetFrameworkDisconnectedCmd:
		err = f.s.setFrameworkDisconnected(c)
	default:
		// decodePayload and this switch list the same types.
		err = fmt.Errorf("%w: %s has no handler", ErrUnknownCommand, base)
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	f.notify(base, cmd)
	return nil
}

// OnChange registers fn to be called after every successful command, with
// the command's type (without IgnoreUnknownTypeFlag) and its payload struct
// by value (for example a RegisterAgentCmd), which fn may keep: the FSM
// holds no reference into it.
//
// fn runs synchronously on raft's FSM goroutine, in log order, after the
// change is visible to the read methods and with no FSM lock held. It must
// return quickly and must not wait for raft (Node.Apply or Barrier would
// deadlock, since raft waits for the FSM); hand work to another goroutine
// instead. It is not called for refused or skipped entries, nor by
// Restore: a Restore replaces the whole state, so a listener that must
// not miss changes re-reads the state whenever it (re)starts, as the
// leader does after its election barrier. Hooks cannot be removed.
func (f *FSM) OnChange(fn func(t CommandType, payload any)) {
	f.hooksMu.Lock()
	defer f.hooksMu.Unlock()
	f.hooks = append(f.hooks, fn)
}

func (f *FSM) notify(t CommandType, cmd any) {
	f.hooksMu.Lock()
	hooks := f.hooks
	f.hooksMu.Unlock()
	if len(hooks) == 0 {
		return
	}
	var v any
	switch c := cmd.(type) {
	case *RegisterAgentCmd:
		v = *c
	case *SetAgentStateCmd:
		v = *c
	case *RemoveAgentCmd:
		v = *c
	case *RegisterFrameworkCmd:
		v = *c
	case *RemoveFrameworkCmd:
		v = *c
	case *SetRoleCmd:
		v = *c
	case *SetRoleACLCmd:
		v = *c
	case *SetFrameworkDisconnectedCmd:
		v = *c
	}
	for _, h := range hooks {
		h(t, v)
	}
}

// Agents returns every admitted agent, sorted by ID.
func (f *FSM) Agents() []Agent {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Agent, 0, len(f.s.Agents))
	for _, a := range f.s.Agents {
		out = append(out, cloneAgent(a))
	}
	slices.SortFunc(out, func(a, b Agent) int { return cmp.Compare(a.Info.ID, b.Info.ID) })
	return out
}

// AgentsIn returns the agents in state, sorted by ID: for the leader's
// periodic checks, which look at few agents (those draining) among many.
func (f *FSM) AgentsIn(state AgentState) []Agent {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []Agent
	for _, a := range f.s.Agents {
		if a.State == state {
			out = append(out, cloneAgent(a))
		}
	}
	slices.SortFunc(out, func(a, b Agent) int { return cmp.Compare(a.Info.ID, b.Info.ID) })
	return out
}

// AgentStatus is an agent's registry state, without its info.
type AgentStatus struct {
	ID         wire.AgentID
	State      AgentState
	StateSince time.Time
}

// AgentStatuses returns every agent's state, in no particular order; it
// is cheaper than Agents for the leader's periodic health check.
func (f *FSM) AgentStatuses() []AgentStatus {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]AgentStatus, 0, len(f.s.Agents))
	for id, a := range f.s.Agents {
		out = append(out, AgentStatus{ID: id, State: a.State, StateSince: a.StateSince})
	}
	return out
}

// Agent returns one agent.
func (f *FSM) Agent(id wire.AgentID) (Agent, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	a, ok := f.s.Agents[id]
	return cloneAgent(a), ok
}

// Frameworks returns every registered framework, sorted by ID.
func (f *FSM) Frameworks() []Framework {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Framework, 0, len(f.s.Frameworks))
	for _, fw := range f.s.Frameworks {
		out = append(out, cloneFramework(fw))
	}
	slices.SortFunc(out, func(a, b Framework) int { return cmp.Compare(a.Info.ID, b.Info.ID) })
	return out
}

// Framework returns one framework.
func (f *FSM) Framework(id wire.FrameworkID) (Framework, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fw, ok := f.s.Frameworks[id]
	return cloneFramework(fw), ok
}

// Roles returns the roles that were set, sorted by name. Roles never set
// have the defaults that Role reports and are not listed.
func (f *FSM) Roles() []Role {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Role, 0, len(f.s.Roles))
	for _, r := range f.s.Roles {
		out = append(out, cloneRole(r))
	}
	slices.SortFunc(out, func(a, b Role) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// Role returns a role, or its defaults (weight DefaultWeight, no quota)
// if it was never set.
func (f *FSM) Role(name string) Role {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if r, ok := f.s.Roles[name]; ok {
		return cloneRole(r)
	}
	return Role{Name: name, Weight: DefaultWeight}
}

// RoleACL returns the principals allowed to use a role, sorted (nil:
// anyone).
func (f *FSM) RoleACL(role string) []string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return slices.Clone(f.s.ACLs[role])
}

// ACLs returns every role ACL, role → sorted principals.
func (f *FSM) ACLs() map[string][]string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make(map[string][]string, len(f.s.ACLs))
	for r, p := range f.s.ACLs {
		out[r] = slices.Clone(p)
	}
	return out
}

// snapshotVersion is written into every snapshot; Restore refuses newer
// versions rather than misread them.
const snapshotVersion = 1

// snapshotFile is the snapshot's JSON document.
type snapshotFile struct {
	Version int `json:"version"`
	*state
}

// Snapshot copies the state's maps under the read lock (records are never
// modified in place, so this is a consistent, cheap copy); Persist
// encodes it outside the lock.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return &snapshot{s: f.s.shallowClone()}, nil
}

// Restore replaces all state with the snapshot's. A snapshot that cannot
// be decoded, is of a newer version, or is inconsistent leaves the state
// unchanged and returns an error.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	doc := snapshotFile{state: newState()}
	if err := json.NewDecoder(rc).Decode(&doc); err != nil {
		return fmt.Errorf("registry: restore: %w", err)
	}
	if doc.Version > snapshotVersion {
		return fmt.Errorf("registry: restore: snapshot version %d is newer than %d", doc.Version, snapshotVersion)
	}
	s := doc.state
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
	maps.DeleteFunc(s.ACLs, func(_ string, p []string) bool { return len(p) == 0 })
	if err := s.check(); err != nil {
		return fmt.Errorf("registry: restore: %w", err)
	}
	f.mu.Lock()
	f.s = s
	f.mu.Unlock()
	return nil
}

type snapshot struct{ s *state }

// Persist writes the snapshot as one JSON document (map keys sorted, so
// equal states give equal bytes).
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(snapshotFile{Version: snapshotVersion, state: s.s}); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("registry: persist: %w", err)
	}
	return sink.Close()
}

// Release does nothing: the copy is garbage collected.
func (s *snapshot) Release() {}
