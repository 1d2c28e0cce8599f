package registry

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// AgentState is an agent's state in the registry.
type AgentState string

// Agent states.
const (
	// AgentActive: admitted and offered.
	AgentActive AgentState = "ACTIVE"
	// AgentUnreachable: the leader lost contact; it may re-register.
	AgentUnreachable AgentState = "UNREACHABLE"
	// AgentGone: decommissioned for good; it may never re-register.
	AgentGone AgentState = "GONE"
	// AgentDraining: no new offers; its tasks are killed at the deadline.
	AgentDraining AgentState = "DRAINING"
	// AgentDrained: draining finished; no tasks, no offers.
	AgentDrained AgentState = "DRAINED"
)

// Valid reports whether s is one of the defined states.
func (s AgentState) Valid() bool {
	switch s {
	case AgentActive, AgentUnreachable, AgentGone, AgentDraining, AgentDrained:
		return true
	}
	return false
}

// Agent is an admitted agent.
type Agent struct {
	Info  wire.AgentInfo `json:"info"`
	State AgentState     `json:"state"`
	// RegisteredAt is when the agent was first admitted.
	RegisteredAt time.Time `json:"registered_at"`
	// StateSince is when the agent entered State.
	StateSince time.Time `json:"state_since"`
	// DrainDeadline is set while DRAINING (zero: no deadline), and kept
	// while a draining agent is UNREACHABLE.
	DrainDeadline time.Time `json:"drain_deadline,omitzero"`
	// Resume is the drain state (DRAINING or DRAINED) an UNREACHABLE agent
	// returns to when it registers again; empty: it returns ACTIVE.
	Resume AgentState `json:"resume,omitempty"`
}

// Framework is a registered framework.
type Framework struct {
	Info wire.FrameworkInfo `json:"info"`
	// RegisteredAt is when the framework first registered.
	RegisteredAt time.Time `json:"registered_at"`
	// DisconnectedAt is when the framework disconnected (zero: connected).
	DisconnectedAt time.Time `json:"disconnected_at,omitzero"`
}

// Role is a role's weight and quota (a zero quota field: unlimited).
type Role struct {
	Name string `json:"name"`
	// Weight scales the role's fair share; it is > 0 (default 1).
	Weight float64        `json:"weight"`
	Quota  wire.Resources `json:"quota"`
}

// DefaultWeight is the weight of a role that was never set.
const DefaultWeight = 1.0

// Errors the FSM returns from Apply; the state is unchanged when it does.
// Each is wrapped with the details, so match them with errors.Is.
var (
	// ErrUnknownAgent: the command names an agent that is not registered.
	ErrUnknownAgent = errors.New("registry: unknown agent")
	// ErrUnknownFramework: the command names a framework that is not registered.
	ErrUnknownFramework = errors.New("registry: unknown framework")
	// ErrAgentGone: a GONE agent may not re-register or leave GONE.
	ErrAgentGone = errors.New("registry: agent is gone and may not come back")
	// ErrPrincipalMismatch: a framework re-registered under another principal.
	ErrPrincipalMismatch = errors.New("registry: framework re-registered with a different principal")
	// ErrForbidden: a role's ACL does not allow the framework's principal.
	ErrForbidden = errors.New("registry: principal may not use role")
	// ErrInvalid: the command's payload fails validation.
	ErrInvalid = errors.New("registry: invalid command")
	// ErrUnknownCommand: the type byte is unknown and lacks IgnoreUnknownTypeFlag.
	ErrUnknownCommand = errors.New("registry: unknown command type")
)

// state is the registry's data; FSM guards it. Records stored in it are
// never modified in place: every change stores a new record built from
// freshly decoded (or cloned) data. A shallow copy of the maps is therefore
// a consistent snapshot.
type state struct {
	Agents     map[wire.AgentID]Agent         `json:"agents"`
	Frameworks map[wire.FrameworkID]Framework `json:"frameworks"`
	Roles      map[string]Role                `json:"roles"`
	ACLs       map[string][]string            `json:"acls"`
}

