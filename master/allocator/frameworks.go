package allocator

import (
	"fmt"
	"math"
	"slices"

	"github.com/agora-cluster/agora/sdk/wire"
)

// AddFramework adds a framework with its roles (empty: DefaultRole;
// repeated and empty names are dropped). An inactive framework is tracked
// (its allocation counts) but gets no offers. Resources already marked for
// it while it was unknown (Allocated, AddAgent) are put in its first role.
//
// Adding a known framework updates it: its activity is set and, if its
// roles changed, what it holds in a role it left moves to its first role,
// and the filters and suppression of the roles it left are dropped.
func (a *Allocator) AddFramework(id wire.FrameworkID, roles []string, active bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	roles = normRoles(roles)
	fw := a.frameworks[id]
	if fw == nil {
		fw = &framework{id: id, active: active}
		a.frameworks[id] = fw
		for _, name := range roles {
			fw.entries = append(fw.entries, a.newFwRole(fw, name))
		}
		if a.orphans > 0 {
			a.adopt(fw)
		}
		for _, fr := range fw.entries {
			a.syncOfferable(fr)
		}
		return
	}
	fw.active = active
	if !slices.Equal(roles, fw.roleNames()) {
		a.changeRoles(fw, roles)
	}
	for _, fr := range fw.entries {
		a.syncOfferable(fr)
	}
}

func (fw *framework) roleNames() []string {
	out := make([]string, len(fw.entries))
	for i, fr := range fw.entries {
		out[i] = fr.role.name
	}
	return out
}

func (a *Allocator) newFwRole(fw *framework, name string) *fwRole {
	r := a.role(name)
	r.refs++
	fr := &fwRole{fw: fw, role: r, slot: a.newSlot()}
	fr.key = a.frKey(fr)
	return fr
}

// dropFwRole takes fr out of every order and forgets its filters. Its
// allocation must already be gone.
func (a *Allocator) dropFwRole(fr *fwRole) {
	fr.removed = true
	a.syncOfferable(fr)
	a.clearFilters(fr)
	a.freeSlots = append(a.freeSlots, fr.slot)
	fr.role.refs--
	a.maybeDropRole(fr.role)
}

// adopt attributes the orphan ledger entries of a newly added framework to
// its first role.
func (a *Allocator) adopt(fw *framework) {
	first := fw.entries[0]
	for _, ag := range a.agentOrder.items {
		i := ag.find(fw.id)
		if i < 0 || ag.ledger[i].fw != nil {
			continue
		}
		e := &ag.ledger[i]
		e.fw = fw
		a.orphans--
		var sum wire.Resources
		for _, p := range e.parts {
			sum = sum.Add(p.res)
		}
		e.parts = append(e.parts[:0], rolePart{fr: first, res: sum})
		a.account(first, sum, true)
	}
}

// changeRoles gives fw the roles named, keeping the entries of roles it
// keeps and moving what it holds in the others to its new first role.
func (a *Allocator) changeRoles(fw *framework, roles []string) {
	old := fw.entries
	fw.entries = make([]*fwRole, 0, len(roles))
	for _, name := range roles {
		var keep *fwRole
		for _, fr := range old {
			if fr.role.name == name {
				keep = fr
				break
			}
		}
		if keep == nil {
			keep = a.newFwRole(fw, name)
		}
		fw.entries = append(fw.entries, keep)
	}
	var gone []*fwRole
	for _, fr := range old {
		if !slices.Contains(fw.entries, fr) {
			gone = append(gone, fr)
		}
	}
	if len(gone) == 0 {
		return
	}
	first := fw.entries[0]
	for _, ag := range a.agentOrder.items {
		i := ag.find(fw.id)
		if i < 0 {
			continue
		}
		e := &ag.ledger[i]
		for j := range e.parts {
			if slices.Contains(gone, e.parts[j].fr) {
				a.account(e.parts[j].fr, e.parts[j].res, false)
				e.parts[j].fr = first
				a.account(first, e.parts[j].res, true)
			}
		}
		e.mergeParts()
	}
	for _, fr := range gone {
		a.dropFwRole(fr)
	}
}

// mergeParts joins the parts of e that belong to the same role.
func (e *ledgerEntry) mergeParts() {
	out := e.parts[:0]
	for _, p := range e.parts {
		merged := false
		for k := range out {
			if out[k].fr == p.fr {
				out[k].res = out[k].res.Add(p.res)
				merged = true
				break
			}
		}
		if !merged {
			out = append(out, p)
		}
	}
	e.parts = out
}

