package allocator

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/wire"
)

func TestWholeAgentIsOffered(t *testing.T) {
	a, _ := newTest(t, "")
	attrs := map[string]string{"rack": "r1"}
	a.AddAgent("a1", "host1", res(t, "cpus:4;mem:1024;disk:100;ports:[31000-31009]"), attrs, nil)
	a.AddFramework("f1", nil, true)
	allocs := a.Allocate(nil)
	if len(allocs) != 1 {
		t.Fatalf("allocs = %+v, want one", allocs)
	}
	al := allocs[0]
	if al.FrameworkID != "f1" || al.Role != DefaultRole || al.AgentID != "a1" || al.Hostname != "host1" || al.Attributes["rack"] != "r1" {
		t.Errorf("allocation = %+v", al)
	}
	if !al.Resources.Equal(res(t, "cpus:4;mem:1024;disk:100;ports:[31000-31009]")) {
		t.Errorf("resources = %s", al.Resources)
	}
	if free, ok := a.Free("a1"); !ok || !free.IsZero() {
		t.Errorf("free after offer = %s %v, want nothing", free, ok)
	}
	if again := a.Allocate(nil); len(again) != 0 {
		t.Errorf("second pass allocated %+v", again)
	}
	// Part of it comes back (an accept that used 1 cpu and 2 ports).
	used := res(t, "cpus:1;mem:128;ports:[31000-31001]")
	if !a.Recover("a1", "f1", al.Resources.Sub(used)) {
		t.Fatal("recover of the unused part failed")
	}
	if free, _ := a.Free("a1"); !free.Equal(res(t, "cpus:3;mem:896;disk:100;ports:[31002-31009]")) {
		t.Errorf("free = %s", free)
	}
	mustInvariants(t, a)
}

func TestDRFOrdering(t *testing.T) {
	a, _ := newTest(t, "")
	for i := range 3 {
		a.AddAgent(wire.AgentID(fmt.Sprintf("a%d", i)), "h", res(t, "cpus:10;mem:100"), nil, nil)
	}
	a.AddFramework("big", nil, true)
	a.AddFramework("small", nil, true)
	// big already runs a task on a0 (5 cpus: share 5/30).
	if !a.Allocated("a0", "big", res(t, "cpus:5;mem:10")) {
		t.Fatal("Allocated failed")
	}
	allocs := a.Allocate([]wire.AgentID{"a0"})
	// a0's rest goes to small (share 0 < 5/30).
	if len(allocs) != 1 || allocs[0].FrameworkID != "small" || !allocs[0].Resources.Equal(res(t, "cpus:5;mem:90")) {
		t.Fatalf("allocs = %+v", allocs)
	}
	// Now small has max(5/30, 90/300)=0.3, big max(5/30,10/300)=1/6: big gets a1,
	// then big has 15/30=0.5 > 0.3: small gets a2.
	allocs = a.Allocate(nil)
	if len(allocs) != 2 || allocs[0].AgentID != "a1" || allocs[0].FrameworkID != "big" ||
		allocs[1].AgentID != "a2" || allocs[1].FrameworkID != "small" {
		t.Fatalf("allocs = %+v", allocs)
	}
	mustInvariants(t, a)
}

func TestTiesBrokenByID(t *testing.T) {
	a, _ := newTest(t, "")
	a.AddFramework("fb", nil, true)
	a.AddFramework("fa", nil, true)
	a.AddAgent("x", "h", res(t, "cpus:1;mem:1"), nil, nil)
	if allocs := a.Allocate(nil); len(allocs) != 1 || allocs[0].FrameworkID != "fa" {
		t.Fatalf("allocs = %+v, want fa first", allocs)
	}
}

