package allocator

import (
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// Interface is what the master asks of an allocator: it reports what
// happened and asks for offers. [Allocator] implements it; the master
// holds an Interface, so another allocation policy can take its place.
type Interface interface {
	// AddAgent adds (or re-adds) an agent with its resources, attributes
	// and what each framework already uses on it.
	AddAgent(id wire.AgentID, hostname string, total wire.Resources, attrs map[string]string, used map[wire.FrameworkID]wire.Resources) bool
	// RemoveAgent forgets an agent.
	RemoveAgent(id wire.AgentID)
	// SetAgentActive stops (false) or resumes offering an agent.
	SetAgentActive(id wire.AgentID, active bool)
	// AddFramework adds a framework in its roles.
	AddFramework(id wire.FrameworkID, roles []string, active bool)
	// RemoveFramework forgets a framework and its filters.
	RemoveFramework(id wire.FrameworkID)
	// SetFrameworkActive stops (false) or resumes offering a framework.
	SetFrameworkActive(id wire.FrameworkID, active bool)
	// SetRole sets a role's weight and quota.
	SetRole(name string, weight float64, quota wire.Resources) error
	// Allocate turns the free resources of the given agents (nil: all)
	// into allocations, in fair order.
	Allocate(agents []wire.AgentID) []Allocation
	// Allocated records resources taken by a framework outside an offer.
	Allocated(agent wire.AgentID, fw wire.FrameworkID, res wire.Resources) bool
	// Recover returns resources a framework no longer holds.
	Recover(agent wire.AgentID, fw wire.FrameworkID, res wire.Resources) bool
	// Decline filters an agent from a framework for refuse.
	Decline(fw wire.FrameworkID, agent wire.AgentID, refuse time.Duration)
	// Revive clears a framework's filters and suppression in roles.
	Revive(fw wire.FrameworkID, roles []string)
	// Suppress stops offers to a framework in roles until it revives.
	Suppress(fw wire.FrameworkID, roles []string)
	// NextFilterExpiry is when the earliest filter ends, if any.
	NextFilterExpiry() (time.Time, bool)
	// Filters lists the running filters of each framework.
	Filters() map[wire.FrameworkID][]FilterStats
	// Explain says why a framework gets no offers ("" when it does).
	Explain(id wire.FrameworkID) string
}

var _ Interface = (*Allocator)(nil)
