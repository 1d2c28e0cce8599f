package registry

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/agora-cluster/agora/sdk/wire"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func agentInfo(id string) wire.AgentInfo {
	return wire.AgentInfo{ID: wire.AgentID(id), Hostname: id, Resources: wire.Resources{CPUs: 4, MemMB: 1024}}
}

func must(t *testing.T, f *FSM, typ CommandType, payload any) {
	t.Helper()
	b, err := Encode(typ, payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ApplyCommand(b); err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
}

func refused(t *testing.T, f *FSM, typ CommandType, payload any, want error) {
	t.Helper()
	before := dump(t, f)
	b, _ := Encode(typ, payload)
	if err := f.ApplyCommand(b); !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", typ, err, want)
	}
	if after := dump(t, f); !bytes.Equal(before, after) {
		t.Fatalf("%s was refused but changed the state", typ)
	}
}

func dump(t *testing.T, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	return sink.Bytes()
}

type memSink struct{ bytes.Buffer }

func (m *memSink) ID() string    { return "mem" }
func (m *memSink) Cancel() error { return nil }
func (m *memSink) Close() error  { return nil }

var _ raft.SnapshotSink = (*memSink)(nil)

func populated(t *testing.T) *FSM {
	f := NewFSM()
	must(t, f, RegisterAgent, RegisterAgentCmd{Info: agentInfo("a1"), At: t0})
	must(t, f, RegisterAgent, RegisterAgentCmd{Info: agentInfo("a2"), At: t0})
	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a2", State: AgentDraining, At: t0.Add(time.Second), DrainDeadline: t0.Add(time.Minute)})
	must(t, f, SetRole, SetRoleCmd{Role: Role{Name: "prod", Weight: 2, Quota: wire.Resources{CPUs: 10}}})
	must(t, f, SetRoleACL, SetRoleACLCmd{Role: "prod", Principals: []string{"ops", "alice"}})
	must(t, f, RegisterFramework, RegisterFrameworkCmd{Info: wire.FrameworkInfo{ID: "f1", Name: "batch", Roles: []string{"prod"}, Principal: "ops"}, At: t0})
	must(t, f, SetFrameworkDisconnected, SetFrameworkDisconnectedCmd{ID: "f1", At: t0.Add(time.Hour)})
	return f
}

func TestApplyAndRead(t *testing.T) {
	f := populated(t)
	a, ok := f.Agent("a2")
	if !ok || a.State != AgentDraining || !a.DrainDeadline.Equal(t0.Add(time.Minute)) || !a.StateSince.Equal(t0.Add(time.Second)) {
		t.Fatalf("a2 = %+v", a)
	}
	// Re-registering a draining agent keeps it draining.
	must(t, f, RegisterAgent, RegisterAgentCmd{Info: agentInfo("a2"), At: t0.Add(2 * time.Second)})
	if a, _ := f.Agent("a2"); a.State != AgentDraining || !a.RegisteredAt.Equal(t0) {
		t.Fatalf("re-registered a2 = %+v", a)
	}
	if r := f.Role("prod"); r.Weight != 2 || r.Quota.CPUs != 10 {
		t.Fatalf("role = %+v", r)
	}
	if r := f.Role("other"); r.Weight != 1 {
		t.Fatalf("default role = %+v", r)
	}
	if acl := f.RoleACL("prod"); !reflect.DeepEqual(acl, []string{"alice", "ops"}) {
		t.Fatalf("acl = %v", acl)
	}
	fw, _ := f.Framework("f1")
	if !fw.DisconnectedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("framework = %+v", fw)
	}
	if len(f.Agents()) != 2 || f.Agents()[0].Info.ID != "a1" {
		t.Fatal("Agents not sorted or incomplete")
	}
}

func TestRefusedCommandsChangeNothing(t *testing.T) {
	f := populated(t)
	refused(t, f, SetAgentState, SetAgentStateCmd{ID: "nope", State: AgentGone}, ErrUnknownAgent)
	refused(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: "SLEEPING"}, ErrInvalid)
	refused(t, f, SetRole, SetRoleCmd{Role: Role{Name: "r", Weight: 0}}, ErrInvalid)
	refused(t, f, SetRole, SetRoleCmd{Role: Role{Name: "r", Weight: 1, Quota: wire.Resources{CPUs: -1}}}, ErrInvalid)
	refused(t, f, RegisterFramework, RegisterFrameworkCmd{Info: wire.FrameworkInfo{ID: "f1", Name: "batch", Roles: []string{"prod"}, Principal: "mallory"}}, ErrPrincipalMismatch)
	refused(t, f, RegisterFramework, RegisterFrameworkCmd{Info: wire.FrameworkInfo{ID: "f2", Name: "x", Roles: []string{"prod"}, Principal: "bob"}}, ErrForbidden)
	refused(t, f, RegisterAgent, RegisterAgentCmd{Info: wire.AgentInfo{ID: "a3", Hostname: "h"}}, ErrInvalid)
	refused(t, f, RemoveFramework, RemoveFrameworkCmd{ID: "nope"}, ErrUnknownFramework)
	refused(t, f, CommandType(99), struct{}{}, ErrUnknownCommand)
	refused(t, f, SetRole, "not an object", ErrDecode)
	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentGone, At: t0})
	refused(t, f, RegisterAgent, RegisterAgentCmd{Info: agentInfo("a1")}, ErrAgentGone)
	refused(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentActive}, ErrAgentGone)
	// An unknown type with the ignore flag is skipped.
	b, _ := Encode(CommandType(99)|IgnoreUnknownTypeFlag, struct{}{})
	if err := f.ApplyCommand(b); err != nil {
		t.Fatalf("flagged unknown type: %v", err)
	}
	if err := f.ApplyCommand(nil); !errors.Is(err, ErrDecode) {
		t.Fatalf("empty entry: %v", err)
	}
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	f := populated(t)
	data := dump(t, f)
	g := NewFSM()
	must(t, g, RegisterAgent, RegisterAgentCmd{Info: agentInfo("stale"), At: t0})
	if err := g.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.s, g.s) {
		t.Fatalf("restored state differs:\n%+v\n%+v", f.s, g.s)
	}
	if _, ok := g.Agent("stale"); ok {
		t.Fatal("Restore kept state from before the snapshot")
	}
	if err := g.Restore(io.NopCloser(bytes.NewReader([]byte("{garbage")))); err == nil {
		t.Fatal("corrupt snapshot restored")
	}
}

func FuzzApply(f *testing.F) {
	for _, c := range []struct {
		t CommandType
		p any
	}{
		{RegisterAgent, RegisterAgentCmd{Info: agentInfo("a1"), At: t0}},
		{SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentUnreachable}},
		{RegisterFramework, RegisterFrameworkCmd{Info: wire.FrameworkInfo{ID: "f", Name: "n"}}},
		{SetRole, SetRoleCmd{Role: Role{Name: "r", Weight: 1}}},
		{SetRoleACL, SetRoleACLCmd{Role: "r", Principals: []string{"p"}}},
	} {
		b, _ := Encode(c.t, c.p)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{200, '{'})
	f.Fuzz(func(t *testing.T, data []byte) {
		fsm := populated(t)
		before := dump(t, fsm)
		if err := fsm.ApplyCommand(data); err != nil {
			if !bytes.Equal(before, dump(t, fsm)) {
				t.Fatalf("refused command %q changed the state", data)
			}
		}
		// Whatever was applied must survive a snapshot round trip.
		g := NewFSM()
		if err := g.Restore(io.NopCloser(bytes.NewReader(dump(t, fsm)))); err != nil {
			t.Fatal(err)
		}
	})
}
