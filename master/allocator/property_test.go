package allocator

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// TestRandomisedInvariants drives the allocator with a long random sequence
// of calls (fixed seeds) and checks after every call that no agent is
// over-allocated and that all derived bookkeeping matches the ledgers; after
// every pass it checks that each allocation went to a framework and agent
// that could take it.
func TestRandomisedInvariants(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { randomRun(t, seed, 5000) })
	}
}

type held struct {
	agent wire.AgentID
	fw    wire.FrameworkID
	res   wire.Resources
}

func randomRun(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, seed*7919))
	clk := newClock()
	a := New(Config{MinAllocatable: wire.Resources{CPUs: 0.01}, Now: clk.Now})
	agentIDs := make([]wire.AgentID, 12)
	for i := range agentIDs {
		agentIDs[i] = wire.AgentID(fmt.Sprintf("a%02d", i))
	}
	fwIDs := make([]wire.FrameworkID, 8)
	for i := range fwIDs {
		fwIDs[i] = wire.FrameworkID(fmt.Sprintf("f%d", i))
	}
	roleNames := []string{"*", "r1", "r2", "r3"}
	randRes := func(scale float64) wire.Resources {
		r := wire.Resources{
			CPUs:   round3(rng.Float64() * 8 * scale),
			MemMB:  round3(rng.Float64() * 1024 * scale),
			DiskMB: round3(rng.Float64() * 100 * scale),
		}
		if rng.IntN(3) == 0 {
			lo := uint64(rng.IntN(100))
			r.Ports = wire.Ranges{{Begin: 31000 + lo, End: 31000 + lo + uint64(rng.IntN(20))}}
		}
		return r
	}
	randRoles := func() []string {
		var rs []string
		for range rng.IntN(3) {
			rs = append(rs, roleNames[rng.IntN(len(roleNames))])
		}
		return rs
	}
	var outstanding []held
	for step := range steps {
		var op string
		switch k := rng.IntN(20); k {
		case 0:
			op = "AddAgent"
			used := map[wire.FrameworkID]wire.Resources{}
			for range rng.IntN(3) {
				used[fwIDs[rng.IntN(len(fwIDs))]] = randRes(0.5)
			}
			a.AddAgent(agentIDs[rng.IntN(len(agentIDs))], "h", randRes(1), nil, used)
		case 1:
			op = "RemoveAgent"
			a.RemoveAgent(agentIDs[rng.IntN(len(agentIDs))])
		case 2:
			op = "SetAgentActive"
			a.SetAgentActive(agentIDs[rng.IntN(len(agentIDs))], rng.IntN(3) > 0)
		case 3:
			op = "AddFramework"
			a.AddFramework(fwIDs[rng.IntN(len(fwIDs))], randRoles(), rng.IntN(4) > 0)
		case 4:
			op = "RemoveFramework"
			a.RemoveFramework(fwIDs[rng.IntN(len(fwIDs))])
		case 5:
			op = "SetFrameworkActive"
			a.SetFrameworkActive(fwIDs[rng.IntN(len(fwIDs))], rng.IntN(3) > 0)
		case 6:
			op = "SetRole"
			var q wire.Resources
			if rng.IntN(2) == 0 {
				q = wire.Resources{CPUs: float64(rng.IntN(20))}
			}
			_ = a.SetRole(roleNames[rng.IntN(len(roleNames))], float64(rng.IntN(4)), q)
		case 7:
			op = "SetRoleGuarantee"
			var g wire.Resources
			if rng.IntN(2) == 0 {
				g = wire.Resources{CPUs: float64(rng.IntN(10)), MemMB: float64(rng.IntN(2000))}
			}
			_ = a.SetRoleGuarantee(roleNames[rng.IntN(len(roleNames))], g)
		case 8:
			op = "Allocated"
			a.Allocated(agentIDs[rng.IntN(len(agentIDs))], fwIDs[rng.IntN(len(fwIDs))], randRes(0.3))
		case 9, 10:
			op = "Recover"
			if len(outstanding) == 0 || rng.IntN(5) == 0 {
				// Something random, possibly more than held.
				a.Recover(agentIDs[rng.IntN(len(agentIDs))], fwIDs[rng.IntN(len(fwIDs))], randRes(0.5))
				break
			}
			i := rng.IntN(len(outstanding))
			h := outstanding[i]
			part := h.res
			if rng.IntN(2) == 0 {
				part = wire.Resources{CPUs: round3(h.res.CPUs / 2), MemMB: round3(h.res.MemMB / 3), Ports: h.res.Ports}
			}
			a.Recover(h.agent, h.fw, part)
			outstanding = slices.Delete(outstanding, i, i+1)
		case 11:
			op = "Decline"
			a.Decline(fwIDs[rng.IntN(len(fwIDs))], agentIDs[rng.IntN(len(agentIDs))], time.Duration(rng.IntN(20))*time.Second)
		case 12:
			op = "Revive"
			var rs []string
			if rng.IntN(2) == 0 {
				rs = randRoles()
			}
			a.Revive(fwIDs[rng.IntN(len(fwIDs))], rs)
		case 13:
			op = "Suppress"
			var rs []string
			if rng.IntN(2) == 0 {
				rs = randRoles()
			}
			a.Suppress(fwIDs[rng.IntN(len(fwIDs))], rs)
		case 14:
			op = "Advance"
			clk.Advance(time.Duration(rng.IntN(5000)) * time.Millisecond)
			a.NextFilterExpiry()
		case 15:
			op = "Snapshot/Explain"
			a.Snapshot()
			a.Explain(fwIDs[rng.IntN(len(fwIDs))])
		default:
			op = "Allocate"
			var subset []wire.AgentID
			if rng.IntN(2) == 0 {
				subset = []wire.AgentID{agentIDs[rng.IntN(len(agentIDs))], agentIDs[rng.IntN(len(agentIDs))]}
			}
			before := a.Snapshot()
			allocs := a.Allocate(subset)
			checkAllocations(t, before, clk.Now(), subset, allocs, a.min)
			for _, al := range allocs {
				outstanding = append(outstanding, held{al.AgentID, al.FrameworkID, al.Resources})
			}
		}
		if err := checkInvariants(a); err != nil {
			t.Fatalf("step %d (%s): %v", step, op, err)
		}
	}
}