func newState() *state {
	return &state{
		Agents:     map[wire.AgentID]Agent{},
		Frameworks: map[wire.FrameworkID]Framework{},
		Roles:      map[string]Role{},
		ACLs:       map[string][]string{},
	}
}

// shallowClone copies the maps; see the invariant on state.
func (s *state) shallowClone() *state {
	return &state{
		Agents:     maps.Clone(s.Agents),
		Frameworks: maps.Clone(s.Frameworks),
		Roles:      maps.Clone(s.Roles),
		ACLs:       maps.Clone(s.ACLs),
	}
}

// check verifies a restored state: every map key matches its record.
func (s *state) check() error {
	for id, a := range s.Agents {
		if a.Info.ID != id {
			return fmt.Errorf("agent under key %q has ID %q", id, a.Info.ID)
		}
		if !a.State.Valid() {
			return fmt.Errorf("agent %s: invalid state %q", id, a.State)
		}
	}
	for id, f := range s.Frameworks {
		if f.Info.ID != id {
			return fmt.Errorf("framework under key %q has ID %q", id, f.Info.ID)
		}
	}
	for name, r := range s.Roles {
		if r.Name != name {
			return fmt.Errorf("role under key %q has name %q", name, r.Name)
		}
	}
	return nil
}

func (s *state) registerAgent(c *RegisterAgentCmd) error {
	if err := c.Info.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	old, known := s.Agents[c.Info.ID]
	if known && old.State == AgentGone {
		return fmt.Errorf("%w: %s", ErrAgentGone, c.Info.ID)
	}
	a := Agent{Info: cloneAgentInfo(c.Info), State: AgentActive, RegisteredAt: c.At, StateSince: c.At}
	if known {
		a.RegisteredAt = old.RegisteredAt
		switch old.State {
		case AgentDraining, AgentDrained:
			// A drain survives re-registration (as in Mesos); only an
			// explicit SetAgentState ends it.
			a.State, a.StateSince, a.DrainDeadline = old.State, old.StateSince, old.DrainDeadline
		case AgentUnreachable:
			if old.Resume != "" {
				// An agent drained before it went silent is still drained.
				a.State, a.DrainDeadline = old.Resume, old.DrainDeadline
			}
		case AgentActive:
			a.StateSince = old.StateSince
		}
	}
	s.Agents[a.Info.ID] = a
	return nil
}

func (s *state) setAgentState(c *SetAgentStateCmd) error {
	if !c.State.Valid() {
		return fmt.Errorf("%w: agent state %q", ErrInvalid, c.State)
	}
	a, ok := s.Agents[c.ID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownAgent, c.ID)
	}
	if a.State == AgentGone && c.State != AgentGone {
		return fmt.Errorf("%w: %s", ErrAgentGone, c.ID)
	}
	if a.State != c.State {
		a.StateSince = c.At
	}
	draining, deadline := drainOf(a)
	a.State, a.Resume, a.DrainDeadline = c.State, "", time.Time{}
	switch c.State {
	case AgentDraining:
		a.DrainDeadline = c.DrainDeadline
	case AgentUnreachable:
		a.Resume, a.DrainDeadline = draining, deadline
	}
	s.Agents[c.ID] = a
	return nil
}

// drainOf is the drain state an agent is in, counting one that went
// UNREACHABLE while draining, and its deadline.
func drainOf(a Agent) (AgentState, time.Time) {
	switch {
	case a.State == AgentDraining || a.State == AgentDrained:
		return a.State, a.DrainDeadline
	case a.State == AgentUnreachable:
		return a.Resume, a.DrainDeadline
	}
	return "", time.Time{}
}

// removeAgent forgets an agent entirely, a GONE one included: its ID may
// then register afresh.
func (s *state) removeAgent(c *RemoveAgentCmd) error {
	if _, ok := s.Agents[c.ID]; !ok {
		return fmt.Errorf("%w: %s", ErrUnknownAgent, c.ID)
	}
	delete(s.Agents, c.ID)
	return nil
}

