package master

import (
	"fmt"
	"strconv"
	"time"

	"github.com/agora-cluster/agora/master/allocator"
	"github.com/agora-cluster/agora/sdk/wire"
)

// markDirty asks for an allocation over one agent. l.mu is held.
func (l *leader) markDirty(id wire.AgentID) {
	l.dirty[id] = struct{}{}
	l.kick()
}

// markAll asks for a full allocation pass. l.mu is held.
func (l *leader) markAll() {
	l.dirtyAll = true
	l.kick()
}

// kick wakes the allocation loop; the first event since the last pass
// starts the offer-latency clock. l.mu is held.
func (l *leader) kick() {
	if l.dirtySince.IsZero() {
		l.dirtySince = time.Now()
	}
	select {
	case l.trigger <- struct{}{}:
	default:
	}
}

// allocationLoop allocates when something changed (coalescing bursts of
// events into one pass), when a filter expires, and periodically as a
// safety net.
func (l *leader) allocationLoop() {
	full := time.NewTicker(l.m.cfg.AllocationInterval)
	defer full.Stop()
	expiry := time.NewTimer(time.Hour)
	defer expiry.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-l.trigger:
			l.allocate(false, "event")
		case <-full.C:
			l.expireOffers()
			l.allocate(true, "full")
		case <-expiry.C:
			l.allocate(true, "filter_expiry")
		}
		if next, ok := l.alloc.NextFilterExpiry(); ok {
			d := next.Sub(l.m.now())
			if d < 0 {
				d = 0
			}
			expiry.Reset(d + time.Millisecond)
		}
	}
}

// offerMessages splits one framework's offers into OFFERS messages of at
// most wire.MaxBatch offers each, in order.
func offerMessages(offers []wire.Offer) []wire.Offers {
	chunks := wire.Chunks(len(offers))
	out := make([]wire.Offers, len(chunks))
	for i, c := range chunks {
		out[i] = wire.Offers{Offers: offers[c[0]:c[1]]}
	}
	return out
}

// allocate runs the allocator over the changed agents (or all of them)
// and sends the resulting offers, one message per framework (split past
// wire.MaxBatch offers). kind labels the pass in the metrics.
func (l *leader) allocate(full bool, kind string) {
	l.mu.Lock()
	var agents []wire.AgentID
	if !full && !l.dirtyAll {
		if len(l.dirty) == 0 {
			l.mu.Unlock()
			return
		}
		agents = make([]wire.AgentID, 0, len(l.dirty))
		for id := range l.dirty {
			agents = append(agents, id)
		}
	}
	l.m.metrics.passes.WithLabelValues(kind).Inc()
	clear(l.dirty)
	l.dirtyAll = false
	event := l.dirtySince
	l.dirtySince = time.Time{}
	start := time.Now()
	allocs := l.alloc.Allocate(agents)
	l.m.metrics.allocationPass.Observe(since(start))
	byFw := l.makeOffers(allocs)
	// Published under the lock, so that offers are ordered with the
	// SUBSCRIBED and RESCIND events that subscribe and rescind publish
	// under it (NATS publishing only buffers; it does not block).
	for fw, offers := range byFw {
		// Split so that a pass over thousands of agents stays within a
		// NATS server's payload limit (1 MiB by default for an external one).
		for _, msg := range offerMessages(offers) {
			l.publish(l.m.subj.Framework(fw), wire.TypeOffers, msg)
		}
	}
	if len(byFw) > 0 && !event.IsZero() {
		l.m.metrics.offerLatency.Observe(since(event))
	}
	l.mu.Unlock()
}

// makeOffers turns allocations into offers. l.mu is held.
func (l *leader) makeOffers(allocs []allocator.Allocation) map[wire.FrameworkID][]wire.Offer {
	byFw := map[wire.FrameworkID][]wire.Offer{}
	now := l.m.now()
	for _, a := range allocs {
		f := l.frameworks[a.FrameworkID]
		if f == nil || !f.connected {
			l.alloc.Recover(a.AgentID, a.FrameworkID, a.Resources)
			continue
		}
		l.offerSeq++
		o := &offer{
			Offer: wire.Offer{
				ID:          wire.OfferID(fmt.Sprintf("%s-%d-%s", l.m.cfg.Name, l.term, strconv.FormatUint(l.offerSeq, 36))),
				FrameworkID: a.FrameworkID,
				AgentID:     a.AgentID,
				Hostname:    a.Hostname,
				Resources:   a.Resources,
				Attributes:  a.Attributes,
			},
			role:    a.Role,
			created: now,
		}
		l.offers[o.ID] = o
		if l.agentOffer[o.AgentID] == nil {
			l.agentOffer[o.AgentID] = map[wire.OfferID]*offer{}
		}
		l.agentOffer[o.AgentID][o.ID] = o
		f.offers[o.ID] = o
		f.stats.OffersSent++
		l.m.metrics.offers.WithLabelValues("sent").Inc()
		byFw[a.FrameworkID] = append(byFw[a.FrameworkID], o.Offer)
	}
	return byFw
}

