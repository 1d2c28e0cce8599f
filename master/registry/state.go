package registry

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// AgentState is an agent's state in the registry.
type AgentState string

// Agent states.
const (
	AgentActive      AgentState = "ACTIVE"
	AgentUnreachable AgentState = "UNREACHABLE"
	AgentGone        AgentState = "GONE"
	AgentDraining    AgentState = "DRAINING"
	AgentDrained     AgentState = "DRAINED"
)

func (s AgentState) valid() bool {
	switch s {
	case AgentActive, AgentUnreachable, AgentGone, AgentDraining, AgentDrained:
		return true
	}
	return false
}

// Agent is an admitted agent.
type Agent struct {
	Info          wire.AgentInfo `json:"info"`
	State         AgentState     `json:"state"`
	RegisteredAt  time.Time      `json:"registered_at"`
	StateSince    time.Time      `json:"state_since"`
	DrainDeadline time.Time      `json:"drain_deadline,omitempty"`
}

// Framework is a registered framework.
type Framework struct {
	Info           wire.FrameworkInfo `json:"info"`
	RegisteredAt   time.Time          `json:"registered_at"`
	DisconnectedAt time.Time          `json:"disconnected_at,omitempty"`
}

// Role is a role's weight and quota limit (zero fields: unlimited).
type Role struct {
	Name   string         `json:"name"`
	Weight float64        `json:"weight"`
	Quota  wire.Resources `json:"quota"`
}

// Errors the FSM returns from Apply; state is unchanged when it does.
var (
	ErrUnknownAgent      = errors.New("registry: unknown agent")
	ErrUnknownFramework  = errors.New("registry: unknown framework")
	ErrAgentGone         = errors.New("registry: agent is gone and may not re-register")
	ErrPrincipalMismatch = errors.New("registry: framework re-registered with a different principal")
	ErrForbidden         = errors.New("registry: principal may not use role")
	ErrInvalid           = errors.New("registry: invalid command")
	ErrUnknownCommand    = errors.New("registry: unknown command type")
)

// state is the registry's data; FSM guards it.
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

func (s *state) clone() *state {
	c := newState()
	for k, v := range s.Agents {
		c.Agents[k] = v
	}
	for k, v := range s.Frameworks {
		c.Frameworks[k] = v
	}
	for k, v := range s.Roles {
		c.Roles[k] = v
	}
	for k, v := range s.ACLs {
		c.ACLs[k] = append([]string(nil), v...)
	}
	return c
}

func (s *state) registerAgent(c RegisterAgentCmd) error {
	if err := c.Info.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	old, known := s.Agents[c.Info.ID]
	if known && old.State == AgentGone {
		return fmt.Errorf("%w: %s", ErrAgentGone, c.Info.ID)
	}
	a := Agent{Info: c.Info, State: AgentActive, RegisteredAt: c.At, StateSince: c.At}
	if known {
		a.RegisteredAt = old.RegisteredAt
		// Draining survives a re-registration; only reactivation ends it.
		if old.State == AgentDraining || old.State == AgentDrained {
			a.State, a.StateSince, a.DrainDeadline = old.State, old.StateSince, old.DrainDeadline
		} else if old.State == AgentActive {
			a.StateSince = old.StateSince
		}
	}
	s.Agents[c.Info.ID] = a
	return nil
}

func (s *state) setAgentState(c SetAgentStateCmd) error {
	if !c.State.valid() {
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
	a.State = c.State
	a.DrainDeadline = time.Time{}
	if c.State == AgentDraining {
		a.DrainDeadline = c.DrainDeadline
	}
	s.Agents[c.ID] = a
	return nil
}

func (s *state) registerFramework(c RegisterFrameworkCmd) error {
	if err := c.Info.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	old, known := s.Frameworks[c.Info.ID]
	if known && old.Info.Principal != c.Info.Principal {
		return fmt.Errorf("%w: %s was %q, now %q", ErrPrincipalMismatch, c.Info.ID, old.Info.Principal, c.Info.Principal)
	}
	for _, r := range c.Info.Roles {
		if acl := s.ACLs[r]; len(acl) > 0 && !contains(acl, c.Info.Principal) {
			return fmt.Errorf("%w: principal %q, role %q", ErrForbidden, c.Info.Principal, r)
		}
	}
	f := Framework{Info: c.Info, RegisteredAt: c.At}
	if known {
		f.RegisteredAt = old.RegisteredAt
	}
	s.Frameworks[c.Info.ID] = f
	return nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (s *state) setRole(c SetRoleCmd) error {
	r := c.Role
	if err := wire.ValidRole(r.Name); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if !(r.Weight > 0) || math.IsInf(r.Weight, 0) {
		return fmt.Errorf("%w: role %s: weight must be a positive number, got %v", ErrInvalid, r.Name, r.Weight)
	}
	if err := r.Quota.Validate(); err != nil {
		return fmt.Errorf("%w: role %s quota: %v", ErrInvalid, r.Name, err)
	}
	s.Roles[r.Name] = r
	return nil
}

func (s *state) setRoleACL(c SetRoleACLCmd) error {
	if err := wire.ValidRole(c.Role); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(c.Principals) == 0 {
		delete(s.ACLs, c.Role)
		return nil
	}
	p := append([]string(nil), c.Principals...)
	sort.Strings(p)
	s.ACLs[c.Role] = p
	return nil
}

func (s *state) setFrameworkDisconnected(c SetFrameworkDisconnectedCmd) error {
	f, ok := s.Frameworks[c.ID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownFramework, c.ID)
	}
	f.DisconnectedAt = c.At
	s.Frameworks[c.ID] = f
	return nil
}
