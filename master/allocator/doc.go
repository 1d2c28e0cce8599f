// Package allocator is Agora's resource allocator: weighted Dominant
// Resource Fairness (DRF) over roles and frameworks, in the manner of Mesos's
// hierarchical allocator.
//
// The allocator is pure bookkeeping. It starts no goroutines, does no I/O
// and reads time only through [Config.Now], so it is deterministic and can
// be driven step by step in unit tests with a fake clock. The master owns the
// event loop: it tells the allocator what happened (agents and frameworks
// coming and going, offers declined, tasks finished) and calls
// [Allocator.Allocate] to turn free resources into offers.
//
// # Concurrency
//
// Every method takes one internal mutex, so an [*Allocator] is safe for
// concurrent use. No method calls back into the caller, so callers may hold
// their own locks while calling it (lock order: caller's lock first).
//
// # Model
//
// Every agent has a total and a ledger: for each framework, what it holds on
// that agent (offered and in use), split by role. Free resources are total
// minus ledger. The ledger never exceeds the total: resources are added to it
// only from what is free ([Allocator.Allocated] and [Allocator.AddAgent]
// clamp, and say so), and [Allocator.Recover] never takes back more than a
// framework holds (it clamps, and says so).
//
// A pass ([Allocator.Allocate]) visits agents in ID order. For each active
// agent with free resources it walks the roles in order of weighted share
// (allocation share / weight, ties by name) and, inside a role, the
// frameworks that may receive offers in order of their share in that role
// (ties by ID), and gives the first one that has not filtered the agent all
// the agent's free resources (an offer), capped by the role's quota limit.
// If a cap left something, the walk starts again for the rest. A share is
// the largest of allocation/cluster-total over cpus, mem and disk; ports are
// handed out with the agent but take no part in shares or quotas. The
// orderings are kept incrementally (a sorted slice per role, updated when one
// framework's allocation changes) and filters are mirrored in a bitset per
// agent, so a pass costs little more than one look per agent: about 10 ms
// for 10,000 free agents and 1,000 frameworks, and a few microseconds for
// one agent (see bench_test.go).
//
// Roles may carry a quota guarantee. While a role holds less than its
// guarantee, a pass first offers to such roles only (stage one, at most the
// missing amount of each guaranteed resource), and every other offer leaves
// enough unallocated resources on active agents to satisfy the outstanding
// guarantees (headroom), as Mesos does since 1.9.
//
// A framework may hold several roles; with none it has role "*". An inactive
// (disconnected) framework, or one that suppressed a role, gets no offers for
// it; an inactive agent gives nothing. [Allocator.Decline] installs a filter:
// the framework gets nothing from that agent, for any of its roles, until
// the clock reaches now+refuse (exactly: at that instant the filter has
// expired). [Allocator.NextFilterExpiry] tells the master when to run a pass
// for the earliest filter.
package allocator