// rescind withdraws an offer and returns its resources. l.mu is held.
func (l *leader) rescind(id wire.OfferID, o *offer) {
	l.removeOffer(id, o)
	l.alloc.Recover(o.AgentID, o.FrameworkID, o.Resources)
	l.markDirty(o.AgentID)
	if f := l.frameworks[o.FrameworkID]; f != nil {
		f.stats.OffersRescinded++
		l.m.metrics.offers.WithLabelValues("rescinded").Inc()
	}
	l.publish(l.m.subj.Framework(o.FrameworkID), wire.TypeRescind, wire.Rescind{OfferID: id})
}

func (l *leader) removeOffer(id wire.OfferID, o *offer) {
	delete(l.offers, id)
	if byAgent := l.agentOffer[o.AgentID]; byAgent != nil {
		delete(byAgent, id)
		if len(byAgent) == 0 {
			delete(l.agentOffer, o.AgentID)
		}
	}
	if f := l.frameworks[o.FrameworkID]; f != nil {
		delete(f.offers, id)
	}
}

// expireOffers rescinds offers held longer than the offer timeout.
func (l *leader) expireOffers() {
	if l.m.cfg.OfferTimeout <= 0 {
		return
	}
	deadline := l.m.now().Add(-l.m.cfg.OfferTimeout)
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, o := range l.offers {
		if o.created.Before(deadline) {
			l.rescind(id, o)
		}
	}
}

func (l *leader) refuse(f wire.Filters) time.Duration {
	if f.RefuseSeconds == nil {
		return l.m.cfg.DefaultRefuse
	}
	s := *f.RefuseSeconds
	const year = 365 * 24 * time.Hour
	if s <= 0 {
		return 0
	}
	if s >= year.Seconds() {
		return year
	}
	return time.Duration(s * float64(time.Second))
}

// decline returns the offers' resources and filters the agents for the
// framework for refuse_seconds. Offers that are unknown (already expired
// or rescinded) are named in the reply but are not an error.
func (l *leader) decline(fw wire.FrameworkID, c wire.Decline) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := l.connected(fw)
	if err != nil {
		return err
	}
	refuse := l.refuse(c.Filters)
	for _, id := range c.OfferIDs {
		o := f.offers[id]
		if o == nil {
			continue
		}
		l.removeOffer(id, o)
		l.alloc.Recover(o.AgentID, fw, o.Resources)
		l.alloc.Decline(fw, o.AgentID, refuse)
		f.stats.OffersDeclined++
		f.stats.RefuseSecondsTotal += refuse.Seconds()
		f.stats.LastRefuseSeconds = refuse.Seconds()
		l.m.metrics.offers.WithLabelValues("declined").Inc()
		l.m.metrics.refuse.Observe(refuse.Seconds())
		l.markDirty(o.AgentID)
	}
	return nil
}

