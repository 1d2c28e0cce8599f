package registry

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/agora-cluster/agora/sdk/wire"
)

func TestRegisterAgent(t *testing.T) {
	f := NewFSM()
	must(t, f, RegisterAgent, RegisterAgentCmd{Info: agentInfo("a1"), At: t0})
	a, ok := f.Agent("a1")
	want := Agent{Info: agentInfo("a1"), State: AgentActive, RegisteredAt: t0, StateSince: t0}
	if !ok || !reflect.DeepEqual(a, want) {
		t.Fatalf("a1 = %+v, %v; want %+v", a, ok, want)
	}

	// Re-registering an ACTIVE agent updates its info and keeps its times.
	newer := agentInfo("a1")
	newer.Resources.CPUs = 8
	must(t, f, RegisterAgent, RegisterAgentCmd{Info: newer, At: t0.Add(time.Minute)})
	if a, _ := f.Agent("a1"); a.Info.Resources.CPUs != 8 || a.State != AgentActive || !a.RegisteredAt.Equal(t0) || !a.StateSince.Equal(t0) {
		t.Fatalf("re-registered active a1 = %+v", a)
	}

	// An UNREACHABLE agent that re-registers is ACTIVE again, since then.
	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentUnreachable, At: t0.Add(2 * time.Minute)})
	must(t, f, RegisterAgent, RegisterAgentCmd{Info: newer, At: t0.Add(3 * time.Minute)})
	if a, _ := f.Agent("a1"); a.State != AgentActive || !a.StateSince.Equal(t0.Add(3*time.Minute)) || !a.RegisteredAt.Equal(t0) {
		t.Fatalf("re-registered unreachable a1 = %+v", a)
	}

	// A DRAINING agent stays DRAINING, deadline and all.
	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentDraining, At: t0.Add(4 * time.Minute), DrainDeadline: t0.Add(time.Hour)})
	must(t, f, RegisterAgent, RegisterAgentCmd{Info: newer, At: t0.Add(5 * time.Minute)})
	if a, _ := f.Agent("a1"); a.State != AgentDraining || !a.DrainDeadline.Equal(t0.Add(time.Hour)) || !a.StateSince.Equal(t0.Add(4*time.Minute)) {
		t.Fatalf("re-registered draining a1 = %+v", a)
	}
	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentDrained, At: t0.Add(6 * time.Minute)})
	must(t, f, RegisterAgent, RegisterAgentCmd{Info: newer, At: t0.Add(7 * time.Minute)})
	if a, _ := f.Agent("a1"); a.State != AgentDrained || !a.DrainDeadline.IsZero() {
		t.Fatalf("re-registered drained a1 = %+v", a)
	}

	// A GONE agent may not come back, by registering or by state.
	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentGone, At: t0.Add(8 * time.Minute)})
	refused(t, f, RegisterAgent, RegisterAgentCmd{Info: newer, At: t0.Add(9 * time.Minute)}, ErrAgentGone)
	refused(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentActive}, ErrAgentGone)
	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentGone, At: t0.Add(10 * time.Minute)})
	if a, _ := f.Agent("a1"); !a.StateSince.Equal(t0.Add(8 * time.Minute)) {
		t.Fatalf("GONE again moved StateSince: %+v", a)
	}

	// Invalid info is refused.
	bad := agentInfo("a9")
	bad.Resources.CPUs = 0
	refused(t, f, RegisterAgent, RegisterAgentCmd{Info: bad}, ErrInvalid)
	refused(t, f, RegisterAgent, RegisterAgentCmd{Info: wire.AgentInfo{ID: "has.dot", Hostname: "h", Resources: wire.Resources{CPUs: 1, MemMB: 1}}}, ErrInvalid)
	refused(t, f, RegisterAgent, RegisterAgentCmd{}, ErrInvalid)
}

