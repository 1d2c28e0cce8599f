package wire

import "testing"

// FuzzDecode feeds hostile bytes to the decoder and every body type: it
// must return errors, never panic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"v":1,"type":"ACCEPT","from":"f","term":3,"body":{"offer_ids":["o1"],"operations":[{"type":"LAUNCH","tasks":[{"task_id":"t","agent_id":"a","command":{"value":"true"},"resources":{"cpus":1,"ports":[{"begin":5,"end":3}]}}]}]}}`))
	f.Add([]byte(`{"v":1,"type":"STATUS_UPDATE","body":{"framework_id":"f","status":{"task_id":"t","state":"TASK_RUNNING","exit_code":1}}}`))
	f.Add([]byte(`{"v":1,"type":"REGISTER_AGENT","body":{"agent":{"id":"a","hostname":"h","resources":{"cpus":1e308,"mem":-1}}}}`))
	f.Add([]byte(`{"v":1,"type":"X","body":null}`))
	f.Add([]byte(`{"v":1,"type":"SUBSCRIBE","body":{"framework":{"id":"f","name":"n","failover_timeout":"-1s"}}}`))
	f.Add([]byte(`{"v":1,"type":"STATUS_UPDATES","body":{"updates":[{"framework_id":"f","status":{"task_id":"t","state":"TASK_RUNNING","uuid":"u"}},{}]}}`))
	f.Add([]byte(`{"v":1,"type":"ACKNOWLEDGEMENTS","from":"f","body":{"acks":[{"agent_id":"a","task_id":"t","uuid":"u"}]}}`))
	f.Add([]byte{0xff, 0x00})
	bodies := []func() any{
		func() any { return &Accept{} }, func() any { return &Decline{} }, func() any { return &Subscribe{} },
		func() any { return &StatusUpdate{} }, func() any { return &RegisterAgent{} }, func() any { return &Launch{} },
		func() any { return &Acknowledge{} }, func() any { return &Reconcile{} }, func() any { return &KillTask{} },
		func() any { return &Offers{} }, func() any { return &Update{} }, func() any { return &LeaderInfo{} },
		func() any { return &Error{} }, func() any { return &AgentRegistered{} }, func() any { return &Subscribed{} },
		func() any { return &StatusUpdates{} }, func() any { return &Updates{} }, func() any { return &Acknowledgements{} },
		func() any { return &StatusAcks{} },
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := Decode(data)
		if err != nil {
			return
		}
		for _, mk := range bodies {
			v := mk()
			if DecodeBody(env, v) == nil {
				if val, ok := v.(Validator); ok && val.Validate() != nil {
					t.Fatalf("DecodeBody accepted a body that fails Validate: %s", data)
				}
			}
		}
		_ = ReplyError(env)
	})
}

// FuzzParseResources: the resource parser never panics, and what it
// accepts is valid and survives a String round trip.
func FuzzParseResources(f *testing.F) {
	for _, s := range []string{"cpus:4;mem:8192;disk:20000", "ports:[31000-32000,1-2]", "cpus:0.001", "mem:1e400", ";;", "ports:[65535-65535]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseResources(s)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("%q parsed to invalid %s: %v", s, r, err)
		}
		back, err := ParseResources(r.String())
		if err != nil || !back.Equal(r) {
			t.Fatalf("%q: round trip of %s gave %s (%v)", s, r, back, err)
		}
	})
}