func TestWeights(t *testing.T) {
	a, _ := newTest(t, "")
	if err := a.SetRole("heavy", 2, wire.Resources{}); err != nil {
		t.Fatal(err)
	}
	a.AddFramework("f-heavy", []string{"heavy"}, true)
	a.AddFramework("f-light", []string{"light"}, true)
	for i := range 30 {
		a.AddAgent(wire.AgentID(fmt.Sprintf("a%02d", i)), "h", res(t, "cpus:1;mem:10"), nil, nil)
	}
	got := map[string]int{}
	for _, al := range a.Allocate(nil) {
		got[al.Role]++
	}
	if got["heavy"] != 20 || got["light"] != 10 {
		t.Fatalf("agents per role = %v, want heavy 20, light 10", got)
	}
	st := a.Snapshot()
	for _, r := range st.Roles {
		if r.WeightedShare < 0.33 || r.WeightedShare > 0.34 {
			t.Errorf("role %s weighted share %v, want 1/3", r.Name, r.WeightedShare)
		}
	}
	mustInvariants(t, a)
}

func TestSetRoleRejectsBadInput(t *testing.T) {
	a, _ := newTest(t, "")
	for _, tc := range []struct {
		name   string
		weight float64
		quota  wire.Resources
	}{
		{"", 1, wire.Resources{}},
		{"r", -1, wire.Resources{}},
		{"r", 1, wire.Resources{CPUs: -2}},
	} {
		if err := a.SetRole(tc.name, tc.weight, tc.quota); !errors.Is(err, ErrInvalidRole) {
			t.Errorf("SetRole(%q, %v, %v) = %v, want ErrInvalidRole", tc.name, tc.weight, tc.quota, err)
		}
	}
	if err := a.SetRole("r", 1, wire.Resources{CPUs: 2}); err != nil {
		t.Fatal(err)
	}
	if err := a.SetRoleGuarantee("r", wire.Resources{CPUs: 3}); !errors.Is(err, ErrInvalidRole) {
		t.Errorf("guarantee above limit: err = %v", err)
	}
	if err := a.SetRoleGuarantee("r", wire.Resources{CPUs: 1}); err != nil {
		t.Fatal(err)
	}
	if err := a.SetRole("r", 1, wire.Resources{CPUs: 0.5}); !errors.Is(err, ErrInvalidRole) {
		t.Errorf("limit below guarantee: err = %v", err)
	}
	if len(a.Snapshot().Roles) != 1 {
		t.Errorf("rejected calls created roles: %+v", a.Snapshot().Roles)
	}
	mustInvariants(t, a)
}

func TestQuotaLimitCapsOffers(t *testing.T) {
	a, _ := newTest(t, "cpus:0.01")
	if err := a.SetRole("capped", 1, res(t, "cpus:4")); err != nil {
		t.Fatal(err)
	}
	a.AddFramework("fc", []string{"capped"}, true)
	a.AddFramework("fo", []string{"other"}, true)
	a.AddAgent("a1", "h", res(t, "cpus:8;mem:1024"), nil, nil)
	allocs := a.Allocate(nil)
	// capped (sorted first by name on a tie) gets 4 cpus and all the mem;
	// the leftover 4 cpus go to the other role.
	if len(allocs) != 2 {
		t.Fatalf("allocs = %+v", allocs)
	}
	if allocs[0].FrameworkID != "fc" || !allocs[0].Resources.Equal(res(t, "cpus:4;mem:1024")) {
		t.Errorf("capped allocation = %+v", allocs[0])
	}
	if allocs[1].FrameworkID != "fo" || !allocs[1].Resources.Equal(res(t, "cpus:4")) {
		t.Errorf("leftover allocation = %+v", allocs[1])
	}
	// Another agent: capped is at its limit (no cpus left) and gets nothing.
	a.AddAgent("a2", "h", res(t, "cpus:8;mem:1024"), nil, nil)
	allocs = a.Allocate(nil)
	if len(allocs) != 1 || allocs[0].FrameworkID != "fo" {
		t.Fatalf("allocs = %+v, want all of a2 to fo", allocs)
	}
	if why := a.Explain("fc"); !strings.Contains(why, "quota limit reached for role capped (cpus)") {
		t.Errorf("Explain = %q", why)
	}
	mustInvariants(t, a)
}

