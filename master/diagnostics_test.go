package master_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestOfferDiagnostics: a framework's running filters and the refuse
// seconds of its declines are in /api/v1/state and the metrics, and so is
// what each agent has outstanding in offers, and to whom.
func TestOfferDiagnostics(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(1), sdktest.Agents(2, "cpus:1;mem:256"), sdktest.Simulated())
	rec := sdktest.NewRecorder()
	d := c.RunDriver(t, wire.FrameworkInfo{Name: "diag"}, rec)
	rec.WaitSubscribed(t, 5*time.Second, 1)
	declined := rec.TakeOffer(t, 5*time.Second, nil)
	held := rec.TakeOffer(t, 5*time.Second, func(o wire.Offer) bool { return o.AgentID != declined.AgentID })
	if err := d.Decline(sdktest.Ctx(t, 5*time.Second), []wire.OfferID{declined.ID}, 600); err != nil {
		t.Fatal(err)
	}
	leader := c.Leader()
	fw := d.FrameworkID()

	var view struct {
		refuse, last float64
		filters      int
		agent        wire.AgentID
		until        time.Time
		offeredTo    wire.Resources
	}
	sdktest.Eventually(t, 5*time.Second, func() bool {
		st := leader.StateView()
		for _, f := range st.Frameworks {
			if f.ID == fw {
				view.refuse, view.last, view.filters = f.Stats.RefuseSecondsTotal, f.Stats.LastRefuseSeconds, len(f.Filters)
				if len(f.Filters) == 1 {
					view.agent, view.until = f.Filters[0].AgentID, f.Filters[0].Until
				}
			}
		}
		for _, a := range st.Agents {
			if a.ID == held.AgentID {
				view.offeredTo = a.OfferedTo[fw]
			}
		}
		return view.filters == 1
	}, "the decline's filter in the state view")
	if view.agent != declined.AgentID || time.Until(view.until) < 9*time.Minute || view.refuse != 600 || view.last != 600 {
		t.Fatalf("state view: %+v, want a 600 s filter on %s", view, declined.AgentID)
	}
	if !view.offeredTo.Equal(held.Resources) {
		t.Fatalf("agent %s offered to %s: %s, want %s", held.AgentID, fw, view.offeredTo, held.Resources)
	}

	if v := metricValue(t, leader, fmt.Sprintf(`agora_master_framework_filters{framework=%q}`, fw)); v != 1 {
		t.Errorf("framework filters metric = %v, want 1", v)
	}
	if v := metricValue(t, leader, fmt.Sprintf(`agora_master_framework_refuse_seconds_total{framework=%q}`, fw)); v != 600 {
		t.Errorf("refuse seconds metric = %v, want 600", v)
	}
	if v := metricValue(t, leader, fmt.Sprintf(`agora_master_agent_offered{agent=%q,resource="cpus"}`, held.AgentID)); v != held.Resources.CPUs {
		t.Errorf("agent offered cpus metric = %v, want %v", v, held.Resources.CPUs)
	}
	if v := metricValue(t, leader, `agora_master_decline_refuse_seconds_count`); v != 1 {
		t.Errorf("decline refuse histogram count = %v, want 1", v)
	}
}