func TestSetAgentState(t *testing.T) {
	f := populated(t)
	a, _ := f.Agent("a2")
	if a.State != AgentDraining || !a.DrainDeadline.Equal(t0.Add(time.Minute)) || !a.StateSince.Equal(t0.Add(time.Second)) {
		t.Fatalf("a2 = %+v", a)
	}
	if in := f.AgentsIn(AgentDraining); len(in) != 1 || in[0].Info.ID != "a2" || !in[0].DrainDeadline.Equal(a.DrainDeadline) {
		t.Fatalf("AgentsIn(DRAINING) = %+v, want a2 alone", in)
	}
	if in := f.AgentsIn(AgentDrained); len(in) != 0 {
		t.Fatalf("AgentsIn(DRAINED) = %+v, want none", in)
	}
	// The deadline belongs to DRAINING only.
	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a2", State: AgentDrained, At: t0.Add(2 * time.Second), DrainDeadline: t0.Add(time.Hour)})
	if a, _ := f.Agent("a2"); a.State != AgentDrained || !a.DrainDeadline.IsZero() || !a.StateSince.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("drained a2 = %+v", a)
	}
	// Setting the same state keeps StateSince.
	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a2", State: AgentDrained, At: t0.Add(time.Hour)})
	if a, _ := f.Agent("a2"); !a.StateSince.Equal(t0.Add(2 * time.Second)) {
		t.Fatalf("same state moved StateSince: %+v", a)
	}
	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a2", State: AgentActive, At: t0.Add(2 * time.Hour)})
	if a, _ := f.Agent("a2"); a.State != AgentActive {
		t.Fatalf("reactivated a2 = %+v", a)
	}

	refused(t, f, SetAgentState, SetAgentStateCmd{ID: "nope", State: AgentGone}, ErrUnknownAgent)
	refused(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: "SLEEPING"}, ErrInvalid)
	refused(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: ""}, ErrInvalid)
	refused(t, f, SetAgentState, SetAgentStateCmd{ID: "a3", State: AgentActive}, ErrAgentGone)
}

// TestDrainSurvivesUnreachable: an agent that goes UNREACHABLE while
// draining or drained returns to that state, deadline and all, when it
// registers again; one that was active returns ACTIVE; GONE forgets it.
func TestDrainSurvivesUnreachable(t *testing.T) {
	f := NewFSM()
	must(t, f, RegisterAgent, RegisterAgentCmd{Info: agentInfo("a1"), At: t0})
	deadline := t0.Add(time.Hour)
	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentDraining, At: t0.Add(time.Minute), DrainDeadline: deadline})
	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentUnreachable, At: t0.Add(2 * time.Minute)})
	if a, _ := f.Agent("a1"); a.State != AgentUnreachable || a.Resume != AgentDraining || !a.DrainDeadline.Equal(deadline) {
		t.Fatalf("unreachable while draining: %+v", a)
	}
	// Marked unreachable again (a new leader's health check): still kept.
	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentUnreachable, At: t0.Add(3 * time.Minute)})
	must(t, f, RegisterAgent, RegisterAgentCmd{Info: agentInfo("a1"), At: t0.Add(4 * time.Minute)})
	if a, _ := f.Agent("a1"); a.State != AgentDraining || a.Resume != "" || !a.DrainDeadline.Equal(deadline) {
		t.Fatalf("back from unreachable while draining: %+v", a)
	}

	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentDrained, At: t0.Add(5 * time.Minute)})
	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentUnreachable, At: t0.Add(6 * time.Minute)})
	must(t, f, RegisterAgent, RegisterAgentCmd{Info: agentInfo("a1"), At: t0.Add(7 * time.Minute)})
	if a, _ := f.Agent("a1"); a.State != AgentDrained || a.Resume != "" {
		t.Fatalf("back from unreachable while drained: %+v", a)
	}

	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentActive, At: t0.Add(8 * time.Minute)})
	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentUnreachable, At: t0.Add(9 * time.Minute)})
	must(t, f, RegisterAgent, RegisterAgentCmd{Info: agentInfo("a1"), At: t0.Add(10 * time.Minute)})
	if a, _ := f.Agent("a1"); a.State != AgentActive || a.Resume != "" || !a.DrainDeadline.IsZero() {
		t.Fatalf("back from unreachable while active: %+v", a)
	}

	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentDraining, At: t0.Add(11 * time.Minute)})
	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentUnreachable, At: t0.Add(12 * time.Minute)})
	must(t, f, SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentGone, At: t0.Add(13 * time.Minute)})
	if a, _ := f.Agent("a1"); a.State != AgentGone || a.Resume != "" {
		t.Fatalf("gone: %+v", a)
	}
}

func TestRemoveAgent(t *testing.T) {
	f := populated(t)
	must(t, f, RemoveAgent, RemoveAgentCmd{ID: "a1"})
	if _, ok := f.Agent("a1"); ok {
		t.Fatal("a1 still there after RemoveAgent")
	}
	refused(t, f, RemoveAgent, RemoveAgentCmd{ID: "a1"}, ErrUnknownAgent)
	// Removing a GONE agent forgets its tombstone: the ID may register anew.
	must(t, f, RemoveAgent, RemoveAgentCmd{ID: "a3"})
	must(t, f, RegisterAgent, RegisterAgentCmd{Info: agentInfo("a3"), At: t0.Add(time.Hour)})
	if a, _ := f.Agent("a3"); a.State != AgentActive || !a.RegisteredAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("a3 after removal and registration = %+v", a)
	}
}

