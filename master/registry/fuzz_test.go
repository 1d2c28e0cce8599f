package registry

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/hashicorp/raft"
)

// FuzzApply feeds arbitrary entries to Apply on a populated registry. It
// must never panic; a refused entry must change nothing and say why with
// one of the package's sentinels; an accepted one must leave a state that
// passes Restore's checks and survives a snapshot round trip; and hooks
// run exactly for accepted commands of a known type.
func FuzzApply(f *testing.F) {
	for typ, p := range samples {
		b, _ := Encode(typ, p)
		f.Add(b)
	}
	for _, c := range []struct {
		t CommandType
		p any
	}{
		{SetAgentState, SetAgentStateCmd{ID: "a3", State: AgentActive}},
		{RegisterAgent, RegisterAgentCmd{Info: agentInfo("a3")}},
		{RegisterFramework, RegisterFrameworkCmd{Info: samples[RegisterFramework].(RegisterFrameworkCmd).Info}},
		{SetRoleACL, SetRoleACLCmd{Role: "*", Principals: []string{"x"}}},
		{CommandType(99) | IgnoreUnknownTypeFlag, struct{}{}},
	} {
		b, _ := Encode(c.t, c.p)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{200, '{'})
	f.Add([]byte("\x06{\"role\":{\"name\":\"r\",\"weight\":1e400}}"))
	sentinels := []error{ErrDecode, ErrUnknownCommand, ErrUnknownAgent, ErrUnknownFramework,
		ErrAgentGone, ErrPrincipalMismatch, ErrForbidden, ErrInvalid}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsm := populated(t)
		calls := 0
		fsm.OnChange(func(CommandType, any) { calls++ })
		before := dump(t, fsm)
		resp := fsm.Apply(&raft.Log{Type: raft.LogCommand, Data: data})
		if resp != nil {
			err, ok := resp.(error)
			if !ok {
				t.Fatalf("response %#v is neither nil nor an error", resp)
			}
			known := false
			for _, s := range sentinels {
				known = known || errors.Is(err, s)
			}
			if !known {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			if !bytes.Equal(before, dump(t, fsm)) {
				t.Fatalf("refused entry %q changed the state", data)
			}
			if calls != 0 {
				t.Fatal("hook called for a refused entry")
			}
			return
		}
		typ, _, _ := Decode(data)
		if base := typ &^ IgnoreUnknownTypeFlag; base >= RegisterAgent && base <= SetFrameworkDisconnected {
			if calls != 1 {
				t.Fatalf("hook called %d times for accepted %s", calls, typ)
			}
		} else if calls != 0 {
			t.Fatalf("hook called for skipped %s", typ)
		}
		if err := fsm.s.check(); err != nil {
			t.Fatalf("accepted entry %q broke an invariant: %v", data, err)
		}
		after := dump(t, fsm)
		g := NewFSM()
		if err := g.Restore(io.NopCloser(bytes.NewReader(after))); err != nil {
			t.Fatalf("state after %q does not restore: %v", data, err)
		}
		if !bytes.Equal(after, dump(t, g)) {
			t.Fatalf("state after %q changes in a snapshot round trip", data)
		}
	})
}
