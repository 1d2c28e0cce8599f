package allocator

import (
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// TestDRFPaperExample replays the worked example of Ghodsi et al., "Dominant
// Resource Fairness" (NSDI 2011): 9 CPUs and 18 GB; A's tasks need ⟨1 CPU,
// 4 GB⟩, B's ⟨3 CPU, 1 GB⟩. Progressive filling through offers: whoever gets
// an offer launches one task if it fits (keeping that much) and gives the
// rest back with a refuse of 0; an offer it cannot use it declines for an
// hour. DRF settles at A with 3 tasks and B with 2, both with a dominant
// share of 2/3.
func TestDRFPaperExample(t *testing.T) {
	for _, min := range []string{"cpus:0.01;mem:32", ""} {
		t.Run("min="+min, func(t *testing.T) {
			a, _ := newTest(t, min)
			a.AddAgent("s1", "h", res(t, "cpus:9;mem:18432"), nil, nil)
			a.AddFramework("A", nil, true)
			a.AddFramework("B", nil, true)
			need := map[wire.FrameworkID]wire.Resources{"A": res(t, "cpus:1;mem:4096"), "B": res(t, "cpus:3;mem:1024")}
			tasks := map[wire.FrameworkID]int{}
			var order []wire.FrameworkID
			for round := 0; ; round++ {
				if round > 50 {
					t.Fatal("allocation did not settle")
				}
				allocs := a.Allocate(nil)
				if len(allocs) == 0 {
					break
				}
				for _, al := range allocs {
					n := need[al.FrameworkID]
					if al.Resources.Contains(n) {
						tasks[al.FrameworkID]++
						order = append(order, al.FrameworkID)
						if !a.Recover(al.AgentID, al.FrameworkID, al.Resources.Sub(n)) {
							t.Fatal("recover failed")
						}
						a.Decline(al.FrameworkID, al.AgentID, 0)
					} else {
						a.Recover(al.AgentID, al.FrameworkID, al.Resources)
						a.Decline(al.FrameworkID, al.AgentID, time.Hour)
					}
				}
				mustInvariants(t, a)
			}
			if tasks["A"] != 3 || tasks["B"] != 2 {
				t.Fatalf("tasks = %v, want A:3 B:2", tasks)
			}
			// Progressive filling alternates: the framework with the lower
			// dominant share goes next.
			want := []wire.FrameworkID{"A", "B", "A", "B", "A"}
			for i := range want {
				if order[i] != want[i] {
					t.Fatalf("launch order = %v, want %v", order, want)
				}
			}
			st := a.Snapshot()
			for _, f := range st.Frameworks {
				if f.Share < 0.666 || f.Share > 0.667 {
					t.Errorf("framework %s dominant share %v, want 2/3", f.ID, f.Share)
				}
			}
			if free, _ := a.Free("s1"); !free.Equal(res(t, "mem:4096")) {
				t.Errorf("left free %s, want 0 CPU and 4 GB", free)
			}
		})
	}
}
