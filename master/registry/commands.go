// Package registry is the master's replicated registry: a raft FSM holding
// admitted agents, registered frameworks, roles (weights, quotas) and role
// ACLs. Everything here is committed through raft before a master
// acknowledges it.
//
// The FSM contract: Apply is deterministic (every time and ID arrives in
// the command, chosen before raft.Apply); Snapshot is cheap (a copy under
// the lock); Persist does the I/O; Restore drops all earlier state.
package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// CommandType is the first byte of a raft log entry. Values are only ever
// appended.
type CommandType uint8

// Command types.
const (
	RegisterAgent            CommandType = 1
	SetAgentState            CommandType = 2
	RemoveAgent              CommandType = 3
	RegisterFramework        CommandType = 4
	RemoveFramework          CommandType = 5
	SetRole                  CommandType = 6
	SetRoleACL               CommandType = 7
	SetFrameworkDisconnected CommandType = 8
)

// IgnoreUnknownTypeFlag, set on a command's type byte, lets a master that
// does not know the type skip the entry instead of failing it.
const IgnoreUnknownTypeFlag CommandType = 128

func (t CommandType) String() string {
	switch t &^ IgnoreUnknownTypeFlag {
	case RegisterAgent:
		return "RegisterAgent"
	case SetAgentState:
		return "SetAgentState"
	case RemoveAgent:
		return "RemoveAgent"
	case RegisterFramework:
		return "RegisterFramework"
	case RemoveFramework:
		return "RemoveFramework"
	case SetRole:
		return "SetRole"
	case SetRoleACL:
		return "SetRoleACL"
	case SetFrameworkDisconnected:
		return "SetFrameworkDisconnected"
	}
	return fmt.Sprintf("CommandType(%d)", uint8(t))
}

// Payloads. Every time in them is chosen by the leader before raft.Apply.
type (
	// RegisterAgentCmd admits an agent or re-admits a known one.
	RegisterAgentCmd struct {
		Info wire.AgentInfo `json:"info"`
		At   time.Time      `json:"at"`
	}
	// SetAgentStateCmd moves an agent to a state.
	SetAgentStateCmd struct {
		ID    wire.AgentID `json:"id"`
		State AgentState   `json:"state"`
		At    time.Time    `json:"at"`
		// DrainDeadline goes with DRAINING: when the agent's tasks are killed.
		DrainDeadline time.Time `json:"drain_deadline,omitempty"`
	}
	// RemoveAgentCmd forgets an agent.
	RemoveAgentCmd struct {
		ID wire.AgentID `json:"id"`
	}
	// RegisterFrameworkCmd registers a framework or updates its info.
	RegisterFrameworkCmd struct {
		Info wire.FrameworkInfo `json:"info"`
		At   time.Time          `json:"at"`
	}
	// RemoveFrameworkCmd forgets a framework.
	RemoveFrameworkCmd struct {
		ID wire.FrameworkID `json:"id"`
	}
	// SetRoleCmd sets a role's weight and quota.
	SetRoleCmd struct {
		Role Role `json:"role"`
	}
	// SetRoleACLCmd sets which principals may use a role (empty: anyone).
	SetRoleACLCmd struct {
		Role       string   `json:"role"`
		Principals []string `json:"principals"`
	}
	// SetFrameworkDisconnectedCmd records when a framework disconnected
	// (zero time: it is connected again).
	SetFrameworkDisconnectedCmd struct {
		ID wire.FrameworkID `json:"id"`
		At time.Time        `json:"at"`
	}
)

// ErrDecode is wrapped by command decoding errors.
var ErrDecode = errors.New("registry: cannot decode command")

// Encode builds a log entry: the type byte, then the JSON payload.
func Encode(t CommandType, payload any) ([]byte, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("registry: encode %s: %w", t, err)
	}
	return append([]byte{byte(t)}, b...), nil
}

// Decode splits a log entry into its type and payload. It never panics.
func Decode(b []byte) (CommandType, []byte, error) {
	if len(b) == 0 {
		return 0, nil, fmt.Errorf("%w: empty entry", ErrDecode)
	}
	return CommandType(b[0]), b[1:], nil
}
