package allocator

import (
	"cmp"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// DefaultRole is the role of a framework that names none.
const DefaultRole = "*"

// MaxRefuse caps the duration of a filter installed by Decline.
const MaxRefuse = 365 * 24 * time.Hour

// ErrInvalidRole is returned (wrapped) by SetRole and SetRoleGuarantee for an
// empty name, a bad weight or bad resources.
var ErrInvalidRole = errors.New("allocator: invalid role")

// Config configures an Allocator.
type Config struct {
	// MinAllocatable is the smallest bundle worth offering: free resources
	// are offered only if they hold at least every positive scalar of
	// MinAllocatable (cpus AND mem AND disk; ports are ignored). With the
	// zero value any bundle with a positive cpus, mem or disk is offered.
	MinAllocatable wire.Resources
	// Now is the clock used for filters; nil means time.Now.
	Now func() time.Time
}

// Allocation is one offer's worth of resources: everything the allocator
// moved into a framework's ledger on one agent for one role in one pass.
type Allocation struct {
	FrameworkID wire.FrameworkID
	Role        string
	AgentID     wire.AgentID
	Hostname    string
	Resources   wire.Resources
	// Attributes is the agent's attribute map, shared, not copied: treat it
	// as read-only.
	Attributes map[string]string
}

// Allocator is the DRF allocator. Create it with New. All methods are safe
// for concurrent use (one mutex guards the whole state).
type Allocator struct {
	mu  sync.Mutex
	min wire.Resources
	now func() time.Time

	agents     map[wire.AgentID]*agent
	agentOrder sortedList[*agent] // by ID: the order of a pass
	// total sums the totals of all agents (active or not): the denominator
	// of every share. When it changes, totalsDirty is set and the stored
	// sort keys are recomputed before the next pass.
	total       wire.Resources
	totalsDirty bool
	// activeFree sums the free scalars of active agents: the headroom
	// available for quota guarantees.
	activeFree wire.Resources

	frameworks map[wire.FrameworkID]*framework
	roles      map[string]*role
	roleOrder  sortedList[*role] // by weighted share, then name
	guaranteed int               // roles with a non-zero guarantee
	orphans    int               // ledger entries of frameworks not (yet) added

	filters     filterHeap
	liveFilters int
	nextSlot    int      // slots handed out so far
	freeSlots   []int    // slots of dropped fwRoles, for reuse
	offerBits   []uint64 // slots of listed (offerable) fwRoles

	served  []*fwRole    // scratch: who got something from the current agent
	scratch []Allocation // scratch: the allocations of the current pass
}

type agent struct {
	id       wire.AgentID
	hostname string
	attrs    map[string]string
	total    wire.Resources
	used     wire.Resources // sum of the ledger, ports included
	active   bool
	ledger   []ledgerEntry // by value: one allocation fewer per offer
	fbits    []uint64      // slots of the fwRoles that filter this agent
}

// ledgerEntry is what one framework holds on one agent.
type ledgerEntry struct {
	id    wire.FrameworkID
	fw    *framework // nil while the framework is unknown (orphan)
	parts []rolePart
}

// rolePart is the share of a ledger entry held for one role; fr is nil only
// in orphan entries.
type rolePart struct {
	fr  *fwRole
	res wire.Resources
}

type framework struct {
	id      wire.FrameworkID
	active  bool
	entries []*fwRole // one per role, in the order the framework gave them
}

// fwRole is a framework in one of its roles: the unit that receives offers.
type fwRole struct {
	fw         *framework
	role       *role
	alloc      wire.Resources // scalars held in this role, over all agents
	key        float64        // stored share, the sort key in role.offerable
	suppressed bool
	listed     bool // in role.offerable (framework active, role not suppressed)
	removed    bool
	slot       int                    // dense number, for bitsets
	filters    map[wire.AgentID]int64 // expiry in Unix ns; nil when none
}

type role struct {
	name      string
	weight    float64
	limit     wire.Resources // quota limit; zero scalar = unlimited
	guarantee wire.Resources
	explicit  bool // set through SetRole/SetRoleGuarantee: kept without frameworks
	refs      int  // fwRoles of this role
	alloc     wire.Resources
	key       float64 // stored weighted share
	offerable sortedList[*fwRole]
}

func cmpFwRole(a, b *fwRole) int {
	if c := cmp.Compare(a.key, b.key); c != 0 {
		return c
	}
	return cmp.Compare(a.fw.id, b.fw.id)
}

func cmpRole(a, b *role) int {
	if c := cmp.Compare(a.key, b.key); c != 0 {
		return c
	}
	return cmp.Compare(a.name, b.name)
}

func cmpAgent(a, b *agent) int { return cmp.Compare(a.id, b.id) }

// New returns an empty allocator.
func New(cfg Config) *Allocator {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Allocator{
		min:        scalarsOnly(sanitize(cfg.MinAllocatable)),
		now:        now,
		agents:     map[wire.AgentID]*agent{},
		agentOrder: sortedList[*agent]{cmp: cmpAgent},
		frameworks: map[wire.FrameworkID]*framework{},
		roles:      map[string]*role{},
		roleOrder:  sortedList[*role]{cmp: cmpRole},
	}
}

// allocatable reports whether a bundle of free scalars is worth an offer.
func (a *Allocator) allocatable(r wire.Resources) bool {
	return hasScalars(r) && r.CPUs >= a.min.CPUs && r.MemMB >= a.min.MemMB && r.DiskMB >= a.min.DiskMB
}

// freeScalars is total minus used, without ports (no allocation).
func freeScalars(ag *agent) wire.Resources { return subScalars(ag.total, ag.used) }

// free is total minus used, ports included.
func freeOf(ag *agent) wire.Resources {
	f := freeScalars(ag)
	if len(ag.total.Ports) > 0 {
		f.Ports = ag.total.Ports.Minus(ag.used.Ports)
	}
	return f
}

func (a *Allocator) frKey(fr *fwRole) float64 { return share(fr.alloc, a.total) }

func (a *Allocator) roleKey(r *role) float64 { return share(r.alloc, a.total) / r.weight }

// account adds (or, with add false, removes) res to the allocation of fr and
// its role, and moves both to their new places in the orderings.
func (a *Allocator) account(fr *fwRole, res wire.Resources, add bool) {
	r := fr.role
	if add {
		fr.alloc = addScalars(fr.alloc, res)
		r.alloc = addScalars(r.alloc, res)
	} else {
		fr.alloc = subScalars(fr.alloc, scalarsOnly(res))
		r.alloc = subScalars(r.alloc, scalarsOnly(res))
	}
	if a.totalsDirty {
		return // every key is recomputed before the next pass
	}
	if fr.listed {
		r.offerable.remove(fr)
		fr.key = a.frKey(fr)
		r.offerable.insert(fr)
	} else {
		fr.key = a.frKey(fr)
	}
	a.roleOrder.remove(r)
	r.key = a.roleKey(r)
	a.roleOrder.insert(r)
}

// rekey recomputes every stored share after the cluster total changed.
func (a *Allocator) rekey() {
	for _, r := range a.roles {
		r.key = a.roleKey(r)
		for _, fr := range r.offerable.items {
			fr.key = a.frKey(fr)
		}
		r.offerable.resort()
	}
	for _, fw := range a.frameworks {
		for _, fr := range fw.entries {
			if !fr.listed {
				fr.key = a.frKey(fr)
			}
		}
	}
	a.roleOrder.resort()
	a.totalsDirty = false
}

// syncOfferable puts fr into its role's offer order, or takes it out, to
// match its framework's activity and its suppression.
func (a *Allocator) syncOfferable(fr *fwRole) {
	want := fr.fw.active && !fr.suppressed && !fr.removed
	if want == fr.listed {
		return
	}
	if want {
		if !a.totalsDirty {
			fr.key = a.frKey(fr)
		}
		fr.role.offerable.insert(fr)
		setBit(&a.offerBits, fr.slot)
	} else {
		fr.role.offerable.remove(fr)
		clearBit(a.offerBits, fr.slot)
	}
	fr.listed = want
}

// find returns the index of fw's ledger entry on ag, or -1.
func (ag *agent) find(fw wire.FrameworkID) int {
	for i, e := range ag.ledger {
		if e.id == fw {
			return i
		}
	}
	return -1
}

// charge adds res to the ledger of framework id (for fr, nil if unknown) on
// ag. The caller has checked that res is free.
func (a *Allocator) charge(ag *agent, id wire.FrameworkID, fr *fwRole, res wire.Resources) {
	i := ag.find(id)
	if i < 0 {
		fw := a.frameworks[id]
		if fw == nil {
			a.orphans++
		}
		ag.ledger = append(ag.ledger, ledgerEntry{id: id, fw: fw, parts: make([]rolePart, 0, 1)})
		i = len(ag.ledger) - 1
	}
	e := &ag.ledger[i]
	merged := false
	for i := range e.parts {
		if e.parts[i].fr == fr {
			e.parts[i].res = e.parts[i].res.Add(res)
			merged = true
			break
		}
	}
	if !merged {
		e.parts = append(e.parts, rolePart{fr: fr, res: res})
	}
	ag.used = ag.used.Add(res)
	if ag.active {
		a.activeFree = subScalars(a.activeFree, res)
	}
	if fr != nil {
		a.account(fr, res, true)
	}
}

// dropEntry forgets ledger entry i of ag, freeing what it held.
func (a *Allocator) dropEntry(ag *agent, i int) {
	e := &ag.ledger[i]
	for _, p := range e.parts {
		ag.used = ag.used.Sub(p.res)
		if ag.active {
			a.activeFree = addScalars(a.activeFree, p.res)
		}
		if p.fr != nil {
			a.account(p.fr, p.res, false)
		}
	}
	if e.fw == nil {
		a.orphans--
	}
	ag.ledger = slices.Delete(ag.ledger, i, i+1)
}

// role returns the named role, creating it with weight 1 if need be.
func (a *Allocator) role(name string) *role {
	if r := a.roles[name]; r != nil {
		return r
	}
	r := &role{name: name, weight: 1, offerable: sortedList[*fwRole]{cmp: cmpFwRole}}
	a.roles[name] = r
	a.roleOrder.insert(r)
	return r
}

// maybeDropRole forgets an implicit role that no framework holds any more.
func (a *Allocator) maybeDropRole(r *role) {
	if r.refs > 0 || r.explicit {
		return
	}
	a.roleOrder.remove(r)
	delete(a.roles, r.name)
}

// normRoles drops empty and repeated names, keeping the order; no roles
// means the default role.
func normRoles(roles []string) []string {
	out := make([]string, 0, max(1, len(roles)))
	for _, r := range roles {
		if r == "" {
			continue
		}
		dup := false
		for _, o := range out {
			if o == r {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		out = append(out, DefaultRole)
	}
	return out
}