func TestRegisterFramework(t *testing.T) {
	f := populated(t)
	fw, ok := f.Framework("f1")
	if !ok || fw.Info.Principal != "ops" || !fw.RegisteredAt.Equal(t0) || !fw.DisconnectedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("f1 = %+v, %v", fw, ok)
	}
	// Re-registering with the same principal updates the info, keeps
	// RegisteredAt and marks it connected.
	info := fw.Info
	info.Name = "batch-v2"
	must(t, f, RegisterFramework, RegisterFrameworkCmd{Info: info, At: t0.Add(2 * time.Hour)})
	if fw, _ := f.Framework("f1"); fw.Info.Name != "batch-v2" || !fw.RegisteredAt.Equal(t0) || !fw.DisconnectedAt.IsZero() {
		t.Fatalf("re-registered f1 = %+v", fw)
	}

	info.Principal = "mallory"
	refused(t, f, RegisterFramework, RegisterFrameworkCmd{Info: info}, ErrPrincipalMismatch)
	// The ACL of "prod" allows alice and ops only.
	refused(t, f, RegisterFramework, RegisterFrameworkCmd{Info: wire.FrameworkInfo{ID: "f3", Name: "x", Roles: []string{"dev", "prod"}, Principal: "bob"}}, ErrForbidden)
	refused(t, f, RegisterFramework, RegisterFrameworkCmd{Info: wire.FrameworkInfo{ID: "f3", Name: "x", Roles: []string{"prod"}}}, ErrForbidden)
	must(t, f, RegisterFramework, RegisterFrameworkCmd{Info: wire.FrameworkInfo{ID: "f3", Name: "x", Roles: []string{"dev", "prod"}, Principal: "alice"}, At: t0})
	// An ACL on the default role applies to frameworks that name no role.
	must(t, f, SetRoleACL, SetRoleACLCmd{Role: wire.DefaultRole, Principals: []string{"ops"}})
	refused(t, f, RegisterFramework, RegisterFrameworkCmd{Info: wire.FrameworkInfo{ID: "f4", Name: "x", Principal: "bob"}}, ErrForbidden)
	must(t, f, RegisterFramework, RegisterFrameworkCmd{Info: wire.FrameworkInfo{ID: "f4", Name: "x", Principal: "ops"}, At: t0})
	// An empty ACL lets anyone in again.
	must(t, f, SetRoleACL, SetRoleACLCmd{Role: wire.DefaultRole})
	must(t, f, RegisterFramework, RegisterFrameworkCmd{Info: wire.FrameworkInfo{ID: "f5", Name: "x", Principal: "bob"}, At: t0})

	refused(t, f, RegisterFramework, RegisterFrameworkCmd{Info: wire.FrameworkInfo{ID: "f6"}}, ErrInvalid)
	refused(t, f, RegisterFramework, RegisterFrameworkCmd{Info: wire.FrameworkInfo{ID: "f6", Name: "x", Roles: []string{"a b"}}}, ErrInvalid)
	refused(t, f, RegisterFramework, RegisterFrameworkCmd{Info: wire.FrameworkInfo{ID: "f6", Name: "x", FailoverTimeout: -1}}, ErrInvalid)
}

func TestRemoveFrameworkAndDisconnected(t *testing.T) {
	f := populated(t)
	must(t, f, SetFrameworkDisconnected, SetFrameworkDisconnectedCmd{ID: "f1"})
	if fw, _ := f.Framework("f1"); !fw.DisconnectedAt.IsZero() {
		t.Fatalf("f1 still disconnected: %+v", fw)
	}
	refused(t, f, SetFrameworkDisconnected, SetFrameworkDisconnectedCmd{ID: "nope", At: t0}, ErrUnknownFramework)
	must(t, f, RemoveFramework, RemoveFrameworkCmd{ID: "f1"})
	if _, ok := f.Framework("f1"); ok {
		t.Fatal("f1 still there after RemoveFramework")
	}
	refused(t, f, RemoveFramework, RemoveFrameworkCmd{ID: "f1"}, ErrUnknownFramework)
	if fws := f.Frameworks(); len(fws) != 1 || fws[0].Info.ID != "f2" {
		t.Fatalf("frameworks = %+v", fws)
	}
}