// TestExplainQuotaBelowMinimum: a role whose quota leaves less than the
// minimum allocatable can never be offered anything, and Explain says so.
func TestExplainQuotaBelowMinimum(t *testing.T) {
	a, _ := newTest(t, "cpus:0.1;mem:32")
	if err := a.SetRole("tiny", 1, res(t, "cpus:0.05")); err != nil {
		t.Fatal(err)
	}
	a.AddFramework("ft", []string{"tiny"}, true)
	a.AddAgent("a1", "h", res(t, "cpus:8;mem:1024"), nil, nil)
	if allocs := a.Allocate(nil); len(allocs) != 0 {
		t.Fatalf("allocs = %+v, want none", allocs)
	}
	if why := a.Explain("ft"); !strings.Contains(why, "no matching role") || !strings.Contains(why, "tiny") {
		t.Errorf("Explain = %q", why)
	}
	mustInvariants(t, a)
}

func TestMinAllocatable(t *testing.T) {
	a, _ := newTest(t, "cpus:0.1;mem:32")
	a.AddFramework("f", nil, true)
	a.AddAgent("a1", "h", res(t, "cpus:1;mem:1024"), nil, nil)
	a.AddAgent("a2", "h", res(t, "cpus:1;mem:1024"), nil, nil)
	a.Allocated("a1", "other", res(t, "cpus:0.95;mem:10"))  // 0.05 cpus left
	a.Allocated("a2", "other", res(t, "cpus:0.5;mem:1000")) // 24 MB left
	if allocs := a.Allocate(nil); len(allocs) != 0 {
		t.Fatalf("allocated below the minimum: %+v", allocs)
	}
	a.Recover("a1", "other", res(t, "cpus:0.05"))
	allocs := a.Allocate(nil)
	if len(allocs) != 1 || allocs[0].AgentID != "a1" || !allocs[0].Resources.Equal(res(t, "cpus:0.1;mem:1014")) {
		t.Fatalf("allocs = %+v", allocs)
	}
	mustInvariants(t, a)
}

func TestInactiveFrameworkAndAgent(t *testing.T) {
	a, _ := newTest(t, "")
	a.AddFramework("off", nil, false)
	a.AddAgent("a1", "h", res(t, "cpus:1;mem:1"), nil, nil)
	if got := a.Allocate(nil); len(got) != 0 {
		t.Fatalf("inactive framework got %+v", got)
	}
	if why := a.Explain("off"); why != "inactive (disconnected)" {
		t.Errorf("Explain = %q", why)
	}
	a.SetFrameworkActive("off", true)
	a.SetAgentActive("a1", false)
	if got := a.Allocate(nil); len(got) != 0 {
		t.Fatalf("inactive agent gave %+v", got)
	}
	if why := a.Explain("off"); why != "no free resources (1 agents inactive)" {
		t.Errorf("Explain = %q", why)
	}
	a.SetAgentActive("a1", true)
	if got := a.Allocate(nil); len(got) != 1 {
		t.Fatalf("allocs = %+v", got)
	}
	a.SetFrameworkActive("off", false)
	a.SetAgentActive("a1", false)
	mustInvariants(t, a)
	if st := a.Snapshot(); st.Frameworks[0].Allocated.CPUs != 1 {
		t.Errorf("deactivation dropped the allocation: %+v", st.Frameworks[0])
	}
	if why := a.Explain("ghost"); why != "unknown framework" {
		t.Errorf("Explain = %q", why)
	}
}

func TestRemoveFrameworkFreesLedger(t *testing.T) {
	a, _ := newTest(t, "")
	a.AddFramework("f", nil, true)
	a.AddFramework("g", nil, true)
	a.AddAgent("a1", "h", res(t, "cpus:2;mem:2;ports:[1-10]"), nil, nil)
	if got := a.Allocate(nil); len(got) != 1 || got[0].FrameworkID != "f" {
		t.Fatalf("allocs = %+v", got)
	}
	a.Decline("f", "a1", time.Hour)
	a.RemoveFramework("f")
	mustInvariants(t, a)
	if free, _ := a.Free("a1"); !free.Equal(res(t, "cpus:2;mem:2;ports:[1-10]")) {
		t.Fatalf("free after removal = %s", free)
	}
	got := a.Allocate(nil)
	if len(got) != 1 || got[0].FrameworkID != "g" {
		t.Fatalf("allocs = %+v, want all to g", got)
	}
	if _, ok := a.NextFilterExpiry(); ok {
		t.Error("removed framework's filter still scheduled")
	}
	if a.Recover("a1", "f", res(t, "cpus:1")) {
		t.Error("recover for a removed framework reported success")
	}
	for _, r := range a.Snapshot().Roles {
		if r.Name == DefaultRole && len(r.Frameworks) != 1 {
			t.Errorf("role still lists %v", r.Frameworks)
		}
	}
	mustInvariants(t, a)
}