// checkAllocations verifies one pass against the state before it.
func checkAllocations(t *testing.T, before Stats, now time.Time, subset []wire.AgentID, allocs []Allocation, min wire.Resources) {
	t.Helper()
	agents := map[wire.AgentID]AgentStats{}
	for _, ag := range before.Agents {
		agents[ag.ID] = ag
	}
	fws := map[wire.FrameworkID]FrameworkStats{}
	for _, f := range before.Frameworks {
		fws[f.ID] = f
	}
	roles := map[string]RoleStats{}
	for _, r := range before.Roles {
		roles[r.Name] = r
	}
	given := map[string]wire.Resources{}
	for _, al := range allocs {
		ag, ok := agents[al.AgentID]
		if !ok || !ag.Active {
			t.Fatalf("allocation from unknown or inactive agent: %+v", al)
		}
		if len(subset) > 0 && !slices.Contains(subset, al.AgentID) {
			t.Fatalf("allocation from agent outside the pass: %+v", al)
		}
		f, ok := fws[al.FrameworkID]
		if !ok || !f.Active || !slices.Contains(f.Roles, al.Role) || slices.Contains(f.Suppressed, al.Role) {
			t.Fatalf("allocation to a framework that cannot take it: %+v (%+v)", al, f)
		}
		for _, fl := range f.Filters {
			if fl.AgentID == al.AgentID && fl.Role == al.Role && now.Before(fl.Until) {
				t.Fatalf("allocation despite a filter: %+v", al)
			}
		}
		r := al.Resources
		if !hasScalars(r) || r.CPUs < min.CPUs || r.MemMB < min.MemMB || r.DiskMB < min.DiskMB {
			t.Fatalf("allocation below the minimum: %+v", al)
		}
		given[al.Role] = addScalars(given[al.Role], r)
	}
	// A limit is never crossed by a pass (a role already over it — limit
	// lowered, tasks re-registered — gets none of that resource).
	for name, g := range given {
		rs := roles[name]
		after := addScalars(rs.Allocated, g)
		l := rs.Quota
		if (l.CPUs > 0 && g.CPUs > 0 && after.CPUs > l.CPUs) || (l.MemMB > 0 && g.MemMB > 0 && after.MemMB > l.MemMB) ||
			(l.DiskMB > 0 && g.DiskMB > 0 && after.DiskMB > l.DiskMB) {
			t.Fatalf("role %s: pass gave %s, allocation now %s, over limit %s", name, g, after, l)
		}
	}
}

// TestDeterministic runs the same random sequence twice and compares the
// resulting state.
func TestDeterministic(t *testing.T) {
	snap := func() Stats {
		clk := newClock()
		a := New(Config{Now: clk.Now})
		rng := rand.New(rand.NewPCG(42, 42))
		for i := range 50 {
			a.AddAgent(wire.AgentID(fmt.Sprintf("a%02d", i)), "h", wire.Resources{CPUs: float64(1 + rng.IntN(8)), MemMB: float64(rng.IntN(4096))}, nil, nil)
		}
		for i := range 10 {
			a.AddFramework(wire.FrameworkID(fmt.Sprintf("f%d", i)), []string{fmt.Sprint("r", i%3)}, true)
		}
		for range 20 {
			for _, al := range a.Allocate(nil) {
				if rng.IntN(2) == 0 {
					a.Recover(al.AgentID, al.FrameworkID, al.Resources)
					a.Decline(al.FrameworkID, al.AgentID, time.Second)
				}
			}
			clk.Advance(500 * time.Millisecond)
		}
		return a.Snapshot()
	}
	s1, s2 := snap(), snap()
	if fmt.Sprint(s1) != fmt.Sprint(s2) {
		t.Fatal("two identical runs ended in different states")
	}
}
