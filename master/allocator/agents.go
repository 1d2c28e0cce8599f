package allocator

import (
	"slices"

	"github.com/agora-cluster/agora/sdk/wire"
)

// AddAgent adds an active agent with its total resources and attributes
// (kept, not copied: do not modify the map afterwards). used is what tasks
// that the agent reported on (re-)registration hold, per framework; it is
// entered into the ledger in framework ID order, each framework's part
// clamped to what is still free. It reports whether all of used fitted.
// Adding an agent that is already known replaces it (its old ledger is
// forgotten first). Negative or non-finite amounts count as zero.
func (a *Allocator) AddAgent(id wire.AgentID, hostname string, total wire.Resources, attrs map[string]string, used map[wire.FrameworkID]wire.Resources) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if old := a.agents[id]; old != nil {
		a.removeAgent(old)
	}
	total = sanitize(total)
	ag := &agent{id: id, hostname: hostname, attrs: attrs, total: total, active: true}
	a.agents[id] = ag
	a.agentOrder.insert(ag)
	a.restoreFilterBits(ag)
	a.total = addScalars(a.total, total)
	a.activeFree = addScalars(a.activeFree, total)
	a.totalsDirty = true
	ok := true
	fws := make([]wire.FrameworkID, 0, len(used))
	for fw := range used {
		fws = append(fws, fw)
	}
	slices.Sort(fws)
	for _, fw := range fws {
		if !a.allocated(ag, fw, used[fw]) {
			ok = false
		}
	}
	return ok
}

// RemoveAgent forgets an agent and its ledger. Unknown agents are ignored.
func (a *Allocator) RemoveAgent(id wire.AgentID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ag := a.agents[id]; ag != nil {
		a.removeAgent(ag)
	}
}

func (a *Allocator) removeAgent(ag *agent) {
	for len(ag.ledger) > 0 {
		a.dropEntry(ag, len(ag.ledger)-1)
	}
	if ag.active {
		a.activeFree = subScalars(a.activeFree, freeScalars(ag))
	}
	a.total = subScalars(a.total, scalarsOnly(ag.total))
	a.totalsDirty = true
	a.agentOrder.remove(ag)
	delete(a.agents, ag.id)
}

// SetAgentActive marks an agent active or not. Nothing is allocated from an
// inactive agent (unreachable, draining); its ledger is kept, and it still
// counts in the cluster total. Unknown agents are ignored.
func (a *Allocator) SetAgentActive(id wire.AgentID, active bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ag := a.agents[id]
	if ag == nil || ag.active == active {
		return
	}
	if active {
		a.activeFree = addScalars(a.activeFree, freeScalars(ag))
	} else {
		a.activeFree = subScalars(a.activeFree, freeScalars(ag))
	}
	ag.active = active
}

// Allocated marks res on agent as held by framework fw (for example a task
// reported by a re-registering agent), in the framework's first role. If fw
// is not known yet the resources are still held, and are put in its first
// role when it is added. Only what is free is marked: Allocated reports
// false if res did not fit (or the agent is unknown, or res is invalid) and
// only the part that fitted was taken.
func (a *Allocator) Allocated(agent wire.AgentID, fw wire.FrameworkID, res wire.Resources) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	ag := a.agents[agent]
	if ag == nil {
		return false
	}
	return a.allocated(ag, fw, res)
}

func (a *Allocator) allocated(ag *agent, id wire.FrameworkID, res wire.Resources) bool {
	ok := res.Validate() == nil
	res = sanitize(res)
	take := intersect(res, freeOf(ag))
	if !take.Contains(res) {
		ok = false
	}
	if !hasScalars(take) && len(take.Ports) == 0 {
		return ok
	}
	var fr *fwRole
	if fw := a.frameworks[id]; fw != nil {
		fr = fw.entries[0]
	}
	a.charge(ag, id, fr, take)
	return ok
}

// Recover gives resources that framework fw held on agent back to the free
// pool: a declined, rescinded or expired offer, the unused part of an
// accepted one, a finished task. It never takes back more than fw holds
// there: it reports false, and recovers only what was held, if res was not
// wholly in fw's ledger on that agent (or the agent is unknown, or res is
// invalid). When fw holds resources for several roles on the agent, they
// are taken back from its roles in the order the framework listed them.
func (a *Allocator) Recover(agent wire.AgentID, fw wire.FrameworkID, res wire.Resources) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	ok := res.Validate() == nil
	res = sanitize(res)
	ag := a.agents[agent]
	if ag == nil {
		return false
	}
	i := ag.find(fw)
	if i < 0 {
		return ok && !hasScalars(res) && len(res.Ports) == 0
	}
	e := &ag.ledger[i]
	rem := res
	for j := range e.parts {
		p := &e.parts[j]
		take := intersect(rem, p.res)
		if !hasScalars(take) && len(take.Ports) == 0 {
			continue
		}
		p.res = p.res.Sub(take)
		rem = rem.Sub(take)
		ag.used = ag.used.Sub(take)
		if ag.active {
			a.activeFree = addScalars(a.activeFree, take)
		}
		if p.fr != nil {
			a.account(p.fr, take, false)
		}
	}
	kept := e.parts[:0]
	for _, p := range e.parts {
		if hasScalars(p.res) || len(p.res.Ports) > 0 {
			kept = append(kept, p)
		}
	}
	e.parts = kept
	if len(e.parts) == 0 {
		a.dropEntry(ag, i)
	}
	return ok && !hasScalars(rem) && len(rem.Ports) == 0
}

// Free returns an agent's total minus everything in its ledger, and whether
// the agent is known.
func (a *Allocator) Free(agent wire.AgentID) (wire.Resources, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ag := a.agents[agent]
	if ag == nil {
		return wire.Resources{}, false
	}
	return freeOf(ag), true
}
