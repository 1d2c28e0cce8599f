package allocator

import (
	"container/heap"
	"slices"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

// Filters are kept three ways: fr.filters (agent → expiry in Unix
// nanoseconds) is the truth; each agent's bitset marks the slots of the
// fwRoles that filter it, for the inner loop; and a heap orders expiries for
// NextFilterExpiry and expiry at the start of a pass. Because a pass first
// expires everything due, a set bit during a pass means a running filter.

// filterItem is one filter in the expiry heap. The heap is lazy: an item is
// live only while fr.filters[agent] still equals until; replaced and cleared
// filters leave stale items behind, skipped when they reach the top and
// compacted when they outnumber the live ones.
type filterItem struct {
	until int64
	fr    *fwRole
	agent wire.AgentID
}

type filterHeap []filterItem

func (h filterHeap) Len() int           { return len(h) }
func (h filterHeap) Less(i, j int) bool { return h[i].until < h[j].until }
func (h filterHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *filterHeap) Push(x any)        { *h = append(*h, x.(filterItem)) }
func (h *filterHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = filterItem{}
	*h = old[:len(old)-1]
	return x
}

func (it filterItem) live() bool {
	if it.fr.removed || it.fr.filters == nil {
		return false
	}
	u, ok := it.fr.filters[it.agent]
	return ok && u == it.until
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// Decline installs a filter: framework fw gets nothing from agent, in any
// of its roles, until the clock reaches now+refuse. refuse ≤ 0 installs no
// filter (and leaves an existing one alone); refuse is capped at MaxRefuse.
// A filter never shortens an existing one. Filters on an agent survive its
// removal and re-addition. Decline does not recover anything: call Recover
// for the declined resources.
func (a *Allocator) Decline(fw wire.FrameworkID, agent wire.AgentID, refuse time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.frameworks[fw]
	if f == nil || refuse <= 0 {
		return
	}
	refuse = min(refuse, MaxRefuse)
	until := a.now().Add(refuse).UnixNano()
	ag := a.agents[agent]
	for _, fr := range f.entries {
		if fr.filters == nil {
			fr.filters = map[wire.AgentID]int64{}
		}
		old, ok := fr.filters[agent]
		if ok && old >= until {
			continue
		}
		if !ok {
			a.liveFilters++
		}
		fr.filters[agent] = until
		if ag != nil {
			setBit(&ag.fbits, fr.slot)
		}
		heap.Push(&a.filters, filterItem{until: until, fr: fr, agent: agent})
	}
	a.compactFilters()
}

// Revive clears the filters and the suppression of framework fw in the
// roles named (empty: all its roles). Roles it does not hold are ignored.
func (a *Allocator) Revive(fw wire.FrameworkID, roles []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.frameworks[fw]
	if f == nil {
		return
	}
	for _, fr := range f.entries {
		if len(roles) > 0 && !slices.Contains(roles, fr.role.name) {
			continue
		}
		a.clearFilters(fr)
		fr.suppressed = false
		a.syncOfferable(fr)
	}
	a.compactFilters()
}

// clearFilters drops every filter of fr.
func (a *Allocator) clearFilters(fr *fwRole) {
	for id := range fr.filters {
		if ag := a.agents[id]; ag != nil {
			clearBit(ag.fbits, fr.slot)
		}
	}
	a.liveFilters -= len(fr.filters)
	fr.filters = nil
}

// Suppress stops offers to framework fw in the roles named (empty: all its
// roles) until Revive. Filters are kept.
func (a *Allocator) Suppress(fw wire.FrameworkID, roles []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.frameworks[fw]
	if f == nil {
		return
	}
	for _, fr := range f.entries {
		if len(roles) > 0 && !slices.Contains(roles, fr.role.name) {
			continue
		}
		fr.suppressed = true
		a.syncOfferable(fr)
	}
}

// NextFilterExpiry returns the earliest expiry of a filter that has not yet
// been cleared by a pass, and false if there is none. The time may be in the
// past: a pass (Allocate) is then due, and it clears every expired filter.
func (a *Allocator) NextFilterExpiry() (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for len(a.filters) > 0 {
		if top := a.filters[0]; top.live() {
			return fromNanos(top.until), true
		}
		heap.Pop(&a.filters)
	}
	return time.Time{}, false
}

// expireFilters deletes every filter whose time has come.
func (a *Allocator) expireFilters(now int64) {
	for len(a.filters) > 0 && a.filters[0].until <= now {
		it := heap.Pop(&a.filters).(filterItem)
		if !it.live() {
			continue
		}
		delete(it.fr.filters, it.agent)
		if len(it.fr.filters) == 0 {
			it.fr.filters = nil
		}
		if ag := a.agents[it.agent]; ag != nil {
			clearBit(ag.fbits, it.fr.slot)
		}
		a.liveFilters--
	}
}

// compactFilters drops stale heap items once they dominate.
func (a *Allocator) compactFilters() {
	if len(a.filters) <= 2*a.liveFilters+1024 {
		return
	}
	live := a.filters[:0]
	for _, it := range a.filters {
		if it.live() {
			live = append(live, it)
		}
	}
	clear(a.filters[len(live):])
	a.filters = live
	heap.Init(&a.filters)
}

// filteredAt reports whether fr has a filter on agent still running at now
// (Unix nanoseconds), and until when.
func (fr *fwRole) filteredAt(agent wire.AgentID, now int64) (int64, bool) {
	if fr.filters == nil {
		return 0, false
	}
	until, ok := fr.filters[agent]
	return until, ok && now < until
}

// restoreFilterBits marks, on a newly added agent, the filters that
// frameworks already hold on its ID.
func (a *Allocator) restoreFilterBits(ag *agent) {
	if a.liveFilters == 0 {
		return
	}
	for _, fw := range a.frameworks {
		for _, fr := range fw.entries {
			if _, ok := fr.filters[ag.id]; ok {
				setBit(&ag.fbits, fr.slot)
			}
		}
	}
}
