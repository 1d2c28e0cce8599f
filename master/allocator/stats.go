package allocator

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// Stats is a snapshot of the allocator's state, for the HTTP API, metrics
// and tests. Lists are sorted by ID or name.
type Stats struct {
	// Total sums the totals of all agents: the denominator of shares.
	Total      wire.Resources   `json:"total"`
	Agents     []AgentStats     `json:"agents"`
	Frameworks []FrameworkStats `json:"frameworks"`
	Roles      []RoleStats      `json:"roles"`
}

// AgentStats is one agent's ledger.
type AgentStats struct {
	ID        wire.AgentID   `json:"id"`
	Hostname  string         `json:"hostname"`
	Active    bool           `json:"active"`
	Total     wire.Resources `json:"total"`
	Allocated wire.Resources `json:"allocated"`
	// Frameworks is what each framework holds here (offered and used),
	// including frameworks the allocator does not know yet.
	Frameworks map[wire.FrameworkID]wire.Resources `json:"frameworks,omitempty"`
}

// FrameworkStats is one framework's state.
type FrameworkStats struct {
	ID         wire.FrameworkID `json:"id"`
	Roles      []string         `json:"roles"`
	Active     bool             `json:"active"`
	Suppressed []string         `json:"suppressed,omitempty"`
	// Allocated sums cpus, mem and disk over all agents and roles (no
	// ports: ports are per agent).
	Allocated wire.Resources `json:"allocated"`
	// Share is the dominant share of Allocated in the cluster total.
	Share   float64       `json:"share"`
	Filters []FilterStats `json:"filters,omitempty"`
}

// FilterStats is one running filter.
type FilterStats struct {
	AgentID wire.AgentID `json:"agent_id"`
	Role    string       `json:"role"`
	Until   time.Time    `json:"until"`
}

// RoleStats is one role's state.
type RoleStats struct {
	Name      string         `json:"name"`
	Weight    float64        `json:"weight"`
	Quota     wire.Resources `json:"quota"`
	Guarantee wire.Resources `json:"guarantee"`
	Allocated wire.Resources `json:"allocated"`
	// Share is the dominant share of Allocated; WeightedShare is Share
	// divided by Weight, the key roles are ordered by.
	Share         float64            `json:"share"`
	WeightedShare float64            `json:"weighted_share"`
	Frameworks    []wire.FrameworkID `json:"frameworks,omitempty"`
}

// Snapshot returns a copy of the allocator's state. It costs time and
// memory proportional to the whole state: use it for APIs, not per event.
func (a *Allocator) Snapshot() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now().UnixNano()
	st := Stats{Total: a.total}
	for _, ag := range a.agentOrder.items {
		as := AgentStats{ID: ag.id, Hostname: ag.hostname, Active: ag.active, Total: ag.total, Allocated: ag.used}
		if len(ag.ledger) > 0 {
			as.Frameworks = make(map[wire.FrameworkID]wire.Resources, len(ag.ledger))
			for _, e := range ag.ledger {
				var sum wire.Resources
				for _, p := range e.parts {
					sum = sum.Add(p.res)
				}
				as.Frameworks[e.id] = sum
			}
		}
		st.Agents = append(st.Agents, as)
	}
	roleFws := map[string][]wire.FrameworkID{}
	for _, fw := range a.frameworks {
		fs := FrameworkStats{ID: fw.id, Roles: fw.roleNames(), Active: fw.active}
		for _, fr := range fw.entries {
			roleFws[fr.role.name] = append(roleFws[fr.role.name], fw.id)
			fs.Allocated = addScalars(fs.Allocated, fr.alloc)
			if fr.suppressed {
				fs.Suppressed = append(fs.Suppressed, fr.role.name)
			}
		}
		fs.Filters = fw.filterStats(now)
		fs.Share = share(fs.Allocated, a.total)
		st.Frameworks = append(st.Frameworks, fs)
	}
	slices.SortFunc(st.Frameworks, func(x, y FrameworkStats) int { return strings.Compare(string(x.ID), string(y.ID)) })
	for _, r := range a.roles {
		fws := roleFws[r.name]
		slices.Sort(fws)
		sh := share(r.alloc, a.total)
		st.Roles = append(st.Roles, RoleStats{
			Name: r.name, Weight: r.weight, Quota: r.limit, Guarantee: r.guarantee, Allocated: r.alloc,
			Share: sh, WeightedShare: sh / r.weight, Frameworks: fws,
		})
	}
	slices.SortFunc(st.Roles, func(x, y RoleStats) int { return strings.Compare(x.Name, y.Name) })
	return st
}

