// Package registry is the master's replicated registry: a raft FSM holding
// admitted agents, registered frameworks, roles (weights, quotas) and role
// ACLs. Everything here is committed through raft before a master
// acknowledges it.
//
// A raft log entry is one [CommandType] byte followed by a JSON payload
// (see [Encode]). Command types are only ever appended; an entry whose
// type byte carries [IgnoreUnknownTypeFlag] is skipped, not refused, by a
// master too old to know the type.
//
// The FSM contract (see [FSM]): Apply is deterministic — every time and ID
// arrives in the command, chosen by the leader before raft.Apply — and a
// refused command returns an error value and changes nothing; Snapshot is
// cheap (a copy under the lock); Persist does the I/O; Restore drops all
// earlier state.
package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// CommandType is the first byte of a raft log entry. Values are only ever
// appended; a value once used is never reused for another meaning.
type CommandType uint8

// Command types.
const (
	// RegisterAgent admits an agent or re-admits a known one ([RegisterAgentCmd]).
	RegisterAgent CommandType = 1
	// SetAgentState moves an agent to a state ([SetAgentStateCmd]).
	SetAgentState CommandType = 2
	// RemoveAgent forgets an agent ([RemoveAgentCmd]).
	RemoveAgent CommandType = 3
	// RegisterFramework registers or re-registers a framework ([RegisterFrameworkCmd]).
	RegisterFramework CommandType = 4
	// RemoveFramework forgets a framework ([RemoveFrameworkCmd]).
	RemoveFramework CommandType = 5
	// SetRole sets a role's weight and quota ([SetRoleCmd]).
	SetRole CommandType = 6
	// SetRoleACL sets which principals may use a role ([SetRoleACLCmd]).
	SetRoleACL CommandType = 7
	// SetFrameworkDisconnected records when a framework disconnected
	// ([SetFrameworkDisconnectedCmd]).
	SetFrameworkDisconnected CommandType = 8
)

// IgnoreUnknownTypeFlag, set on a command's type byte, lets a master that
// does not know the type skip the entry (Apply returns nil) instead of
// refusing it. A known type with the flag set is applied as usual.
const IgnoreUnknownTypeFlag CommandType = 128

// String names the type; the ignore flag is shown as a "+ignore" suffix.
func (t CommandType) String() string {
	var name string
	switch t &^ IgnoreUnknownTypeFlag {
	case RegisterAgent:
		name = "RegisterAgent"
	case SetAgentState:
		name = "SetAgentState"
	case RemoveAgent:
		name = "RemoveAgent"
	case RegisterFramework:
		name = "RegisterFramework"
	case RemoveFramework:
		name = "RemoveFramework"
	case SetRole:
		name = "SetRole"
	case SetRoleACL:
		name = "SetRoleACL"
	case SetFrameworkDisconnected:
		name = "SetFrameworkDisconnected"
	default:
		name = fmt.Sprintf("CommandType(%d)", uint8(t&^IgnoreUnknownTypeFlag))
	}
	if t&IgnoreUnknownTypeFlag != 0 {
		name += "+ignore"
	}
	return name
}

// Payloads. Every time and ID in them is chosen by the leader before
// raft.Apply; the FSM never reads the clock.
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
		// DrainDeadline goes with DRAINING: when the agent's tasks are
		// killed. It is ignored for every other state.
		DrainDeadline time.Time `json:"drain_deadline,omitzero"`
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

// ErrDecode is wrapped by every error about an entry's bytes: an empty
// entry, or a payload that is not the JSON its type expects.
var ErrDecode = errors.New("registry: cannot decode command")

// Encode builds a log entry: the type byte, then payload as JSON.
func Encode(t CommandType, payload any) ([]byte, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("registry: encode %s: %w", t, err)
	}
	out := make([]byte, 0, 1+len(b))
	out = append(out, byte(t))
	return append(out, b...), nil
}

// Decode splits a log entry into its type byte (flag included) and its
// payload, which aliases b. It checks only the framing, never the payload,
// so that an entry of a type this code does not know can still be skipped;
// it never panics.
func Decode(b []byte) (CommandType, []byte, error) {
	if len(b) == 0 {
		return 0, nil, fmt.Errorf("%w: empty entry", ErrDecode)
	}
	return CommandType(b[0]), b[1:], nil
}

// decodePayload unmarshals the payload of a known command type into a
// fresh value of its payload struct. Unknown JSON fields are tolerated
// (a newer leader may add fields); anything that is not a JSON object of
// the right shape is an ErrDecode.
func decodePayload(t CommandType, payload []byte) (any, error) {
	var v any
	switch t {
	case RegisterAgent:
		v = new(RegisterAgentCmd)
	case SetAgentState:
		v = new(SetAgentStateCmd)
	case RemoveAgent:
		v = new(RemoveAgentCmd)
	case RegisterFramework:
		v = new(RegisterFrameworkCmd)
	case RemoveFramework:
		v = new(RemoveFrameworkCmd)
	case SetRole:
		v = new(SetRoleCmd)
	case SetRoleACL:
		v = new(SetRoleACLCmd)
	case SetFrameworkDisconnected:
		v = new(SetFrameworkDisconnectedCmd)
	default:
		return nil, nil
	}
	if p := bytes.TrimLeft(payload, " \t\r\n"); len(p) == 0 || p[0] != '{' {
		return nil, fmt.Errorf("%w: %s: payload is not a JSON object", ErrDecode, t)
	}
	if err := json.Unmarshal(payload, v); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrDecode, t, err)
	}
	return v, nil
}
