package registry

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/agora-cluster/agora/sdk/wire"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func agentInfo(id string) wire.AgentInfo {
	return wire.AgentInfo{
		ID: wire.AgentID(id), Hostname: id + ".example",
		Resources:  wire.Resources{CPUs: 4, MemMB: 1024, Ports: wire.Ranges{{Begin: 31000, End: 31009}}},
		Attributes: map[string]string{"rack": "r1"},
	}
}

func encode(t testing.TB, typ CommandType, payload any) []byte {
	t.Helper()
	b, err := Encode(typ, payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// must applies a command through Apply, as raft would, and fails the
// test if it is refused.
func must(t testing.TB, f *FSM, typ CommandType, payload any) {
	t.Helper()
	if resp := f.Apply(&raft.Log{Type: raft.LogCommand, Data: encode(t, typ, payload)}); resp != nil {
		t.Fatalf("%s: %v", typ, resp)
	}
}

// refused applies a command that must fail with want and change nothing.
func refused(t testing.TB, f *FSM, typ CommandType, payload any, want error) {
	t.Helper()
	refusedRaw(t, f, encode(t, typ, payload), want)
}

func refusedRaw(t testing.TB, f *FSM, data []byte, want error) {
	t.Helper()
	before := dump(t, f)
	resp := f.Apply(&raft.Log{Type: raft.LogCommand, Data: data})
	err, ok := resp.(error)
	if !ok || !errors.Is(err, want) {
		t.Fatalf("%q: response = %#v, want an error matching %v", data, resp, want)
	}
	if after := dump(t, f); !bytes.Equal(before, after) {
		t.Fatalf("%q was refused (%v) but changed the state:\nbefore %s\nafter  %s", data, err, before, after)
	}
}

// dump is the FSM's snapshot bytes: equal bytes, equal state.
func dump(t testing.TB, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	if !sink.closed {
		t.Fatal("Persist did not close the sink")
	}
	return sink.Bytes()
}

type memSink struct {
	bytes.Buffer
	closed bool
}

func (m *memSink) ID() string    { return "mem" }
func (m *memSink) Cancel() error { return nil }
func (m *memSink) Close() error  { m.closed = true; return nil }

var _ raft.SnapshotSink = (*memSink)(nil)

// populated is a registry with a bit of everything.
func populated(t testing.TB) *FSM {
	t.Helper()
	f := NewFSM()
	must(t, f, RegisterAgent, RegisterAgentCmd{Info: agentInfo("a1"), At: t0})
	must(t, f, RegisterAgent, RegisterAgentCmd{Info: agentInfo("a2"), At: t0})
	must(t, f, RegisterAgent, RegisterAgentCmd{Info: agentInfo("a3"), At: t0})
	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a2", State: AgentDraining, At: t0.Add(time.Second), DrainDeadline: t0.Add(time.Minute)})
	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a3", State: AgentGone, At: t0.Add(time.Second)})
	must(t, f, SetRole, SetRoleCmd{Role: Role{Name: "prod", Weight: 2, Quota: wire.Resources{CPUs: 10, Ports: wire.Ranges{{Begin: 1, End: 2}}}}})
	must(t, f, SetRoleACL, SetRoleACLCmd{Role: "prod", Principals: []string{"ops", "alice"}})
	must(t, f, RegisterFramework, RegisterFrameworkCmd{Info: wire.FrameworkInfo{ID: "f1", Name: "batch", Roles: []string{"prod"}, Principal: "ops"}, At: t0})
	must(t, f, RegisterFramework, RegisterFrameworkCmd{Info: wire.FrameworkInfo{ID: "f2", Name: "web"}, At: t0})
	must(t, f, SetFrameworkDisconnected, SetFrameworkDisconnectedCmd{ID: "f1", At: t0.Add(time.Hour)})
	return f
}