// Filters returns each framework's running filters, sorted by agent and
// role (frameworks without filters are absent). It walks every framework's
// filters, not the agents.
func (a *Allocator) Filters() map[wire.FrameworkID][]FilterStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now().UnixNano()
	out := map[wire.FrameworkID][]FilterStats{}
	for _, fw := range a.frameworks {
		if fs := fw.filterStats(now); len(fs) > 0 {
			out[fw.id] = fs
		}
	}
	return out
}

// filterStats lists a framework's running filters, sorted. a.mu is held.
func (fw *framework) filterStats(now int64) []FilterStats {
	var out []FilterStats
	for _, fr := range fw.entries {
		for agent, until := range fr.filters {
			if now < until {
				out = append(out, FilterStats{AgentID: agent, Role: fr.role.name, Until: fromNanos(until)})
			}
		}
	}
	slices.SortFunc(out, func(x, y FilterStats) int {
		if c := strings.Compare(string(x.AgentID), string(y.AgentID)); c != 0 {
			return c
		}
		return strings.Compare(x.Role, y.Role)
	})
	return out
}

// Explain says, for an operator, why a framework may be getting no offers
// now. Reasons are joined with "; ". It walks every agent: use it for
// debugging endpoints, not per event.
func (a *Allocator) Explain(id wire.FrameworkID) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	fw := a.frameworks[id]
	if fw == nil {
		return "unknown framework"
	}
	if !fw.active {
		return "inactive (disconnected)"
	}
	now := a.now().UnixNano()
	var reasons, suppressed []string
	var open []*fwRole // roles that may receive offers
	for _, fr := range fw.entries {
		if fr.suppressed {
			suppressed = append(suppressed, fr.role.name)
			continue
		}
		r := fr.role
		if hasScalars(r.limit) {
			h := headroom(r.limit, r.alloc)
			var full wire.Resources
			if r.limit.CPUs > 0 && h.CPUs <= 0 {
				full.CPUs = 1
			}
			if r.limit.MemMB > 0 && h.MemMB <= 0 {
				full.MemMB = 1
			}
			if r.limit.DiskMB > 0 && h.DiskMB <= 0 {
				full.DiskMB = 1
			}
			if hasScalars(full) {
				reasons = append(reasons, fmt.Sprintf("quota limit reached for role %s (%s)", r.name, strings.Join(scalarNames(full), ",")))
			}
			if !a.allocatable(minScalars(h, wire.Resources{CPUs: 1e300, MemMB: 1e300, DiskMB: 1e300})) {
				if !hasScalars(full) {
					// No agent can match this role: what its quota leaves is
					// less than the smallest offer.
					reasons = append(reasons, fmt.Sprintf("no matching role: the quota headroom of role %s (%s) is below the minimum allocatable (%s)", r.name, h, a.min))
				}
				continue
			}
		}
		open = append(open, fr)
	}
	if len(suppressed) > 0 {
		reasons = append([]string{fmt.Sprintf("suppressed for roles %v", suppressed)}, reasons...)
	}
	if len(open) == 0 {
		return strings.Join(reasons, "; ")
	}
	var free, filtered, inactive int
	var last int64
	for _, ag := range a.agentOrder.items {
		if !ag.active {
			inactive++
			continue
		}
		if !a.allocatable(freeScalars(ag)) {
			continue
		}
		free++
		all := true
		var until int64
		for _, fr := range open {
			u, ok := fr.filteredAt(ag.id, now)
			if !ok {
				all = false
				break
			}
			until = max(until, u)
		}
		if all {
			filtered++
			last = max(last, until)
		}
	}
	switch {
	case free == 0:
		msg := "no free resources"
		if inactive > 0 {
			msg += fmt.Sprintf(" (%d agents inactive)", inactive)
		}
		reasons = append(reasons, msg)
	default:
		if filtered > 0 {
			reasons = append(reasons, fmt.Sprintf("filtered on %d agents until %s", filtered, fromNanos(last).Format(time.RFC3339)))
		}
		if filtered < free {
			reasons = append(reasons, fmt.Sprintf("%d agents have free resources it may be offered at the next allocation pass, unless frameworks with a lower share come first", free-filtered))
		}
	}
	if req := a.requiredHeadroom(); hasScalars(req) {
		reasons = append(reasons, fmt.Sprintf("%s held back for quota guarantees", req))
	}
	return strings.Join(reasons, "; ")
}
