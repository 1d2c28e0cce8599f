package sdk

import (
	"math/rand/v2"
	"sort"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// Strategy chooses how [Pack] spreads tasks over offers.
type Strategy int

const (
	// FirstFit fills each offer before using the next: fewer agents, more
	// tasks on each.
	FirstFit Strategy = iota
	// Spread places each task on the offer with the most room left, so
	// tasks land on as many agents as possible.
	Spread
)

// Placement is the tasks packed into one offer.
type Placement struct {
	Offer wire.Offer      // the offer to accept
	Tasks []wire.TaskInfo // placed on the offer's agent, with ports picked from it
}

// Fits, if set on [PackOptions], vetoes placing a task on an offer (for
// example a constraint check); placed is what this Pack call has put on
// the offer's agent so far.
type Fits func(t *TaskBuilder, o wire.Offer, placed []wire.TaskInfo) bool

// PackOptions tune [Pack].
type PackOptions struct {
	Strategy Strategy // FirstFit (the zero value) or Spread
	Fits     Fits     // nil: any offer with room will do
}

// Pack places tasks into offers and returns the placements (only offers
// that received tasks) and the tasks that fit nowhere, in their original
// order. Ports are picked from each offer's ranges. Pack does not call
// the master: launch each placement with [Driver.Launch] and decline the
// offers it did not use.
func Pack(offers []wire.Offer, tasks []*TaskBuilder, opt PackOptions) ([]Placement, []*TaskBuilder) {
	type slot struct {
		offer  wire.Offer
		left   wire.Resources
		placed []wire.TaskInfo
	}
	slots := make([]*slot, len(offers))
	for i, o := range offers {
		slots[i] = &slot{offer: o, left: o.Resources}
	}
	var unplaced []*TaskBuilder
	for _, t := range tasks {
		need, nports := t.Needs()
		order := slots
		if opt.Strategy == Spread {
			order = append([]*slot(nil), slots...)
			sort.SliceStable(order, func(i, j int) bool {
				return room(order[i].left, need) > room(order[j].left, need)
			})
		}
		placed := false
		for _, s := range order {
			if !s.left.Contains(need) || s.left.Ports.Count() < uint64(nports) {
				continue
			}
			if opt.Fits != nil && !opt.Fits(t, s.offer, s.placed) {
				continue
			}
			ports, err := s.left.Ports.Take(nports)
			if err != nil {
				continue
			}
			info := t.On(s.offer.AgentID, ports)
			s.left = s.left.Sub(info.Resources)
			s.placed = append(s.placed, info)
			placed = true
			break
		}
		if !placed {
			unplaced = append(unplaced, t)
		}
	}
	var out []Placement
	for _, s := range slots {
		if len(s.placed) > 0 {
			out = append(out, Placement{Offer: s.offer, Tasks: s.placed})
		}
	}
	return out, unplaced
}

// room is how many more tasks of shape need fit into left (by the
// scarcest of cpus and mem), the measure Spread balances.
func room(left, need wire.Resources) float64 {
	r := 1e18
	if need.CPUs > 0 {
		r = min(r, left.CPUs/need.CPUs)
	}
	if need.MemMB > 0 {
		r = min(r, left.MemMB/need.MemMB)
	}
	if r == 1e18 {
		return left.CPUs + left.MemMB
	}
	return r
}

// RefuseJitter returns decline filters of base seconds plus up to
// jitter·base at random, so that many frameworks (or many declines of one)
// do not all get their resources back at the same instant — the cause of
// Mesos's revive storms.
func RefuseJitter(base time.Duration, jitter float64) wire.Filters {
	s := base.Seconds() * (1 + jitter*rand.Float64())
	return wire.Filters{RefuseSeconds: &s}
}
