package sdk

import (
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

func offer(id, agent string, res string) wire.Offer {
	r, err := wire.ParseResources(res)
	if err != nil {
		panic(err)
	}
	return wire.Offer{ID: wire.OfferID(id), AgentID: wire.AgentID(agent), Resources: r}
}

func tasks(n int, cpus float64, ports int) []*TaskBuilder {
	var out []*TaskBuilder
	for i := 0; i < n; i++ {
		out = append(out, Task(string(rune('a'+i))).Shell("true").CPUs(cpus).Mem(10).Ports(ports))
	}
	return out
}

func TestPackFirstFit(t *testing.T) {
	offers := []wire.Offer{offer("o1", "a1", "cpus:2;mem:100;ports:[100-101]"), offer("o2", "a2", "cpus:2;mem:100;ports:[200-205]")}
	placed, left := Pack(offers, tasks(5, 1, 1), PackOptions{})
	if len(left) != 1 {
		t.Fatalf("unplaced %d, want 1", len(left))
	}
	if len(placed) != 2 || len(placed[0].Tasks) != 2 || len(placed[1].Tasks) != 2 {
		t.Fatalf("placements %+v", placed)
	}
	seen := map[uint64]bool{}
	for _, p := range placed {
		for _, tk := range p.Tasks {
			if tk.AgentID != p.Offer.AgentID || tk.Resources.Ports.Count() != 1 {
				t.Fatalf("task %+v on %s", tk, p.Offer.AgentID)
			}
			port := tk.Resources.Ports[0].Begin
			if seen[port] || !p.Offer.Resources.Ports.Contains(tk.Resources.Ports) {
				t.Fatalf("port %d reused or not from the offer", port)
			}
			seen[port] = true
		}
	}
}

func TestPackSpread(t *testing.T) {
	offers := []wire.Offer{offer("o1", "a1", "cpus:4;mem:100"), offer("o2", "a2", "cpus:4;mem:100"), offer("o3", "a3", "cpus:4;mem:100")}
	placed, left := Pack(offers, tasks(3, 1, 0), PackOptions{Strategy: Spread})
	if len(left) != 0 || len(placed) != 3 {
		t.Fatalf("spread placed on %d offers, %d left", len(placed), len(left))
	}
	placed, _ = Pack(offers, tasks(3, 1, 0), PackOptions{Strategy: FirstFit})
	if len(placed) != 1 {
		t.Fatalf("first-fit used %d offers, want 1", len(placed))
	}
}

func TestPackFitsVeto(t *testing.T) {
	offers := []wire.Offer{offer("o1", "a1", "cpus:4;mem:100"), offer("o2", "a2", "cpus:4;mem:100")}
	// At most one task per agent.
	one := func(_ *TaskBuilder, _ wire.Offer, placed []wire.TaskInfo) bool { return len(placed) == 0 }
	placed, left := Pack(offers, tasks(3, 1, 0), PackOptions{Fits: one})
	if len(placed) != 2 || len(left) != 1 {
		t.Fatalf("placed %d, left %d", len(placed), len(left))
	}
}

func TestTaskBuilder(t *testing.T) {
	b := Task("x").Shell("echo $K").CPUs(0.5).Mem(64).Disk(10).Env("K", "v").Label("l", "1").KillGrace(2 * time.Second)
	info := b.On("a1", wire.Ranges{{Begin: 5, End: 5}})
	if err := info.Validate(); err != nil {
		t.Fatal(err)
	}
	if info.AgentID != "a1" || info.Resources.CPUs != 0.5 || info.Env["K"] != "v" || info.KillGrace.D() != 2*time.Second || !info.Command.Shell {
		t.Fatalf("%+v", info)
	}
	info.Env["K"] = "changed"
	if b.Info().Env["K"] != "v" {
		t.Fatal("placed task shares its env map with the builder")
	}
}

func TestRefuseJitter(t *testing.T) {
	lo, hi := 10.0, 0.0
	for i := 0; i < 200; i++ {
		s := *RefuseJitter(10*time.Second, 0.5).RefuseSeconds
		if s < 10 || s > 15 {
			t.Fatalf("refuse %v outside [10,15]", s)
		}
		lo, hi = min(lo, s), max(hi, s)
	}
	if hi-lo < 1 {
		t.Fatalf("no jitter: all within [%v,%v]", lo, hi)
	}
}

func TestTaskBuilderSimulate(t *testing.T) {
	b := Task("s").SimulateStartDelay(time.Second).SimulateHang()
	sim := b.Info().Sim
	if sim == nil || !sim.Hang || sim.StartDelay.D() != time.Second {
		t.Fatalf("sim %+v, want a hang after a 1 s start", sim)
	}
	b.Simulate(2*time.Second, 3)
	if !sim.Hang || sim.Duration != 0 {
		t.Fatalf("Info shares its SimBehavior with the builder: %+v", sim)
	}
	got := *b.Info().Sim
	if got.Hang || got.Duration.D() != 2*time.Second || got.ExitCode != 3 || got.StartDelay.D() != time.Second {
		t.Fatalf("sim %+v, want exit 3 after 2 s, still starting in 1 s", got)
	}
}
