package master_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agora-cluster/agora/master/natsembed"
	"github.com/agora-cluster/agora/sdk"
	"github.com/agora-cluster/agora/sdk/sdktest"
	"github.com/agora-cluster/agora/sdk/wire"
)

// TestLeaderFailover kills the leader hard while a task runs and offers
// flow: a standby takes over, agents re-register, the framework
// re-subscribes with the same ID, the task keeps running and is still
// reported, and offers resume. It logs how long offers paused.
func TestLeaderFailover(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(3), sdktest.Agents(2, "cpus:2;mem:1024"))
	rec := sdktest.NewRecorder()
	d := c.RunDriver(t, wire.FrameworkInfo{Name: "failover", FailoverTimeout: wire.Duration(time.Minute)}, rec)
	first := rec.WaitSubscribed(t, 5*time.Second, 1)
	ctx := sdktest.Ctx(t, 30*time.Second)

	o := rec.TakeOffer(t, 5*time.Second, nil)
	if _, err := d.Launch(ctx, o, shellTask("long", "sleep 60")); err != nil {
		t.Fatal(err)
	}
	running := rec.WaitState(t, 10*time.Second, "long", wire.TaskRunning)

	// From now on, decline every offer with a short filter so that offers
	// keep flowing, and note when each arrives.
	type offerSeen struct {
		at   time.Time
		term uint64
	}
	offerTimes := make(chan offerSeen, 10000)
	rec.OnOffers = func(ctx context.Context, d *sdk.Driver, offers []wire.Offer) {
		offerTimes <- offerSeen{time.Now(), offerTerm(t, offers[0].ID)}
		ids := make([]wire.OfferID, len(offers))
		for i, o := range offers {
			ids[i] = o.ID
		}
		_ = d.Decline(ctx, ids, 0.05)
	}
	for _, o := range rec.Outstanding() {
		_ = d.Decline(ctx, []wire.OfferID{o.ID}, 0.05)
	}
	sdktest.Eventually(t, 5*time.Second, func() bool { return len(offerTimes) >= 3 }, "offers flowing before the kill")

	old := c.Leader()
	oldTerm := old.Term()
	killedAt := time.Now()
	c.KillLeader()

	l, err := c.WaitLeader(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if l.Term() <= oldTerm {
		t.Fatalf("new term %d not above old %d", l.Term(), oldTerm)
	}
	second := rec.WaitSubscribed(t, 10*time.Second, 2)
	if second.FrameworkID != first.FrameworkID {
		t.Fatalf("re-subscribed as %s, was %s", second.FrameworkID, first.FrameworkID)
	}
	if second.Leader.Term <= oldTerm {
		t.Fatalf("re-subscribed in term %d, not above the killed leader's %d", second.Leader.Term, oldTerm)
	}
	if err := c.WaitAgentsRegistered(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	// First offer from the new leader: offers of the old term still on
	// their way when it was killed do not count.
	var resumed time.Time
	sdktest.Eventually(t, 10*time.Second, func() bool {
		for {
			select {
			case seen := <-offerTimes:
				if seen.term > oldTerm {
					resumed = seen.at
					return true
				}
			default:
				return false
			}
		}
	}, "offers after failover")
	fmt.Printf("offers paused for %s after the leader was killed (old term %d, new term %d)\n", resumed.Sub(killedAt), oldTerm, l.Term())

	// The task was not killed by the failover: the new leader knows it as
	// running, reconciliation says so, and it can still be killed.
	if _, err := d.Reconcile(ctx, wire.ReconcileTask{TaskID: "long", AgentID: running.AgentID}); err != nil {
		t.Fatal(err)
	}
	rec.WaitUpdate(t, 5*time.Second, func(s wire.TaskStatus) bool {
		return s.TaskID == "long" && s.State == wire.TaskRunning && s.Reason == wire.ReasonReconciliation && s.Timestamp.After(killedAt)
	})
	for _, u := range rec.Updates() {
		if u.TaskID == "long" && u.State.Terminal() {
			t.Fatalf("task ended during failover: %+v", u)
		}
	}
	if err := d.Kill(ctx, "long", running.AgentID); err != nil {
		t.Fatal(err)
	}
	rec.WaitState(t, 10*time.Second, "long", wire.TaskKilled)
}

// offerTerm reads the leader's term from an offer ID (name-term-sequence,
// as the master makes them).
func offerTerm(t *testing.T, id wire.OfferID) uint64 {
	parts := strings.Split(string(id), "-")
	if len(parts) < 3 {
		t.Errorf("offer ID %q: want name-term-sequence", id)
		return 0
	}
	term, err := strconv.ParseUint(parts[len(parts)-2], 10, 64)
	if err != nil {
		t.Errorf("offer ID %q: %v", id, err)
	}
	return term
}

// TestFencing: messages stamped with an older term than one already seen
// are ignored by agents (no launch) and by the SDK driver (no offers).
func TestFencing(t *testing.T) {
	c := sdktest.Start(t, sdktest.Masters(3), sdktest.Agents(1, "cpus:1;mem:512"), sdktest.Simulated())
	rec := sdktest.NewRecorder()
	d := c.RunDriver(t, wire.FrameworkInfo{Name: "fence"}, rec)
	rec.WaitSubscribed(t, 5*time.Second, 1)
	oldTerm := c.Leader().Term()
	c.KillLeader()
	if _, err := c.WaitLeader(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	rec.WaitSubscribed(t, 10*time.Second, 2)
	if err := c.WaitAgentsRegistered(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	nc := natsConn(t, strings.Join(c.NATSURLs(), ","))
	subj := wire.NewSubjects("")
	agentID := c.Agents()[0].ID()

	// A deposed leader (old term) tries to launch a task on the agent.
	launch := wire.MustEncode(wire.TypeLaunch, "m-old", oldTerm, wire.Launch{FrameworkID: d.FrameworkID(), Tasks: []wire.TaskInfo{{
		TaskID: "ghost", AgentID: agentID, Resources: wire.Resources{CPUs: 0.1, MemMB: 8}, Sim: &wire.SimBehavior{Hang: true},
	}}})
	// ... and offers resources to the framework.
	ghostOffer := wire.MustEncode(wire.TypeOffers, "m-old", oldTerm, wire.Offers{Offers: []wire.Offer{{
		ID: "ghost-offer", FrameworkID: d.FrameworkID(), AgentID: agentID, Hostname: "x", Resources: wire.Resources{CPUs: 1},
	}}})
	if err := nc.Publish(subj.Agent(agentID), launch); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(subj.Framework(d.FrameworkID()), ghostOffer); err != nil {
		t.Fatal(err)
	}
	// The same launch with the current term would be acted on: send a
	// marker with the current term afterwards, and once its effect is
	// seen, the stale messages (sent earlier on the same connection) have
	// certainly been processed.
	cur := c.Leader().Term()
	marker := wire.MustEncode(wire.TypeKillTask, "m-test", cur, wire.KillTask{FrameworkID: d.FrameworkID(), TaskID: "marker"})
	if err := nc.Publish(subj.Agent(agentID), marker); err != nil {
		t.Fatal(err)
	}
	rec.WaitState(t, 10*time.Second, "marker", wire.TaskLost)
	for _, u := range rec.Updates() {
		if u.TaskID == "ghost" {
			t.Fatalf("agent acted on a launch from an old term: %+v", u)
		}
	}
	for _, o := range rec.Outstanding() {
		if o.ID == "ghost-offer" {
			t.Fatal("driver delivered an offer from an old term")
		}
	}
}

// TestExternalNATS runs the whole cluster on a NATS server it does not own.
func TestExternalNATS(t *testing.T) {
	ns, err := natsembed.Start(natsembed.Config{Name: "external"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	c := sdktest.Start(t, sdktest.Masters(3), sdktest.Agents(1, "cpus:1;mem:512"), sdktest.ExternalNATS(ns.ClientURL()))
	want := strings.TrimPrefix(ns.ClientURL(), "nats://")
	for _, m := range c.Masters() {
		if got := m.NATSAddr(); got != want {
			t.Errorf("master connected to NATS at %q, want the external server %s", got, want)
		}
	}
	d, rec, o := c.Offered(t, wire.FrameworkInfo{Name: "external"}, nil)
	if _, err := d.Launch(sdktest.Ctx(t, 5*time.Second), o, shellTask("ext", "exit 0")); err != nil {
		t.Fatal(err)
	}
	fin := rec.WaitState(t, 10*time.Second, "ext", wire.TaskFinished)
	if fin.ExitCode == nil || *fin.ExitCode != 0 {
		t.Fatalf("exit code %v", fin.ExitCode)
	}
}