func TestRoles(t *testing.T) {
	f := populated(t)
	if r := f.Role("prod"); r.Weight != 2 || r.Quota.CPUs != 10 {
		t.Fatalf("prod = %+v", r)
	}
	if r := f.Role("other"); !reflect.DeepEqual(r, Role{Name: "other", Weight: DefaultWeight}) {
		t.Fatalf("default role = %+v", r)
	}
	must(t, f, SetRole, SetRoleCmd{Role: Role{Name: "*", Weight: 0.5}})
	if rs := f.Roles(); len(rs) != 2 || rs[0].Name != "*" || rs[1].Name != "prod" {
		t.Fatalf("roles = %+v", rs)
	}
	refused(t, f, SetRole, SetRoleCmd{Role: Role{Name: "r", Weight: 0}}, ErrInvalid)
	refused(t, f, SetRole, SetRoleCmd{Role: Role{Name: "r", Weight: -1}}, ErrInvalid)
	refused(t, f, SetRole, SetRoleCmd{Role: Role{Name: "", Weight: 1}}, ErrInvalid)
	refused(t, f, SetRole, SetRoleCmd{Role: Role{Name: "a.b", Weight: 1}}, ErrInvalid)
	refused(t, f, SetRole, SetRoleCmd{Role: Role{Name: "r", Weight: 1, Quota: wire.Resources{CPUs: -1}}}, ErrInvalid)
	refused(t, f, SetRole, SetRoleCmd{Role: Role{Name: "r", Weight: 1, Quota: wire.Resources{Ports: wire.Ranges{{Begin: 5, End: 4}}}}}, ErrInvalid)
	// JSON cannot carry NaN or infinities; an overflowing number is a
	// decoding error.
	refusedRaw(t, f, []byte(``+"\x06"+`{"role":{"name":"r","weight":1e400}}`), ErrDecode)

	if acl := f.RoleACL("prod"); !reflect.DeepEqual(acl, []string{"alice", "ops"}) {
		t.Fatalf("acl = %v", acl)
	}
	must(t, f, SetRoleACL, SetRoleACLCmd{Role: "dev", Principals: []string{"b", "a", "b"}})
	if acl := f.RoleACL("dev"); !reflect.DeepEqual(acl, []string{"a", "b"}) {
		t.Fatalf("dev acl = %v (want sorted, deduplicated)", acl)
	}
	if acls := f.ACLs(); len(acls) != 2 {
		t.Fatalf("ACLs = %v", acls)
	}
	must(t, f, SetRoleACL, SetRoleACLCmd{Role: "dev", Principals: []string{}})
	if acl := f.RoleACL("dev"); acl != nil {
		t.Fatalf("cleared acl = %v", acl)
	}
	refused(t, f, SetRoleACL, SetRoleACLCmd{Role: "dev", Principals: []string{"a", ""}}, ErrInvalid)
	refused(t, f, SetRoleACL, SetRoleACLCmd{Role: "", Principals: []string{"a"}}, ErrInvalid)
}

func TestUnknownAndMalformedEntries(t *testing.T) {
	f := populated(t)
	refused(t, f, CommandType(99), struct{}{}, ErrUnknownCommand)
	refused(t, f, CommandType(0), struct{}{}, ErrUnknownCommand)
	refusedRaw(t, f, nil, ErrDecode)
	refusedRaw(t, f, []byte{byte(SetRole)}, ErrDecode)
	for _, p := range []string{`null`, `[]`, `"x"`, `1`, `{`, `{"role":"not an object"}`, `{} trailing`} {
		refusedRaw(t, f, append([]byte{byte(SetRole)}, p...), ErrDecode)
	}

	// An unknown type with the ignore flag is skipped, whatever its payload.
	before := dump(t, f)
	for _, data := range [][]byte{
		encode(t, CommandType(99)|IgnoreUnknownTypeFlag, map[string]int{"x": 1}),
		{byte(IgnoreUnknownTypeFlag | 42), 0xff, 0x00},
		{byte(IgnoreUnknownTypeFlag)},
	} {
		if resp := f.Apply(&raft.Log{Type: raft.LogCommand, Data: data}); resp != nil {
			t.Fatalf("flagged unknown type %q: %v", data, resp)
		}
	}
	// A known type with the flag is applied as usual.
	must(t, f, RemoveAgent|IgnoreUnknownTypeFlag, RemoveAgentCmd{ID: "a1"})
	if _, ok := f.Agent("a1"); ok {
		t.Fatal("flagged known command was not applied")
	}
	refused(t, f, RemoveAgent|IgnoreUnknownTypeFlag, RemoveAgentCmd{ID: "a1"}, ErrUnknownAgent)
	// Unknown JSON fields are tolerated.
	must(t, f, RemoveAgent, map[string]any{"id": "a2", "reason": "from a newer leader"})

	// Log entries that are not commands are not the FSM's business.
	g := populated(t)
	before = dump(t, g)
	if resp := g.Apply(&raft.Log{Type: raft.LogNoop, Data: []byte{0xff}}); resp != nil {
		t.Fatalf("noop entry: %v", resp)
	}
	if !bytes.Equal(before, dump(t, g)) {
		t.Fatal("noop entry changed the state")
	}
}

