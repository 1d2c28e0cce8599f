package allocator

import (
	"fmt"
	"math/bits"
	"slices"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// fakeClock is a manually advanced clock (tests are single-goroutine
// unless they say otherwise).
type fakeClock struct{ t time.Time }

func newClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func res(t testing.TB, s string) wire.Resources {
	t.Helper()
	r, err := wire.ParseResources(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newTest(t testing.TB, min string) (*Allocator, *fakeClock) {
	t.Helper()
	clk := newClock()
	return New(Config{MinAllocatable: res(t, min), Now: clk.Now}), clk
}

// byFw groups allocations by framework.
func byFw(allocs []Allocation) map[wire.FrameworkID][]Allocation {
	out := map[wire.FrameworkID][]Allocation{}
	for _, al := range allocs {
		out[al.FrameworkID] = append(out[al.FrameworkID], al)
	}
	return out
}

// checkInvariants verifies every piece of redundant bookkeeping against
// the ledgers, and the promise that no agent is over-allocated.
func checkInvariants(a *Allocator) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	frAlloc := map[*fwRole]wire.Resources{}
	roleAlloc := map[*role]wire.Resources{}
	var total, activeFree wire.Resources
	orphans := 0
	for id, ag := range a.agents {
		var sum wire.Resources
		for _, e := range ag.ledger {
			if e.fw == nil {
				orphans++
			}
			if e.fw != a.frameworks[e.id] {
				return fmt.Errorf("agent %s: ledger entry of %s points to a stale framework", id, e.id)
			}
			if len(e.parts) == 0 {
				return fmt.Errorf("agent %s: empty ledger entry for %s", id, e.id)
			}
			for _, p := range e.parts {
				if (p.fr == nil) != (e.fw == nil) || (p.fr != nil && p.fr.fw != e.fw) {
					return fmt.Errorf("agent %s: part of %s attributed wrongly", id, e.id)
				}
				if p.fr != nil && p.fr.removed {
					return fmt.Errorf("agent %s: part of %s in a removed role", id, e.id)
				}
				if p.res.Validate() != nil {
					return fmt.Errorf("agent %s: negative part %s", id, p.res)
				}
				sum = sum.Add(p.res)
				if p.fr != nil {
					frAlloc[p.fr] = addScalars(frAlloc[p.fr], p.res)
					roleAlloc[p.fr.role] = addScalars(roleAlloc[p.fr.role], p.res)
				}
			}
		}
		if !ag.total.Contains(sum) {
			return fmt.Errorf("agent %s over-allocated: ledger %s > total %s", id, sum, ag.total)
		}
		if !sum.Equal(ag.used) {
			return fmt.Errorf("agent %s: used %s but ledger sums to %s", id, ag.used, sum)
		}
		total = addScalars(total, ag.total)
		if ag.active {
			activeFree = addScalars(activeFree, freeScalars(ag))
		}
	}
	if !total.Equal(a.total) {
		return fmt.Errorf("total %s, want %s", a.total, total)
	}
	if !activeFree.Equal(a.activeFree) {
		return fmt.Errorf("activeFree %s, want %s", a.activeFree, activeFree)
	}
	if orphans != a.orphans {
		return fmt.Errorf("orphans %d, want %d", a.orphans, orphans)
	}
	if len(a.agentOrder.items) != len(a.agents) || !slices.IsSortedFunc(a.agentOrder.items, cmpAgent) {
		return fmt.Errorf("agent order broken")
	}
	live := 0
	guaranteed := 0
	for _, fw := range a.frameworks {
		for _, fr := range fw.entries {
			if !frAlloc[fr].Equal(fr.alloc) {
				return fmt.Errorf("framework %s role %s: alloc %s, ledgers %s", fw.id, fr.role.name, fr.alloc, frAlloc[fr])
			}
			if a.roles[fr.role.name] != fr.role {
				return fmt.Errorf("framework %s: role %s not registered", fw.id, fr.role.name)
			}
			want := fw.active && !fr.suppressed
			if fr.listed != want || slices.Contains(fr.role.offerable.items, fr) != want {
				return fmt.Errorf("framework %s role %s: listed %v, want %v", fw.id, fr.role.name, fr.listed, want)
			}
			live += len(fr.filters)
		}
	}
	// Filter bits match the filter maps; offer bits match the lists.
	slots := map[int]bool{}
	for _, fw := range a.frameworks {
		for _, fr := range fw.entries {
			if slots[fr.slot] {
				return fmt.Errorf("slot %d used twice", fr.slot)
			}
			slots[fr.slot] = true
			if hasBit(a.offerBits, fr.slot) != fr.listed {
				return fmt.Errorf("framework %s role %s: offer bit %v, listed %v", fw.id, fr.role.name, !fr.listed, fr.listed)
			}
		}
	}
	for _, ag := range a.agents {
		bits := 0
		for _, w := range ag.fbits {
			bits += popcount(w)
		}
		n := 0
		for _, fw := range a.frameworks {
			for _, fr := range fw.entries {
				if _, ok := fr.filters[ag.id]; ok {
					n++
					if !hasBit(ag.fbits, fr.slot) {
						return fmt.Errorf("agent %s: filter of %s/%s has no bit", ag.id, fw.id, fr.role.name)
					}
				}
			}
		}
		if n != bits {
			return fmt.Errorf("agent %s: %d filter bits for %d filters", ag.id, bits, n)
		}
	}
	bits := 0
	for _, w := range a.offerBits {
		bits += popcount(w)
	}
	listed := 0
	for _, r := range a.roles {
		listed += len(r.offerable.items)
	}
	if bits != listed {
		return fmt.Errorf("%d offer bits for %d listed", bits, listed)
	}
	if live != a.liveFilters {
		return fmt.Errorf("liveFilters %d, want %d", a.liveFilters, live)
	}
	if len(a.roleOrder.items) != len(a.roles) || !slices.IsSortedFunc(a.roleOrder.items, cmpRole) {
		return fmt.Errorf("role order broken")
	}
	for name, r := range a.roles {
		if hasScalars(r.guarantee) {
			guaranteed++
		}
		if !roleAlloc[r].Equal(r.alloc) {
			return fmt.Errorf("role %s: alloc %s, ledgers %s", name, r.alloc, roleAlloc[r])
		}
		if !slices.IsSortedFunc(r.offerable.items, cmpFwRole) {
			return fmt.Errorf("role %s: framework order broken", name)
		}
		if !a.totalsDirty {
			if r.key != a.roleKey(r) {
				return fmt.Errorf("role %s: stale key", name)
			}
			for _, fr := range r.offerable.items {
				if fr.key != a.frKey(fr) {
					return fmt.Errorf("role %s: framework %s has a stale key", name, fr.fw.id)
				}
			}
		}
		if r.refs == 0 && !r.explicit {
			return fmt.Errorf("role %s: implicit and unused, but kept", name)
		}
	}
	if guaranteed != a.guaranteed {
		return fmt.Errorf("guaranteed %d, want %d", a.guaranteed, guaranteed)
	}
	return nil
}

func popcount(w uint64) int { return bits.OnesCount64(w) }

func mustInvariants(t testing.TB, a *Allocator) {
	t.Helper()
	if err := checkInvariants(a); err != nil {
		t.Fatal(err)
	}
}