func TestRecoverClampsAndReports(t *testing.T) {
	a, _ := newTest(t, "")
	a.AddFramework("f", nil, true)
	a.AddAgent("a1", "h", res(t, "cpus:4;mem:100;ports:[1-5]"), nil, nil)
	if !a.Allocated("a1", "f", res(t, "cpus:1;mem:10;ports:[1-2]")) {
		t.Fatal("Allocated failed")
	}
	if a.Recover("a1", "f", res(t, "cpus:3;mem:5;ports:[2-4]")) {
		t.Error("over-recover reported success")
	}
	// Only what was held came back: 1 cpu, 5 mem, port 2.
	if free, _ := a.Free("a1"); !free.Equal(res(t, "cpus:4;mem:95;ports:[2-5]")) {
		t.Errorf("free = %s", free)
	}
	mustInvariants(t, a)
	if a.Recover("a1", "f", wire.Resources{CPUs: -1}) {
		t.Error("negative recover reported success")
	}
	if a.Recover("nowhere", "f", res(t, "cpus:1")) {
		t.Error("recover on unknown agent reported success")
	}
	if !a.Recover("a1", "f", res(t, "mem:5;ports:[1-1]")) {
		t.Error("exact recover reported failure")
	}
	if st := a.Snapshot(); len(st.Agents[0].Frameworks) != 0 || !st.Frameworks[0].Allocated.IsZero() {
		t.Errorf("ledger not empty: %+v %+v", st.Agents[0], st.Frameworks[0])
	}
	mustInvariants(t, a)
}

func TestAllocatedClamps(t *testing.T) {
	a, _ := newTest(t, "")
	ok := a.AddAgent("a1", "h", res(t, "cpus:2;mem:100"), nil, map[wire.FrameworkID]wire.Resources{
		"f": res(t, "cpus:1.5;mem:50"),
		"g": res(t, "cpus:1;mem:10"), // only 0.5 cpus left for g
	})
	if ok {
		t.Error("AddAgent with more used than total reported success")
	}
	if free, _ := a.Free("a1"); !free.Equal(res(t, "mem:40")) {
		t.Errorf("free = %s", free)
	}
	if a.Allocated("a1", "f", res(t, "mem:41")) {
		t.Error("Allocated beyond free reported success")
	}
	if a.Allocated("zz", "f", res(t, "mem:1")) {
		t.Error("Allocated on an unknown agent reported success")
	}
	mustInvariants(t, a)
}

func TestOrphansAdoptedByAddFramework(t *testing.T) {
	a, _ := newTest(t, "")
	// After failover an agent re-registers with tasks of a framework that
	// has not re-subscribed yet.
	a.AddAgent("a1", "h", res(t, "cpus:4;mem:400"), nil, map[wire.FrameworkID]wire.Resources{"f": res(t, "cpus:2;mem:100")})
	a.AddAgent("a2", "h", res(t, "cpus:4;mem:400"), nil, nil)
	mustInvariants(t, a)
	a.AddFramework("g", nil, true)
	a.AddFramework("f", []string{"web"}, true)
	mustInvariants(t, a)
	st := a.Snapshot()
	for _, r := range st.Roles {
		if r.Name == "web" && !r.Allocated.Equal(res(t, "cpus:2;mem:100")) {
			t.Errorf("role web allocated %s", r.Allocated)
		}
	}
	// f holds 2/8 cpus, g nothing: g gets a1 first (then holds 300/800 mem,
	// more than f's 2/8 cpus), so f gets a2.
	got := a.Allocate(nil)
	if len(got) != 2 || got[0].FrameworkID != "g" || got[0].AgentID != "a1" || got[1].FrameworkID != "f" {
		t.Fatalf("allocs = %+v", got)
	}
	mustInvariants(t, a)
}