// RemoveFramework forgets a framework and everything its ledger holds on
// every agent (the master has already killed its tasks or recovered its
// offers): those resources become free. Unknown frameworks are ignored
// (except that resources marked for that ID while it was unknown are
// forgotten too).
func (a *Allocator) RemoveFramework(id wire.FrameworkID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fw := a.frameworks[id]
	if fw != nil || a.orphans > 0 {
		for _, ag := range a.agentOrder.items {
			if i := ag.find(id); i >= 0 {
				a.dropEntry(ag, i)
			}
		}
	}
	if fw == nil {
		return
	}
	for _, fr := range fw.entries {
		a.dropFwRole(fr)
	}
	delete(a.frameworks, id)
}

// SetFrameworkActive marks a framework connected (it gets offers again) or
// disconnected (it gets none; its allocation still counts). Unknown
// frameworks are ignored.
func (a *Allocator) SetFrameworkActive(id wire.FrameworkID, active bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fw := a.frameworks[id]
	if fw == nil {
		return
	}
	fw.active = active
	for _, fr := range fw.entries {
		a.syncOfferable(fr)
	}
}

// SetRole sets a role's weight and quota limit, creating the role if need
// be. A weight of 0 means the default, 1; a negative or non-finite weight is
// rejected. In quota, each positive scalar caps what the role may hold in
// total (cpus, mem, disk); zero scalars are unlimited and ports are ignored.
// A limit below the role's guarantee is rejected. Errors wrap
// ErrInvalidRole; on error nothing changes. Lowering a limit below what the
// role holds takes nothing back: the role just gets no more offers of that
// resource.
func (a *Allocator) SetRole(name string, weight float64, quota wire.Resources) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidRole)
	}
	if math.IsNaN(weight) || math.IsInf(weight, 0) || weight < 0 {
		return fmt.Errorf("%w: role %q: weight %v must be a finite number ≥ 0", ErrInvalidRole, name, weight)
	}
	if weight == 0 {
		weight = 1
	}
	if err := quota.Validate(); err != nil {
		return fmt.Errorf("%w: role %q: quota: %w", ErrInvalidRole, name, err)
	}
	limit := scalarsOnly(quota)
	if r := a.roles[name]; r != nil {
		if err := checkGuarantee(r.guarantee, limit); err != nil {
			return fmt.Errorf("%w: role %q: %w", ErrInvalidRole, name, err)
		}
	}
	r := a.role(name)
	r.explicit = true
	r.limit = limit
	if r.weight != weight {
		a.roleOrder.remove(r)
		r.weight = weight
		if !a.totalsDirty {
			r.key = a.roleKey(r)
		}
		a.roleOrder.insert(r)
	}
	return nil
}

// SetRoleGuarantee sets the quota guarantee of a role, creating the role if
// need be: while the role holds less than its guarantee it is offered first
// and other roles' offers leave room for it (see the package doc). Zero
// removes the guarantee. It must not exceed the role's limit where one is
// set. Errors wrap ErrInvalidRole; on error nothing changes.
func (a *Allocator) SetRoleGuarantee(name string, guarantee wire.Resources) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if name == "" {
		return fmt.Errorf("%w: empty name", ErrInvalidRole)
	}
	if err := guarantee.Validate(); err != nil {
		return fmt.Errorf("%w: role %q: guarantee: %w", ErrInvalidRole, name, err)
	}
	g := scalarsOnly(guarantee)
	if r := a.roles[name]; r != nil {
		if err := checkGuarantee(g, r.limit); err != nil {
			return fmt.Errorf("%w: role %q: %w", ErrInvalidRole, name, err)
		}
	}
	r := a.role(name)
	r.explicit = true
	if hasScalars(r.guarantee) {
		a.guaranteed--
	}
	r.guarantee = g
	if hasScalars(g) {
		a.guaranteed++
	}
	return nil
}

func checkGuarantee(g, limit wire.Resources) error {
	if (limit.CPUs > 0 && g.CPUs > limit.CPUs) || (limit.MemMB > 0 && g.MemMB > limit.MemMB) ||
		(limit.DiskMB > 0 && g.DiskMB > limit.DiskMB) {
		return fmt.Errorf("guarantee %s exceeds limit %s", g, limit)
	}
	return nil
}
