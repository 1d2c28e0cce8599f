package registry

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// samples holds one payload of every command type.
var samples = map[CommandType]any{
	RegisterAgent:            RegisterAgentCmd{Info: agentInfo("a1"), At: t0},
	SetAgentState:            SetAgentStateCmd{ID: "a1", State: AgentDraining, At: t0, DrainDeadline: t0.Add(time.Minute)},
	RemoveAgent:              RemoveAgentCmd{ID: "a1"},
	RegisterFramework:        RegisterFrameworkCmd{Info: wire.FrameworkInfo{ID: "f1", Name: "n", Roles: []string{"r"}, Principal: "p", FailoverTimeout: wire.Duration(time.Minute)}, At: t0},
	RemoveFramework:          RemoveFrameworkCmd{ID: "f1"},
	SetRole:                  SetRoleCmd{Role: Role{Name: "r", Weight: 1.5, Quota: wire.Resources{CPUs: 2, Ports: wire.Ranges{{Begin: 1, End: 9}}}}},
	SetRoleACL:               SetRoleACLCmd{Role: "r", Principals: []string{"p", "q"}},
	SetFrameworkDisconnected: SetFrameworkDisconnectedCmd{ID: "f1", At: t0},
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for typ := CommandType(1); typ <= SetFrameworkDisconnected; typ++ {
		payload, ok := samples[typ]
		if !ok {
			t.Fatalf("no sample for %s", typ)
		}
		for _, flagged := range []CommandType{typ, typ | IgnoreUnknownTypeFlag} {
			b := encode(t, flagged, payload)
			gotType, raw, err := Decode(b)
			if err != nil || gotType != flagged {
				t.Fatalf("%s: Decode = %v, %v", flagged, gotType, err)
			}
			v, err := decodePayload(gotType&^IgnoreUnknownTypeFlag, raw)
			if err != nil {
				t.Fatalf("%s: %v", flagged, err)
			}
			got := reflect.ValueOf(v).Elem().Interface()
			if !reflect.DeepEqual(got, payload) {
				t.Fatalf("%s: round trip\n got %+v\nwant %+v", flagged, got, payload)
			}
		}
	}
}

func TestEncodeErrorsAndDecodeFraming(t *testing.T) {
	if _, err := Encode(SetRole, func() {}); err == nil {
		t.Fatal("Encode of an unencodable payload succeeded")
	}
	if _, _, err := Decode(nil); !errors.Is(err, ErrDecode) {
		t.Fatalf("Decode(nil): %v", err)
	}
	typ, p, err := Decode([]byte{byte(SetRole)})
	if err != nil || typ != SetRole || len(p) != 0 {
		t.Fatalf("Decode of a bare type byte = %v, %q, %v", typ, p, err)
	}
}

func TestCommandTypeString(t *testing.T) {
	for typ, want := range map[CommandType]string{
		RegisterAgent:                           "RegisterAgent",
		SetFrameworkDisconnected:                "SetFrameworkDisconnected",
		SetRole | IgnoreUnknownTypeFlag:         "SetRole+ignore",
		CommandType(99):                         "CommandType(99)",
		CommandType(99) | IgnoreUnknownTypeFlag: "CommandType(99)+ignore",
	} {
		if got := typ.String(); got != want {
			t.Errorf("%d: %q, want %q", uint8(typ), got, want)
		}
	}
}

// FuzzDecode checks that decoding never panics, that Decode's framing is
// exact, and that a payload that decodes re-encodes stably: decoding what
// Encode made of it gives the same value again.
func FuzzDecode(f *testing.F) {
	for typ, p := range samples {
		b, _ := Encode(typ, p)
		f.Add(b)
		f.Add(append([]byte{byte(typ | IgnoreUnknownTypeFlag)}, b[1:]...))
	}
	f.Add([]byte{})
	f.Add([]byte{byte(SetRole)})
	f.Add([]byte("\x06null"))
	f.Add([]byte("\x01{\"info\":{\"attributes\":{\"k\":\"\xff\"}},\"at\":\"2026-01-01T00:00:00+23:59\"}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, payload, err := Decode(b)
		if err != nil {
			if len(b) != 0 || !errors.Is(err, ErrDecode) {
				t.Fatalf("Decode(%q): %v", b, err)
			}
			return
		}
		if len(b) == 0 || byte(typ) != b[0] || !bytes.Equal(payload, b[1:]) {
			t.Fatalf("Decode(%q) = %d, %q", b, typ, payload)
		}
		base := typ &^ IgnoreUnknownTypeFlag
		v, err := decodePayload(base, payload)
		if err != nil {
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("payload error does not wrap ErrDecode: %v", err)
			}
			return
		}
		if v == nil {
			return // unknown type
		}
		once, err := Encode(typ, v)
		if err != nil {
			return // e.g. a time outside what JSON can carry
		}
		_, p2, _ := Decode(once)
		v2, err := decodePayload(base, p2)
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v\n%s", typ, err, once)
		}
		twice, err := Encode(typ, v2)
		if err != nil || !bytes.Equal(once, twice) {
			t.Fatalf("%s is not stable under re-encoding:\n%s\n%s (%v)", typ, once, twice, err)
		}
	})
}
