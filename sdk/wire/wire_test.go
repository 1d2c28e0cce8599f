package wire

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	code := 3
	in := StatusUpdate{FrameworkID: "fw1", Status: TaskStatus{
		TaskID: "t1", AgentID: "a1", State: TaskFailed, Reason: ReasonCommandExited,
		UUID: "u1", ExitCode: &code, Timestamp: time.Unix(100, 0).UTC(),
	}}
	data, err := Encode(TypeStatusUpdate, "a1", 7, in)
	if err != nil {
		t.Fatal(err)
	}
	var out StatusUpdate
	env, err := DecodeAs(data, TypeStatusUpdate, &out)
	if err != nil {
		t.Fatal(err)
	}
	if env.Term != 7 || env.From != "a1" || env.V != Version {
		t.Fatalf("envelope = %+v", env)
	}
	if out.Status.TaskID != "t1" || *out.Status.ExitCode != 3 || out.Status.State != TaskFailed || !out.Status.Timestamp.Equal(in.Status.Timestamp) {
		t.Fatalf("body = %+v", out)
	}
}

func TestDecodeRejects(t *testing.T) {
	for name, data := range map[string]string{
		"not json":      `{`,
		"wrong version": `{"v":2,"type":"ACCEPT"}`,
		"no version":    `{"type":"ACCEPT"}`,
		"no type":       `{"v":1}`,
		"array":         `[1,2]`,
		"oversized":     `{"v":1,"type":"X","body":"` + strings.Repeat("a", MaxMessageBytes) + `"}`,
	} {
		if _, err := Decode([]byte(data)); !errors.Is(err, ErrDecode) {
			t.Errorf("%s: err = %v, want ErrDecode", name, err)
		}
	}
}

func TestDecodeBodyRequiredFields(t *testing.T) {
	cases := []struct {
		typ  Type
		body string
		into Validator
		want string
	}{
		{TypeAccept, `{}`, &Accept{}, "offer_ids"},
		{TypeAcknowledge, `{"agent_id":"a","task_id":"t"}`, &Acknowledge{}, "uuid"},
		{TypeKill, `{"agent_id":"a"}`, &Kill{}, "task_id"},
		{TypeSubscribe, `{"framework":{"id":"f"}}`, &Subscribe{}, "name"},
		{TypeSubscribe, `{"framework":{"id":"a.b","name":"x"}}`, &Subscribe{}, "must not contain"},
		{TypeRegisterAgent, `{"agent":{"id":"a","hostname":"h","resources":{"cpus":0,"mem":10}}}`, &RegisterAgent{}, "no cpus"},
		{TypeStatusUpdate, `{"framework_id":"f","status":{"task_id":"t","state":"BOGUS"}}`, &StatusUpdate{}, "invalid state"},
		{TypeAccept, `{"offer_ids":["o"],"operations":[{"type":"RESERVE"}]}`, &Accept{}, "unknown type"},
	}
	for _, c := range cases {
		env := Envelope{V: 1, Type: c.typ, Body: json.RawMessage(c.body)}
		err := DecodeBody(env, c.into)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: err = %v, want it to mention %q", c.typ, c.body, err, c.want)
		}
	}
}

func TestDecodeBodyIgnoresUnknownFields(t *testing.T) {
	env := Envelope{V: 1, Type: TypeKill, Body: json.RawMessage(`{"task_id":"t","future_field":42}`)}
	var k Kill
	if err := DecodeBody(env, &k); err != nil || k.TaskID != "t" {
		t.Fatalf("kill = %+v, err = %v", k, err)
	}
}

func TestEncodeValidates(t *testing.T) {
	if _, err := Encode(TypeKill, "f", 0, Kill{}); err == nil {
		t.Fatal("encoding an invalid body succeeded")
	}
}

func TestReplyError(t *testing.T) {
	data := MustEncode(TypeError, "m1", 3, Errorf(CodeUnknownOffer, "offer %s", "o1"))
	env, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	rerr := ReplyError(env)
	var we *Error
	if !errors.As(rerr, &we) || we.Code != CodeUnknownOffer || we.Message != "offer o1" {
		t.Fatalf("ReplyError = %v", rerr)
	}
	ack, _ := Decode(MustEncode(TypeAck, "m1", 3, Ack{}))
	if ReplyError(ack) != nil {
		t.Fatal("ACK turned into an error")
	}
}

func TestTermFence(t *testing.T) {
	var f TermFence
	if f.Admit(0) {
		t.Fatal("term 0 admitted")
	}
	if !f.Admit(3) || !f.Admit(3) || !f.Admit(4) {
		t.Fatal("current or newer term refused")
	}
	if f.Admit(3) {
		t.Fatal("older term admitted after a newer one")
	}
	if f.Newer(4) || !f.Newer(5) || f.Term() != 5 {
		t.Fatalf("Newer/Term wrong: term %d", f.Term())
	}
}

func TestSubjects(t *testing.T) {
	s := NewSubjects("")
	if got := s.Call("fw1"); got != "agora.m.fw.fw1" {
		t.Fatal(got)
	}
	if LastToken(s.FromAgent("a-1")) != "a-1" || LastToken("plain") != "plain" {
		t.Fatal("LastToken")
	}
	if NewSubjects("x").Leader() != "x.leader" {
		t.Fatal("prefix ignored")
	}
}

func TestDuration(t *testing.T) {
	var d Duration
	if err := json.Unmarshal([]byte(`"1.5s"`), &d); err != nil || d.D() != 1500*time.Millisecond {
		t.Fatalf("d = %v, err = %v", d, err)
	}
	if err := json.Unmarshal([]byte(`2000`), &d); err != nil || d.D() != 2000 {
		t.Fatalf("d = %v, err = %v", d, err)
	}
	for _, bad := range []string{`"soon"`, `true`, `"`} {
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	b, _ := json.Marshal(Duration(3 * time.Second))
	if string(b) != `"3s"` {
		t.Fatal(string(b))
	}
}
