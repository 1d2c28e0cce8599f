package controller

import (
	"maps"
	"testing"

	"github.com/agora-cluster/agora/sdk/wire"
)

// rackOffer is an offer with room for one instance (1 cpu) on a host in
// rack.
func rackOffer(host, rack string) wire.Offer {
	return offer(host, "cpus:1;mem:1024", "rack", rack)
}

// racks counts the app's active instances per rack.
func (h *harness) racks(app string) map[string]int {
	h.t.Helper()
	out := map[string]int{}
	for _, tk := range h.app(app).Tasks {
		if tk.active() {
			out[tk.Attributes["rack"]]++
		}
	}
	return out
}

// TestPlacementCluster: rack:CLUSTER puts every instance in the rack of
// the first one placed, within an offer round and across rounds (a
// replacement too), and says why other racks' offers are refused;
// rack:CLUSTER:r2 names the rack.
func TestPlacementCluster(t *testing.T) {
	h := newHarness(t)
	h.deploy("id: cl\ncmd: x\ninstances: 3\nresources: {cpus: 1, mem: 64}\nconstraints: [rack:CLUSTER]\n")
	// Offers are taken in hostname order: a1 decides the rack.
	got := h.offers(rackOffer("a1", "r1"), rackOffer("a2", "r2"), rackOffer("a3", "r1"))
	if len(got) != 2 {
		t.Fatalf("launched %d, want 2 (a1 and a3, rack r1)", len(got))
	}
	mustContain(t, h.app("cl").Waiting, `a2: constraint rack:CLUSTER: rack is "r2", want "r1"`)
	h.running(ids(got)...)
	// Next round: the rack of the instances placed before still decides.
	got = h.offers(rackOffer("b1", "r2"), rackOffer("b2", "r3"), rackOffer("b3", "r1"))
	if len(got) != 1 || got[0].AgentID != "agent-b3" {
		t.Fatalf("launched %v, want one on b3 (rack r1)", ids(got))
	}
	h.running(got[0].TaskID)
	if r := h.racks("cl"); !maps.Equal(r, map[string]int{"r1": 3}) {
		t.Fatalf("racks %v, want all 3 in r1", r)
	}
	// A failed instance is replaced in the same rack.
	h.update(got[0].TaskID, wire.TaskFailed)
	h.advance(h.app("cl").Backoff.Until.Sub(h.now))
	got = h.offers(rackOffer("c1", "r2"), rackOffer("c2", "r1"))
	if len(got) != 1 || got[0].AgentID != "agent-c2" {
		t.Fatalf("replacement launched %v, want one on c2 (rack r1)", ids(got))
	}

	h.deploy("id: named\ncmd: x\ninstances: 2\nresources: {cpus: 1, mem: 64}\nconstraints: [rack:CLUSTER:r2]\n")
	got = h.offers(rackOffer("d1", "r1"), rackOffer("d2", "r2"))
	if len(got) != 1 || got[0].AgentID != "agent-d2" {
		t.Fatalf("launched %v, want one on d2 (rack r2)", ids(got))
	}
	mustContain(t, h.app("named").Waiting, `d1: constraint rack:CLUSTER:r2: rack is "r1", want "r2"`)
	if got = h.offers(rackOffer("d0", "r1"), rackOffer("d3", "r2")); len(got) != 1 || got[0].AgentID != "agent-d3" {
		t.Fatalf("launched %v, want one on d3 (rack r2)", ids(got))
	}
}

// TestPlacementGroupBy: rack:GROUP_BY:3 uses a rack twice only once 3
// racks are used, and then only the rack with the fewest instances, so 6
// instances end up 2 per rack however the offers come — a replacement
// too.
func TestPlacementGroupBy(t *testing.T) {
	h := newHarness(t)
	h.deploy("id: gb\ncmd: x\ninstances: 6\nresources: {cpus: 1, mem: 64}\nconstraints: [rack:GROUP_BY:3]\n")
	// Only rack r1 offers: one instance, not three.
	got := h.offers(rackOffer("a1", "r1"), rackOffer("a2", "r1"), rackOffer("a3", "r1"))
	if len(got) != 1 {
		t.Fatalf("launched %d with only rack r1 offered, want 1", len(got))
	}
	mustContain(t, h.app("gb").Waiting, `constraint rack:GROUP_BY:3: rack "r1" already runs 1 instance(s) and only 1 of 3 groups are used`)
	h.running(ids(got)...)
	// Every rack offers, r1 most: the instances spread evenly.
	for round := 0; round < 3 && len(h.live) < 6; round++ {
		got = h.offers(rackOffer("a2", "r1"), rackOffer("a3", "r1"), rackOffer("a4", "r1"),
			rackOffer("b1", "r2"), rackOffer("c1", "r3"))
		h.running(ids(got)...)
		r := h.racks("gb")
		if n := r["r1"]; n > r["r2"]+1 || n > r["r3"]+1 {
			t.Fatalf("round %d: racks %v are uneven", round, r)
		}
	}
	if r := h.racks("gb"); !maps.Equal(r, map[string]int{"r1": 2, "r2": 2, "r3": 2}) {
		t.Fatalf("racks %v, want 2 each", r)
	}
	// An instance in r2 fails: only r2 may take its replacement.
	var victim wire.TaskID
	for _, tk := range h.app("gb").Tasks {
		if tk.Attributes["rack"] == "r2" {
			victim = tk.ID
		}
	}
	h.update(victim, wire.TaskFailed)
	h.advance(h.app("gb").Backoff.Until.Sub(h.now))
	if got := h.offers(rackOffer("a5", "r1"), rackOffer("c2", "r3")); len(got) != 0 {
		t.Fatalf("replacement launched outside r2: %v", ids(got))
	}
	mustContain(t, h.app("gb").Waiting, "more than the smallest group (1)")
	if got := h.offers(rackOffer("b2", "r2")); len(got) != 1 {
		t.Fatalf("no replacement in r2: %v", ids(got))
	}
	if r := h.racks("gb"); !maps.Equal(r, map[string]int{"r1": 2, "r2": 2, "r3": 2}) {
		t.Fatalf("racks after the replacement %v, want 2 each", r)
	}
}