func TestReadsReturnCopies(t *testing.T) {
	f := populated(t)
	before := dump(t, f)
	a, _ := f.Agent("a1")
	a.Info.Attributes["rack"] = "changed"
	a.Info.Resources.Ports[0].Begin = 1
	as := f.Agents()
	as[0].Info.Attributes["rack"] = "changed"
	fw, _ := f.Framework("f1")
	fw.Info.Roles[0] = "changed"
	f.Frameworks()[0].Info.Roles[0] = "changed"
	r := f.Role("prod")
	r.Quota.Ports[0].End = 9
	f.Roles()[0].Quota.Ports[0].End = 9
	f.RoleACL("prod")[0] = "changed"
	f.ACLs()["prod"][0] = "changed"
	if !bytes.Equal(before, dump(t, f)) {
		t.Fatal("changing what a read returned changed the registry")
	}
}

func TestOnChange(t *testing.T) {
	f := NewFSM()
	type change struct {
		t CommandType
		p any
	}
	var got []change
	f.OnChange(func(ct CommandType, p any) {
		// Hooks run with no lock held: reading the FSM must not deadlock,
		// and the change is already visible.
		if ct == RegisterAgent {
			if _, ok := f.Agent(p.(RegisterAgentCmd).Info.ID); !ok {
				t.Error("hook ran before the change was visible")
			}
			// The hook owns its payload.
			p.(RegisterAgentCmd).Info.Attributes["rack"] = "hook"
		}
		got = append(got, change{ct, p})
	})
	apply := func(typ CommandType, payload any) any {
		return f.Apply(&raft.Log{Type: raft.LogCommand, Data: encode(t, typ, payload)})
	}
	reg, unk := encode(t, RegisterAgent, RegisterAgentCmd{Info: agentInfo("a1"), At: t0}), encode(t, CommandType(77)|IgnoreUnknownTypeFlag, struct{}{})
	var resps []any
	done := make(chan struct{})
	go func() {
		defer close(done)
		resps = append(resps,
			f.Apply(&raft.Log{Type: raft.LogCommand, Data: reg}),
			f.Apply(&raft.Log{Type: raft.LogCommand, Data: encode(t, SetAgentState|IgnoreUnknownTypeFlag, SetAgentStateCmd{ID: "a1", State: AgentUnreachable, At: t0})}),
			f.Apply(&raft.Log{Type: raft.LogCommand, Data: unk}))
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Apply with a hook that reads the FSM did not return (deadlock?)")
	}
	for i, r := range resps {
		if r != nil {
			t.Fatalf("apply %d: %v", i, r)
		}
	}
	if err, _ := apply(RemoveAgent, RemoveAgentCmd{ID: "nope"}).(error); !errors.Is(err, ErrUnknownAgent) {
		t.Fatalf("refused apply: %v", err)
	}
	want := []change{
		{RegisterAgent, RegisterAgentCmd{Info: agentInfo("a1"), At: t0}},
		{SetAgentState, SetAgentStateCmd{ID: "a1", State: AgentUnreachable, At: t0}},
	}
	want[0].p.(RegisterAgentCmd).Info.Attributes["rack"] = "hook"
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("hook calls:\n got %+v\nwant %+v", got, want)
	}
	if a, _ := f.Agent("a1"); a.Info.Attributes["rack"] != "r1" {
		t.Fatal("a hook's change to its payload reached the registry")
	}
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	f := populated(t)
	data := dump(t, f)
	if !bytes.Equal(data, dump(t, f)) {
		t.Fatal("two snapshots of one state differ")
	}
	g := NewFSM()
	must(t, g, RegisterAgent, RegisterAgentCmd{Info: agentInfo("stale"), At: t0})
	must(t, g, SetRoleACL, SetRoleACLCmd{Role: "stale", Principals: []string{"x"}})
	if err := g.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatal(err)
	}
	if _, ok := g.Agent("stale"); ok || g.RoleACL("stale") != nil {
		t.Fatal("Restore kept state from before the snapshot")
	}
	for name, pair := range map[string][2]any{
		"agents":     {f.Agents(), g.Agents()},
		"frameworks": {f.Frameworks(), g.Frameworks()},
		"roles":      {f.Roles(), g.Roles()},
		"acls":       {f.ACLs(), g.ACLs()},
		"state":      {f.s, g.s},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("restored %s differ:\n%+v\n%+v", name, pair[0], pair[1])
		}
	}
	if !bytes.Equal(data, dump(t, g)) {
		t.Fatal("snapshot of the restored state differs")
	}

	// A snapshot taken before a change does not see it.
	snap, _ := f.Snapshot()
	must(t, f, RemoveAgent, RemoveAgentCmd{ID: "a1"})
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sink.Bytes(), data) {
		t.Fatal("a change after Snapshot leaked into its Persist")
	}
}