// registerFramework stores a framework. A re-registration keeps the first
// RegisteredAt and clears DisconnectedAt. Role ACLs are checked against
// the framework's roles (none: the default role "*") on every
// registration; changing an ACL later does not evict frameworks.
func (s *state) registerFramework(c *RegisterFrameworkCmd) error {
	if err := c.Info.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	old, known := s.Frameworks[c.Info.ID]
	if known && old.Info.Principal != c.Info.Principal {
		return fmt.Errorf("%w: %s was %q, now %q", ErrPrincipalMismatch, c.Info.ID, old.Info.Principal, c.Info.Principal)
	}
	roles := c.Info.Roles
	if len(roles) == 0 {
		roles = []string{wire.DefaultRole}
	}
	for _, r := range roles {
		if acl := s.ACLs[r]; len(acl) > 0 && !slices.Contains(acl, c.Info.Principal) {
			return fmt.Errorf("%w: principal %q, role %q", ErrForbidden, c.Info.Principal, r)
		}
	}
	f := Framework{Info: cloneFrameworkInfo(c.Info), RegisteredAt: c.At}
	if known {
		f.RegisteredAt = old.RegisteredAt
	}
	s.Frameworks[f.Info.ID] = f
	return nil
}

func (s *state) removeFramework(c *RemoveFrameworkCmd) error {
	if _, ok := s.Frameworks[c.ID]; !ok {
		return fmt.Errorf("%w: %s", ErrUnknownFramework, c.ID)
	}
	delete(s.Frameworks, c.ID)
	return nil
}

func (s *state) setRole(c *SetRoleCmd) error {
	r := cloneRole(c.Role)
	if err := wire.ValidRole(r.Name); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if !(r.Weight > 0) || math.IsInf(r.Weight, 0) {
		return fmt.Errorf("%w: role %s: weight must be a positive number, got %v", ErrInvalid, r.Name, r.Weight)
	}
	if err := r.Quota.Validate(); err != nil {
		return fmt.Errorf("%w: role %s quota: %w", ErrInvalid, r.Name, err)
	}
	s.Roles[r.Name] = r
	return nil
}

// setRoleACL stores the principals sorted and without duplicates; an
// empty list removes the ACL.
func (s *state) setRoleACL(c *SetRoleACLCmd) error {
	if err := wire.ValidRole(c.Role); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if slices.Contains(c.Principals, "") {
		return fmt.Errorf("%w: role %s: empty principal in ACL", ErrInvalid, c.Role)
	}
	if len(c.Principals) == 0 {
		delete(s.ACLs, c.Role)
		return nil
	}
	p := slices.Clone(c.Principals)
	slices.Sort(p)
	s.ACLs[c.Role] = slices.Compact(p)
	return nil
}

func (s *state) setFrameworkDisconnected(c *SetFrameworkDisconnectedCmd) error {
	f, ok := s.Frameworks[c.ID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownFramework, c.ID)
	}
	f.DisconnectedAt = c.At
	s.Frameworks[c.ID] = f
	return nil
}

// Deep copies, so that readers and hooks never share memory with the FSM.

func cloneResources(r wire.Resources) wire.Resources {
	r.Ports = slices.Clone(r.Ports)
	return r
}

func cloneAgentInfo(i wire.AgentInfo) wire.AgentInfo {
	i.Resources = cloneResources(i.Resources)
	i.Attributes = maps.Clone(i.Attributes)
	return i
}

func cloneFrameworkInfo(i wire.FrameworkInfo) wire.FrameworkInfo {
	i.Roles = slices.Clone(i.Roles)
	return i
}

func cloneRole(r Role) Role {
	r.Quota = cloneResources(r.Quota)
	return r
}

func cloneAgent(a Agent) Agent {
	a.Info = cloneAgentInfo(a.Info)
	return a
}

func cloneFramework(f Framework) Framework {
	f.Info = cloneFrameworkInfo(f.Info)
	return f
}