func TestChangeRolesMovesAllocation(t *testing.T) {
	a, _ := newTest(t, "")
	a.AddFramework("f", []string{"old", "keep"}, true)
	a.AddAgent("a1", "h", res(t, "cpus:4;mem:400"), nil, nil)
	a.Allocated("a1", "f", res(t, "cpus:1")) // into "old", the first role
	a.Decline("f", "a1", time.Hour)
	a.AddFramework("f", []string{"keep", "new"}, true)
	mustInvariants(t, a)
	st := a.Snapshot()
	names := map[string]RoleStats{}
	for _, r := range st.Roles {
		names[r.Name] = r
	}
	if _, ok := names["old"]; ok {
		t.Error("implicit role old kept after its only framework left it")
	}
	if !names["keep"].Allocated.Equal(res(t, "cpus:1")) {
		t.Errorf("keep allocated %s", names["keep"].Allocated)
	}
	if fl := st.Frameworks[0].Filters; len(fl) != 1 || fl[0].Role != "keep" {
		t.Errorf("filters = %+v, want keep's only", fl)
	}
	if got := a.Allocate(nil); len(got) != 1 || got[0].Role != "new" {
		t.Errorf("allocs = %+v, want the new role (keep is filtered)", got)
	}
}

func TestGuaranteeHeadroom(t *testing.T) {
	a, _ := newTest(t, "cpus:0.01;mem:1")
	// Role g is guaranteed 8 cpus but has no framework yet: others must
	// leave 8 cpus unallocated.
	if err := a.SetRoleGuarantee("g", res(t, "cpus:8")); err != nil {
		t.Fatal(err)
	}
	a.AddFramework("o", []string{"other"}, true)
	for i := range 4 {
		a.AddAgent(wire.AgentID(fmt.Sprintf("a%d", i)), "h", res(t, "cpus:4;mem:100"), nil, nil)
	}
	var cpus float64
	for _, al := range a.Allocate(nil) {
		cpus += al.Resources.CPUs
	}
	if cpus != 8 {
		t.Fatalf("other got %v cpus, want 8 (8 held back)", cpus)
	}
	if why := a.Explain("o"); !strings.Contains(why, "held back for quota guarantees") {
		t.Errorf("Explain = %q", why)
	}
	// The guaranteed role's framework arrives: it gets the held-back cpus,
	// before anyone else, in chunks of at most what it lacks.
	a.AddFramework("fg", []string{"g"}, true)
	a.AddFramework("aaa", []string{"aaa"}, true) // would sort first without the guarantee
	got := a.Allocate(nil)
	var gcpus float64
	for _, al := range got {
		if al.FrameworkID == "fg" {
			gcpus += al.Resources.CPUs
		}
	}
	if gcpus != 8 {
		t.Fatalf("guaranteed role got %v cpus in %+v", gcpus, got)
	}
	mustInvariants(t, a)
}

func TestGuaranteeFirstStage(t *testing.T) {
	a, _ := newTest(t, "cpus:0.01")
	if err := a.SetRoleGuarantee("zz", res(t, "cpus:2")); err != nil {
		t.Fatal(err)
	}
	a.AddFramework("f1", []string{"aa"}, true)
	a.AddFramework("f2", []string{"zz"}, true)
	a.AddAgent("a1", "h", res(t, "cpus:4;mem:100"), nil, nil)
	got := a.Allocate(nil)
	// Stage one: zz (below its guarantee) gets its 2 cpus and the mem (not
	// guaranteed, nobody needs it held back); stage two: the rest to aa.
	if len(got) != 2 || got[0].FrameworkID != "f2" || !got[0].Resources.Equal(res(t, "cpus:2;mem:100")) ||
		got[1].FrameworkID != "f1" || !got[1].Resources.Equal(res(t, "cpus:2")) {
		t.Fatalf("allocs = %+v", got)
	}
	mustInvariants(t, a)
}

func TestEventDrivenPassTouchesOnlyGivenAgents(t *testing.T) {
	a, _ := newTest(t, "")
	a.AddFramework("f", nil, true)
	a.AddAgent("a1", "h", res(t, "cpus:1;mem:1"), nil, nil)
	a.AddAgent("a2", "h", res(t, "cpus:1;mem:1"), nil, nil)
	got := a.Allocate([]wire.AgentID{"a2", "unknown", "a2"})
	if len(got) != 1 || got[0].AgentID != "a2" {
		t.Fatalf("allocs = %+v", got)
	}
}