// accept validates an ACCEPT against its offers and launches the valid
// tasks. Invalid offers drop every task (TASK_DROPPED) and change nothing;
// an invalid task is refused alone (TASK_ERROR). What the launched tasks
// do not use goes back to the allocator, filtered per the call's filters.
func (l *leader) accept(fw wire.FrameworkID, c wire.Accept) (wire.AcceptResult, error) {
	var res wire.AcceptResult
	l.mu.Lock()
	f, err := l.connected(fw)
	if err != nil {
		l.mu.Unlock()
		return res, err
	}
	var tasks []wire.TaskInfo
	for _, op := range c.Operations {
		tasks = append(tasks, op.Tasks...)
	}
	if max := l.m.cfg.MaxTasksPerAccept; max > 0 && len(tasks) > max {
		l.mu.Unlock()
		return res, wire.Errorf(wire.CodeInvalid, "ACCEPT launches %d tasks; at most %d per call (split it)", len(tasks), max)
	}
	offers, offErr := l.acceptedOffers(f, c.OfferIDs)
	if offErr != nil {
		for _, t := range tasks {
			st := masterUpdate(t.TaskID, t.AgentID, wire.TaskDropped, wire.ReasonInvalidOffers, "%s", offErr.Message)
			res.Refused = append(res.Refused, st)
		}
		l.mu.Unlock()
		for _, st := range res.Refused {
			l.sendUpdate(fw, st)
		}
		return res, offErr
	}
	agent := offers[0].AgentID
	var remaining wire.Resources
	for _, o := range offers {
		remaining = remaining.Add(o.Resources)
		l.removeOffer(o.ID, o)
	}
	f.stats.OffersAccepted += uint64(len(offers))
	l.m.metrics.offers.WithLabelValues("accepted").Add(float64(len(offers)))
	launch := wire.Launch{FrameworkID: fw}
	var launched []*taskState
	seen := map[wire.TaskID]bool{}
	for _, t := range tasks {
		if reason := l.checkTask(fw, agent, t, remaining, seen); reason != "" {
			res.Refused = append(res.Refused, masterUpdate(t.TaskID, agent, wire.TaskError, wire.ReasonTaskInvalid, "%s", reason))
			continue
		}
		seen[t.TaskID] = true
		remaining = remaining.Sub(t.Resources)
		ts := &taskState{fw: fw, agent: agent, info: t,
			status: wire.TaskStatus{TaskID: t.TaskID, AgentID: agent, State: wire.TaskStaging, Source: wire.SourceMaster, Timestamp: time.Now()}}
		ts.launchSeq.Store(seqPending)
		k := taskKey{fw, t.TaskID}
		l.addTask(k, ts)
		if a := l.agents[agent]; a != nil {
			a.tasks[k] = ts
		}
		launch.Tasks = append(launch.Tasks, t)
		launched = append(launched, ts)
		res.Launched = append(res.Launched, t.TaskID)
	}
	f.stats.TasksLaunched += uint64(len(launch.Tasks))
	if !remaining.IsZero() {
		l.alloc.Recover(agent, fw, remaining)
		l.alloc.Decline(fw, agent, l.refuse(c.Filters))
		l.markDirty(agent)
	}
	l.mu.Unlock()
	if len(launch.Tasks) > 0 {
		l.sendNumbered(agent, wire.TypeLaunch, func(seq uint64) any {
			for _, t := range launched {
				t.launchSeq.Store(seq)
			}
			launch.Seq = seq
			return launch
		})
	}
	for _, st := range res.Refused {
		l.sendUpdate(fw, st)
	}
	return res, nil
}

// acceptedOffers resolves offer IDs: each must be outstanding, this
// framework's, listed once, and all on one agent. l.mu is held.
func (l *leader) acceptedOffers(f *frameworkState, ids []wire.OfferID) ([]*offer, *wire.Error) {
	var out []*offer
	seen := map[wire.OfferID]bool{}
	for _, id := range ids {
		if seen[id] {
			return nil, wire.Errorf(wire.CodeInvalid, "offer %s is listed twice", id)
		}
		seen[id] = true
		o := f.offers[id]
		if o == nil {
			return nil, wire.Errorf(wire.CodeUnknownOffer, "offer %s is not outstanding for this framework (unknown, already used, declined, expired or rescinded)", id)
		}
		if len(out) > 0 && o.AgentID != out[0].AgentID {
			return nil, wire.Errorf(wire.CodeInvalid, "offers %s and %s are on different agents", out[0].ID, id)
		}
		out = append(out, o)
	}
	return out, nil
}

// checkTask returns why a task cannot launch, or "". l.mu is held.
func (l *leader) checkTask(fw wire.FrameworkID, agent wire.AgentID, t wire.TaskInfo, remaining wire.Resources, seen map[wire.TaskID]bool) string {
	if err := t.Validate(); err != nil {
		return err.Error()
	}
	if t.AgentID != agent {
		return fmt.Sprintf("task %s names agent %s but the offers are for agent %s", t.TaskID, t.AgentID, agent)
	}
	if err := wire.ValidID("task_id", string(t.TaskID)); err != nil {
		return err.Error()
	}
	if seen[t.TaskID] || l.task(fw, t.TaskID) != nil {
		return fmt.Sprintf("task ID %s is already in use by this framework", t.TaskID)
	}
	if !remaining.Contains(t.Resources) {
		return fmt.Sprintf("task %s asks for %s but only %s is left in the accepted offers", t.TaskID, t.Resources, remaining)
	}
	return ""
}

// healthLoop watches agents' heartbeats.
func (l *leader) healthLoop() {
	t := time.NewTicker(l.m.cfg.AgentHeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
			l.checkAgents()
			l.checkFrameworks()
			l.checkDrains()
			l.m.metrics.healthChecks.Inc()
		}
	}
}
