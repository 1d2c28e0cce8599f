package wire

import (
	"fmt"
	"testing"
	"time"
)

func benchUpdates(n int) StatusUpdates {
	var ups StatusUpdates
	for i := range n {
		ups.Updates = append(ups.Updates, StatusUpdate{FrameworkID: "fw-0123456789abcdef", Status: TaskStatus{
			TaskID: TaskID(fmt.Sprintf("task-%06d", i)), AgentID: "agent-0123456789abcdef", State: TaskRunning,
			Source: SourceAgent, UUID: NewUUID(), Timestamp: time.Now()}})
	}
	return ups
}

// BenchmarkCodec measures one batch of 20 status updates (what an agent
// sends after launching 20 tasks) through Encode and Decode+DecodeBody.
func BenchmarkCodec(b *testing.B) {
	ups := benchUpdates(20)
	data := MustEncode(TypeStatusUpdates, "agent", 3, ups)
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Encode(TypeStatusUpdates, "agent", 3, ups); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out StatusUpdates
			if _, err := DecodeAs(data, TypeStatusUpdates, &out); err != nil || len(out.Updates) != 20 {
				b.Fatal(err)
			}
		}
	})
}
