package allocator

import (
	"slices"

	"github.com/agora-cluster/agora/sdk/wire"
)

// Allocate runs a pass over the given agents (nil or empty: every agent, a
// full pass) and returns the new allocations, in agent ID order. What it
// returns is already in the frameworks' ledgers: the master makes offers of
// it, and gives back with Recover whatever it does not offer or what comes
// back declined. Unknown agent IDs are ignored. Expired filters are cleared
// first.
func (a *Allocator) Allocate(agents []wire.AgentID) []Allocation {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.expireFilters(a.now().UnixNano())
	if a.totalsDirty {
		a.rekey()
	}
	list := a.agentOrder.items
	if len(agents) > 0 {
		list = make([]*agent, 0, len(agents))
		for _, id := range agents {
			if ag := a.agents[id]; ag != nil {
				list = append(list, ag)
			}
		}
		slices.SortFunc(list, cmpAgent)
		list = slices.Compact(list)
	}
	out := a.scratch[:0]
	if a.guaranteed > 0 && a.unsatisfiedGuarantees() {
		for _, ag := range list {
			out = a.allocateAgent(ag, true, out)
		}
	}
	for _, ag := range list {
		out = a.allocateAgent(ag, false, out)
	}
	if len(out) == 0 {
		return nil
	}
	// The scratch slice keeps its capacity across passes; the caller gets
	// an exact copy, and the scratch drops its references.
	res := slices.Clone(out)
	clear(out)
	a.scratch = out[:0]
	return res
}

// allocateAgent offers what is free on ag, in DRF order, appending to out.
// In stage one (guarantees) only roles below their guarantee are served.
func (a *Allocator) allocateAgent(ag *agent, stage1 bool, out []Allocation) []Allocation {
	if !ag.active {
		return out
	}
	if len(ag.fbits) > 0 && covers(ag.fbits, a.offerBits) {
		return out // every framework that could take it filtered it
	}
	a.served = a.served[:0]
	for {
		free := freeScalars(ag)
		if !a.allocatable(free) {
			return out
		}
		fr, offer := a.pick(ag, free, stage1)
		if fr == nil {
			return out
		}
		if len(ag.total.Ports) > 0 {
			offer.Ports = ag.total.Ports.Minus(ag.used.Ports) // the first offer takes them all
		}
		a.charge(ag, fr.fw.id, fr, offer)
		a.served = append(a.served, fr)
		out = append(out, Allocation{
			FrameworkID: fr.fw.id,
			Role:        fr.role.name,
			AgentID:     ag.id,
			Hostname:    ag.hostname,
			Resources:   offer,
			Attributes:  ag.attrs,
		})
	}
}

// pick finds the first framework, in DRF order, that may receive free
// resources of ag, and what it may receive (scalars only).
func (a *Allocator) pick(ag *agent, free wire.Resources, stage1 bool) (*fwRole, wire.Resources) {
	for _, r := range a.roleOrder.items {
		if len(r.offerable.items) == 0 {
			continue
		}
		if stage1 && !hasScalars(r.unsatisfied()) {
			continue
		}
		offer := a.capFor(r, free, stage1)
		if !a.allocatable(offer) {
			continue
		}
	candidates:
		for _, fr := range r.offerable.items {
			if hasBit(ag.fbits, fr.slot) {
				continue
			}
			for _, s := range a.served {
				if s == fr {
					continue candidates
				}
			}
			return fr, offer
		}
	}
	return nil, wire.Resources{}
}

// capFor caps free by what role r may still take: its quota limit and, if
// any role has a guarantee, the headroom that outstanding guarantees need.
func (a *Allocator) capFor(r *role, free wire.Resources, stage1 bool) wire.Resources {
	offer := free
	if hasScalars(r.limit) {
		offer = minScalars(offer, headroom(r.limit, r.alloc))
	}
	if a.guaranteed == 0 {
		return offer
	}
	unsat := r.unsatisfied()
	if stage1 {
		// Only the missing part of each guaranteed resource.
		if r.guarantee.CPUs > 0 {
			offer.CPUs = min(offer.CPUs, unsat.CPUs)
		}
		if r.guarantee.MemMB > 0 {
			offer.MemMB = min(offer.MemMB, unsat.MemMB)
		}
		if r.guarantee.DiskMB > 0 {
			offer.DiskMB = min(offer.DiskMB, unsat.DiskMB)
		}
	}
	// Whatever exceeds r's own missing guarantee must leave enough
	// unallocated resources for the guarantees of all roles.
	req := a.requiredHeadroom()
	slack := subScalars(a.activeFree, req)
	if req.CPUs > 0 {
		offer.CPUs = min(offer.CPUs, round3(unsat.CPUs+max(0, slack.CPUs)))
	}
	if req.MemMB > 0 {
		offer.MemMB = min(offer.MemMB, round3(unsat.MemMB+max(0, slack.MemMB)))
	}
	if req.DiskMB > 0 {
		offer.DiskMB = min(offer.DiskMB, round3(unsat.DiskMB+max(0, slack.DiskMB)))
	}
	return offer
}

// headroom is what a limit leaves above alloc: unlimited (a very large
// amount) where the limit is zero, never below zero.
func headroom(limit, alloc wire.Resources) wire.Resources {
	const unlimited = 1e300
	h := wire.Resources{CPUs: unlimited, MemMB: unlimited, DiskMB: unlimited}
	if limit.CPUs > 0 {
		h.CPUs = max(0, round3(limit.CPUs-alloc.CPUs))
	}
	if limit.MemMB > 0 {
		h.MemMB = max(0, round3(limit.MemMB-alloc.MemMB))
	}
	if limit.DiskMB > 0 {
		h.DiskMB = max(0, round3(limit.DiskMB-alloc.DiskMB))
	}
	return h
}

// unsatisfied is what r lacks of its guarantee, per resource.
func (r *role) unsatisfied() wire.Resources {
	g := r.guarantee
	return wire.Resources{
		CPUs:   max(0, round3(g.CPUs-r.alloc.CPUs)),
		MemMB:  max(0, round3(g.MemMB-r.alloc.MemMB)),
		DiskMB: max(0, round3(g.DiskMB-r.alloc.DiskMB)),
	}
}

// requiredHeadroom sums what all roles lack of their guarantees.
func (a *Allocator) requiredHeadroom() wire.Resources {
	var req wire.Resources
	if a.guaranteed == 0 {
		return req
	}
	for _, r := range a.roleOrder.items {
		if hasScalars(r.guarantee) {
			req = addScalars(req, r.unsatisfied())
		}
	}
	return req
}

// unsatisfiedGuarantees reports whether a role that could take an offer is
// below its guarantee.
func (a *Allocator) unsatisfiedGuarantees() bool {
	for _, r := range a.roleOrder.items {
		if len(r.offerable.items) > 0 && hasScalars(r.unsatisfied()) {
			return true
		}
	}
	return false
}
