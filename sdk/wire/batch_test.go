package wire

import (
	stdjson "encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestBatchValidation(t *testing.T) {
	ok := StatusUpdate{FrameworkID: "f", Status: TaskStatus{TaskID: "t", State: TaskRunning, UUID: "u"}}
	many := make([]StatusUpdate, MaxBatch+1)
	for i := range many {
		many[i] = ok
	}
	cases := []struct {
		name string
		v    Validator
		want string
	}{
		{"empty updates", StatusUpdates{}, `"updates"`},
		{"too many updates", StatusUpdates{Updates: many}, "at most 1000"},
		{"bad entry names its index", StatusUpdates{Updates: []StatusUpdate{ok, {FrameworkID: "f"}}}, "updates[1]"},
		{"empty statuses", Updates{}, `"statuses"`},
		{"bad status", Updates{Statuses: []TaskStatus{{TaskID: "t", State: "BOGUS"}}}, "statuses[0]"},
		{"empty acks", Acknowledgements{}, `"acks"`},
		{"ack without uuid", Acknowledgements{Acks: []Acknowledge{{AgentID: "a", TaskID: "t"}}}, "acks[0]"},
		{"status ack without uuid", StatusAcks{Acks: []StatusAck{{FrameworkID: "f", TaskID: "t"}}}, "acks[0]"},
	}
	for _, c := range cases {
		err := c.v.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %s", c.name, err, c.want)
		}
	}
	if err := (StatusUpdates{Updates: many[:MaxBatch]}).Validate(); err != nil {
		t.Fatalf("a full batch is valid: %v", err)
	}
	// A round trip through the codec keeps order.
	in := StatusUpdates{Updates: []StatusUpdate{ok, ok}}
	in.Updates[1].Status.TaskID = "t2"
	data, err := Encode(TypeStatusUpdates, "a", 0, in)
	if err != nil {
		t.Fatal(err)
	}
	var out StatusUpdates
	if _, err := DecodeAs(data, TypeStatusUpdates, &out); err != nil || len(out.Updates) != 2 || out.Updates[1].Status.TaskID != "t2" {
		t.Fatalf("round trip: %+v, %v", out, err)
	}
}

func TestChunks(t *testing.T) {
	if got := Chunks(0); len(got) != 0 {
		t.Fatalf("Chunks(0) = %v", got)
	}
	got := Chunks(2*MaxBatch + 1)
	if len(got) != 3 || got[0] != [2]int{0, MaxBatch} || got[2] != [2]int{2 * MaxBatch, 2*MaxBatch + 1} {
		t.Fatalf("Chunks = %v", got)
	}
}

// TestEncodeMatchesStandardEnvelope: the hand-assembled envelope is the
// JSON that encoding/json writes for the same Envelope.
func TestEncodeMatchesStandardEnvelope(t *testing.T) {
	body := Update{Status: TaskStatus{TaskID: "t\u00e9\"<", State: TaskRunning, UUID: "u", Message: "a\nb"}}
	for _, c := range []struct {
		from string
		term uint64
	}{{"", 0}, {"fw-\"x\"", 7}, {"a", 1 << 63}} {
		got, err := Encode(TypeUpdate, c.from, c.term, body)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := stdjson.Marshal(body)
		want, _ := stdjson.Marshal(Envelope{V: Version, Type: TypeUpdate, From: c.from, Term: c.term, Body: raw})
		var g, w any
		if err := stdjson.Unmarshal(got, &g); err != nil {
			t.Fatalf("Encode wrote invalid JSON %s: %v", got, err)
		}
		_ = stdjson.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("Encode = %s, want %s", got, want)
		}
	}
	if got, _ := Encode(TypeHeartbeat, "", 0, nil); string(got) != `{"v":1,"type":"HEARTBEAT"}` {
		t.Fatalf("empty envelope = %s", got)
	}
}
