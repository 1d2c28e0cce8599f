package allocator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

func TestFilterExpiresExactly(t *testing.T) {
	a, clk := newTest(t, "")
	a.AddFramework("f", nil, true)
	a.AddAgent("a1", "h", res(t, "cpus:1;mem:1"), nil, nil)
	al := a.Allocate(nil)
	if len(al) != 1 {
		t.Fatalf("allocs = %+v", al)
	}
	t0 := clk.Now()
	a.Recover("a1", "f", al[0].Resources)
	a.Decline("f", "a1", 10*time.Second)
	if next, ok := a.NextFilterExpiry(); !ok || !next.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("NextFilterExpiry = %v %v, want %v", next, ok, t0.Add(10*time.Second))
	}
	if got := a.Allocate(nil); len(got) != 0 {
		t.Fatalf("filtered agent offered: %+v", got)
	}
	if why := a.Explain("f"); !strings.Contains(why, "filtered on 1 agents until") {
		t.Errorf("Explain = %q", why)
	}
	clk.Advance(10*time.Second - time.Nanosecond)
	if got := a.Allocate(nil); len(got) != 0 {
		t.Fatalf("offered 1ns before the filter expired: %+v", got)
	}
	clk.Advance(time.Nanosecond)
	if got := a.Allocate(nil); len(got) != 1 {
		t.Fatalf("not offered when the filter expired: %+v", got)
	}
	if _, ok := a.NextFilterExpiry(); ok {
		t.Error("expired filter still reported")
	}
	mustInvariants(t, a)
}

func TestDeclineEdgeCases(t *testing.T) {
	a, clk := newTest(t, "")
	a.AddFramework("f", nil, true)
	a.AddAgent("a1", "h", res(t, "cpus:1;mem:1"), nil, nil)
	a.Decline("f", "a1", 0)
	if _, ok := a.NextFilterExpiry(); ok {
		t.Error("refuse 0 installed a filter")
	}
	a.Decline("f", "a1", 1000*24*time.Hour)
	if next, _ := a.NextFilterExpiry(); !next.Equal(clk.Now().Add(MaxRefuse)) {
		t.Errorf("filter until %v, want capped at %v", next, clk.Now().Add(MaxRefuse))
	}
	// A shorter filter does not shorten the longer one.
	a.Decline("f", "a1", time.Second)
	clk.Advance(time.Minute)
	if got := a.Allocate(nil); len(got) != 0 {
		t.Errorf("offered under the long filter: %+v", got)
	}
	a.Decline("nobody", "a1", time.Second) // ignored
	mustInvariants(t, a)
}

func TestNextFilterExpiryOrder(t *testing.T) {
	a, clk := newTest(t, "")
	a.AddFramework("f", nil, true)
	a.AddFramework("g", nil, true)
	t0 := clk.Now()
	a.Decline("f", "a1", 30*time.Second)
	a.Decline("g", "a2", 10*time.Second)
	a.Decline("f", "a3", 20*time.Second)
	for _, want := range []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second} {
		next, ok := a.NextFilterExpiry()
		if !ok || !next.Equal(t0.Add(want)) {
			t.Fatalf("NextFilterExpiry = %v %v, want t0+%v", next, ok, want)
		}
		// Not yet cleared until a pass runs: still reported.
		clk.t = next
		if again, _ := a.NextFilterExpiry(); !again.Equal(next) {
			t.Fatalf("expired-but-uncleared filter not reported")
		}
		a.Allocate(nil)
	}
	if _, ok := a.NextFilterExpiry(); ok {
		t.Error("filters left after all expired")
	}
	// Revive drops filters from the schedule.
	a.Decline("f", "a1", time.Hour)
	a.Revive("f", nil)
	if _, ok := a.NextFilterExpiry(); ok {
		t.Error("revived filter still scheduled")
	}
	mustInvariants(t, a)
}

func TestReviveClearsFiltersAndSuppression(t *testing.T) {
	a, _ := newTest(t, "")
	a.AddFramework("f", []string{"r1", "r2"}, true)
	a.AddAgent("a1", "h", res(t, "cpus:1;mem:1"), nil, nil)
	a.Decline("f", "a1", time.Hour)
	a.Suppress("f", []string{"r2"})
	if got := a.Allocate(nil); len(got) != 0 {
		t.Fatalf("allocs = %+v", got)
	}
	// Revive r2 only: its filter and suppression are gone; r1 stays filtered.
	a.Revive("f", []string{"r2"})
	got := a.Allocate(nil)
	if len(got) != 1 || got[0].Role != "r2" {
		t.Fatalf("allocs = %+v, want one for r2", got)
	}
	a.Recover("a1", "f", got[0].Resources)
	a.Suppress("f", []string{"r2"})
	if got := a.Allocate(nil); len(got) != 0 {
		t.Fatalf("r1 still filtered, r2 suppressed, but got %+v", got)
	}
	a.Revive("f", nil)
	if got := a.Allocate(nil); len(got) != 1 || got[0].Role != "r1" {
		t.Fatalf("after full revive allocs = %+v, want r1 (ties by name)", got)
	}
	mustInvariants(t, a)
}

func TestSuppressStopsOnlyThatRole(t *testing.T) {
	a, _ := newTest(t, "")
	a.AddFramework("f", []string{"r1", "r2"}, true)
	a.Suppress("f", []string{"r1"})
	for i := range 4 {
		a.AddAgent(wire.AgentID(fmt.Sprintf("a%d", i)), "h", res(t, "cpus:1;mem:1"), nil, nil)
	}
	for _, al := range a.Allocate(nil) {
		if al.Role != "r2" {
			t.Errorf("offer for suppressed role: %+v", al)
		}
	}
	if why := a.Explain("f"); !strings.Contains(why, "suppressed for roles [r1]") {
		t.Errorf("Explain = %q", why)
	}
	a.Suppress("f", nil)
	if why := a.Explain("f"); why != "suppressed for roles [r1 r2]" {
		t.Errorf("Explain = %q", why)
	}
	mustInvariants(t, a)
}

func TestFiltersSurviveAgentReregistration(t *testing.T) {
	a, clk := newTest(t, "")
	a.AddFramework("f", nil, true)
	a.AddFramework("g", nil, false)
	a.AddAgent("a1", "h", res(t, "cpus:1;mem:1"), nil, nil)
	a.Decline("f", "a1", time.Minute)
	a.RemoveAgent("a1")
	a.AddAgent("a1", "h", res(t, "cpus:1;mem:1"), nil, nil)
	mustInvariants(t, a)
	if got := a.Allocate([]wire.AgentID{}); len(got) != 0 {
		t.Fatalf("re-registered agent offered despite the filter: %+v", got)
	}
	clk.Advance(time.Minute)
	if got := a.Allocate(nil); len(got) != 1 {
		t.Fatalf("allocs = %+v", got)
	}
	mustInvariants(t, a)
}

func TestSlotsReusedWithoutStaleFilters(t *testing.T) {
	a, _ := newTest(t, "")
	a.AddAgent("a1", "h", res(t, "cpus:1;mem:1"), nil, nil)
	a.AddFramework("old", nil, true)
	a.Decline("old", "a1", time.Hour)
	a.RemoveFramework("old")
	a.AddFramework("new", nil, true) // takes the freed slot
	mustInvariants(t, a)
	if got := a.Allocate(nil); len(got) != 1 || got[0].FrameworkID != "new" {
		t.Fatalf("allocs = %+v: the new framework inherited a filter", got)
	}
}