func TestRemoveAgentForgetsLedger(t *testing.T) {
	a, _ := newTest(t, "")
	a.AddFramework("f", nil, true)
	a.AddAgent("a1", "h", res(t, "cpus:1;mem:1"), nil, nil)
	a.AddAgent("a2", "h", res(t, "cpus:1;mem:1"), nil, nil)
	a.Allocate(nil)
	a.RemoveAgent("a1")
	mustInvariants(t, a)
	st := a.Snapshot()
	if !st.Total.Equal(res(t, "cpus:1;mem:1")) || !st.Frameworks[0].Allocated.Equal(res(t, "cpus:1;mem:1")) || st.Frameworks[0].Share != 1 {
		t.Errorf("snapshot = %+v", st)
	}
	// Re-adding an agent replaces it.
	a.AddAgent("a2", "h", res(t, "cpus:2;mem:2"), nil, nil)
	mustInvariants(t, a)
	if free, _ := a.Free("a2"); !free.Equal(res(t, "cpus:2;mem:2")) {
		t.Errorf("free = %s", free)
	}
}

func TestSnapshot(t *testing.T) {
	a, clk := newTest(t, "")
	if err := a.SetRole("web", 3, res(t, "cpus:10")); err != nil {
		t.Fatal(err)
	}
	a.AddFramework("f", []string{"web"}, true)
	a.AddAgent("a1", "h1", res(t, "cpus:4;mem:100"), nil, nil)
	a.AddAgent("a2", "h2", res(t, "cpus:4;mem:100"), nil, nil)
	a.Allocate([]wire.AgentID{"a1"})
	a.Decline("f", "a2", time.Minute)
	st := a.Snapshot()
	if len(st.Agents) != 2 || st.Agents[0].ID != "a1" || !st.Agents[0].Frameworks["f"].Equal(res(t, "cpus:4;mem:100")) {
		t.Errorf("agents = %+v", st.Agents)
	}
	fs := st.Frameworks[0]
	if fs.Share != 0.5 || len(fs.Filters) != 1 || fs.Filters[0].AgentID != "a2" || !fs.Filters[0].Until.Equal(clk.Now().Add(time.Minute)) {
		t.Errorf("framework = %+v", fs)
	}
	r := st.Roles[0]
	if r.Name != "web" || r.Weight != 3 || r.Quota.CPUs != 10 || r.Share != 0.5 || r.WeightedShare != 0.5/3 || len(r.Frameworks) != 1 {
		t.Errorf("role = %+v", r)
	}
	clk.Advance(time.Minute)
	if st := a.Snapshot(); len(st.Frameworks[0].Filters) != 0 {
		t.Errorf("expired filter listed: %+v", st.Frameworks[0].Filters)
	}
}

func TestExplainWaiting(t *testing.T) {
	a, _ := newTest(t, "")
	a.AddFramework("f", nil, true)
	if why := a.Explain("f"); why != "no free resources" {
		t.Errorf("Explain = %q", why)
	}
	a.AddAgent("a1", "h", res(t, "cpus:1;mem:1"), nil, nil)
	if why := a.Explain("f"); !strings.Contains(why, "1 agents have free resources") {
		t.Errorf("Explain = %q", why)
	}
}

// TestConcurrentUse exercises the mutex under -race.
func TestConcurrentUse(t *testing.T) {
	a := New(Config{})
	for i := range 8 {
		a.AddAgent(wire.AgentID(fmt.Sprintf("a%d", i)), "h", wire.Resources{CPUs: 4, MemMB: 100}, nil, nil)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fw := wire.FrameworkID(fmt.Sprintf("f%d", g))
			a.AddFramework(fw, nil, true)
			for range 200 {
				for _, al := range a.Allocate(nil) {
					a.Recover(al.AgentID, al.FrameworkID, al.Resources)
				}
				a.Snapshot()
				a.NextFilterExpiry()
			}
		}()
	}
	wg.Wait()
	mustInvariants(t, a)
}
