package allocator

import (
	"fmt"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

const (
	benchAgents     = 10_000
	benchFrameworks = 1_000
)

var benchRoles = []string{"analytics", "batch", "services", "web"}

// benchCluster builds 10k agents of cpus:24;mem:4096;disk:4096 and 1k
// frameworks spread over four roles (one with weight 2), all free.
func benchCluster(b *testing.B) (*Allocator, []wire.AgentID) {
	b.Helper()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a := New(Config{MinAllocatable: wire.Resources{CPUs: 0.01, MemMB: 32}, Now: func() time.Time { return now }})
	if err := a.SetRole("services", 2, wire.Resources{}); err != nil {
		b.Fatal(err)
	}
	for i := range benchFrameworks {
		a.AddFramework(wire.FrameworkID(fmt.Sprintf("fw-%04d", i)), []string{benchRoles[i%len(benchRoles)]}, true)
	}
	total := wire.Resources{CPUs: 24, MemMB: 4096, DiskMB: 4096}
	attrs := map[string]string{"rack": "r1"}
	ids := make([]wire.AgentID, benchAgents)
	for i := range ids {
		ids[i] = wire.AgentID(fmt.Sprintf("agent-%05d", i))
		a.AddAgent(ids[i], fmt.Sprintf("host-%05d", i), total, attrs, nil)
	}
	return a, ids
}

// BenchmarkFullPass10kAgents1kFrameworks measures Allocate(nil) over 10k
// agents and 1k frameworks: "free" with every agent free (10k offers made),
// "steady" with everything already allocated (the pass finds nothing). The
// cluster is built once (sub-benchmarks re-run with growing b.N).
func BenchmarkFullPass10kAgents1kFrameworks(b *testing.B) {
	a, _ := benchCluster(b)
	var last []Allocation // what the cluster holds between runs
	b.Run("free", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			b.StopTimer()
			for _, al := range last {
				a.Recover(al.AgentID, al.FrameworkID, al.Resources)
			}
			b.StartTimer()
			last = a.Allocate(nil)
			if len(last) != benchAgents {
				b.Fatalf("%d allocations, want %d", len(last), benchAgents)
			}
		}
	})
	b.Run("steady", func(b *testing.B) {
		if last == nil {
			last = a.Allocate(nil)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if n := len(a.Allocate(nil)); n != 0 {
				b.Fatalf("steady pass allocated %d", n)
			}
		}
	})
}

// BenchmarkFullPassDeclined10kAgents1kFrameworks measures the worst case of
// filters (Mesos pays it too): every agent has cpus:1;mem:256 free and
// "all" frameworks declined every agent (10M filters; the pass skips each
// agent on a bitset test), or "all-but-one" did, so that every agent walks
// the 999 filtered frameworks before reaching the last one.
func BenchmarkFullPassDeclined10kAgents1kFrameworks(b *testing.B) {
	a, ids := benchCluster(b)
	back := wire.Resources{CPUs: 1, MemMB: 256}
	for _, al := range a.Allocate(nil) {
		a.Recover(al.AgentID, al.FrameworkID, back)
	}
	for i := range benchFrameworks {
		for _, id := range ids {
			a.Decline(wire.FrameworkID(fmt.Sprintf("fw-%04d", i)), id, time.Hour)
		}
	}
	b.Run("all", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if n := len(a.Allocate(nil)); n != 0 {
				b.Fatalf("pass allocated %d", n)
			}
		}
	})
	var last []Allocation
	b.Run("all-but-one", func(b *testing.B) {
		a.Revive("fw-0999", nil)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			for _, al := range last {
				a.Recover(al.AgentID, al.FrameworkID, al.Resources)
			}
			b.StartTimer()
			last = a.Allocate(nil)
			if len(last) != benchAgents || last[0].FrameworkID != "fw-0999" {
				b.Fatalf("%d allocations", len(last))
			}
		}
	})
}

// BenchmarkEventOneAgent measures the event-driven path: one agent's offer
// comes back (Recover) and a pass over that agent re-offers it.
func BenchmarkEventOneAgent(b *testing.B) {
	a, ids := benchCluster(b)
	held := make(map[wire.AgentID]Allocation, benchAgents)
	for _, al := range a.Allocate(nil) {
		held[al.AgentID] = al
	}
	one := make([]wire.AgentID, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		id := ids[i%len(ids)]
		al := held[id]
		a.Recover(id, al.FrameworkID, al.Resources)
		one[0] = id
		got := a.Allocate(one)
		if len(got) != 1 {
			b.Fatalf("%d allocations", len(got))
		}
		held[id] = got[0]
	}
}