func TestRestoreRejectsBadSnapshots(t *testing.T) {
	for name, doc := range map[string]string{
		"garbage":       `{garbage`,
		"newer version": `{"version":2,"agents":{}}`,
		"key mismatch":  `{"version":1,"agents":{"a1":{"info":{"id":"a2"},"state":"ACTIVE"}}}`,
		"bad state":     `{"version":1,"agents":{"a1":{"info":{"id":"a1"},"state":"NAPPING"}}}`,
		"fw mismatch":   `{"version":1,"frameworks":{"f1":{"info":{"id":"f2"}}}}`,
		"role mismatch": `{"version":1,"roles":{"r":{"name":"s","weight":1}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := populated(t)
			before := dump(t, f)
			if err := f.Restore(io.NopCloser(strings.NewReader(doc))); err == nil {
				t.Fatal("bad snapshot restored")
			}
			if !bytes.Equal(before, dump(t, f)) {
				t.Fatal("a refused Restore changed the state")
			}
		})
	}
	// An empty document restores an empty registry.
	f := populated(t)
	if err := f.Restore(io.NopCloser(strings.NewReader(`{}`))); err != nil {
		t.Fatal(err)
	}
	if len(f.Agents())+len(f.Frameworks())+len(f.Roles())+len(f.ACLs()) != 0 {
		t.Fatal("restoring {} left state behind")
	}
	must(t, f, RegisterAgent, RegisterAgentCmd{Info: agentInfo("a1"), At: t0})
}

// TestConcurrentReads runs Apply, Snapshot and reads together; under
// -race it fails if a read shares memory with the FSM.
func TestConcurrentReads(t *testing.T) {
	f := populated(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, a := range f.Agents() {
					a.Info.Attributes["seen"] = "yes"
				}
				if r := f.Role("prod"); len(r.Quota.Ports) > 0 {
					r.Quota.Ports[0].End++
				}
				snap, err := f.Snapshot()
				if err == nil {
					err = snap.Persist(&memSink{})
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := range 200 {
		info := agentInfo("a1")
		info.Attributes["n"] = strings.Repeat("x", i%7)
		must(t, f, RegisterAgent, RegisterAgentCmd{Info: info, At: t0})
		must(t, f, SetRole, SetRoleCmd{Role: Role{Name: "prod", Weight: float64(i + 1), Quota: wire.Resources{Ports: wire.Ranges{{Begin: 1, End: 2}}}}})
	}
	close(stop)
	wg.Wait()
	if r := f.Role("prod"); r.Weight != 200 || r.Quota.Ports[0].End != 2 {
		t.Fatalf("prod = %+v", r)
	}
	if a, _ := f.Agent("a1"); a.Info.Attributes["seen"] != "" {
		t.Fatal("a reader's write reached the registry")
	}
}

func TestErrorsWrapSentinels(t *testing.T) {
	f := populated(t)
	resp := f.Apply(&raft.Log{Type: raft.LogCommand, Data: encode(t, SetAgentState, SetAgentStateCmd{ID: "zz", State: AgentActive})})
	err, _ := resp.(error)
	if !errors.Is(err, ErrUnknownAgent) || !strings.Contains(err.Error(), "zz") {
		t.Fatalf("err = %v, want ErrUnknownAgent naming the agent", err)
	}
}
